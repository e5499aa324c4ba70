//! The answers of the protocol chapter's "A connection's life", each claim as a client meets
//! it: a half-close after the request, a second request pipelined with and without
//! keep-alive, and what a client reads when the grace period of a shutdown runs out.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::Duration;

/// Everything the server sends until it ends the stream; a reset is a failure.
fn read_to_end(sock: &mut std::net::TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    sock.read_to_end(&mut all)
        .expect("the stream ends with a close, not a reset");
    all
}

const RABBIT: &str = "{\"result\": \"Follow the white rabbit. 🐰\"}";

/// A client that sends its request and shuts down its sending side at once gets the whole
/// reply, then the end of the stream; the server logs no warning, since the request was whole.
#[test]
fn a_half_close_after_the_request_gets_the_whole_reply() {
    let server = Server::start(&[]);
    let mut sock = server.connect();
    sock.write_all(&search("morpheus")).unwrap();
    sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut sock), expected_json_reply(RABBIT, ""));
    server.wait_log("closing connection to");
    assert!(
        !server.stderr().contains("mid-request"),
        "{}",
        server.stderr()
    );

    // With keep-alive asked for: the reply says so, and then the server, reading the end of
    // the stream where a next request would begin, closes without a word.
    let mut sock = server.connect();
    let content = "{\"action\": \"search\", \"value\": \"morpheus\"}";
    sock.write_all(&json_request(content, ", \"keep-alive\": true"))
        .unwrap();
    sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(
        read_to_end(&mut sock),
        expected_json_reply(RABBIT, ", \"keep-alive\": true")
    );
    assert!(
        !server.stderr().contains("mid-request"),
        "{}",
        server.stderr()
    );
}

/// A half-close in the middle of a request ends it: no reply, and a warning in the log.
#[test]
fn a_half_close_mid_request_gets_no_reply() {
    let server = Server::start(&[]);
    let mut sock = server.connect();
    let request = search("morpheus");
    sock.write_all(&request[..request.len() - 5]).unwrap();
    sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut sock), b"");
    server.wait_log("peer closed the connection mid-request");
}

/// Two requests in one write, the first without keep-alive: the first is answered, the
/// second never is, and the stream ends after the first reply (with a close, not a reset).
#[test]
fn a_pipelined_request_without_keep_alive_is_not_answered() {
    let server = Server::start(&[]);
    let mut sock = server.connect();
    let mut both = search("morpheus");
    both.extend(search("ring"));
    sock.write_all(&both).unwrap();
    assert_eq!(read_to_end(&mut sock), expected_json_reply(RABBIT, ""));
    server.wait_log("closing connection to");
    assert_eq!(server.stderr().matches("received request").count(), 1);
}

/// The same with keep-alive on the first: both are answered, in order; the second, without
/// keep-alive, is the last.
#[test]
fn a_pipelined_request_with_keep_alive_is_answered_after_the_first() {
    let server = Server::start(&[]);
    let mut sock = server.connect();
    let content = "{\"action\": \"search\", \"value\": \"morpheus\"}";
    let mut both = json_request(content, ", \"keep-alive\": true");
    both.extend(search("ring"));
    sock.write_all(&both).unwrap();
    let mut expected = expected_json_reply(RABBIT, ", \"keep-alive\": true");
    expected.extend(expected_json_reply(
        "{\"result\": \"In the caves beneath the Misty Mountains. 💍\"}",
        "",
    ));
    assert_eq!(read_to_end(&mut sock), expected);
}

/// A client that does not read its large reply when SIGTERM comes: once `--grace` is over the
/// server exits (status 0) and the client reads the start of its reply, exactly as sent, then
/// the end of the stream: a frame cut short, no error reply, no reset.
#[test]
fn when_the_grace_period_runs_out_the_reply_is_cut_short_without_a_word() {
    let big = "z".repeat(16 << 20);
    let mut server = Server::start(&["--grace", "0.5", "--max-content-length", "20000000"]);
    let mut sock = server.connect();
    sock.write_all(&search(&big)).unwrap();
    server.wait_log("received request");
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(10)).code(), Some(0));
    assert!(server
        .stderr()
        .contains("grace period over: dropping 1 unfinished connections"));

    let whole = expected_json_reply(&format!("{{\"result\": \"No match for '{big}'.\"}}"), "");
    let got = read_to_end(&mut sock);
    assert!(
        got.len() < whole.len(),
        "the whole reply came: {} bytes",
        got.len()
    );
    assert!(got.len() > 2, "not even the protoheader came");
    assert!(
        got == whole[..got.len()],
        "the bytes that came are not the reply's start"
    );
}
