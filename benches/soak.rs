//! The soak: the real server, on loopback, through four ordeals in one run.
//!
//! Run with `cargo make soak` (or `cargo bench -p selector-server --bench soak`). Each ordeal
//! starts its own `server` (the bench profile's build) and stops it:
//!
//! 1. **Hostile clients**: many threads open connection after connection and send what a
//!    broken or malicious client sends (random bytes, bad protoheaders, huge announced lengths,
//!    bad JSON, wrong encodings, truncated and mutated frames, a byte at a time, a megabyte
//!    announced and withheld), while one good client searches again and again. Every search
//!    must be answered; every reply a hostile client gets must be a well-formed frame.
//! 2. **Idle connections**: 10,000 held open; the server's memory per connection, and a good
//!    client still served while they are held.
//! 3. **Keep-alive requests**: a million over a few connections; every reply exact.
//! 4. **SIGTERM with requests buffered**: 500 connections, each with a whole request written
//!    while the server is stopped (SIGSTOP), then SIGTERM and SIGCONT: every request must be
//!    answered and the server must exit with status 0 within its grace period.
//!
//! It ends with a table of figures and exits with status 1 if any check failed. Sizes and
//! durations come from environment variables (`SOAK_SECS`, `SOAK_HOSTILE_THREADS`,
//! `SOAK_IDLE`, `SOAK_KEEPALIVE_REQUESTS`, `SOAK_KEEPALIVE_CONNECTIONS`, `SOAK_DRAIN`,
//! `SOAK_SEED`). Everything stays on 127.0.0.1, and every loop is bounded in count and time.

mod common;

use common::*;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

/// The sizes of one run, each from its environment variable or its default.
struct Settings {
    hostile_secs: u64,
    hostile_threads: usize,
    idle: usize,
    keepalive_requests: usize,
    keepalive_connections: usize,
    drain: usize,
    seed: u64,
}

impl Settings {
    fn from_env() -> Settings {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Settings {
            hostile_secs: env_or("SOAK_SECS", 30),
            hostile_threads: env_or("SOAK_HOSTILE_THREADS", 150),
            idle: env_or("SOAK_IDLE", 10_000),
            keepalive_requests: env_or("SOAK_KEEPALIVE_REQUESTS", 1_000_000),
            keepalive_connections: env_or("SOAK_KEEPALIVE_CONNECTIONS", 4).max(1),
            drain: env_or("SOAK_DRAIN", 500),
            seed: env_or("SOAK_SEED", seed),
        }
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// One row of the table: a figure, with its target and verdict when it is checked.
struct Row {
    part: &'static str,
    measure: String,
    value: String,
    target: String,
    ok: Option<bool>,
}

/// The table printed at the end.
#[derive(Default)]
struct Report {
    rows: Vec<Row>,
}

impl Report {
    fn figure(&mut self, part: &'static str, measure: &str, value: String) {
        self.rows.push(Row {
            part,
            measure: measure.to_owned(),
            value,
            target: String::new(),
            ok: None,
        });
    }

    fn check(&mut self, part: &'static str, measure: &str, value: String, target: &str, ok: bool) {
        if !ok {
            println!("  MISSED: {measure} = {value}, expected {target}");
        }
        self.rows.push(Row {
            part,
            measure: measure.to_owned(),
            value,
            target: target.to_owned(),
            ok: Some(ok),
        });
    }

    fn checks(&self) -> usize {
        self.rows.iter().filter(|r| r.ok.is_some()).count()
    }

    fn failed(&self) -> usize {
        self.rows.iter().filter(|r| r.ok == Some(false)).count()
    }

    fn print(&self) {
        let width = |f: fn(&Row) -> &str| {
            self.rows
                .iter()
                .map(|r| f(r).chars().count())
                .max()
                .unwrap_or(0)
        };
        let w0 = width(|r| r.part);
        let w1 = width(|r| &r.measure);
        let w2 = width(|r| &r.value);
        let w3 = width(|r| &r.target);
        println!();
        for r in &self.rows {
            let verdict = r.ok.map(verdict).unwrap_or("");
            println!(
                "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {verdict}",
                r.part, r.measure, r.value, r.target
            );
        }
    }
}

fn main() {
    let started = Instant::now();
    let settings = Settings::from_env();
    let files = raise_open_files_limit();
    println!(
        "selector-server soak: loopback; {} s of {} hostile threads, {} idle connections, \
         {} keep-alive requests over {} connections, SIGTERM with {} requests buffered; \
         open-files limit {files}; seed {} (SOAK_SEED)",
        settings.hostile_secs,
        settings.hostile_threads,
        settings.idle,
        settings.keepalive_requests,
        settings.keepalive_connections,
        settings.drain,
        settings.seed
    );
    let mut report = Report::default();
    hostile(&settings, &mut report);
    idle(&settings, files, &mut report);
    keep_alive(&settings, &mut report);
    drain(&settings, &mut report);
    report.print();
    let failed = report.failed();
    println!(
        "\nsoak finished in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        if failed == 0 {
            "every check passed".to_owned()
        } else {
            format!("{failed} of {} checks MISSED", report.checks())
        }
    );
    if failed > 0 {
        std::process::exit(1);
    }
}

/// Starts the real server on an ephemeral loopback port, quiet, with `args`.
fn server(args: &[&str]) -> Spawned {
    Spawned::start(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["-h", "127.0.0.1", "-P", "0", "-q"])
            .args(args)
            .env_remove("RUST_LOG")
            .env_remove("SERVER_PASSWORD"),
    )
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

// ---------------------------------------------------------------------------------------------
// 1. Hostile clients and a good one

/// Ordeal 1: hostile threads for `hostile_secs`, one good client throughout.
fn hostile(settings: &Settings, report: &mut Report) {
    const PART: &str = "hostile";
    let run = Duration::from_secs(settings.hostile_secs);
    println!(
        "\n1. {} hostile threads and a good client, {} s",
        settings.hostile_threads,
        run.as_secs()
    );
    // Slots for every hostile thread and the good client; the default timeout (10 s); a
    // memory budget small enough for the clients that withhold a megabyte to fill it.
    const BUDGET: u64 = 8 << 20;
    let mut server = server(&["-c", "1000", "--max-buffered", &BUDGET.to_string()]);
    let addr = server.addr;
    let rss_before = server.rss_kib();
    let mut rss_peak = rss_before;
    let stop_at = Instant::now() + run;
    let (good, tally) = thread::scope(|scope| {
        let good = scope.spawn(move || good_client(addr, stop_at));
        let hostile: Vec<_> = (0..settings.hostile_threads)
            .map(|i| {
                let seed = settings.seed ^ (i as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F);
                thread::Builder::new()
                    .stack_size(256 << 10)
                    .spawn_scoped(scope, move || hostile_client(addr, stop_at, seed))
                    .expect("spawn a hostile thread")
            })
            .collect();
        while Instant::now() < stop_at {
            rss_peak = rss_peak.max(server.rss_kib());
            thread::sleep(Duration::from_millis(50));
        }
        let mut tally = Tally::default();
        for h in hostile {
            tally.merge(h.join().expect("hostile thread"));
        }
        (good.join().expect("good client"), tally)
    });
    let alive = server.exited().is_none();
    let after = alive && search_once(addr, &mut Vec::new()).is_ok();
    let rss_after = if alive { server.rss_kib() } else { 0 };

    report.check(
        PART,
        "good client: searches answered",
        thousands(good.latencies.len()),
        "> 0",
        !good.latencies.is_empty(),
    );
    report.check(
        PART,
        "good client: failures",
        good.failures.to_string(),
        "0",
        good.failures == 0,
    );
    for e in &good.first_errors {
        println!("  good client failure: {e}");
    }
    report.figure(PART, "good client: p99 latency", ms(p99(&good.latencies)));
    report.figure(
        PART,
        "good client: worst latency",
        ms(good.latencies.iter().max().copied().unwrap_or_default()),
    );
    report.figure(
        PART,
        "hostile connections",
        format!(
            "{} ({} refused)",
            thousands(tally.connections),
            tally.connect_failures
        ),
    );
    report.figure(
        PART,
        "hostile frames / bytes sent",
        format!(
            "{} / {:.1} MB",
            thousands(tally.frames),
            tally.bytes as f64 / 1e6
        ),
    );
    for (outcome, n) in &tally.outcomes {
        report.figure(PART, &format!("  ended: {outcome}"), thousands(*n as usize));
    }
    report.check(
        PART,
        "malformed replies to hostile clients",
        tally.malformed.to_string(),
        "0",
        tally.malformed == 0,
    );
    for e in &tally.malformed_examples {
        println!("  malformed reply: {e}");
    }
    report.check(
        PART,
        "server alive and serving afterwards",
        if after { "yes" } else { "no" }.to_owned(),
        "yes",
        after,
    );
    report.figure(
        PART,
        "server RSS before / peak / after",
        format!(
            "{:.1} / {:.1} / {:.1} MiB",
            rss_before as f64 / 1024.0,
            rss_peak as f64 / 1024.0,
            rss_after as f64 / 1024.0
        ),
    );
    // What the server may hold beyond the budget: a thousand connections' slots and headers,
    // its read buffer, the allocator's slack (the allowance of tests/budget.rs).
    let growth = rss_peak.saturating_sub(rss_before) * 1024;
    report.check(
        PART,
        "server RSS peak growth",
        format!("{:.1} MiB", growth as f64 / (1 << 20) as f64),
        "<= budget 8 MiB + 8 MiB",
        growth <= BUDGET + (8 << 20),
    );
}

/// What the good client saw.
struct Good {
    latencies: Vec<Duration>,
    failures: usize,
    first_errors: Vec<String>,
}

/// Searches on a new connection each time until `stop_at`; every reply must be exact.
fn good_client(addr: SocketAddr, stop_at: Instant) -> Good {
    let mut good = Good {
        latencies: Vec::with_capacity(200_000),
        failures: 0,
        first_errors: Vec::new(),
    };
    let mut buf = Vec::with_capacity(256);
    while Instant::now() < stop_at {
        let asked = Instant::now();
        match search_once(addr, &mut buf) {
            Ok(()) => good.latencies.push(asked.elapsed()),
            Err(e) => {
                good.failures += 1;
                if good.first_errors.len() < 5 {
                    good.first_errors
                        .push(format!("after {:?}: {e}", asked.elapsed()));
                }
            }
        }
        // A client, not a load generator: the hostile threads are the load.
        thread::sleep(Duration::from_millis(1));
    }
    good
}

/// A small deterministic generator (splitmix64): a run can be repeated with its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() - 1)]
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Everything the hostile threads did and saw.
#[derive(Default)]
struct Tally {
    connections: usize,
    connect_failures: usize,
    frames: usize,
    bytes: usize,
    /// How each connection ended: the error code of the server's reply, or what else.
    outcomes: BTreeMap<String, u64>,
    malformed: usize,
    malformed_examples: Vec<String>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.connections += other.connections;
        self.connect_failures += other.connect_failures;
        self.frames += other.frames;
        self.bytes += other.bytes;
        for (k, n) in other.outcomes {
            *self.outcomes.entry(k).or_default() += n;
        }
        self.malformed += other.malformed;
        for e in other.malformed_examples {
            if self.malformed_examples.len() < 5 {
                self.malformed_examples.push(e);
            }
        }
    }

    fn ended(&mut self, outcome: &str) {
        *self.outcomes.entry(outcome.to_owned()).or_default() += 1;
    }
}

/// The kinds of abuse, each a way a client can get the protocol wrong.
#[derive(Clone, Copy, Debug)]
enum Attack {
    RandomBytes,
    BadProtoheader,
    HugeLength,
    BadHeader,
    BadJson,
    WrongEncoding,
    Truncated,
    Mutated,
    Pipelined,
    Withheld,
    Slowloris,
}

impl Attack {
    /// Slow attacks hold a thread for seconds, so they come less often.
    fn pick(rng: &mut Rng) -> Attack {
        use Attack::*;
        const QUICK: [Attack; 9] = [
            RandomBytes,
            BadProtoheader,
            HugeLength,
            BadHeader,
            BadJson,
            WrongEncoding,
            Truncated,
            Mutated,
            Pipelined,
        ];
        match rng.range(0, 99) {
            0 => Slowloris,
            1..=5 => Withheld,
            _ => *rng.pick(&QUICK),
        }
    }
}

/// A request a good client could send: a search (sometimes keep-alive), or binary.
fn valid_request(rng: &mut Rng) -> Vec<u8> {
    let value = *rng.pick(&["morpheus", "ring", "\u{1f436}", "nobody"]);
    match rng.range(0, 3) {
        0 => frame(
            &format!(
                "{{\"byteorder\": \"big\", \"content-type\": \"binary/x\", \
                 \"content-encoding\": \"binary\", \"content-length\": {}}}",
                value.len()
            ),
            value.as_bytes(),
        ),
        n => text_json_frame(
            format!("{{\"action\": \"search\", \"value\": \"{value}\"}}").as_bytes(),
            n == 1,
        ),
    }
}

/// A frame whose header has the given fields (written as they come), with `content`.
fn header_frame(fields: &str, content: &[u8]) -> Vec<u8> {
    frame(&format!("{{{fields}}}"), content)
}

/// Connects again and again until `stop_at`, each time attacking once and reading what comes
/// back.
fn hostile_client(addr: SocketAddr, stop_at: Instant, seed: u64) -> Tally {
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    while Instant::now() < stop_at {
        let attack = Attack::pick(&mut rng);
        let mut sock = match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(sock) => sock,
            Err(_) => {
                tally.connect_failures += 1;
                thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        tally.connections += 1;
        let _ = sock.set_write_timeout(Some(Duration::from_secs(2)));
        let _ = sock.set_nodelay(true);
        let wait = attack_once(attack, &mut sock, &mut rng, stop_at, &mut tally);
        let wait = wait
            .min(stop_at.saturating_duration_since(Instant::now()) + Duration::from_millis(100));
        read_outcome(&mut sock, wait, &mut tally);
    }
    tally
}

/// Sends one attack; returns how long to wait for the server's answer.
fn attack_once(
    attack: Attack,
    sock: &mut TcpStream,
    rng: &mut Rng,
    stop_at: Instant,
    tally: &mut Tally,
) -> Duration {
    let quick = Duration::from_millis(rng.range(20, 300) as u64);
    match attack {
        Attack::RandomBytes => {
            let n = rng.range(1, 4096);
            send(sock, &rng.bytes(n), tally);
        }
        Attack::BadProtoheader => {
            let bytes: Vec<u8> = match rng.range(0, 3) {
                // An empty header.
                0 => vec![0, 0],
                // A header of 65535 bytes, of which a few arrive.
                1 => [&[0xff, 0xff][..], b"{\"byteorder\": "].concat(),
                // A length that does not match the header that follows.
                2 => {
                    let mut f = request(false);
                    let len = rng.range(1, 200) as u16;
                    f[..2].copy_from_slice(&len.to_be_bytes());
                    f
                }
                // Half a protoheader.
                _ => vec![0],
            };
            send(sock, &bytes, tally);
        }
        Attack::HugeLength => {
            let length = *rng.pick(&[
                "1048577",
                "1152921504606846976",
                "18446744073709551615",
                "99999999999999999999999",
                "-1",
                "1e30",
                "\"12\"",
                "null",
            ]);
            let f = header_frame(
                &format!(
                    "\"byteorder\": \"little\", \"content-type\": \"text/json\", \
                     \"content-encoding\": \"utf-8\", \"content-length\": {length}"
                ),
                b"{\"action\": \"search\"",
            );
            send(sock, &f, tally);
        }
        Attack::BadHeader => {
            let header: Vec<u8> = match rng.range(0, 5) {
                0 => b"[\"byteorder\", \"little\"]".to_vec(),
                1 => b"{\"byteorder\": \"little\", \"content-type\": \"text/json\"}".to_vec(),
                2 => b"{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-enc"
                    .to_vec(),
                3 => vec![0xc3, 0x28, b'{', b'}'],
                4 => format!("{}0{}", "{\"a\": [".repeat(200), "]}".repeat(200)).into_bytes(),
                _ => {
                    let n = rng.range(1, 300);
                    rng.bytes(n)
                }
            };
            let mut f = (header.len() as u16).to_be_bytes().to_vec();
            f.extend_from_slice(&header);
            send(sock, &f, tally);
        }
        Attack::BadJson => {
            const CONTENTS: [&[u8]; 8] = [
                b"{\"action\": \"search\", \"value\": }",
                b"[\"search\", \"morpheus\"]",
                b"\"search\"",
                b"{\"action\": \"search\", \"value\": \"morph",
                b"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{",
                b"\xff\xfe{\x00}\x00",
                b"",
                b"{}",
            ];
            let content = rng.pick(&CONTENTS);
            send(sock, &text_json_frame(content, rng.chance(2)), tally);
        }
        Attack::WrongEncoding => {
            let encoding = *rng.pick(&["latin-1", "utf-16", "", "ascii", "UTF8", "binary"]);
            let content_type = *rng.pick(&["text/json", "TEXT/JSON", "text/plain", ""]);
            let content = b"{\"action\": \"search\", \"value\": \"morpheus\"}";
            let f = header_frame(
                &format!(
                    "\"byteorder\": \"{}\", \"content-type\": \"{content_type}\", \
                     \"content-encoding\": \"{encoding}\", \"content-length\": {}",
                    rng.pick(&["little", "big", "middle"]),
                    content.len()
                ),
                content,
            );
            send(sock, &f, tally);
        }
        Attack::Truncated => {
            let f = valid_request(rng);
            let cut = rng.range(1, f.len() - 1);
            send(sock, &f[..cut], tally);
            if rng.chance(2) {
                let _ = sock.shutdown(Shutdown::Write);
            }
        }
        Attack::Mutated => {
            let mut f = valid_request(rng);
            for _ in 0..rng.range(1, 6) {
                let at = rng.range(0, f.len() - 1);
                match rng.range(0, 3) {
                    0 => f[at] ^= 1 << rng.range(0, 7),
                    1 => f[at] = rng.next() as u8,
                    2 => f.insert(at, rng.next() as u8),
                    _ => {
                        f.remove(at);
                    }
                }
            }
            send(sock, &f, tally);
        }
        Attack::Pipelined => {
            // A good keep-alive request, then garbage on the same connection.
            let mut f = text_json_frame(br#"{"action": "search", "value": "ring"}"#, true);
            tally.frames += 1;
            let n = rng.range(1, 512);
            f.extend_from_slice(&rng.bytes(n));
            send(sock, &f, tally);
        }
        Attack::Withheld => {
            // A megabyte announced (the largest allowed), some of it sent, the rest withheld.
            let f = header_frame(
                "\"byteorder\": \"little\", \"content-type\": \"text/json\", \
                 \"content-encoding\": \"utf-8\", \"content-length\": 1048576",
                &vec![b' '; rng.range(1, 64) << 10],
            );
            if send(sock, &f, tally) {
                let hold = Duration::from_millis(rng.range(200, 2000) as u64);
                sleep_until((Instant::now() + hold).min(stop_at));
            }
            return quick;
        }
        Attack::Slowloris => {
            let f = valid_request(rng);
            let gap = Duration::from_millis(rng.range(10, 100) as u64);
            tally.frames += 1;
            for byte in &f {
                if Instant::now() >= stop_at || sock.write_all(&[*byte]).is_err() {
                    break;
                }
                tally.bytes += 1;
                thread::sleep(gap);
            }
            return Duration::from_secs(1);
        }
    }
    quick
}

/// Writes one attack's bytes, counting them; whether they were all written.
fn send(sock: &mut TcpStream, bytes: &[u8], tally: &mut Tally) -> bool {
    tally.frames += 1;
    tally.bytes += bytes.len();
    sock.write_all(bytes).is_ok()
}

fn sleep_until(at: Instant) {
    let now = Instant::now();
    if at > now {
        thread::sleep(at - now);
    }
}

/// Reads whatever the server sends within `wait` (or until it closes), checks that it is
/// made of well-formed frames, and counts how the connection ended.
fn read_outcome(sock: &mut TcpStream, wait: Duration, tally: &mut Tally) {
    let until = Instant::now() + wait;
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let ending = loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break "hung up";
        }
        let _ = sock.set_read_timeout(Some(left));
        match sock.read(&mut buf) {
            Ok(0) => break "closed",
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.len() > 1 << 20 {
                    break "hung up";
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break "hung up"
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break "reset",
        }
    };
    if got.is_empty() {
        tally.ended(match ending {
            "closed" => "closed without a reply",
            "reset" => "reset without a reply",
            _ => "no reply yet (client hung up)",
        });
        return;
    }
    match first_reply(&got) {
        Ok(Some(code)) => tally.ended(&format!("error reply: {code}")),
        Ok(None) => tally.ended("answered (a result)"),
        Err(Bad::Incomplete) if ending != "closed" => {
            tally.ended("part of a reply (client hung up)")
        }
        Err(Bad::Incomplete) => {
            tally.malformed += 1;
            if tally.malformed_examples.len() < 5 {
                tally.malformed_examples.push(format!(
                    "closed after an incomplete frame: {:?}",
                    String::from_utf8_lossy(&got)
                ));
            }
        }
        Err(Bad::Malformed(why)) => {
            tally.malformed += 1;
            if tally.malformed_examples.len() < 5 {
                tally.malformed_examples.push(format!(
                    "{why}: {:?}",
                    String::from_utf8_lossy(&got[..got.len().min(300)])
                ));
            }
        }
    }
}

/// Why bytes from the server are not a reply: they stop short, or they are wrong.
enum Bad {
    Incomplete,
    Malformed(String),
}

/// The error code of the first frame in `bytes` (`None` for a result), after checking that
/// every whole frame in them is well-formed: a JSON header with the four keys, and for
/// `text/json` an object with a string `result`.
fn first_reply(bytes: &[u8]) -> Result<Option<String>, Bad> {
    let mut rest = bytes;
    let mut first = None;
    while !rest.is_empty() {
        if rest.len() < 2 {
            return Err(Bad::Incomplete);
        }
        let hlen = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let header = rest.get(2..2 + hlen).ok_or(Bad::Incomplete)?;
        let header: serde_json::Value = serde_json::from_slice(header)
            .map_err(|e| Bad::Malformed(format!("header is not JSON ({e})")))?;
        for key in ["byteorder", "content-type", "content-encoding"] {
            if !header[key].is_string() {
                return Err(Bad::Malformed(format!("header lacks {key}")));
            }
        }
        let clen = header["content-length"]
            .as_u64()
            .ok_or_else(|| Bad::Malformed("header lacks content-length".to_owned()))?
            as usize;
        let content = rest.get(2 + hlen..2 + hlen + clen).ok_or(Bad::Incomplete)?;
        let code = if header["content-type"] == "text/json" {
            let content: serde_json::Value = serde_json::from_slice(content)
                .map_err(|e| Bad::Malformed(format!("content is not JSON ({e})")))?;
            if !content["result"].is_string() {
                return Err(Bad::Malformed("content has no string result".to_owned()));
            }
            content["error"].as_str().map(str::to_owned)
        } else {
            None
        };
        first.get_or_insert(code);
        rest = &rest[2 + hlen + clen..];
    }
    Ok(first.flatten())
}

// ---------------------------------------------------------------------------------------------
// 2. Idle connections

/// Ordeal 2: `idle` connections held open; memory per connection; a good client meanwhile.
fn idle(settings: &Settings, open_files: libc::rlim_t, report: &mut Report) {
    const PART: &str = "idle";
    println!("\n2. {} idle connections", settings.idle);
    // This process holds them, and the server accepts them: each needs a descriptor for each,
    // and a few to spare.
    if settings.idle as libc::rlim_t + 64 > open_files {
        report.check(
            PART,
            "idle connections the open-files limit allows",
            format!("{open_files} descriptors"),
            &format!(">= {} + 64", settings.idle),
            false,
        );
        return;
    }
    // One slot more than the idle ones, for the probe and the good client's searches, all
    // of which this one address may hold; a timeout long enough that none of the idle ones
    // is dropped while they are counted.
    let slots = (settings.idle + 1).to_string();
    let server = server(&["-c", &slots, "--max-per-host", &slots, "--timeout", "120"]);
    let Idle {
        socks: held,
        per_connection,
        took,
        slow_connects,
    } = hold_idle(&server, settings.idle, Duration::from_secs(60));
    report.check(
        PART,
        "idle connections held",
        thousands(held.len()),
        &thousands(settings.idle),
        held.len() == settings.idle,
    );
    report.figure(
        PART,
        "time to open them",
        format!(
            "{:.1} s ({slow_connects} SYNs sent again)",
            took.as_secs_f64()
        ),
    );
    report.check(
        PART,
        "server RSS per idle connection",
        format!("{per_connection:.0} B"),
        "<= 4096 B",
        per_connection <= 4096.0,
    );
    report.figure(
        PART,
        "server RSS with them held",
        format!("{:.1} MiB", server.rss_kib() as f64 / 1024.0),
    );
    // A good client, while they are held: searches one after another, each on a new
    // connection (the server closes after each reply, so the one free slot comes back).
    let mut latencies = Vec::new();
    let mut failures = 0;
    let mut buf = Vec::new();
    let give_up = Instant::now() + Duration::from_secs(30);
    for _ in 0..200 {
        if Instant::now() >= give_up {
            failures += 1;
            println!("  searches while held: out of time");
            break;
        }
        let asked = Instant::now();
        match search_once(server.addr, &mut buf) {
            Ok(()) => latencies.push(asked.elapsed()),
            Err(e) => {
                failures += 1;
                println!("  search while held failed: {e}");
            }
        }
    }
    report.check(
        PART,
        "searches answered while held",
        format!("{} of 200", latencies.len()),
        "200 of 200",
        failures == 0,
    );
    report.figure(PART, "their p99 latency", ms(p99(&latencies)));
    drop(held);
}

// ---------------------------------------------------------------------------------------------
// 3. Keep-alive requests

/// Ordeal 3: `keepalive_requests` searches over `keepalive_connections` keep-alive
/// connections, each reply compared byte for byte with the frame expected.
fn keep_alive(settings: &Settings, report: &mut Report) {
    const PART: &str = "keep-alive";
    let total = settings.keepalive_requests;
    let conns = settings.keepalive_connections;
    println!("\n3. {total} keep-alive requests over {conns} connections");
    // Connections that live as long as the ordeal: no keep-alive lifetime cuts them short.
    let server = server(&["--keep-alive-lifetime", "3600"]);
    let addr = server.addr;
    // A bound on the whole run: at a tenth of the rate this machine gives, it is still done.
    let stop_at = Instant::now() + Duration::from_secs(120);
    let rss_before = server.rss_kib();
    let started = Instant::now();
    let results: Vec<(usize, usize, Vec<String>)> = thread::scope(|scope| {
        let threads: Vec<_> = (0..conns)
            .map(|i| {
                let share = total / conns + usize::from(i < total % conns);
                scope.spawn(move || keep_alive_client(addr, share, stop_at))
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let rss_after = server.rss_kib();
    let done: usize = results.iter().map(|r| r.0).sum();
    let failures: usize = results.iter().map(|r| r.1).sum();
    for e in results.iter().flat_map(|r| &r.2) {
        println!("  keep-alive failure: {e}");
    }
    report.check(
        PART,
        "requests answered exactly",
        thousands(done),
        &thousands(total),
        done == total,
    );
    report.check(PART, "failures", failures.to_string(), "0", failures == 0);
    report.figure(
        PART,
        "rate",
        format!(
            "{} requests/s in {:.1} s",
            thousands((done as f64 / elapsed.as_secs_f64()) as usize),
            elapsed.as_secs_f64()
        ),
    );
    report.figure(
        PART,
        "server RSS before / after",
        format!(
            "{:.1} / {:.1} MiB",
            rss_before as f64 / 1024.0,
            rss_after as f64 / 1024.0
        ),
    );
}

/// Sends `n` keep-alive searches one after another on one connection (a new one after a
/// failure), until done or `stop_at`. Returns requests answered exactly, failures, and the
/// first few failures' descriptions.
fn keep_alive_client(addr: SocketAddr, n: usize, stop_at: Instant) -> (usize, usize, Vec<String>) {
    let request = request(true);
    let expected = text_json_frame(MORPHEUS.as_bytes(), true);
    let mut reply = vec![0u8; expected.len()];
    let (mut done, mut failures, mut errors) = (0, 0, Vec::new());
    let mut conn: Option<TcpStream> = None;
    while done < n && (done % 1024 != 0 || Instant::now() < stop_at) {
        let result = (|| {
            let mut sock = match conn.take() {
                Some(sock) => sock,
                None => connect(addr)?,
            };
            sock.write_all(&request)?;
            sock.read_exact(&mut reply)?;
            if reply != expected {
                return Err(std::io::Error::other(format!(
                    "reply {:?}",
                    String::from_utf8_lossy(&reply)
                )));
            }
            conn = Some(sock);
            Ok::<_, std::io::Error>(())
        })();
        match result {
            Ok(()) => done += 1,
            Err(e) => {
                failures += 1;
                if errors.len() < 5 {
                    errors.push(format!("after {done} requests: {e}"));
                }
                if failures > 100 {
                    break;
                }
            }
        }
    }
    (done, failures, errors)
}

// ---------------------------------------------------------------------------------------------
// 4. SIGTERM with requests buffered

/// Ordeal 4: `drain` connections, accepted and idle; the server stopped (SIGSTOP); a whole
/// request written on each (half of them keep-alive); SIGTERM, then SIGCONT. Every request
/// must be answered, and the server must exit with status 0 within its grace period.
fn drain(settings: &Settings, report: &mut Report) {
    const PART: &str = "SIGTERM";
    const GRACE: Duration = Duration::from_secs(5);
    let n = settings.drain;
    println!("\n4. SIGTERM with {n} requests buffered");
    let slots = (n + 10).to_string();
    let grace = GRACE.as_secs().to_string();
    let mut server = server(&["-c", &slots, "--max-per-host", &slots, "--grace", &grace]);
    let fds_before = server.open_fds();
    let mut socks: Vec<TcpStream> = (0..n)
        .map(|_| connect(server.addr).expect("connect"))
        .collect();
    // Every one of these must be accepted before the shutdown (a connection still in a
    // backlog would be refused by it, rightly): the server then holds a descriptor for each
    // (with several loops, an answer on one connection says nothing of the others).
    assert!(
        server.wait_fds(fds_before + n, IO_TIMEOUT),
        "the server did not accept the {n} connections"
    );
    search_once(server.addr, &mut Vec::new()).expect("probe search");

    server.signal(libc::SIGSTOP);
    let mut written = 0;
    for (i, sock) in socks.iter_mut().enumerate() {
        if sock.write_all(&request(i % 2 == 1)).is_ok() {
            written += 1;
        }
    }
    server.signal(libc::SIGTERM);
    let signalled = Instant::now();
    server.signal(libc::SIGCONT);

    let mut answered = 0;
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut buf = Vec::new();
    // Every reply is due within the grace period; a little more, and the rest count as lost.
    let give_up = signalled + GRACE + Duration::from_secs(2);
    for sock in &mut socks {
        let left = give_up.saturating_duration_since(Instant::now());
        let _ = sock.set_read_timeout(Some(left.max(Duration::from_millis(1))));
        let outcome = match read_reply(sock, &mut buf) {
            Ok(_) if buf == MORPHEUS.as_bytes() => {
                // Answered, and then closed (keep-alive or not: the server is leaving).
                let mut byte = [0u8; 1];
                match sock.read(&mut byte) {
                    Ok(0) => {
                        answered += 1;
                        "answered, then closed".to_owned()
                    }
                    Ok(_) => "answered, then more bytes".to_owned(),
                    Err(e) => format!("answered, then {e}"),
                }
            }
            Ok(_) => format!("other reply {:?}", String::from_utf8_lossy(&buf)),
            Err(e) => format!("no reply: {e}"),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    let exit = server.wait_exit(GRACE + Duration::from_secs(5));
    report.figure(PART, "requests written while stopped", thousands(written));
    report.check(
        PART,
        "answered after SIGTERM",
        thousands(answered),
        &thousands(n),
        answered == n,
    );
    for (outcome, count) in outcomes
        .iter()
        .filter(|(o, _)| !o.starts_with("answered, then closed"))
    {
        println!("  {count} connections: {outcome}");
    }
    let (status, took) = match exit {
        Some((status, at)) => (
            status
                .code()
                .map_or("killed by a signal".to_owned(), |c| c.to_string()),
            Some(at - signalled),
        ),
        None => ("still running".to_owned(), None),
    };
    report.check(PART, "exit status", status.clone(), "0", status == "0");
    report.check(
        PART,
        "exit after SIGTERM",
        took.map_or("-".to_owned(), ms),
        &format!("<= grace {} s", GRACE.as_secs()),
        took.is_some_and(|t| t <= GRACE),
    );
}
