//! `cargo bench -p tangle-cli`: how fast the tangler is, whole process against whole process,
//! with the reference (Emacs' org-babel-tangle, a bare `mdbook build`) measured in the same run.
//!
//! Prints one table: what was measured, the median time, the target and whether it was met.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;
use support::{Scratch, TANGLE};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The floor program (`examples/floor.rs`), built now with the bench's profile: a process that
/// reads a web's chapters and writes its outputs (as many bytes, copied from the chapters, to
/// the same paths) and does nothing else, so that the floor pays for process start-up as `tangle` does.
fn floor_program() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo)
        .args([
            "build",
            "-q",
            "--profile",
            "bench",
            "-p",
            "tangle",
            "--example",
            "floor",
        ])
        .current_dir(workspace()));
    // This bench runs as target/<profile>/deps/tangle-<hash>; examples are built beside deps.
    let exe = std::env::current_exe().unwrap();
    let floor = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/floor");
    assert!(floor.exists(), "no floor program at {}", floor.display());
    floor
}

/// Median wall time of `runs` runs of `f` (after one warm-up run).
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    f();
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A scratch folder in the system's temporary folder, removed when the bench is done with it.
fn tempdir(name: &str) -> Scratch {
    Scratch::outside(&format!("bench-{name}"))
}

/// Copies the project's book (book.toml and docs/) into a fresh folder.
fn copy_book(to: &Path) {
    let root = workspace();
    fs::copy(root.join("book.toml"), to.join("book.toml")).unwrap();
    let mut stack = vec![PathBuf::from("docs")];
    while let Some(rel) = stack.pop() {
        fs::create_dir_all(to.join(&rel)).unwrap();
        for e in fs::read_dir(root.join(&rel)).unwrap() {
            let e = e.unwrap();
            let child = rel.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                stack.push(child);
            } else {
                fs::copy(e.path(), to.join(&child)).unwrap();
            }
        }
    }
}

/// A book of `fragments` fragments holding `lines` lines in all, each fragment used once.
fn generate_corpus(dir: &Path, fragments: usize, lines: usize) -> usize {
    fs::create_dir_all(dir.join("docs")).unwrap();
    fs::write(dir.join("book.toml"), "[book]\nsrc = \"docs\"\n").unwrap();
    let chapters = 10;
    let per = lines / fragments;
    let mut summary = String::new();
    let mut total = 0;
    for c in 0..chapters {
        summary.push_str(&format!("- [Chapter {c}](c{c}.md)\n"));
        let mut md = format!("# Chapter {c}\n\n```rust file=src/c{c}.rs\npub fn chapter() {{\n");
        for f in (c..fragments).step_by(chapters) {
            md.push_str(&format!("    <<fragment number {f}>>\n"));
        }
        md.push_str("}\n```\n\n");
        for f in (c..fragments).step_by(chapters) {
            md.push_str(&format!(
                "Prose about fragment {f}.\n\n```rust name=\"fragment number {f}\"\n"
            ));
            for l in 0..per {
                md.push_str(&format!(
                    "let value_{f}_{l} = compute({l}, \"text\"); // (ref:r{f}x{l})\n"
                ));
                total += 1;
            }
            md.push_str("```\n\n");
        }
        fs::write(dir.join(format!("docs/c{c}.md")), md).unwrap();
    }
    fs::write(dir.join("docs/SUMMARY.md"), summary).unwrap();
    total
}

/// The same web of `fragments` fragments (`lines` lines each, each used once from its chapter's
/// root) in 20 chapters, written twice: in our syntax (`ours/`, a book) and in entangled-rs'
/// (`entangled/`, with `entangled.toml`, naked output). Returns the chapters' total size.
fn generate_web(dir: &Path, fragments: usize, lines: usize) -> usize {
    let chapters = 20;
    let mut size = 0;
    for ours in [true, false] {
        let root = dir.join(if ours { "ours" } else { "entangled" });
        fs::create_dir_all(root.join("docs")).unwrap();
        let mut summary = String::new();
        for c in 0..chapters {
            summary.push_str(&format!("- [Chapter {c}](c{c}.md)\n"));
            let mut md = format!("# Chapter {c}\n\n");
            md.push_str(&if ours {
                format!("```rust file=src/c{c}.rs\n")
            } else {
                format!("```rust #root_{c} file=src/c{c}.rs\n")
            });
            md.push_str("pub fn chapter() {\n");
            for f in (c..fragments).step_by(chapters) {
                md.push_str(&format!("    <<fragment_{f}>>\n"));
            }
            md.push_str("}\n```\n\n");
            for f in (c..fragments).step_by(chapters) {
                md.push_str(&format!(
                    "Prose about fragment {f}, which says why it is here.\n\n"
                ));
                md.push_str(&if ours {
                    format!("```rust name=fragment_{f}\n")
                } else {
                    format!("```rust #fragment_{f}\n")
                });
                for l in 0..lines {
                    md.push_str(&format!(
                        "let value_{f}_{l} = compute({l}, \"text\", &[1, 2, 3]);\n"
                    ));
                }
                md.push_str("```\n\n");
            }
            if ours {
                size += md.len();
            }
            fs::write(root.join(format!("docs/c{c}.md")), md).unwrap();
        }
        if ours {
            fs::write(root.join("docs/SUMMARY.md"), summary).unwrap();
            fs::write(root.join("book.toml"), "[book]\nsrc = \"docs\"\n").unwrap();
        } else {
            fs::write(
                root.join("entangled.toml"),
                "version = \"2.0\"\nannotation = \"naked\"\nnamespace_default = \"none\"\nsource_patterns = [\"docs/*.md\"]\n",
            )
            .unwrap();
        }
    }
    size
}

/// Runs `cmd` to completion and returns its wall time and peak resident memory (KiB).
fn measured(cmd: &mut Command) -> (Duration, u64) {
    use std::os::unix::process::ExitStatusExt;
    let t = Instant::now();
    // Reaped by wait4 below, which std's `Child` does not know.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: `usage` is plain data that wait4 fills in; `pid` is our own child, reaped here
    // (std's `Child` is not waited for again).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = t.elapsed();
    assert_eq!(reaped, pid, "wait4 failed");
    let status = std::process::ExitStatus::from_raw(status);
    assert!(status.success(), "{cmd:?} failed: {status}");
    (elapsed, usage.ru_maxrss as u64)
}

/// Every file below `dir`, relative to it, with its contents.
fn read_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

fn org_seed() -> Option<PathBuf> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/org_corpus");
    let mut files: Vec<PathBuf> = fs::read_dir(corpus)
        .ok()?
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "org"))
        .collect();
    files.sort();
    files
        .iter()
        .find(|p| p.to_string_lossy().contains("seed"))
        .or(files.first())
        .cloned()
}

const EMACS_INIT: &str = "(progn (require 'org) (require 'ob-tangle) (org-babel-do-load-languages 'org-babel-load-languages '((python . t) (shell . t) (C . t) (emacs-lisp . t))) (setq org-confirm-babel-evaluate nil))";

struct Row {
    what: String,
    time: Duration,
    target: String,
    met: bool,
}

fn main() {
    let mut rows = Vec::new();

    // 1. The project's book, whole process, into a fresh copy (first run writes, then unchanged).
    let dir = tempdir("book");
    copy_book(&dir);
    let t = median(21, || run(Command::new(TANGLE).arg("-q").current_dir(&dir)));
    rows.push(Row {
        what: "the book: `tangle` (process)".into(),
        time: t,
        target: "< 10 ms".into(),
        met: t < Duration::from_millis(10),
    });
    let t = median(21, || {
        tangle::markdown::pipeline::tangle_book(&dir).unwrap();
    });
    rows.push(Row {
        what: "the book: tangle_book (in process)".into(),
        time: t,
        target: "< 10 ms".into(),
        met: t < Duration::from_millis(10),
    });

    // 1b. `tangle sync` on the book with nothing edited: it tangles, reads every output and
    //     compares; the cost of a watcher's idle check.
    let t = median(21, || {
        run(Command::new(TANGLE).args(["sync", "-q"]).current_dir(&dir))
    });
    rows.push(Row {
        what: "the book: `tangle sync`, no edits (process)".into(),
        time: t,
        target: "< 20 ms".into(),
        met: t < Duration::from_millis(20),
    });

    // 2. A generated corpus of 100,000 lines in 1,000 fragments, written from scratch each run.
    let dir = tempdir("corpus");
    let lines = generate_corpus(&dir, 1_000, 100_000);
    let t = median(7, || {
        let _ = fs::remove_dir_all(dir.join("src"));
        let _ = fs::remove_file(dir.join(".tangled"));
        run(Command::new(TANGLE).arg("-q").current_dir(&dir));
    });
    rows.push(Row {
        what: format!("corpus: {lines} lines, 1,000 fragments (process)"),
        time: t,
        target: "< 200 ms".into(),
        met: t < Duration::from_millis(200),
    });

    // 3. A generated 10,000-fragment web, from scratch: against the floor (a whole process that
    //    reads its chapters and writes its outputs, nothing else: see `floor_program`) and
    //    against entangled-rs on the same web in its syntax; whole processes, peak memory from
    //    wait4. Runs interleaved; medians.
    let dir = tempdir("web");
    let size = generate_web(&dir, 10_000, 10);
    let (ours_dir, theirs_dir) = (dir.join("ours"), dir.join("entangled"));
    run(Command::new(TANGLE).arg("-q").current_dir(&ours_dir));
    let outputs = read_tree(&ours_dir.join("src"));
    let lines: usize = outputs
        .iter()
        .map(|(_, b)| b.iter().filter(|&&c| c == b'\n').count())
        .sum();
    let entangled_rs = entangled_rs();
    if let Err(why) = &entangled_rs {
        println!("note: entangled-rs is not measured: {why}");
    }
    let entangled_rs = entangled_rs.ok();
    let entangled = entangled_rs.is_some();
    let entangled_cmd = || Command::new(entangled_rs.as_deref().unwrap());
    if entangled {
        run(entangled_cmd().arg("tangle").current_dir(&theirs_dir));
        // The same work: their files are ours without our header line (and without the
        // final newline, which entangled-rs leaves out).
        for (rel, ours) in &outputs {
            let theirs = fs::read(theirs_dir.join("src").join(rel)).unwrap();
            let body = &ours[ours.iter().position(|&c| c == b'\n').unwrap() + 1..];
            let body = body.strip_suffix(b"\n").unwrap_or(body);
            let theirs = theirs.strip_suffix(b"\n").unwrap_or(&theirs);
            assert!(
                body == theirs,
                "entangled-rs wrote {} differently",
                rel.display()
            );
        }
    }
    // The floor: a whole process (`examples/floor.rs`) that reads every chapter and writes
    // every output from scratch (as many bytes to the same paths), and does nothing else.
    let floor_bin = floor_program();
    let floor_dir = dir.join("floor");
    let mut floor_cmd = Command::new(&floor_bin);
    floor_cmd.arg(&floor_dir).current_dir(&ours_dir);
    floor_cmd.args((0..20).map(|c| format!("docs/c{c}.md")));
    floor_cmd.arg("--");
    floor_cmd.args(
        outputs.iter().map(|(rel, bytes)| {
            format!("{}={}", Path::new("src").join(rel).display(), bytes.len())
        }),
    );
    let said = floor_cmd.output().expect("the floor program runs");
    assert!(said.status.success(), "the floor program failed");
    let written: usize = outputs.iter().map(|(_, b)| b.len()).sum();
    assert_eq!(
        String::from_utf8_lossy(&said.stdout).trim(),
        format!("read {size} wrote {written}"),
        "the floor reads every chapter and writes every output"
    );
    // Our tangler on the same web in entangled-rs' syntax (its entangled.toml makes it an
    // Entangled book): the same files.
    run(Command::new(TANGLE).arg("-q").current_dir(&theirs_dir));
    for (rel, ours) in &outputs {
        let dialect = fs::read(theirs_dir.join("src").join(rel)).unwrap();
        let body = &ours[ours.iter().position(|&c| c == b'\n').unwrap() + 1..];
        assert!(
            body == dialect.as_slice(),
            "the Entangled dialect wrote {} differently",
            rel.display()
        );
    }
    let (mut floor, mut ours, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    let mut dialect = Vec::new();
    for _ in 0..11 {
        let _ = fs::remove_dir_all(&floor_dir);
        floor.push(measured(&mut floor_cmd).0);
        let _ = fs::remove_dir_all(ours_dir.join("src"));
        let _ = fs::remove_file(ours_dir.join(".tangled"));
        ours.push(measured(
            Command::new(TANGLE).arg("-q").current_dir(&ours_dir),
        ));
        let _ = fs::remove_dir_all(theirs_dir.join("src"));
        let _ = fs::remove_file(theirs_dir.join(".tangled"));
        dialect.push(measured(
            Command::new(TANGLE).arg("-q").current_dir(&theirs_dir),
        ));
        if entangled {
            let _ = fs::remove_dir_all(theirs_dir.join("src"));
            let _ = fs::remove_dir_all(theirs_dir.join(".entangled"));
            theirs.push(measured(
                entangled_cmd().arg("tangle").current_dir(&theirs_dir),
            ));
        }
    }
    floor.sort();
    let floor = floor[floor.len() / 2];
    let ours_time = median_of(ours.iter().map(|m| m.0));
    let ours_rss = median_of(ours.iter().map(|m| m.1));
    rows.push(Row {
        what: format!(
            "web: floor process: read {:.1} MB, write {lines} lines",
            size as f64 / 1e6
        ),
        time: floor,
        target: "reference".into(),
        met: true,
    });
    rows.push(Row {
        what: format!(
            "web: `tangle`, 10,000 fragments ({:.1}x floor, {} MiB)",
            ours_time.as_secs_f64() / floor.as_secs_f64(),
            ours_rss / 1024
        ),
        time: ours_time,
        target: "<= 2x floor".into(),
        met: ours_time <= floor * 2,
    });
    if entangled {
        let theirs_time = median_of(theirs.iter().map(|m| m.0));
        let theirs_rss = median_of(theirs.iter().map(|m| m.1));
        let ratio = theirs_time.as_secs_f64() / ours_time.as_secs_f64();
        rows.push(Row {
            what: format!(
                "web: entangled-rs `entangled tangle` ({} MiB)",
                theirs_rss / 1024
            ),
            time: theirs_time,
            target: "reference".into(),
            met: true,
        });
        rows.push(Row {
            what: format!("web: tangle is {ratio:.1}x faster than entangled-rs"),
            time: ours_time,
            target: ">= 3x faster".into(),
            met: ratio >= 3.0,
        });
        rows.push(Row {
            what: format!(
                "web: peak memory, tangle {} KiB vs entangled-rs {} KiB",
                ours_rss, theirs_rss
            ),
            time: ours_time,
            target: "<= entangled-rs".into(),
            met: ours_rss <= theirs_rss,
        });
        let dialect_time = median_of(dialect.iter().map(|m| m.0));
        let dialect_rss = median_of(dialect.iter().map(|m| m.1));
        let ratio = theirs_time.as_secs_f64() / dialect_time.as_secs_f64();
        rows.push(Row {
            what: format!(
                "web, entangled-rs' syntax: `tangle` (Entangled dialect) is {ratio:.1}x faster than entangled-rs ({} MiB)",
                dialect_rss / 1024
            ),
            time: dialect_time,
            target: ">= 3x faster".into(),
            met: ratio >= 3.0,
        });
    }

    // 4. The same org file through Emacs and through `tangle`, whole process against whole process.
    match (org_seed(), which("emacs")) {
        (Some(org), true) => {
            let dir = tempdir("org");
            let file = dir.join(org.file_name().unwrap());
            fs::copy(&org, &file).unwrap();
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            let emacs = median(5, || {
                run(Command::new("emacs")
                    .args([
                        "--batch",
                        "-Q",
                        "--eval",
                        EMACS_INIT,
                        "--eval",
                        &format!("(org-babel-tangle-file \"{name}\")"),
                    ])
                    .current_dir(&dir));
            });
            let ours = median(21, || {
                run(Command::new(TANGLE).args(["-q", &name]).current_dir(&dir))
            });
            let ratio = emacs.as_secs_f64() / ours.as_secs_f64();
            rows.push(Row {
                what: format!("org: emacs org-babel-tangle-file {name}"),
                time: emacs,
                target: "reference".into(),
                met: true,
            });
            rows.push(Row {
                what: format!("org: tangle {name} ({ratio:.0}x faster)"),
                time: ours,
                target: ">= 100x faster".into(),
                met: ratio >= 100.0,
            });
        }
        _ => println!("note: org comparison not run (needs emacs and tests/org_corpus)"),
    }

    // 5. mdBook on the project's book, with the preprocessor as book.toml wires it and with
    //    the preprocessor switched off, runs interleaved.
    if which("mdbook") {
        let out = tempdir("mdbook");
        let build = |with: bool| {
            let mut cmd = Command::new("mdbook");
            cmd.arg("build")
                .arg("-d")
                .arg(out.path())
                .current_dir(workspace());
            if !with {
                cmd.env("MDBOOK_PREPROCESSOR__TANGLE__RENDERERS", "[]");
            }
            let t = Instant::now();
            run(&mut cmd);
            t.elapsed()
        };
        build(true);
        let (mut on, mut off): (Vec<Duration>, Vec<Duration>) = (Vec::new(), Vec::new());
        for _ in 0..11 {
            on.push(build(true));
            off.push(build(false));
        }
        on.sort();
        off.sort();
        let (with, plain) = (on[on.len() / 2], off[off.len() / 2]);
        let added = with.saturating_sub(plain);
        rows.push(Row {
            what: "mdbook build, preprocessor off".into(),
            time: plain,
            target: "reference".into(),
            met: true,
        });
        rows.push(Row {
            what: format!(
                "mdbook build, preprocessor on (+{:.1} ms)",
                added.as_secs_f64() * 1e3
            ),
            time: with,
            target: "+ <= 100 ms".into(),
            met: added <= Duration::from_millis(100),
        });
    }

    println!(
        "\n{:<58} {:>12} {:>16} {:>5}",
        "measurement", "median", "target", "met"
    );
    for r in &rows {
        println!(
            "{:<58} {:>9.2} ms {:>16} {:>5}",
            r.what,
            r.time.as_secs_f64() * 1e3,
            r.target,
            if r.met { "yes" } else { "NO" }
        );
    }
}

/// The median of some values.
fn median_of<T: Ord + Copy>(values: impl Iterator<Item = T>) -> T {
    let mut v: Vec<T> = values.collect();
    v.sort();
    v[v.len() / 2]
}

/// entangled-rs' `entangled` (the crate `entangled-cli`): `$ENTANGLED_RS` if set, else the
/// one on the `PATH`, checked to be entangled-rs (Entangled 2.4, the Python program the
/// differential tests use, is also called `entangled`); or why it is not measured.
fn entangled_rs() -> Result<PathBuf, String> {
    let path = std::env::var_os("ENTANGLED_RS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("entangled"));
    let out = Command::new(&path).arg("--version").output().map_err(|e| {
        format!(
            "cannot run `{}` ({e}); install it with `cargo install --locked entangled-cli \
             --root DIR` and set ENTANGLED_RS=DIR/bin/entangled",
            path.display()
        )
    })?;
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match version.strip_prefix("entangled ") {
        Some(v) if out.status.success() && v.starts_with("0.") => Ok(path),
        _ => Err(format!(
            "`{} --version` says {version:?}, not entangled-rs' `entangled 0.x`",
            path.display()
        )),
    }
}

fn which(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
