//! The log: what a client puts in it is escaped and clipped, and a stderr nobody reads never
//! stops the server from serving.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const RING: &str = "In the caves beneath the Misty Mountains. \u{1f48d}";

/// Control characters in the `content-type`, the `content-encoding` and a request's value
/// reach the log escaped; a long value is cut, with its length said.
#[test]
fn what_a_client_sends_is_logged_escaped_and_clipped() {
    let server = Server::start(&[]);
    // A binary request whose content-type holds an escape sequence and a newline.
    let reply = exchange(
        &server,
        &frame(
            &header("binary/\\u001b[2Jevil\\nforged", "binary", 3, ""),
            b"abc",
        ),
    );
    assert_eq!(
        reply.fields["content-type"],
        "binary/custom-server-binary-type"
    );
    // A JSON request in an encoding with a carriage return and a bell.
    let reply = exchange(
        &server,
        &frame(&header("text/json", "utf\\r\\u0007-8", 2, ""), b"{}"),
    );
    assert_eq!(reply.error_code().as_deref(), Some("unsupported-encoding"));
    // A search for 100,000 characters.
    let long = "y".repeat(100_000);
    let reply = exchange(&server, &search(&long));
    assert!(reply.result().contains("No match"), "{}", reply.result());

    let log = server.wait_log("bytes in all");
    assert!(
        !log.contains('\u{1b}') && !log.contains('\u{7}') && !log.contains('\r'),
        "a raw control character reached the log:\n{log:?}"
    );
    assert!(log.contains(r"binary/\u{1b}[2Jevil\nforged"), "{log}");
    assert!(log.contains(r"utf\r\u{7}-8"), "{log}");
    let line = log
        .lines()
        .find(|l| l.contains("yyyy") && l.contains("received request"))
        .expect("the long request's line");
    assert!(line.len() < 2048, "a line of {} bytes", line.len());
    assert!(line.ends_with("bytes in all)"), "{line}");
}

/// The server's stderr is a pipe nobody reads. Requests whose log lines would fill it many
/// times over are all served; once the pipe is read, the log says how many lines it dropped.
#[test]
fn a_stderr_nobody_reads_does_not_stop_the_server() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["-P", "0"])
        .env_remove("RUST_LOG")
        .env_remove("SERVER_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn server");
    let unread = child.stderr.take().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();

    // Each search logs three lines, one of them clipped to a kilobyte: 3,000 of them make
    // about 3.5 MiB of log, beyond the pipe (64 KiB) and the server's queue (1 MiB) together.
    // (A server blocked on stderr stops answering: the first miss ends the loop.)
    let value = "z".repeat(2000);
    let served = (0..3000)
        .take_while(|_| {
            let mut sock = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
            sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
            sock.write_all(&search(&value)).unwrap();
            let mut proto = [0u8; 2];
            sock.read_exact(&mut proto).is_ok()
        })
        .count();
    // The last one, read whole.
    let mut sock = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.write_all(&search("ring")).unwrap();
    let last = read_reply(&mut sock).result();

    // Now read the pipe: what was queued comes out, then the count of what was dropped.
    let log = Arc::new(Mutex::new(String::new()));
    let reader = {
        let log = Arc::clone(&log);
        let mut unread = unread;
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = unread.read(&mut buf) {
                if n == 0 {
                    break;
                }
                log.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let end = Instant::now() + IO_TIMEOUT;
    while !log.lock().unwrap().contains("log lines dropped") && Instant::now() < end {
        thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    assert_eq!(
        served, 3000,
        "requests went unanswered while stderr was full"
    );
    assert_eq!(last, RING);
    let log = log.lock().unwrap();
    // The line as the log table of the limits chapter shows it: a line of its own, without
    // a level, `[server] N log lines dropped: ...`.
    let dropped = log.lines().find(|l| l.contains("log lines dropped"));
    let count = dropped
        .and_then(|l| l.strip_prefix("[server] "))
        .and_then(|l| l.strip_suffix(" log lines dropped: stderr was not read in time"));
    assert!(
        count.is_some_and(|n| n.parse::<u64>().is_ok_and(|n| n > 0)),
        "{}",
        &log[log.len().saturating_sub(2000)..]
    );
}
