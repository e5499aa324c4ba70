//! What the tangler's tests share (`mod support;` in a test file). Kept small and stable:
//!
//! - [`Scratch`]: a scratch folder, removed when dropped (also when the test fails);
//!   [`Scratch::new`] under cargo's target folder, [`Scratch::outside`] in the system's
//!   temporary folder, for a test that must find no `book.toml` above it.
//! - [`tangle`] runs the `tangle` binary in a folder ([`tangle_command`] to set more up);
//!   [`ok`] and [`failed`] assert how it ended and give its standard output or error;
//!   [`text`] reads bytes as text.
//! - [`wait_until`]: polls a condition until it holds or a deadline passes, instead of sleeping.
//! - [`copy_tree`]: copies a folder.
//! - [`Rng`]: one small seeded generator, so a failure is reproducible by its seed.
#![allow(dead_code)]

use std::fs;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The `tangle` binary cargo built for these tests.
pub const TANGLE: &str = env!("CARGO_BIN_EXE_tangle");

/// A scratch folder, empty when made, removed with everything in it when dropped.
#[derive(Debug)]
pub struct Scratch(PathBuf);

impl Scratch {
    /// A new folder named after `tag` under cargo's temporary folder for tests (inside the
    /// target folder: nothing is left in the system's temporary folder).
    pub fn new(tag: &str) -> Scratch {
        Scratch::under(Path::new(env!("CARGO_TARGET_TMPDIR")), tag)
    }

    /// A new folder in the system's temporary folder, for a test that must not find this
    /// repository's `book.toml` above it. Removed when dropped, like any other.
    pub fn outside(tag: &str) -> Scratch {
        Scratch::under(&std::env::temp_dir(), tag)
    }

    fn under(base: &Path, tag: &str) -> Scratch {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("tangle-test-{}-{n}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `rel`, making its folders (and the file writable, as an editor
    /// would, when a tangle left it read-only).
    pub fn write(&self, rel: impl AsRef<Path>, text: impl AsRef<[u8]>) -> &Scratch {
        use std::os::unix::fs::PermissionsExt;
        let path = self.0.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).unwrap();
        }
        if let Ok(meta) = fs::metadata(&path) {
            let mode = meta.permissions().mode() | 0o200;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        }
        fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self
    }

    /// Replaces the first `from` by `to` in `rel`, as an editor would.
    pub fn edit(&self, rel: impl AsRef<Path>, from: &str, to: &str) {
        let rel = rel.as_ref();
        let old = self.read(rel);
        assert!(
            old.contains(from),
            "{} lacks {from:?}:\n{old}",
            rel.display()
        );
        self.write(rel, old.replacen(from, to, 1));
    }

    /// The text of `rel`.
    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        let path = self.0.join(rel);
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Runs `tangle ARGS` in the folder.
    pub fn tangle(&self, args: &[&str]) -> Output {
        tangle(&self.0, args)
    }
}

impl Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Outputs are read-only after a tangle: make every folder writable again first.
        make_writable(&self.0);
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn make_writable(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            make_writable(&e.path());
        }
    }
}

/// `tangle` in `dir`, not run yet.
pub fn tangle_command(dir: &Path) -> Command {
    let mut c = Command::new(TANGLE);
    c.current_dir(dir);
    c
}

/// Runs `tangle ARGS` in `dir` and waits for it.
pub fn tangle(dir: &Path, args: &[&str]) -> Output {
    tangle_command(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {TANGLE}: {e}"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the run succeeded; its standard output.
#[track_caller]
pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "tangle failed ({}):\n{}",
        out.status,
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Asserts the run failed; its standard error.
#[track_caller]
pub fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "tangle succeeded but should have failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

/// Polls `done` every 20 ms until it holds (true) or `deadline` has passed (false).
pub fn wait_until(deadline: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Copies the folder `from` to `to` (made if missing), files and folders.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A small seeded generator (xorshift64*), so a failure is reproducible by its seed.
/// `Rng(state)` starts from a state as it is (not zero); [`Rng::new`] from any seed.
pub struct Rng(pub u64);

impl Rng {
    /// Any seed, zero included, gives a good stream.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability 1/`n`.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// An executable among `names`, looked for on PATH, then in cargo's bin folders.
pub fn find_in_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    names
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
}

/// A required external tool: `$VAR` or the first of `names` found; panics with how to get it.
pub fn tool(var: &str, names: &[&str], hint: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var) {
        return PathBuf::from(p);
    }
    find_in_path(names).unwrap_or_else(|| {
        panic!(
            "this test needs `{}` and did not find it on PATH (or set ${var}): {hint}",
            names[0]
        )
    })
}
