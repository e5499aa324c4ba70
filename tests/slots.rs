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
    let mut sock = server.connect();
    let started = Instant::now();
    let mut kept = 0;
    loop {
        sock.write_all(&keep_alive_search()).unwrap();
        let reply = read_reply(&mut sock);
        assert_eq!(reply.result(), RING);
        if reply.fields.get("keep-alive").is_none() {
            break;
        }
        kept += 1;
        assert!(
            started.elapsed() < IO_TIMEOUT,
            "never closed after its lifetime"
        );
        thread::sleep(Duration::from_millis(100));
    }
    assert_closed(&mut sock);
    assert!(kept >= 1, "the first replies are kept alive");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "closed before its lifetime"
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

/// Wrong passwords from one address hold its next answers back, longer each time (as the log
/// announces), while another address is answered at once; a right password is held too, and
/// then the count is forgotten. The log counts the wrong passwords rather than writing each.
#[test]
fn wrong_passwords_slow_their_address_down_and_nobody_else() {
    let server = Server::start(&["-p", "sesame-42"]);
    let mut took = Vec::new();
    for round in 0..5 {
        let mut guesser = server.connect_from([127, 0, 0, 2]);
        let asked = Instant::now();
        guesser.write_all(&search_with("guess")).unwrap();
        if round == 4 {
            // While the fifth answer is held, another address is answered.
            let mut other = server.connect_from([127, 0, 0, 3]);
            other.write_all(&search_with("sesame-42")).unwrap();
            assert_eq!(read_reply(&mut other).result(), RING);
            assert!(
                reply_within(&mut guesser, Duration::from_millis(1)).is_none(),
                "the guesser was answered before the other address"
            );
        }
        let reply = read_reply(&mut guesser);
        took.push(asked.elapsed());
        assert_eq!(reply.error_code().as_deref(), Some("wrong-password"));
    }
    // The first wrong password is logged in full, with the time its answers are held.
    let log = server.wait_log("(1 in a row; its answers held ");
    let first: f64 = log
        .split("(1 in a row; its answers held ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("the announced hold");
    for (k, took) in took.iter().enumerate() {
        let announced = Duration::from_secs_f64(first * (1 << k) as f64);
        assert!(
            *took >= announced,
            "answer {k} after {took:?}, held {announced:?}"
        );
    }
    assert!(took.windows(2).all(|w| w[0] < w[1]), "{took:?}");

    // The right password from the guesser: held as long as the last, then forgotten.
    let mut sock = server.connect_from([127, 0, 0, 2]);
    let asked = Instant::now();
    sock.write_all(&search_with("sesame-42")).unwrap();
    assert_eq!(read_reply(&mut sock).result(), RING);
    assert!(
        asked.elapsed() >= took[4] - took[3],
        "{:?}",
        asked.elapsed()
    );
    let mut sock = server.connect_from([127, 0, 0, 2]);
    let asked = Instant::now();
    sock.write_all(&search_with("sesame-42")).unwrap();
    assert_eq!(read_reply(&mut sock).result(), RING);
    assert!(
        asked.elapsed() < took[0],
        "still held after a right password"
    );

    // Five wrong passwords: the lines in full and the counts add up to five.
    let end = Instant::now() + IO_TIMEOUT;
    loop {
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
        if full + counted == 5 {
            assert!(full < 5, "every wrong password logged in full:\n{log}");
            break;
        }
        assert!(Instant::now() < end, "{full} + {counted} of 5:\n{log}");
        thread::sleep(Duration::from_millis(50));
    }
}

also_over_tls!(
    keep_alive_connections_have_an_idle_timeout_and_a_lifetime,
    wrong_passwords_slow_their_address_down_and_nobody_else,
);
