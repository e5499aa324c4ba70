//! Legal but expensive requests: what one of them makes the server do is bounded (more than
//! 10,000 JSON values, or nesting deeper than 64, is refused with `too-complex`, while a
//! request just within both is answered), other clients are served meanwhile, and the
//! server's memory stays within `--max-buffered` and a small constant, measured as the peak
//! resident memory (`VmHWM`) of the real server process.

mod common;

use common::{exchange, json_request, read_reply, reply_within, search, Server};
use std::io::Write;

/// `{"action": "search", "value": V}`.
fn searching(value: &str) -> Vec<u8> {
    json_request(
        &format!("{{\"action\": \"search\", \"value\": {value}}}"),
        "",
    )
}

/// An array of `n` zeros.
fn zeros(n: usize) -> String {
    format!("[{}]", vec!["0"; n].join(","))
}

/// `n` arrays nested in each other.
fn nested(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn expensive_requests_are_refused_and_the_limits_are_exact() {
    let server = Server::start(&["-q"]);
    // The object, the action, the array: 3 values, so 9,997 zeros make 10,000.
    let within = exchange(&server, &searching(&zeros(9_997)));
    assert_eq!(within.error_code(), None, "{}", within.text());
    let expected = format!("No match for '[{}]'.", vec!["0"; 9_997].join(", "));
    assert_eq!(within.result(), expected);
    let beyond = exchange(&server, &searching(&zeros(9_998)));
    assert_eq!(beyond.error_code().as_deref(), Some("too-complex"));
    assert_eq!(
        beyond.result(),
        "Error: request content holds more than 10000 JSON values."
    );
    // The object is level 1: 63 arrays in it make 64 levels.
    let deep = exchange(&server, &searching(&nested(63)));
    assert_eq!(deep.error_code(), None, "{}", deep.text());
    let deeper = exchange(&server, &searching(&nested(64)));
    assert_eq!(deeper.error_code().as_deref(), Some("too-complex"));
    assert_eq!(
        deeper.result(),
        "Error: request content nests deeper than 64 levels."
    );
    // The 1 MiB arrays.
    for item in ["0", "1e15"] {
        let items = vec![item; ((1 << 20) - 64) / (item.len() + 1)].join(",");
        let reply = exchange(&server, &searching(&format!("[{items}]")));
        assert_eq!(reply.error_code().as_deref(), Some("too-complex"));
    }
    // Keys are not values: an object of 9,000 members is 9,002 values.
    let members: Vec<String> = (0..9_000).map(|i| format!("\"k{i}\": {i}")).collect();
    let object = exchange(&server, &searching(&format!("{{{}}}", members.join(", "))));
    assert_eq!(object.error_code(), None, "{}", object.text());
}

#[test]
fn other_clients_are_served_between_expensive_requests() {
    let server = Server::start(&["-q", "--max-content-length", "4194304"]);
    let flood = searching(&zeros(1 << 20));
    let floods: Vec<_> = (0..4)
        .map(|_| {
            let mut sock = server.connect();
            sock.write_all(&flood).unwrap();
            sock
        })
        .collect();
    for _ in 0..20 {
        let reply = exchange(&server, &search("morpheus"));
        assert_eq!(reply.result(), "Follow the white rabbit. \u{1f430}");
    }
    for mut sock in floods {
        assert_eq!(
            read_reply(&mut sock).error_code().as_deref(),
            Some("too-complex")
        );
    }
}

/// The peak resident memory of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    common::harness::status_kib(pid, "VmHWM") * 1024
}

/// How long an expensive request may take to be answered (a bound on a wait, not a figure).
const EXPENSIVE: std::time::Duration = std::time::Duration::from_secs(60);

#[test]
fn peak_memory_stays_within_the_budget() {
    const MIB: u64 = 1 << 20;
    const BUDGET: u64 = 8 * MIB;
    const SLACK: u64 = 12 * MIB;
    // Over TLS the connection's rustls buffers are reserved against the budget too, from its
    // accept to its close (docs/tls.md): the budget grows by as much, so that the same
    // requests fit, or do not, as over plain TCP.
    let held = if common::tls_front::is_on() {
        libmessage::transport::TLS_HELD
    } else {
        0
    };
    let budget = BUDGET + held;
    let server = Server::start(&[
        "--max-content-length",
        "8388608",
        "--max-buffered",
        &budget.to_string(),
    ]);
    let nested = |size: usize| {
        let items = vec!["[[]]"; (size - 32) / 5].join(",");
        json_request(&format!("{{\"value\": [{items}]}}"), "")
    };
    // A string of DEL characters in a list: each is `\x7f` in Python's repr, and its
    // backslash escaped again in the JSON reply, so the answer is 5 times the request.
    let dels = |size: usize| searching(&format!("[\"{}\"]", "\u{7f}".repeat(size - 64)));
    // Escapes, which serde_json decodes into a buffer of its own while it checks them.
    let escapes = |size: usize| searching(&format!("\"{}\"", "\\n".repeat((size - 64) / 2)));
    let cases = [
        ("1 MiB of [[]]", nested(MIB as usize), Some("too-complex")),
        (
            "8 MiB of [[]]",
            nested(8 * MIB as usize),
            Some("too-complex"),
        ),
        ("512 KiB of DEL in a list", dels(MIB as usize / 2), None),
        (
            "1 MiB of DEL in a list",
            dels(MIB as usize),
            Some("server-busy"),
        ),
        ("2 MiB of escapes", escapes(2 * MIB as usize), None),
    ];
    for (name, request, code) in cases {
        // A debug build decodes megabytes slowly, and more so on a loaded machine and
        // through TLS: the reply is waited for with a deadline, not the usual read timeout.
        let mut sock = server.connect();
        sock.write_all(&request).unwrap();
        let reply = reply_within(&mut sock, EXPENSIVE).unwrap_or_else(|| {
            panic!(
                "{name}: no reply within {EXPENSIVE:?}; log:\n{}",
                server.stderr()
            )
        });
        let peak = peak_rss(server.pid());
        assert!(
            peak <= budget + SLACK,
            "{name}: the server's peak resident memory is {:.1} MiB, beyond the budget of {} MiB and {} MiB",
            peak as f64 / MIB as f64,
            BUDGET / MIB,
            SLACK / MIB
        );
        assert_eq!(reply.error_code().as_deref(), code, "{name}");
    }
}

also_over_tls!(
    expensive_requests_are_refused_and_the_limits_are_exact,
    other_clients_are_served_between_expensive_requests,
    peak_memory_stays_within_the_budget,
);
