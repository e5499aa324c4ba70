//! Putting files in place: all or nothing, never over a save that was not read, and
//! recoverable after a crash.
//!
//! Every change is staged as a temporary file beside its target (`.NAME.tangle-PID.tmp`), the
//! old content kept beside it (`.NAME.tangle-PID.old`, a hard link, or a copy where hard links
//! are not available). When more than one file changes, a journal (`.tangle-journal`, beside
//! the manifest) records every change before the first one is made: a run killed half-way is
//! rolled forward (or, when that cannot be done, back) by the next command, which says so. Right
//! before each target is replaced, it is checked to still hold what the command read (size,
//! modification time, inode and content hash); when it does not, someone saved it while the
//! command ran: what was replaced already is put back, and the command stops and says which
//! file changed.
//!
//! A symbolic link is written through (the link stays, its target changes); a file with
//! several hard links is written in place, so that every link sees the new content; a file
//! keeps its owner where the system allows it.
//!
//! Tests stop a command at a named point with `TANGLE_TEST_PAUSE=POINT:FLAG` (the command
//! creates FLAG and waits until the test removes it: a save can then land, or the test can
//! kill the command there), and simulate a file system without hard links with
//! `TANGLE_TEST_NO_HARD_LINKS=1`. Both are read only by the functions here and are meant for
//! tests alone.

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::hash::content_hash;
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Name of the journal, in the project root.
pub const JOURNAL: &str = ".tangle-journal";

/// A file's size, modification time and inode: what changes when it is saved (or replaced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub len: u64,
    pub modified: Option<std::time::SystemTime>,
    pub ino: u64,
}

impl Stat {
    fn of(meta: &fs::Metadata) -> Stat {
        Stat {
            len: meta.len(),
            modified: meta.modified().ok(),
            ino: meta.ino(),
        }
    }

    /// The file at `path` now, with its bytes (`None` when there is none). Read between two
    /// looks at its metadata, so that a save landing during the read is not taken for the
    /// file's state.
    pub fn read(path: &Path) -> std::io::Result<Option<(Stat, Vec<u8>)>> {
        for _ in 0..5 {
            let before = match fs::metadata(path) {
                Ok(m) => m,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            };
            let bytes = fs::read(path)?;
            let after = Stat::of(&fs::metadata(path)?);
            if Stat::of(&before) == after && after.len == bytes.len() as u64 {
                return Ok(Some((after, bytes)));
            }
        }
        Err(std::io::Error::other(
            "the file keeps changing while it is read",
        ))
    }
}

/// What a file held when a command read it: its [`Stat`] and the hash of its content (a save
/// within one tick of the clock, of the same size, changes only the latter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub stat: Stat,
    pub hash: u64,
}

impl Seen {
    /// The file at `path` now, with its bytes (`None` when there is none).
    pub fn read(path: &Path) -> std::io::Result<Option<(Seen, Vec<u8>)>> {
        Ok(Stat::read(path)?.map(|(stat, bytes)| {
            let hash = content_hash(&bytes);
            (Seen { stat, hash }, bytes)
        }))
    }
}

/// What a target must hold right before it is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Nothing: the file is new.
    Absent,
    /// What was read.
    Holds(Seen),
}

/// A file to put in place: where, what, with which mode, and whom to blame when it fails.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    /// As shown to the user.
    pub rel: PathBuf,
    pub full: PathBuf,
    pub content: &'a [u8],
    pub mode: u32,
    pub blame: Pos,
    /// Whether the content must be on the disk before it replaces the old (the user's own
    /// documents); generated files can always be tangled again, and are not synced.
    pub durable: bool,
    pub expect: Expect,
}

/// An I/O error in plain words, without the OS's error number.
pub fn plain(e: &std::io::Error) -> String {
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

/// Stops at test point `point` when `TANGLE_TEST_PAUSE` names it (see the module's notes):
/// creates the flag file, then waits (at most a minute) until it is gone.
pub fn pause(point: &str) {
    let Some(spec) = std::env::var_os("TANGLE_TEST_PAUSE") else {
        return;
    };
    let spec = spec.to_string_lossy();
    let Some((at, flag)) = spec.split_once(':') else {
        return;
    };
    if at != point {
        return;
    }
    let flag = Path::new(flag);
    if fs::write(flag, point).is_err() {
        return;
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while flag.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// `fs::hard_link`, failing as a file system without hard links does when tests ask.
fn hard_link(from: &Path, to: &Path) -> std::io::Result<()> {
    if std::env::var_os("TANGLE_TEST_NO_HARD_LINKS").is_some() {
        return Err(std::io::Error::from_raw_os_error(1)); // EPERM, as vfat and some FUSE say
    }
    fs::hard_link(from, to)
}

/// The file a target names: a symbolic link is followed to the file it points to (which is
/// written, so that the link stays a link).
fn resolved(full: &Path) -> std::io::Result<PathBuf> {
    match fs::symlink_metadata(full) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(full).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("it is a symbolic link that leads nowhere ({})", plain(&e)),
            )
        }),
        _ => Ok(full.to_path_buf()),
    }
}

/// One change, ready: its real target, its staged temporary file, how it replaces the target.
struct Staged {
    real: PathBuf,
    tmp: PathBuf,
    old: PathBuf,
    /// Several hard links: written in place (the backup is a copy), not renamed over.
    in_place: bool,
    /// Whether the target existed (and so has a backup once backed up).
    existed: bool,
    backed_up: bool,
}

/// The error for a change that could not be made.
fn failed(c: &Change<'_>, why: &str) -> Diagnostics {
    Diagnostics::from(Diagnostic::error(
        c.blame.clone(),
        format!("cannot write `{}`: {why}", c.rel.display()),
    ))
}

/// Changes staged to be put in place together (see the module's notes): [`Transaction::stage`]
/// each, then [`Transaction::commit`]. Dropped uncommitted, it leaves nothing behind.
pub struct Transaction<'a> {
    journal_dir: PathBuf,
    changes: Vec<Change<'a>>,
    staged: Vec<Staged>,
    /// The staged files of documents, open until they are synced.
    durable: Vec<(usize, fs::File)>,
    finished: bool,
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.cleanup();
        }
    }
}

/// Puts every change in place or none (see the module's notes). `journal_dir` is where the
/// journal goes (the project root).
pub fn commit(journal_dir: &Path, changes: &[Change<'_>]) -> Result<(), Diagnostics> {
    let mut tx = Transaction::new(journal_dir);
    for c in changes {
        tx.stage(c.clone())?;
    }
    tx.commit()
}

impl<'a> Transaction<'a> {
    pub fn new(journal_dir: &Path) -> Transaction<'a> {
        Transaction {
            journal_dir: journal_dir.to_path_buf(),
            changes: Vec::new(),
            staged: Vec::new(),
            durable: Vec::new(),
            finished: false,
        }
    }

    /// Removes every staged file and kept old content.
    fn cleanup(&self) {
        for s in &self.staged {
            let _ = fs::remove_file(&s.tmp);
            if s.backed_up {
                let _ = fs::remove_file(&s.old);
            }
        }
    }

    /// Stages `c` beside its target. When it cannot be, nothing of the transaction stays.
    pub fn stage(&mut self, c: Change<'a>) -> Result<(), Diagnostics> {
        let result = (|| -> std::io::Result<(Staged, fs::File)> {
            let real = resolved(&c.full)?;
            let meta = fs::metadata(&real).ok();
            let (tmp, old) = side_names(&real);
            let _ = fs::remove_file(&tmp);
            let f = stage(&tmp, c.content, c.mode, meta.as_ref())?;
            Ok((
                Staged {
                    in_place: meta.as_ref().is_some_and(|m| m.is_file() && m.nlink() > 1),
                    existed: meta.is_some(),
                    real,
                    tmp,
                    old,
                    backed_up: false,
                },
                f,
            ))
        })();
        match result {
            Ok((s, f)) => {
                if c.durable {
                    self.durable.push((self.changes.len(), f));
                }
                self.staged.push(s);
                self.changes.push(c);
                Ok(())
            }
            Err(e) => {
                let (tmp, _) = side_names(&c.full);
                let _ = fs::remove_file(tmp);
                self.cleanup();
                self.finished = true;
                Err(failed(&c, &plain(&e)))
            }
        }
    }

    /// Puts every staged change in place, or none.
    pub fn commit(mut self) -> Result<(), Diagnostics> {
        self.finished = true;
        let result = self.put_all();
        if result.is_err() {
            self.cleanup();
        }
        result
    }

    fn put_all(&mut self) -> Result<(), Diagnostics> {
        let (changes, staged) = (&self.changes, &mut self.staged);
        if changes.is_empty() {
            return Ok(());
        }
        // Every staged document is on disk before the first target is touched.
        let (which, durable): (Vec<usize>, Vec<fs::File>) =
            std::mem::take(&mut self.durable).into_iter().unzip();
        if let Some((k, e)) = sync_data_all(&durable).map(|(k, e)| (which[k], e)) {
            return Err(failed(&changes[k], &plain(&e)));
        }
        drop(durable);
        // The old contents, kept until every target is replaced.
        for (c, s) in changes.iter().zip(staged.iter_mut()) {
            if !s.existed {
                continue;
            }
            let _ = fs::remove_file(&s.old);
            let kept = if s.in_place {
                fs::copy(&s.real, &s.old).map(|_| ())
            } else {
                hard_link(&s.real, &s.old).or_else(|e| match e.kind() {
                    ErrorKind::NotFound => Err(e),
                    // No hard links here (or not across this folder): a copy keeps it as well.
                    _ => fs::copy(&s.real, &s.old).map(|_| ()),
                })
            };
            match kept {
                Ok(()) => s.backed_up = true,
                Err(e) if e.kind() == ErrorKind::NotFound => s.existed = false,
                Err(e) => return Err(failed(c, &plain(&e))),
            }
        }
        let journal = self.journal_dir.join(JOURNAL);
        // One rename needs no journal (it happens or not); several do, and so does a write
        // in place (a run killed during it leaves the target half-written).
        let journaled = changes.len() > 1 || staged.iter().any(|s| s.in_place);
        if journaled {
            // One writer at a time: another tangle's journal is not written over.
            let other = fs::read_to_string(&journal)
                .ok()
                .and_then(|t| parse_journal(&t))
                .map(|(pid, _)| pid)
                .filter(|&pid| running(pid));
            if let Some(pid) = other {
                return Err(Diagnostics::from(Diagnostic::error(
                    Pos::new(JOURNAL, 1, 1),
                    format!(
                        "another tangle (process {pid}) is writing in this project; nothing was \
                         written: run the command again once it is done"
                    ),
                )));
            }
            if let Err(e) = write_journal(&journal, changes, staged) {
                return Err(Diagnostics::from(Diagnostic::error(
                    Pos::new(JOURNAL, 1, 1),
                    format!("cannot write the journal: {}", plain(&e)),
                )));
            }
        }
        pause("before-commit");
        let mut done: Vec<usize> = Vec::with_capacity(changes.len());
        for (k, (c, s)) in changes.iter().zip(staged.iter()).enumerate() {
            let result = match still_holds(&s.real, c.expect) {
                Err(why) => Err(Diagnostics::from(Diagnostic::error(
                    Pos::new(&c.rel, 1, 1),
                    format!(
                        "`{}` changed while tangle was writing ({why}); it was left as it is, \
                         and nothing was written: run the command again",
                        c.rel.display()
                    ),
                ))),
                Ok(()) => put(s, c.mode).map_err(|e| failed(c, &plain(&e))),
            };
            if let Err(e) = result {
                for &j in done.iter().rev() {
                    put_back(&staged[j]);
                }
                if journaled {
                    // Undone: nothing for the next command to replay (the staged files left,
                    // should this process die now, are swept as any killed run's).
                    let _ = fs::remove_file(&journal);
                }
                return Err(e);
            }
            done.push(k);
            if k == 0 {
                pause("after-first-rename");
            }
        }
        // The renames of documents reach the disk too (their folders' entries).
        let mut folders: Vec<&Path> = changes
            .iter()
            .zip(staged.iter())
            .filter(|(c, s)| c.durable && !s.in_place)
            .filter_map(|(_, s)| s.real.parent())
            .collect();
        folders.sort();
        folders.dedup();
        for dir in folders {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            if let Ok(d) = fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        // Done: the journal goes first, then the old contents (a run killed in between
        // leaves only files to sweep).
        if journaled {
            let _ = fs::remove_file(&journal);
        }
        for s in staged.iter() {
            if s.backed_up {
                let _ = fs::remove_file(&s.old);
            }
        }
        Ok(())
    }
}

/// Whether the file at `path` still holds what was read; if not, how it changed.
fn still_holds(path: &Path, expect: Expect) -> Result<(), String> {
    match (expect, Stat::read(path)) {
        (Expect::Absent, Ok(None)) => Ok(()),
        (Expect::Absent, _) => Err("a file appeared there".into()),
        (Expect::Holds(_), Ok(None)) => Err("it was removed".into()),
        (Expect::Holds(want), Ok(Some((stat, bytes))))
            if stat == want.stat && content_hash(&bytes) == want.hash =>
        {
            Ok(())
        }
        (Expect::Holds(_), Ok(Some(_))) => Err("saved since it was read".into()),
        (Expect::Holds(_), Err(e)) => Err(plain(&e)),
    }
}

/// Replaces the target of `s` with its staged content (with `mode`).
fn put(s: &Staged, mode: u32) -> std::io::Result<()> {
    if s.in_place {
        let bytes = fs::read(&s.tmp)?;
        write_in_place(&s.real, &bytes)?;
        fs::set_permissions(&s.real, fs::Permissions::from_mode(mode))?;
        fs::remove_file(&s.tmp)
    } else {
        fs::rename(&s.tmp, &s.real)
    }
}

/// Writes `bytes` into the existing file `path` (every hard link to it sees them), keeping
/// its mode.
fn write_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mode = fs::metadata(path)?.permissions().mode();
    let writable = mode & 0o200 != 0;
    if !writable {
        fs::set_permissions(path, fs::Permissions::from_mode(mode | 0o200))?;
    }
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path)?;
        f.write_all(bytes)?;
        f.sync_data()
    })();
    if !writable {
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
    }
    result
}

/// Undoes a replacement: the old content back (or the new file gone).
fn put_back(s: &Staged) {
    match (s.backed_up, s.in_place) {
        (true, true) => {
            if let Ok(bytes) = fs::read(&s.old) {
                let _ = write_in_place(&s.real, &bytes);
            }
        }
        (true, false) => {
            let _ = fs::rename(&s.old, &s.real);
        }
        (false, _) => {
            let _ = fs::remove_file(&s.real);
        }
    }
}

/// Writes `content` with `mode` to the new file `tmp`, making missing folders, with the owner
/// of the file it replaces (`old`) where the system allows. Written, not yet synced.
fn stage(
    tmp: &Path,
    content: &[u8],
    mode: u32,
    old: Option<&fs::Metadata>,
) -> std::io::Result<fs::File> {
    if let Some(dir) = tmp.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    f.write_all(content)?;
    if let Some(old) = old {
        let mine = f.metadata()?;
        if (mine.uid(), mine.gid()) != (old.uid(), old.gid()) {
            // Only the superuser may give a file away; others keep what they can (the group,
            // when they belong to it).
            let _ = std::os::unix::fs::fchown(&f, Some(old.uid()), Some(old.gid()))
                .or_else(|_| std::os::unix::fs::fchown(&f, None, Some(old.gid())));
        }
    }
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

/// The journal: one line per change (tab-separated): how it replaces its target (`rename` or
/// `in-place`), the target, the staged file, the old content's copy (or `-`), the new
/// content's length, the old content's hash (or `-` for a new file), the name shown. A staged
/// file is gone once its target is replaced (renamed, or copied in place and removed).
fn write_journal(path: &Path, changes: &[Change<'_>], staged: &[Staged]) -> std::io::Result<()> {
    let cwd = std::env::current_dir()?;
    let mut text = format!("tangle journal\tpid {}\n", std::process::id());
    for (c, s) in changes.iter().zip(staged) {
        let old_hash = match c.expect {
            Expect::Holds(seen) if s.existed => format!("{:016x}", seen.hash),
            _ => "-".into(),
        };
        let old = if s.backed_up {
            cwd.join(&s.old).display().to_string()
        } else {
            "-".into()
        };
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
            if s.in_place { "in-place" } else { "rename" },
            cwd.join(&s.real).display(),
            cwd.join(&s.tmp).display(),
            old,
            c.content.len(),
            old_hash,
            c.rel.display()
        ));
    }
    let (tmp, _) = side_names(path);
    let mut f = fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    if changes.iter().any(|c| c.durable) {
        f.sync_data()?;
    }
    fs::rename(&tmp, path)
}

/// One line of a journal.
struct Entry {
    in_place: bool,
    target: PathBuf,
    tmp: PathBuf,
    old: Option<PathBuf>,
    new_len: u64,
    old_hash: Option<u64>,
    shown: String,
}

fn parse_journal(text: &str) -> Option<(u32, Vec<Entry>)> {
    let mut lines = text.lines();
    let pid = lines
        .next()?
        .strip_prefix("tangle journal\tpid ")?
        .parse()
        .ok()?;
    let mut entries = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let [how, target, tmp, old, new_len, old_hash, shown] = f.as_slice() else {
            return None;
        };
        entries.push(Entry {
            in_place: *how == "in-place",
            target: target.into(),
            tmp: tmp.into(),
            old: (*old != "-").then(|| PathBuf::from(old)),
            new_len: new_len.parse().ok()?,
            old_hash: match *old_hash {
                "-" => None,
                h => Some(u64::from_str_radix(h, 16).ok()?),
            },
            shown: shown.to_string(),
        });
    }
    Some((pid, entries))
}

/// Whether process `pid` is a running tangle (other than this one).
fn running(pid: u32) -> bool {
    pid != std::process::id()
        && fs::read_to_string(format!("/proc/{pid}/comm"))
            .is_ok_and(|comm| comm.trim_end().starts_with("tangle"))
}

/// The hash of what `path` holds (`None`: no file).
fn hash_of(path: &Path) -> Option<u64> {
    fs::read(path).ok().map(|b| content_hash(&b))
}

/// Finishes or undoes the writes of a run that was killed half-way (its journal in
/// `journal_dir`), then removes the temporary files that killed runs left in `folders`.
/// Returns what it did, in words, for the user.
pub fn recover(journal_dir: &Path, folders: &[PathBuf]) -> Vec<String> {
    let mut said = Vec::new();
    let journal = journal_dir.join(JOURNAL);
    if let Ok(text) = fs::read_to_string(&journal) {
        match parse_journal(&text) {
            Some((pid, _)) if running(pid) => {}
            Some((pid, entries)) => {
                said.extend(replay(pid, &entries));
                let _ = fs::remove_file(&journal);
            }
            None => {
                said.push(format!(
                    "{JOURNAL} could not be read; it was removed (no change it named was made)"
                ));
                let _ = fs::remove_file(&journal);
            }
        }
    }
    let mut folders: Vec<PathBuf> = folders.to_vec();
    folders.push(journal_dir.to_path_buf());
    folders.sort();
    folders.dedup();
    let mut swept = 0;
    for dir in folders {
        let Ok(list) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in list.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Some(pid) = leftover_pid(&name) else {
                continue;
            };
            if pid != std::process::id() && !running(pid) && fs::remove_file(entry.path()).is_ok() {
                swept += 1;
            }
        }
    }
    if swept > 0 {
        said.push(format!(
            "removed {swept} temporary file(s) left by an interrupted run"
        ));
    }
    said
}

/// The process that left temporary file `name` (`.NAME.tangle-PID.tmp` or `.old`), if it is one.
fn leftover_pid(name: &str) -> Option<u32> {
    let rest = name
        .strip_suffix(".tmp")
        .or_else(|| name.strip_suffix(".old"))?;
    if !name.starts_with('.') {
        return None;
    }
    let (_, pid) = rest.rsplit_once(".tangle-")?;
    pid.parse().ok()
}

/// Where a journal's change stands after its run was killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Its staged file whole, its target untouched (or half-written in place): it can be made.
    Pending,
    /// Its staged file gone, its target no longer the old: made.
    Made,
    /// Neither: its staged file lost, or its target saved since (by someone else).
    Lost,
}

fn state(e: &Entry) -> State {
    let tmp_whole = fs::metadata(&e.tmp).is_ok_and(|m| m.len() == e.new_len);
    let target = hash_of(&e.target);
    let untouched = target == e.old_hash;
    match (fs::symlink_metadata(&e.tmp).is_ok(), untouched) {
        (true, true) if tmp_whole => State::Pending,
        // Killed while writing it in place: the staged file still says what it must hold.
        (true, false) if tmp_whole && e.in_place => State::Pending,
        (false, false) if target.is_some() => State::Made,
        _ => State::Lost,
    }
}

/// Rolls a journal's changes forward when every one of them can be made (made already, or
/// its staged content whole and its target untouched); else back (each made one gets its
/// old content again). A target saved since the run is left as it is, its old content kept.
fn replay(pid: u32, entries: &[Entry]) -> Vec<String> {
    let states: Vec<State> = entries.iter().map(state).collect();
    let forward = states.iter().all(|s| *s != State::Lost);
    let mut made = Vec::new();
    let mut undone = Vec::new();
    let mut left = Vec::new();
    for (e, &st) in entries.iter().zip(&states) {
        // Whether the target is left as it is, its old content kept beside it.
        let mut keep_old = false;
        match (forward, st) {
            (true, State::Pending) => {
                let ok = if e.in_place {
                    fs::read(&e.tmp).and_then(|b| write_in_place(&e.target, &b))
                } else {
                    fs::rename(&e.tmp, &e.target)
                };
                match ok {
                    Ok(()) => made.push(e.shown.clone()),
                    Err(_) => keep_old = true,
                }
            }
            (false, State::Made) => {
                let ok = match (&e.old, e.in_place) {
                    (Some(old), true) => fs::read(old).and_then(|b| write_in_place(&e.target, &b)),
                    (Some(old), false) => fs::rename(old, &e.target),
                    (None, _) => fs::remove_file(&e.target),
                };
                match ok {
                    Ok(()) => undone.push(e.shown.clone()),
                    Err(_) => keep_old = true,
                }
            }
            (false, State::Lost) if hash_of(&e.target) != e.old_hash => keep_old = true,
            _ => {}
        }
        let _ = fs::remove_file(&e.tmp);
        if keep_old && e.old.is_some() {
            left.push(e.shown.clone());
        } else if let Some(old) = &e.old {
            let _ = fs::remove_file(old);
        }
    }
    let mut said = Vec::new();
    if forward {
        said.push(format!(
            "recovered an interrupted run (process {pid}): finished writing {}",
            if made.is_empty() {
                "nothing (it was done)".to_string()
            } else {
                made.join(", ")
            }
        ));
    } else {
        said.push(format!(
            "recovered an interrupted run (process {pid}): its changes were undone{}",
            if undone.is_empty() {
                String::new()
            } else {
                format!(" ({} put back as they were)", undone.join(", "))
            }
        ));
    }
    if !left.is_empty() {
        said.push(format!(
            "{} changed since that run and were left as they are (their old content is kept \
             beside them as .NAME.tangle-{pid}.old)",
            left.join(", ")
        ));
    }
    said
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tangle-commit-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn change<'a>(dir: &Path, rel: &str, content: &'a [u8]) -> Change<'a> {
        let full = dir.join(rel);
        let expect = match Seen::read(&full).unwrap() {
            Some((seen, _)) => Expect::Holds(seen),
            None => Expect::Absent,
        };
        Change {
            rel: rel.into(),
            full,
            content,
            mode: 0o644,
            blame: Pos::new("a.md", 1, 1),
            durable: true,
            expect,
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut left: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        left
    }

    #[test]
    fn a_failed_rename_puts_back_what_was_replaced() {
        let dir = scratch("rollback");
        fs::write(dir.join("a.rs"), "old a\n").unwrap();
        // The second target is a folder: staging works, the rename over it fails.
        fs::create_dir_all(dir.join("b.rs/inside")).unwrap();
        let mut changes = vec![
            change(&dir, "a.rs", b"new a\n"),
            change(&dir, "new.rs", b"new file\n"),
        ];
        let mut b = change(&dir, "new.rs", b"new b\n");
        b.rel = "b.rs".into();
        b.full = dir.join("b.rs");
        b.expect = Expect::Holds(Seen {
            stat: Stat::of(&fs::metadata(dir.join("b.rs")).unwrap()),
            hash: content_hash(b""),
        });
        changes.push(b);
        let err = commit(&dir, &changes).unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert!(err.0[0].message.contains("`b.rs`"), "{err}");
        assert_eq!(fs::read_to_string(dir.join("a.rs")).unwrap(), "old a\n");
        assert!(!dir.join("new.rs").exists(), "a new file must go again");
        assert_eq!(
            names(&dir),
            ["a.rs", "b.rs"],
            "no temporary file stays behind"
        );
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
        assert!(commit(&dir, &changes).is_err());
        assert_eq!(fs::read_to_string(dir.join("a.rs")).unwrap(), "old a\n");
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_saved_after_it_was_read_is_not_replaced() {
        let dir = scratch("saved");
        fs::write(dir.join("a.md"), "old a\n").unwrap();
        fs::write(dir.join("b.md"), "old b\n").unwrap();
        let changes = [
            change(&dir, "a.md", b"new a\n"),
            change(&dir, "b.md", b"new b\n"),
        ];
        // Saved after the command read it: the same size, so only the hash (or time) tells.
        fs::write(dir.join("b.md"), "mine b\n").unwrap();
        let err = commit(&dir, &changes).unwrap_err().to_string();
        assert!(
            err.contains("`b.md` changed while tangle was writing"),
            "{err}"
        );
        assert_eq!(fs::read_to_string(dir.join("a.md")).unwrap(), "old a\n");
        assert_eq!(fs::read_to_string(dir.join("b.md")).unwrap(), "mine b\n");
        assert_eq!(names(&dir), ["a.md", "b.md"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn links_are_written_through_and_kept() {
        let dir = scratch("links");
        fs::write(dir.join("real.md"), "old\n").unwrap();
        std::os::unix::fs::symlink("real.md", dir.join("link.md")).unwrap();
        fs::write(dir.join("hard.md"), "old hard\n").unwrap();
        fs::hard_link(dir.join("hard.md"), dir.join("other-name.md")).unwrap();
        let changes = [
            change(&dir, "link.md", b"new\n"),
            change(&dir, "hard.md", b"new hard\n"),
        ];
        commit(&dir, &changes).unwrap();
        assert!(fs::symlink_metadata(dir.join("link.md"))
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_to_string(dir.join("real.md")).unwrap(), "new\n");
        assert_eq!(
            fs::read_to_string(dir.join("other-name.md")).unwrap(),
            "new hard\n",
            "the other hard link sees the new content"
        );
        assert_eq!(
            names(&dir),
            ["hard.md", "link.md", "other-name.md", "real.md"]
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_journal_of_a_killed_run_is_rolled_forward_or_back() {
        let dir = scratch("journal");
        fs::write(dir.join("a.md"), "old a\n").unwrap();
        fs::write(dir.join("b.md"), "old b\n").unwrap();
        // A run that replaced a.md and died before b.md: its journal, staged file and backup.
        let entry = |name: &str, old: &str, new: &str| Entry {
            in_place: false,
            target: dir.join(name),
            tmp: dir.join(format!(".{name}.tangle-999999.tmp")),
            old: Some(dir.join(format!(".{name}.tangle-999999.old"))),
            new_len: new.len() as u64,
            old_hash: Some(content_hash(old.as_bytes())),
            shown: name.into(),
        };
        let entries = [
            entry("a.md", "old a\n", "new a\n"),
            entry("b.md", "old b\n", "new b\n"),
        ];
        fs::hard_link(dir.join("a.md"), entries[0].old.as_ref().unwrap()).unwrap();
        fs::remove_file(dir.join("a.md")).unwrap();
        fs::write(dir.join("a.md"), "new a\n").unwrap();
        fs::write(&entries[1].tmp, "new b\n").unwrap();
        let said = replay(999_999, &entries);
        assert!(said[0].contains("finished writing b.md"), "{said:?}");
        assert_eq!(fs::read_to_string(dir.join("b.md")).unwrap(), "new b\n");
        assert_eq!(names(&dir), ["a.md", "b.md"]);
        // The staged file lost (say, half-written): the replaced one is put back.
        fs::write(dir.join("a.md"), "old a\n").unwrap();
        fs::write(dir.join("b.md"), "old b\n").unwrap();
        fs::hard_link(dir.join("a.md"), entries[0].old.as_ref().unwrap()).unwrap();
        fs::remove_file(dir.join("a.md")).unwrap();
        fs::write(dir.join("a.md"), "new a\n").unwrap();
        fs::write(&entries[1].tmp, "new").unwrap();
        let said = replay(999_999, &entries);
        assert!(said[0].contains("undone (a.md put back"), "{said:?}");
        assert_eq!(fs::read_to_string(dir.join("a.md")).unwrap(), "old a\n");
        assert_eq!(fs::read_to_string(dir.join("b.md")).unwrap(), "old b\n");
        assert_eq!(names(&dir), ["a.md", "b.md"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn leftover_names_are_recognised() {
        assert_eq!(leftover_pid(".c1.md.tangle-123.tmp"), Some(123));
        assert_eq!(leftover_pid(".main.rs.tangle-9.old"), Some(9));
        assert_eq!(leftover_pid("main.rs.tangle-9.old"), None);
        assert_eq!(leftover_pid(".notes.tmp"), None);
    }
}
