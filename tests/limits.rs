//! Limits and failure: max clients, password, timeouts, bad tables, signals.

mod common;

use common::harness::Scratch;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const RING: &str = "In the caves beneath the Misty Mountains. \u{1f48d}";

/// Every slot busy with a request under way (25 clients from five hosts, each having sent
/// part of its request): the 26th client is turned away with `server-full`, and the 25 are
/// all served once they finish.
#[test]
fn twenty_five_busy_clients_and_the_twenty_sixth_is_refused() {
    let server = Server::start(&["-c", "25"]);
    let mut clients: Vec<TcpStream> = (0..25)
        .map(|i| {
            let mut sock = server.connect_from([127, 0, 0, 2 + (i % 5) as u8]);
            sock.write_all(&search("ring")[..7]).unwrap();
            sock
        })
        .collect();
    server.wait_all_read(25);
    let end = Instant::now() + IO_TIMEOUT;
    while server.stderr().matches("accepted connection").count() < 25 {
        assert!(Instant::now() < end, "not all 25 accepted");
        thread::sleep(Duration::from_millis(10));
    }

    let mut extra = server.connect_from([127, 0, 0, 7]);
    let reply = read_reply(&mut extra);
    assert_eq!(reply.error_code().as_deref(), Some("server-full"));
    assert_eq!(reply.result(), "Error: server full (25 clients).");
    assert_closed(&mut extra);
    server.wait_log("server full");

    // All 25 are served, concurrently.
    let handles: Vec<_> = clients
        .drain(..)
        .map(|mut sock| {
            thread::spawn(move || {
                sock.write_all(&search("ring")[7..]).unwrap();
                let reply = read_reply(&mut sock);
                assert_closed(&mut sock);
                reply.result()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), RING);
    }

    // Slots are free again: a new client is served (retry while the closes are processed).
    served_once_a_slot_frees(&server);
}

/// Retries a search until it is served rather than refused as full (the server processes the
/// closes that free slots in its own time); fails if no slot frees within about a second.
fn served_once_a_slot_frees(server: &Server) {
    for attempt in 0.. {
        let reply = exchange(server, &search("ring"));
        if reply.error_code().is_none() {
            assert_eq!(reply.result(), RING);
            return;
        }
        assert!(attempt < 50, "slot never freed");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_slot_frees_when_a_client_leaves() {
    let server = Server::start(&["-q", "-c", "1"]);
    let mut first = server.connect();
    first.write_all(&search("ring")[..7]).unwrap();
    server.wait_all_read(1);
    let mut second = server.connect_from([127, 0, 0, 2]);
    assert_eq!(
        read_reply(&mut second).error_code().as_deref(),
        Some("server-full")
    );
    drop(first);
    served_once_a_slot_frees(&server);
}

#[test]
fn password_right_wrong_and_missing() {
    let server = Server::start(&["-p", "sesame-42"]);
    let with = |pw: &str| {
        json_request(
            r#"{"action": "search", "value": "ring"}"#,
            &format!(", \"password\": \"{pw}\""),
        )
    };
    assert_eq!(exchange(&server, &with("sesame-42")).result(), RING);
    let reply = exchange(&server, &with("sesame-43"));
    assert_eq!(reply.error_code().as_deref(), Some("wrong-password"));
    assert_eq!(reply.result(), "Error: wrong password.");
    let reply = exchange(&server, &with(""));
    assert_eq!(reply.error_code().as_deref(), Some("wrong-password"));
    let reply = exchange(&server, &search("ring"));
    assert_eq!(reply.error_code().as_deref(), Some("password-required"));
    // Binary requests need it too.
    let reply = exchange(&server, &binary_request(b"abc", ""));
    assert_eq!(reply.error_code().as_deref(), Some("password-required"));
    let log = server.wait_log("wrong password");
    assert!(
        !log.contains("sesame"),
        "the password leaked into the log:\n{log}"
    );
}

#[test]
fn password_from_the_environment_and_not_from_a_missing_terminal() {
    let server = Server::start_with_env(&["-q"], &[("SERVER_PASSWORD", "from-env")]);
    let request = json_request(
        r#"{"action": "search", "value": "ring"}"#,
        ", \"password\": \"from-env\"",
    );
    assert_eq!(exchange(&server, &request).result(), RING);
    assert_eq!(
        exchange(&server, &search("ring")).error_code().as_deref(),
        Some("password-required")
    );

    // A bare -p with no terminal to prompt on is a clear start-up error.
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["-P", "0", "-p"])
        .env_remove("SERVER_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a value"), "{err}");
}

#[test]
fn which_password_source_wins() {
    let ring_with = |pw: &str| {
        json_request(
            r#"{"action": "search", "value": "ring"}"#,
            &format!(", \"password\": \"{pw}\""),
        )
    };
    let code = |server: &Server, request: &[u8]| exchange(server, request).error_code();

    // -p VALUE wins over SERVER_PASSWORD.
    let server = Server::start_with_env(
        &["-q", "-p", "from-cli"],
        &[("SERVER_PASSWORD", "from-env")],
    );
    assert_eq!(exchange(&server, &ring_with("from-cli")).result(), RING);
    assert_eq!(
        code(&server, &ring_with("from-env")).as_deref(),
        Some("wrong-password")
    );

    // A bare -p takes SERVER_PASSWORD, with no terminal to prompt on.
    let server = Server::start_with_env(&["-q", "-p"], &[("SERVER_PASSWORD", "from-env")]);
    assert_eq!(exchange(&server, &ring_with("from-env")).result(), RING);
    assert_eq!(
        code(&server, &search("ring")).as_deref(),
        Some("password-required")
    );

    // An empty SERVER_PASSWORD is not set: the server starts without a password, and says so.
    let server = Server::start_with_env(&[], &[("SERVER_PASSWORD", "")]);
    assert_eq!(exchange(&server, &search("ring")).result(), RING);
    server.wait_log("SERVER_PASSWORD is set but empty: ignored");

    // ... so a bare -p with it and no terminal still has nobody to ask.
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["-P", "0", "-p"])
        .env("SERVER_PASSWORD", "")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a value"), "{err}");

    // An empty password given on purpose is refused.
    let out = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["-P", "0", "-p", ""])
        .env_remove("SERVER_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("must not be empty"), "{err}");
}

#[test]
fn idle_and_slow_clients_time_out() {
    let server = Server::start(&["--timeout", "1"]);
    let mut idle = server.connect();
    let mut slow = server.connect();
    slow.write_all(&search("ring")[..7]).unwrap();
    let mut keep = server.connect();
    keep.write_all(&json_request(
        r#"{"action": "search", "value": "ring"}"#,
        ", \"keep-alive\": true",
    ))
    .unwrap();
    assert_eq!(read_reply(&mut keep).result(), RING);

    for sock in [&mut idle, &mut slow, &mut keep] {
        let reply = read_reply(sock);
        assert_eq!(reply.error_code().as_deref(), Some("timeout"));
        assert_eq!(
            reply.result(),
            "Error: timed out after 1 s without a complete request."
        );
        assert_closed(sock);
    }
    // (How long it took is the loop's business, checked by no wall clock here: each reply
    // says the 1 s it waited, and a read gives up after IO_TIMEOUT.)
    // The server itself is fine.
    assert_eq!(exchange(&server, &search("ring")).result(), RING);
}

#[test]
fn a_client_that_does_not_take_its_reply_times_out() {
    let big = "x".repeat(8 << 20);
    let scratch = Scratch::new("table");
    let table = scratch.file("big-table.json", &format!("{{\"big\": \"{big}\"}}"));
    let server = Server::start(&["--timeout", "1", "--table", table.to_str().unwrap()]);
    let mut sock = server.connect();
    sock.write_all(&search("big")).unwrap();
    server.wait_log("received request");
    // Polled until logged (the deadline is a second away), not slept through.
    server.wait_log("timed out before taking its reply");
    // Its reply is cut short: reading gives less than the whole frame, then the close.
    let mut got = Vec::new();
    let _ = sock.read_to_end(&mut got);
    assert!(got.len() < big.len(), "the whole reply arrived anyway");
}

#[test]
fn a_table_file_is_served() {
    let scratch = Scratch::new("table");
    let table = scratch.file(
        "table.json",
        r#"{"neo": "The One.", "trinity": "Dodge this. \u2764"}"#,
    );
    let server = Server::start(&["-q", "--table", table.to_str().unwrap()]);
    assert_eq!(exchange(&server, &search("neo")).result(), "The One.");
    assert_eq!(
        exchange(&server, &search("trinity")).result(),
        "Dodge this. \u{2764}"
    );
    assert_eq!(
        exchange(&server, &search("ring")).result(),
        "No match for 'ring'."
    );
}

#[test]
fn a_bad_table_is_a_clear_start_up_error() {
    let cases = [
        ("missing.json", None, "cannot read table"),
        ("garbage.json", Some("{nope"), "is not valid JSON"),
        (
            "list.json",
            Some("[1, 2]"),
            "must be a JSON object of strings",
        ),
        (
            "number.json",
            Some(r#"{"a": "b", "c": 3}"#),
            "the value of \"c\" is not a string",
        ),
    ];
    let scratch = Scratch::new("tables");
    for (name, content, message) in cases {
        let path = match content {
            Some(text) => scratch.file(name, text),
            None => scratch.path().join("no-such-dir/missing.json"),
        };
        let out = Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["-P", "0", "--table"])
            .arg(&path)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(out.stdout.is_empty(), "{name}: must not start listening");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{name}: {err}");
        assert!(err.contains(name), "{name}: the path is named: {err}");
    }
}

#[test]
fn sigterm_finishes_replies_under_way_and_exits_zero() {
    let big = "y".repeat(4 << 20);
    let scratch = Scratch::new("table");
    let table = scratch.file("sigterm-table.json", &format!("{{\"big\": \"{big}\"}}"));
    let mut server = Server::start(&["--table", table.to_str().unwrap()]);

    // A: its request is read, its 4 MiB reply cannot all fit in the socket buffers yet.
    let mut a = server.connect();
    a.write_all(&search("big")).unwrap();
    // B: idle. C: half a request.
    let mut b = server.connect();
    let mut c = server.connect();
    c.write_all(&search("ring")[..9]).unwrap();
    server.wait_log("received request");
    let end = Instant::now() + IO_TIMEOUT;
    while server.stderr().matches("accepted connection").count() < 3 {
        assert!(Instant::now() < end);
        thread::sleep(Duration::from_millis(10));
    }

    server.signal(libc::SIGTERM);
    server.wait_log("shutting down");

    // No new connection is taken.
    let refused = TcpStream::connect_timeout(&server.connect_addr(), IO_TIMEOUT);
    assert!(refused.is_err(), "still accepting after SIGTERM");
    // B is closed without a word; C's cut-short request is told why.
    assert_closed(&mut b);
    let reply = read_reply(&mut c);
    assert_eq!(reply.error_code().as_deref(), Some("shutting-down"));
    // A gets its whole reply.
    let reply = read_reply(&mut a);
    assert_eq!(reply.result(), big);
    assert_closed(&mut a);

    let status = server.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    let log = server.stderr();
    assert!(log.contains("shutdown complete"), "{log}");
}

#[test]
fn sigint_on_an_idle_server_exits_zero() {
    let mut server = Server::start(&[]);
    server.signal(libc::SIGINT);
    assert_eq!(server.wait_exit(Duration::from_secs(5)).code(), Some(0));
    assert!(server.stderr().contains("shutdown complete"));
}

#[test]
fn the_grace_period_bounds_the_shutdown() {
    let big = "z".repeat(8 << 20);
    let scratch = Scratch::new("table");
    let table = scratch.file("grace-table.json", &format!("{{\"big\": \"{big}\"}}"));
    let mut server = Server::start(&["--grace", "0.5", "--table", table.to_str().unwrap()]);
    let mut sock = server.connect();
    sock.write_all(&search("big")).unwrap();
    server.wait_log("received request");
    server.signal(libc::SIGTERM);
    // The client never reads: the server gives up after the grace period (its log says so),
    // still exiting 0, well within the bounded wait.
    assert_eq!(server.wait_exit(Duration::from_secs(5)).code(), Some(0));
    assert!(server.stderr().contains("grace period over"));
    drop(sock);
}

/// Runs the server under a pseudo-terminal (Python's `pty` module), as an operator would
/// start it: `server -P 0 -p` must prompt, read the password without echoing it, and then
/// serve with it. The script answers the prompt, reads the `listening on` line, makes one
/// request with the password and one without, and stops the server with SIGTERM.
const PROMPT_ON_A_TERMINAL: &str = r#"
import os, pty, select, signal, socket, struct, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.environ.pop("SERVER_PASSWORD", None)
    os.execv(sys.argv[1], [sys.argv[1], "-P", "0", "-p"])
seen = b""
def read_until(needle, seconds=5):
    global seen
    deadline = time.monotonic() + seconds
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 1024)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return needle in seen
def ask(password):
    content = b'{"action": "search", "value": "ring"}'
    header = ('{"byteorder": "little", "content-type": "text/json", '
              '"content-encoding": "utf-8", "content-length": %d%s}'
              % (len(content), password)).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(struct.pack(">H", len(header)) + header + content)
        reply = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                return reply
            reply += chunk
try:
    assert read_until(b"Set the password: "), seen
    os.write(fd, b"pty-secret\n")
    assert read_until(b"listening on 127.0.0.1:"), seen
    assert read_until(b"\n"), seen
    line = seen[seen.index(b"listening on"):].split(b"\n")[0]
    port = int(line.strip().rsplit(b":", 1)[1])
    assert b"pty-secret" not in seen, "the password was echoed: %r" % seen
    assert b"Misty Mountains" in ask(', "password": "pty-secret"')
    assert b"password-required" in ask("")
    print("ok")
finally:
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
"#;

#[test]
fn a_bare_p_prompts_on_a_terminal_without_echo() {
    let out = match Command::new("python3")
        .args(["-c", PROMPT_ON_A_TERMINAL, env!("CARGO_BIN_EXE_server")])
        .stdin(Stdio::null())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("python3 not found: test skipped");
            return;
        }
        Err(e) => panic!("cannot run python3: {e}"),
    };
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok\n");
}

/// The server's data segment (`VmData`, in bytes): what it has allocated, touched or not.
fn data_size(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmData:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// A client that announces a 64 KiB JSON header and sends one byte of it makes the server
/// allocate for that byte, not for the 64 KiB announced.
#[test]
fn an_announced_header_length_is_not_allocated_up_front() {
    let server = Server::start(&["-q", "-c", "400", "--max-per-host", "400"]);
    let mut warm: Vec<TcpStream> = (0..20).map(|_| server.connect()).collect();
    for sock in &mut warm {
        sock.write_all(b"\xff\xff{").unwrap();
    }
    thread::sleep(Duration::from_millis(300));
    let before = data_size(server.pid());
    let mut clients: Vec<TcpStream> = (0..300).map(|_| server.connect()).collect();
    for sock in &mut clients {
        sock.write_all(b"\xff\xff{").unwrap();
    }
    // Bounded wait until the server has read them all (its memory stops growing).
    let mut grown = 0;
    for _ in 0..10 {
        thread::sleep(Duration::from_millis(100));
        grown = data_size(server.pid()).saturating_sub(before);
    }
    let per_client = grown / 300;
    assert!(
        per_client < 16 * 1024,
        "{per_client} bytes allocated per client that sent 3 bytes"
    );
    // They are all still served normally once they send the rest.
    assert_eq!(exchange(&server, &search("ring")).result(), RING);
}

/// The race a shutdown must survive, made deterministic by driving a `Message` by hand: a
/// request has arrived in full, but the signal is handled before the event that would have
/// read it. It counts as already read: it is answered, and then the connection closes.
#[test]
fn a_request_already_received_when_the_shutdown_begins_is_answered() {
    use libmessage::{Limits, Message, Next, Service, Table};
    let service = Service::new(Table::builtin(), None, Limits::default());
    let mut scratch = vec![0u8; 64 * 1024];
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // A client, and the server side of its connection as a `Message` driven by hand.
    let connected = || {
        let client = TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let (sock, peer) = listener.accept().unwrap();
        sock.set_nonblocking(true).unwrap();
        let message = Message::new(mio::net::TcpStream::from_std(sock), peer, &service);
        (client, message)
    };

    // A complete request waiting in the socket: answered, then closed.
    let (mut client, mut message) = connected();
    let request = json_request(
        r#"{"action": "search", "value": "ring"}"#,
        ", \"keep-alive\": true",
    );
    client.write_all(&request).unwrap();
    thread::sleep(Duration::from_millis(100));
    assert_eq!(message.shut_down(&mut scratch, &service), Next::Write);
    assert_eq!(message.on_writable(&service), Next::Close);
    drop(message);
    let reply = read_reply(&mut client);
    assert_eq!(reply.result(), RING);
    assert!(!reply.header.contains("keep-alive"), "{}", reply.header);
    assert_closed(&mut client);

    // Half a request: cut short with a last word.
    let (mut client, mut message) = connected();
    client.write_all(&request[..request.len() / 2]).unwrap();
    thread::sleep(Duration::from_millis(100));
    assert_eq!(message.shut_down(&mut scratch, &service), Next::Close);
    drop(message);
    assert_eq!(
        read_reply(&mut client).error_code().as_deref(),
        Some("shutting-down")
    );

    // Nothing sent yet: closed at once, nothing said.
    let (mut client, mut message) = connected();
    assert_eq!(message.shut_down(&mut scratch, &service), Next::Close);
    drop(message);
    assert_closed(&mut client);
}

/// The original's first reason for `SO_REUSEADDR`: a server restarted at once on the port it
/// used must be able to listen, although the connections it closed are still in TIME_WAIT on
/// that port. (The clients wait for the server's close before closing, so that the server is
/// the side that closed first, the one that keeps TIME_WAIT; without `SO_REUSEADDR`, Linux
/// then refuses to bind the port with "Address already in use".)
#[test]
fn a_restarted_server_listens_again_at_once_on_its_port() {
    use std::io::BufRead;
    let mut first = Server::start(&["-q"]);
    for _ in 0..3 {
        let mut sock = first.connect();
        sock.write_all(&search("ring")).unwrap();
        assert_eq!(read_reply(&mut sock).result(), RING);
        assert_closed(&mut sock);
    }
    let port = first.port();
    first.signal(libc::SIGTERM);
    assert_eq!(first.wait_exit(Duration::from_secs(5)).code(), Some(0));

    let mut again = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["-q", "-P", &port])
        .env_remove("SERVER_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(again.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = again.kill();
    let status = again.wait().unwrap();
    let mut stderr = String::new();
    again
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(
        line.trim(),
        format!("listening on 127.0.0.1:{port}"),
        "{status}: {stderr}"
    );
}

/// Out of file descriptors: a server whose hard limit is 24 descriptors fails to accept the
/// clients beyond it, and they wait in the kernel's queue. When accepted clients leave, the
/// queued ones must be accepted and served, although no new client arrives to make the
/// listener readable again (its events are edge-triggered).
#[test]
fn clients_queued_while_out_of_descriptors_are_served_when_some_leave() {
    use std::io::BufRead;
    let mut cmd = server_with_descriptors(24);
    let mut child = cmd.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::BufReader::new(stderr).read_to_string(&mut text);
        text
    });
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();

    // More clients than descriptors: the first ones are accepted, the rest stay queued.
    let held: Vec<TcpStream> = (0..24).map(|_| TcpStream::connect(addr).unwrap()).collect();
    thread::sleep(Duration::from_millis(300));
    let mut late = TcpStream::connect(addr).unwrap();
    late.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    late.write_all(&search("ring")).unwrap();
    thread::sleep(Duration::from_millis(300));

    // They all leave, freeing the descriptors of those accepted; nobody new connects.
    drop(held);
    let reply = read_reply(&mut late);

    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    let log = log.join().unwrap();
    assert!(log.contains("accept failed"), "{log}");
    assert_eq!(reply.result(), RING, "{log}");
}

also_over_tls!(
    password_right_wrong_and_missing,
    idle_and_slow_clients_time_out,
    an_announced_header_length_is_not_allocated_up_front,
    a_request_already_received_when_the_shutdown_begins_is_answered,
    clients_queued_while_out_of_descriptors_are_served_when_some_leave,
);
