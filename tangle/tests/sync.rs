//! `tangle sync` with the real binary: edits made to tangled files go back to the chapter lines
//! they came from, and every edit that cannot be carried back exactly is refused with nothing
//! written.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

mod support;
use support::{tangle_command, text, wait_until, Scratch};

/// A book of one chapter, `docs/a.md`, tangled once, in a scratch folder.
struct Book(Scratch);

impl Book {
    fn new(tag: &str, chapter: &str) -> Book {
        let dir = Scratch::new(&format!("sync-{tag}"));
        dir.write("book.toml", "[book]\nsrc = \"docs\"\n")
            .write("docs/SUMMARY.md", "- [A](a.md)\n")
            .write("docs/a.md", chapter);
        let book = Book(dir);
        book.ok(&["-q"]);
        book
    }
    fn run(&self, args: &[&str]) -> Output {
        self.0.tangle(args)
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "tangle {args:?} failed:\n{}",
            text(&out.stderr)
        );
        text(&out.stderr)
    }
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "tangle {args:?} should fail");
        text(&out.stderr)
    }
    fn read(&self, rel: &str) -> String {
        self.0.read(rel)
    }
    /// Edits a tangled (read-only) file as an editor would.
    fn edit(&self, rel: &str, f: impl FnOnce(&str) -> String) {
        let path = self.0.join(rel);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let new = f(&fs::read_to_string(&path).unwrap());
        fs::write(&path, new).unwrap();
    }
}

const CHAPTER: &str = "# A\n\n```rust file=src/m.rs\nfn main() {\n    <<body>>\n    let s = <<value>>;\n}\n```\n\nThe body.\n\n```rust name=body\nlet x = 1;\nlet y = 2;\n```\n\n```rust name=value\n\"text\"\n```\n";

#[test]
fn changed_inserted_and_deleted_lines_go_to_their_chapter_lines() {
    let b = Book::new("basic", CHAPTER);
    b.edit("src/m.rs", |t| {
        t.replace("    let x = 1;\n", "    let x = 10;\n    let z = 3;\n")
            .replace("    let y = 2;\n", "")
    });
    let said = b.ok(&["sync"]);
    // The chapter lines it wrote are named: `let x = 10;` and `let z = 3;` in place of the
    // fragment's two lines.
    assert!(said.contains("wrote docs/a.md (lines 13-14)"), "{said}");
    let chapter = b.read("docs/a.md");
    assert!(
        chapter.contains("```rust name=body\nlet x = 10;\nlet z = 3;\n```"),
        "{chapter}"
    );
    // The chapters now tangle to the edited file, byte for byte.
    b.ok(&["--check"]);
    // Nothing left to carry back.
    assert!(b.ok(&["sync"]).contains("no edited output"));
}

#[test]
fn text_around_a_reference_goes_to_the_reference_line() {
    let b = Book::new("around", CHAPTER);
    b.edit("src/m.rs", |t| {
        t.replace("let s = \"text\";", "let s: &str = \"text\";")
    });
    b.ok(&["sync"]);
    assert!(b
        .read("docs/a.md")
        .contains("    let s: &str = <<value>>;\n"));
    b.edit("src/m.rs", |t| t.replace("\"text\"", "\"other\""));
    b.ok(&["sync"]);
    assert!(b
        .read("docs/a.md")
        .contains("```rust name=value\n\"other\"\n```"));
    b.ok(&["--check"]);
}

#[test]
fn reindenting_a_fragment_line_changes_the_fragment_not_the_reference() {
    let b = Book::new("indent", CHAPTER);
    b.edit("src/m.rs", |t| {
        t.replace("    let y = 2;", "        let y = 2;")
    });
    b.ok(&["sync"]);
    assert!(b.read("docs/a.md").contains("let x = 1;\n    let y = 2;\n"));
    b.ok(&["--check"]);
}

#[test]
fn refusals_write_nothing() {
    let twice = "```rust file=src/m.rs\nfn a() {\n    <<shared>>\n}\nfn b() {\n    <<shared>>\n}\n```\n\n```rust name=shared\nwork();\n```\n";
    let b = Book::new("refuse", twice);
    let before = b.read("docs/a.md");
    // One copy of a fragment used twice edited, the other not.
    b.edit("src/m.rs", |t| t.replacen("work();", "rest();", 1));
    let err = b.fails(&["sync"]);
    assert!(err.contains("cannot be carried back"), "{err}");
    assert_eq!(b.read("docs/a.md"), before);
    // Both copies edited alike: one edit.
    b.edit("src/m.rs", |t| t.replace("work();", "rest();"));
    b.ok(&["sync"]);
    assert!(b
        .read("docs/a.md")
        .contains("```rust name=shared\nrest();\n```"));
    // Both copies edited differently.
    b.edit("src/m.rs", |t| {
        t.replacen("rest();", "one();", 1)
            .replacen("    rest();", "    two();", 1)
    });
    let err = b.fails(&["sync"]);
    assert!(err.contains("edited differently"), "{err}");
    b.ok(&["-q", "--force"]); // the refused edit discarded, by name
                              // The generated header.
    b.edit("src/m.rs", |t| t.replacen("Generated", "Made", 1));
    let err = b.fails(&["sync"]);
    assert!(
        err.contains("src/m.rs:1:1: error:") && err.contains("header"),
        "{err}"
    );
    b.ok(&["-q", "--force"]);
    // Not UTF-8.
    b.edit("src/m.rs", |t| t.to_string());
    let mut bytes = fs::read(b.0.join("src/m.rs")).unwrap();
    bytes.extend_from_slice(b"\xff\n");
    fs::write(b.0.join("src/m.rs"), bytes).unwrap();
    let err = b.fails(&["sync"]);
    assert!(err.contains("not valid UTF-8"), "{err}");
    b.ok(&["-q", "--force"]);
    // Both sides edited since the last tangle.
    b.edit("src/m.rs", |t| t.replace("rest();", "again();"));
    let chapter = b.read("docs/a.md").replace("fn b()", "fn c()");
    fs::write(b.0.join("docs/a.md"), &chapter).unwrap();
    let err = b.fails(&["sync"]);
    assert!(
        err.contains("both this file and its documents changed"),
        "{err}"
    );
    assert_eq!(b.read("docs/a.md"), chapter);
}

/// Copies the project's book (book.toml, Cargo.toml for the edition, docs/) into `dir`.
fn copy_project_book(dir: &Path) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for f in ["book.toml", "Cargo.toml"] {
        fs::copy(root.join(f), dir.join(f)).unwrap();
    }
    support::copy_tree(&root.join("docs"), &dir.join("docs"));
}

#[test]
fn fmt_turns_a_misformatted_copy_of_the_book_back_into_the_book() {
    let b = Book(Scratch::new("sync-fmt-book"));
    copy_project_book(&b.0);
    let dir = b.0.to_path_buf();
    let original: Vec<(PathBuf, String)> = fs::read_dir(dir.join("docs"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let t = fs::read_to_string(&p).unwrap();
            (p, t)
        })
        .collect();
    // Three kinds of damage rustfmt repairs: spacing, a line's indentation, a split call.
    let damage = [
        (
            "framing.md",
            "pub fn frame(header_json: &[u8], content: &[u8]) -> Result<Vec<u8>, ProtocolError> {",
            "pub fn frame(header_json:&[u8],content:&[u8])->Result<Vec<u8>,ProtocolError>{",
        ),
        (
            "event-loop.md",
            "    let mut events = Events::with_capacity(1024);",
            "  let mut events = Events::with_capacity( 1024 ) ;",
        ),
    ];
    let mut damaged = 0;
    for (chapter, good, bad) in damage {
        let path = dir.join("docs").join(chapter);
        let text = fs::read_to_string(&path).unwrap();
        if text.contains(good) {
            fs::write(&path, text.replacen(good, bad, 1)).unwrap();
            damaged += 1;
        }
    }
    assert_eq!(damaged, 2, "the book changed: pick other lines to damage");
    b.ok(&["-q"]);
    let check = b.run(&["fmt", "--check"]);
    assert!(!check.status.success(), "fmt --check must see the damage");
    let places = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(places.contains("docs/framing.md:"), "{places}");
    b.ok(&["fmt"]);
    for (path, text) in &original {
        assert_eq!(
            &fs::read_to_string(path).unwrap(),
            text,
            "{}",
            path.display()
        );
    }
    // Idempotent, and the outputs match the chapters.
    b.ok(&["fmt", "--check"]);
    b.ok(&["--check"]);
}

#[test]
fn a_clippy_fix_lands_in_the_chapter_line() {
    let chapter = "# A\n\n```rust file=src/main.rs\nfn main() {\n    <<check the list>>\n}\n```\n\nThe check.\n\n```rust name=\"check the list\"\nlet list = vec![1, 2];\nif list.len() == 0 {\n    println!(\"empty\");\n}\n```\n";
    let b = Book::new("clippy-fix", chapter);
    fs::write(
        b.0.join("Cargo.toml"),
        "[package]\nname = \"fixme\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    let said = b.ok(&["cargo", "clippy", "--quiet", "--fix"]);
    assert!(said.contains("applied 2 suggestion(s)"), "{said}");
    let fixed = b.read("docs/a.md");
    assert!(
        fixed.contains(
            "```rust name=\"check the list\"\nlet list = [1, 2];\nif list.is_empty() {\n"
        ),
        "{fixed}"
    );
    // The outputs are what the chapter tangles to; no source file was written by cargo.
    b.ok(&["--check"]);
}

#[test]
fn watch_both_ways_carries_a_saved_output_back() {
    let b = Book::new("watch-sync", CHAPTER);
    let mut child = tangle_command(&b.0)
        .args(["watch", "--sync", "--interval", "0.05"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_until = |done: &dyn Fn() -> bool| wait_until(Duration::from_secs(10), done);
    let out = b.0.join("src/m.rs");
    // While watching both ways, the tangled file is writable: an editor saves it in place.
    let writable =
        wait_until(&|| fs::metadata(&out).is_ok_and(|m| m.permissions().mode() & 0o200 != 0));
    if writable {
        let text = fs::read_to_string(&out).unwrap();
        fs::write(&out, text.replace("let y = 2;", "let y = 20;")).unwrap();
    }
    let carried = wait_until(&|| b.read("docs/a.md").contains("let y = 20;\n"));
    // The chapter is written first, then the manifest: wait for both.
    let settled = wait_until(&|| b.run(&["--check"]).status.success());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(writable, "the output did not become writable");
    assert!(carried, "the saved output was not carried back");
    assert!(settled, "the outputs and manifest did not settle");
    b.ok(&["--check"]);
}
