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

/// The TLS floor: one mio loop; each connection is a socket and a rustls connection, driven
/// as rustls' own mio example drives it, and a frame reader.
pub mod floor {
    use mio::net::{TcpListener, TcpStream};
    use mio::{Events, Interest, Poll, Token};
    use rustls::pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer};
    use slab::Slab;
    use std::io::{ErrorKind, Read, Write};
    use std::sync::Arc;

    const LISTENER: Token = Token(usize::MAX);

    struct Conn {
        sock: TcpStream,
        tls: rustls::ServerConnection,
        inbuf: Vec<u8>,
        closing: bool,
        interest: Interest,
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
        let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        println!("listening on {}", listener.local_addr().unwrap());
        let one_shot: Vec<u8> = crate::text_json_frame(crate::MORPHEUS.as_bytes(), false);
        let kept: Vec<u8> = crate::text_json_frame(crate::MORPHEUS.as_bytes(), true);
        let mut poll = Poll::new().unwrap();
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .unwrap();
        let mut conns: Slab<Conn> = Slab::new();
        let mut events = Events::with_capacity(1024);
        let mut scratch = vec![0u8; 64 * 1024];
        loop {
            if poll.poll(&mut events, None).is_err() {
                continue;
            }
            for event in events.iter() {
                if event.token() == LISTENER {
                    while let Ok((mut sock, _)) = listener.accept() {
                        let entry = conns.vacant_entry();
                        poll.registry()
                            .register(&mut sock, Token(entry.key()), Interest::READABLE)
                            .unwrap();
                        entry.insert(Conn {
                            sock,
                            tls: rustls::ServerConnection::new(config.clone()).unwrap(),
                            inbuf: Vec::new(),
                            closing: false,
                            interest: Interest::READABLE,
                        });
                    }
                    continue;
                }
                let key = event.token().0;
                let Some(conn) = conns.get_mut(key) else {
                    continue;
                };
                let mut close = false;
                if event.is_readable() {
                    loop {
                        match conn.tls.read_tls(&mut conn.sock) {
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
                        if conn.tls.process_new_packets().is_err() {
                            close = true;
                            break;
                        }
                    }
                    loop {
                        match conn.tls.reader().read(&mut scratch) {
                            Ok(0) => break,
                            Ok(n) => conn.inbuf.extend_from_slice(&scratch[..n]),
                            Err(_) => break,
                        }
                    }
                    while let Some((used, keep)) = crate::floor::complete_frame(&conn.inbuf) {
                        conn.inbuf.drain(..used);
                        let reply = if keep { &kept } else { &one_shot };
                        conn.tls.writer().write_all(reply).unwrap();
                        if !keep {
                            conn.tls.send_close_notify();
                            conn.closing = true;
                        }
                    }
                }
                while conn.tls.wants_write() {
                    match conn.tls.write_tls(&mut conn.sock) {
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
                if conn.closing && !conn.tls.wants_write() {
                    close = true;
                }
                if close {
                    let mut conn = conns.remove(key);
                    let _ = poll.registry().deregister(&mut conn.sock);
                    continue;
                }
                let interest = if conn.tls.wants_write() {
                    Interest::READABLE | Interest::WRITABLE
                } else {
                    Interest::READABLE
                };
                if interest != conn.interest {
                    conn.interest = interest;
                    poll.registry()
                        .reregister(&mut conn.sock, Token(key), interest)
                        .unwrap();
                }
            }
        }
    }
}
