//! An org-mode literate Rust program gets the whole workflow: after `tangle FILE.org` in its
//! folder, with no other configuration, `--check`, `locate`, `tangle cargo` (real rustc errors
//! pointing at the `.org` line) and plain `tangle` work there and in its subfolders. The program
//! is `tests/org_corpus/literate_rust.org`, which the differential test also tangles with Emacs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const LIT: &str = include_str!("org_corpus/literate_rust.org");

/// A throwaway folder under the target directory holding `lit.org`.
fn project(tag: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("org-project-{tag}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("lit.org"), LIT).unwrap();
    dir
}

fn tangle(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tangle"))
        .args(args)
        .current_dir(dir)
        // Plain text to compare with, whatever the caller's terminal settings.
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "tangle failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The 1-based line of `lit.org` that holds `needle`.
fn org_line(needle: &str) -> usize {
    LIT.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn after_tangling_an_org_file_every_command_works_in_its_folder() {
    let dir = project("workflow");
    ok(&tangle(&dir, &["lit.org"]));
    let main = fs::read_to_string(dir.join("src/main.rs")).unwrap();
    assert!(
        main.starts_with("fn main() {\n"),
        "org outputs get no header line, as Emacs writes them:\n{main}"
    );
    let manifest = fs::read_to_string(dir.join(".tangled")).unwrap();
    assert!(manifest.contains("[documents]\nlit.org\n"), "{manifest}");

    // --check, with the file named and without.
    ok(&tangle(&dir, &["--check", "lit.org"]));
    ok(&tangle(&dir, &["--check"]));

    // locate: without a column, the code of the line, not the indentation the reference gave.
    let line = main.lines().position(|l| l.contains("\"many\"")).unwrap() + 1;
    let want_line = org_line("let count: usize");
    let at = ok(&tangle(&dir, &["locate", &format!("src/main.rs:{line}")]));
    assert_eq!(
        at.trim(),
        format!("lit.org:{want_line}:1: in «greet the caller»")
    );
    let at = ok(&tangle(
        &dir,
        &["locate", &format!("src/main.rs:{line}:24")],
    ));
    assert_eq!(
        at.trim(),
        format!("lit.org:{want_line}:20: in «greet the caller»")
    );
    // From a subfolder, paths are named as seen from there.
    let at = ok(&tangle(
        &dir.join("src"),
        &["locate", &format!("main.rs:{line}")],
    ));
    assert_eq!(
        at.trim(),
        format!("../lit.org:{want_line}:1: in «greet the caller»")
    );
    // A column past the end of the line is an error.
    let past = tangle(&dir, &["locate", &format!("src/main.rs:{line}:200")]);
    assert!(!past.status.success());
    assert!(
        text(&past.stderr).contains("no column 200"),
        "{}",
        text(&past.stderr)
    );

    // tangle cargo: rustc's error points at the org line, with the org text in the snippet.
    let build = tangle(&dir, &["cargo", "build", "--quiet"]);
    assert!(!build.status.success(), "the program has a type error");
    let err = text(&build.stderr);
    assert!(
        err.contains(&format!(
            "--> lit.org:{want_line}:20 (src/main.rs:{line}:24, in «greet the caller»)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("{want_line} | let count: usize = \"many\";")),
        "{err}"
    );

    // Fix the document; plain `tangle` in the folder finds the project and rewrites the output.
    let fixed = LIT.replace("let count: usize = \"many\";", "let count = \"many\";");
    fs::write(dir.join("lit.org"), fixed).unwrap();
    let check = tangle(&dir, &["--check"]);
    assert!(!check.status.success(), "--check must see the stale output");
    assert!(
        text(&check.stdout).contains("\n+    let count = \"many\";\n"),
        "{}",
        text(&check.stdout)
    );
    ok(&tangle(&dir, &[]));
    let build = tangle(&dir, &["cargo", "build", "--quiet"]);
    assert!(build.status.success(), "{}", text(&build.stderr));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_org_file_in_the_folder_joins_the_project() {
    let dir = project("two-files");
    fs::write(
        dir.join("notes.org"),
        "* Notes\n#+begin_src sh :tangle notes.sh\necho notes\n#+end_src\n",
    )
    .unwrap();
    ok(&tangle(&dir, &["lit.org"]));
    ok(&tangle(&dir, &["notes.org"]));
    let manifest = fs::read_to_string(dir.join(".tangled")).unwrap();
    let names: Vec<&str> = manifest
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "[documents]",
            "lit.org",
            "notes.org",
            "[outputs]",
            "Cargo.toml",
            "notes.sh",
            "src/main.rs"
        ],
        "{manifest}"
    );
    let at = ok(&tangle(&dir, &["locate", "notes.sh:1"]));
    assert_eq!(at.trim(), "notes.org:3:1: in «notes.org:2»");
    // Both documents writing one file is an error at the second one's block.
    fs::write(
        dir.join("notes.org"),
        "* Notes\n#+begin_src sh :tangle Cargo.toml\necho notes\n#+end_src\n",
    )
    .unwrap();
    let clash = tangle(&dir, &[]);
    assert!(!clash.status.success());
    let err = text(&clash.stderr);
    assert!(
        err.contains("notes.org:2:1: error: `Cargo.toml` is also written by another document"),
        "{err}"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn watch_retangles_an_org_project_on_save() {
    let dir = project("watch");
    ok(&tangle(&dir, &["lit.org"]));
    let mut child = Command::new(env!("CARGO_BIN_EXE_tangle"))
        .args(["watch", "--interval", "0.05"])
        .current_dir(dir.join("src"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |needle: &str| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if fs::read_to_string(dir.join("src/main.rs")).is_ok_and(|t| t.contains(needle)) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    };
    let edited = LIT.replace("hello, {who}", "good morning, {who}");
    fs::write(dir.join("lit.org"), edited).unwrap();
    let seen = wait_for("good morning");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        seen,
        "watch (started in a subfolder) did not re-tangle the org file"
    );
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sync_carries_an_edited_output_back_into_the_org_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = project("sync");
    ok(&tangle(&dir, &["lit.org"]));
    let main = dir.join("src/main.rs");
    fs::set_permissions(&main, fs::Permissions::from_mode(0o644)).unwrap();
    let text = fs::read_to_string(&main).unwrap();
    fs::write(
        &main,
        text.replace("\"many\"", "\"several\"").replace(
            "    println!(\"hello, {who} ({count})\");\n",
            "    println!(\"hello, {who} ({count})\");\n    println!(\"bye\");\n",
        ),
    )
    .unwrap();
    ok(&tangle(&dir, &["sync"]));
    let org = fs::read_to_string(dir.join("lit.org")).unwrap();
    assert!(
        org.contains(
            "#+begin_src rust\nlet count: usize = \"several\";\nprintln!(\"hello, {who} ({count})\");\nprintln!(\"bye\");\n#+end_src"
        ),
        "{org}"
    );
    ok(&tangle(&dir, &["--check"]));
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_org_file_is_read_from_its_own_folder_wherever_tangle_runs() {
    // Lisp header values and `#+setupfile:` see the org file's folder as Emacs'
    // `default-directory`, also when `tangle` runs in a subfolder of the project.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("org-project-default-directory");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("sub")).unwrap();
    let dir = fs::canonicalize(&dir).unwrap();
    fs::write(
        dir.join("setup.setup"),
        "#+property: header-args:sh :shebang \"#!/bin/sh\"\n",
    )
    .unwrap();
    let doc = |word: &str| {
        format!(
            "#+setupfile: setup.setup\n\
             #+begin_src sh :tangle (concat (file-name-directory (buffer-file-name)) \"here.sh\")\n\
             echo {word}\n#+end_src\n"
        )
    };
    fs::write(dir.join("doc.org"), doc("one")).unwrap();
    ok(&tangle(&dir, &["doc.org"]));
    assert_eq!(
        fs::read_to_string(dir.join("here.sh")).unwrap(),
        "#!/bin/sh\necho one\n"
    );
    fs::write(dir.join("doc.org"), doc("two")).unwrap();
    ok(&tangle(&dir.join("sub"), &[]));
    assert_eq!(
        fs::read_to_string(dir.join("here.sh")).unwrap(),
        "#!/bin/sh\necho two\n"
    );
    assert!(!dir.join("sub/here.sh").exists());
}

#[test]
fn called_shell_blocks_run_only_with_eval() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("org-project-eval");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let doc = "#+name: who\n#+begin_src sh :results output :var name=\"world\"\n\
               printf 'hello %s' \"$name\"\n#+end_src\n\n\
               #+name: n\n#+begin_src emacs-lisp\n(* 6 7)\n#+end_src\n\n\
               #+begin_src sh :tangle out.sh :noweb yes\necho '<<who(name=\"org\")>>' <<n()>>\n#+end_src\n";
    fs::write(dir.join("calls.org"), doc).unwrap();
    let out = tangle(&dir, &["calls.org"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "calls.org:12:7: error: cannot evaluate `<<who(name=\"org\")>>`: `who` is a `sh` \
             block, which Emacs would run: run it with `tangle --eval`"
        ),
        "{err}"
    );
    assert!(!dir.join("out.sh").exists(), "nothing is written");
    ok(&tangle(&dir, &["--eval", "calls.org"]));
    assert_eq!(
        fs::read_to_string(dir.join("out.sh")).unwrap(),
        "echo 'hello org' 42\n"
    );
}

#[test]
fn a_called_block_the_reader_cannot_read_is_refused_at_its_line() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("org-project-unreadable");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    let doc = "#+name: statement\n#+begin_src emacs-lisp\n(setq a 1)\n\n\
               (list `(package! ,a))\n#+end_src\n\n\
               #+begin_src emacs-lisp :tangle out.el :noweb yes\n<<statement()>>\n#+end_src\n";
    fs::write(dir.join("calls.org"), doc).unwrap();
    let out = tangle(&dir, &["calls.org"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(
            "calls.org:9:1: error: cannot evaluate `<<statement()>>`: the body of `statement` \
             cannot be read by this tangler's Lisp reader: from its line 3, it holds syntax the \
             reader does not read"
        ),
        "{err}"
    );
    assert!(!dir.join("out.el").exists(), "nothing is written");
}
