//! The writer: puts complete outputs on disk, all or nothing, touching only what changed, and
//! never over what the user wrote.
//!
//! Every target is checked before the first byte is written, and so is what it holds: an
//! output whose bytes differ from what the last tangle wrote there (the manifest's hash,
//! Entangled's database for an Entangled book) holds edits not carried back, and is not
//! overwritten unless the user says to discard them (see [`Guard`]). The changed files (and
//! the manifest, and the documents `tangle sync` and `tangle fmt` rewrite) are then put in
//! place by [`crate::commit`]: all or nothing, each checked right before it is replaced, with a
//! journal that the next command replays after a crash. A file whose content is unchanged is
//! left alone, so its modification time stays. The manifest remembers the documents read and
//! the files written, so that outputs no root produces any more can be removed (only those
//! that still hold exactly what was written), and so that commands run later in the folder
//! know the project.

pub use crate::commit::Expect;
use crate::commit::{plain, Change, Seen, Stat, Transaction};
use crate::diag::{Diagnostic, Diagnostics, Pos};
pub use crate::hash::{content_hash, content_hashes};
use crate::output::Output;
use crate::output::{Folders, HEADER_MARK};
use crate::paths::check_target;
use crate::paths::normalize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Name of the manifest, in the project root.
pub const MANIFEST: &str = ".tangled";

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub written: Vec<PathBuf>,
    pub unchanged: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
    /// Stale outputs kept because they hold edits (no root writes them any more).
    pub kept: Vec<PathBuf>,
    /// Outputs whose edits were discarded (`--force`), with how many lines they lost.
    pub discarded: Vec<(PathBuf, usize)>,
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
    /// The rule for outputs that hold edits (none: write over them, as tests of the writer do).
    pub guard: Option<&'a Guard>,
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

const MANIFEST_COMMENT: &str = "# Written by `tangle`: the documents it read and the files it wrote (stale files listed\n# here are removed on the next run when they still hold exactly what it wrote).\n";

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
                    Some(h) => format!("{}\tfnv1a64:{h:016x}", portable(p).display()),
                    None => portable(p).display().to_string(),
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
                l if documents => m.documents.push(local(Path::new(l))),
                l => {
                    let (path, hash) = match l.split_once("\tfnv1a64:") {
                        Some((p, h)) => (p, u64::from_str_radix(h, 16).ok()),
                        None => (l, None),
                    };
                    let path = local(Path::new(path));
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

/// The home folder (`$HOME`), if set and absolute.
fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|h| h.is_absolute() && h != Path::new("/"))
}

/// `path` as the manifest records it: a path in the home folder as `~/...`, as an org file
/// writes it, so that the same project on two machines (two homes) has the same manifest.
/// Paths in the project are relative already.
fn portable(path: &Path) -> PathBuf {
    match home() {
        Some(home) if path.is_absolute() => match path.strip_prefix(&home) {
            Ok(rest) if !rest.as_os_str().is_empty() => Path::new("~").join(rest),
            _ => path.to_path_buf(),
        },
        _ => path.to_path_buf(),
    }
}

/// A path the manifest records, on this machine: `~/...` in this home folder. Manifests
/// written before recorded such paths absolute; those are read as they are.
fn local(path: &Path) -> PathBuf {
    match (path.strip_prefix("~"), home()) {
        (Ok(rest), Some(home)) if !rest.as_os_str().is_empty() => home.join(rest),
        _ => path.to_path_buf(),
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
    if let Folders::Existing { hint } = o.folders {
        let shown = parent.strip_prefix(target.base).unwrap_or(parent);
        return Some(format!(
            "folder `{}` does not exist ({hint})",
            normalize(shown).display()
        ));
    }
    None
}

/// A dialect's own record of what its tool last wrote (Entangled's database), consulted beside
/// our manifest: a team may switch between the tools.
pub trait Ledger: std::fmt::Debug + Send + Sync {
    /// Whether it records what was written to `path`.
    fn knows(&self, path: &Path) -> bool;
    /// Whether it says `bytes` is what was written to `path`.
    fn wrote(&self, path: &Path, bytes: &[u8]) -> bool;
}

/// What the last tangle wrote to each output: our manifest's hashes, and the dialect's own
/// record when it keeps one.
#[derive(Debug, Clone, Default)]
pub struct Records {
    pub hashes: BTreeMap<PathBuf, u64>,
    pub ledger: Option<std::sync::Arc<dyn Ledger>>,
}

impl Records {
    /// The manifest kept in `root`, with the dialect's record (if any).
    pub fn read(root: &Path, ledger: Option<std::sync::Arc<dyn Ledger>>) -> Records {
        Records {
            hashes: Manifest::read(root).unwrap_or_default().hashes,
            ledger,
        }
    }

    /// Whether either record says what was written to `path`.
    pub fn knows(&self, path: &Path) -> bool {
        self.hashes.contains_key(path) || self.ledger.as_ref().is_some_and(|l| l.knows(path))
    }

    /// Whether the last tangle wrote `bytes` to `path`, as either record says.
    pub fn wrote(&self, path: &Path, bytes: &[u8]) -> bool {
        self.hashes.get(path) == Some(&content_hash(bytes))
            || self.ledger.as_ref().is_some_and(|l| l.wrote(path, bytes))
    }
}

/// The rule every command writes outputs by: an output whose bytes differ from what the last
/// tangle wrote there holds something only the user has (an edit not carried back, or a file
/// of someone else's), and is not overwritten unless the user says to discard it.
#[derive(Debug, Clone, Default)]
pub struct Guard {
    pub records: Records,
    /// Outputs whose bytes (by [`content_hash`]) this command carried into the documents: they
    /// may be replaced, as long as they still hold exactly that.
    pub carried: BTreeMap<PathBuf, u64>,
    /// `--force`: discard such edits (the report says which, and how many lines).
    pub force: bool,
    /// The dialect's own test of sameness, if it has one (Entangled's: carriage returns and
    /// trailing white space aside): bytes it calls the same as the new ones lose nothing.
    pub same: Option<SameBytes>,
}

/// A dialect's test of whether two versions of a file hold the same text.
pub type SameBytes = fn(&[u8], &[u8]) -> bool;

/// What the guard says of replacing an output's bytes on disk.
enum Verdict {
    /// What a tangle wrote (or what this command carried back): nothing is lost.
    Ours,
    /// Edits the user asked to discard: this many lines.
    Discard(usize),
    /// Not to be written: why.
    Refuse(String),
}

/// Whether `bytes` carry a tangle header: on the first line, or on the second after a line
/// that must stay first (`#!`, `<?xml`).
fn has_header(bytes: &[u8]) -> bool {
    bytes
        .split(|&c| c == b'\n')
        .take(2)
        .any(|line| String::from_utf8_lossy(line).contains(HEADER_MARK))
}

/// How many lines of `disk` replacing it with `new` takes away.
pub fn lines_lost(disk: &[u8], new: &[u8]) -> usize {
    let (a, b) = (String::from_utf8_lossy(disk), String::from_utf8_lossy(new));
    similar::TextDiff::from_lines(a.as_ref(), b.as_ref())
        .ops()
        .iter()
        .map(|op| match *op {
            similar::DiffOp::Delete { old_len, .. } | similar::DiffOp::Replace { old_len, .. } => {
                old_len
            }
            _ => 0,
        })
        .sum()
}

impl Guard {
    /// `hash` is [`content_hash`] of `disk`.
    fn verdict(&self, path: &Path, disk: &[u8], hash: u64, new: &[u8]) -> Verdict {
        if self.records.hashes.get(path) == Some(&hash)
            || self.records.wrote(path, disk)
            || self.carried.get(path) == Some(&hash)
        {
            return Verdict::Ours;
        }
        if self.same.is_some_and(|same| same(disk, new)) {
            return Verdict::Ours;
        }
        let known = self.records.knows(path);
        if !known && has_header(disk) {
            // No record of it (a manifest of before hashes, or Markdown files named on the
            // command line, which keep none): our header is all there is to go by.
            return Verdict::Ours;
        }
        if self.force {
            return Verdict::Discard(lines_lost(disk, new));
        }
        Verdict::Refuse(if known {
            format!(
                "`{}` holds edits that no tangle wrote (its bytes differ from what the last \
                 tangle wrote there): writing it would lose them; carry them into the documents \
                 with `tangle sync`, or discard them with `tangle --force`",
                path.display()
            )
        } else {
            format!(
                "`{}` is not a file tangle wrote (there is no record of it, and it has no tangle \
                 header): writing it would lose what it holds; move it away, or replace it with \
                 `tangle --force`",
                path.display()
            )
        })
    }
}

/// A document to replace along with the outputs (what `tangle sync` and `tangle fmt` write):
/// its new text, and what it held when the command read it.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    pub rel: PathBuf,
    pub text: &'a str,
    pub expect: Expect,
}

/// What documents held when a command began to read them: checked again right before any of
/// them is replaced. Hashed only for the documents that are replaced (an idle `tangle sync`
/// replaces none).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    files: BTreeMap<PathBuf, Option<(Stat, Vec<u8>)>>,
}

impl Snapshot {
    /// What each of `rels` (relative to `root`) holds now.
    pub fn take(root: &Path, rels: &[PathBuf]) -> Snapshot {
        Snapshot {
            files: rels
                .iter()
                .map(|rel| (rel.clone(), Stat::read(&root.join(rel)).ok().flatten()))
                .collect(),
        }
    }

    /// What document `rel` must still hold when it is replaced.
    pub fn expect(&self, rel: &Path) -> Expect {
        match self.files.get(rel) {
            Some(Some((stat, bytes))) => Expect::Holds(Seen {
                stat: *stat,
                hash: content_hash(bytes),
            }),
            _ => Expect::Absent,
        }
    }
}

/// Checks every target, then writes the outputs that changed and the manifest (all or nothing),
/// then removes stale outputs. Errors are reported at each output's block.
pub fn write_all(target: Target<'_>, outputs: &[Output]) -> Result<Report, Diagnostics> {
    write_with(target, outputs, &[], || target.manifest.map(Cow::Borrowed))
}

/// [`write_all`], with `documents` replaced in the same change (all or nothing).
pub fn write_all_and_documents(
    target: Target<'_>,
    outputs: &[Output],
    documents: &[Document<'_>],
) -> Result<Report, Diagnostics> {
    write_with(target, outputs, documents, || {
        target.manifest.map(Cow::Borrowed)
    })
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
        return write_with(target, outputs, &[], || manifest().map(Cow::Owned));
    }
    std::thread::scope(|s| {
        let made = s.spawn(manifest);
        write_with(target, outputs, &[], || {
            made.join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                .map(Cow::Owned)
        })
    })
}

/// [`write_all`], asking for the manifest only once the outputs are checked.
fn write_with<'m>(
    target: Target<'_>,
    outputs: &[Output],
    documents: &[Document<'_>],
    manifest: impl FnOnce() -> Option<Cow<'m, Manifest>>,
) -> Result<Report, Diagnostics> {
    // Resolved once for all outputs.
    let base = if target.confine {
        resolve(target.base)
    } else {
        Ok(PathBuf::new())
    };
    let mut errors: Vec<Diagnostic> = outputs
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
    for d in documents {
        let full = target.base.join(&d.rel);
        let meta = fs::metadata(&full);
        if meta
            .as_ref()
            .is_ok_and(|m| m.permissions().mode() & 0o222 == 0)
        {
            errors.push(Diagnostic::error(
                Pos::new(&d.rel, 1, 1),
                format!(
                    "`{}` is read-only: it was not written (nor was anything else); make it \
                     writable (`chmod u+w`) and run the command again",
                    d.rel.display()
                ),
            ));
            continue;
        }
        changes.push(Change {
            rel: d.rel.clone(),
            full,
            content: d.text.as_bytes(),
            mode: meta.map_or(0o644, |m| m.permissions().mode() & 0o7777),
            blame: Pos::new(&d.rel, 1, 1),
            durable: true,
            expect: d.expect,
        });
    }
    for o in outputs {
        let full = target.base.join(&o.path);
        let rel = normalize(&o.path);
        let (stat, old) = match Stat::read(&full) {
            Ok(Some((stat, old))) => (Some(stat), Some(old)),
            _ => (None, None),
        };
        if old.as_deref() == Some(o.content.as_slice()) {
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
        // Only a file about to be replaced is hashed (to be judged, and checked again right
        // before it is replaced).
        let hash = old.as_deref().map(content_hash);
        if let (Some(old), Some(hash), Some(guard)) = (&old, hash, target.guard) {
            match guard.verdict(&rel, old, hash, &o.content) {
                Verdict::Ours => {}
                Verdict::Discard(lines) => report.discarded.push((rel.clone(), lines)),
                Verdict::Refuse(why) => {
                    errors.push(Diagnostic::error(o.block.clone(), why));
                    continue;
                }
            }
        }
        let expect = match (stat, hash) {
            (Some(stat), Some(hash)) => Expect::Holds(Seen { stat, hash }),
            _ => Expect::Absent,
        };
        changes.push(Change {
            rel,
            full,
            content: &o.content,
            mode: o.mode,
            blame: o.block.clone(),
            durable: false,
            expect,
        });
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    report.written = changes
        .iter()
        .skip(documents.len())
        .map(|c| c.rel.clone())
        .collect();
    let manifest_path = target.base.join(MANIFEST);
    let (manifest_seen, old_manifest) = match Seen::read(&manifest_path) {
        Ok(Some((seen, bytes))) => (
            Expect::Holds(seen),
            String::from_utf8_lossy(&bytes).into_owned(),
        ),
        _ => (Expect::Absent, String::new()),
    };
    // The manifest's text outlives the transaction that writes it (declared first, it is
    // dropped after it).
    #[allow(clippy::needless_late_init)]
    let new_manifest: Option<String>;
    let mut tx = Transaction::new(target.base);
    for c in changes {
        tx.stage(c)?;
    }
    // The outputs are staged first, the manifest last (it may still be in the making).
    let manifest = manifest();
    new_manifest = manifest.as_deref().map(Manifest::text);
    if let Some(new) = new_manifest.as_deref().filter(|new| *new != old_manifest) {
        tx.stage(Change {
            rel: PathBuf::from(MANIFEST),
            full: manifest_path.clone(),
            content: new.as_bytes(),
            mode: 0o644,
            blame: Pos::new(MANIFEST, 1, 1),
            durable: false,
            expect: manifest_seen,
        })?;
    }
    tx.commit()?;
    if let Some(manifest) = manifest.as_deref() {
        let old = Manifest::parse(&old_manifest);
        let records = match target.guard {
            Some(g) => Cow::Borrowed(&g.records),
            None => Cow::Owned(Records {
                hashes: old.hashes.clone(),
                ledger: None,
            }),
        };
        for stale in &old.outputs {
            let stale = normalize(stale);
            if manifest.outputs.contains(&stale) || check_target(&stale).is_err() {
                continue;
            }
            let full = target.base.join(&stale);
            let Ok(bytes) = fs::read(&full) else {
                continue;
            };
            // Ours only when it still holds exactly what a tangle wrote (a header says nothing
            // of edits made below it).
            if !records.wrote(&stale, &bytes) {
                report.kept.push(stale);
            } else if fs::remove_file(&full).is_ok() {
                report.removed.push(stale);
            }
        }
    }
    Ok(report)
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

    #[test]
    fn a_file_where_a_folder_must_go_is_said_in_plain_words() {
        let dir = scratch("parent-file");
        fs::write(dir.join("src"), "a file\n").unwrap();
        let o = Output {
            path: "src/deep/main.rs".into(),
            content: b"fn main() {}\n".to_vec(),
            mode: 0o644,
            folders: Folders::Make,
            block: Pos::new("docs/a.md", 3, 1),
            map: Default::default(),
        };
        let target = Target {
            base: &dir,
            confine: true,
            manifest: None,
            guard: None,
        };
        let err = write_all(target, &[o]).unwrap_err().to_string();
        assert_eq!(
            err,
            "docs/a.md:3:1: error: cannot write `src/deep/main.rs`: `src` is a file, so no folder can be made there"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_folder_the_output_may_not_make_is_named_with_the_dialects_hint() {
        let dir = scratch("no-folder");
        let o = Output {
            path: "out/main.rs".into(),
            content: b"fn main() {}\n".to_vec(),
            mode: 0o644,
            folders: Folders::Existing {
                hint: "allow it in the document",
            },
            block: Pos::new("a.org", 2, 1),
            map: Default::default(),
        };
        let target = Target {
            base: &dir,
            confine: true,
            manifest: None,
            guard: None,
        };
        let err = write_all(target, &[o]).unwrap_err().to_string();
        assert_eq!(
            err,
            "a.org:2:1: error: cannot write `out/main.rs`: folder `out` does not exist (allow it in the document)"
        );
        assert!(!dir.join("out").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_in_plain_words() {
        use crate::commit::plain;
        let e = std::io::Error::from_raw_os_error(17);
        assert_eq!(plain(&e), "a file is in the way");
        let e = std::io::Error::from_raw_os_error(13);
        assert_eq!(plain(&e), "permission denied");
    }
}
