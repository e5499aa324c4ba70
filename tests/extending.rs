//! The chapter [Extending the server](../docs/extending.md) adds an action as diffs to the
//! chapters. This test keeps that walk-through true: it applies every `<!-- check: change -->`
//! diff of the book to a scratch copy of the book, tangles the copy, and builds and runs the
//! copy's tests (the library's and the binaries' unit tests, and the tests the diffs add).
//! A hunk that no longer applies, or a change that no longer builds or passes, fails naming
//! the chapter line of its block.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One hunk: the lines it expects (context and removed) and the lines it leaves.
struct Hunk {
    /// The chapter line of the hunk's first line.
    at: String,
    old: Vec<String>,
    new: Vec<String>,
}

/// One file's change: a new file's content, or hunks to apply to an existing file.
struct Change {
    at: String,
    path: String,
    created: bool,
    hunks: Vec<Hunk>,
}

/// The `<!-- check: change -->` diff blocks of a chapter.
fn changes(file: &str, text: &str) -> Vec<Change> {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut out = Vec::new();
    let mut marked = false;
    let mut block: Option<usize> = None;
    let mut content = String::new();
    for (event, range) in Parser::new(text).into_offset_iter() {
        match event {
            Event::Html(html) => marked = html.trim() == "<!-- check: change -->",
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) if marked => {
                block = Some(line_of(range.start) + 1);
                content.clear();
            }
            Event::Text(t) if block.is_some() => content.push_str(&t),
            Event::End(TagEnd::CodeBlock) => {
                if let Some(first) = block.take() {
                    out.extend(parse_diff(file, first, &content));
                }
                marked = false;
            }
            Event::Start(_) => marked = false,
            _ => {}
        }
    }
    out
}

fn parse_diff(file: &str, first: usize, diff: &str) -> Vec<Change> {
    let mut out: Vec<Change> = Vec::new();
    let mut from = String::new();
    for (i, line) in diff.lines().enumerate() {
        let at = format!("{file}:{}", first + i);
        if let Some(path) = line.strip_prefix("--- ") {
            from = path.to_owned();
        } else if let Some(path) = line.strip_prefix("+++ ") {
            out.push(Change {
                at: at.clone(),
                path: path.to_owned(),
                created: from == "/dev/null",
                hunks: vec![Hunk {
                    at,
                    old: Vec::new(),
                    new: Vec::new(),
                }],
            });
        } else {
            let change = out
                .last_mut()
                .unwrap_or_else(|| panic!("{at}: a diff line before `+++ FILE`"));
            if line.starts_with("@@") {
                change.hunks.push(Hunk {
                    at,
                    old: Vec::new(),
                    new: Vec::new(),
                });
                continue;
            }
            let hunk = change.hunks.last_mut().unwrap();
            let (kind, rest) = line.split_at(line.len().min(1));
            match kind {
                "" | " " => {
                    hunk.old.push(rest.to_owned());
                    hunk.new.push(rest.to_owned());
                }
                "-" => hunk.old.push(rest.to_owned()),
                "+" => hunk.new.push(rest.to_owned()),
                _ => panic!("{at}: a diff line must start with ' ', '-', '+' or '@@'"),
            }
        }
    }
    for change in &mut out {
        change
            .hunks
            .retain(|h| !h.old.is_empty() || !h.new.is_empty());
    }
    out
}

/// Applies a change to a file's text: each hunk's old lines must be found exactly once.
fn apply(change: &Change, text: &str) -> Result<String, String> {
    if change.created {
        let lines: Vec<String> = change.hunks.iter().flat_map(|h| h.new.clone()).collect();
        return Ok(lines.join("\n") + "\n");
    }
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for hunk in &change.hunks {
        let n = hunk.old.len();
        let found: Vec<usize> = (0..=lines.len().saturating_sub(n))
            .filter(|&i| lines[i..i + n] == hunk.old[..])
            .collect();
        match found.as_slice() {
            [i] => {
                lines.splice(*i..*i + n, hunk.new.iter().cloned());
            }
            _ => {
                return Err(format!(
                    "{}: this hunk does not apply to {}: its {n} lines of context and removal \
                     are found {} times, where they must be found once:\n{}",
                    hunk.at,
                    change.path,
                    found.len(),
                    hunk.old.join("\n")
                ))
            }
        }
    }
    Ok(lines.join("\n") + "\n")
}

/// The scratch copy: the book, the manifest without the dev-dependencies only the real
/// repository's tests use, the lock file, and the tests' shared helpers.
/// Files are written only when their bytes change, so that cargo, which goes by modification
/// times, rebuilds the scratch copy only when the book or its changes did.
fn scratch_copy(root: &Path, dir: &Path, changed: &BTreeMap<String, String>) {
    for sub in ["docs", "tests/common", "tests/harness", "src/bin"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let entry = entry.unwrap();
        let path = format!("docs/{}", entry.file_name().to_string_lossy());
        if !changed.contains_key(&path) {
            write_if_changed(&dir.join(&path), &std::fs::read(entry.path()).unwrap());
        }
    }
    for file in [
        "book.toml",
        "Cargo.lock",
        "tests/common/mod.rs",
        "tests/common/tls_front.rs",
        "tests/harness/mod.rs",
    ] {
        write_if_changed(&dir.join(file), &std::fs::read(root.join(file)).unwrap());
    }
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut kept = Vec::new();
    let mut section = String::new();
    // The workspace's members, a list that may run over several lines: the scratch copy is
    // the server's package alone.
    let mut in_members = false;
    for line in manifest.lines() {
        if line.starts_with("members") {
            in_members = true;
        }
        if in_members {
            in_members = !line.trim_end().ends_with(']');
            continue;
        }
        if line.starts_with('[') {
            section = line.to_owned();
        }
        let dropped = section == "[[bench]]"
            || section == "[dev-dependencies]"
                && !line.starts_with('[')
                // The shared helpers' TLS front makes its certificates with rcgen.
                && !line.starts_with("rcgen");
        if !dropped {
            kept.push(line);
        }
    }
    write_if_changed(&dir.join("Cargo.toml"), (kept.join("\n") + "\n").as_bytes());
}

fn write_if_changed(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).ok().as_deref() != Some(bytes) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

#[test]
fn the_chapters_change_applies_builds_and_passes_its_tests() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = root.join("target").join("extending-check");
    let dir = target.join("book");

    // Every change of every chapter, applied in chapter order.
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let mut all = Vec::new();
    let mut chapters: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    chapters.sort();
    for chapter in &chapters {
        let name = format!("docs/{}", chapter.file_name().unwrap().to_string_lossy());
        all.extend(changes(&name, &std::fs::read_to_string(chapter).unwrap()));
    }
    assert!(
        !all.is_empty(),
        "no `<!-- check: change -->` diff in the book"
    );
    let mut errors = Vec::new();
    let mut added_tests = Vec::new();
    for change in &all {
        let text = files.entry(change.path.clone()).or_insert_with(|| {
            std::fs::read_to_string(root.join(&change.path)).unwrap_or_default()
        });
        match apply(change, text) {
            Ok(new) => *text = new,
            Err(e) => errors.push(e),
        }
        if let Some(test) = change
            .path
            .strip_prefix("tests/")
            .and_then(|p| p.strip_suffix(".rs"))
        {
            added_tests.push((test.to_owned(), change.at.clone()));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
    scratch_copy(root, &dir, &files);
    for (path, text) in &files {
        write_if_changed(&dir.join(path), text.as_bytes());
    }

    // Tangled as `cargo run -p tangle-cli` would.
    let project = tangle::project::Project::find(&dir)
        .unwrap_or_else(|e| panic!("the scratch book.toml does not load:\n{e}"))
        .expect("the scratch copy is a book");
    let tangled = project.tangle().unwrap_or_else(|e| {
        panic!(
            "the book with the changes of {} does not tangle:\n{e}",
            all[0].at
        )
    });
    for output in &tangled.outputs {
        write_if_changed(&dir.join(&output.path), &output.content);
    }

    // Built and tested: the library's and the binaries' unit tests, and the added tests.
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
    cargo
        .current_dir(&dir)
        .args(["test", "--offline", "--quiet", "--lib", "--bins"])
        .env("CARGO_TARGET_DIR", target.join("target"))
        .env_remove("RUSTFLAGS")
        .env_remove("SERVER_THREADS");
    for (test, _) in &added_tests {
        cargo.args(["--test", test]);
    }
    let out = cargo.output().expect("run cargo test in the scratch copy");
    assert!(
        out.status.success(),
        "the book with the changes of {} does not pass its tests ({}):\n{}\n{}",
        all.iter()
            .map(|c| c.at.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The applier itself: a hunk whose context is not in the file (a chapter changed under the
/// diff) fails at the hunk's chapter line.
#[test]
fn a_hunk_that_no_longer_applies_names_its_chapter_line() {
    let chapter = "# x\n\n<!-- check: change -->\n````diff\n--- docs/a.md\n+++ docs/a.md\n@@ @@\n one\n-two\n+deux\n````\n";
    let found = changes("docs/x.md", chapter);
    assert_eq!(found.len(), 1);
    assert_eq!(apply(&found[0], "one\ntwo\n").unwrap(), "one\ndeux\n");
    let error = apply(&found[0], "one\nthree\n").err().unwrap();
    assert!(
        error.starts_with("docs/x.md:7: this hunk does not apply to docs/a.md"),
        "{error}"
    );
}
