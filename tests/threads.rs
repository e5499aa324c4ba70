//! libthread: `--threads N` runs N event loops that are one server. Many clients are served
//! and every loop takes some; `--max-clients` and `--max-buffered` are limits of the whole
//! server; SIGTERM drains every loop within `--grace`; a loop that panics brings the whole
//! server down with status 1. Each test names its `--threads`, so the suite's
//! `SERVER_THREADS` does not change them.

mod common;

use common::harness::Scratch;
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

const RING: &str = "In the caves beneath the Misty Mountains. \u{1f48d}";
const MIB: usize = 1 << 20;

/// Waits (bounded) until the log holds `needle` at least `count` times.
fn wait_log_count(server: &Server, needle: &str, count: usize) -> String {
    let end = Instant::now() + IO_TIMEOUT;
    loop {
        let log = server.stderr();
        if log.matches(needle).count() >= count {
            return log;
        }
        assert!(Instant::now() < end, "{needle:?} not {count} times:\n{log}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// What each loop said it accepted, from its last log line (`loop I: N connections
/// accepted`), by loop number.
fn accepted_per_loop(log: &str, threads: usize) -> Vec<u64> {
    (0..threads)
        .map(|i| {
            let prefix = format!("loop {i}: ");
            let line = log
                .lines()
                .find_map(|line| line.split_once(&prefix).map(|(_, rest)| rest))
                .unwrap_or_else(|| panic!("no line from loop {i}:\n{log}"));
            line.strip_suffix(" connections accepted")
                .unwrap_or_else(|| panic!("{line}"))
                .parse()
                .unwrap()
        })
        .collect()
}

/// Eight client threads, each making 25 one-shot searches and 25 more on one keep-alive
/// connection, against N loops: every reply is right, the loops together accepted exactly
/// the 208 connections, every loop accepted some (the kernel spreads them), and SIGTERM ends
/// the server with status 0.
fn many_clients_on(threads: usize) {
    let n = threads.to_string();
    let mut server = Server::start(&["--threads", &n, "-c", "300", "--max-per-host", "300"]);
    let keep_alive = json_request(
        r#"{"action": "search", "value": "ring"}"#,
        ", \"keep-alive\": true",
    );
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..25 {
                    assert_eq!(exchange(&server, &search("ring")).result(), RING);
                }
                let mut sock = server.connect();
                for _ in 0..25 {
                    sock.write_all(&keep_alive).unwrap();
                    assert_eq!(read_reply(&mut sock).result(), RING);
                }
            });
        }
    });
    server.signal(libc::SIGTERM);
    assert_eq!(server.wait_exit(Duration::from_secs(10)).code(), Some(0));
    let log = server.stderr();
    let accepted = accepted_per_loop(&log, threads);
    assert_eq!(accepted.iter().sum::<u64>(), 8 * 26, "{accepted:?}");
    assert!(
        accepted.iter().all(|&n| n > 0),
        "a loop took nothing: {accepted:?}"
    );
    assert!(!log.contains(&format!("loop {threads}:")), "{log}");
}

#[test]
fn many_clients_are_served_by_every_one_of_two_loops() {
    many_clients_on(2);
}

#[test]
fn many_clients_are_served_by_every_one_of_four_loops() {
    many_clients_on(4);
}

#[test]
fn one_loop_serves_them_all_alone() {
    many_clients_on(1);
}

/// `max` clients from five hosts hold every slot, each busy with half a request; then ten
/// newcomers, spread over the loops by the kernel, are all told `server-full` with the
/// whole server's count, and the `max` are served once they finish.
fn the_whole_server_is_full(threads: usize, max: usize) {
    let (n, max_text) = (threads.to_string(), max.to_string());
    let server = Server::start(&[
        "--threads",
        &n,
        "-c",
        &max_text,
        "--max-per-host",
        &max_text,
    ]);
    let mut busy: Vec<TcpStream> = (0..max)
        .map(|i| {
            let mut sock = server.connect_from([127, 0, 0, 2 + (i % 5) as u8]);
            sock.write_all(&search("ring")[..7]).unwrap();
            sock
        })
        .collect();
    server.wait_all_read(max);
    wait_log_count(&server, "accepted connection", max);

    for _ in 0..10 {
        let mut extra = server.connect_from([127, 0, 0, 7]);
        let reply = read_reply(&mut extra);
        assert_eq!(reply.error_code().as_deref(), Some("server-full"));
        assert_eq!(
            reply.result(),
            format!("Error: server full ({max} clients).")
        );
        assert_closed(&mut extra);
    }

    for sock in &mut busy {
        sock.write_all(&search("ring")[7..]).unwrap();
    }
    for sock in &mut busy {
        assert_eq!(read_reply(sock).result(), RING);
    }
}

#[test]
fn the_twenty_sixth_client_of_two_loops_is_refused() {
    the_whole_server_is_full(2, 25);
}

#[test]
fn the_fifth_busy_client_of_two_loops_is_refused() {
    the_whole_server_is_full(2, 4);
}

#[test]
fn the_fifth_busy_client_of_four_loops_is_refused() {
    the_whole_server_is_full(4, 4);
}

/// Four slots on two loops, filled with idle connections (a host each), opened one at a time:
/// each of eight newcomers (also left idle) gets a slot by closing the connection idle
/// longest, whichever loop it lives on, which reads `server-full`; so the connections go in
/// the order they came, the four first and then the first four newcomers, and the last four
/// still hold their slots. (Over eight newcomers, the kernel puts some on the other loop than
/// the one to be closed: the wake-up between loops is what closes it.)
#[test]
fn room_is_made_on_the_loop_that_holds_the_connection_idle_longest() {
    let server = Server::start(&["--threads", "2", "-c", "4"]);
    let mut all: Vec<TcpStream> = Vec::new();
    for i in 0..12 {
        let sock = server.connect_from([127, 0, 0, 2 + i as u8]);
        let me = sock.local_addr().unwrap();
        server.wait_log(&format!("accepted connection from {me}"));
        all.push(sock);
        if i >= 4 {
            // The newcomer took the slot of the one idle longest, on whichever loop.
            let victim = &mut all[i - 4];
            let reply = read_reply(victim);
            assert_eq!(
                reply.error_code().as_deref(),
                Some("server-full"),
                "newcomer {i}"
            );
            assert_closed(victim);
        }
    }
    for sock in &mut all[8..] {
        assert!(reply_within(sock, Duration::from_millis(20)).is_none());
    }
    let log = wait_log_count(&server, "closed while idle, to make room", 8);
    assert_eq!(
        log.matches("closed while idle, to make room").count(),
        8,
        "{log}"
    );
}

/// `text/json` content of exactly `len` bytes.
fn padded(len: usize) -> Vec<u8> {
    let mut content = br#"{"action": "search", "pad": ""#.to_vec();
    content.resize(len - 2, b'x');
    content.extend_from_slice(b"\"}");
    content
}

/// A budget of 2 MiB on two loops: two clients announcing a mebibyte hold it all, and the
/// next eight, wherever the kernel puts them, are told `server-busy` at once; the two are
/// answered when they finish, and the budget is free again after.
#[test]
fn the_memory_budget_is_the_whole_servers() {
    let server = Server::start(&[
        "--threads",
        "2",
        "--max-content-length",
        &MIB.to_string(),
        "--max-buffered",
        &(2 * MIB).to_string(),
    ]);
    let request = frame(&header("text/json", "utf-8", MIB, ""), &padded(MIB));
    let part = 32 * 1024;
    let mut admitted: Vec<TcpStream> = (0..2)
        .map(|_| {
            let mut sock = server.connect();
            sock.write_all(&request[..part]).unwrap();
            sock
        })
        .collect();
    server.wait_all_read(2);

    for _ in 0..8 {
        let mut sock = server.connect();
        sock.write_all(&request[..part]).unwrap();
        let reply = read_reply(&mut sock);
        assert_eq!(
            reply.error_code().as_deref(),
            Some("server-busy"),
            "{}",
            reply.result()
        );
    }

    for sock in &mut admitted {
        sock.write_all(&request[part..]).unwrap();
    }
    for sock in &mut admitted {
        let reply = read_reply(sock);
        assert!(reply.error_code().is_none(), "{}", reply.result());
    }
    drop(admitted);
    // Both reservations are given back: a mebibyte is admitted again (retried while the
    // loops process the closes).
    for attempt in 0.. {
        let mut sock = server.connect();
        sock.write_all(&request).unwrap();
        if read_reply(&mut sock).error_code().is_none() {
            break;
        }
        assert!(attempt < 100, "the budget was not given back");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Four loops with a reply of 4 MiB under way on eight connections, too big for the sockets'
/// buffers, and eight idle connections: SIGTERM stops every listener at once (a new client is
/// refused), every idle connection is closed, every reply is finished, every loop says
/// `shutdown complete`, and the server exits 0.
#[test]
fn sigterm_drains_every_loop_within_the_grace_period() {
    let big = "y".repeat(4 << 20);
    let scratch = Scratch::new("table");
    let table = scratch.file("drain-table.json", &format!("{{\"big\": \"{big}\"}}"));
    let mut server = Server::start(&[
        "--threads",
        "4",
        "--grace",
        "20",
        "-c",
        "100",
        "--max-per-host",
        "100",
        "--table",
        table.to_str().unwrap(),
    ]);
    let mut replying: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut sock = server.connect();
            sock.write_all(&search("big")).unwrap();
            sock
        })
        .collect();
    let mut idle: Vec<TcpStream> = (0..8).map(|_| server.connect()).collect();
    wait_log_count(&server, "received request", 8);
    wait_log_count(&server, "accepted connection", 16);

    server.signal(libc::SIGTERM);
    server.wait_log("shutting down");
    let refused = TcpStream::connect_timeout(&server.connect_addr(), IO_TIMEOUT);
    assert!(refused.is_err(), "still accepting after SIGTERM");
    for sock in &mut idle {
        assert_closed(sock);
    }
    for sock in &mut replying {
        assert_eq!(read_reply(sock).result(), big);
        assert_closed(sock);
    }
    assert_eq!(server.wait_exit(Duration::from_secs(10)).code(), Some(0));
    let log = server.stderr();
    assert_eq!(log.matches("shutdown complete").count(), 4, "{log}");
    assert!(!log.contains("grace period over"), "{log}");
}

/// Whether a search on a new connection is answered (`false`: the connection was closed or
/// reset without a reply, as when the loop that took it panicked).
fn answered(server: &Server) -> bool {
    let Ok(mut sock) = TcpStream::connect_timeout(&server.connect_addr(), IO_TIMEOUT) else {
        return false;
    };
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    if sock.write_all(&search("ring")).is_err() {
        return false;
    }
    let mut reply = Vec::new();
    match sock.read_to_end(&mut reply) {
        Ok(_) => !reply.is_empty(),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => false,
        Err(e) => panic!("no reply and no close: {e}"),
    }
}

/// With `SERVER_TEST_PANIC_IN_LOOP=LOOP`, that loop panics at its first connection: the
/// panic is logged with the loop's number, the other loops shut down, and the process exits
/// with status 1 instead of serving on, half alive.
fn a_panic_in(threads: usize, panicking: usize) {
    let (n, which) = (threads.to_string(), panicking.to_string());
    let mut server = Server::start_with_env(
        &["--threads", &n],
        &[("SERVER_TEST_PANIC_IN_LOOP", which.as_str())],
    );
    // New connections until one lands on the panicking loop (one in N does).
    let mut tries = 0;
    while answered(&server) {
        tries += 1;
        assert!(tries < 200, "no connection reached loop {panicking}");
    }
    assert_eq!(server.wait_exit(Duration::from_secs(10)).code(), Some(1));
    let log = server.stderr();
    let failed =
        format!("loop {panicking} failed: panicked: SERVER_TEST_PANIC_IN_LOOP={panicking}");
    assert!(log.contains(&failed), "{log}");
    assert!(log.contains("stopping the other loops"), "{log}");
    assert_eq!(
        log.matches("another loop failed: shutting down").count(),
        threads - 1,
        "{log}"
    );
    assert!(
        TcpStream::connect_timeout(&server.connect_addr(), IO_TIMEOUT).is_err(),
        "something still listens"
    );
}

#[test]
fn a_panic_in_one_of_two_loops_stops_the_server_with_status_1() {
    a_panic_in(2, 1);
}

#[test]
fn a_panic_in_one_of_four_loops_stops_the_server_with_status_1() {
    a_panic_in(4, 2);
}

#[test]
fn a_panic_in_the_only_loop_stops_the_server_with_status_1() {
    a_panic_in(1, 0);
}
