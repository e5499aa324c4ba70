//! Interoperability: a Python client written from the book's protocol chapter
//! (`docs/protocol.md`) alone (`tests/interop_client.py`) against the real server, and
//! against our own client's output.

mod common;

use common::harness::{self, APP_CLIENT_CASES};
use common::*;
use std::process::{Command, Output, Stdio};

fn python(args: &[&str]) -> Option<Output> {
    harness::python("interop_client.py", args)
}

fn rust_client(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_client"))
        .arg("-q")
        .args(args)
        .env_remove("SERVER_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn python_client_and_rust_client_agree() {
    let server = Server::start(&["-q"]);
    let port = server.port();
    let cases: &[&[&str]] = &[
        &["search", "morpheus"],
        &["search", "ring"],
        &["search", "\u{1f436}"],
        &["search", "nothing here"],
        &["search", ""],
        &["lookup", "morpheus"],
        &["it's", "\"quoted\""],
        &["binary", "\u{1f430}\t\n"],
        &["search", "ring", "--keep-alive", "3"],
    ];
    for case in cases {
        let mut args = vec!["127.0.0.1", port.as_str()];
        args.extend_from_slice(case);
        let Some(py) = python(&args) else {
            eprintln!("python3 not found: interop test skipped");
            return;
        };
        assert!(
            py.status.success(),
            "python client failed on {case:?}: {}",
            String::from_utf8_lossy(&py.stderr)
        );
        let ours = rust_client(&args);
        assert!(ours.status.success(), "{case:?}");
        let py_out = String::from_utf8(py.stdout).unwrap();
        assert!(py_out.starts_with("Got "), "{py_out}");
        assert_eq!(String::from_utf8(ours.stdout).unwrap(), py_out, "{case:?}");
    }
}

#[test]
fn python_client_with_password() {
    let server = Server::start(&["-q", "-p", "s3cret"]);
    let port = server.port();
    let Some(ok) = python(&[
        "127.0.0.1",
        &port,
        "search",
        "morpheus",
        "--password",
        "s3cret",
    ]) else {
        return;
    };
    assert_eq!(
        String::from_utf8(ok.stdout).unwrap(),
        "Got result: Follow the white rabbit. \u{1f430}\n"
    );
    let bad = python(&["127.0.0.1", &port, "search", "morpheus", "--password", "x"]).unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(bad.stdout).unwrap(),
        "Got result: Error: wrong password.\n"
    );
}

/// Runs `tests/original_app_client.py`: the Real Python app-client, libclient and libserver
/// reproduced method for method. `None` when there is no python3.
fn original(args: &[&str]) -> Option<std::process::Child> {
    harness::python_child("original_app_client.py", args)
}

/// The original app-client, run against our server, gets exactly the bytes the original
/// libserver would have sent for the same request bytes, then the server's close (checked by
/// the script); and it prints what our client prints.
#[test]
fn the_original_app_client_gets_the_original_servers_reply_byte_for_byte() {
    let server = Server::start(&["-q"]);
    let port = server.port();
    for [action, value] in APP_CLIENT_CASES {
        let Some(child) = original(&["client", "127.0.0.1", &port, action, value]) else {
            eprintln!("python3 not found: test skipped");
            return;
        };
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{action} {value:?}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: String = stdout
            .lines()
            .filter(|line| line.starts_with("Got "))
            .map(|line| format!("{line}\n"))
            .collect();
        let ours = rust_client(&["127.0.0.1", &port, action, value]);
        assert_eq!(
            String::from_utf8(ours.stdout).unwrap(),
            got,
            "{action} {value:?}"
        );
    }
}

/// Our client, run against the original server (the script playing libserver for one
/// connection), sends exactly the original app-client's request bytes.
#[test]
fn our_client_sends_the_original_app_clients_request_byte_for_byte() {
    use std::io::BufRead;
    for [action, value] in APP_CLIENT_CASES {
        let Some(mut child) = original(&["capture", action, value]) else {
            eprintln!("python3 not found: test skipped");
            return;
        };
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .unwrap_or_else(|| panic!("no port in {line:?}"))
            .to_owned();
        let ours = rust_client(&["127.0.0.1", &port, action, value]);
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{action} {value:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(ours.status.success(), "{action} {value:?}");
        assert!(String::from_utf8(ours.stdout).unwrap().starts_with("Got "));
    }
}

/// Requests the original app-client never sends but the original libserver answered, each
/// value printed by Python's `str()`: `None`, `True`, ints, floats on both sides of Python's
/// switch to exponents, an object as the action (keys in the client's order), keys in an
/// unusual order.
#[test]
fn values_that_are_not_strings_are_printed_as_python_prints_them() {
    let server = Server::start(&["-q"]);
    let port = server.port();
    let cases = [
        r#"{"action": "search", "value": null}"#,
        r#"{"action": "search", "value": true}"#,
        r#"{"action": "search", "value": -42}"#,
        r#"{"action": "search", "value": 1.0}"#,
        r#"{"action": "search", "value": -0.0}"#,
        r#"{"action": "search", "value": 0.0001}"#,
        r#"{"action": "search", "value": 1e-05}"#,
        r#"{"action": "search", "value": 123456789012345.6}"#,
        r#"{"action": "search", "value": 1e16}"#,
        r#"{"action": "search", "value": 1.5E+300}"#,
        r#"{"action": "search", "value": 0.30000000000000004}"#,
        r#"{"action": [1, "a", null, {"z": 1, "b": [true, "it's"]}]}"#,
        r#"{"value": "ring", "action": "search"}"#,
        r#"{"action": {"value": "x", "action": "y"}}"#,
        r#"{"action": "search", "value": "\u00e9\t\"\\"}"#,
    ];
    for content in cases {
        let Some(child) = original(&["json", "127.0.0.1", &port, content]) else {
            eprintln!("python3 not found: test skipped");
            return;
        };
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{content}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
