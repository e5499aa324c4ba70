//! The manual (`tangle/manual/`) is tested like the book: it builds with the real mdBook, and
//! every example in it runs. In each chapter, in order, in a scratch folder of its own:
//!
//! - `<!-- check: file PATH -->` before a code block writes the block to `PATH`;
//! - `<!-- check: console -->` before a block of `$ COMMAND` lines, each followed by what it
//!   prints (standard output and error together), runs each command with `sh` and compares
//!   line by line; a line `...` stands for any lines. A command that fails must show it
//!   (`; echo "exit $?"`).
//! - `<!-- check: none (WHY) -->` checks nothing; WHY says what does.
//!
//! A `console`, `sh` or `bash` block without a marker is an untested example: a failure.
//! Commands run with this build's `tangle` and `mdbook-tangle` first on `PATH`, and `HOME` in
//! the scratch folder.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::Scratch;

const TANGLE: &str = env!("CARGO_BIN_EXE_tangle");
const MANUAL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/manual");

/// A scratch folder for one chapter's examples, outside the repository (a book.toml above it
/// would be found as the project), with a `home` folder for `HOME`.
fn scratch(name: &str) -> Scratch {
    let s = Scratch::outside(name);
    assert!(!s.starts_with(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()));
    fs::create_dir_all(s.join("home")).unwrap();
    s
}

/// An example of the manual: its marker, where its block starts, and its text.
struct Example {
    marker: String,
    line: usize,
    text: String,
}

/// The chapters in SUMMARY.md order.
fn chapters() -> Vec<String> {
    let summary = fs::read_to_string(Path::new(MANUAL).join("src/SUMMARY.md")).unwrap();
    let mut out = Vec::new();
    for line in summary.lines() {
        if let Some(start) = line.find("](") {
            let rest = &line[start + 2..];
            out.push(rest[..rest.find(')').unwrap()].to_string());
        }
    }
    assert!(out.len() >= 5, "{summary}");
    out
}

/// The examples of a chapter; an error for each unmarked shell block.
fn examples(file: &str, text: &str) -> (Vec<Example>, Vec<String>) {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut examples = Vec::new();
    let mut errors = Vec::new();
    let mut pending: Option<String> = None;
    let mut block: Option<(usize, String, String)> = None;
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Html(html) | Event::InlineHtml(html) => {
                if let Some(rest) = html.trim().strip_prefix("<!-- check: ") {
                    let marker = rest.trim_end_matches("-->").trim().to_string();
                    pending = Some(marker);
                }
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split([' ', ',']).next().unwrap_or("").to_string()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                block = Some((line_of(range.start) + 1, lang, String::new()));
            }
            Event::Text(t) => {
                if let Some((_, _, body)) = &mut block {
                    body.push_str(&t);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                let (line, lang, body) = block.take().unwrap();
                match pending.take() {
                    Some(marker) => examples.push(Example {
                        marker,
                        line,
                        text: body,
                    }),
                    None if matches!(lang.as_str(), "console" | "sh" | "bash" | "shell") => {
                        errors.push(format!("{file}:{line}: an example with no check marker"))
                    }
                    None => {}
                }
            }
            Event::Start(Tag::Paragraph) => {}
            _ => {}
        }
    }
    (examples, errors)
}

/// PATH with this build's binaries first, and ~/.cargo/bin (mdBook) last.
fn path() -> std::ffi::OsString {
    let mut dirs = vec![Path::new(TANGLE).parent().unwrap().to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    std::env::join_paths(dirs).unwrap()
}

/// Whether `actual` lines match `expected` lines, where `...` matches any lines.
fn matches(expected: &[&str], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((&"...", rest)) => (0..=actual.len()).any(|i| matches(rest, &actual[i..])),
        Some((e, rest)) => actual.first() == Some(e) && matches(rest, &actual[1..]),
    }
}

/// Runs a console example in `dir`.
fn console(at: &str, dir: &Path, text: &str) -> Result<(), String> {
    let mut sessions: Vec<(String, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        match line.strip_prefix("$ ") {
            Some(command) => sessions.push((command.to_string(), Vec::new())),
            None => match sessions.last_mut() {
                Some((_, out)) => out.push(line),
                None => return Err(format!("{at}: output before any `$ ` command")),
            },
        }
    }
    let home = std::env::var_os("HOME").unwrap_or_default();
    for (command, expected) in sessions {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("exec 2>&1; {command}"))
            .current_dir(dir)
            .env("PATH", path())
            .env("HOME", dir.join("home"))
            // cargo and rustup find their homes without HOME.
            .env(
                "CARGO_HOME",
                std::env::var_os("CARGO_HOME")
                    .unwrap_or_else(|| Path::new(&home).join(".cargo").into()),
            )
            .env(
                "RUSTUP_HOME",
                std::env::var_os("RUSTUP_HOME")
                    .unwrap_or_else(|| Path::new(&home).join(".rustup").into()),
            )
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("CARGO_MAKEFLAGS")
            .output()
            .map_err(|e| format!("{at}: cannot run sh: {e}"))?;
        let actual = String::from_utf8_lossy(&out.stdout);
        let actual: Vec<&str> = actual.lines().collect();
        if !out.status.success() {
            return Err(format!(
                "{at}: `{command}` failed ({}) and the example does not show it \
                 (`; echo \"exit $?\"`):\n{}",
                out.status,
                actual.join("\n")
            ));
        }
        if !matches(&expected, &actual) {
            return Err(format!(
                "{at}: `{command}` printed\n{}\n--- where the manual shows\n{}",
                actual.join("\n"),
                expected.join("\n")
            ));
        }
    }
    Ok(())
}

#[test]
fn every_example_of_the_manual_runs() {
    let mut errors = Vec::new();
    let mut checked = 0;
    for chapter in chapters() {
        let file = format!("manual/src/{chapter}");
        let text = fs::read_to_string(Path::new(MANUAL).join("src").join(&chapter)).unwrap();
        let (examples, mut unmarked) = examples(&file, &text);
        errors.append(&mut unmarked);
        let scratch = scratch(chapter.trim_end_matches(".md"));
        for ex in examples {
            let at = format!("{file}:{}", ex.line);
            let mut words = ex.marker.split_whitespace();
            let result = match words.next() {
                Some("file") => match words.next() {
                    Some(rel) => {
                        let path = scratch.join(rel);
                        fs::create_dir_all(path.parent().unwrap()).unwrap();
                        fs::write(&path, &ex.text).map_err(|e| format!("{at}: {e}"))
                    }
                    None => Err(format!("{at}: `check: file` needs a PATH")),
                },
                Some("console") => {
                    checked += 1;
                    console(&at, &scratch, &ex.text)
                }
                Some("none") if ex.marker.contains('(') => Ok(()),
                _ => Err(format!("{at}: unknown check `{}`", ex.marker)),
            };
            if let Err(e) = result {
                errors.push(e);
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
    assert!(checked >= 10, "only {checked} sessions checked");
}

#[test]
fn the_manual_builds_with_mdbook() {
    let scratch = scratch("site");
    let out = Command::new("mdbook")
        .arg("build")
        .arg(MANUAL)
        .arg("-d")
        .arg(scratch.join("site"))
        .env("PATH", path())
        .output()
        .expect("mdbook is installed (.ci/run installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("WARN"), "{stderr}");
    for chapter in chapters() {
        let page = scratch.join("site").join(chapter.replace(".md", ".html"));
        assert!(page.is_file(), "{} was not built", page.display());
    }
}

#[test]
fn a_wrong_example_fails_naming_its_line() {
    let scratch = scratch("wrong");
    let text =
        "# T\n\n<!-- check: console -->\n```console\n$ echo one\ntwo\n```\n\n```sh\nls\n```\n";
    let (examples, unmarked) = examples("t.md", text);
    assert_eq!(unmarked, ["t.md:10: an example with no check marker"]);
    let e = console("t.md:5", &scratch, &examples[0].text).unwrap_err();
    assert!(e.starts_with("t.md:5: `echo one` printed\none\n"), "{e}");
    let e = console("t.md:5", &scratch, "$ false\n").unwrap_err();
    assert!(e.contains("failed"), "{e}");
    assert!(console("t.md:5", &scratch, "$ printf 'a\\nb\\nc\\n'\na\n...\n").is_ok());
}
