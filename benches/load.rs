//! Load generator: the real server against a "floor" server, on loopback.
//!
//! Run with `cargo bench -p selector-server --bench load`. It starts the real `server` binary
//! (built with the bench profile) and a floor server (this same executable re-run with
//! `FLOOR_SERVER=1`), which has the same mio loop shape but only frames a request and answers
//! a fixed reply. It prints one table: requests per second with 25 concurrent clients, one-shot
//! and keep-alive, for both servers and their ratio, first with one event loop each
//! (`--threads 1`, `FLOOR_THREADS=1`), then with N each (`LOAD_THREADS`, by default the cores
//! this process may use), with N loops' rates over one loop's and each loop's share of the CPU
//! time; p99 latency; the server's memory per idle connection with 10,000 held; the throughput
//! of one 16 MiB binary request; and the latency of a normal client's one-shot searches,
//! alone and beside a keep-alive client sending 1 MiB searches back to back (which keeps the
//! loop it landed on busy), with one loop and with N; the peak memory of a fresh server after
//! one expensive JSON request; and how long a `search` waits while four other clients send
//! 1 MiB JSON arrays back to back. Over TLS (`--tls-cert`), keep-alive requests/s and full
//! handshakes/s against a TLS floor (rustls and framing only); `LOAD_TLS_ONLY=1` runs just those.
//! With one loop, the plain build of the server (`--features plain-path`: no shortcuts, see
//! docs/performance.md; built by the bench into `target/plain-path/`, or `LOAD_PLAIN_SERVER`)
//! takes its turns beside the two, and its rates are printed with the fast build's over them.
//! Request rates are the medians of several short runs, the servers taking turns.
//! Everything stays on 127.0.0.1 and every loop is bounded in time.

mod common;
mod floor;
mod tls_load;

use common::*;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Concurrent clients of the rate runs: 25, or `LOAD_CLIENTS`.
fn clients() -> usize {
    std::env::var("LOAD_CLIENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(25)
}
const RUN: Duration = Duration::from_secs(1);
/// Runs per server and per mode: the two servers alternate, and the median run counts.
const ROUNDS: usize = 5;
const IDLE_CONNECTIONS: usize = 10_000;
const BIG: usize = 16 << 20;

fn main() {
    if std::env::var_os("FLOOR_SERVER").is_some() {
        match (
            std::env::var("FLOOR_TLS_CERT"),
            std::env::var("FLOOR_TLS_KEY"),
        ) {
            (Ok(cert), Ok(key)) => tls_load::floor::serve(&cert, &key),
            _ => floor::serve(),
        }
        return;
    }
    let started = Instant::now();
    raise_open_files_limit();
    let loops: usize = std::env::var("LOAD_THREADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| thread::available_parallelism().map_or(1, |n| n.get()));

    if std::env::var_os("LOAD_TLS_ONLY").is_some() {
        tls_rows();
        return;
    }
    let plain_binary = plain_server();
    let server = Spawned::start(&mut server_command(1));
    let floor = Spawned::start(&mut floor_command(1));
    let plain = Spawned::start(&mut command(&plain_binary, 1));
    println!(
        "selector-server load bench: loopback, {} concurrent clients, \
         medians of {ROUNDS} interleaved runs of {} s per server; 1 loop, then {loops} \
         (LOAD_THREADS) against the floor with as many",
        clients(),
        RUN.as_secs()
    );
    let (rows, plain_rows) = throughput(server.addr, floor.addr, Some(plain.addr));
    drop(plain);
    let many = (loops > 1).then(|| {
        let server = Spawned::start(&mut server_command(loops));
        let floor = Spawned::start(&mut floor_command(loops));
        let before = cpu_per_loop(server.pid());
        let (rows, _) = throughput(server.addr, floor.addr, None);
        let after = cpu_per_loop(server.pid());
        let cpu: Vec<f64> = after
            .iter()
            .zip(before.iter().chain(std::iter::repeat(&0.0)))
            .map(|(a, b)| a - b)
            .collect();
        let latency = [latency_beside_an_expensive_client(server.addr)];
        (rows, cpu, latency)
    });

    println!();
    println!(
        "{:<32} {:>12} {:>12} {:>8}  target",
        "", "server", "floor", "ratio"
    );
    print_rows(&rows, "1 loop", 0.9);
    print_plain(&rows, &plain_rows);
    if let Some((rows_n, cpu, _)) = &many {
        print_rows(rows_n, &format!("{loops} loops"), 0.9);
        for (i, keep_alive) in [false, true].into_iter().enumerate() {
            let name = if keep_alive { "keep-alive" } else { "one-shot" };
            println!(
                "{:<32} {:>12.2} {:>12.2}",
                format!("{name}, {loops} loops / 1 loop"),
                rows_n[i].1 .0.rate() / rows[i].1 .0.rate(),
                rows_n[i].1 .1.rate() / rows[i].1 .1.rate()
            );
        }
        let total: f64 = cpu.iter().sum();
        let shares: Vec<String> = cpu
            .iter()
            .map(|t| format!("{:.0}%", 100.0 * t / total.max(1e-9)))
            .collect();
        println!(
            "{:<32} {:>12} of {:.1} s of CPU, by loop: {}",
            format!("{loops} loops' CPU time"),
            "",
            total,
            shares.join(" / ")
        );
    }

    tls_rows();

    let idle = hold_idle(&server, IDLE_CONNECTIONS, Duration::from_secs(30));
    let (held, per_connection) = (idle.socks.len(), idle.per_connection);
    drop(idle);
    println!(
        "{:<32} {:>12} held; server RSS {:>6.0} B per connection  <= 4096 B {}",
        "idle connections (1 loop)",
        held,
        per_connection,
        verdict(held == IDLE_CONNECTIONS && per_connection <= 4096.0)
    );

    let (elapsed, gbps) = big_request(server.addr);
    println!(
        "{:<32} {:>9.1} ms {:>9.2} GB/s  >= 1 GB/s {}",
        "16 MiB binary request (1 loop)",
        elapsed.as_secs_f64() * 1e3,
        gbps,
        verdict(gbps >= 1.0)
    );
    write_results(
        &[Some((1, &rows)), many.as_ref().map(|(r, _, _)| (loops, r))],
        &plain_rows,
        (held, per_connection),
        (elapsed, gbps),
    );
    let alone = [latency_beside_an_expensive_client(server.addr)];
    println!(
        "\na normal client's one-shot searches, beside a keep-alive client sending 1 MiB \
         searches back to back"
    );
    print_latency("1 loop", &alone);
    if let Some((_, _, latency)) = &many {
        print_latency(&format!("{loops} loops"), latency);
    }

    for (name, args, request) in expensive_requests() {
        let (peak, answer) = peak_after(&args, &request);
        println!(
            "{:<32} {:>9.1} MiB peak  ({}, {})",
            "one expensive request", peak, name, answer
        );
    }
    for (name, flood) in floods() {
        let cpu = cpu_time(server.pid());
        let flooded = search_under_flood(server.addr, &flood, Duration::from_secs(3));
        let per_flood = (cpu_time(server.pid()) - cpu) / flooded.floods.max(1) as f64;
        println!(
            "{:<32} {:>9.1} ms p90 {:>6.1} ms max  <= 100 ms {}  ({} searches, {} floods of {}, \
             server CPU {:.1} ms per flood)",
            "search under a flood",
            flooded.p90.as_secs_f64() * 1e3,
            flooded.max.as_secs_f64() * 1e3,
            verdict(flooded.p90 <= Duration::from_millis(100) && flooded.errors == 0),
            flooded.searches,
            flooded.floods,
            name,
            per_flood * 1e3
        );
    }

    println!(
        "\nbench finished in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// TLS keep-alive requests/s and full handshakes/s (one-shot: a new connection and a full
/// handshake per request, no resumption), the server with `--tls-cert` against the TLS floor
/// (rustls and framing only), one loop each, medians of interleaved runs.
fn tls_rows() {
    let pki = tls_load::Pki::new();
    let (cert, key) = (pki.cert(), pki.key());
    let server = Spawned::start(server_command(1).args(["--tls-cert", &cert, "--tls-key", &key]));
    let floor = Spawned::start(
        floor_command(1)
            .env("FLOOR_TLS_CERT", &cert)
            .env("FLOOR_TLS_KEY", &key),
    );
    let clients = clients();
    for addr in [server.addr, floor.addr] {
        tls_load::run_load(addr, &pki, clients, false, Duration::from_millis(300));
    }
    for keep_alive in [true, false] {
        let (mut s, mut f, mut errors) = (Vec::new(), Vec::new(), 0);
        for round in 0..ROUNDS {
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for who in order {
                let addr = [server.addr, floor.addr][who];
                let (rate, failed) = tls_load::run_load(addr, &pki, clients, keep_alive, RUN);
                [&mut s, &mut f][who].push(rate);
                errors += failed;
            }
        }
        let (s, f) = (median(&s), median(&f));
        let name = if keep_alive {
            "TLS keep-alive requests/s"
        } else {
            "TLS handshakes/s (one-shot)"
        };
        println!(
            "{:<32} {:>12.0} {:>12.0} {:>8.2}  >= 0.9 {}{}",
            format!("{name}, 1 loop"),
            s,
            f,
            s / f,
            verdict(s / f >= 0.9),
            if errors > 0 {
                format!("  ({errors} failed requests)")
            } else {
                String::new()
            }
        );
    }
}

/// The rate runs, every run of each (so the spread shows, not only the medians), and the
/// memory and throughput measures, as JSON: for the book's charts and Performance's table
/// (`cargo make bench-charts`), in `LOAD_RESULTS` or the bench's target tmp folder.
fn write_results(
    rate_rows: &[Option<(usize, &Rows)>],
    plain_rows: &[Runs],
    (held, per_connection): (usize, f64),
    (elapsed, gbps): (Duration, f64),
) {
    let runs = |r: &Runs| {
        serde_json::json!({
            "rates": r.rates,
            "p99_ms": r.p99s.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
            "errors": r.errors,
        })
    };
    let loops: Vec<serde_json::Value> = rate_rows
        .iter()
        .flatten()
        .map(|(n, rows)| {
            let modes: Vec<serde_json::Value> = rows
                .iter()
                .enumerate()
                .map(|(i, (keep_alive, (s, f)))| {
                    let mut mode = serde_json::json!({
                        "mode": if *keep_alive { "keep-alive" } else { "one-shot" },
                        "server": runs(s),
                        "floor": runs(f),
                    });
                    // The plain build ran in turns with the others, with one loop.
                    if *n == 1 {
                        if let Some(p) = plain_rows.get(i) {
                            mode["plain"] = runs(p);
                        }
                    }
                    mode
                })
                .collect();
            serde_json::json!({"loops": n, "modes": modes})
        })
        .collect();
    // How busy the machine was (other work shares it): the 1-minute load average, and cores.
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok());
    let results = serde_json::json!({
        "load_average": load,
        "cores": thread::available_parallelism().map_or(1, |n| n.get()),
        "clients": clients(),
        "run_seconds": RUN.as_secs_f64(),
        "rounds": ROUNDS,
        "rates": loops,
        "idle": {"held": held, "bytes_per_connection": per_connection},
        "big_request": {"ms": elapsed.as_secs_f64() * 1e3, "gb_per_s": gbps},
    });
    let path = std::env::var("LOAD_RESULTS")
        .unwrap_or_else(|_| concat!(env!("CARGO_TARGET_TMPDIR"), "/load-results.json").into());
    match std::fs::write(&path, format!("{results:#}\n")) {
        Ok(()) => println!("{:<32} {path}", "results written to"),
        Err(e) => println!("cannot write the results to {path}: {e}"),
    }
}

/// The real server with `threads` event loops.
fn server_command(threads: usize) -> Command {
    command(Path::new(env!("CARGO_BIN_EXE_server")), threads)
}

/// The server binary at `binary`, with `threads` event loops and the bench's limits.
fn command(binary: &Path, threads: usize) -> Command {
    let mut cmd = Command::new(binary);
    cmd.args([
        "-P",
        "0",
        "-q",
        "-c",
        "20000",
        "--max-per-host",
        "20000",
        "--timeout",
        "60",
        "--max-content-length",
        "20000000",
        "--threads",
        &threads.to_string(),
    ]);
    cmd
}

/// The plain build of the server (`--features plain-path`): `LOAD_PLAIN_SERVER` when set,
/// else built here with the release profile into a target folder of its own, `plain-path/`
/// beside this bench's (the same folder would replace the fast build's `server`).
fn plain_server() -> PathBuf {
    if let Some(path) = std::env::var_os("LOAD_PLAIN_SERVER") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current exe");
    // This bench is TARGET/release/deps/load-HASH.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| exe.ancestors().nth(3).map(Path::to_path_buf))
        .expect("the target folder");
    let dir = target.join("plain-path");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "load bench: building the plain server (--features plain-path) into {}",
        dir.display()
    );
    let status = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["build", "--quiet", "--release", "-p", "selector-server"])
        .args([
            "--features",
            "plain-path",
            "--bin",
            "server",
            "--target-dir",
        ])
        .arg(&dir)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the plain server failed");
    dir.join("release/server")
}

/// The floor server with `threads` loops.
fn floor_command(threads: usize) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.env("FLOOR_SERVER", "1")
        .env("FLOOR_THREADS", threads.to_string());
    cmd
}

/// Each mode's (keep-alive or not) runs of the server and of the floor.
type Rows = Vec<(bool, (Runs, Runs))>;

/// One-shot and keep-alive request rates of the server and the floor (and of the plain build
/// when given: its runs, by mode, come second), measured in turns.
fn throughput(
    server: SocketAddr,
    floor: SocketAddr,
    plain: Option<SocketAddr>,
) -> (Rows, Vec<Runs>) {
    // Warm them up, then measure: ROUNDS runs each, taking turns (the order is reversed every
    // other round, so none always runs right after another), and keep the median of each.
    let addrs: Vec<SocketAddr> = [server, floor].into_iter().chain(plain).collect();
    for &addr in &addrs {
        run_load(addr, false, Duration::from_millis(300));
    }
    let (mut rows, mut plain_rows) = (Vec::new(), Vec::new());
    for keep_alive in [false, true] {
        let mut runs: Vec<Runs> = addrs.iter().map(|_| Runs::default()).collect();
        for round in 0..ROUNDS {
            let mut order: Vec<usize> = (0..addrs.len()).collect();
            if round % 2 == 1 {
                order.reverse();
            }
            for who in order {
                runs[who].add(run_load(addrs[who], keep_alive, RUN));
            }
        }
        let mut runs = runs.into_iter();
        let (s, f) = (runs.next().unwrap(), runs.next().unwrap());
        rows.push((keep_alive, (s, f)));
        plain_rows.extend(runs);
    }
    (rows, plain_rows)
}

/// The plain build's rates beside the fast one's, from the same runs.
fn print_plain(rows: &Rows, plain: &[Runs]) {
    for ((keep_alive, (fast, floor)), plain) in rows.iter().zip(plain) {
        let name = if *keep_alive {
            "keep-alive"
        } else {
            "one-shot"
        };
        println!(
            "{:<32} {:>12.0} {:>12.0} {:>8.2}  (plain / floor; fast / plain {:.2}; \
             p99 {:.3} ms){}",
            format!("{name}, plain path, 1 loop"),
            plain.rate(),
            floor.rate(),
            plain.rate() / floor.rate(),
            fast.rate() / plain.rate(),
            plain.p99().as_secs_f64() * 1e3,
            if plain.errors > 0 {
                format!("  ({} failed requests)", plain.errors)
            } else {
                String::new()
            }
        );
    }
}

fn print_rows(rows: &[(bool, (Runs, Runs))], loops: &str, target: f64) {
    for (keep_alive, (s, f)) in rows {
        let name = if *keep_alive {
            "keep-alive"
        } else {
            "one-shot"
        };
        let ratio = s.rate() / f.rate();
        println!(
            "{:<32} {:>12.0} {:>12.0} {:>8.2}  >= {target} {}",
            format!("{name} requests/s, {loops}"),
            s.rate(),
            f.rate(),
            ratio,
            verdict(ratio >= target)
        );
        println!(
            "{:<32} {:>9.3} ms {:>9.3} ms",
            format!("{name} p99 latency, {loops}"),
            s.p99().as_secs_f64() * 1e3,
            f.p99().as_secs_f64() * 1e3
        );
        if s.errors + f.errors > 0 {
            println!(
                "  ({} server / {} floor failed requests)",
                s.errors, f.errors
            );
        }
    }
}

/// Seconds of CPU (user and system) each `loop N` thread of process `pid` has used, by loop.
fn cpu_per_loop(pid: u32) -> Vec<f64> {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut loops = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return loops;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let Some(id) = stat[open + 1..close].strip_prefix("loop ") else {
            continue;
        };
        let Ok(id) = id.parse::<usize>() else {
            continue;
        };
        // After the name: state is field 3; utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let used: f64 =
            fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
        if loops.len() <= id {
            loops.resize(id + 1, 0.0);
        }
        loops[id] = used / ticks;
    }
    loops
}

/// The latency of a normal client (one-shot searches, one at a time, 5 ms apart) for
/// `2 * RUN`: alone, then while a keep-alive client sends 1 MiB searches back to back, which
/// keeps the loop it landed on busy. Returns (alone, beside it, expensive requests served).
fn latency_beside_an_expensive_client(addr: SocketAddr) -> (Vec<Duration>, Vec<Duration>, usize) {
    let normal = || {
        let mut latencies = Vec::new();
        let mut buf = Vec::new();
        let end = Instant::now() + 2 * RUN;
        while Instant::now() < end {
            let t = Instant::now();
            search_once(addr, &mut buf).expect("a normal search");
            latencies.push(t.elapsed());
            thread::sleep(Duration::from_millis(5));
        }
        latencies
    };
    let alone = normal();
    let stop = Arc::new(AtomicBool::new(false));
    let heavy = {
        let stop = stop.clone();
        thread::spawn(move || {
            let value = "x".repeat(1 << 20);
            let content = format!(r#"{{"action": "search", "value": "{value}"}}"#);
            let request = text_json_frame(content.as_bytes(), true);
            let mut sock = connect(addr).expect("connect the expensive client");
            let mut buf = Vec::new();
            let mut served = 0;
            while !stop.load(Ordering::Relaxed) {
                sock.write_all(&request).expect("an expensive request");
                read_reply(&mut sock, &mut buf).expect("an expensive reply");
                served += 1;
            }
            served
        })
    };
    thread::sleep(Duration::from_millis(200));
    let beside = normal();
    stop.store(true, Ordering::Relaxed);
    let served = heavy.join().unwrap();
    (alone, beside, served)
}

fn print_latency(loops: &str, runs: &[(Vec<Duration>, Vec<Duration>, usize)]) {
    for (alone, beside, served) in runs {
        let quantile = |set: &[Duration], q: f64| {
            let mut sorted = set.to_vec();
            sorted.sort_unstable();
            let at = ((sorted.len().saturating_sub(1)) as f64 * q) as usize;
            sorted.get(at).copied().unwrap_or_default().as_secs_f64() * 1e3
        };
        println!(
            "{:<32} alone p50 {:>7.3} ms p99 {:>7.3} ms; beside p50 {:>7.3} ms p99 {:>7.3} ms \
             max {:>7.3} ms ({} searches, {served} expensive served)",
            format!("  {loops}"),
            quantile(alone, 0.5),
            quantile(alone, 0.99),
            quantile(beside, 0.5),
            quantile(beside, 0.99),
            quantile(beside, 1.0),
            beside.len()
        );
    }
}

/// Results of one load run.
#[derive(Default)]
struct Load {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

impl Load {
    fn rate(&self) -> f64 {
        if self.elapsed.is_zero() {
            return 0.0;
        }
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn p99(&self) -> Duration {
        p99(&self.latencies)
    }
}

/// Several runs against one server: the median request rate and p99 latency, and every
/// failed request. A median of short interleaved runs is steadier than the best of long
/// ones: one run disturbed by the scheduler (two cores, 26 busy threads) moves it little.
#[derive(Default)]
struct Runs {
    rates: Vec<f64>,
    p99s: Vec<Duration>,
    errors: usize,
}

impl Runs {
    fn add(&mut self, load: Load) {
        self.rates.push(load.rate());
        self.p99s.push(load.p99());
        self.errors += load.errors;
    }

    fn rate(&self) -> f64 {
        median(&self.rates)
    }

    fn p99(&self) -> Duration {
        median(&self.p99s)
    }
}

fn median<T: Copy + PartialOrd + Default>(values: &[T]) -> T {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    sorted.get(sorted.len() / 2).copied().unwrap_or_default()
}

/// `clients()` threads send requests for `run`: one connection per request (one-shot), or one
/// connection each for all their requests (keep-alive).
fn run_load(addr: SocketAddr, keep_alive: bool, run: Duration) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let threads: Vec<_> = (0..clients())
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || {
                let request = request(keep_alive);
                let mut buf = Vec::with_capacity(256);
                let mut latencies = Vec::with_capacity(100_000);
                let mut errors = 0;
                let mut conn: Option<TcpStream> = None;
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    let result = (|| {
                        let sock = match conn.take() {
                            Some(sock) => sock,
                            None => connect(addr)?,
                        };
                        let mut sock = sock;
                        sock.write_all(&request)?;
                        read_reply(&mut sock, &mut buf)?;
                        if keep_alive {
                            conn = Some(sock);
                        }
                        Ok::<_, std::io::Error>(())
                    })();
                    match result {
                        Ok(()) => latencies.push(t.elapsed()),
                        Err(_) => {
                            errors += 1;
                            thread::sleep(Duration::from_millis(1));
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    thread::sleep(run);
    stop.store(true, Ordering::Relaxed);
    let mut load = Load::default();
    for t in threads {
        let (latencies, errors) = t.join().unwrap();
        load.latencies.extend(latencies);
        load.errors += errors;
    }
    load.elapsed = started.elapsed();
    load
}

/// Sends one 16 MiB binary request (best of three) and returns the time and GB/s.
fn big_request(addr: SocketAddr) -> (Duration, f64) {
    let header = format!(
        "{{\"byteorder\": \"little\", \"content-type\": \"binary/custom-client-binary-type\", \
         \"content-encoding\": \"binary\", \"content-length\": {BIG}}}"
    );
    let mut frame = (header.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(header.as_bytes());
    frame.resize(frame.len() + BIG, b'x');
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let mut sock = connect(addr).expect("connect");
        let t = Instant::now();
        sock.write_all(&frame).expect("send 16 MiB");
        let mut buf = Vec::new();
        read_reply(&mut sock, &mut buf).expect("reply to 16 MiB");
        assert_eq!(buf, b"First 10 bytes of request: xxxxxxxxxx");
        best = best.min(t.elapsed());
    }
    (best, BIG as f64 / best.as_secs_f64() / 1e9)
}

/// Floods of expensive requests: 1 MiB JSON arrays, one of 200,000 numbers (the issue's; far
/// beyond the values a request may hold: refused, after its content is read), one of 8,000
/// strings (within the limits: decoded and answered, its answer as long as it) and one of a
/// string of DEL characters (within the limits, and the longest answer: five times the request).
fn floods() -> [(&'static str, Vec<u8>); 3] {
    let array = |item: &str, n: usize| {
        let items = vec![item; n].join(",");
        let content = format!("{{\"action\": \"search\", \"value\": [{items}]}}");
        text_json_frame(content.as_bytes(), false)
    };
    let string = format!("\"{}\"", "x".repeat(128));
    [
        ("1 MiB of [1e15, ...]", array("1e15", (1 << 20) / 5)),
        ("1 MiB of 8,000 strings", array(&string, 8_000)),
        (
            "[1 MiB of DEL]",
            array(&format!("\"{}\"", "\u{7f}".repeat((1 << 20) - 64)), 1),
        ),
    ]
}

/// The expensive requests whose memory is measured: the issue's (`{"value": [[[]], [[]], …]}`
/// of 1 MiB, with and without the log, and of 8 MiB with `--max-content-length` at 8 MiB; a
/// 1 MiB array of zeros) and two within the bounds on JSON (8,000 strings; a string of 512 KiB of
/// DEL characters, whose answer is five times longer).
fn expensive_requests() -> Vec<(&'static str, Vec<&'static str>, Vec<u8>)> {
    let nested = |size: usize| {
        let items = vec!["[[]]"; (size - 32) / 5].join(",");
        text_json_frame(format!("{{\"value\": [{items}]}}").as_bytes(), false)
    };
    let search = |value: String| {
        let content = format!("{{\"action\": \"search\", \"value\": {value}}}");
        text_json_frame(content.as_bytes(), false)
    };
    let string = format!("\"{}\"", "x".repeat(128));
    let mib = 1 << 20;
    vec![
        ("1 MiB of [[]]", vec![], nested(mib)),
        ("1 MiB of [[]], -q", vec!["-q"], nested(mib)),
        (
            "8 MiB of [[]]",
            vec!["--max-content-length", "8388608"],
            nested(8 * mib),
        ),
        (
            "1 MiB of [0,0,...]",
            vec![],
            search(format!("[{}]", vec!["0"; mib / 2 - 20].join(","))),
        ),
        (
            "1 MiB of 8,000 strings",
            vec![],
            search(format!("[{}]", vec![string.as_str(); 8_000].join(","))),
        ),
        (
            "[512 KiB of DEL]",
            vec![],
            search(format!("[\"{}\"]", "\u{7f}".repeat(mib / 2 - 64))),
        ),
    ]
}

/// The peak resident memory (`VmHWM`), in MiB, of a fresh server started with `args` once it
/// has answered `request`, and its answer: the error code, or "answered".
fn peak_after(args: &[&str], request: &[u8]) -> (f64, String) {
    let server = Spawned::start(
        Command::new(env!("CARGO_BIN_EXE_server"))
            .args(["-P", "0", "--threads", "1"])
            .args(args)
            .stderr(Stdio::null()),
    );
    let mut sock = connect(server.addr).expect("connect");
    sock.write_all(request).expect("send");
    let mut buf = Vec::new();
    read_reply(&mut sock, &mut buf).expect("reply");
    let reply: serde_json::Value = serde_json::from_slice(&buf).expect("a JSON reply");
    let answer = reply["error"].as_str().unwrap_or("answered").to_owned();
    (server.peak_kib() as f64 / 1024.0, answer)
}

/// The CPU time process `pid` has used so far, user and system, in seconds
/// (`/proc/PID/stat`, in clock ticks of 10 ms).
fn cpu_time(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// What a searching client saw while others flooded the server.
struct Flooded {
    p90: Duration,
    max: Duration,
    searches: usize,
    errors: usize,
    floods: usize,
}

/// One client searches (a new connection each time, every 10 ms) while four others send
/// `flood` back to back, each on a new connection, for `run`.
fn search_under_flood(addr: SocketAddr, flood: &[u8], run: Duration) -> Flooded {
    let stop = Arc::new(AtomicBool::new(false));
    let flood = Arc::new(flood.to_vec());
    let flooders: Vec<_> = (0..4)
        .map(|_| {
            let (stop, flood) = (stop.clone(), flood.clone());
            thread::spawn(move || {
                let (mut buf, mut sent) = (Vec::new(), 0);
                while !stop.load(Ordering::Relaxed) {
                    let Ok(mut sock) = connect(addr) else {
                        continue;
                    };
                    if sock.write_all(&flood).is_ok() && read_reply(&mut sock, &mut buf).is_ok() {
                        sent += 1;
                    }
                }
                sent
            })
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    let (mut latencies, mut errors, mut buf) = (Vec::new(), 0, Vec::new());
    let until = Instant::now() + run;
    while Instant::now() < until {
        let t = Instant::now();
        match search_once(addr, &mut buf) {
            Ok(()) => latencies.push(t.elapsed()),
            Err(_) => errors += 1,
        }
        thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::Relaxed);
    let floods = flooders.into_iter().map(|t| t.join().unwrap()).sum();
    latencies.sort_unstable();
    Flooded {
        p90: latencies
            .get(latencies.len().saturating_sub(1) * 9 / 10)
            .copied()
            .unwrap_or_default(),
        max: latencies.last().copied().unwrap_or_default(),
        searches: latencies.len(),
        errors,
        floods,
    }
}
