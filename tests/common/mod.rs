//! Shared helpers: start the real `server` binary on an ephemeral loopback port, and speak the
//! protocol byte by byte, independently of the library under test.
#![allow(dead_code)]

#[path = "../harness/mod.rs"]
pub mod harness;
pub mod tls_front;

use harness::Spawned;
pub use harness::{frame, header, wait_until};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{ChildStderr, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long any single read in a test may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// A running server, killed when dropped.
pub struct Server {
    server: Spawned,
    /// Where tests connect: the server, or its TLS front when the test runs over TLS.
    pub addr: SocketAddr,
    /// Where the server itself listens.
    listens: SocketAddr,
    front: Option<tls_front::Front>,
    stderr: Arc<Mutex<String>>,
    collector: Option<thread::JoinHandle<()>>,
}

impl Server {
    /// Starts `server -P 0 ARGS...` and waits for its `listening on` line.
    pub fn start(args: &[&str]) -> Server {
        Self::start_with_env(args, &[])
    }

    /// As [`Server::start`], with extra environment variables.
    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Server {
        let pki = tls_front::is_on().then(tls_front::Pki::new);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
        cmd.args(["-P", "0"]);
        if let Some(pki) = &pki {
            cmd.args(["--tls-cert", &pki.path("cert.pem")]);
            cmd.args(["--tls-key", &pki.path("key.pem")]);
        }
        cmd.args(args)
            .env_remove("RUST_LOG")
            .env_remove("SERVER_PASSWORD")
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let stderr = Arc::new(Mutex::new(String::new()));
        let take = |child: &mut std::process::Child| {
            collect(child.stderr.take().expect("stderr piped"), stderr.clone())
        };
        let (server, collector) = match Spawned::start_taking(&mut cmd, take) {
            Ok(started) => started,
            Err((line, collector)) => {
                let _ = collector.join();
                panic!(
                    "no listening line, got {line:?}; stderr: {}",
                    stderr.lock().unwrap()
                );
            }
        };
        let collector = Some(collector);
        let listens = server.addr;
        let front = pki.map(|pki| {
            let mut to = listens;
            if to.ip().is_unspecified() {
                to.set_ip("127.0.0.1".parse().unwrap());
            }
            tls_front::start(to, pki)
        });
        Server {
            server,
            addr: front.as_ref().map_or(listens, |front| front.addr),
            listens,
            front,
            stderr,
            collector,
        }
    }

    /// The loopback address to connect to (the server may listen on 0.0.0.0).
    pub fn connect_addr(&self) -> SocketAddr {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip("127.0.0.1".parse().unwrap());
        }
        addr
    }

    /// A client connection with bounded read/write timeouts.
    pub fn connect(&self) -> TcpStream {
        let sock = TcpStream::connect_timeout(&self.connect_addr(), IO_TIMEOUT).expect("connect");
        sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        sock.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        sock
    }

    /// The port as a string, for command lines.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.server.pid() as i32, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits (bounded) for the server to exit.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let Some((status, _)) = self.server.wait_exit(within) else {
            panic!("server did not exit in {within:?}");
        };
        if let Some(c) = self.collector.take() {
            let _ = c.join();
        }
        status
    }

    /// Everything the server logged so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (bounded) until the log contains `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        if !wait_until(IO_TIMEOUT, || self.stderr().contains(needle)) {
            panic!("log never showed {needle:?}:\n{}", self.stderr());
        }
        self.stderr()
    }
}

fn collect(mut from: ChildStderr, into: Arc<Mutex<String>>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            into.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
}

/// A `text/json` request exactly as the original app-client writes it.
pub fn json_request(content: &str, extra: &str) -> Vec<u8> {
    frame(
        &header("text/json", "utf-8", content.len(), extra),
        content.as_bytes(),
    )
}

/// `{"action": A, "value": V}` as the original client writes it.
pub fn search(value: &str) -> Vec<u8> {
    json_request(
        &format!("{{\"action\": \"search\", \"value\": \"{value}\"}}"),
        "",
    )
}

/// A binary request exactly as the original app-client writes it.
pub fn binary_request(content: &[u8], extra: &str) -> Vec<u8> {
    frame(
        &header(
            "binary/custom-client-binary-type",
            "binary",
            content.len(),
            extra,
        ),
        content,
    )
}

/// A received frame.
#[derive(Debug)]
pub struct Reply {
    /// The JSON header text, as sent.
    pub header: String,
    /// The parsed header.
    pub fields: serde_json::Value,
    /// The content bytes.
    pub content: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.content).expect("utf-8 content")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.content).expect("json content")
    }

    pub fn result(&self) -> String {
        self.json()["result"].as_str().expect("result").to_owned()
    }

    pub fn error_code(&self) -> Option<String> {
        self.json()
            .get("error")
            .map(|c| c.as_str().unwrap().to_owned())
    }
}

/// Reads one whole frame.
pub fn read_reply(sock: &mut TcpStream) -> Reply {
    let mut proto = [0u8; 2];
    sock.read_exact(&mut proto).expect("protoheader");
    let mut header = vec![0u8; u16::from_be_bytes(proto) as usize];
    sock.read_exact(&mut header).expect("header");
    let header = String::from_utf8(header).expect("utf-8 header");
    let fields: serde_json::Value = serde_json::from_str(&header).expect("json header");
    let len = fields["content-length"].as_u64().expect("content-length") as usize;
    let mut content = vec![0u8; len];
    sock.read_exact(&mut content).expect("content");
    Reply {
        header,
        fields,
        content,
    }
}

/// Sends a request and reads the reply.
pub fn exchange(server: &Server, request: &[u8]) -> Reply {
    let mut sock = server.connect();
    sock.write_all(request).unwrap();
    read_reply(&mut sock)
}

/// Asserts the server closes the connection (EOF, or a reset) within the read timeout.
pub fn assert_closed(sock: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match sock.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("expected close, got {n} more bytes: {:?}", &buf[..n]),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected close, got {e}"),
    }
}

/// The exact response frame the original Python server would send for a JSON result.
pub fn expected_json_reply(content: &str, extra: &str) -> Vec<u8> {
    frame(
        &header("text/json", "utf-8", content.len(), extra),
        content.as_bytes(),
    )
}

impl Server {
    /// A client connection from the loopback address `from`: 127.0.0.2, 127.0.0.3, ... model
    /// other hosts (the server sees them as different addresses).
    pub fn connect_from(&self, from: [u8; 4]) -> TcpStream {
        use socket2::{Domain, Socket, Type};
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        sock.bind(&SocketAddr::from((from, 0)).into())
            .expect("bind the client's address");
        sock.connect_timeout(&self.connect_addr().into(), IO_TIMEOUT)
            .expect("connect");
        let sock: TcpStream = sock.into();
        sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        sock.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        sock
    }

    /// Waits (bounded) until `count` connections to the server are established and the server
    /// has read every byte they sent: the receive queues of its side, as `/proc/net/tcp` shows
    /// them, are empty.
    pub fn wait_all_read(&self, count: usize) {
        let port = format!(":{:04X}", self.listens.port());
        let end = Instant::now() + IO_TIMEOUT;
        loop {
            let carried = self.front.as_ref().map_or(0, |front| {
                front.in_flight.load(std::sync::atomic::Ordering::SeqCst)
            });
            let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
            let queues: Vec<u64> = table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    // local address, remote address, state (01: established), tx:rx queues
                    (fields[1].ends_with(&port) && fields[3] == "01").then(|| {
                        let rx = fields[4].split(':').nth(1).unwrap();
                        u64::from_str_radix(rx, 16).unwrap()
                    })
                })
                .collect();
            // Over TLS, the front must have read all the test sent, and passed it on.
            let front_port = format!(":{:04X}", self.addr.port());
            let front_read = self.front.is_none()
                || table.lines().skip(1).all(|line| {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    !(fields[1].ends_with(&front_port) && fields[3] == "01")
                        || fields[4].ends_with(":00000000")
                });
            if front_read && carried == 0 && queues.len() >= count && queues.iter().all(|&q| q == 0)
            {
                return;
            }
            assert!(
                Instant::now() < end,
                "the server never read all it was sent: {} connections, queues {queues:?}",
                queues.len()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Reads one reply if one arrives within `within`; `None` if nothing does (the socket's read
/// timeout is restored afterwards).
pub fn reply_within(sock: &mut TcpStream, within: Duration) -> Option<Reply> {
    sock.set_read_timeout(Some(within)).unwrap();
    let mut byte = [0u8; 1];
    let got = match sock.peek(&mut byte) {
        Ok(n) if n > 0 => true,
        Ok(_) => false,
        Err(e)
            if e.kind() == std::io::ErrorKind::WouldBlock
                || e.kind() == std::io::ErrorKind::TimedOut =>
        {
            false
        }
        Err(_) => false,
    };
    sock.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    got.then(|| read_reply(sock))
}

/// Runs each named test a second time with its servers speaking TLS behind a
/// [`tls_front`], as `over_tls::NAME`.
#[macro_export]
macro_rules! also_over_tls {
    ($($name:ident),* $(,)?) => {
        mod over_tls {
            $(
                #[test]
                fn $name() {
                    $crate::common::tls_front::over_tls(super::$name)
                }
            )*
        }
    };
}

/// The server binary on an ephemeral port (`-P 0 -c 100`, no password, no `RUST_LOG`, stdout
/// and stderr piped) whose soft and hard limits are `limit` file descriptors: what running out
/// of descriptors does to it.
pub fn server_with_descriptors(limit: libc::rlim_t) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.args(["-P", "0", "-c", "100"])
        .env_remove("SERVER_PASSWORD")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: between fork and exec, only the async-signal-safe setrlimit is called.
    unsafe {
        cmd.pre_exec(move || {
            let limits = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limits) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}
