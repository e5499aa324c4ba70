//! The port (`docs/port.md`, the `port` binary): the Real Python guide's app-client
//! (`tests/original_app_client.py`) against it gets, byte for byte, what the guide's
//! libserver answers; a malformed request closes only its own connection.

mod common;

use common::harness::{self, frame, Spawned, APP_CLIENT_CASES};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Output};
use std::time::Duration;

/// The port binary on `127.0.0.1:0`, killed when dropped.
struct Port {
    port: Spawned,
}

impl Port {
    fn start() -> Port {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_port"));
        cmd.args(["127.0.0.1", "0"])
            .stderr(std::process::Stdio::null());
        Port {
            port: Spawned::start(&mut cmd),
        }
    }

    /// The port it listens on, for the app-client's command line.
    fn number(&self) -> String {
        self.port.addr.port().to_string()
    }

    fn connect(&self) -> TcpStream {
        let sock = TcpStream::connect(self.port.addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock
    }
}

/// `tests/original_app_client.py ARGS`, or `None` without python3.
fn original(args: &[&str]) -> Option<Output> {
    harness::python("original_app_client.py", args)
}

#[test]
fn the_guides_app_client_gets_libservers_reply_byte_for_byte() {
    let port = Port::start();
    for [action, value] in APP_CLIENT_CASES {
        let Some(out) = original(&["client", "127.0.0.1", &port.number(), action, value]) else {
            eprintln!("python3 not found: test skipped");
            return;
        };
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{action} {value:?}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("\nGot "), "{stdout}");
    }
}

/// JSON requests the app-client never sends: an unknown action spelled as JSON values, keys
/// in another order, a missing value.
#[test]
fn json_requests_get_libservers_reply_byte_for_byte() {
    let port = Port::start();
    let cases = [
        r#"{"action": "lookup", "value": "morpheus"}"#,
        r#"{"action": "search", "value": null}"#,
        r#"{"action": "search", "value": true}"#,
        r#"{"action": "search", "value": -42}"#,
        r#"{"action": "search"}"#,
        r#"{"value": "ring", "action": "search"}"#,
        r#"{"action": null}"#,
        r#"{"action": "search", "value": "\u00e9\t\"\\"}"#,
    ];
    for content in cases {
        let Some(out) = original(&["json", "127.0.0.1", &port.number(), content]) else {
            eprintln!("python3 not found: test skipped");
            return;
        };
        assert!(
            out.status.success(),
            "{content}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Reads until the server closes; the bytes it sent.
fn read_to_close(sock: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    sock.read_to_end(&mut got).expect("the port closes");
    got
}

#[test]
fn a_malformed_request_closes_its_connection_and_no_other() {
    let port = Port::start();
    // A client that has sent half of its request.
    let request = frame(
        r#"{"byteorder": "little", "content-type": "binary/x", "content-encoding": "binary", "content-length": 4}"#,
        b"abcd",
    );
    let mut waiting = port.connect();
    waiting.write_all(&request[..20]).unwrap();
    // A header that is not JSON, one without content-type, content that is not JSON.
    let bad = [
        frame("{not json", b""),
        frame(
            r#"{"byteorder": "little", "content-encoding": "utf-8", "content-length": 0}"#,
            b"",
        ),
        frame(
            r#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 3}"#,
            b"{x}",
        ),
    ];
    for request in bad {
        let mut sock = port.connect();
        sock.write_all(&request).unwrap();
        assert_eq!(read_to_close(&mut sock), b"", "closed without a reply");
    }
    // The first client finishes its request and is answered.
    waiting.write_all(&request[20..]).unwrap();
    let reply = read_to_close(&mut waiting);
    assert!(
        reply.ends_with(b"First 10 bytes of request: abcd"),
        "{}",
        reply.escape_ascii()
    );
}

#[test]
fn a_request_of_900_kb_is_read_whole() {
    let port = Port::start();
    let content = vec![b'x'; 900 * 1024];
    let header = format!(
        r#"{{"byteorder": "little", "content-type": "binary/x", "content-encoding": "binary", "content-length": {}}}"#,
        content.len()
    );
    let mut sock = port.connect();
    sock.write_all(&frame(&header, &content)).unwrap();
    let reply = read_to_close(&mut sock);
    assert!(reply.ends_with(b"First 10 bytes of request: xxxxxxxxxx"));
}
