//! Interoperability: a Python client written from PROTOCOL.md alone
//! (`tests/interop_client.py`) against the real server, and against our own client's output.

mod common;

use common::*;
use std::process::{Command, Output, Stdio};

fn python(args: &[&str]) -> Option<Output> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop_client.py");
    match Command::new("python3")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => Some(out),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("cannot run python3: {e}"),
    }
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
