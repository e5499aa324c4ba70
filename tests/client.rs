//! The `client` binary: the original app-client's output, and exit codes that tell.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

fn client(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_client"));
    cmd.args(args)
        .env_remove("SERVER_PASSWORD")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run client")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

#[test]
fn prints_results_like_the_original() {
    let server = Server::start(&["-q"]);
    let port = server.port();
    let cases = [
        (
            "search",
            "morpheus",
            "Got result: Follow the white rabbit. \u{1f430}\n",
        ),
        (
            "search",
            "\u{1f436}",
            "Got result: \u{1f43e} Playing ball! \u{1f3d0}\n",
        ),
        ("search", "neo", "Got result: No match for 'neo'.\n"),
        (
            "find",
            "ring",
            "Got response: b'First 10 bytes of request: findring'\n",
        ),
        (
            "it's",
            "",
            "Got response: b\"First 10 bytes of request: it's\"\n",
        ),
        (
            "a\\b",
            "\u{e9}",
            "Got response: b'First 10 bytes of request: a\\\\b\\xc3\\xa9'\n",
        ),
    ];
    for (action, value, expected) in cases {
        let out = client(&["127.0.0.1", &port, action, value], &[]);
        assert_eq!(stdout(&out), expected);
        assert_eq!(out.status.code(), Some(0), "{action} {value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("starting connection to 127.0.0.1:"), "{err}");
        assert!(err.contains("closing connection to"), "{err}");
    }
}

#[test]
fn keep_alive_sends_n_requests_on_one_connection() {
    let server = Server::start(&[]);
    let out = client(
        &[
            "-q",
            "--keep-alive",
            "5",
            "127.0.0.1",
            &server.port(),
            "search",
            "ring",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        "Got result: In the caves beneath the Misty Mountains. \u{1f48d}\n".repeat(5)
    );
    let log = server.wait_log("closing connection");
    assert_eq!(log.matches("accepted connection").count(), 1, "{log}");
    assert_eq!(log.matches("received request").count(), 5, "{log}");
}

#[test]
fn password_and_error_replies_set_the_exit_code() {
    let server = Server::start(&["-q", "-p", "letmein"]);
    let port = server.port();
    let out = client(
        &["-p", "letmein", "127.0.0.1", &port, "search", "ring"],
        &[],
    );
    assert_eq!(out.status.code(), Some(0));
    let out = client(
        &["127.0.0.1", &port, "search", "ring"],
        &[("SERVER_PASSWORD", "letmein")],
    );
    assert_eq!(out.status.code(), Some(0), "password from the environment");

    let out = client(&["-p", "nope", "127.0.0.1", &port, "search", "ring"], &[]);
    assert_eq!(stdout(&out), "Got result: Error: wrong password.\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong-password"));

    let out = client(&["127.0.0.1", &port, "search", "ring"], &[]);
    assert_eq!(stdout(&out), "Got result: Error: password required.\n");
    assert_eq!(out.status.code(), Some(1));
}

/// A loopback port that refuses connections for as long as the returned socket is open.
fn refusing_port() -> (std::os::fd::OwnedFd, u16) {
    use std::os::fd::FromRawFd;
    // SAFETY: plain socket calls on a descriptor we own; every result is checked.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let owned = std::os::fd::OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let bound = libc::bind(fd, &addr as *const _ as *const libc::sockaddr, len);
        assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
        let mut len = len;
        let named = libc::getsockname(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len);
        assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
        (owned, u16::from_be(addr.sin_port))
    }
}

#[test]
fn connection_failures_and_timeouts_exit_non_zero() {
    // Nobody listens on a port held by a socket that is bound but never listens: connections
    // to it are refused, and no other test's server can take the port meanwhile.
    let (_held, port) = refusing_port();
    let port = port.to_string();
    let out = client(&["127.0.0.1", &port, "search", "ring"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));

    // A listener that accepts and never answers, holding the connection open until the client
    // has exited: the client gives up by its own timeout, not because the connection ended.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = thread::spawn(move || {
        let conn = silent.accept().map(|(s, _)| s);
        // Whether the test let go (rather than the wait, which only guards against a hang).
        let let_go = released.recv_timeout(IO_TIMEOUT).is_ok();
        drop(conn);
        let_go
    });
    let out = client(&["-t", "0.5", "127.0.0.1", &port, "search", "ring"], &[]);
    let _ = release.send(());
    assert!(
        holder.join().unwrap(),
        "the client outlived the silent connection"
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no reply"), "{stderr}");
    assert!(stderr.contains("timed out after 0.5 s"), "{stderr}");

    // Usage errors are clap's exit code 2.
    let out = client(&["127.0.0.1"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn server_help_and_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "-P, --port",
        "-h, --host",
        "-c, --max-clients",
        "-p, --password",
        "--max-content-length",
        "--max-buffered",
        "--timeout",
        "--table",
        "-q, --quiet",
        "-v, --verbose",
        "--help",
        "--version",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
    assert!(!help.contains("-h, --help"));
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("server "));
}

/// How a client run under watch ended.
struct Watched {
    /// The exit code, or `None` when the client had to be killed at the time limit.
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The most memory the client ever had resident, in KiB (`ru_maxrss` from `wait4`).
    max_rss_kib: i64,
    /// From the start to the exit (or to the kill).
    took: Duration,
}

/// Runs the client, killing it if it has not exited within `limit`, and measures its peak
/// memory. The child is reaped with `wait4` for its own resource usage.
// Reaped by `wait4` rather than `Child::wait`, which does not give the resource usage.
#[allow(clippy::zombie_processes)]
fn watched_client(args: &[&str], limit: Duration) -> Watched {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_client"))
        .args(args)
        .env_remove("SERVER_PASSWORD")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run client");
    let drain = |mut from: Box<dyn Read + Send>| {
        thread::spawn(move || {
            let mut text = String::new();
            let _ = from.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 on our own child's pid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut killed = false;
    loop {
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(reaped >= 0, "wait4: {}", std::io::Error::last_os_error());
        if reaped == pid {
            break;
        }
        if !killed && started.elapsed() > limit {
            child.kill().unwrap();
            killed = true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let took = started.elapsed();
    let exited = libc::WIFEXITED(status) && !killed;
    Watched {
        code: exited.then(|| libc::WEXITSTATUS(status)),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        max_rss_kib: usage.ru_maxrss,
        took,
    }
}

/// A server of our own for one connection: it reads the client's request, then `behave`s.
/// Returns the port and the thread, which yields what `behave` returns.
fn hostile_server<T: Send + 'static>(
    behave: impl FnOnce(&mut std::net::TcpStream) -> T + Send + 'static,
) -> (String, thread::JoinHandle<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    listener.set_nonblocking(true).unwrap();
    let handle = thread::spawn(move || {
        let end = Instant::now() + IO_TIMEOUT;
        let mut sock = loop {
            match listener.accept() {
                Ok((sock, _)) => break sock,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    assert!(Instant::now() < end, "the client never connected");
                    thread::sleep(Duration::from_millis(10));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        sock.set_nonblocking(false).unwrap();
        sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        sock.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        read_reply(&mut sock);
        behave(&mut sock)
    });
    (port, handle)
}

#[test]
fn a_reply_announcing_too_much_is_refused_before_it_is_read() {
    // 2^62 bytes announced, then zeros for as long as the client takes them (at most 1 GiB).
    let (port, server) = hostile_server(|sock| {
        let announced = frame(&header("text/json", "utf-8", 1 << 62, ""), b"");
        sock.write_all(&announced).unwrap();
        let zeros = [0u8; 64 << 10];
        let mut sent = 0usize;
        while sent < 1 << 30 {
            match sock.write(&zeros) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        sent
    });
    let run = watched_client(&["127.0.0.1", &port, "search", "ring"], IO_TIMEOUT);
    let sent = server.join().unwrap();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "the reply announces {} bytes of content, more than --max-reply (67108864)",
            1u64 << 62
        )),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout, "");
    // What the zeros server got rid of fits in the sockets' buffers: the client read none of it.
    assert!(sent < 32 << 20, "the client took {sent} bytes of zeros");
    eprintln!("client peak memory: {} KiB", run.max_rss_kib);
    assert!(
        run.max_rss_kib < 32 << 10,
        "client peak {} KiB",
        run.max_rss_kib
    );

    // The bound is the option's: 1,000 bytes announced, 999 allowed.
    let (port, server) = hostile_server(|sock| {
        let reply = br#"{"result": "x"}"#;
        sock.write_all(&frame(&header("text/json", "utf-8", 1000, ""), reply))
    });
    let args = ["--max-reply", "999", "127.0.0.1", &port, "search", "ring"];
    let run = watched_client(&args, IO_TIMEOUT);
    let _ = server.join().unwrap();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("more than --max-reply (999)"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_announced_length_is_not_an_allocation() {
    // 48 MiB announced, below the default --max-reply, then 16 bytes and the end.
    let (port, server) = hostile_server(|sock| {
        let announced = frame(
            &header("text/json", "utf-8", 48 << 20, ""),
            b"{\"result\": \"x\"",
        );
        sock.write_all(&announced)
    });
    let run = watched_client(&["127.0.0.1", &port, "search", "ring"], IO_TIMEOUT);
    server.join().unwrap().unwrap();
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains("closed in the middle of the reply"),
        "{}",
        run.stderr
    );
    eprintln!("client peak memory: {} KiB", run.max_rss_kib);
    assert!(
        run.max_rss_kib < 32 << 10,
        "client peak {} KiB",
        run.max_rss_kib
    );
}

#[test]
fn the_timeout_bounds_the_whole_reply() {
    // A reply dripped one byte every 0.3 s (over 35 s for the whole frame) to `client -t 1`,
    // which must give up after a second, well before the drip ends.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let (port, server) = hostile_server(move |sock| {
        let reply = frame(
            &header("text/json", "utf-8", 18, ""),
            br#"{"result": "slow"}"#,
        );
        let mut dripped = 0;
        for byte in &reply {
            if stopped.load(std::sync::atomic::Ordering::Relaxed)
                || sock.write_all(&[*byte]).is_err()
            {
                break;
            }
            dripped += 1;
            thread::sleep(Duration::from_millis(300));
        }
        (dripped, reply.len())
    });
    let run = watched_client(
        &["-t", "1", "127.0.0.1", &port, "search", "ring"],
        IO_TIMEOUT,
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (dripped, whole) = server.join().unwrap();
    assert_eq!(run.code, Some(1), "{} after {:?}", run.stderr, run.took);
    assert!(run.stderr.contains("timed out after 1 s"), "{}", run.stderr);
    assert!(
        run.stderr.contains("no reply from 127.0.0.1"),
        "{}",
        run.stderr
    );
    assert!(dripped < whole, "the drip of {whole} bytes ended first");
    assert_eq!(run.stdout, "");
}

#[test]
fn a_reply_that_is_not_an_object_with_a_result_is_an_error() {
    for content in [
        &b"[0, 1]"[..],
        b"42",
        b"\"text\"",
        b"null",
        b"{\"error\": \"x\"}",
    ] {
        let (port, server) = hostile_server(move |sock| {
            sock.write_all(&frame(
                &header("text/json", "utf-8", content.len(), ""),
                content,
            ))
        });
        let run = watched_client(&["127.0.0.1", &port, "search", "ring"], IO_TIMEOUT);
        server.join().unwrap().unwrap();
        let shown = String::from_utf8_lossy(content);
        assert_eq!(run.code, Some(1), "{shown}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{shown}");
        assert!(
            run.stderr
                .contains("the reply is not a JSON object with a result"),
            "{shown}: {}",
            run.stderr
        );
    }
}

#[test]
fn client_durations_out_of_range_are_usage_errors() {
    for value in ["1e20", "1e19", "1e-10", "0", "nan", "inf", "86401"] {
        let out = client(&["-t", value, "127.0.0.1", "1", "search", "ring"], &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "-t {value}: {err}");
        assert!(err.contains("'--timeout <SECONDS>'"), "{err}");
        assert!(err.contains("from 0.001 to 86400 (a day)"), "{err}");
    }
}
