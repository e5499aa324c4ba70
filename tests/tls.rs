//! The server over TLS (`--tls-cert`, `--tls-key`): the real binaries on loopback, with a
//! certificate authority and a server certificate made at test time (rcgen), never committed.
//! Clients: ours (`--tls-ca`), rustls in the test, Python's `ssl` on a non-blocking socket
//! driven by `selectors`, and `openssl s_client`.

mod common;

use common::{search, Server, IO_TIMEOUT};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A certificate authority and a server certificate it signed, for `localhost` and
/// 127.0.0.1, written as PEM into a fresh directory.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let dir = std::env::temp_dir().join(format!("tls-test-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "selector-server test CA");
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        Pki { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).to_str().unwrap().to_owned()
    }

    /// Starts the server with TLS and `args`.
    fn server(&self, args: &[&str]) -> Server {
        let (cert, key) = (self.path("cert.pem"), self.path("key.pem"));
        let mut all = vec!["--tls-cert", &cert, "--tls-key", &key];
        all.extend_from_slice(args);
        Server::start(&all)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type TlsStream = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// A rustls client connection to `server`, trusting the test CA, from the loopback `from`.
fn tls_connect(pki: &Pki, server: &Server, from: [u8; 4]) -> TlsStream {
    use rustls::pki_types::{pem::PemObject, CertificateDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(pki.path("ca.pem")).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(libmessage::transport::provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    rustls::StreamOwned::new(conn, server.connect_from(from))
}

/// Reads one whole reply frame: its header text and its content.
fn read_reply(conn: &mut impl Read) -> io::Result<(String, String)> {
    let mut proto = [0u8; 2];
    conn.read_exact(&mut proto)?;
    let mut header = vec![0u8; u16::from_be_bytes(proto) as usize];
    conn.read_exact(&mut header)?;
    let fields: serde_json::Value = serde_json::from_slice(&header).unwrap();
    let mut content = vec![0u8; fields["content-length"].as_u64().unwrap() as usize];
    conn.read_exact(&mut content)?;
    Ok((
        String::from_utf8(header).unwrap(),
        String::from_utf8(content).unwrap(),
    ))
}

/// A search request with `extra` header fields (`, "keep-alive": true`, a password).
fn search_with(value: &str, extra: &str) -> Vec<u8> {
    let content = format!(r#"{{"action": "search", "value": "{value}"}}"#);
    common::json_request(&content, extra)
}

const RABBIT: &str = "Follow the white rabbit. \u{1f430}";
const RING: &str = "In the caves beneath the Misty Mountains. \u{1f48d}";

#[test]
fn our_client_speaks_tls_and_checks_the_certificate() {
    let pki = Pki::new("client");
    let server = pki.server(&["-p", "sesame"]);
    let port = server.port();
    let ca = pki.path("ca.pem");
    let client = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_client"))
            .args(args)
            .env_remove("SERVER_PASSWORD")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = client(&[
        "-q",
        "127.0.0.1",
        &port,
        "search",
        "morpheus",
        "-p",
        "sesame",
        "--tls-ca",
        &ca,
        "-k",
        "3",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("Got result: {RABBIT}\n").repeat(3)
    );
    let out = client(&[
        "-q",
        "localhost",
        &port,
        "search",
        "ring",
        "-p",
        "sesame",
        "--tls-ca",
        &ca,
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("Got result: {RING}\n")
    );
    // A name the certificate does not carry: the client refuses to go on.
    let out = client(&[
        "127.0.0.1",
        &port,
        "search",
        "ring",
        "-p",
        "sesame",
        "--tls-ca",
        &ca,
        "--tls-name",
        "other.example",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("certificate"), "{err}");
    // The server's own certificate is no authority: trusting it alone is not enough.
    let cert = pki.path("cert.pem");
    let out = client(&[
        "127.0.0.1",
        &port,
        "search",
        "ring",
        "-p",
        "sesame",
        "--tls-ca",
        &cert,
    ]);
    assert!(!out.status.success());
    server.wait_log("TLS failed");
}

#[test]
fn keep_alive_and_pipelined_requests_over_tls() {
    let pki = Pki::new("pipelined");
    let server = pki.server(&[]);
    let mut conn = tls_connect(&pki, &server, [127, 0, 0, 1]);
    // Two requests in one write: the second one's plaintext waits inside rustls when the
    // first is answered, with no socket event left to announce it.
    let mut both = search_with("morpheus", r#", "keep-alive": true"#);
    both.extend(search_with("ring", r#", "keep-alive": true"#));
    conn.write_all(&both).unwrap();
    assert_eq!(
        read_reply(&mut conn).unwrap().1,
        format!(r#"{{"result": "{RABBIT}"}}"#)
    );
    assert_eq!(
        read_reply(&mut conn).unwrap().1,
        format!(r#"{{"result": "{RING}"}}"#)
    );
    conn.write_all(&search("morpheus")).unwrap();
    let (header, content) = read_reply(&mut conn).unwrap();
    assert!(!header.contains("keep-alive"), "{header}");
    assert_eq!(content, format!(r#"{{"result": "{RABBIT}"}}"#));
    // The server ends with close_notify: a clean end, not a cut.
    let mut rest = Vec::new();
    assert_eq!(conn.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn sigterm_sends_close_notify() {
    let pki = Pki::new("sigterm");
    let mut server = pki.server(&[]);
    let mut conn = tls_connect(&pki, &server, [127, 0, 0, 1]);
    conn.write_all(&search_with("morpheus", r#", "keep-alive": true"#))
        .unwrap();
    read_reply(&mut conn).unwrap();
    server.signal(libc::SIGTERM);
    // An idle keep-alive connection is closed at once, with close_notify (rustls answers
    // UnexpectedEof to an end without one).
    let mut rest = Vec::new();
    assert_eq!(conn.read_to_end(&mut rest).unwrap(), 0);
    assert!(server.wait_exit(IO_TIMEOUT).success());
}

/// Bytes that are no TLS handshake, each from its own address, and what each does.
fn hostile(kind: &str, mut sock: TcpStream) {
    match kind {
        "plain text" => sock.write_all(&search("morpheus")).unwrap(),
        "garbage" => sock.write_all(&[0xA5; 300]).unwrap(),
        // A handshake record header announcing 512 bytes, then 3 of them, then the end.
        "truncated record" => {
            sock.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01])
                .unwrap();
            sock.shutdown(Shutdown::Write).unwrap();
        }
        // Nothing at all: the handshake never starts, and --timeout ends it.
        "idle handshake" => {}
        _ => unreachable!(),
    }
    // The server closes it, whatever it sent first (an alert, or nothing).
    let end = Instant::now() + IO_TIMEOUT;
    let mut buf = [0u8; 1024];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return,
            Err(e) => panic!("{kind}: the server did not close: {e}"),
        }
        assert!(Instant::now() < end, "{kind}: the server did not close");
    }
}

#[test]
fn failed_handshakes_are_logged_once_and_disturb_no_one() {
    let pki = Pki::new("hostile");
    let server = pki.server(&["--timeout", "1", "-c", "20"]);
    let mut good = tls_connect(&pki, &server, [127, 0, 0, 1]);
    good.write_all(&search_with("morpheus", r#", "keep-alive": true"#))
        .unwrap();
    assert!(read_reply(&mut good).unwrap().1.contains("rabbit"));
    let kinds: [&'static str; 4] = [
        "plain text",
        "garbage",
        "truncated record",
        "idle handshake",
    ];
    let threads: Vec<_> = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let sock = server.connect_from([127, 0, 0, 2 + i as u8]);
            let kind: &'static str = kind;
            thread::spawn(move || hostile(kind, sock))
        })
        .collect();
    // Meanwhile the good client is served, request after request, until the last hostile
    // one has been closed (the idle one after --timeout).
    let end = Instant::now() + IO_TIMEOUT;
    let mut served = 0;
    while served < 5 || !threads.iter().all(|t| t.is_finished()) {
        assert!(
            Instant::now() < end,
            "the hostile clients were not all closed"
        );
        good.write_all(&search_with("ring", r#", "keep-alive": true"#))
            .unwrap();
        assert!(read_reply(&mut good).unwrap().1.contains("Misty"));
        served += 1;
        thread::sleep(Duration::from_millis(20));
    }
    for t in threads {
        t.join().unwrap();
    }
    good.write_all(&search("morpheus")).unwrap();
    assert!(read_reply(&mut good).unwrap().1.contains("rabbit"));
    // Each one is one warning line, from its own address.
    let log = server.wait_log("127.0.0.5");
    for (i, kind) in kinds.iter().enumerate() {
        let from = format!("127.0.0.{}:", 2 + i);
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains(&from) && l.contains("WARN"))
            .collect();
        assert_eq!(lines.len(), 1, "{kind}: {lines:?}\n{log}");
    }
    assert!(
        log.contains("127.0.0.2:") && log.contains("TLS failed"),
        "{log}"
    );
    assert!(log.contains("timed out"), "{log}");
}

/// A TCP proxy on loopback that forwards one connection to `to`, recording what the client
/// sent.
fn recording_proxy(to: std::net::SocketAddr) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    thread::spawn(move || {
        let (mut client, _) = listener.accept().unwrap();
        let mut server = TcpStream::connect(to).unwrap();
        let (mut client_back, mut server_back) =
            (client.try_clone().unwrap(), server.try_clone().unwrap());
        let back = thread::spawn(move || io::copy(&mut server_back, &mut client_back));
        let mut buf = [0u8; 4096];
        while let Ok(n) = client.read(&mut buf) {
            if n == 0 {
                break;
            }
            record.lock().unwrap().extend_from_slice(&buf[..n]);
            if server.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = server.shutdown(Shutdown::Write);
        let _ = back.join();
    });
    (port, seen)
}

#[test]
fn the_password_crosses_only_inside_tls() {
    let password = "open-sesame-42";
    for tls in [false, true] {
        let pki = Pki::new(if tls { "pw-tls" } else { "pw-plain" });
        let server = if tls {
            pki.server(&["-p", password])
        } else {
            Server::start(&["-p", password])
        };
        let (port, seen) = recording_proxy(server.connect_addr());
        let ca = pki.path("ca.pem");
        let mut args = vec!["-q", "127.0.0.1"];
        let port = port.to_string();
        args.extend([port.as_str(), "search", "morpheus", "-p", password]);
        if tls {
            args.extend(["--tls-ca", ca.as_str()]);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_client"))
            .args(&args)
            .env_remove("SERVER_PASSWORD")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            format!("Got result: {RABBIT}\n")
        );
        let seen = seen.lock().unwrap().clone();
        let in_clear = seen
            .windows(password.len())
            .any(|w| w == password.as_bytes());
        assert_eq!(in_clear, !tls, "tls: {tls}");
        // Without TLS, the server warned at start-up; with it, it did not.
        let warned = server
            .stderr()
            .contains("a password without --tls-cert crosses the network in clear text");
        assert_eq!(warned, !tls, "{}", server.stderr());
    }
}

/// Python's own `ssl` on a non-blocking socket driven by `selectors`, as the Real Python
/// client is, with the handshake stepped by `do_handshake` until it stops asking to wait.
const PYTHON_CLIENT: &str = r#"
import json, selectors, socket, ssl, struct, sys
port, cafile, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cafile=cafile)
raw = socket.create_connection(("127.0.0.1", port))
raw.setblocking(False)
sock = context.wrap_socket(raw, server_hostname="localhost", do_handshake_on_connect=False)
sel = selectors.DefaultSelector()
sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
content = json.dumps({"action": "search", "value": "ring"}).encode("utf-8")
header = json.dumps({"byteorder": sys.byteorder, "content-type": "text/json",
    "content-encoding": "utf-8", "content-length": len(content),
    "password": password}).encode("utf-8")
send = struct.pack(">H", len(header)) + header + content
received, handshaken = b"", False
while True:
    for key, mask in sel.select(timeout=5) or sys.exit("timed out"):
        if not handshaken:
            try:
                sock.do_handshake()
                handshaken = True
            except ssl.SSLWantReadError:
                sel.modify(sock, selectors.EVENT_READ)
            except ssl.SSLWantWriteError:
                sel.modify(sock, selectors.EVENT_WRITE)
            else:
                sel.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
            continue
        if mask & selectors.EVENT_WRITE and send:
            try:
                send = send[sock.send(send):]
            except ssl.SSLWantWriteError:
                pass
            if not send:
                sel.modify(sock, selectors.EVENT_READ)
        if mask & selectors.EVENT_READ:
            try:
                data = sock.recv(4096)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            if not data:
                print(sock.version())
                hlen = struct.unpack(">H", received[:2])[0]
                print(json.loads(received[2 + hlen:])["result"])
                sys.exit(0)
            received += data
"#;

#[test]
fn python_ssl_with_selectors_talks_to_the_server() {
    let pki = Pki::new("python");
    let server = pki.server(&["-p", "sesame"]);
    let out = Command::new("python3")
        .args([
            "-c",
            PYTHON_CLIENT,
            &server.port(),
            &pki.path("ca.pem"),
            "sesame",
        ])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{out:?}\n{}", server.stderr());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("TLSv1.3\n"), "{text}");
    assert!(text.ends_with(&format!("{RING}\n")), "{text}");
}

/// `openssl s_client`, when installed: a verified handshake (TLS 1.3, then 1.2), and a reply.
#[test]
fn openssl_s_client_completes_a_verified_handshake() {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl not found: s_client check skipped");
        return;
    }
    let pki = Pki::new("openssl");
    let server = pki.server(&[]);
    for version in ["-tls1_3", "-tls1_2"] {
        let mut child = Command::new("openssl")
            .args(["s_client", "-connect", &server.connect_addr().to_string()])
            .args(["-CAfile", &pki.path("ca.pem"), "-verify_return_error"])
            .args(["-servername", "localhost", "-verify_hostname", "localhost"])
            .args([version, "-ign_eof"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&search("morpheus"))
            .unwrap();
        let end = Instant::now() + IO_TIMEOUT;
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < end, "s_client did not finish");
            thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
        assert!(text.contains("Follow the white rabbit"), "{text}");
        let protocol = if version == "-tls1_3" {
            "TLSv1.3"
        } else {
            "TLSv1.2"
        };
        assert!(text.contains(protocol), "{text}");
    }
}

#[test]
fn bad_tls_files_are_refused_at_start_with_their_names() {
    let pki = Pki::new("files");
    let missing = pki.dir.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let cases: [(&str, &str, &str); 3] = [
        (missing, "key.pem", "missing.pem"),
        ("key.pem", "key.pem", "holds no PEM certificate"),
        ("cert.pem", "ca.pem", "cannot read the private key"),
    ];
    for (cert, key, needle) in cases {
        let path = |f: &str| {
            if Path::new(f).is_absolute() {
                f.to_owned()
            } else {
                pki.path(f)
            }
        };
        let out = Command::new(env!("CARGO_BIN_EXE_server"))
            .args([
                "-P",
                "0",
                "--tls-cert",
                &path(cert),
                "--tls-key",
                &path(key),
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn bad_and_slow_requests_inside_tls_are_answered_as_over_plain_tcp() {
    let pki = Pki::new("refused");
    let server = pki.server(&[
        "-p",
        "sesame",
        "--max-content-length",
        "1000",
        "--timeout",
        "2",
    ]);
    let password = r#", "password": "sesame""#;
    // Each is refused with its error reply, inside TLS, and the connection then ends with
    // close_notify (rustls reports an end without one as an error).
    let refused = |request: &[u8]| -> String {
        let mut conn = tls_connect(&pki, &server, [127, 0, 0, 1]);
        conn.write_all(request).unwrap();
        let (_, content) = read_reply(&mut conn).unwrap();
        let mut rest = Vec::new();
        assert_eq!(conn.read_to_end(&mut rest).unwrap(), 0, "{content}");
        let reply: serde_json::Value = serde_json::from_str(&content).unwrap();
        reply["error"].as_str().unwrap().to_owned()
    };
    assert_eq!(refused(&search("ring")), "password-required");
    let big = common::header("text/json", "utf-8", 1_000_000, password);
    assert_eq!(refused(&common::frame(&big, b"")), "too-large");
    assert_eq!(refused(&common::frame("{not json", b"")), "bad-header");
    assert_eq!(
        refused(&common::json_request("[1, 2]", password)),
        "not-an-object"
    );
    // One byte per TLS record: served all the same.
    let mut conn = tls_connect(&pki, &server, [127, 0, 0, 1]);
    for byte in search_with("ring", password) {
        conn.write_all(&[byte]).unwrap();
    }
    assert_eq!(
        read_reply(&mut conn).unwrap().1,
        format!(r#"{{"result": "{RING}"}}"#)
    );
    // Half a request: the timeout reply comes inside TLS.
    let mut conn = tls_connect(&pki, &server, [127, 0, 0, 1]);
    conn.write_all(&search_with("ring", password)[..7]).unwrap();
    let (_, content) = read_reply(&mut conn).unwrap();
    assert!(content.contains(r#""error": "timeout""#), "{content}");
}

#[test]
fn a_client_turned_away_before_its_handshake_sees_only_the_end() {
    let pki = Pki::new("full");
    let server = pki.server(&["-c", "1"]);
    // The one slot is busy: its client is half-way through a request.
    let mut busy = tls_connect(&pki, &server, [127, 0, 0, 1]);
    let request = search("ring");
    busy.write_all(&request[..7]).unwrap();
    server.wait_all_read(1);
    // The "server full" reply cannot be read by a client whose handshake never happened: it
    // sees the connection end, and nothing else.
    let mut late = tls_connect(&pki, &server, [127, 0, 0, 2]);
    let result = late
        .write_all(&search("ring"))
        .and_then(|()| read_reply(&mut late));
    assert!(result.is_err(), "{result:?}");
    server.wait_log("refusing 127.0.0.2");
    busy.write_all(&request[7..]).unwrap();
    assert_eq!(
        read_reply(&mut busy).unwrap().1,
        format!(r#"{{"result": "{RING}"}}"#)
    );
}

/// The peak resident memory of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    common::harness::status_kib(pid, "VmHWM") * 1024
}

/// Opens `n` connections (TLS when `pki` is given) from 127.0.0.2..127.0.0.9, each sending a
/// keep-alive search; returns those answered, still open, and how many were not.
fn keep_many_open(pki: Option<&Pki>, server: &Server, n: u8) -> (Vec<Box<dyn ReadWrite>>, usize) {
    let mut open: Vec<Box<dyn ReadWrite>> = Vec::new();
    let mut refused = 0;
    for i in 0..n {
        let from = [127, 0, 0, 2 + i % 8];
        let mut conn: Box<dyn ReadWrite> = match pki {
            Some(pki) => Box::new(tls_connect(pki, server, from)),
            None => Box::new(server.connect_from(from)),
        };
        let answered = conn
            .write_all(&search_with("ring", r#", "keep-alive": true"#))
            .and_then(|()| read_reply(&mut conn));
        match answered {
            Ok((_, content)) => {
                assert_eq!(content, format!(r#"{{"result": "{RING}"}}"#));
                open.push(conn);
            }
            Err(_) => refused += 1,
        }
    }
    (open, refused)
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

#[test]
fn tls_buffers_are_counted_against_max_buffered() {
    const MIB: u64 = 1 << 20;
    const BUDGET: u64 = 4 * MIB;
    const SLACK: u64 = 12 * MIB;
    let covered = (BUDGET / libmessage::transport::TLS_HELD) as usize;
    let budget = BUDGET.to_string();
    let args = [
        "-c",
        "200",
        "--max-content-length",
        "4096",
        "--max-buffered",
        &budget,
    ];
    let pki = Pki::new("budget");
    let server = pki.server(&args);
    // Each TLS connection holds TLS_HELD from its accept to its close: as many as the budget
    // covers are served, the others refused before their handshake.
    let (open, refused) = keep_many_open(Some(&pki), &server, 60);
    assert_eq!(open.len(), covered, "{}", server.stderr());
    assert_eq!(refused, 60 - covered);
    server.wait_log("server busy");
    let peak = peak_rss(server.pid());
    assert!(
        peak <= BUDGET + SLACK,
        "the server's peak resident memory is {:.1} MiB, beyond the budget of {} MiB and {} MiB",
        peak as f64 / MIB as f64,
        BUDGET / MIB,
        SLACK / MIB
    );
    // Closing one gives its reservation back: a newcomer gets in (once the server has seen
    // the close, which it may not have yet at the first try).
    drop(open);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (again, _) = keep_many_open(Some(&pki), &server, 1);
        if again.len() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no reservation came back");
        thread::sleep(Duration::from_millis(20));
    }
    // Plain connections reserve nothing: with the same budget, all of them are served.
    let plain = Server::start(&args);
    let (open, refused) = keep_many_open(None, &plain, 60);
    assert_eq!((open.len(), refused), (60, 0), "{}", plain.stderr());
}
