//! The floors of the load bench: servers that do nothing but framing (and, for the TLS floor,
//! TLS), so that the bench can say how much of a request's cost is the real server's own.
//! Both run the one loop here, the real server's shape (listener token, slab of connections,
//! an interest per connection re-registered when it changes, close on `None`); what a
//! connection does on an event is a [`Conn`]'s. The plain floor is below; the TLS floor's
//! connection is in `tls_load`.

use mio::event::Event;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use socket2::{Domain, Socket, Type};
use std::io::{ErrorKind, Read, Write};

const LISTENER: Token = Token(usize::MAX);

/// What one connection of a floor does when its socket is ready.
pub trait Conn {
    /// Handles `event` on `sock` (`scratch` is the loop's read buffer): the interest the
    /// connection wants next, or `None` to close it.
    fn on_event(
        &mut self,
        sock: &mut TcpStream,
        event: &Event,
        scratch: &mut [u8],
    ) -> Option<Interest>;
}

/// A connection of the loop: its socket, what it does, and the interest registered for it.
struct Entry<C> {
    sock: TcpStream,
    conn: C,
    interest: Interest,
}

/// Runs one floor loop on `listener` for ever; `accept` makes each new connection's [`Conn`],
/// which starts out waiting to read.
pub fn run<C: Conn>(mut listener: TcpListener, mut accept: impl FnMut() -> C) {
    let mut poll = Poll::new().unwrap();
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .unwrap();
    let mut conns: Slab<Entry<C>> = Slab::new();
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
                    entry.insert(Entry {
                        sock,
                        conn: accept(),
                        interest: Interest::READABLE,
                    });
                }
                continue;
            }
            let key = event.token().0;
            let Some(entry) = conns.get_mut(key) else {
                continue;
            };
            match entry.conn.on_event(&mut entry.sock, event, &mut scratch) {
                None => {
                    let mut entry = conns.remove(key);
                    let _ = poll.registry().deregister(&mut entry.sock);
                }
                Some(interest) if interest != entry.interest => {
                    entry.interest = interest;
                    poll.registry()
                        .reregister(&mut entry.sock, Token(key), interest)
                        .unwrap();
                }
                Some(_) => {}
            }
        }
    }
}

/// Length of the first complete frame in `buf` and whether it asks for keep-alive.
pub fn complete_frame(buf: &[u8]) -> Option<(usize, bool)> {
    if buf.len() < 2 {
        return None;
    }
    let hlen = u16::from_be_bytes([buf[0], buf[1]]) as usize;
    if buf.len() < 2 + hlen {
        return None;
    }
    let header: serde_json::Value = serde_json::from_slice(&buf[2..2 + hlen]).ok()?;
    let clen = header["content-length"].as_u64()? as usize;
    let keep = header["keep-alive"] == true;
    (buf.len() >= 2 + hlen + clen).then_some((2 + hlen + clen, keep))
}

/// The replies a floor gives, without and with keep-alive (made once, for every loop).
#[derive(Clone, Copy)]
pub struct Replies {
    pub one_shot: &'static [u8],
    pub kept: &'static [u8],
}

impl Replies {
    pub fn new() -> Replies {
        let leak = |keep_alive| -> &'static [u8] {
            let frame = crate::text_json_frame(crate::MORPHEUS.as_bytes(), keep_alive);
            Box::leak(frame.into_boxed_slice())
        };
        Replies {
            one_shot: leak(false),
            kept: leak(true),
        }
    }

    pub fn get(&self, keep_alive: bool) -> &'static [u8] {
        if keep_alive {
            self.kept
        } else {
            self.one_shot
        }
    }
}

/// A plain floor connection: read until a frame is complete, switch to writable, write the
/// reply, then close or read again.
struct Plain {
    replies: Replies,
    inbuf: Vec<u8>,
    /// The reply under way: its frame, how much of it is sent, whether to read again after.
    out: Option<(&'static [u8], usize, bool)>,
}

impl Conn for Plain {
    fn on_event(
        &mut self,
        sock: &mut TcpStream,
        _event: &Event,
        scratch: &mut [u8],
    ) -> Option<Interest> {
        let Some((frame, sent, keep)) = &mut self.out else {
            loop {
                match sock.read(scratch) {
                    Ok(0) => return None,
                    Ok(n) => {
                        self.inbuf.extend_from_slice(&scratch[..n]);
                        if let Some((used, keep)) = complete_frame(&self.inbuf) {
                            self.inbuf.drain(..used);
                            self.out = Some((self.replies.get(keep), 0, keep));
                            return Some(Interest::WRITABLE);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Some(Interest::READABLE),
                    Err(_) => return None,
                }
            }
        };
        loop {
            match sock.write(&frame[*sent..]) {
                Ok(n) => {
                    *sent += n;
                    if *sent == frame.len() {
                        let keep = *keep;
                        self.out = None;
                        return keep.then_some(Interest::READABLE);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Some(Interest::WRITABLE),
                Err(_) => return None,
            }
        }
    }
}

/// The plain floor: `FLOOR_THREADS` loops (default 1), each with its own listener on one port
/// with `SO_REUSEPORT`, as the real server's `--threads`.
pub fn serve() {
    let threads: usize = std::env::var("FLOOR_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let mut addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut listeners = Vec::new();
    for _ in 0..threads {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket.set_nonblocking(true).unwrap();
        socket.set_reuse_address(true).unwrap();
        socket.set_reuse_port(true).unwrap();
        socket.bind(&addr.into()).unwrap();
        socket.listen(1024).unwrap();
        let listener = TcpListener::from_std(socket.into());
        addr = listener.local_addr().unwrap();
        listeners.push(listener);
    }
    println!("listening on {addr}");
    let replies = Replies::new();
    let loops: Vec<_> = listeners
        .into_iter()
        .map(|listener| {
            std::thread::spawn(move || {
                run(listener, || Plain {
                    replies,
                    inbuf: Vec::new(),
                    out: None,
                })
            })
        })
        .collect();
    for one in loops {
        let _ = one.join();
    }
}
