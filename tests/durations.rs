//! Durations on the command line: a range, a usage error outside it, and deadlines that the
//! clock can always represent.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `server -P 0 ARGS`, which must exit by itself within `IO_TIMEOUT` (it is killed
/// otherwise, and the test fails); returns its exit code and standard error.
fn server_exit(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["-q", "-P", "0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let end = Instant::now() + IO_TIMEOUT;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > end {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("server {args:?} did not exit: the value was accepted");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn durations_out_of_range_are_usage_errors() {
    let cases = [
        ("--timeout", "1e19"),
        ("--grace", "1e19"),
        ("--timeout", "1e20"),
        ("--grace", "1e300"),
        ("--timeout", "1e-10"),
        ("--timeout", "0"),
        ("--grace", "0.0009"),
        ("--timeout", "86400.5"),
        ("--timeout", "nan"),
        ("--grace", "inf"),
        ("--grace", "-1"),
        ("--timeout", "soon"),
    ];
    for (flag, value) in cases {
        let (code, err) = server_exit(&[&format!("{flag}={value}")]);
        assert_eq!(code, Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(&format!("invalid value '{value}' for '{flag} <SECONDS>'")),
            "{flag} {value}: {err}"
        );
        assert!(
            err.contains("is not a number of seconds from 0.001 to 86400 (a day)"),
            "{flag} {value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn the_longest_durations_serve_and_shut_down_cleanly() {
    // A day of timeout and of grace: deadlines a day away, set at every connection and at the
    // signal, without overflow.
    let mut server = Server::start(&["--timeout", "86400", "--grace", "86400"]);
    let reply = exchange(&server, &search("ring"));
    assert_eq!(
        reply.result(),
        "In the caves beneath the Misty Mountains. \u{1f48d}"
    );
    // A connection open at the signal: the grace period's end is set a day away, and the
    // server still ends as soon as its last connection is gone.
    let idle = server.connect();
    server.wait_log("accepted connection");
    server.signal(libc::SIGTERM);
    server.wait_log("shutting down");
    drop(idle);
    let status = server.wait_exit(IO_TIMEOUT);
    assert_eq!(status.code(), Some(0), "{}", server.stderr());
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}

#[test]
fn the_shortest_timeout_times_a_silent_client_out_and_goes_on() {
    let server = Server::start(&["--timeout", "0.001"]);
    let mut silent = server.connect();
    let reply = read_reply(&mut silent);
    assert_eq!(reply.error_code().as_deref(), Some("timeout"));
    assert!(
        reply.result().contains("timed out after 0.001 s"),
        "{}",
        reply.result()
    );
    assert!(!server.stderr().contains("panicked"), "{}", server.stderr());
}
