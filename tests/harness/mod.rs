//! The one harness of the server's tests and benches: a child server (or any binary that
//! prints `listening on ADDR` first) and what is read of it in `/proc`, waiting with a
//! deadline instead of sleeping, frames as the original client writes them, and the Python
//! scripts the interop tests run. `tests/common/mod.rs` and `benches/common/mod.rs` include
//! this file with `#[path]` (neither tests nor benches can depend on a crate of their own
//! package), so both start and watch servers the same way.
// Each includer uses most of this module, not all of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// A child server process, killed when dropped.
pub struct Spawned {
    pub child: Child,
    /// Where it said it listens.
    pub addr: SocketAddr,
}

impl Spawned {
    /// Starts `cmd`, a server that prints `listening on ADDR` as its first line (its stdin
    /// from nothing, its stdout read here; its stderr as `cmd` says, inherited by default).
    pub fn start(cmd: &mut Command) -> Spawned {
        match Self::start_taking(cmd, |_| ()) {
            Ok((spawned, ())) => spawned,
            Err((line, ())) => panic!("no listening line, got {line:?}"),
        }
    }

    /// As [`Spawned::start`], with `take` given the child first (to take its stderr, say).
    /// When no listening line comes, the child is killed and the line that came instead is
    /// returned with what `take` took.
    pub fn start_taking<T>(
        cmd: &mut Command,
        take: impl FnOnce(&mut Child) -> T,
    ) -> Result<(Spawned, T), (String, T)> {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the server");
        let taken = take(&mut child);
        let mut line = String::new();
        let _ = BufReader::new(child.stdout.take().expect("stdout piped")).read_line(&mut line);
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok());
        match addr {
            Some(addr) => Ok((Spawned { child, addr }, taken)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err((line, taken))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A field of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM`).
    pub fn status_kib(&self, field: &str) -> u64 {
        status_kib(self.pid(), field)
    }

    /// Resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS")
    }

    /// Peak resident memory so far, in KiB.
    pub fn peak_kib(&self) -> u64 {
        self.status_kib("VmHWM")
    }

    /// How many file descriptors the server holds open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid())).map_or(0, |dir| dir.count())
    }

    /// Waits, at most `within`, until the server holds `fds` descriptors or more: with several
    /// event loops, each accepts from its own queue, so an answer on one connection says
    /// nothing of the others; a descriptor is what an accepted connection certainly is.
    pub fn wait_fds(&self, fds: usize, within: Duration) -> bool {
        wait_until(within, || self.open_fds() >= fds)
    }

    /// Sends `signal` to the server (and to nothing else: the pid is our own child's, not yet
    /// waited for).
    pub fn signal(&mut self, signal: i32) {
        if self.exited().is_some() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill({signal}) failed");
    }

    /// The exit status, if the server has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// Waits, at most `within`, for the server to exit: its status and when it came.
    pub fn wait_exit(&mut self, within: Duration) -> Option<(ExitStatus, Instant)> {
        let mut status = None;
        wait_until(within, || {
            status = self.exited().map(|s| (s, Instant::now()));
            status.is_some()
        });
        status
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of `/proc/PID/status` in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// A scratch folder under cargo's temporary folder for tests and benches (never the system's),
/// removed with everything in it when dropped, also when the test fails.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("scratch-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `content` to `name` in the folder; its path.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, content).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Polls `done` every 5 ms until it holds or `within` has passed; whether it held. The one way
/// the tests and benches wait for something to happen: never a fixed sleep.
pub fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// One frame: protoheader, header, content.
pub fn frame(header: &str, content: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(content);
    out
}

/// A JSON header as the original client writes it, with `extra` (`, "keep-alive": true`, say)
/// before its closing brace.
pub fn header(content_type: &str, encoding: &str, len: usize, extra: &str) -> String {
    format!(
        "{{\"byteorder\": \"little\", \"content-type\": \"{content_type}\", \
         \"content-encoding\": \"{encoding}\", \"content-length\": {len}{extra}}}"
    )
}

/// The test scripts in `tests/`, run with `python3` (`script ARGS`): its output, or `None`
/// when there is no python3.
pub fn python(script: &str, args: &[&str]) -> Option<Output> {
    python_command(script, args).map(|mut cmd| cmd.output().expect("run python3"))
}

/// As [`python`], started with its stdout and stderr piped, for a test to read as it runs.
pub fn python_child(script: &str, args: &[&str]) -> Option<Child> {
    python_command(script, args).map(|mut cmd| {
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run python3")
    })
}

fn python_command(script: &str, args: &[&str]) -> Option<Command> {
    let found = Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match found {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run python3: {e}"),
        Ok(_) => {}
    }
    let mut cmd = Command::new("python3");
    cmd.arg(format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .stdin(Stdio::null());
    Some(cmd)
}

/// The requests the Real Python guide's app-client makes in the byte-for-byte tests
/// (`tests/interop.rs` against the server, `tests/port.rs` against the port): a search that
/// matches, one that does not, emoji, quotes and escapes `json.dumps` makes (`\"`, `\\`,
/// `\t`, `\u0001`) and characters it leaves alone (DEL, U+2028, é), an empty value, binary
/// content cut in the middle of a character, an unknown action.
pub const APP_CLIENT_CASES: &[[&str; 2]] = &[
    ["search", "morpheus"],
    ["search", "ring"],
    ["search", "\u{1f436}"],
    ["search", "Morpheus"],
    ["search", ""],
    ["search", "it's \"quoted\" \\ back\tslash \u{1}"],
    ["search", "\u{7f}\u{2028}\u{e9}"],
    ["find", "ring"],
    ["it's", "\"q\""],
    ["zz", "\u{1f430}\u{1f430}\u{1f430}"],
];
