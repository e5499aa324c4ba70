//! Reading documents: every failure becomes a located diagnostic.

use crate::diag::{Diagnostic, Diagnostics, Pos};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Reads a document as UTF-8 text. Errors: unreadable file, or bytes that are not UTF-8
/// (located at the first bad byte).
pub fn read(path: &Path) -> Result<String, Diagnostic> {
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::error(Pos::new(path, 1, 1), format!("cannot read file: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let good = std::str::from_utf8(good).expect("valid prefix");
        let line = good.matches('\n').count() + 1;
        let col = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Diagnostic::error(Pos::new(path, line, col), "the file is not valid UTF-8")
    })
}

/// The position of byte `offset` of `text` (line and character column).
pub fn offset_pos(path: &Path, text: &str, offset: usize) -> Pos {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Pos::new(
        path,
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// The text of document `rel` (relative to `root`): the one in `overrides` where given (an
/// edit not yet on disk, a page mdBook hands over), else the disk's. Errors are located at
/// `rel`, as the user names the document.
pub fn read_in(
    root: &Path,
    rel: &Path,
    overrides: &BTreeMap<PathBuf, String>,
) -> Result<String, Diagnostic> {
    match overrides.get(rel) {
        Some(text) => Ok(text.clone()),
        None => read(&root.join(rel)).map_err(|mut d| {
            d.set_path(rel);
            d
        }),
    }
}

/// [`read_in`] for each of `files`, in order, as `(path, text)`; every failure is reported.
pub fn read_all(
    root: &Path,
    files: &[PathBuf],
    overrides: &BTreeMap<PathBuf, String>,
) -> Result<Vec<(PathBuf, String)>, Diagnostics> {
    let mut out = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for f in files {
        match read_in(root, f, overrides) {
            Ok(text) => out.push((f.clone(), text)),
            Err(d) => errors.push(d),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_come_first_and_every_failure_is_named_by_its_relative_path() {
        let root = std::env::temp_dir().join(format!("tangle-source-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("a.md"), "on disk\n").unwrap();
        std::fs::write(root.join("bad.md"), b"\xff\n").unwrap();
        let overrides: BTreeMap<PathBuf, String> =
            [(PathBuf::from("b.md"), "given\n".to_string())].into();
        let files: Vec<PathBuf> = vec!["a.md".into(), "b.md".into()];
        let read = read_all(&root, &files, &overrides).unwrap();
        assert_eq!(read[0], ("a.md".into(), "on disk\n".into()));
        assert_eq!(read[1], ("b.md".into(), "given\n".into()));
        let files: Vec<PathBuf> = vec!["gone.md".into(), "a.md".into(), "bad.md".into()];
        let errors = read_all(&root, &files, &overrides).unwrap_err().0;
        let at: Vec<&Path> = errors
            .iter()
            .map(|d| d.pos.as_ref().unwrap().path.as_path())
            .collect();
        assert_eq!(at, [Path::new("gone.md"), Path::new("bad.md")]);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
