//! Every row of the book's protocol chapter (`docs/protocol.md`) against the real server
//! binary, over loopback TCP.

mod common;

use common::*;
use std::io::{Read, Write};
use std::thread;
use std::time::Duration;

fn read_all(sock: &mut std::net::TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    sock.read_to_end(&mut out).expect("read to end");
    out
}

#[test]
fn the_three_table_keys_byte_for_byte() {
    let server = Server::start(&["-q"]);
    for (key, answer) in [
        ("morpheus", "Follow the white rabbit. \u{1f430}"),
        (
            "ring",
            "In the caves beneath the Misty Mountains. \u{1f48d}",
        ),
        ("\u{1f436}", "\u{1f43e} Playing ball! \u{1f3d0}"),
    ] {
        let mut sock = server.connect();
        sock.write_all(&search(key)).unwrap();
        // The whole stream, up to the server's close, is exactly the original's frame.
        let got = read_all(&mut sock);
        let expected = expected_json_reply(&format!("{{\"result\": \"{answer}\"}}"), "");
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&expected)
        );
        assert_eq!(got, expected);
    }
}

#[test]
fn no_match_and_invalid_action() {
    let server = Server::start(&["-q"]);
    assert_eq!(
        exchange(&server, &search("Morpheus")).result(),
        "No match for 'Morpheus'."
    );
    let reply = exchange(&server, &json_request(r#"{"action": "search"}"#, ""));
    assert_eq!(reply.result(), "No match for 'None'.");
    let reply = exchange(
        &server,
        &json_request(r#"{"action": "search", "value": 42}"#, ""),
    );
    assert_eq!(reply.result(), "No match for '42'.");
    let reply = exchange(
        &server,
        &json_request(r#"{"action": "find", "value": "ring"}"#, ""),
    );
    assert_eq!(reply.result(), "Error: invalid action 'find'.");
    assert_eq!(reply.error_code(), None, "an invalid action is a result");
    let reply = exchange(&server, &json_request(r#"{"value": "ring"}"#, ""));
    assert_eq!(reply.result(), "Error: invalid action 'None'.");
}

#[test]
fn binary_request_echoes_ten_bytes() {
    let server = Server::start(&["-q"]);
    let mut sock = server.connect();
    sock.write_all(&binary_request(b"searchmorpheus", ""))
        .unwrap();
    let got = read_all(&mut sock);
    let content = b"First 10 bytes of request: searchmorp";
    let mut expected = frame(
        &header(
            "binary/custom-server-binary-type",
            "binary",
            content.len(),
            "",
        ),
        b"",
    );
    expected.extend_from_slice(content);
    assert_eq!(got, expected);

    // Shorter than ten bytes, and arbitrary (non-UTF-8) bytes.
    let reply = exchange(&server, &binary_request(&[0, 255, 10], ""));
    assert_eq!(reply.content, b"First 10 bytes of request: \x00\xff\n");
    assert_eq!(reply.fields["content-encoding"], "binary");
}

#[test]
fn empty_requests_get_an_answer() {
    let server = Server::start(&["-q"]);
    let reply = exchange(&server, &json_request("", ""));
    assert_eq!(reply.result(), "Error: empty request.");
    assert_eq!(reply.error_code().as_deref(), Some("empty-request"));
    let reply = exchange(&server, &json_request("{}", ""));
    assert_eq!(reply.result(), "Error: invalid action 'None'.");
    let reply = exchange(&server, &binary_request(b"", ""));
    assert_eq!(reply.content, b"First 10 bytes of request: ");
}

#[test]
fn one_byte_at_a_time() {
    let server = Server::start(&["-q"]);
    let mut sock = server.connect();
    sock.set_nodelay(true).unwrap();
    for byte in search("ring") {
        sock.write_all(&[byte]).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    let reply = read_reply(&mut sock);
    assert_eq!(
        reply.result(),
        "In the caves beneath the Misty Mountains. \u{1f48d}"
    );
    assert_closed(&mut sock);
}

#[test]
fn any_valid_json_header_is_accepted() {
    let server = Server::start(&["-q"]);
    let content = r#"{"value":"ring","action":"search"}"#;
    let header = format!(
        r#"{{"content-length":{},"x-unknown":[1,2],"content-encoding":"utf-8","content-type":"text/json","byteorder":"big"}}"#,
        content.len()
    );
    let reply = exchange(&server, &frame(&header, content.as_bytes()));
    assert_eq!(
        reply.result(),
        "In the caves beneath the Misty Mountains. \u{1f48d}"
    );
}

/// Sends `request` and expects an error reply with `code`, then the server's close.
fn expect_error(server: &Server, request: &[u8], code: &str) -> String {
    let mut sock = server.connect();
    sock.write_all(request).unwrap();
    let reply = read_reply(&mut sock);
    assert_eq!(
        reply.error_code().as_deref(),
        Some(code),
        "{}",
        reply.text()
    );
    let result = reply.result();
    assert!(
        result.starts_with("Error: ") && result.ends_with('.'),
        "{result}"
    );
    assert_closed(&mut sock);
    result
}

#[test]
fn malformed_requests_get_a_reason() {
    let server = Server::start(&["-q"]);
    expect_error(&server, &frame("not json", b""), "bad-header");
    expect_error(&server, &frame("[1, 2]", b""), "bad-header");
    expect_error(&server, &frame("", b""), "bad-header");
    let result = expect_error(
        &server,
        &frame(
            r#"{"byteorder": "little", "content-length": 2, "content-encoding": "utf-8"}"#,
            b"{}",
        ),
        "missing-header",
    );
    assert_eq!(result, "Error: missing required header 'content-type'.");
    expect_error(
        &server,
        &frame(
            &header("text/json", "utf-8", 0, "").replace(": 0}", ": -1}"),
            b"",
        ),
        "bad-header",
    );
    expect_error(&server, &json_request("{not json", ""), "bad-json");
    expect_error(&server, &json_request("[1]", ""), "not-an-object");
    expect_error(
        &server,
        &frame(&header("text/json", "utf-16", 2, ""), b"{}"),
        "unsupported-encoding",
    );
    expect_error(&server, &json_request("\"\u{ff}\"", ""), "not-an-object");
    let mut bad_utf8 = json_request("{\"a\": \"xx\"}", "");
    let n = bad_utf8.len();
    bad_utf8[n - 3] = 0xff;
    expect_error(&server, &bad_utf8, "bad-json");
}

#[test]
fn too_large_is_refused_from_the_header_alone() {
    let server = Server::start(&["-q", "--max-content-length", "100"]);
    // Only the header is sent: the refusal must not wait for the content.
    let request = frame(&header("text/json", "utf-8", 101, ""), b"");
    let result = expect_error(&server, &request, "too-large");
    assert_eq!(
        result,
        "Error: content-length 101 exceeds the limit of 100 bytes."
    );
    // A huge length is refused as well, without the server trying to allocate it.
    let request = frame(&header("binary/x", "binary", 1 << 60, ""), b"");
    expect_error(&server, &request, "too-large");
    // Exactly the limit is fine.
    let reply = exchange(&server, &binary_request(&[b'x'; 100], ""));
    assert_eq!(reply.content, b"First 10 bytes of request: xxxxxxxxxx");
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let server = Server::start(&["-q"]);
    let mut sock = server.connect();
    for i in 0..200 {
        let request = if i % 2 == 0 {
            json_request(
                r#"{"action": "search", "value": "morpheus"}"#,
                ", \"keep-alive\": true",
            )
        } else {
            binary_request(format!("req{i}").as_bytes(), ", \"keep-alive\": true")
        };
        sock.write_all(&request).unwrap();
        let reply = read_reply(&mut sock);
        assert_eq!(reply.fields["keep-alive"], true);
        assert!(reply.header.ends_with(", \"keep-alive\": true}"));
        if i % 2 == 0 {
            assert_eq!(reply.result(), "Follow the white rabbit. \u{1f430}");
        } else {
            assert_eq!(
                reply.content,
                format!("First 10 bytes of request: req{i}").as_bytes()
            );
        }
    }
    // The last request without keep-alive: the original lifecycle, close after the reply.
    sock.write_all(&search("ring")).unwrap();
    let reply = read_reply(&mut sock);
    assert!(reply.fields.get("keep-alive").is_none());
    assert_closed(&mut sock);
}

#[test]
fn pipelined_keep_alive_requests_are_answered_in_order() {
    let server = Server::start(&["-q"]);
    let mut sock = server.connect();
    let mut burst = Vec::new();
    for key in ["morpheus", "ring", "nobody"] {
        burst.extend(json_request(
            &format!("{{\"action\": \"search\", \"value\": \"{key}\"}}"),
            ", \"keep-alive\": true",
        ));
    }
    burst.extend(search("\u{1f436}"));
    sock.write_all(&burst).unwrap();
    let results: Vec<String> = (0..4).map(|_| read_reply(&mut sock).result()).collect();
    assert_eq!(
        results,
        [
            "Follow the white rabbit. \u{1f430}",
            "In the caves beneath the Misty Mountains. \u{1f48d}",
            "No match for 'nobody'.",
            "\u{1f43e} Playing ball! \u{1f3d0}",
        ]
    );
    assert_closed(&mut sock);
}

#[test]
fn a_broken_client_does_not_disturb_another() {
    let server = Server::start(&[]);
    let mut good = server.connect();
    good.write_all(&search("ring")[..10]).unwrap();
    // A client that sends half a request and vanishes, and one that sends garbage.
    {
        let mut bad = server.connect();
        bad.write_all(&search("morpheus")[..20]).unwrap();
    }
    let mut garbage = server.connect();
    garbage.write_all(b"\x00\x05hello").unwrap();
    let _ = read_reply(&mut garbage);
    good.write_all(&search("ring")[10..]).unwrap();
    assert_eq!(
        read_reply(&mut good).result(),
        "In the caves beneath the Misty Mountains. \u{1f48d}"
    );
    // Each failure is logged with its reason (waited for one by one: the log is read from
    // a pipe, and the two lines may come in either order).
    server.wait_log("peer closed the connection mid-request");
    server.wait_log("refused: malformed JSON header");
}

#[test]
fn listens_on_ipv6_loopback_and_on_all_interfaces() {
    let v6 = Server::start(&["-q", "-h", "::1"]);
    assert!(v6.addr.is_ipv6());
    assert_eq!(
        exchange(&v6, &search("ring")).result(),
        "In the caves beneath the Misty Mountains. \u{1f48d}"
    );
    let any = Server::start(&["-q", "-h", ""]);
    assert!(any.addr.ip().is_unspecified(), "{}", any.addr);
    assert_eq!(
        exchange(&any, &search("nope")).result(),
        "No match for 'nope'."
    );
}

#[test]
fn logs_like_the_original() {
    let server = Server::start(&[]);
    exchange(&server, &search("morpheus"));
    let log = server.wait_log("closing connection to");
    assert!(log.contains("accepted connection from 127.0.0.1:"), "{log}");
    assert!(
        log.contains("received request {'action': 'search', 'value': 'morpheus'} from"),
        "{log}"
    );
    // A dict is printed in the order its keys came, as Python prints it.
    exchange(
        &server,
        &json_request(r#"{"value": 1e-05, "action": "search"}"#, ""),
    );
    server.wait_log("received request {'value': 1e-05, 'action': 'search'} from");
}

also_over_tls!(
    the_three_table_keys_byte_for_byte,
    no_match_and_invalid_action,
    binary_request_echoes_ten_bytes,
    empty_requests_get_an_answer,
    one_byte_at_a_time,
    any_valid_json_header_is_accepted,
    malformed_requests_get_a_reason,
    too_large_is_refused_from_the_header_alone,
    keep_alive_serves_many_requests_on_one_connection,
    pipelined_keep_alive_requests_are_answered_in_order,
);
