//! Sharing the slots: one address cannot take them all, a full server makes room by closing
//! the connection idle longest, keep-alive connections are bounded, and refusals are logged
//! once a second. Several hosts are modelled by binding clients to 127.0.0.2, 127.0.0.3, ...

mod common;

use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const RING: &str = "In the caves beneath the Misty Mountains. \u{1f48d}";

/// A keep-alive search, as the original client writes it plus the keep-alive member.
fn keep_alive_search() -> Vec<u8> {
    json_request(
        r#"{"action": "search", "value": "ring"}"#,
        ", \"keep-alive\": true",
    )
}

/// One host holds 25 idle connections against the default 25 slots: it gets its share (13),
/// the rest of its connections are told `server-full`, and a second host is served every
/// time. (Before the share, the 25 took every slot and the second host was refused.)
#[test]
fn one_host_with_idle_connections_cannot_deny_another() {
    let server = Server::start(&["-c", "25"]);
    let mut hog: Vec<TcpStream> = (0..25)
        .map(|_| server.connect_from([127, 0, 0, 2]))
        .collect();
    server.wait_all_read(13);
    let refused = hog
        .iter_mut()
        .filter_map(|sock| reply_within(sock, Duration::from_millis(200)))
        .inspect(|reply| assert_eq!(reply.error_code().as_deref(), Some("server-full")))
        .count();
    assert_eq!(refused, 12, "the hog kept more than its share");
    for _ in 0..10 {
        let mut sock = server.connect_from([127, 0, 0, 3]);
        sock.write_all(&search("ring")).unwrap();
        assert_eq!(read_reply(&mut sock).result(), RING);
    }
    let log = server.wait_log("server full for your address");
    assert!(log.contains("127.0.0.2"), "{log}");
}

/// Five hosts hold five idle connections each and fill the server; a sixth host is served
/// anyway, on the slot of the connection idle longest, which is told `server-full`.
#[test]
fn a_full_server_closes_the_connection_idle_longest_for_a_newcomer() {
    let server = Server::start(&["-c", "25"]);
    let mut idle: Vec<TcpStream> = Vec::new();
    for host in 2..7 {
        for _ in 0..5 {
            idle.push(server.connect_from([127, 0, 0, host]));
            if idle.len() == 1 {
                // Idle since its accept: with several loops, a later connection could be
                // accepted first by another loop, so the first is waited for.
                let first = idle[0].local_addr().unwrap();
                server.wait_log(&format!("accepted connection from {first}"));
            }
        }
    }
    server.wait_all_read(25);
    let mut newcomer = server.connect_from([127, 0, 0, 7]);
    newcomer.write_all(&search("ring")).unwrap();
    assert_eq!(read_reply(&mut newcomer).result(), RING);
    // The first connection was the one idle longest.
    let reply = read_reply(&mut idle[0]);
    assert_eq!(reply.error_code().as_deref(), Some("server-full"));
    assert_closed(&mut idle[0]);
    server.wait_log("closed while idle, to make room");
    // The others still hold their slots.
    for sock in &mut idle[1..] {
        assert!(reply_within(sock, Duration::from_millis(20)).is_none());
    }
}

/// Four hosts each hold a keep-alive connection and send a search on it again and again,
/// never idle long enough to time out, against four slots. Probes from a fifth host are all
/// served: a keep-alive connection between two requests is idle, and makes room.
#[test]
fn keep_alive_holders_do_not_keep_probes_out() {
    let server = Server::start(&["-q", "-c", "4", "--timeout", "3"]);
    let mut holders: Vec<TcpStream> = (2..6)
        .map(|host| {
            let mut sock = server.connect_from([127, 0, 0, host]);
            sock.write_all(&keep_alive_search()).unwrap();
            assert_eq!(read_reply(&mut sock).result(), RING);
            sock
        })
        .collect();
    let mut served = 0;
    for _ in 0..20 {
        // The holders go on asking (those still connected).
        holders.retain_mut(|sock| {
            sock.write_all(&keep_alive_search()).is_ok()
                && matches!(reply_within(sock, Duration::from_secs(1)),
                            Some(reply) if reply.error_code().is_none())
        });
        let mut probe = server.connect_from([127, 0, 0, 9]);
        probe.write_all(&search("ring")).unwrap();
        let reply = read_reply(&mut probe);
        if reply.error_code().is_none() {
            assert_eq!(reply.result(), RING);
            served += 1;
        }
        // Holders whose slot went to a probe come back, as such a client would.
        while holders.len() < 4 {
            let host = 2 + holders.len() as u8;
            let mut sock = server.connect_from([127, 0, 0, host]);
            sock.write_all(&keep_alive_search()).unwrap();
            if read_reply(&mut sock).error_code().is_some() {
                break;
            }
            holders.push(sock);
        }
    }
    assert_eq!(served, 20, "probes were kept out");
}

/// A keep-alive connection waits `--keep-alive-timeout` for its next request, not
/// `--timeout`; and after `--keep-alive-lifetime` its next reply is the last.
#[test]
fn keep_alive_connections_have_an_idle_timeout_and_a_lifetime() {
    let server = Server::start(&[
        "--timeout",
        "20",
        "--keep-alive-timeout",
        "0.5",
        "--keep-alive-lifetime",
        "1",
    ]);
    let mut sock = server.connect();
    sock.write_all(&keep_alive_search()).unwrap();
    let reply = read_reply(&mut sock);
    assert_eq!(reply.fields["keep-alive"], true);
    // Idle: the timeout reply comes after the keep-alive timeout, well before --timeout.
    let reply = read_reply(&mut sock);
    assert_eq!(reply.error_code().as_deref(), Some("timeout"));
    assert_eq!(
        reply.result(),
        "Error: timed out after 0.5 s without a complete request."
    );
    assert_closed(&mut sock);

    // Busy: answered with keep-alive until the lifetime is over, then closed after a reply.
    // Not before its lifetime: it is still kept alive after an idle connection opened after
    // it has timed out (the keep-alive timeout is half the lifetime).
    let mut busy = server.connect();
    busy.write_all(&keep_alive_search()).unwrap();
    assert_eq!(read_reply(&mut busy).fields["keep-alive"], true);
    let mut idle = server.connect();
    idle.write_all(&keep_alive_search()).unwrap();
    assert_eq!(read_reply(&mut idle).fields["keep-alive"], true);
    let mut idle_timed_out = false;
    let mut kept_after_timeout = 0;
    let closed = wait_until(IO_TIMEOUT, || {
        // Whether the idle connection had timed out before this request was sent.
        let timed_out = idle_timed_out;
        busy.write_all(&keep_alive_search()).unwrap();
        let reply = read_reply(&mut busy);
        assert_eq!(reply.result(), RING);
        if reply.fields.get("keep-alive").is_none() {
            return true;
        }
        kept_after_timeout += usize::from(timed_out);
        if !idle_timed_out && answered(&idle) {
            let reply = read_reply(&mut idle);
            assert_eq!(reply.error_code().as_deref(), Some("timeout"));
            idle_timed_out = true;
        }
        false
    });
    assert!(closed, "never closed after its lifetime");
    assert_closed(&mut busy);
    assert!(
        idle_timed_out,
        "closed before the idle connection timed out"
    );
    assert!(
        kept_after_timeout >= 1,
        "closed before its lifetime: no reply kept alive after the idle timeout"
    );
}

/// Every slot busy with a request under way: a newcomer is refused, and a flood of them is
/// logged once a second with a count, not once each.
#[test]
fn refusals_are_logged_once_a_second_with_a_count() {
    const FLOOD: usize = 300;
    let server = Server::start(&["-c", "1"]);
    let mut busy = server.connect_from([127, 0, 0, 2]);
    busy.write_all(&search("ring")[..7]).unwrap();
    server.wait_all_read(1);
    for _ in 0..FLOOD {
        let mut sock = server.connect_from([127, 0, 0, 3]);
        let reply = read_reply(&mut sock);
        assert_eq!(reply.error_code().as_deref(), Some("server-full"));
        assert_eq!(reply.result(), "Error: server full (1 clients).");
    }
    let log = server.wait_log("more connections turned away");
    // Wait for the last count to be written (it is due a second after the line before).
    let end = Instant::now() + IO_TIMEOUT;
    let (lines, counted) = loop {
        let log = server.stderr();
        let lines = log.matches("refusing 127.0.0.3").count();
        let counted: usize = log
            .lines()
            .filter_map(|l| {
                let (_, rest) = l.split_once("] ")?;
                rest.split_once(" more connections turned away")?
                    .0
                    .parse::<usize>()
                    .ok()
            })
            .sum();
        if lines + counted == FLOOD || Instant::now() >= end {
            break (lines, counted);
        }
        thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(lines + counted, FLOOD, "{log}");
    assert!(lines < 10, "{lines} lines for {FLOOD} refusals:\n{log}");
}

/// A search carrying `password`.
fn search_with(password: &str) -> Vec<u8> {
    json_request(
        r#"{"action": "search", "value": "ring"}"#,
        &format!(", \"password\": \"{password}\""),
    )
}

/// Sends a search carrying `password` from the loopback address 127.0.0.`host`.
fn ask(server: &Server, host: u8, password: &str) -> TcpStream {
    let mut sock = server.connect_from([127, 0, 0, host]);
    sock.write_all(&search_with(password)).unwrap();
    sock
}

/// Whether `sock` has bytes to read (or its end), without blocking.
fn answered(sock: &TcpStream) -> bool {
    sock.set_nonblocking(true).unwrap();
    let ready = !matches!(sock.peek(&mut [0u8; 1]),
                          Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    sock.set_nonblocking(false).unwrap();
    ready
}

/// Which of `socks` is answered first (the poll's deadline only guards against a hang).
fn first_answered(socks: &[&TcpStream]) -> usize {
    let mut first = None;
    let done = wait_until(IO_TIMEOUT, || {
        first = socks.iter().position(|sock| answered(sock));
        first.is_some()
    });
    assert!(done, "none of {} connections answered", socks.len());
    first.unwrap()
}

/// Reads `sock`'s reply and checks it refuses a wrong password.
fn assert_wrong(sock: &mut TcpStream) {
    let reply = read_reply(sock);
    assert_eq!(reply.error_code().as_deref(), Some("wrong-password"));
}

/// Wrong passwords from one address hold its next answers back, longer each time (as the log
/// announces), while another address is answered at once; a right password is held too, and
/// then the count is forgotten. The log counts the wrong passwords rather than writing each.
///
/// No clock is read: each hold is shown by the order in which answers arrive. The guesser
/// (127.0.0.2) races a second guesser (127.0.0.4) one wrong password behind it, which asks
/// after it and is answered first; fresh addresses, held the least, measure the rest.
#[test]
fn wrong_passwords_slow_their_address_down_and_nobody_else() {
    const GUESSER: u8 = 2;
    const OTHER: u8 = 3;
    const BEHIND: u8 = 4;
    let server = Server::start(&["-p", "sesame-42"]);
    // The first wrong password is held, and logged in full with the time its answers are held;
    // an address with the right password asking meanwhile is answered first.
    let mut guesser = ask(&server, GUESSER, "guess");
    let mut other = ask(&server, OTHER, "sesame-42");
    assert_eq!(first_answered(&[&guesser, &other]), 1);
    assert_eq!(read_reply(&mut other).result(), RING);
    assert_wrong(&mut guesser);
    let log = server.wait_log("(1 in a row; its answers held ");
    let first: f64 = log
        .split("(1 in a row; its answers held ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("the announced hold");
    assert!(first > 0.0, "{log}");

    // Longer each time: the guesser's answer to its wrong password n + 1 comes after the
    // answer to the second guesser's n-th, asked later. Another address is still answered
    // at once.
    for round in 1..4 {
        let mut guesser = ask(&server, GUESSER, "guess");
        let mut behind = ask(&server, BEHIND, "guess");
        if round == 3 {
            let mut other = ask(&server, OTHER, "sesame-42");
            assert_eq!(first_answered(&[&guesser, &behind, &other]), 2);
            assert_eq!(read_reply(&mut other).result(), RING);
        }
        assert_eq!(
            first_answered(&[&guesser, &behind]),
            1,
            "wrong password {} held no longer than wrong password {round}",
            round + 1
        );
        assert_wrong(&mut behind);
        assert_wrong(&mut guesser);
    }

    // The right password from the guesser: held longer than a fresh address's first wrong
    // password asked after it; then forgotten, answered before one asked before it.
    let mut right = ask(&server, GUESSER, "sesame-42");
    let mut fresh = ask(&server, 5, "guess");
    assert_eq!(
        first_answered(&[&right, &fresh]),
        1,
        "the right password not held"
    );
    assert_wrong(&mut fresh);
    assert_eq!(read_reply(&mut right).result(), RING);
    let mut fresh = ask(&server, 6, "guess");
    let mut right = ask(&server, GUESSER, "sesame-42");
    assert_eq!(
        first_answered(&[&right, &fresh]),
        0,
        "still held after a right password"
    );
    assert_eq!(read_reply(&mut right).result(), RING);
    assert_wrong(&mut fresh);

    // Nine wrong passwords (four, three and two fresh): the lines in full and the counts add
    // up to nine.
    const WRONG: usize = 9;
    let mut tally = (0, 0);
    let added_up = wait_until(IO_TIMEOUT, || {
        let log = server.stderr();
        let full = log.matches("refused: wrong password").count();
        let counted: usize = log
            .lines()
            .filter_map(|l| {
                let (_, rest) = l.split_once("] ")?;
                rest.split_once(" more wrong passwords")?
                    .0
                    .parse::<usize>()
                    .ok()
            })
            .sum();
        tally = (full, counted);
        full + counted == WRONG
    });
    let (full, counted) = tally;
    assert!(
        added_up,
        "{full} + {counted} of {WRONG}:\n{}",
        server.stderr()
    );
    assert!(
        full < WRONG,
        "every wrong password logged in full:\n{}",
        server.stderr()
    );
}

also_over_tls!(
    keep_alive_connections_have_an_idle_timeout_and_a_lifetime,
    wrong_passwords_slow_their_address_down_and_nobody_else,
);
