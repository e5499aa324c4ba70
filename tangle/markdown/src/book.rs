//! The book: `book.toml` and the chapter order of `SUMMARY.md`.

use std::path::{Path, PathBuf};
use tangle_core::diag::{Diagnostic, Diagnostics};
use tangle_core::settings::lookup;
use tangle_core::source::{self, offset_pos};
use toml::de::{DeTable, DeValue};

/// Org's default coderef label format, also ours.
pub const DEFAULT_LABELS: &str = "(ref:%s)";

/// What the tangler needs to know of an mdBook book.
#[derive(Debug, Clone)]
pub struct Book {
    /// The project root: the folder holding `book.toml`.
    pub root: PathBuf,
    /// The chapters' folder, relative to the root (`[book] src`, default `src`).
    pub src: PathBuf,
    /// Chapters in book order, relative to the root.
    pub chapters: Vec<PathBuf>,
    /// Coderef label format (`[preprocessor.tangle] labels`).
    pub labels: String,
    /// `[preprocessor.tangle] dialect = "entangled"`: the chapters are written in Entangled's
    /// dialect (with its default settings), as if an `entangled.toml` stood beside the book.
    pub entangled: bool,
    /// `[preprocessor.tangle] header` (default `true`): whether tangled files carry the
    /// generated header line.
    pub header: bool,
}

impl Book {
    /// Finds `book.toml` in `start` or a parent folder.
    pub fn find_root(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .find(|d| d.join("book.toml").is_file())
            .map(Path::to_path_buf)
    }

    /// Loads the book rooted at `root`. Errors: a malformed `book.toml` (located), a setting
    /// of the wrong type, a missing `SUMMARY.md`.
    pub fn load(root: &Path) -> Result<Book, Diagnostics> {
        let toml_path = root.join("book.toml");
        let text = source::read(&toml_path)?;
        let (src, labels) = settings(&toml_path, &text)?;
        let entangled = dialect(&toml_path, &text)?;
        let header = header(&toml_path, &text)?;
        let src = PathBuf::from(src);
        let summary = src.join("SUMMARY.md");
        let summary_text = source::read(&root.join(&summary)).map_err(|mut d| {
            // Reported at `src = "..."` in book.toml, when the book sets it.
            match string(&toml_path, &text, &table_of(&text), &["book", "src"]) {
                Ok(Some((value, at))) => {
                    d.pos = Some(offset_pos(&toml_path, &text, at));
                    let why = if root.join(&summary).exists() {
                        format!("cannot be read ({})", d.message)
                    } else {
                        "does not exist".to_string()
                    };
                    d.message = format!(
                        "`src = \"{value}\"`: the book's SUMMARY.md should be there, but {} {why}",
                        summary.display()
                    );
                }
                _ => d.set_path(&summary),
            }
            d
        })?;
        let chapters: Vec<PathBuf> = summary_links(&summary_text)
            .into_iter()
            .map(|p| src.join(p))
            .collect();
        // A chapter missing on disk, at its line of SUMMARY.md.
        let missing: Vec<Diagnostic> = chapters
            .iter()
            .filter(|c| !root.join(c).exists())
            .map(|c| {
                let link = c.strip_prefix(&src).unwrap_or(c);
                let at = link_offset(&summary_text, link).unwrap_or(0);
                Diagnostic::error(
                    offset_pos(&summary, &summary_text, at),
                    format!(
                        "`{}` is listed here, but {} does not exist",
                        link.display(),
                        c.display()
                    ),
                )
            })
            .collect();
        if !missing.is_empty() {
            return Err(Diagnostics(missing));
        }
        Ok(Book {
            root: root.to_path_buf(),
            src,
            chapters,
            labels,
            entangled,
            header,
        })
    }
}

/// The offset in `summary` of the first link target naming `link` (`](link)`, `](./link)`).
fn link_offset(summary: &str, link: &Path) -> Option<usize> {
    let link = link.to_str()?;
    let mut from = 0;
    while let Some(i) = summary[from..].find("](") {
        let start = from + i + 2;
        let target = summary[start..].trim_start();
        let start = summary.len() - target.len();
        if target.trim_start_matches("./").starts_with(link) {
            return Some(start);
        }
        from = start;
    }
    None
}

/// The parsed table of `text`, or an empty one (its errors are reported by [`settings`]).
fn table_of(text: &str) -> DeTable<'_> {
    DeTable::parse(text)
        .map(|t| t.into_inner())
        .unwrap_or_default()
}

/// The chapter files that `SUMMARY.md` links to, in order (drafts and external links skipped,
/// each file once).
pub fn summary_links(summary: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for line in summary.lines() {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(j) = after.find(')') else { break };
            let target = after[..j].trim();
            let target = target.split('#').next().unwrap_or("");
            if !target.is_empty() && !target.contains("://") {
                let p = PathBuf::from(target.trim_start_matches("./"));
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            rest = &after[j..];
        }
    }
    out
}

/// `[book] src` and `[preprocessor.tangle] labels` from the text of `book.toml` (at `path`,
/// for messages), with their defaults.
fn settings(path: &Path, text: &str) -> Result<(String, String), Diagnostic> {
    let table = DeTable::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        let message = e.message().trim_end();
        Diagnostic::error(
            offset_pos(path, text, at),
            format!("invalid TOML: {message}"),
        )
    })?;
    let table = table.get_ref();
    let src = string(path, text, table, &["book", "src"])?;
    let labels = string(path, text, table, &["preprocessor", "tangle", "labels"])?;
    if let Some((labels, at)) = &labels {
        if !labels.contains("%s") {
            return Err(Diagnostic::error(
                offset_pos(path, text, *at),
                format!("labels format `{labels}` must contain %s"),
            ));
        }
    }
    Ok((
        src.map_or_else(|| "src".into(), |(s, _)| s),
        labels.map_or_else(|| DEFAULT_LABELS.into(), |(s, _)| s),
    ))
}

/// Whether `[preprocessor.tangle] dialect` (in the text of `book.toml` at `path`) chooses
/// Entangled's dialect: `"entangled"` does, `"markdown"` (the default) does not, anything
/// else is an error at the value.
fn dialect(path: &Path, text: &str) -> Result<bool, Diagnostic> {
    let table = DeTable::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        Diagnostic::error(
            offset_pos(path, text, at),
            format!("invalid TOML: {}", e.message().trim_end()),
        )
    })?;
    match string(
        path,
        text,
        table.get_ref(),
        &["preprocessor", "tangle", "dialect"],
    )? {
        None => Ok(false),
        Some((d, _)) if d == "markdown" => Ok(false),
        Some((d, _)) if d == "entangled" => Ok(true),
        Some((d, at)) => Err(Diagnostic::error(
            offset_pos(path, text, at),
            format!("unknown dialect `{d}` (`markdown`, the default, or `entangled`)"),
        )),
    }
}

/// `[preprocessor.tangle] header` (in the text of `book.toml` at `path`): `true` (the default)
/// or `false`; anything else is an error at the value.
fn header(path: &Path, text: &str) -> Result<bool, Diagnostic> {
    let Ok(table) = DeTable::parse(text) else {
        // Reported, located, by `settings`, which reads the same text first.
        return Ok(true);
    };
    let mut at: &DeTable<'_> = table.get_ref();
    for key in ["preprocessor", "tangle"] {
        match lookup(at, key).map(|v| v.get_ref()) {
            Some(DeValue::Table(t)) => at = t,
            _ => return Ok(true),
        }
    }
    let Some(value) = lookup(at, "header") else {
        return Ok(true);
    };
    match value.get_ref() {
        DeValue::Boolean(b) => Ok(*b),
        other => Err(Diagnostic::error(
            offset_pos(path, text, value.span().start),
            format!(
                "`preprocessor.tangle.header` must be `true` or `false`, not {} {}",
                if other.type_str().starts_with(['a', 'i']) {
                    "an"
                } else {
                    "a"
                },
                other.type_str()
            ),
        )),
    }
}

/// The string at `keys` (a table path, then a key), and its offset in `text`; an error if it
/// is there but not a string.
fn string(
    path: &Path,
    text: &str,
    table: &DeTable<'_>,
    keys: &[&str],
) -> Result<Option<(String, usize)>, Diagnostic> {
    let Some((last, tables)) = keys.split_last() else {
        return Ok(None);
    };
    let mut table = table;
    for key in tables {
        match lookup(table, key).map(|v| v.get_ref()) {
            Some(DeValue::Table(t)) => table = t,
            _ => return Ok(None),
        }
    }
    let Some(value) = lookup(table, last) else {
        return Ok(None);
    };
    let at = value.span().start;
    match value.get_ref() {
        DeValue::String(s) => Ok(Some((s.to_string(), at))),
        other => Err(Diagnostic::error(
            offset_pos(path, text, at),
            format!(
                "`{}` must be a string, not {} {}",
                keys.join("."),
                if other.type_str().starts_with(['a', 'i']) {
                    "an"
                } else {
                    "a"
                },
                other.type_str()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tangle_core::diag::Pos;

    #[test]
    fn summary_order() {
        let s = "# Summary\n\n[Intro](intro.md)\n\n- [Main](main.md)\n  - [Sub](./main/sub.md#x)\n- [Draft]()\n- [Web](https://x.org/a.md)\n";
        assert_eq!(
            summary_links(s),
            vec![
                PathBuf::from("intro.md"),
                "main.md".into(),
                "main/sub.md".into()
            ]
        );
    }

    #[test]
    fn toml_values() {
        let p = Path::new("book.toml");
        let t =
            "[book]\ntitle = \"x\"\nsrc = \"docs\"\n[preprocessor.tangle]\nlabels = '[{(<%s>)}]'\n";
        assert_eq!(
            settings(p, t).unwrap(),
            ("docs".to_string(), "[{(<%s>)}]".to_string())
        );
        // Dotted keys and inline tables are TOML too; escapes are decoded.
        let t = "book.src = \"a\\\\b\"\npreprocessor = { tangle = { labels = \"<%s>\" } }\n";
        assert_eq!(
            settings(p, t).unwrap(),
            ("a\\b".to_string(), "<%s>".to_string())
        );
        assert_eq!(
            settings(p, "[book]\ntitle = \"t\"\n").unwrap(),
            ("src".to_string(), DEFAULT_LABELS.to_string())
        );
    }

    #[test]
    fn toml_errors_are_located() {
        let p = Path::new("book.toml");
        let e = settings(p, "[book]\ntitle = \"x\"\nsrc = docs\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("book.toml", 3, 7)), "{e}");
        assert!(e.message.starts_with("invalid TOML: "), "{e}");
        let e = settings(p, "[book]\nsrc = \"a\"\nsrc = \"b\"\n").unwrap_err();
        assert_eq!(e.pos.as_ref().unwrap().line, 3, "a duplicate key: {e}");
        let e = settings(p, "[book]\nsrc = 3\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "book.toml:2:7: error: `book.src` must be a string, not an integer"
        );
        let e = settings(p, "[preprocessor.tangle]\nlabels = \"(ref)\"\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("book.toml", 2, 10)));
        assert!(e.message.contains("must contain %s"), "{e}");
    }
}
