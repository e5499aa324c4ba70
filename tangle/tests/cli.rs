//! The `tangle` binary on real projects in temporary folders: what it writes, leaves alone,
//! removes, refuses, and what `--check` and `locate` say.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

struct Project(PathBuf);

impl Project {
    fn new(name: &str) -> Project {
        let dir = std::env::temp_dir().join(format!("tangle-cli-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("docs")).unwrap();
        fs::write(dir.join("book.toml"), "[book]\nsrc = \"docs\"\n").unwrap();
        fs::write(dir.join("docs/SUMMARY.md"), "- [A](a.md)\n").unwrap();
        Project(dir)
    }
    fn chapter(&self, text: &str) -> &Project {
        fs::write(self.0.join("docs/a.md"), text).unwrap();
        self
    }
    fn tangle(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tangle"))
            .args(args)
            .current_dir(&self.0)
            .output()
            .unwrap()
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "tangle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
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
    let outside = std::env::temp_dir().join(format!("tangle-cli-outside-{}", std::process::id()));
    fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, p.path("out")).unwrap();
    p.chapter("```sh file=out/x.sh\necho\n```\n```sh file=inside.sh\necho\n```\n");
    let out = p.tangle(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("docs/a.md:1:1: error: cannot write `out/x.sh`: the target leaves the project through a symbolic link"), "{}", stderr(&out));
    assert!(!outside.join("x.sh").exists());
    assert!(
        !p.path("inside.sh").exists(),
        "nothing may be written when a target is refused"
    );
    fs::remove_dir_all(&outside).unwrap();
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
    let dir = std::env::temp_dir().join(format!("tangle-cli-{}-nobook", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("one.md"),
        "```python file=gen/x.py\nprint(<<v>>)\n```\n",
    )
    .unwrap();
    fs::write(dir.join("two.md"), "```python name=v\n42\n```\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tangle"))
        .args(["one.md", "two.md"])
        .current_dir(&dir)
        .output()
        .unwrap();
    ok(&out);
    assert_eq!(
        fs::read_to_string(dir.join("gen/x.py"))
            .unwrap()
            .lines()
            .nth(1),
        Some("print(42)")
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn watch_retangles_on_save() {
    let p = Project::new("watch");
    p.chapter("```rust file=src/w.rs\nfn first() {}\n```\n");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tangle"))
        .args(["watch", "--interval", "0.05"])
        .current_dir(&p.0)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if fs::read_to_string(p.path("src/w.rs")).is_ok_and(|t| t.contains(needle)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
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
