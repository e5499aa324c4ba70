//! TLS in the load bench: a certificate made at run time (rcgen), a TLS client load, and the
//! TLS floor: a minimal rustls server on the same mio loop shape as the plain floor, doing
//! nothing but TLS and framing (every request gets the same reply).

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// A server certificate for 127.0.0.1 and its key, as PEM files in a fresh directory, and a
/// client configuration that trusts it (without session resumption: every connection is a
/// full handshake).
pub struct Pki {
    pub dir: PathBuf,
    pub client: Arc<rustls::ClientConfig>,
}

impl Pki {
    pub fn new() -> Pki {
        use rustls::pki_types::{pem::PemObject, CertificateDer};
        let dir = std::env::temp_dir().join(format!("tls-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        std::fs::write(dir.join("cert.pem"), cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), key.serialize_pem()).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(cert.pem().as_bytes()).unwrap())
            .unwrap();
        let mut client =
            rustls::ClientConfig::builder_with_provider(libmessage::transport::provider())
                .with_protocol_versions(rustls::DEFAULT_VERSIONS)
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        client.resumption = rustls::client::Resumption::disabled();
        Pki {
            dir,
            client: Arc::new(client),
        }
    }

    pub fn cert(&self) -> String {
        self.dir.join("cert.pem").to_str().unwrap().to_owned()
    }

    pub fn key(&self) -> String {
        self.dir.join("key.pem").to_str().unwrap().to_owned()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `clients` threads send requests over TLS for `run`: a new connection (a full handshake)
/// per request, or one connection each for all. Returns requests per second and failures.
pub fn run_load(
    addr: SocketAddr,
    pki: &Pki,
    clients: usize,
    keep_alive: bool,
    run: Duration,
) -> (f64, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let stop = stop.clone();
            let config = pki.client.clone();
            thread::spawn(move || {
                let request = crate::request(keep_alive);
                let mut buf = Vec::with_capacity(256);
                let (mut done, mut errors) = (0usize, 0usize);
                let mut conn = None;
                while !stop.load(Ordering::Relaxed) {
                    let result = (|| {
                        let mut tls = match conn.take() {
                            Some(tls) => tls,
                            None => connect(addr, &config)?,
                        };
                        tls.write_all(&request)?;
                        crate::read_reply(&mut tls, &mut buf)?;
                        if keep_alive {
                            conn = Some(tls);
                        }
                        Ok::<_, io::Error>(())
                    })();
                    match result {
                        Ok(()) => done += 1,
                        Err(_) => {
                            errors += 1;
                            thread::sleep(Duration::from_millis(1));
                        }
                    }
                }
                (done, errors)
            })
        })
        .collect();
    thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    let (mut done, mut errors) = (0, 0);
    for t in threads {
        let (d, e) = t.join().unwrap();
        done += d;
        errors += e;
    }
    (done as f64 / started.elapsed().as_secs_f64(), errors)
}

type Client = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn connect(addr: SocketAddr, config: &Arc<rustls::ClientConfig>) -> io::Result<Client> {
    let sock = crate::connect(addr)?;
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let conn = rustls::ClientConnection::new(config.clone(), name).map_err(io::Error::other)?;
    Ok(rustls::StreamOwned::new(conn, sock))
}

/// The TLS floor: the floors' one loop (`floor::run`); each connection is a rustls
/// connection, driven as rustls' own mio example drives it, and a frame reader.
pub mod floor {
    use crate::floor::{complete_frame, Conn, Replies};
    use mio::event::Event;
    use mio::net::{TcpListener, TcpStream};
    use mio::Interest;
    use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    use std::io::{ErrorKind, Read, Write};
    use std::sync::Arc;

    struct Tls {
        tls: rustls::ServerConnection,
        replies: Replies,
        inbuf: Vec<u8>,
        closing: bool,
    }

    impl Conn for Tls {
        fn on_event(
            &mut self,
            sock: &mut TcpStream,
            event: &Event,
            scratch: &mut [u8],
        ) -> Option<Interest> {
            // At the end of the stream (or an error) what was read is still answered and
            // flushed before the connection closes.
            let mut close = false;
            if event.is_readable() {
                loop {
                    match self.tls.read_tls(sock) {
                        Ok(0) => {
                            close = true;
                            break;
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(_) => {
                            close = true;
                            break;
                        }
                    }
                    if self.tls.process_new_packets().is_err() {
                        close = true;
                        break;
                    }
                }
                loop {
                    match self.tls.reader().read(scratch) {
                        Ok(0) => break,
                        Ok(n) => self.inbuf.extend_from_slice(&scratch[..n]),
                        Err(_) => break,
                    }
                }
                while let Some((used, keep)) = complete_frame(&self.inbuf) {
                    self.inbuf.drain(..used);
                    self.tls.writer().write_all(self.replies.get(keep)).unwrap();
                    if !keep {
                        self.tls.send_close_notify();
                        self.closing = true;
                    }
                }
            }
            while self.tls.wants_write() {
                if self.tls.write_tls(sock).is_err() {
                    break;
                }
            }
            if close || (self.closing && !self.tls.wants_write()) {
                return None;
            }
            Some(if self.tls.wants_write() {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            })
        }
    }

    /// Serves on 127.0.0.1, port 0, with the certificate and key of `FLOOR_TLS_CERT` and
    /// `FLOOR_TLS_KEY`.
    pub fn serve(cert: &str, key: &str) {
        let chain = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(libmessage::transport::provider())
                .with_protocol_versions(rustls::DEFAULT_VERSIONS)
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(chain, key)
                .unwrap(),
        );
        let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        println!("listening on {}", listener.local_addr().unwrap());
        let replies = Replies::new();
        crate::floor::run(listener, || Tls {
            tls: rustls::ServerConnection::new(config.clone()).unwrap(),
            replies,
            inbuf: Vec::new(),
            closing: false,
        });
    }
}
