//! The invariant of the `sync` fuzz target, shared by the target (`fuzz/fuzz_targets/sync.rs`)
//! and the stable replay test (`tangle/tests/fuzz_corpus.rs`), which include this file with
//! `#[path]`.
//!
//! The input is a chapter (up to the first NUL) and an edit script (the bytes after it). The
//! chapter is tangled as a one-chapter book on disk; the script edits the outputs in memory
//! (changes, inserts and deletes lines, the header included); `tangle::sync::plan` carries the
//! edits back. Whatever the input, sync must not panic, and either it refuses with located
//! diagnostics, or the documents it plans tangle to exactly the edited outputs (and to the
//! untouched ones unchanged).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use tangle::project::Project;

/// A book folder of this process's own, rewritten for every input.
fn book_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tangle-fuzz-sync-{}", std::process::id()));
    if !dir.join("book.toml").exists() {
        fs::create_dir_all(dir.join("docs")).unwrap();
        fs::write(dir.join("book.toml"), "[book]\nsrc = \"docs\"\n").unwrap();
        fs::write(dir.join("docs/SUMMARY.md"), "- [A](a.md)\n").unwrap();
    }
    dir
}

/// Removes this process's book folder (a test that replays inputs calls it when done; a
/// fuzzer keeps the folder for its whole run).
#[allow(dead_code)] // the fuzz target keeps its folder
pub fn remove_book_dir() {
    let _ = fs::remove_dir_all(book_dir());
}

/// Applies the edit script to `text`: three bytes per edit (what, which line, a token).
fn edit(text: &str, script: &[u8]) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    for (n, op) in script.chunks_exact(3).enumerate().take(16) {
        if lines.is_empty() {
            break;
        }
        let i = op[1] as usize % lines.len();
        let indent: String = lines[i].chars().take_while(|c| *c == ' ').collect();
        let token = format!("t{}_{n}", op[2]);
        match op[0] % 5 {
            0 => lines[i] = format!("{indent}{token}"),
            1 => lines.insert(i + 1, format!("{indent}{token}")),
            2 => {
                lines.remove(i);
            }
            3 => lines[i].push_str(&token),
            _ => lines[i].insert_str(indent.len(), &token),
        }
    }
    lines.join("\n")
}

/// What became of one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The chapter does not tangle, or the script changed nothing.
    Nothing,
    /// Sync refused, with located messages.
    Refused,
    /// Sync carried the edits back, exactly.
    Carried,
}

/// Tangles the chapter of `data`, edits the outputs with its script, and checks what sync
/// plans; panics with the reason on a violation.
pub fn check_sync(data: &[u8]) {
    outcome(data);
}

/// [`check_sync`], saying what became of the input.
pub fn outcome(data: &[u8]) -> Outcome {
    let (chapter, script) = match data.iter().position(|&b| b == 0) {
        Some(k) => (&data[..k], &data[k + 1..]),
        None => (data, &[][..]),
    };
    let dir = book_dir();
    fs::write(
        dir.join("docs/a.md"),
        String::from_utf8_lossy(chapter).as_bytes(),
    )
    .unwrap();
    let project = Project::find(&dir).unwrap().expect("the book is there");
    let Ok(fresh) = project.tangle() else {
        return Outcome::Nothing;
    };
    let mut edited = BTreeMap::new();
    // The first output takes the script; a second one takes it from its second edit on.
    for (k, o) in fresh.outputs.iter().enumerate().take(2) {
        let old = String::from_utf8_lossy(&o.content).into_owned();
        let new = edit(&old, script.get(3 * k..).unwrap_or_default());
        if new != old {
            edited.insert(tangle::paths::normalize(&o.path), new);
        }
    }
    if edited.is_empty() {
        return Outcome::Nothing;
    }
    match tangle::sync::plan(&project, &fresh, &edited) {
        Err(ds) => {
            for d in &ds.0 {
                // A refusal of the edit as a whole has no place of its own; its notes do.
                let located = d
                    .pos
                    .as_ref()
                    .map_or(!d.notes.is_empty(), |p| p.line >= 1 && p.col >= 1);
                assert!(located, "unlocated refusal: {d}");
            }
            Outcome::Refused
        }
        Ok(plan) => {
            let again = project
                .tangle_with(&plan.texts)
                .unwrap_or_else(|e| panic!("sync planned documents that do not tangle:\n{e}"));
            assert_eq!(
                again.outputs.len(),
                fresh.outputs.len(),
                "outputs appeared or went"
            );
            for o in &again.outputs {
                let path = tangle::paths::normalize(&o.path);
                let before = fresh
                    .outputs
                    .iter()
                    .find(|f| tangle::paths::normalize(&f.path) == path)
                    .expect("the same outputs");
                let want = edited
                    .get(&path)
                    .map_or(before.content.as_slice(), |s| s.as_bytes());
                assert!(
                    o.content == want,
                    "after sync, {} tangles to\n{}\nnot the edited\n{}",
                    path.display(),
                    String::from_utf8_lossy(&o.content),
                    String::from_utf8_lossy(want)
                );
            }
            Outcome::Carried
        }
    }
}
