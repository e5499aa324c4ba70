//! The hostile tests over TLS: a server started in TLS mode gets a front, a loopback proxy
//! that takes each test connection as plain TCP and carries it to the server inside a rustls
//! client connection, from the test connection's own source address. Every byte the test
//! sends goes out at once as its own TLS record; its half-close becomes `close_notify` and a
//! half-close; the server's end becomes the test connection's end. The certificates are made
//! at test time with rcgen.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

thread_local! {
    static OVER_TLS: Cell<bool> = const { Cell::new(false) };
}

/// Runs `test` with every server it starts speaking TLS behind a front.
pub fn over_tls(test: fn()) {
    OVER_TLS.with(|on| on.set(true));
    test();
}

/// Whether the current test runs its servers over TLS.
pub fn is_on() -> bool {
    OVER_TLS.with(Cell::get)
}

/// A CA and a server certificate for 127.0.0.1, as PEM files in a fresh directory.
pub struct Pki {
    pub dir: PathBuf,
    ca: rustls::pki_types::CertificateDer<'static>,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("tls-front-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        Pki {
            dir,
            ca: ca_cert.der().clone(),
        }
    }

    pub fn path(&self, file: &str) -> String {
        self.dir.join(file).to_str().unwrap().to_owned()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running front: where tests connect, and the bytes it holds not yet passed on.
pub struct Front {
    pub addr: SocketAddr,
    pub in_flight: Arc<AtomicUsize>,
    _pki: Pki,
}

/// Starts a front for the TLS server at `server`, trusting `pki`'s CA.
pub fn start(server: SocketAddr, pki: Pki) -> Front {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(libmessage::transport::provider())
        .with_protocol_versions(rustls::DEFAULT_VERSIONS)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&in_flight);
    thread::spawn(move || {
        for down in listener.incoming() {
            let Ok(down) = down else { continue };
            let (config, counted) = (Arc::clone(&config), Arc::clone(&counted));
            thread::spawn(move || carry(down, server, config, counted));
        }
    });
    Front {
        addr,
        in_flight,
        _pki: pki,
    }
}

/// Carries one test connection to the server inside TLS, both ways, until either end closes.
fn carry(
    down: TcpStream,
    server: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    in_flight: Arc<AtomicUsize>,
) {
    use socket2::{Domain, Socket, Type};
    let from = SocketAddr::new(down.peer_addr().unwrap().ip(), 0);
    let up = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    up.bind(&from.into()).unwrap();
    if up.connect(&server.into()).is_err() {
        return;
    }
    let up: TcpStream = up.into();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut conn = rustls::ClientConnection::new(config, name).unwrap();
    // The front holds whatever the test sends before the handshake is over.
    conn.set_buffer_limit(None);
    let tls = Arc::new(Mutex::new(conn));
    let writer = Arc::new(Mutex::new(up.try_clone().unwrap()));
    // The ClientHello goes at once, as a real client's would.
    flush(&tls, &writer);
    let (tls2, writer2, down2) = (
        Arc::clone(&tls),
        Arc::clone(&writer),
        down.try_clone().unwrap(),
    );
    let upward = thread::spawn(move || {
        let mut down = down2;
        let mut buf = [0u8; 16 << 10];
        loop {
            match down.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    in_flight.fetch_add(n, Ordering::SeqCst);
                    let taken = tls2.lock().unwrap().writer().write_all(&buf[..n]);
                    let sent = taken.is_ok() && flush(&tls2, &writer2);
                    in_flight.fetch_sub(n, Ordering::SeqCst);
                    if !sent {
                        // The server is gone: so is the test connection.
                        let _ = down.shutdown(Shutdown::Both);
                        return;
                    }
                }
            }
        }
        tls2.lock().unwrap().send_close_notify();
        flush(&tls2, &writer2);
        let _ = writer2.lock().unwrap().shutdown(Shutdown::Write);
    });
    downward(up, &tls, &writer, down);
    let _ = upward.join();
}

/// Passes what the server sends to the test connection, as plaintext; the server's end (or
/// a failure) ends what the test connection reads, as a half-close by the server would.
fn downward(
    mut up: TcpStream,
    tls: &Mutex<rustls::ClientConnection>,
    writer: &Mutex<TcpStream>,
    mut down: TcpStream,
) {
    let mut buf = [0u8; 16 << 10];
    'outer: loop {
        let n = match up.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let (plain, reply) = {
            let mut conn = tls.lock().unwrap();
            let mut slice = &buf[..n];
            let mut plain = Vec::new();
            let mut failed = false;
            while !slice.is_empty() {
                if conn.read_tls(&mut slice).is_err() || conn.process_new_packets().is_err() {
                    failed = true;
                    break;
                }
                let _ = conn.reader().read_to_end(&mut plain);
            }
            (plain, failed || conn.wants_write())
        };
        if down.write_all(&plain).is_err() {
            break 'outer;
        }
        if reply && !flush(tls, writer) {
            break;
        }
    }
    let _ = down.shutdown(Shutdown::Write);
}

/// Writes every TLS byte rustls has ready to the server, in order; false once it cannot.
fn flush(tls: &Mutex<rustls::ClientConnection>, writer: &Mutex<TcpStream>) -> bool {
    let mut up = writer.lock().unwrap();
    let mut bytes = Vec::new();
    {
        let mut conn = tls.lock().unwrap();
        while conn.wants_write() {
            if conn.write_tls(&mut bytes).is_err() {
                break;
            }
        }
    }
    up.write_all(&bytes).is_ok()
}
