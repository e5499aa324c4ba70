//! What the port chapter (`docs/port.md`) and the introduction show, checked: rustc's output
//! for the borrowing example, the experiments applied to a copy of the port as the chapter
//! writes them, and the guide's app-client transcript against the server. Each block is found
//! by the `<!-- check: ... -->` line above it; a mismatch names the chapter line.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The fenced block right after the line `<!-- check: NAME -->` of `chapter`: its first line's
/// number (1-based) and its text.
fn checked_block(chapter: &str, name: &str) -> (String, String) {
    let path = Path::new(ROOT).join(chapter);
    let text = std::fs::read_to_string(&path).unwrap();
    let marker = format!("<!-- check: {name} -->");
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|line| line.trim() == marker)
        .unwrap_or_else(|| panic!("{chapter}: no `{marker}` line"));
    assert!(
        lines[at + 1].starts_with("```"),
        "{chapter}:{}: a fenced block must follow `{marker}`",
        at + 2
    );
    let body: Vec<&str> = lines[at + 2..]
        .iter()
        .take_while(|line| !line.starts_with("```"))
        .copied()
        .collect();
    (format!("{chapter}:{}", at + 3), body.join("\n") + "\n")
}

/// Fails, when they differ, naming the chapter line (of the block starting at `at`) where
/// they first differ, with both texts.
fn assert_same(at: &str, shown: &str, actual: &str) {
    if shown == actual {
        return;
    }
    let (chapter, first) = at.rsplit_once(':').unwrap();
    let first: usize = first.parse().unwrap();
    let differs = shown
        .lines()
        .zip(actual.lines())
        .take_while(|(a, b)| a == b)
        .count();
    panic!(
        "{chapter}:{}: the chapter's block differs from what actually happens.\n--- the chapter shows:\n{shown}--- actual:\n{actual}",
        first + differs
    );
}

#[test]
fn rustc_refuses_the_borrowing_example_as_the_chapter_shows() {
    let (at, source) = checked_block("docs/port.md", "rustc borrow.rs");
    let (out_at, shown) = checked_block("docs/port.md", "rustc output");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("borrow-example");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("borrow.rs"), source).unwrap();
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "--crate-type",
            "lib",
            "--emit=metadata",
        ])
        .args(["-A", "warnings", "--color", "never", "borrow.rs"])
        .args(["-o", "borrow.rmeta"])
        .current_dir(&dir)
        .output()
        .expect("run rustc");
    assert!(!out.status.success(), "{at}: the example compiles");
    assert_same(&out_at, &shown, &String::from_utf8_lossy(&out.stderr));
}

/// The port with the chapter's experiment `name` applied (its `-` lines replaced by its `+`
/// lines), built in a package of its own; the path of its binary.
fn port_variant(name: &str) -> PathBuf {
    let (at, diff) = checked_block("docs/port.md", &format!("experiment {name}"));
    let pick = |sign: char| -> String {
        diff.lines()
            .filter_map(|line| line.strip_prefix(sign))
            .map(|line| format!("{line}\n"))
            .collect()
    };
    let (old, new) = (pick('-'), pick('+'));
    let source = std::fs::read_to_string(Path::new(ROOT).join("src/bin/port.rs")).unwrap();
    assert_eq!(
        source.matches(&old).count(),
        1,
        "{at}: the lines to replace are not in src/bin/port.rs exactly once:\n{old}"
    );
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("port-experiments");
    let package = base.join(name);
    std::fs::create_dir_all(package.join("src")).unwrap();
    std::fs::write(package.join("src/main.rs"), source.replace(&old, &new)).unwrap();
    std::fs::copy(
        Path::new(ROOT).join("Cargo.lock"),
        package.join("Cargo.lock"),
    )
    .unwrap();
    let manifest = std::fs::read_to_string(Path::new(ROOT).join("Cargo.toml")).unwrap();
    let dependency = |crate_name: &str| -> String {
        manifest
            .lines()
            .find(|line| line.starts_with(&format!("{crate_name} = ")))
            .unwrap_or_else(|| panic!("Cargo.toml: no dependency {crate_name}"))
            .to_owned()
    };
    let dependencies: Vec<String> = ["anyhow", "mio", "serde", "serde_json", "slab"]
        .into_iter()
        .map(dependency)
        .collect();
    std::fs::write(
        package.join("Cargo.toml"),
        format!(
            "[package]\nname = \"port-{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[workspace]\n\n[dependencies]\n{}\n",
            dependencies.join("\n")
        ),
    )
    .unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(package.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", base.join("target"))
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "{at}: the port with this change does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    base.join("target/debug").join(format!("port-{name}"))
}

/// A port binary on `127.0.0.1:0`, killed when dropped.
struct Port {
    child: Child,
    port: u16,
    log: Option<std::thread::JoinHandle<String>>,
}

impl Port {
    fn start(binary: &Path) -> Port {
        use std::io::BufRead;
        let mut child = Command::new(binary)
            .args(["127.0.0.1", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the port");
        let mut stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            let mut log = String::new();
            let _ = stderr.read_to_string(&mut log);
            log
        });
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on 127.0.0.1:")
            .unwrap_or_else(|| panic!("no listening line: {line:?}"))
            .parse()
            .unwrap();
        Port {
            child,
            port,
            log: Some(log),
        }
    }

    fn connect(&self) -> TcpStream {
        TcpStream::connect(("127.0.0.1", self.port)).unwrap()
    }

    /// Ends the port; what it wrote on standard error.
    fn log(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.log.take().unwrap().join().unwrap()
    }

    /// SIGSTOP or SIGCONT, then wait until the process is (or is no longer) stopped.
    fn signal(&self, signal: i32) {
        let pid = self.child.id();
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let stopped = signal == libc::SIGSTOP;
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
            let state = stat.rsplit(") ").next().unwrap().chars().next().unwrap();
            if (state == 'T') == stopped {
                return;
            }
            assert!(Instant::now() < deadline, "the port's state stays {state}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A binary request of `len` bytes of `x`, framed.
fn binary_request(len: usize) -> Vec<u8> {
    let header = format!(
        r#"{{"byteorder": "little", "content-type": "binary/x", "content-encoding": "binary", "content-length": {len}}}"#
    );
    let mut out = (header.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.resize(out.len() + len, b'x');
    out
}

const ANSWER: &[u8] = b"First 10 bytes of request: xxxxxxxxxx";

/// The reply up to the port's close, within `wait`; `None` when none came in that time.
fn reply_within(sock: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    sock.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    match sock.read_to_end(&mut got) {
        Ok(_) => Some(got),
        Err(e)
            if got.is_empty()
                && matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
        {
            None
        }
        Err(e) => panic!("after {} bytes: {e}", got.len()),
    }
}

/// The experiments build one after another (they share a target directory).
fn build_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: OnceLock<std::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

const ANSWERED: Duration = Duration::from_secs(10);
const NOT_ANSWERED: Duration = Duration::from_secs(1);

#[test]
fn one_recv_per_event_answers_100_bytes_and_never_900_kb() {
    let binary = {
        let _lock = build_lock();
        port_variant("one-recv")
    };
    let port = Port::start(&binary);
    let mut small = port.connect();
    small.write_all(&binary_request(100)).unwrap();
    let reply = reply_within(&mut small, ANSWERED).expect("the 100-byte request is answered");
    assert!(reply.ends_with(ANSWER));

    let mut big = port.connect();
    big.set_write_timeout(Some(NOT_ANSWERED)).unwrap();
    // The port stops reading: the write may stop half-way, which is the point.
    let _ = big.write_all(&binary_request(900 * 1024));
    assert_eq!(
        reply_within(&mut big, NOT_ANSWERED),
        None,
        "900 KB answered"
    );

    // Meanwhile, other clients are served.
    let mut other = port.connect();
    other.write_all(&binary_request(100)).unwrap();
    assert!(reply_within(&mut other, ANSWERED).is_some());

    // The log: three connections accepted, two requests received.
    let log = port.log();
    assert_eq!(
        log.matches("accepted connection from 127.0.0.1:").count(),
        3,
        "{log}"
    );
    assert_eq!(log.matches("received binary/x request").count(), 2, "{log}");
}

#[test]
fn accepting_once_per_event_leaves_queued_clients_waiting() {
    let binary = {
        let _lock = build_lock();
        port_variant("accept-once")
    };
    let port = Port::start(&binary);
    port.signal(libc::SIGSTOP);
    let mut clients: Vec<TcpStream> = (0..3).map(|_| port.connect()).collect();
    for client in &mut clients {
        client.write_all(&binary_request(100)).unwrap();
    }
    port.signal(libc::SIGCONT);
    assert!(
        reply_within(&mut clients[0], ANSWERED).is_some(),
        "the first"
    );
    assert_eq!(reply_within(&mut clients[1], NOT_ANSWERED), None);
    assert_eq!(reply_within(&mut clients[2], NOT_ANSWERED), None);
    // A fourth connection is a new event: one more accept, the next in the queue.
    let _fourth = port.connect();
    assert!(
        reply_within(&mut clients[1], ANSWERED).is_some(),
        "the second"
    );
    assert_eq!(reply_within(&mut clients[2], NOT_ANSWERED), None);
}

#[test]
fn without_switching_to_writing_no_reply_is_sent() {
    let binary = {
        let _lock = build_lock();
        port_variant("never-write")
    };
    let port = Port::start(&binary);
    let mut sock = port.connect();
    sock.write_all(&binary_request(100)).unwrap();
    assert_eq!(reply_within(&mut sock, NOT_ANSWERED), None);
}

/// The lines the `reregister-always` experiment logged for the client at `client`: how many
/// for reading, how many for writing.
fn reregistered(log: &str, client: &TcpStream) -> (usize, usize) {
    let addr = client.local_addr().unwrap();
    let count = |mode: &str| {
        log.matches(&format!("reregistering {addr} for {mode}\n"))
            .count()
    };
    (count("\"r\""), count("\"w\""))
}

#[test]
fn reregistering_after_every_event_changes_nothing_but_the_calls() {
    let binary = {
        let _lock = build_lock();
        port_variant("reregister-always")
    };
    let port = Port::start(&binary);
    // Half a header, then a wait: one event, one call, and no event the call re-armed.
    let request = binary_request(100);
    let mut waiting = port.connect();
    waiting.write_all(&request[..10]).unwrap();
    assert_eq!(reply_within(&mut waiting, NOT_ANSWERED), None);

    let mut small = port.connect();
    small.write_all(&binary_request(100)).unwrap();
    let reply = reply_within(&mut small, ANSWERED).expect("the 100-byte request is answered");
    assert!(reply.ends_with(ANSWER));

    let mut big = port.connect();
    big.write_all(&binary_request(900 * 1024)).unwrap();
    let reply = reply_within(&mut big, ANSWERED).expect("the 900 KB request is answered");
    assert!(reply.ends_with(ANSWER));

    waiting.write_all(&request[10..]).unwrap();
    let reply = reply_within(&mut waiting, ANSWERED).expect("the waiting request is answered");
    assert!(reply.ends_with(ANSWER));

    let log = port.log();
    assert_eq!(reregistered(&log, &waiting), (1, 1), "{log}");
    assert_eq!(reregistered(&log, &small), (0, 1), "{log}");
    // However many events the 900 KB took, one call for writing.
    assert_eq!(reregistered(&log, &big).1, 1, "{log}");
}

/// The guide's app-client against the real server prints what the introduction shows. The
/// block's commands are run with the server's port in place of 2021, and their output read
/// back with 2021 in place of the port.
#[test]
fn the_introductions_app_client_transcript_is_what_the_client_prints() {
    let (at, shown) = checked_block("docs/introduction.md", "app-client transcript");
    let server = common::Server::start(&["-q"]);
    let port = server.port();
    let mut actual = String::new();
    for line in shown.lines().filter(|line| line.starts_with("$ ")) {
        actual.push_str(line);
        actual.push('\n');
        let args: Vec<&str> = line
            .strip_prefix("$ python3 tests/original_app_client.py ")
            .unwrap_or_else(|| panic!("{at}: not a run of the app-client: {line}"))
            .split(' ')
            .map(|arg| if arg == "2021" { port.as_str() } else { arg })
            .collect();
        let script = Path::new(ROOT).join("tests/original_app_client.py");
        let out = match Command::new("python3").arg(script).args(&args).output() {
            Ok(out) => out,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("python3 not found: test skipped");
                return;
            }
            Err(e) => panic!("cannot run python3: {e}"),
        };
        assert!(
            out.status.success(),
            "{at}: {line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout).unwrap();
        actual.push_str(&printed.replace(&format!("('127.0.0.1', {port})"), "('127.0.0.1', 2021)"));
    }
    assert_same(&at, &shown, &actual);
}
