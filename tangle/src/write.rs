//! The writer: puts complete outputs on disk, all or nothing, touching only what changed.
//!
//! Every target is checked before the first byte is written. Then every changed file (and the
//! manifest) is staged as a temporary file beside its target; only when all are staged are they
//! renamed into place, and if one rename fails the files already replaced are put back, so the
//! outputs are either all old or all new and the manifest always matches the disk. Documents
//! (what `tangle sync` and `tangle fmt` write) are synced to the disk before they replace the
//! old ones; generated files are not (they can always be tangled again, and syncing each one
//! cost more than the rest of a large run). A file whose
//! content is unchanged is left alone, so its modification time stays. The manifest remembers
//! the documents read and the files written, so that outputs no root produces any more can be
//! removed (only those that carry our header), and so that commands run later in the folder
//! know the project.

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::output::Output;
use crate::paths::normalize;
use crate::tangle::{check_target, HEADER_MARK};
use std::borrow::Cow;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Name of the manifest, in the project root.
pub const MANIFEST: &str = ".tangled";

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub written: Vec<PathBuf>,
    pub unchanged: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
}

/// Where outputs go and how far they may reach.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The folder that output paths are relative to.
    pub base: &'a Path,
    /// Whether outputs must stay inside `base` (Markdown books), or may go anywhere (org, as Emacs).
    pub confine: bool,
    /// The manifest to keep in `base`, if any.
    pub manifest: Option<&'a Manifest>,
}

/// The manifest's contents: the documents a project reads and the files it writes, relative to
/// the project root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub documents: Vec<PathBuf>,
    pub outputs: Vec<PathBuf>,
    /// For each output, the hash of the content tangled for it ([`content_hash`]): what the
    /// disk held right after the run, so that `tangle sync` can tell whose side changed.
    pub hashes: std::collections::BTreeMap<PathBuf, u64>,
}

/// A stable 64-bit hash of a file's content (FNV-1a), as the manifest records it.
pub fn content_hash(bytes: &[u8]) -> u64 {
    fnv_continue(FNV_OFFSET, bytes)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// One byte of FNV-1a.
fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
}

/// FNV-1a from state `h` over `bytes`.
fn fnv_continue(h: u64, bytes: &[u8]) -> u64 {
    // Eight bytes per round: the same hash, without a loop test per byte.
    let mut chunks = bytes.chunks_exact(8);
    let mut h = h;
    for c in &mut chunks {
        h = c.iter().fold(h, |h, &b| fnv_step(h, b));
    }
    chunks.remainder().iter().fold(h, |h, &b| fnv_step(h, b))
}

/// [`content_hash`] of each of `contents`. Each hash is a chain of multiplications, each
/// waiting for the one before; four hashes advance side by side so that the processor
/// overlaps their chains, and groups of four are hashed on every core. The same values as
/// one by one.
pub fn content_hashes(contents: &[&[u8]]) -> Vec<u64> {
    let groups: Vec<&[&[u8]]> = contents.chunks(4).collect();
    let bytes = contents.iter().map(|c| c.len()).sum();
    crate::par::map(bytes, &groups, |group| hash_group(group))
        .into_iter()
        .flatten()
        .collect()
}

/// [`content_hash`] of each of up to four contents, side by side.
fn hash_group(group: &[&[u8]]) -> Vec<u64> {
    let [a, b, c, d] = group else {
        return group.iter().map(|c| content_hash(c)).collect();
    };
    let common = a.len().min(b.len()).min(c.len()).min(d.len());
    let mut h = [FNV_OFFSET; 4];
    for (((&x, &y), &z), &w) in a[..common]
        .iter()
        .zip(&b[..common])
        .zip(&c[..common])
        .zip(&d[..common])
    {
        h = [
            fnv_step(h[0], x),
            fnv_step(h[1], y),
            fnv_step(h[2], z),
            fnv_step(h[3], w),
        ];
    }
    h.into_iter()
        .zip([a, b, c, d])
        .map(|(h, bytes)| fnv_continue(h, &bytes[common..]))
        .collect()
}

const MANIFEST_COMMENT: &str = "# Written by `tangle`: the documents it read and the files it wrote (stale files listed\n# here are removed on the next run when they carry tangle's header or hold what it wrote).\n";

impl Manifest {
    /// The manifest of a run that read `documents` and produced `outputs`.
    pub fn new(documents: &[PathBuf], outputs: &[Output]) -> Manifest {
        Manifest {
            documents: documents.to_vec(),
            outputs: outputs.iter().map(|o| normalize(&o.path)).collect(),
            hashes: {
                let contents: Vec<&[u8]> = outputs.iter().map(|o| o.content.as_slice()).collect();
                outputs
                    .iter()
                    .map(|o| normalize(&o.path))
                    .zip(content_hashes(&contents))
                    .collect()
            },
        }
    }

    /// The manifest's text: sorted, so that it changes only when the sets change.
    pub fn text(&self) -> String {
        let mut text = String::from(MANIFEST_COMMENT);
        for (section, paths) in [("documents", &self.documents), ("outputs", &self.outputs)] {
            let mut lines: Vec<String> = paths
                .iter()
                .map(|p| match self.hashes.get(p) {
                    Some(h) => format!("{}\tfnv1a64:{h:016x}", p.display()),
                    None => p.display().to_string(),
                })
                .collect();
            lines.sort();
            lines.dedup();
            text.push_str(&format!("[{section}]\n"));
            for l in lines {
                text.push_str(&l);
                text.push('\n');
            }
        }
        text
    }

    /// Reads a manifest's text. Lines before any `[section]` are outputs (the first format
    /// listed only those).
    pub fn parse(text: &str) -> Manifest {
        let mut m = Manifest::default();
        let mut documents = false;
        for line in text.lines() {
            match line {
                "" => {}
                l if l.starts_with('#') => {}
                "[documents]" => documents = true,
                "[outputs]" => documents = false,
                l if documents => m.documents.push(PathBuf::from(l)),
                l => {
                    let (path, hash) = match l.split_once("\tfnv1a64:") {
                        Some((p, h)) => (p, u64::from_str_radix(h, 16).ok()),
                        None => (l, None),
                    };
                    let path = PathBuf::from(path);
                    if let Some(h) = hash {
                        m.hashes.insert(path.clone(), h);
                    }
                    m.outputs.push(path);
                }
            }
        }
        m
    }

    /// The manifest in folder `base`, if there is one.
    pub fn read(base: &Path) -> Option<Manifest> {
        fs::read_to_string(base.join(MANIFEST))
            .ok()
            .map(|t| Manifest::parse(&t))
    }
}

/// `base` with every symbolic link resolved, or why it cannot be.
fn resolve(base: &Path) -> Result<PathBuf, String> {
    fs::canonicalize(base).map_err(|e| format!("cannot resolve {}: {e}", base.display()))
}

/// Checks that `rel` stays inside `base` (resolved: see [`resolve`]) even through symbolic
/// links that already exist.
fn confined(base: &Result<PathBuf, String>, rel: &Path) -> Result<(), String> {
    check_target(rel).map_err(str::to_string)?;
    let base = base.as_ref().map_err(String::clone)?;
    let full = base.join(rel);
    let existing = full
        .ancestors()
        .find(|p| fs::symlink_metadata(p).is_ok())
        .unwrap_or(base);
    if existing == base {
        // Resolved already.
        return Ok(());
    }
    match fs::canonicalize(existing) {
        Ok(real) if real.starts_with(base) => Ok(()),
        Ok(real) => Err(format!(
            "the target leaves the project through a symbolic link (to {})",
            real.display()
        )),
        Err(e) => Err(format!("a symbolic link on the way is broken: {e}")),
    }
}

/// Why `o` cannot be written under `target`, if it cannot.
fn problem(target: Target<'_>, base: &Result<PathBuf, String>, o: &Output) -> Option<String> {
    let full = target.base.join(&o.path);
    if target.confine {
        if let Err(why) = confined(base, &o.path) {
            return Some(why);
        }
    }
    if full.is_dir() {
        return Some("the target is a folder".into());
    }
    let parent = full.parent().filter(|p| !p.as_os_str().is_empty())?;
    if parent.is_dir() {
        return None;
    }
    // The nearest ancestor that exists must be a folder, or nothing can be created under it.
    let blocker = parent.ancestors().find(|p| fs::metadata(p).is_ok());
    if let Some(b) = blocker.filter(|b| !b.is_dir()) {
        let shown = b.strip_prefix(target.base).unwrap_or(b);
        return Some(format!(
            "`{}` is a file, so no folder can be made there",
            normalize(shown).display()
        ));
    }
    if !o.mkdirp {
        let shown = parent.strip_prefix(target.base).unwrap_or(parent);
        return Some(format!(
            "folder `{}` does not exist (add `:mkdirp yes`)",
            normalize(shown).display()
        ));
    }
    None
}

/// A file to put in place: where, what, with which mode, and whom to blame when it fails.
struct Change<'a> {
    rel: PathBuf,
    full: PathBuf,
    content: &'a [u8],
    mode: u32,
    blame: Pos,
    /// Whether the content must be on the disk before it replaces the old (the user's own
    /// documents); generated files can always be tangled again, and are not synced.
    durable: bool,
}

/// Checks every target, then writes the outputs that changed and the manifest (all or nothing),
/// then removes stale outputs. Errors are reported at each output's block.
pub fn write_all(target: Target<'_>, outputs: &[Output]) -> Result<Report, Diagnostics> {
    write_with(target, outputs, || target.manifest.map(Cow::Borrowed))
}

/// [`write_all`], the manifest (if any) made by `manifest` on another core while the outputs
/// are checked and staged (hashing every output takes about as long as writing them; small
/// outputs are hashed on this thread); the manifest of `target` is not used.
pub fn write_all_with(
    target: Target<'_>,
    outputs: &[Output],
    manifest: impl FnOnce() -> Option<Manifest> + Send,
) -> Result<Report, Diagnostics> {
    let bytes: usize = outputs.iter().map(|o| o.content.len()).sum();
    if bytes < crate::par::PARALLEL_FROM {
        return write_with(target, outputs, || manifest().map(Cow::Owned));
    }
    std::thread::scope(|s| {
        let made = s.spawn(manifest);
        write_with(target, outputs, || {
            made.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .map(Cow::Owned)
        })
    })
}

/// [`write_all`], asking for the manifest only once the outputs are staged.
fn write_with<'m>(
    target: Target<'_>,
    outputs: &[Output],
    manifest: impl FnOnce() -> Option<Cow<'m, Manifest>>,
) -> Result<Report, Diagnostics> {
    // Resolved once for all outputs.
    let base = if target.confine {
        resolve(target.base)
    } else {
        Ok(PathBuf::new())
    };
    let errors: Vec<Diagnostic> = outputs
        .iter()
        .filter_map(|o| {
            let why = problem(target, &base, o)?;
            Some(Diagnostic::error(
                o.block.clone(),
                format!("cannot write `{}`: {why}", normalize(&o.path).display()),
            ))
        })
        .collect();
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let mut report = Report::default();
    let mut changes = Vec::new();
    for o in outputs {
        let full = target.base.join(&o.path);
        let rel = normalize(&o.path);
        if fs::read(&full).is_ok_and(|old| old == o.content) {
            let meta = fs::metadata(&full);
            if meta.is_ok_and(|m| m.permissions().mode() & 0o7777 != o.mode) {
                fs::set_permissions(&full, fs::Permissions::from_mode(o.mode)).map_err(|e| {
                    Diagnostic::error(
                        o.block.clone(),
                        format!("cannot set the mode of `{}`: {}", rel.display(), plain(&e)),
                    )
                })?;
            }
            report.unchanged.push(rel);
            continue;
        }
        changes.push(Change {
            rel,
            full,
            content: &o.content,
            mode: o.mode,
            blame: o.block.clone(),
            durable: false,
        });
    }
    let manifest_path = target.base.join(MANIFEST);
    let old_manifest = fs::read_to_string(&manifest_path).unwrap_or_default();
    // The outputs are staged first, the manifest last (it may still be in the making).
    let mut staged = stage_all(&changes)?;
    let manifest = manifest();
    let new_manifest = manifest.as_deref().map(Manifest::text);
    if let Some(new) = new_manifest.as_deref().filter(|new| *new != old_manifest) {
        changes.push(Change {
            rel: PathBuf::from(MANIFEST),
            full: manifest_path.clone(),
            content: new.as_bytes(),
            mode: 0o644,
            blame: Pos::new(MANIFEST, 1, 1),
            durable: false,
        });
        match stage_all(&changes[staged.len()..]) {
            Ok(more) => staged.extend(more),
            Err(e) => {
                for (tmp, _) in &staged {
                    let _ = fs::remove_file(tmp);
                }
                return Err(e);
            }
        }
    }
    put_in_place(&changes, staged)?;
    report.written = changes
        .into_iter()
        .map(|c| c.rel)
        .filter(|r| r != Path::new(MANIFEST))
        .collect();
    if let Some(manifest) = manifest.as_deref() {
        let old = Manifest::parse(&old_manifest);
        for stale in &old.outputs {
            let stale = normalize(stale);
            if manifest.outputs.contains(&stale) || check_target(&stale).is_err() {
                continue;
            }
            let full = target.base.join(&stale);
            // Ours: it carries our header, or it still holds exactly what we wrote (files
            // without a header: org's, Entangled's).
            let ours = fs::read(&full).is_ok_and(|b| {
                b.split(|&c| c == b'\n')
                    .next()
                    .is_some_and(|l| String::from_utf8_lossy(l).contains(HEADER_MARK))
                    || old.hashes.get(&stale) == Some(&content_hash(&b))
            });
            if ours && fs::remove_file(&full).is_ok() {
                report.removed.push(stale);
            }
        }
    }
    Ok(report)
}

/// Replaces documents (relative to `base`) with new texts, all or nothing, each keeping its
/// permission bits.
pub fn replace_documents(
    base: &Path,
    texts: &std::collections::BTreeMap<PathBuf, String>,
) -> Result<(), Diagnostics> {
    let changes: Vec<Change<'_>> = texts
        .iter()
        .map(|(rel, text)| {
            let full = base.join(rel);
            let mode = fs::metadata(&full).map_or(0o644, |m| m.permissions().mode() & 0o7777);
            Change {
                rel: rel.clone(),
                full,
                content: text.as_bytes(),
                mode,
                blame: Pos::new(rel, 1, 1),
                durable: true,
            }
        })
        .collect();
    commit(&changes)
}

/// An I/O error in plain words, without the OS's error number.
fn plain(e: &std::io::Error) -> String {
    let text = match e.kind() {
        ErrorKind::PermissionDenied => "permission denied".to_string(),
        ErrorKind::NotFound => "a folder on the way does not exist".to_string(),
        ErrorKind::AlreadyExists => "a file is in the way".to_string(),
        ErrorKind::StorageFull => "the disk is full".to_string(),
        ErrorKind::ReadOnlyFilesystem => "the file system is read-only".to_string(),
        _ => e.to_string(),
    };
    match text.find(" (os error") {
        Some(k) => text[..k].to_string(),
        None => text,
    }
}

/// The temporary names beside `path` for its staged content and for its old content.
fn side_names(path: &Path) -> (PathBuf, PathBuf) {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let pid = std::process::id();
    (
        dir.join(format!(".{name}.tangle-{pid}.tmp")),
        dir.join(format!(".{name}.tangle-{pid}.old")),
    )
}

/// Puts every change in place or none: stage all, then rename each in turn; when a rename fails,
/// the files already replaced get their old content back and new ones are removed.
fn commit(changes: &[Change<'_>]) -> Result<(), Diagnostics> {
    let staged = stage_all(changes)?;
    put_in_place(changes, staged)
}

/// The error for a change that could not be made.
fn failed(c: &Change<'_>, e: &std::io::Error) -> Diagnostics {
    Diagnostics::from(Diagnostic::error(
        c.blame.clone(),
        format!("cannot write `{}`: {}", c.rel.display(), plain(e)),
    ))
}

/// Stages every change beside its target: its temporary file, open. When one cannot be
/// staged, none stays.
fn stage_all(changes: &[Change<'_>]) -> Result<Vec<(PathBuf, fs::File)>, Diagnostics> {
    let mut staged: Vec<(PathBuf, fs::File)> = Vec::with_capacity(changes.len());
    for c in changes {
        let (tmp, _) = side_names(&c.full);
        let _ = fs::remove_file(&tmp);
        match stage(&tmp, c.content, c.mode) {
            Ok(f) => staged.push((tmp, f)),
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                for (t, _) in &staged {
                    let _ = fs::remove_file(t);
                }
                return Err(failed(c, &e));
            }
        }
    }
    Ok(staged)
}

/// Puts staged changes (`staged`, one per change, in order) in place, all or none.
fn put_in_place(
    changes: &[Change<'_>],
    staged: Vec<(PathBuf, fs::File)>,
) -> Result<(), Diagnostics> {
    let (staged, files): (Vec<PathBuf>, Vec<fs::File>) = staged.into_iter().unzip();
    // Every staged document is on disk before the first rename.
    let durable: Vec<(usize, fs::File)> = files
        .into_iter()
        .enumerate()
        .filter(|(k, _)| changes[*k].durable)
        .collect();
    let (which, files): (Vec<usize>, Vec<fs::File>) = durable.into_iter().unzip();
    if let Some((k, e)) = sync_data_all(&files).map(|(k, e)| (which[k], e)) {
        for t in &staged {
            let _ = fs::remove_file(t);
        }
        return Err(failed(&changes[k], &e));
    }
    drop(files);
    // Which targets are in place, and where their old content waits (`None`: there was none).
    let mut done: Vec<(&Path, Option<PathBuf>)> = Vec::with_capacity(changes.len());
    for (c, tmp) in changes.iter().zip(&staged) {
        let (_, old) = side_names(&c.full);
        let result = (|| {
            let _ = fs::remove_file(&old);
            let kept = match fs::hard_link(&c.full, &old) {
                Ok(()) => Some(old.clone()),
                Err(e) if e.kind() == ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            if let Err(e) = fs::rename(tmp, &c.full) {
                if let Some(k) = &kept {
                    let _ = fs::remove_file(k);
                }
                return Err(e);
            }
            Ok(kept)
        })();
        match result {
            Ok(kept) => done.push((&c.full, kept)),
            Err(e) => {
                for (path, kept) in done.into_iter().rev() {
                    match kept {
                        Some(k) => {
                            let _ = fs::rename(&k, path);
                        }
                        None => {
                            let _ = fs::remove_file(path);
                        }
                    }
                }
                for t in &staged {
                    let _ = fs::remove_file(t);
                }
                return Err(failed(c, &e));
            }
        }
    }
    for (_, kept) in done {
        if let Some(k) = kept {
            let _ = fs::remove_file(k);
        }
    }
    Ok(())
}

/// Writes `content` with `mode` to the new file `tmp`, making missing folders. The file is
/// written, not yet synced to disk: see [`sync_data_all`].
fn stage(tmp: &Path, content: &[u8], mode: u32) -> std::io::Result<fs::File> {
    if let Some(dir) = tmp.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    f.write_all(content)?;
    f.set_permissions(fs::Permissions::from_mode(mode))?;
    Ok(f)
}

/// Syncs the data of every file to disk; the first failure, by index, if one fails. The syncs
/// run side by side (a few threads waiting on the disk), so that the file system can commit
/// them together instead of one journal commit after another.
fn sync_data_all(files: &[fs::File]) -> Option<(usize, std::io::Error)> {
    const THREADS: usize = 8;
    if files.len() < 2 {
        return files
            .iter()
            .enumerate()
            .find_map(|(k, f)| f.sync_data().err().map(|e| (k, e)));
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let sync = || {
        let mut failed = None;
        loop {
            let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let Some(f) = files.get(k) else { break failed };
            if let Err(e) = f.sync_data() {
                failed = failed.or(Some((k, e)));
            }
        }
    };
    std::thread::scope(|s| {
        let helpers: Vec<_> = (1..THREADS.min(files.len()))
            .map(|_| s.spawn(sync))
            .collect();
        let mut failed = sync();
        for h in helpers {
            if let Some((k, e)) = h.join().expect("a sync thread does not panic") {
                match &failed {
                    Some((j, _)) if *j < k => {}
                    _ => failed = Some((k, e)),
                }
            }
        }
        failed
    })
}

/// One output that differs from the disk, with a unified diff (disk → tangled).
#[derive(Debug, Clone)]
pub struct Difference {
    pub path: PathBuf,
    pub diff: String,
}

/// Compares outputs (and the manifest, when kept) with the files on disk.
pub fn check_all(target: Target<'_>, outputs: &[Output]) -> Vec<Difference> {
    let mut diffs = Vec::new();
    let mut compare = |rel: &Path, new: &[u8]| {
        let full = target.base.join(rel);
        let old = fs::read(&full).unwrap_or_default();
        if old != new {
            let rel = normalize(rel);
            let old = String::from_utf8_lossy(&old);
            let new = String::from_utf8_lossy(new);
            let a = format!("a/{}", rel.display());
            let b = format!("b/{}", rel.display());
            let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
                .unified_diff()
                .context_radius(3)
                .header(&a, &b)
                .to_string();
            let diff = if diff.is_empty() {
                format!("{}: differs (no line-level change shown)\n", rel.display())
            } else {
                diff
            };
            diffs.push(Difference { path: rel, diff });
        }
    };
    for o in outputs {
        compare(&o.path, &o.content);
    }
    if let Some(m) = target.manifest {
        compare(Path::new(MANIFEST), m.text().as_bytes());
    }
    diffs
}

#[cfg(test)]
mod hash_tests {
    use super::*;

    #[test]
    fn side_by_side_hashes_are_the_one_by_one_hashes() {
        assert_eq!(content_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(content_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        let texts: Vec<Vec<u8>> = (0..11)
            .map(|k| {
                (0..k * 37 + (k % 3) * 5)
                    .map(|i| (i * 7 + k) as u8)
                    .collect()
            })
            .collect();
        for n in 0..texts.len() {
            let some: Vec<&[u8]> = texts[..n].iter().map(Vec::as_slice).collect();
            let one_by_one: Vec<u64> = some.iter().map(|t| content_hash(t)).collect();
            assert_eq!(content_hashes(&some), one_by_one);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_round_trip_and_first_format() {
        let m = Manifest {
            documents: vec!["lit.org".into()],
            outputs: vec!["src/main.rs".into(), "Cargo.toml".into()],
            hashes: [(
                PathBuf::from("src/main.rs"),
                content_hash(b"fn main() {}\n"),
            )]
            .into(),
        };
        let back = Manifest::parse(&m.text());
        assert_eq!(back.documents, m.documents);
        assert_eq!(back.hashes, m.hashes);
        assert_eq!(
            back.outputs,
            vec![PathBuf::from("Cargo.toml"), "src/main.rs".into()]
        );
        let old = Manifest::parse("# Files written by `tangle`\nsrc/a.rs\nsrc/b.rs\n");
        assert!(old.documents.is_empty());
        assert_eq!(
            old.outputs,
            vec![PathBuf::from("src/a.rs"), "src/b.rs".into()]
        );
    }

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tangle-write-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn change<'a>(dir: &Path, rel: &str, content: &'a [u8]) -> Change<'a> {
        Change {
            rel: rel.into(),
            full: dir.join(rel),
            content,
            mode: 0o644,
            blame: Pos::new("a.md", 1, 1),
            durable: true,
        }
    }

    #[test]
    fn a_failed_rename_puts_back_what_was_replaced() {
        let dir = scratch("rollback");
        fs::write(dir.join("a.rs"), "old a\n").unwrap();
        // The second target is a folder: staging works, the rename over it fails.
        fs::create_dir_all(dir.join("b.rs/inside")).unwrap();
        let changes = [
            change(&dir, "a.rs", b"new a\n"),
            change(&dir, "new.rs", b"new file\n"),
            change(&dir, "b.rs", b"new b\n"),
        ];
        let err = commit(&changes).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert!(err.0[0].message.starts_with("cannot write `b.rs`"), "{err}");
        assert_eq!(fs::read_to_string(dir.join("a.rs")).unwrap(), "old a\n");
        assert!(!dir.join("new.rs").exists(), "a new file must go again");
        let mut left: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["a.rs", "b.rs"], "no temporary file stays behind");
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_stage_replaces_nothing() {
        let dir = scratch("stage");
        fs::write(dir.join("a.rs"), "old a\n").unwrap();
        let long = "x".repeat(250);
        let changes = [
            change(&dir, "a.rs", b"new a\n"),
            change(&dir, &long, b"too long a name for its temporary file\n"),
        ];
        assert!(commit(&changes).is_err());
        assert_eq!(fs::read_to_string(dir.join("a.rs")).unwrap(), "old a\n");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_where_a_folder_must_go_is_said_in_plain_words() {
        let dir = scratch("parent-file");
        fs::write(dir.join("src"), "a file\n").unwrap();
        let o = Output {
            path: "src/deep/main.rs".into(),
            content: b"fn main() {}\n".to_vec(),
            mode: 0o644,
            mkdirp: true,
            block: Pos::new("docs/a.md", 3, 1),
            map: Default::default(),
        };
        let target = Target {
            base: &dir,
            confine: true,
            manifest: None,
        };
        let err = write_all(target, &[o]).unwrap_err().to_string();
        assert_eq!(
            err,
            "docs/a.md:3:1: error: cannot write `src/deep/main.rs`: `src` is a file, so no folder can be made there"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_in_plain_words() {
        let e = std::io::Error::from_raw_os_error(17);
        assert_eq!(plain(&e), "a file is in the way");
        let e = std::io::Error::from_raw_os_error(13);
        assert_eq!(plain(&e), "permission denied");
    }
}
