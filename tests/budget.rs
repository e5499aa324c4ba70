//! The memory budget (`--max-buffered`): a thousand clients announcing 1 MiB each cannot push
//! the server past it, the ones beyond it are told `server-busy`, a good client is served
//! throughout, and reservations are given back when a reply is out and when a connection
//! closes.

mod common;

use common::*;
use libmessage::{Limits, Message, Next, Service, Table};
use std::io::{ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const RING: &str = "In the caves beneath the Misty Mountains. \u{1f48d}";
const MIB: usize = 1 << 20;

/// The server's resident memory (`VmRSS`), in bytes.
fn resident(pid: u32) -> u64 {
    common::harness::status_kib(pid, "VmRSS") * 1024
}

/// Raises this process's soft open-files limit to its hard limit: the test holds a thousand
/// sockets at once.
fn raise_open_files_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

/// `text/json` content of exactly `len` bytes: `{"action": ACTION, "pad": "xxx..."}`.
fn padded(action: &str, len: usize) -> Vec<u8> {
    let mut content = format!(r#"{{"action": "{action}", "pad": ""#).into_bytes();
    content.resize(len - 2, b'x');
    content.extend_from_slice(b"\"}");
    content
}

/// Whether a reply has begun to arrive on `sock`, without waiting and without consuming it.
fn reply_waiting(sock: &TcpStream) -> bool {
    sock.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let waiting = match sock.peek(&mut byte) {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) => panic!("peek: {e}"),
    };
    sock.set_nonblocking(false).unwrap();
    waiting
}

/// What the server's memory may grow by beyond the budget during the attack: a thousand
/// connections' slots and received headers (about half a MiB), the read buffer, and the
/// allocator's own slack.
const ALLOWANCE: u64 = 8 << 20;

/// A thousand clients each announce 1 MiB of JSON and send 32 KiB of it, against a budget of
/// 16 MiB: 16 are admitted and 984 refused with `server-busy` at once. The 16 then send all
/// but the last byte and stall, holding the whole budget. The server's resident memory stays
/// within the budget (plus a stated allowance), a good client asking all along is answered
/// every time, and once the stalled clients leave, a 1 MiB request is served again.
#[test]
fn a_thousand_clients_announcing_a_mebibyte_stay_within_the_budget() {
    const CLIENTS: usize = 1000;
    const BUDGET: usize = 16 * MIB;
    const PART: usize = 32 * 1024;
    const ADMITTED: usize = BUDGET / MIB;
    raise_open_files_limit();
    let server = Server::start(&[
        "-q",
        "-c",
        "1100",
        "--max-per-host",
        "1100",
        "--max-buffered",
        &BUDGET.to_string(),
    ]);
    assert_eq!(exchange(&server, &search("ring")).result(), RING);
    let baseline = resident(server.pid());

    let asking = AtomicBool::new(true);
    thread::scope(|scope| {
        // The good client: one search after another, each on a new connection, throughout.
        let good = scope.spawn(|| {
            let mut waits = Vec::new();
            while asking.load(Ordering::Relaxed) {
                let asked = Instant::now();
                assert_eq!(exchange(&server, &search("ring")).result(), RING);
                waits.push(asked.elapsed());
                thread::sleep(Duration::from_millis(10));
            }
            waits
        });

        // The attack: every client announces 1 MiB and sends the first 32 KiB of it.
        let opening = frame(
            &header("text/json", "utf-8", MIB, ""),
            &padded("search", MIB)[..PART],
        );
        let mut waiting: Vec<TcpStream> = (0..CLIENTS)
            .map(|_| {
                let mut sock = server.connect();
                sock.write_all(&opening).unwrap();
                sock
            })
            .collect();

        // The refused are told why at once; the admitted hear nothing.
        let busy = format!(
            "Error: server busy: {MIB} more bytes would exceed its limit of {BUDGET} bytes \
             held for requests."
        );
        let mut refused = 0;
        let end = Instant::now() + IO_TIMEOUT;
        while refused < CLIENTS - ADMITTED && Instant::now() < end {
            let (answered, silent): (Vec<_>, Vec<_>) = waiting.into_iter().partition(reply_waiting);
            for mut sock in answered {
                let reply = read_reply(&mut sock);
                assert_eq!(reply.error_code().as_deref(), Some("server-busy"));
                assert_eq!(reply.result(), busy);
                assert_closed(&mut sock);
                refused += 1;
            }
            waiting = silent;
            thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(refused, CLIENTS - ADMITTED, "refused with server-busy");
        assert_eq!(waiting.len(), ADMITTED);

        // The admitted send all but the last byte, and stall.
        let rest = &padded("search", MIB)[PART..MIB - 1];
        for sock in &mut waiting {
            sock.write_all(rest).unwrap();
        }
        let mut peak = 0;
        let end = Instant::now() + IO_TIMEOUT;
        for _ in 0..10 {
            while resident(server.pid()) < baseline + BUDGET as u64 * 3 / 4 && Instant::now() < end
            {
                thread::sleep(Duration::from_millis(20));
            }
            peak = peak.max(resident(server.pid()));
            thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "server RSS: {} KiB at rest, {} KiB with the budget of {} KiB held",
            baseline / 1024,
            peak / 1024,
            BUDGET / 1024
        );
        assert!(
            peak >= baseline + BUDGET as u64 * 3 / 4,
            "the admitted clients' content is held: {peak} bytes"
        );
        assert!(
            peak <= baseline + BUDGET as u64 + ALLOWANCE,
            "{peak} bytes resident, over {baseline} + {BUDGET} + {ALLOWANCE}"
        );

        // With the budget full: a search is answered, an 8 KiB request is not.
        assert_eq!(exchange(&server, &search("ring")).result(), RING);
        let medium = json_request(std::str::from_utf8(&padded("find", 8192)).unwrap(), "");
        let reply = exchange(&server, &medium);
        assert_eq!(reply.error_code().as_deref(), Some("server-busy"));
        for sock in &waiting {
            assert!(!reply_waiting(sock), "an admitted client was answered");
        }

        // The stalled clients leave: their reservations are given back, and a whole 1 MiB
        // request is served again (retrying while the server processes the closes).
        drop(waiting);
        let whole = json_request(std::str::from_utf8(&padded("find", MIB)).unwrap(), "");
        for attempt in 0.. {
            let reply = exchange(&server, &whole);
            if reply.error_code().is_none() {
                assert_eq!(reply.result(), "Error: invalid action 'find'.");
                break;
            }
            assert_eq!(reply.error_code().as_deref(), Some("server-busy"));
            assert!(attempt < 50, "the budget was never given back");
            thread::sleep(Duration::from_millis(20));
        }

        asking.store(false, Ordering::Relaxed);
        let mut waits = good.join().unwrap();
        waits.sort();
        eprintln!(
            "good client: {} searches answered, median {:?}, slowest {:?}",
            waits.len(),
            waits[waits.len() / 2],
            waits[waits.len() - 1]
        );
    });
}

/// A client and the server side of its connection, as a `Message` driven by hand.
fn connected(listener: &TcpListener, service: &Service) -> (TcpStream, Message) {
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    client.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    let (sock, peer) = listener.accept().unwrap();
    sock.set_nonblocking(true).unwrap();
    let message = Message::new(mio::net::TcpStream::from_std(sock), peer, service);
    (client, message)
}

/// Calls `step` until it returns something other than `waiting_for` (bounded).
fn drive(mut step: impl FnMut() -> Next, waiting_for: Next) -> Next {
    let end = Instant::now() + IO_TIMEOUT;
    loop {
        let next = step();
        if next != waiting_for || Instant::now() >= end {
            return next;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The accounting, connection by connection: a request holds its announced length from its
/// header on; one that does not fit is refused and holds nothing; a reply made for a request
/// holds its own length until it is sent; and a connection that closes mid-request gives
/// back what it held.
#[test]
fn reservations_are_given_back_when_the_reply_is_out_and_on_close() {
    let limits = Limits {
        max_buffered: 2 * MIB as u64,
        ..Limits::default()
    };
    let service = Service::new(Table::builtin(), None, limits);
    let mut scratch = vec![0u8; 64 * 1024];
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let keep_alive = ", \"keep-alive\": true";
    let big = padded("find", MIB);
    let opening = frame(&header("text/json", "utf-8", MIB, keep_alive), &big[..1000]);

    // Two requests of 1 MiB fill the budget from their headers on.
    let (mut a, mut at_a) = connected(&listener, &service);
    let (mut b, mut at_b) = connected(&listener, &service);
    for (held, client, message) in [(MIB, &mut a, &mut at_a), (2 * MIB, &mut b, &mut at_b)] {
        client.write_all(&opening).unwrap();
        let end = Instant::now() + IO_TIMEOUT;
        while service.buffered() < held as u64 && Instant::now() < end {
            assert_eq!(message.on_readable(&mut scratch, &service), Next::Read);
            thread::sleep(Duration::from_millis(5));
        }
    }
    assert_eq!(service.buffered(), 2 * MIB as u64);

    // A third does not fit: it is refused, and holds nothing.
    let (mut c, mut at_c) = connected(&listener, &service);
    c.write_all(&opening).unwrap();
    let next = drive(|| at_c.on_readable(&mut scratch, &service), Next::Read);
    assert_eq!(next, Next::Write);
    assert_eq!(at_c.on_writable(&service), Next::Close);
    drop(at_c);
    assert_eq!(
        read_reply(&mut c).error_code().as_deref(),
        Some("server-busy")
    );
    assert_eq!(service.buffered(), 2 * MIB as u64);

    // A closes mid-request: what it held is given back.
    drop(at_a);
    drop(a);
    assert_eq!(service.buffered(), MIB as u64);

    // B completes its request; its short reply holds nothing, and the connection stays.
    let sender = thread::spawn(move || {
        b.write_all(&big[1000..]).unwrap();
        b
    });
    let next = drive(|| at_b.on_readable(&mut scratch, &service), Next::Read);
    assert_eq!(next, Next::Write);
    assert_eq!(service.buffered(), 0);
    assert_eq!(at_b.on_writable(&service), Next::Read);
    let mut b = sender.join().unwrap();
    assert_eq!(read_reply(&mut b).result(), "Error: invalid action 'find'.");

    // A search that misses echoes its 100 KiB value: the reply holds its length until sent.
    let value = "y".repeat(100 * 1024);
    let miss = json_request(
        &format!(r#"{{"action": "search", "value": "{value}"}}"#),
        keep_alive,
    );
    let reader = thread::spawn(move || {
        b.write_all(&miss).unwrap();
        let reply = read_reply(&mut b);
        (b, reply)
    });
    let next = drive(|| at_b.on_readable(&mut scratch, &service), Next::Read);
    assert_eq!(next, Next::Write);
    let held = service.buffered();
    assert!(held > value.len() as u64, "the reply holds {held} bytes");
    let next = drive(|| at_b.on_writable(&service), Next::Write);
    assert_eq!(next, Next::Read);
    assert_eq!(service.buffered(), 0);
    let (_b, reply) = reader.join().unwrap();
    assert_eq!(reply.result(), format!("No match for '{value}'."));
}

/// A budget smaller than the largest request could never serve it: the server refuses to
/// start.
#[test]
fn a_budget_below_the_largest_request_is_a_start_up_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["-P", "0", "--max-content-length", "2000"])
        .args(["--max-buffered", "1000"])
        .env_remove("SERVER_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "must not start listening");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--max-buffered 1000 is smaller"), "{err}");
}
