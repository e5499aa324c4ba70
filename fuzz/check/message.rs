//! The `message` fuzz target's driver and invariants, shared word for word by the fuzz target
//! (`fuzz/fuzz_targets/message.rs`) and the stable replay test (`tests/fuzz_corpus.rs`), which
//! both include this file with `#[path]`.
//!
//! A real `libmessage::Message` serves one end of a connected Unix socket pair; the fuzz input
//! is what a client sends on the other end. The first byte chooses how:
//!
//! - bits 0-1: how many of the next bytes give chunk sizes (each byte + 1, used in turn); with
//!   none, everything is sent at once;
//! - bit 2: the client then closes its side for writing;
//! - bit 3: the server then shuts down (`Message::shut_down`);
//! - bit 4: the deadline then passes (`Message::on_timeout`);
//! - bits 5-6: the transport under the `Message`, as the server builds it
//!   (`Service::transport`): 0, plain; 1 or 3, TLS, with the rest of the input as the
//!   plaintext a rustls client in the driver sends inside it (each chunk its own records, after
//!   a real handshake); 2, TLS, with the rest of the input as the raw bytes on the wire
//!   (a handshake and records of the fuzzer's making).
//!
//! The server is driven as its event loop would: after each chunk, readable, then writable
//! while it has something to write, and readable again while rustls holds input no socket
//! event would announce. Whatever the client sent, nothing panics, the client sees the end
//! once the server is dropped, and everything it receives (as plaintext, over TLS) is a
//! sequence of whole, valid frames: a 2-byte big-endian length, a JSON object header with the
//! protocol's keys, and exactly `content-length` bytes of content; JSON content is an object
//! with a string `result` (and an error code, if any, as a string); only the last reply may
//! close the connection: every earlier one says `"keep-alive": true`. Over raw TLS the bytes
//! received are TLS records, and only the end is checked.
#![allow(dead_code)]

use libmessage::{Limits, Message, Next, Service, Table};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{FromRawFd, IntoRawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, OnceLock};

/// What carries the client's bytes to the `Message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Plain bytes on the socket.
    Plain,
    /// A TLS session: the input is the plaintext sent inside it.
    Tls,
    /// A TLS server: the input is the raw bytes on the wire.
    RawTls,
}

/// How a fuzz input is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan<'a> {
    pub chunks: Vec<usize>,
    pub close_write: bool,
    pub shut_down: bool,
    pub time_out: bool,
    pub wire: Wire,
    pub bytes: &'a [u8],
}

/// Reads the sending plan from the first bytes of `data`.
pub fn plan(data: &[u8]) -> Plan<'_> {
    let Some((&first, rest)) = data.split_first() else {
        return Plan {
            chunks: Vec::new(),
            close_write: false,
            shut_down: false,
            time_out: false,
            wire: Wire::Plain,
            bytes: data,
        };
    };
    let n = usize::from(first & 3).min(rest.len());
    Plan {
        chunks: rest[..n].iter().map(|&b| usize::from(b) + 1).collect(),
        close_write: first & 4 != 0,
        shut_down: first & 8 != 0,
        time_out: first & 16 != 0,
        wire: match (first >> 5) & 3 {
            0 => Wire::Plain,
            2 => Wire::RawTls,
            _ => Wire::Tls,
        },
        bytes: &rest[n..],
    }
}

/// The service every fuzzed connection talks to: the built-in table, no password.
pub fn service() -> Service {
    Service::new(Table::builtin(), None, Limits::default())
}

/// The same service's TLS configuration, and a client configuration that trusts it: a
/// certificate for `localhost` made once per process (rcgen), never stored.
fn tls() -> &'static (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    static TLS: OnceLock<(Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>)> = OnceLock::new();
    TLS.get_or_init(|| {
        use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("a test certificate");
        let cert = made.cert.der().clone();
        let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
        let provider = libmessage::transport::provider();
        let server = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], PrivateKeyDer::Pkcs8(key))
            .expect("a server configuration");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).expect("a root");
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        (Arc::new(server), Arc::new(client))
    })
}

/// The client's end of a connection: a socket, with a rustls client on it for [`Wire::Tls`].
struct Client {
    sock: UnixStream,
    tls: Option<rustls::ClientConnection>,
    /// The server's end came (the socket's end, or TLS' `close_notify`).
    ended: bool,
    /// Bytes written to the socket so far.
    sent: usize,
}

impl Client {
    /// Sends `bytes` (inside TLS: as plaintext, in records of its own).
    fn send(&mut self, bytes: &[u8]) {
        let Some(conn) = &mut self.tls else {
            let mut chunk = bytes;
            while !chunk.is_empty() {
                match self.sock.write(chunk) {
                    Ok(k) => {
                        chunk = &chunk[k..];
                        self.sent += k;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    // The server hung up: the rest of the request goes nowhere.
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => break,
                    Err(e) => panic!("client write: {e}"),
                }
            }
            return;
        };
        conn.writer()
            .write_all(bytes)
            .expect("rustls takes plaintext");
        self.flush();
    }

    /// Writes what rustls has ready for the wire, as much as the socket takes.
    fn flush(&mut self) {
        let Some(conn) = &mut self.tls else {
            return;
        };
        while conn.wants_write() {
            match conn.write_tls(&mut self.sock) {
                Ok(k) => self.sent += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                // The server hung up: what rustls holds goes nowhere.
                Err(e) if e.kind() == ErrorKind::BrokenPipe => return,
                Err(e) => panic!("client TLS write: {e}"),
            }
        }
    }

    /// Ends the client's sending side (inside TLS, after its `close_notify`).
    fn close_write(&mut self) {
        if let Some(conn) = &mut self.tls {
            conn.send_close_notify();
            self.flush();
        }
        self.sock
            .shutdown(std::net::Shutdown::Write)
            .expect("client shutdown");
    }

    /// Takes in what has arrived without waiting (plaintext, over TLS) and answers the
    /// handshake; true once the server's end has come.
    fn drain(&mut self, received: &mut Vec<u8>) -> bool {
        let mut buf = [0u8; 16 * 1024];
        while !self.ended {
            let n = match self.sock.read(&mut buf) {
                Ok(0) => {
                    self.ended = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    self.ended = true;
                    break;
                }
                Err(e) => panic!("client read: {e}"),
            };
            let Some(conn) = &mut self.tls else {
                received.extend_from_slice(&buf[..n]);
                continue;
            };
            let mut wire = &buf[..n];
            while !wire.is_empty() {
                if conn.read_tls(&mut wire).is_err() || conn.process_new_packets().is_err() {
                    panic!("the server's TLS is refused by a rustls client");
                }
                match conn.reader().read_to_end(received) {
                    // `close_notify`: the server's end.
                    Ok(_) => self.ended = true,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("client TLS read: {e}"),
                }
            }
        }
        self.flush();
        self.ended
    }
}

/// A connection: the client's end, and the server's end as a `Message` over the transport
/// `service` gives it (TLS when it speaks TLS), with a rustls client for [`Wire::Tls`].
fn connect(service: &Service, wire: Wire) -> (Client, Message) {
    let (client, server) = UnixStream::pair().expect("a socket pair");
    client.set_nonblocking(true).expect("non-blocking client");
    server.set_nonblocking(true).expect("non-blocking server");
    // `Message` owns a mio `TcpStream`; on a stream socket it only reads, writes and shuts
    // down, which a Unix socket does alike, without a port or the loopback interface.
    // SAFETY: the descriptor is an open stream socket whose ownership moves here.
    let sock = unsafe { TcpStream::from_raw_fd(server.into_raw_fd()) };
    let sock = mio::net::TcpStream::from_std(sock);
    let peer = SocketAddr::from(([127, 0, 0, 1], 1));
    let Ok(transport) = service.transport(sock) else {
        panic!("no transport within the default budget");
    };
    let message = Message::over(transport, peer, service);
    let tls = (wire == Wire::Tls).then(|| {
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("a name");
        let mut conn =
            rustls::ClientConnection::new(Arc::clone(&tls().1), name).expect("a client connection");
        // The client holds what it sends before the handshake is over.
        conn.set_buffer_limit(None);
        conn
    });
    let mut client = Client {
        sock: client,
        tls,
        ended: false,
        sent: 0,
    };
    // The ClientHello goes at once, as a real client's would.
    client.flush();
    (client, message)
}

/// The server's event loop for one connection: it acts while it has something to do. After
/// a reply, a connection waiting to read is asked once whether bytes already arrived (they
/// may have, behind the request just answered), as a re-registration with the poll would.
fn drive(
    message: &mut Message,
    mut next: Next,
    scratch: &mut [u8],
    service: &Service,
    client: &mut Client,
    received: &mut Vec<u8>,
) -> Next {
    let mut wrote = false;
    client.drain(received);
    for _ in 0..10_000 {
        next = match next {
            Next::Read if wrote || message.has_buffered_input() => {
                wrote = false;
                message.on_readable(scratch, service)
            }
            // TLS bytes wait for the socket: the loop would ask for writable events, and
            // get one once the client has read.
            Next::Read | Next::Wait if message.wants_write() => {
                let next = message.on_writable(service);
                if message.wants_write() && !client.drain(received) {
                    return next;
                }
                next
            }
            // Only the event loop holds a reply back (`Wait`), and it is not here.
            Next::Read | Next::Wait | Next::Close => return next,
            Next::Write => {
                wrote = true;
                message.on_writable(service)
            }
        };
        client.drain(received);
    }
    panic!("the server neither waits nor closes after 10000 steps");
}

/// Sends `data` as [`plan`] says to a fresh `Message` and checks everything it answers.
pub fn check_message(data: &[u8]) {
    check_replies(&exchange(data));
}

/// The replies [`check_message`] receives for `data`, each frame as (lossy) text, for tests of
/// the driver itself.
pub fn replies_for_test(data: &[u8]) -> Vec<String> {
    let bytes = exchange(data);
    check_replies(&bytes);
    let mut rest = &bytes[..];
    let mut out = Vec::new();
    while rest.len() >= 2 {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let header: serde_json::Value = serde_json::from_slice(&rest[2..2 + len]).unwrap();
        let content = header["content-length"].as_u64().unwrap() as usize;
        out.push(String::from_utf8_lossy(&rest[..2 + len + content]).into_owned());
        rest = &rest[2 + len + content..];
    }
    out
}

/// Sends `data` as [`plan`] says to a fresh `Message`: everything the client receives.
fn exchange(data: &[u8]) -> Vec<u8> {
    let plan = plan(data);
    let service = match plan.wire {
        Wire::Plain => service(),
        Wire::Tls | Wire::RawTls => service().with_tls(Arc::clone(&tls().0)),
    };
    let (mut client, mut message) = connect(&service, plan.wire);
    let mut scratch = vec![0u8; 64 * 1024];
    let mut received = Vec::new();
    let mut next = Next::Read;
    let mut sizes = plan.chunks.iter().copied().cycle();
    let mut rest = plan.bytes;
    // Over TLS, the handshake's flights, then the plaintext the client held until it was
    // over, go back and forth with the chunks: the server reads again while the client has
    // written something since its last read (a few turns more than there are chunks).
    let mut heard = None;
    for _ in 0..rest.len() + 16 {
        if next != Next::Read || rest.is_empty() && heard == Some(client.sent) {
            break;
        }
        let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
        let (chunk, after) = rest.split_at(n);
        rest = after;
        client.send(chunk);
        heard = Some(client.sent);
        next = message.on_readable(&mut scratch, &service);
        next = drive(
            &mut message,
            next,
            &mut scratch,
            &service,
            &mut client,
            &mut received,
        );
    }
    if plan.close_write && next == Next::Read {
        client.close_write();
        next = message.on_readable(&mut scratch, &service);
        next = drive(
            &mut message,
            next,
            &mut scratch,
            &service,
            &mut client,
            &mut received,
        );
        assert_eq!(next, Next::Close, "a closed client left the server waiting");
    }
    if plan.shut_down && next != Next::Close {
        next = message.shut_down(&mut scratch, &service);
        next = drive(
            &mut message,
            next,
            &mut scratch,
            &service,
            &mut client,
            &mut received,
        );
        assert_ne!(next, Next::Read, "a shut-down server waits for more");
    }
    if plan.time_out && next != Next::Close {
        next = message.on_timeout(&service);
        assert_eq!(next, Next::Close, "a timed-out connection stays open");
    }
    drop(message);
    let closed = client.drain(&mut received);
    assert!(
        closed,
        "the server end is dropped, yet the client sees no end"
    );
    if plan.wire == Wire::RawTls {
        // TLS records, not frames: only the end is checked.
        received.clear();
    }
    received
}

/// Checks that `bytes` is a sequence of whole, valid reply frames.
pub fn check_replies(bytes: &[u8]) {
    let mut rest = bytes;
    let mut replies = 0;
    let mut last_keep_alive = true;
    while !rest.is_empty() {
        assert!(
            last_keep_alive,
            "reply {replies} did not keep the connection alive, yet another one followed"
        );
        assert!(rest.len() >= 2, "a protoheader cut short: {rest:?}");
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        rest = &rest[2..];
        assert!(
            rest.len() >= len,
            "a header of {len} bytes announced, {} sent",
            rest.len()
        );
        let (header, after) = rest.split_at(len);
        rest = after;
        let header: serde_json::Value = serde_json::from_slice(header).unwrap_or_else(|e| {
            panic!(
                "reply header {:?} is not JSON: {e}",
                String::from_utf8_lossy(header)
            )
        });
        let fields = header
            .as_object()
            .unwrap_or_else(|| panic!("reply header {header} is not an object"));
        let text = |key: &str| {
            fields
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| panic!("reply header {header} lacks a string {key:?}"))
        };
        assert!(
            matches!(text("byteorder"), "little" | "big"),
            "reply header {header}: byteorder"
        );
        let content_type = text("content-type");
        let encoding = text("content-encoding");
        let length = fields
            .get("content-length")
            .and_then(|v| v.as_u64())
            .unwrap_or_else(|| panic!("reply header {header} lacks a content-length"));
        for key in fields.keys() {
            assert!(
                matches!(
                    key.as_str(),
                    "byteorder"
                        | "content-type"
                        | "content-encoding"
                        | "content-length"
                        | "keep-alive"
                ),
                "reply header {header}: unexpected key {key:?}"
            );
        }
        last_keep_alive = match fields.get("keep-alive") {
            None => false,
            Some(serde_json::Value::Bool(true)) => true,
            Some(other) => panic!("reply header {header}: keep-alive {other}"),
        };
        let length = usize::try_from(length).expect("a content length that fits");
        assert!(
            rest.len() >= length,
            "reply header {header} announces {length} bytes, {} sent",
            rest.len()
        );
        let (content, after) = rest.split_at(length);
        rest = after;
        if content_type == "text/json" {
            assert_eq!(encoding, "utf-8", "reply header {header}");
            let value: serde_json::Value = serde_json::from_slice(content)
                .unwrap_or_else(|e| panic!("JSON reply content is not JSON: {e}"));
            let object = value
                .as_object()
                .unwrap_or_else(|| panic!("JSON reply {value} is not an object"));
            assert!(
                object.get("result").is_some_and(|r| r.is_string()),
                "JSON reply {value} has no string result"
            );
            if let Some(code) = object.get("error") {
                assert!(code.is_string(), "JSON reply {value}: error code");
                assert!(
                    !last_keep_alive,
                    "an error reply {value} keeps the connection"
                );
            }
        } else {
            assert_eq!(
                (content_type, encoding),
                ("binary/custom-server-binary-type", "binary"),
                "reply header {header}"
            );
        }
        replies += 1;
    }
}
