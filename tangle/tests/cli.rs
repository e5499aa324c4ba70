//! The `tangle` binary on real projects in temporary folders: what it writes, leaves alone,
//! removes, refuses, and what `--check` and `locate` say.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, SystemTime};

mod support;
use support::{ok, tangle_command, wait_until, Scratch};

/// A book of one chapter, `docs/a.md`, in a scratch folder.
struct Project(Scratch);

impl Project {
    fn new(name: &str) -> Project {
        let dir = Scratch::new(&format!("cli-{name}"));
        dir.write("book.toml", "[book]\nsrc = \"docs\"\n")
            .write("docs/SUMMARY.md", "- [A](a.md)\n");
        Project(dir)
    }
    fn chapter(&self, text: &str) -> &Project {
        self.0.write("docs/a.md", text);
        self
    }
    fn tangle(&self, args: &[&str]) -> Output {
        self.0.tangle(args)
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn read(&self, rel: &str) -> String {
        self.0.read(rel)
    }
}

fn stderr(out: &Output) -> String {
    support::text(&out.stderr)
}

const TWO_FILES: &str =
    "```rust file=src/a.rs\nfn a() {}\n```\n```rust file=src/b.rs\nfn b() {}\n```\n";

#[test]
fn unchanged_outputs_keep_their_mtime_and_changed_ones_are_replaced_over_read_only_files() {
    let p = Project::new("mtime");
    p.chapter(TWO_FILES);
    ok(&p.tangle(&[]));
    assert_eq!(
        fs::metadata(p.path("src/a.rs"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o444
    );
    let old = SystemTime::now() - Duration::from_secs(3600);
    for f in ["src/a.rs", "src/b.rs"] {
        fs::File::options()
            .write(true)
            .open(p.path(f))
            .map(|f| f.set_modified(old))
            .ok();
        let file = fs::File::open(p.path(f)).unwrap();
        file.set_modified(old).unwrap_or(());
    }
    let before_a = fs::metadata(p.path("src/a.rs"))
        .unwrap()
        .modified()
        .unwrap();
    p.chapter(&TWO_FILES.replace("fn b() {}", "fn b() { changed(); }"));
    let out = p.tangle(&[]);
    ok(&out);
    assert_eq!(
        fs::metadata(p.path("src/a.rs"))
            .unwrap()
            .modified()
            .unwrap(),
        before_a,
        "a.rs was rewritten"
    );
    assert!(
        p.read("src/b.rs").contains("changed()"),
        "b.rs (read-only) was not replaced"
    );
    assert!(stderr(&out).contains("wrote src/b.rs") && !stderr(&out).contains("wrote src/a.rs"));
}

#[test]
fn stale_outputs_are_removed_and_nothing_else() {
    let p = Project::new("stale");
    p.chapter(TWO_FILES);
    ok(&p.tangle(&[]));
    fs::write(p.path("src/mine.rs"), "// hand-written\n").unwrap();
    p.chapter("```rust file=src/a.rs\nfn a() {}\n```\n");
    let out = p.tangle(&[]);
    ok(&out);
    assert!(!p.path("src/b.rs").exists(), "stale output kept");
    assert!(p.path("src/a.rs").exists());
    assert!(
        p.path("src/mine.rs").exists(),
        "a file tangle never wrote was removed"
    );
    assert!(stderr(&out).contains("removed src/b.rs"));
    assert_eq!(
        p.read(".tangled")
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').next().unwrap())
            .collect::<Vec<_>>(),
        ["[documents]", "docs/a.md", "[outputs]", "src/a.rs"]
    );
}

#[test]
fn an_error_writes_nothing_and_keeps_earlier_outputs() {
    let p = Project::new("atomic");
    p.chapter(TWO_FILES);
    ok(&p.tangle(&[]));
    let a = p.read("src/a.rs");
    p.chapter(
        "```rust file=src/a.rs\nfn a() { <<nope>> }\n```\n```rust file=src/c.rs\nfn c() {}\n```\n",
    );
    let out = p.tangle(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim(),
        "docs/a.md:2:10: error: undefined reference «nope»"
    );
    assert_eq!(p.read("src/a.rs"), a);
    assert!(
        p.path("src/b.rs").exists(),
        "an output was removed although tangling failed"
    );
    assert!(
        !p.path("src/c.rs").exists(),
        "a new output was written although tangling failed"
    );
}

#[test]
fn a_symlink_leading_outside_is_refused() {
    let p = Project::new("symlink");
    let outside = Scratch::new("cli-outside");
    std::os::unix::fs::symlink(outside.path(), p.path("out")).unwrap();
    p.chapter("```sh file=out/x.sh\necho\n```\n```sh file=inside.sh\necho\n```\n");
    let out = p.tangle(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("docs/a.md:1:1: error: cannot write `out/x.sh`: the target leaves the project through a symbolic link"), "{}", stderr(&out));
    assert!(!outside.join("x.sh").exists());
    assert!(
        !p.path("inside.sh").exists(),
        "nothing may be written when a target is refused"
    );
}

#[test]
fn check_reports_a_unified_diff_and_fails() {
    let p = Project::new("check");
    p.chapter(TWO_FILES);
    let out = p.tangle(&["--check"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "missing outputs must fail the check"
    );
    ok(&p.tangle(&[]));
    ok(&p.tangle(&["--check"]));
    p.chapter(&TWO_FILES.replace("fn a() {}", "fn a() { new(); }"));
    let out = p.tangle(&["--check"]);
    assert_eq!(out.status.code(), Some(1));
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(diff.contains("--- a/src/a.rs\n+++ b/src/a.rs\n"), "{diff}");
    assert!(diff.contains("-fn a() {}\n+fn a() { new(); }\n"), "{diff}");
    assert!(
        !p.read("src/a.rs").contains("new()"),
        "--check wrote a file"
    );
}

#[test]
fn locate_maps_tangled_lines_to_chapters() {
    let p = Project::new("locate");
    p.chapter("# A\n\n```rust file=src/m.rs\nfn main() {\n    <<body>>\n}\n```\n\n```rust name=\"the body\"\n```\n```rust name=body\nlet x = 1;\n```\n");
    ok(&p.tangle(&["-q"]));
    let out = p.tangle(&["locate", "src/m.rs:3:9"]);
    ok(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "docs/a.md:12:5: in «body»\n"
    );
    let out = p.tangle(&["locate", "src/m.rs:2"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "docs/a.md:4:1: in «src/m.rs»\n"
    );
    // Without a column: the code on the line, not the indentation the reference put there.
    let out = p.tangle(&["locate", "src/m.rs:3"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "docs/a.md:12:1: in «body»\n"
    );
    // A column may stand at the end of the line, not past it.
    ok(&p.tangle(&["locate", "src/m.rs:3:15"]));
    let out = p.tangle(&["locate", "src/m.rs:3:16"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("there is no column 16 on line 3"),
        "{}",
        stderr(&out)
    );
    let out = p.tangle(&["locate", "src/m.rs:99"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("there is no line 99"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn explicit_markdown_files_tangle_without_a_book() {
    // Outside this repository: no book.toml above.
    let dir = Scratch::outside("cli-nobook");
    dir.write("one.md", "```python file=gen/x.py\nprint(<<v>>)\n```\n")
        .write("two.md", "```python name=v\n42\n```\n");
    ok(&dir.tangle(&["one.md", "two.md"]));
    assert_eq!(dir.read("gen/x.py").lines().nth(1), Some("print(42)"));
}

#[test]
fn watch_retangles_on_save() {
    let p = Project::new("watch");
    p.chapter("```rust file=src/w.rs\nfn first() {}\n```\n");
    let mut child = tangle_command(&p.0)
        .args(["watch", "--interval", "0.05"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |needle: &str| {
        wait_until(Duration::from_secs(10), || {
            fs::read_to_string(p.path("src/w.rs")).is_ok_and(|t| t.contains(needle))
        })
    };
    let first = wait_for("fn first()");
    // A different size makes the change visible even within one mtime tick.
    p.chapter("```rust file=src/w.rs\nfn second_version() {}\n```\n");
    let second = wait_for("fn second_version()");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(first, "watch did not tangle at start");
    assert!(second, "watch did not re-tangle after the chapter changed");
}
