//! What the load bench and the soak share: a child server and its memory (from the harness the
//! tests use too, `tests/harness/mod.rs`), the open-files limit, request frames as the
//! original client writes them, reading a reply, held idle connections, and the p99 of a set
//! of latencies.
// Each bench uses most of this module, not all of it.
#![allow(dead_code)]

#[path = "../../tests/harness/mod.rs"]
mod harness;

pub use harness::{frame, Spawned};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single connect, read or write may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's answer to `search morpheus`.
pub const MORPHEUS: &str = "{\"result\": \"Follow the white rabbit. \u{1f430}\"}";

pub fn verdict(ok: bool) -> &'static str {
    if ok {
        "ok"
    } else {
        "MISSED"
    }
}

/// Raises this process's soft open-files limit to its hard limit (children inherit it), and
/// returns it.
pub fn raise_open_files_limit() -> libc::rlim_t {
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
    limit.rlim_cur
}

/// The request the original app-client sends for `search morpheus`.
pub fn request(keep_alive: bool) -> Vec<u8> {
    text_json_frame(br#"{"action": "search", "value": "morpheus"}"#, keep_alive)
}

/// A `text/json` frame as the original writes it, with `"keep-alive": true` when asked.
pub fn text_json_frame(content: &[u8], keep_alive: bool) -> Vec<u8> {
    let extra = if keep_alive {
        ", \"keep-alive\": true"
    } else {
        ""
    };
    frame(
        &harness::header("text/json", "utf-8", content.len(), extra),
        content,
    )
}

/// Reads one reply frame into `buf` (its content, in the end); returns the content length.
pub fn read_reply(sock: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut proto = [0u8; 2];
    sock.read_exact(&mut proto)?;
    buf.resize(u16::from_be_bytes(proto) as usize, 0);
    sock.read_exact(buf)?;
    let header = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
    let len: usize = header
        .split("\"content-length\": ")
        .nth(1)
        .and_then(|rest| rest.split([',', '}']).next())
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| std::io::Error::other("no content-length"))?;
    buf.resize(len, 0);
    sock.read_exact(buf)?;
    Ok(len)
}

/// A connection with read and write timeouts of `IO_TIMEOUT`.
pub fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    sock.set_read_timeout(Some(IO_TIMEOUT))?;
    sock.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(sock)
}

/// One `search morpheus` on a new connection: the reply must be the table's answer, and the
/// server must close after it.
pub fn search_once(addr: SocketAddr, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let mut sock = connect(addr)?;
    sock.write_all(&request(false))?;
    read_reply(&mut sock, buf)?;
    if buf != MORPHEUS.as_bytes() {
        return Err(std::io::Error::other(format!(
            "wrong reply {:?}",
            String::from_utf8_lossy(buf)
        )));
    }
    let mut rest = [0u8; 1];
    match sock.read(&mut rest)? {
        0 => Ok(()),
        _ => Err(std::io::Error::other("bytes after the reply")),
    }
}

/// Idle connections held open to a server.
pub struct Idle {
    pub socks: Vec<TcpStream>,
    /// The growth of the server's resident memory, per connection, in bytes.
    pub per_connection: f64,
    /// How long opening them took, until the server had accepted them all.
    pub took: Duration,
    /// Connections that took over half a second to open: their first SYN was dropped (the
    /// listen queue was full) and sent again a second later.
    pub slow_connects: usize,
}

/// Opens up to `n` idle connections to the server (giving up after `within`) and measures
/// the growth of its resident memory per connection. The connections stay open.
pub fn hold_idle(server: &Spawned, n: usize, within: Duration) -> Idle {
    let before = server.rss_kib();
    let fds_before = server.open_fds();
    let started = Instant::now();
    let deadline = started + within;
    let mut socks = Vec::with_capacity(n);
    let mut slow_connects = 0;
    while socks.len() < n {
        if Instant::now() >= deadline {
            eprintln!(
                "gave up after {} idle connections in {within:?}",
                socks.len()
            );
            break;
        }
        let connecting = Instant::now();
        match TcpStream::connect_timeout(&server.addr, IO_TIMEOUT) {
            Ok(sock) => {
                socks.push(sock);
                if connecting.elapsed() > Duration::from_millis(500) {
                    slow_connects += 1;
                }
            }
            Err(e) => {
                eprintln!("idle connection {} failed: {e}", socks.len());
                break;
            }
        }
    }
    // Every idle connection is accepted once the server holds a descriptor for each; then it
    // still answers a request on a newer one.
    if !server.wait_fds(fds_before + socks.len(), IO_TIMEOUT) {
        eprintln!("the server did not accept every idle connection in {IO_TIMEOUT:?}");
    }
    let probe = || {
        let mut probe = connect(server.addr)?;
        probe.write_all(&request(false))?;
        read_reply(&mut probe, &mut Vec::new())
    };
    if let Err(e) = probe() {
        eprintln!("no reply on a connection after the idle ones: {e}");
    }
    let took = started.elapsed();
    thread::sleep(Duration::from_millis(200));
    let after = server.rss_kib();
    let per_connection = (after.saturating_sub(before) * 1024) as f64 / socks.len().max(1) as f64;
    Idle {
        socks,
        per_connection,
        took,
        slow_connects,
    }
}

/// The 99th percentile (nearest rank below) of `latencies`, or zero if there are none.
pub fn p99(latencies: &[Duration]) -> Duration {
    let mut sorted = latencies.to_vec();
    sorted.sort_unstable();
    sorted
        .get(sorted.len().saturating_sub(1) * 99 / 100)
        .copied()
        .unwrap_or_default()
}
