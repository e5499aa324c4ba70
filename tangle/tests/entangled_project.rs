//! An Entangled book (`tests/entangled_book`: `entangled.toml`, pandoc-attribute fences, blocks
//! sharing an id) gets every command: `tangle`, `--check`, `locate`, `tangle cargo` (real rustc
//! errors at the chapter line), `tangle fmt`, `tangle sync` reading Entangled's markers (and line
//! maps for naked files), `watch`, and the mdBook preprocessor when a `book.toml` stands beside
//! it. That the files are Entangled's own bytes is `entangled_differential.rs`'s business.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

mod support;
use support::{copy_tree, tangle_command, text, wait_until, Scratch};

/// A throwaway copy of the book.
fn book(tag: &str) -> Scratch {
    let dir = Scratch::new(&format!("entangled-book-{tag}"));
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/entangled_book"),
        &dir,
    );
    dir
}

fn tangle(dir: &Path, args: &[&str]) -> Output {
    tangle_command(dir)
        .args(args)
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .unwrap()
}

/// Asserts the run succeeded; what it printed on both streams.
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "tangle failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout) + &text(&out.stderr)
}

/// Asserts the run failed; what it printed on both streams.
fn failed(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "tangle should have failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout) + &text(&out.stderr)
}

fn read(dir: &Path, rel: &str) -> String {
    fs::read_to_string(dir.join(rel)).unwrap()
}

/// A `book.toml` for the book in `dir`, with our preprocessor and `more` settings of it.
fn write_book_toml(dir: &Path, more: &str) {
    fs::write(
        dir.join("book.toml"),
        format!(
            "[book]\ntitle = \"Greeter\"\nsrc = \"docs\"\n\n[preprocessor.tangle]\ncommand = \"{} mdbook\"\n{more}",
            env!("CARGO_BIN_EXE_tangle")
        ),
    )
    .unwrap();
}

/// Builds the book in `dir` with the real mdBook; it must succeed.
fn mdbook_build(dir: &Path) {
    let out = Command::new("mdbook")
        .arg("build")
        .current_dir(dir)
        .output()
        .expect("mdbook is installed (.ci/run installs it)");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Replaces `from` by `to` in file `rel` (which must hold it), keeping it writable.
fn edit(dir: &Path, rel: &str, from: &str, to: &str) {
    let path = dir.join(rel);
    let old = read(dir, rel);
    assert!(old.contains(from), "{rel} does not hold {from:?}:\n{old}");
    let mut perms = fs::metadata(&path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    fs::set_permissions(&path, perms).unwrap();
    fs::write(&path, old.replacen(from, to, 1)).unwrap();
}

/// The 1-based line of `rel` holding `needle`.
fn line_of(dir: &Path, rel: &str, needle: &str) -> usize {
    read(dir, rel)
        .lines()
        .position(|l| l.contains(needle))
        .unwrap()
        + 1
}

#[test]
fn every_command_works_on_an_entangled_book() {
    let dir = book("workflow");
    ok(&tangle(&dir, &[]));
    let main = read(&dir, "src/main.rs");
    assert!(
        main.starts_with("// ~/~ begin <<docs/program.md#src/main.rs>>[init]\n"),
        "Entangled's markers, no header of ours:\n{main}"
    );
    assert!(main.contains("// ~/~ begin <<docs/greeting.md#functions>>[1]\n"));
    ok(&tangle(&dir, &["--check"]));

    // locate: the output line of the second `functions` block is in greeting.md.
    let out_line = line_of(&dir, "src/main.rs", "fn farewell");
    let said = ok(&tangle(
        &dir,
        &["locate", &format!("src/main.rs:{out_line}")],
    ));
    let doc_line = line_of(&dir, "docs/greeting.md", "fn farewell");
    assert!(
        said.starts_with(&format!("docs/greeting.md:{doc_line}:1: in «functions»")),
        "{said}"
    );

    // A changed chapter: --check fails until `tangle` runs. Naming a chapter reads the whole
    // book in Entangled's dialect and writes the files whose `file=` block it holds.
    edit(&dir, "docs/greeting.md", "Hello, {name}!", "Hi, {name}!");
    failed(&tangle(&dir, &["--check"]));
    let said = ok(&tangle(&dir, &["docs/greeting.md"]));
    assert!(
        !said.contains("wrote"),
        "greeting.md writes no file of its own: {said}"
    );
    let said = ok(&tangle(&dir, &["docs/program.md"]));
    assert!(said.contains("wrote src/main.rs"), "{said}");
    assert!(read(&dir, "src/main.rs").contains("Hi, {name}!"));
    ok(&tangle(&dir, &["--check"]));

    // tangle cargo: rustc's error points at the chapter line.
    edit(
        &dir,
        "docs/greeting.md",
        "let line = greeting(name);",
        "let line: u32 = greeting(name);",
    );
    ok(&tangle(&dir, &[]));
    let build = failed(&tangle(&dir, &["cargo", "build", "--quiet"]));
    let at = line_of(&dir, "docs/greeting.md", "let line: u32");
    assert!(
        build.contains(&format!("--> docs/greeting.md:{at}:")),
        "rustc's error at the chapter line:\n{build}"
    );
    edit(
        &dir,
        "docs/greeting.md",
        "let line: u32 = greeting(name);",
        "let line = greeting(name);",
    );

    // fmt: an unformatted fragment is reported at its chapter line, then formatted there; the
    // blank line that Entangled indents inside `greet-one` is not a formatting difference.
    edit(
        &dir,
        "docs/greeting.md",
        "format!(\"Goodbye, {name}.\")",
        "format!( \"Goodbye, {name}.\" )",
    );
    ok(&tangle(&dir, &[]));
    let check = failed(&tangle(&dir, &["fmt", "--check"]));
    let at = line_of(&dir, "docs/greeting.md", "format!( \"Goodbye");
    assert!(
        check.contains(&format!(
            "docs/greeting.md:{at}: «functions» is not formatted"
        )),
        "{check}"
    );
    ok(&tangle(&dir, &["fmt"]));
    assert!(read(&dir, "docs/greeting.md").contains("    format!(\"Goodbye, {name}.\")\n"));
    ok(&tangle(&dir, &["fmt", "--check"]));
    ok(&tangle(&dir, &["--check"]));
    assert!(
        read(&dir, "src/main.rs").contains("\n        \n"),
        "the blank line keeps its indentation"
    );
}

#[test]
fn sync_reads_entangleds_markers() {
    let dir = book("sync");
    ok(&tangle(&dir, &[]));
    // A changed line and a line added at the end of a nested block (just before its end
    // marker): the markers say the new line belongs to `greet-one`, not to `main`.
    edit(
        &dir,
        "src/main.rs",
        "println!(\"{line}\");\n",
        "println!(\"{line}\");\n        eprintln!(\"greeted {name}\");\n",
    );
    edit(
        &dir,
        "src/main.rs",
        "fn farewell(name: &str)",
        "fn farewell(person: &str)",
    );
    edit(
        &dir,
        "src/main.rs",
        "Goodbye, {name}.",
        "Goodbye, {person}.",
    );
    let edited = read(&dir, "src/main.rs");
    let said = ok(&tangle(&dir, &["sync"]));
    assert!(said.contains("wrote docs/greeting.md"), "{said}");
    let ch = read(&dir, "docs/greeting.md");
    assert!(
        ch.contains("println!(\"{line}\");\neprintln!(\"greeted {name}\");\n```"),
        "{ch}"
    );
    assert!(
        ch.contains(
            "fn farewell(person: &str) -> String {\n    format!(\"Goodbye, {person}.\")\n}"
        ),
        "{ch}"
    );
    assert_eq!(
        read(&dir, "docs/program.md"),
        read(&book("sync-pristine"), "docs/program.md")
    );
    ok(&tangle(&dir, &["--check"]));
    assert_eq!(
        read(&dir, "src/main.rs"),
        edited,
        "the chapters tangle to the edited file"
    );

    // A line between two blocks of one name: tangling would move it; refused, nothing written.
    let before = read(&dir, "docs/greeting.md");
    edit(
        &dir,
        "src/main.rs",
        "// ~/~ end\n// ~/~ begin <<docs/greeting.md#functions>>[1]",
        "// ~/~ end\nconst X: u8 = 1;\n// ~/~ begin <<docs/greeting.md#functions>>[1]",
    );
    let err = failed(&tangle(&dir, &["sync"]));
    let at = line_of(&dir, "src/main.rs", "const X");
    assert!(
        err.contains(&format!(
            "src/main.rs:{at}:1: error: this line stands between two blocks of «functions»"
        )),
        "{err}"
    );
    assert_eq!(read(&dir, "docs/greeting.md"), before);

    // A marker naming a block the chapters do not have.
    edit(&dir, "src/main.rs", "const X: u8 = 1;\n", "");
    edit(&dir, "src/main.rs", "#functions>>[1]", "#functions>>[7]");
    let err = failed(&tangle(&dir, &["sync"]));
    assert!(err.contains("which the documents do not have"), "{err}");
}

#[test]
fn sync_on_naked_files_follows_the_line_maps() {
    let dir = book("naked");
    edit(
        &dir,
        "entangled.toml",
        "version = \"2.4\"\n",
        "version = \"2.4\"\nannotation = \"naked\"\n",
    );
    ok(&tangle(&dir, &[]));
    let main = read(&dir, "src/main.rs");
    assert!(main.starts_with("use std::env;\n\nfn main() {\n"), "{main}");
    edit(&dir, "src/main.rs", "Hello, {name}!", "Welcome, {name}!");
    ok(&tangle(&dir, &["sync"]));
    assert!(read(&dir, "docs/greeting.md").contains("format!(\"Welcome, {name}!\")"));
    ok(&tangle(&dir, &["--check"]));
}

#[test]
fn mdbook_renders_an_entangled_book() {
    let dir = book("mdbook");
    write_book_toml(&dir, "");
    // With both files, `tangle` reads the chapters in Entangled's dialect.
    ok(&tangle(&dir, &[]));
    assert!(read(&dir, "src/main.rs").contains("~/~ begin"));
    mdbook_build(&dir);
    let page = read(&dir, "book/greeting.html");
    assert!(
        page.contains(r#"<dfn class="tangle-name">«functions»</dfn>"#),
        "caption of the first part"
    );
    assert!(
        page.contains("«functions»</a> <span class=\"tangle-op\">+≡</span>"),
        "the second part continues it"
    );
    assert!(page.contains("Used in"), "cross references");
    let program = read(&dir, "book/program.html");
    assert!(program.contains(r#"<span class="tangle-file">src/main.rs</span>"#));
    assert!(
        program.contains("language-rust"),
        "the fence's language survives: {program}"
    );
}

#[test]
fn watch_retangles_an_entangled_book() {
    let dir = book("watch");
    let mut child = tangle_command(&dir)
        .args(["watch", "--interval", "0.05"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let wait_for = |what: &str| {
        wait_until(Duration::from_secs(10), || {
            fs::read_to_string(dir.join("src/main.rs")).is_ok_and(|s| s.contains(what))
        })
    };
    let first = wait_for("Hello, {name}!");
    edit(&dir, "docs/greeting.md", "Hello, {name}!", "Howdy, {name}!");
    let second = wait_for("Howdy, {name}!");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first && second,
        "watch wrote the file, then rewrote it after the chapter changed"
    );
}

/// A folder holding `files` (path, text), for the settings tests below.
fn folder(tag: &str, files: &[(&str, &str)]) -> Scratch {
    let dir = Scratch::new(&format!("entangled-settings-{tag}"));
    for (path, text) in files {
        dir.write(path, text);
    }
    dir
}

/// Where we differ from Entangled 2.4 on purpose: entangled-rs' names for settings are read
/// (2.4 ignores `source_patterns` and refuses `pandoc` and `file`), and a document two patterns
/// find is read once (2.4 reads it twice and doubles its blocks).
#[test]
fn entangled_rs_settings_are_read_and_a_document_is_read_once() {
    let dir = folder(
        "rs",
        &[
            (
                "entangled.toml",
                "source_patterns = [\"docs/*.md\"]\nannotation = \"naked\"\n",
            ),
            (
                "docs/a.md",
                "```rust #main file=out.rs\n<<body>>\n```\n\n```rust #body\nfn f() {}\n```\n",
            ),
            ("notes.md", "```rust file=not-read.rs\n```\n"),
        ],
    );
    ok(&tangle(&dir, &[]));
    assert_eq!(read(&dir, "out.rs"), "fn f() {}\n");
    assert!(
        !dir.join("not-read.rs").exists(),
        "source_patterns is the watch list"
    );

    let dir = folder(
        "aliases",
        &[
            (
                "entangled.toml",
                "version = \"2.4\"\nstyle = \"pandoc\"\nnamespace_default = \"file\"\nannotation = \"naked\"\nwatch_list = [\"**/*.md\", \"docs/*.md\"]\n",
            ),
            ("docs/a.md", "```{.rust file=out.rs}\n<<item>>\n```\n\n```{.rust #item}\none();\n```\n"),
        ],
    );
    ok(&tangle(&dir, &[]));
    assert_eq!(
        read(&dir, "out.rs"),
        "one();\n",
        "one copy of the block, names private to the file"
    );
}

/// Files of an Entangled book are edited in place: `tangle` will not overwrite edits that were
/// not carried back (nor a file no tangle wrote), and says how to keep them.
#[test]
fn tangle_keeps_edits_that_were_not_carried_back() {
    let dir = book("unsaved");
    ok(&tangle(&dir, &[]));
    edit(
        &dir,
        "src/main.rs",
        "Hello, {name}!",
        "Hello there, {name}!",
    );
    edit(
        &dir,
        "docs/program.md",
        "It needs the command line:",
        "It needs the arguments:",
    );
    let err = failed(&tangle(&dir, &[]));
    let at = line_of(&dir, "docs/program.md", "{.rust file=src/main.rs}");
    assert!(
        err.contains(&format!(
            "docs/program.md:{at}:1: error: `src/main.rs` holds edits that no tangle wrote"
        )),
        "{err}"
    );
    assert!(
        read(&dir, "src/main.rs").contains("Hello there"),
        "nothing was lost"
    );
    ok(&tangle(&dir, &["sync"]));
    ok(&tangle(&dir, &[]));
    assert!(read(&dir, "docs/greeting.md").contains("Hello there, {name}!"));

    // A file of someone else's at a target's place.
    fs::remove_file(dir.join("src/main.rs")).unwrap();
    fs::remove_file(dir.join(".tangled")).unwrap();
    fs::write(dir.join("src/main.rs"), "// mine\n").unwrap();
    failed(&tangle(&dir, &[]));
    assert_eq!(read(&dir, "src/main.rs"), "// mine\n");
}

/// The dialect chosen in book.toml instead of by an entangled.toml: Entangled's default
/// settings, the chapters as its documents; the same files, and the mdBook site.
#[test]
fn book_toml_can_choose_the_dialect() {
    let with_settings = book("dialect-settings");
    ok(&tangle(&with_settings, &[]));
    let dir = book("dialect-book");
    fs::remove_file(dir.join("entangled.toml")).unwrap();
    write_book_toml(&dir, "dialect = \"entangled\"\n");
    ok(&tangle(&dir, &[]));
    assert_eq!(
        read(&dir, "src/main.rs"),
        read(&with_settings, "src/main.rs")
    );
    ok(&tangle(&dir, &["--check"]));
    mdbook_build(&dir);
    assert!(
        read(&dir, "book/greeting.html").contains(r#"<dfn class="tangle-name">«functions»</dfn>"#)
    );
    // An unknown dialect is an error at its value.
    edit(
        &dir,
        "book.toml",
        "dialect = \"entangled\"",
        "dialect = \"noweb\"",
    );
    let err = failed(&tangle(&dir, &[]));
    assert!(
        err.contains("book.toml:7:11: error: unknown dialect `noweb`"),
        "{err}"
    );
}
