//! The `client` binary: the original app-client's output, and exit codes that tell.

mod common;

use common::*;
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

    // A listener that accepts and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let holder = thread::spawn(move || {
        let conn = silent.accept().map(|(s, _)| s);
        thread::sleep(Duration::from_secs(2));
        drop(conn);
    });
    let started = Instant::now();
    let out = client(&["-t", "0.5", "127.0.0.1", &port, "search", "ring"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no reply"));
    holder.join().unwrap();

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
