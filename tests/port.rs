//! The port (`docs/port.md`, the `port` binary): the Real Python guide's app-client
//! (`tests/original_app_client.py`) against it gets, byte for byte, what the guide's
//! libserver answers; a malformed request closes only its own connection.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// The port binary on `127.0.0.1:0`, killed when dropped.
struct Port {
    child: Child,
    port: String,
}

impl Port {
    fn start() -> Port {
        let mut child = Command::new(env!("CARGO_BIN_EXE_port"))
            .args(["127.0.0.1", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the port");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("read the listening line");
        let port = line
            .trim()
            .strip_prefix("listening on 127.0.0.1:")
            .unwrap_or_else(|| panic!("no listening line: {line:?}"))
            .to_owned();
        Port { child, port }
    }

    fn connect(&self) -> TcpStream {
        let sock = TcpStream::connect(format!("127.0.0.1:{}", self.port)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        sock
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `tests/original_app_client.py ARGS`, or `None` without python3.
fn original(args: &[&str]) -> Option<Output> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/original_app_client.py");
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

/// The cases of `tests/interop.rs`: a search that matches, one that does not, emoji, quotes
/// and escapes, an empty value, binary requests (one cut in the middle of a character), an
/// unknown action.
const CASES: &[[&str; 2]] = &[
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

#[test]
fn the_guides_app_client_gets_libservers_reply_byte_for_byte() {
    let port = Port::start();
    for [action, value] in CASES {
        let Some(out) = original(&["client", "127.0.0.1", &port.port, action, value]) else {
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
        let Some(out) = original(&["json", "127.0.0.1", &port.port, content]) else {
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

/// A frame: protoheader, JSON header, content.
fn frame(header: &str, content: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(content);
    out
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
