//! Nothing the user wrote is ever lost: every command, on a Markdown book, an org project and
//! an Entangled book alike, refuses to write over an output that holds edits not carried back
//! (unless told to discard them, by name), re-checks every file right before replacing it,
//! recovers from a run killed half-way, and writes through links.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::Scratch;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Dialect {
    Markdown,
    Org,
    Entangled,
}

const ALL: [Dialect; 3] = [Dialect::Markdown, Dialect::Org, Dialect::Entangled];

/// A project of one dialect, in a throwaway folder: one document whose root `src/m.rs` holds
/// `fn main() { <<body>> }` and whose fragment «body» holds `let x = 1;` and `let y = 2;`.
struct Project {
    dir: Scratch,
    dialect: Dialect,
}

const MARKDOWN: &str = "# A\n\nThe program.\n\n```rust file=src/m.rs\nfn main() {\n    <<body>>\n}\n```\n\nIts body.\n\n```rust name=body\nlet x = 1;\nlet y = 2;\n```\n";
const ORG: &str = "#+title: A\n\nThe program.\n\n#+begin_src rust :tangle src/m.rs :mkdirp yes :noweb yes\nfn main() {\n    <<body>>\n}\n#+end_src\n\nIts body.\n\n#+name: body\n#+begin_src rust\nlet x = 1;\nlet y = 2;\n#+end_src\n";
const ENTANGLED: &str = "# A\n\nThe program.\n\n``` {.rust file=src/m.rs}\nfn main() {\n    <<body>>\n}\n```\n\nIts body.\n\n``` {.rust #body}\nlet x = 1;\nlet y = 2;\n```\n";

impl Project {
    fn new(dialect: Dialect, tag: &str) -> Project {
        let dir = Scratch::new(&format!("safety-{tag}-{dialect:?}"));
        fs::create_dir_all(dir.join("docs")).unwrap();
        let p = Project { dir, dialect };
        match dialect {
            Dialect::Markdown => {
                p.write("book.toml", "[book]\nsrc = \"docs\"\n");
                p.write("docs/SUMMARY.md", "- [A](a.md)\n");
                p.write("docs/a.md", MARKDOWN);
                p.ok(&[]);
            }
            Dialect::Org => {
                p.write("lit.org", ORG);
                p.ok(&["lit.org"]);
            }
            Dialect::Entangled => {
                p.write(
                    "entangled.toml",
                    "version = \"2.4\"\nwatch_list = [\"docs/*.md\"]\n",
                );
                p.write("docs/a.md", ENTANGLED);
                p.ok(&[]);
            }
        }
        p
    }
    /// The document, relative to the root.
    fn doc(&self) -> &'static str {
        match self.dialect {
            Dialect::Org => "lit.org",
            _ => "docs/a.md",
        }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }
    fn write(&self, rel: &str, text: &str) {
        fs::write(self.path(rel), text).unwrap();
    }
    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }
    fn command(&self, args: &[&str]) -> Command {
        let mut c = support::tangle_command(&self.dir);
        c.args(args)
            .env("CARGO_TERM_COLOR", "never")
            .env_remove("TANGLE_TEST_PAUSE")
            .env_remove("TANGLE_TEST_NO_HARD_LINKS");
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "{:?}: tangle {args:?} failed:\n{err}",
            self.dialect
        );
        err
    }
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "{:?}: tangle {args:?} should fail:\n{err}",
            self.dialect
        );
        err
    }
    /// Edits a file as an editor would (a tangled file may be read-only: made writable first).
    fn edit(&self, rel: &str, from: &str, to: &str) {
        let path = self.path(rel);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o200)).unwrap();
        let text = self.read(rel);
        assert!(text.contains(from), "{rel} has no {from:?}:\n{text}");
        fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }
    /// Names of the files in `rel` (a folder), sorted.
    fn names(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(rel))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
    /// Starts `tangle args` to stop at test point `point`; returns once it is there.
    fn paused(&self, args: &[&str], point: &str) -> Paused {
        match self.maybe_paused(args, point) {
            Ok(paused) => paused,
            Err((ok, err)) => {
                panic!("tangle {args:?} ended (success: {ok}) before reaching {point}:\n{err}")
            }
        }
    }
    /// [`Project::paused`], or the command's end (success, standard error) when it ends
    /// without reaching the point (it had nothing to write).
    fn maybe_paused(&self, args: &[&str], point: &str) -> Result<Paused, (bool, String)> {
        let flag = self.dir.with_extension("flag");
        let _ = fs::remove_file(&flag);
        let mut child = self
            .command(args)
            .env("TANGLE_TEST_PAUSE", format!("{point}:{}", flag.display()))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !flag.exists() {
            if let Ok(Some(_)) = child.try_wait() {
                let out = child.wait_with_output().unwrap();
                return Err((
                    out.status.success(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                ));
            }
            assert!(Instant::now() < deadline, "tangle never reached {point}");
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(Paused {
            child: Some(child),
            flag,
        })
    }
}

/// A command stopped at a test point.
struct Paused {
    child: Option<Child>,
    flag: PathBuf,
}

impl Paused {
    /// Lets it go on; its exit status and standard error.
    fn resume(mut self) -> (bool, String) {
        fs::remove_file(&self.flag).unwrap();
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
    /// Kills it where it stands (as a crash or a `kill -9` would).
    fn kill(mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let _ = fs::remove_file(&self.flag);
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_file(&self.flag);
    }
}

#[test]
fn plain_tangle_refuses_to_write_over_an_edit_and_force_discards_it_by_name() {
    for d in ALL {
        let p = Project::new(d, "refuse");
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        // A prose edit of the document changes no output: the edit still is not overwritten.
        p.edit(p.doc(), "The program.", "The whole program.");
        let err = p.fails(&[]);
        assert!(
            err.contains("`src/m.rs` holds edits that no tangle wrote")
                && err.contains("`tangle sync`")
                && err.contains("`tangle --force`"),
            "{d:?}: {err}"
        );
        assert!(p.read("src/m.rs").contains("let x = 100;"), "{d:?}: lost");
        let err = p.fails(&["--check"]);
        assert!(
            err.contains("src/m.rs hold(s) edits not carried back")
                && err.contains("run `tangle sync`")
                && !err.contains("run `tangle` to update"),
            "{d:?}: {err}"
        );
        // A code edit of the document too: still refused, and sync will not pick a side.
        p.edit(p.doc(), "let y = 2;", "let y = 3;");
        p.fails(&[]);
        let err = p.fails(&["sync"]);
        assert!(
            err.contains("both this file and its documents changed")
                && err.contains("`tangle --force`")
                && !err.contains("run `tangle` to"),
            "{d:?}: {err}"
        );
        assert!(p.read("src/m.rs").contains("let x = 100;"), "{d:?}: lost");
        // Told by name: discarded, and said so.
        let said = p.ok(&["--force"]);
        assert!(
            said.contains("discarded the edits of src/m.rs (2 line(s) of it replaced)"),
            "{d:?}: {said}"
        );
        assert!(p.read("src/m.rs").contains("let x = 1;"), "{d:?}");
        assert!(p.read("src/m.rs").contains("let y = 3;"), "{d:?}");
        p.ok(&["--check"]);
        p.ok(&[]);
    }
}

#[test]
fn a_file_no_tangle_wrote_is_not_overwritten() {
    for d in ALL {
        let p = Project::new(d, "foreign");
        fs::remove_file(p.path(".tangled")).unwrap();
        if d == Dialect::Org {
            // The org project is known by its manifest: name the file again.
            fs::remove_file(p.path("src/m.rs")).unwrap();
            p.ok(&["lit.org"]);
            fs::remove_file(p.path(".tangled")).unwrap();
        }
        fs::remove_file(p.path("src/m.rs")).unwrap();
        p.write("src/m.rs", "// mine\n");
        let args: &[&str] = if d == Dialect::Org { &["lit.org"] } else { &[] };
        let err = p.fails(args);
        assert!(
            err.contains("`src/m.rs` is not a file tangle wrote"),
            "{d:?}: {err}"
        );
        assert_eq!(p.read("src/m.rs"), "// mine\n");
    }
}

#[test]
fn an_edited_stale_output_is_kept_and_an_unedited_one_removed() {
    for d in ALL {
        let p = Project::new(d, "stale");
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        // The root renamed: src/m.rs is stale, and holds an edit.
        p.edit(p.doc(), "src/m.rs", "src/n.rs");
        let said = p.ok(&[]);
        assert!(
            said.contains("kept src/m.rs: no root writes it any more, but it holds edits"),
            "{d:?}: {said}"
        );
        assert!(p.read("src/m.rs").contains("let x = 100;"), "{d:?}");
        // Renamed back and forth without edits: the stale file goes.
        fs::remove_file(p.path("src/m.rs")).unwrap();
        p.edit(p.doc(), "src/n.rs", "src/o.rs");
        let said = p.ok(&[]);
        assert!(said.contains("removed src/n.rs"), "{d:?}: {said}");
        assert!(!p.path("src/n.rs").exists());
    }
}

/// A running `tangle watch`, its standard error collected.
struct Watcher {
    child: Child,
    said: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Watcher {
    fn start(p: &Project, args: &[&str]) -> Watcher {
        let mut child = p.command(args).stderr(Stdio::piped()).spawn().unwrap();
        let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let into = said.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut s = into.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Watcher { child, said }
    }
    fn said(&self) -> String {
        self.said.lock().unwrap().clone()
    }
    /// Waits (at most 20 s) until `done` holds; whether it did.
    fn until(&self, mut done: impl FnMut(&str) -> bool) -> bool {
        support::wait_until(Duration::from_secs(20), || done(&self.said()))
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_never_tangles_over_an_edit() {
    for d in ALL {
        let p = Project::new(d, "watch-keeps");
        let w = Watcher::start(&p, &["watch", "--interval", "0.05", "--settle", "0.1"]);
        assert!(w.until(|s| s.contains("up to date")), "{d:?}: {}", w.said());
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        p.edit(p.doc(), "let y = 2;", "let y = 300;");
        assert!(
            w.until(
                |s| s.contains("`src/m.rs` holds edits that no tangle wrote")
                    && s.contains("waiting for the next save")
            ),
            "{d:?}: {}",
            w.said()
        );
        assert!(p.read("src/m.rs").contains("let x = 100;"), "{d:?}: lost");
        drop(w);
        // The edit is still there to carry back (the document's change waits for it).
        assert!(p
            .fails(&["sync"])
            .contains("both this file and its documents changed"));
    }
}

#[test]
fn watch_sync_waits_for_a_save_written_in_two_pieces() {
    for d in ALL {
        let p = Project::new(d, "watch-chunks");
        let w = Watcher::start(
            &p,
            &["watch", "--sync", "--interval", "0.05", "--settle", "0.15"],
        );
        assert!(w.until(|s| s.contains("up to date")), "{d:?}: {}", w.said());
        let old = p.read("src/m.rs");
        let new = old
            .replace("let x = 1;", "let x = 100;")
            .replace("let y = 2;", "let y = 2;\n    let z = 3;");
        // The first piece ends inside `fn main`, after its first line; the rest comes later
        // than the settle time.
        let cut = new.find("fn main() {\n").unwrap() + "fn main() {\n".len();
        p.edit("src/m.rs", &old, &new[..cut]);
        assert!(
            w.until(|s| s.contains("looks half-saved")),
            "{d:?}: {}",
            w.said()
        );
        std::thread::sleep(Duration::from_millis(300));
        fs::write(p.path("src/m.rs"), &new).unwrap();
        assert!(
            w.until(|_| p.read(p.doc()).contains("let x = 100;")),
            "{d:?}: {}",
            w.said()
        );
        assert!(w.until(|s| s.matches("up to date").count() >= 2));
        drop(w);
        let doc = p.read(p.doc());
        assert!(
            doc.contains("fn main() {\n    <<body>>\n}"),
            "{d:?}: the root kept its lines:\n{doc}"
        );
        assert!(
            doc.contains("let x = 100;\nlet y = 2;\nlet z = 3;\n"),
            "{d:?}: the body got the new lines:\n{doc}"
        );
        assert_eq!(p.read("src/m.rs"), new, "{d:?}");
        p.ok(&["--check"]);
    }
}

/// No file of `p` (root, documents' and outputs' folders) is a temporary file of tangle's.
fn no_leftovers(p: &Project) {
    for folder in [".", "docs", "src"] {
        for name in p.names(folder) {
            assert!(
                !name.contains(".tangle-") && name != ".tangle-journal",
                "{:?}: {folder}/{name} left behind",
                p.dialect
            );
        }
    }
}

#[test]
fn a_document_saved_while_sync_runs_stops_it_and_nothing_is_lost() {
    for d in ALL {
        let p = Project::new(d, "sync-race");
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        let paused = p.paused(&["sync"], "before-commit");
        // A save of the document lands after sync read it, before it writes.
        let doc = p.read(p.doc());
        p.write(p.doc(), &format!("{doc}\nA line typed meanwhile.\n"));
        let (ok, err) = paused.resume();
        assert!(!ok, "{d:?}: sync must stop");
        assert!(
            err.contains(&format!("`{}` changed while tangle was writing", p.doc())),
            "{d:?}: {err}"
        );
        assert!(
            p.read(p.doc()).ends_with("A line typed meanwhile.\n"),
            "{d:?}"
        );
        assert!(p.read("src/m.rs").contains("let x = 100;"), "{d:?}");
        no_leftovers(&p);
        // Run again: both are kept.
        p.ok(&["sync"]);
        let doc = p.read(p.doc());
        assert!(
            doc.contains("let x = 100;") && doc.contains("A line typed meanwhile."),
            "{d:?}: {doc}"
        );
        p.ok(&["--check"]);
    }
}

#[test]
fn an_output_saved_while_tangle_runs_stops_it() {
    for d in ALL {
        let p = Project::new(d, "tangle-race");
        p.edit(p.doc(), "let y = 2;", "let y = 3;");
        let paused = p.paused(&[], "before-commit");
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        let (ok, err) = paused.resume();
        assert!(!ok, "{d:?}: tangle must stop");
        assert!(
            err.contains("`src/m.rs` changed while tangle was writing"),
            "{d:?}: {err}"
        );
        assert!(p.read("src/m.rs").contains("let x = 100;"), "{d:?}: lost");
        no_leftovers(&p);
    }
}

#[test]
fn an_output_saved_again_while_sync_runs_is_carried_by_the_next_sync() {
    for d in ALL {
        let p = Project::new(d, "sync-second-save");
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        let paused = p.paused(&["sync"], "before-commit");
        p.edit("src/m.rs", "let x = 100;", "let x = 200;");
        let (ok, err) = paused.resume();
        assert!(ok, "{d:?}: {err}");
        assert!(p.read("src/m.rs").contains("let x = 200;"), "{d:?}: lost");
        p.ok(&["sync"]);
        assert!(p.read(p.doc()).contains("let x = 200;"), "{d:?}");
        p.ok(&["--check"]);
    }
}

#[test]
fn a_sync_killed_half_way_is_finished_by_the_next_command() {
    for d in ALL {
        for point in ["before-commit", "after-first-rename"] {
            let p = Project::new(d, "killed");
            p.edit("src/m.rs", "let x = 1;", "let x = 100;");
            p.paused(&["sync"], point).kill();
            let said = p.ok(&[]);
            assert!(
                said.contains("recovered an interrupted run"),
                "{d:?} {point}: {said}"
            );
            no_leftovers(&p);
            assert!(p.read(p.doc()).contains("let x = 100;"), "{d:?} {point}");
            assert!(p.read("src/m.rs").contains("let x = 100;"), "{d:?} {point}");
            p.ok(&["--check"]);
        }
    }
}

#[test]
fn temporary_files_of_killed_runs_are_removed() {
    for d in ALL {
        let p = Project::new(d, "leftovers");
        let doc_dir = Path::new(p.doc())
            .parent()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let doc_dir = if doc_dir.is_empty() {
            ".".to_string()
        } else {
            doc_dir
        };
        let name = Path::new(p.doc()).file_name().unwrap().to_str().unwrap();
        // Process 4194304 is above Linux's largest process id: never running.
        p.write(&format!("{doc_dir}/.{name}.tangle-4194304.tmp"), "half");
        p.write("src/.m.rs.tangle-4194304.old", "old");
        let said = p.ok(&["--check"]);
        assert!(
            said.contains("removed 2 temporary file(s) left by an interrupted run"),
            "{d:?}: {said}"
        );
        no_leftovers(&p);
    }
}

#[test]
fn links_are_written_through_modes_kept_and_read_only_documents_refused() {
    for d in ALL {
        let p = Project::new(d, "links");
        // The document is a symbolic link to a file outside the project's folders.
        let real = p.path("elsewhere.txt");
        fs::rename(p.path(p.doc()), &real).unwrap();
        std::os::unix::fs::symlink(&real, p.path(p.doc())).unwrap();
        fs::set_permissions(&real, fs::Permissions::from_mode(0o640)).unwrap();
        // Another owner (only the superuser can give a file away; others keep their own).
        let owner = match std::os::unix::fs::chown(&real, Some(4321), Some(4321)) {
            Ok(()) => (4321, 4321),
            Err(_) => {
                let m = fs::metadata(&real).unwrap();
                (m.uid(), m.gid())
            }
        };
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        p.ok(&["sync"]);
        let m = fs::metadata(&real).unwrap();
        assert_eq!((m.uid(), m.gid()), owner, "{d:?}: the owner stays");
        let link = fs::symlink_metadata(p.path(p.doc())).unwrap();
        assert!(link.file_type().is_symlink(), "{d:?}: the link stays");
        assert!(
            fs::read_to_string(&real).unwrap().contains("let x = 100;"),
            "{d:?}"
        );
        assert_eq!(
            fs::metadata(&real).unwrap().permissions().mode() & 0o7777,
            0o640,
            "{d:?}: the mode stays"
        );
        // A second hard link to it sees the change.
        fs::hard_link(&real, p.path("second-name.txt")).unwrap();
        p.edit("src/m.rs", "let x = 100;", "let x = 200;");
        p.ok(&["sync"]);
        assert!(p.read("second-name.txt").contains("let x = 200;"), "{d:?}");
        // Read-only: refused, with nothing written.
        fs::set_permissions(&real, fs::Permissions::from_mode(0o444)).unwrap();
        p.edit("src/m.rs", "let x = 200;", "let x = 300;");
        let err = p.fails(&["sync"]);
        assert!(
            err.contains(&format!("`{}` is read-only", p.doc())),
            "{d:?}: {err}"
        );
        assert!(fs::read_to_string(&real).unwrap().contains("let x = 200;"));
        assert!(p.read("src/m.rs").contains("let x = 300;"));
        // Where hard links cannot be made, a plain copy keeps the old content meanwhile.
        fs::set_permissions(&real, fs::Permissions::from_mode(0o644)).unwrap();
        fs::remove_file(p.path("second-name.txt")).unwrap();
        let out = p
            .command(&["sync"])
            .env("TANGLE_TEST_NO_HARD_LINKS", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{d:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(fs::read_to_string(&real).unwrap().contains("let x = 300;"));
        no_leftovers(&p);
        p.ok(&["--check"]);
        // An output that is a symbolic link (inside the project), and one with a second
        // hard link: both see the new content, and stay links.
        let out = p.path("src/m.rs");
        let out_real = p.path("src/real-m.rs");
        fs::rename(&out, &out_real).unwrap();
        std::os::unix::fs::symlink("real-m.rs", &out).unwrap();
        fs::hard_link(&out_real, p.path("second-m.rs")).unwrap();
        p.edit(p.doc(), "let y = 2;", "let y = 20;");
        p.ok(&[]);
        assert!(fs::symlink_metadata(&out).unwrap().file_type().is_symlink());
        assert!(p.read("src/real-m.rs").contains("let y = 20;"), "{d:?}");
        assert!(p.read("second-m.rs").contains("let y = 20;"), "{d:?}");
        p.ok(&["--check"]);
    }
}

#[test]
fn crlf_and_bom_saves_are_carried_back_in_the_documents_conventions() {
    for d in ALL {
        let p = Project::new(d, "crlf");
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        let crlf = p.read("src/m.rs").replace('\n', "\r\n");
        p.write("src/m.rs", &crlf);
        let said = p.ok(&["sync"]);
        assert!(said.contains("saved with CRLF line ends"), "{d:?}: {said}");
        let doc = p.read(p.doc());
        assert!(
            doc.contains("let x = 100;\n") && !doc.contains('\r'),
            "{d:?}"
        );
        assert!(!p.read("src/m.rs").contains('\r'), "{d:?}: written again");
        p.ok(&["--check"]);
        // A byte order mark.
        p.edit("src/m.rs", "let x = 100;", "let x = 200;");
        let bom = format!("\u{feff}{}", p.read("src/m.rs"));
        p.write("src/m.rs", &bom);
        let said = p.ok(&["sync"]);
        assert!(said.contains("byte order mark (BOM)"), "{d:?}: {said}");
        let doc = p.read(p.doc());
        assert!(doc.contains("let x = 200;\n") && !doc.contains('\u{feff}'));
        p.ok(&["--check"]);
    }
    // A chapter with CRLF line ends gets its new lines with CRLF too.
    let p = Project::new(Dialect::Markdown, "crlf-chapter");
    let chapter = p.read("docs/a.md").replace('\n', "\r\n");
    p.write("docs/a.md", &chapter);
    p.ok(&[]);
    p.edit("src/m.rs", "let y = 2;\n", "let y = 2;\n    let z = 3;\n");
    p.ok(&["sync"]);
    assert!(
        p.read("docs/a.md")
            .contains("let x = 1;\r\nlet y = 2;\r\nlet z = 3;\r\n```"),
        "{:?}",
        p.read("docs/a.md")
    );
    p.ok(&["--check"]);
}

#[test]
fn a_lost_final_newline_is_named_as_such() {
    for d in ALL {
        let p = Project::new(d, "final-newline");
        let text = p.read("src/m.rs");
        p.edit("src/m.rs", &text, text.trim_end_matches('\n'));
        let doc = p.read(p.doc());
        let err = p.fails(&["sync"]);
        assert!(
            err.contains("lost its line end (the final newline)"),
            "{d:?}: {err}"
        );
        assert!(!err.contains("instead of"), "{d:?}: {err}");
        assert_eq!(p.read(p.doc()), doc);
    }
}

#[test]
fn clippy_fix_with_edits_not_carried_back_advises_sync_only() {
    for d in ALL {
        let p = Project::new(d, "clippy-fix");
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        let err = p.fails(&["cargo", "clippy", "--fix"]);
        assert!(
            err.contains("src/m.rs hold(s) edits not carried back")
                && err.contains("run `tangle sync` first"),
            "{d:?}: {err}"
        );
        assert!(!err.contains("run `tangle` "), "{d:?}: {err}");
        assert!(p.read("src/m.rs").contains("let x = 100;"));
    }
}

#[test]
fn fmt_check_does_not_ask_for_a_run_that_cannot_succeed() {
    let p = Project::new(Dialect::Markdown, "fmt-two-indentations");
    // At four spaces the line fits in rustfmt's 100 columns; at twelve rustfmt wraps it.
    p.write(
        "docs/a.md",
        "```rust file=src/m.rs\nfn a() {\n    <<work>>\n}\n\nfn b() {\n    if c() {\n        if d() {\n            <<work>>\n        }\n    }\n}\n```\n\n```rust name=work\nlet total = compute(first_argument, second_argument) + another_value_named_long + third_value;\n```\n",
    );
    p.ok(&[]);
    let out = p.run(&["fmt", "--check"]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    assert!(
        err.contains("no `tangle fmt` run can do it") && !err.contains("run `tangle fmt`"),
        "{err}"
    );
    let doc = p.read("docs/a.md");
    let err = p.fails(&["fmt"]);
    assert!(err.contains("no `tangle fmt` run can do it"), "{err}");
    assert_eq!(p.read("docs/a.md"), doc);
}

/// Every token the user wrote (on either side) is still in the document or the output.
fn nothing_lost(p: &Project, tokens: &[String], context: &str) {
    let (doc, out) = (p.read(p.doc()), p.read("src/m.rs"));
    for t in tokens {
        assert!(
            doc.contains(t.as_str()) || out.contains(t.as_str()),
            "{:?}: {t:?} was lost ({context})\n--- document\n{doc}\n--- output\n{out}",
            p.dialect
        );
    }
}

/// Random interleavings of saves (the document's fragment, the output, with CRLF line ends
/// too), commands (`tangle`, `sync`), saves landing while a command runs, commands killed
/// half-way, and, when both sides changed, the user merging by hand and discarding with
/// `--force`: no byte the user wrote is ever lost. Seeded and bounded.
#[test]
fn random_saves_and_commands_never_lose_a_byte() {
    // How often a command was killed half-way, and a later one said it recovered.
    let (mut kills, mut recoveries) = (0, 0);
    for d in ALL {
        for seed in 1..=3u64 {
            let p = Project::new(d, &format!("props-{seed}"));
            let mut rng = support::Rng(0x9e37_79b9_7f4a_7c15 ^ (seed * 7919 + d as u64));
            let mut tokens: Vec<String> = Vec::new();
            let mut log: Vec<String> = Vec::new();
            let save_doc = |k: usize, tokens: &mut Vec<String>| {
                let token = format!("let c{k} = {k};");
                let doc = p.read(p.doc());
                p.write(
                    p.doc(),
                    &doc.replacen("let x = 1;\n", &format!("let x = 1;\n{token}\n"), 1),
                );
                tokens.push(token);
            };
            let save_out = |k: usize, tokens: &mut Vec<String>| {
                let token = format!("let o{k} = {k};");
                p.edit(
                    "src/m.rs",
                    "let x = 1;",
                    &format!("let x = 1;\n    {token}"),
                );
                tokens.push(token);
            };
            for step in 0..30 {
                let k = step + 1;
                let what = rng.below(10);
                log.push(format!("{step}: {what}"));
                match what {
                    0 | 1 => save_doc(k, &mut tokens),
                    2 | 3 => save_out(k, &mut tokens),
                    4 => {
                        p.run(&[]);
                    }
                    5 => {
                        p.run(&["sync"]);
                    }
                    6 => {
                        // A save lands while a command writes.
                        let args: &[&str] = if rng.below(2) == 0 { &["sync"] } else { &[] };
                        if let Ok(paused) = p.maybe_paused(args, "before-commit") {
                            if rng.below(2) == 0 {
                                save_doc(k, &mut tokens);
                            } else {
                                save_out(k, &mut tokens);
                            }
                            paused.resume();
                        }
                    }
                    7 => {
                        // An editor that saves with CRLF line ends.
                        save_out(k, &mut tokens);
                        let crlf = p
                            .read("src/m.rs")
                            .replace("\r\n", "\n")
                            .replace('\n', "\r\n");
                        p.write("src/m.rs", &crlf);
                    }
                    8 => {
                        // A command killed half-way: the next one recovers.
                        let args: &[&str] = if rng.below(2) == 0 { &["sync"] } else { &[] };
                        let point = ["before-commit", "after-first-rename"][rng.below(2)];
                        if let Ok(paused) = p.maybe_paused(args, point) {
                            paused.kill();
                            kills += 1;
                            let out = p.run(&["--check"]);
                            let said = String::from_utf8_lossy(&out.stderr);
                            if said.contains("recovered an interrupted run")
                                || said.contains("left by an interrupted run")
                            {
                                recoveries += 1;
                            }
                        }
                    }
                    _ => {
                        // Both sides changed: the user copies the output's new lines into the
                        // document by hand, then discards the output's edits by name.
                        let (doc, out) = (p.read(p.doc()), p.read("src/m.rs"));
                        let missing: Vec<&String> = tokens
                            .iter()
                            .filter(|t| !doc.contains(t.as_str()) && out.contains(t.as_str()))
                            .collect();
                        let lines: String = missing.iter().map(|t| format!("{t}\n")).collect();
                        p.write(
                            p.doc(),
                            &doc.replacen("let x = 1;\n", &format!("let x = 1;\n{lines}"), 1),
                        );
                        p.run(&["--force"]);
                    }
                }
                nothing_lost(&p, &tokens, &log.join(", "));
            }
            // The next command finishes what a killed one left.
            p.run(&["--check"]);
            nothing_lost(&p, &tokens, &log.join(", "));
            no_leftovers(&p);
            // The run did carry edits back: some output line reached the document.
            let doc = p.read(p.doc());
            assert!(
                tokens
                    .iter()
                    .any(|t| t.starts_with("let o") && doc.contains(t.as_str())),
                "{d:?} seed {seed}: nothing was ever carried back ({})",
                log.join(", ")
            );
        }
    }
    assert!(kills > 0, "no command was killed");
    assert_eq!(
        recoveries, kills,
        "every killed run is recovered by the next command"
    );
}

#[test]
fn watch_sync_keeps_both_sides_when_both_are_saved_within_one_poll() {
    for d in ALL {
        let p = Project::new(d, "watch-both");
        let w = Watcher::start(
            &p,
            &["watch", "--sync", "--interval", "0.05", "--settle", "0.1"],
        );
        assert!(w.until(|s| s.contains("up to date")), "{d:?}: {}", w.said());
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        p.edit(p.doc(), "let y = 2;", "let y = 300;");
        assert!(
            w.until(|s| s.contains("both this file and its documents changed")
                && s.contains("`src/m.rs` holds edits that no tangle wrote")),
            "{d:?}: {}",
            w.said()
        );
        // Some polls later, both sides are still as saved.
        std::thread::sleep(Duration::from_millis(300));
        assert!(p.read("src/m.rs").contains("let x = 100;"), "{d:?}: lost");
        assert!(p.read(p.doc()).contains("let y = 300;"), "{d:?}: lost");
    }
}

#[test]
fn one_writer_at_a_time() {
    for d in ALL {
        let p = Project::new(d, "one-writer");
        p.edit("src/m.rs", "let x = 1;", "let x = 100;");
        let paused = p.paused(&["sync"], "before-commit");
        // Another sync meanwhile: its journal would be written over the running one's.
        let err = p.fails(&["sync"]);
        assert!(
            err.contains("another tangle (process") && err.contains("is writing in this project"),
            "{d:?}: {err}"
        );
        let (ok, err) = paused.resume();
        assert!(ok, "{d:?}: {err}");
        assert!(p.read(p.doc()).contains("let x = 100;"), "{d:?}");
        no_leftovers(&p);
    }
}

#[test]
fn watch_sync_waits_for_a_save_that_truncates_first() {
    for d in ALL {
        let p = Project::new(d, "watch-truncate");
        let w = Watcher::start(
            &p,
            &["watch", "--sync", "--interval", "0.05", "--settle", "0.1"],
        );
        assert!(w.until(|s| s.contains("up to date")), "{d:?}: {}", w.said());
        let new = p.read("src/m.rs").replace("let x = 1;", "let x = 100;");
        // An editor that empties the file, then writes it (later than the settle time).
        p.edit("src/m.rs", &p.read("src/m.rs"), "");
        assert!(
            w.until(|s| s.contains("looks half-saved (it is empty)")),
            "{d:?}: {}",
            w.said()
        );
        fs::write(p.path("src/m.rs"), &new).unwrap();
        assert!(
            w.until(|_| p.read(p.doc()).contains("let x = 100;\nlet y = 2;\n")),
            "{d:?}: {}",
            w.said()
        );
        assert!(
            p.read(p.doc()).contains("fn main() {\n    <<body>>\n}"),
            "{d:?}"
        );
        assert_eq!(p.read("src/m.rs"), new, "{d:?}");
    }
}

#[test]
fn a_document_saved_while_fmt_runs_stops_it() {
    for d in ALL {
        let p = Project::new(d, "fmt-race");
        p.edit(p.doc(), "let y = 2;", "let   y=2;");
        p.ok(&["-q"]);
        let paused = p.paused(&["fmt"], "before-commit");
        let doc = p.read(p.doc());
        p.write(p.doc(), &format!("{doc}\nA line typed meanwhile.\n"));
        let (ok, err) = paused.resume();
        assert!(!ok, "{d:?}: fmt must stop");
        assert!(
            err.contains(&format!("`{}` changed while tangle was writing", p.doc())),
            "{d:?}: {err}"
        );
        assert!(p.read(p.doc()).ends_with("A line typed meanwhile.\n"));
        assert!(p.read(p.doc()).contains("let   y=2;"));
        // Again: formatted, and the line typed meanwhile kept.
        p.ok(&["fmt"]);
        let doc = p.read(p.doc());
        assert!(doc.contains("let y = 2;\n") && doc.ends_with("A line typed meanwhile.\n"));
    }
}

#[test]
fn watch_sync_does_not_carry_a_save_cut_between_two_functions() {
    let p = Project::new(Dialect::Markdown, "watch-cut-between");
    p.write(
        "docs/a.md",
        "```rust file=src/m.rs\n<<part a>>\n\n<<part b>>\n```\n\n```rust name=\"part a\"\nfn a() {\n    one();\n}\n```\n\n```rust name=\"part b\"\nfn main() {\n    two();\n}\n```\n",
    );
    p.ok(&[]);
    let w = Watcher::start(
        &p,
        &["watch", "--sync", "--interval", "0.05", "--settle", "0.1"],
    );
    assert!(w.until(|s| s.contains("up to date")), "{}", w.said());
    let old = p.read("src/m.rs");
    let new = old.replace("one();", "one_edited();");
    // The first piece ends after `fn a`: balanced, ending with a line end, more than half.
    let cut = new.find("fn main").unwrap();
    p.edit("src/m.rs", &old, &new[..cut]);
    assert!(
        w.until(|s| s.contains("looks half-saved (its last lines are gone)")),
        "{}",
        w.said()
    );
    fs::write(p.path("src/m.rs"), &new).unwrap();
    assert!(
        w.until(|_| p.read("docs/a.md").contains("one_edited();")),
        "{}",
        w.said()
    );
    let doc = p.read("docs/a.md");
    assert!(
        doc.contains("name=\"part b\"\nfn main() {\n    two();\n}\n```"),
        "fn main stays in «part b»:\n{doc}"
    );
}

#[test]
fn markdown_files_named_outside_a_book_are_guarded_too() {
    // Outside any book (the target folder is inside this repository's).
    let p = Project {
        dir: Scratch::outside("safety-named"),
        dialect: Dialect::Markdown,
    };
    p.write(
        "one.md",
        "```rust file=gen/x.rs\nfn x() {\n    <<v>>\n}\n```\n",
    );
    p.write("two.md", "```rust name=v\nlet v = 42;\n```\n");
    p.ok(&["one.md", "two.md"]);
    p.edit("gen/x.rs", "let v = 42;", "let v = 43;");
    p.edit("two.md", "let v = 42;", "let v = 44;");
    let err = p.fails(&["one.md", "two.md"]);
    assert!(
        err.contains("`gen/x.rs` holds edits that no tangle wrote"),
        "{err}"
    );
    assert!(p.read("gen/x.rs").contains("let v = 43;"));
    // A part of the files: what the other runs wrote stays recorded, and is not stale.
    p.write("three.md", "```rust file=gen/y.rs\nfn y() {}\n```\n");
    p.ok(&["three.md"]);
    let said = p.ok(&["one.md", "two.md", "--force"]);
    assert!(said.contains("discarded the edits of gen/x.rs"), "{said}");
    assert!(p.read("gen/x.rs").contains("let v = 44;"));
    assert!(p.path("gen/y.rs").exists());
}
