//! `cargo bench -p tangle`: how fast the tangler is, whole process against whole process,
//! with the reference (Emacs' org-babel-tangle, a bare `mdbook build`) measured in the same run.
//!
//! Prints one table: what was measured, the median time, the target and whether it was met.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const TANGLE: &str = env!("CARGO_BIN_EXE_tangle");

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
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

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tangle-bench-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
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
        tangle::tangle::tangle_book(&dir).unwrap();
    });
    rows.push(Row {
        what: "the book: tangle_book (in process)".into(),
        time: t,
        target: "< 10 ms".into(),
        met: t < Duration::from_millis(10),
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

    // 3. The same org file through Emacs and through `tangle`, whole process against whole process.
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

    // 4. mdBook on the project's book, with the preprocessor as book.toml wires it and with
    //    the preprocessor switched off, runs interleaved.
    if which("mdbook") {
        let out = tempdir("mdbook");
        let build = |with: bool| {
            let mut cmd = Command::new("mdbook");
            cmd.arg("build")
                .arg("-d")
                .arg(&out)
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

fn which(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
