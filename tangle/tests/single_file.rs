//! A single Markdown file with no book works as a single org file does: `tangle FILE.md`
//! writes a manifest, `.tangled`, and the commands without file arguments (`--check`,
//! `locate`, `sync`) then find the project through it, from its folder or one below.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

mod support;
use support::Scratch;

/// Runs `tangle ARGS` in `dir`, a folder of the scratch.
fn tangle_in(f: &Scratch, dir: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tangle"))
        .args(args)
        .current_dir(f.join(dir))
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const DOC: &str = "# Hello\n\n```rust file=src/main.rs\nfn main() {\n    <<greet>>\n}\n```\n\n```rust name=greet\nprintln!(\"hello\");\n```\n";

#[test]
fn check_locate_and_sync_find_a_single_markdown_file() {
    let f = Scratch::outside("md");
    f.write("hello.md", DOC);
    let out = tangle_in(&f, ".", &["hello.md"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest = f.read(".tangled");
    assert!(manifest.contains("[documents]\nhello.md\n"), "{manifest}");

    let out = tangle_in(&f, ".", &["--check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // From a folder below too.
    fs::create_dir_all(f.join("src/deeper")).unwrap();
    let out = tangle_in(&f, "src/deeper", &["locate", "../main.rs:3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "../../hello.md:10:1: in «greet»\n");

    // An edit of the output: --check tells it, sync carries it back.
    let main = f.read("src/main.rs").replace("\"hello\"", "\"hi\"");
    f.write("src/main.rs", &main);
    let out = tangle_in(&f, ".", &["--check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("tangle sync"),
        "{}",
        text(&out.stderr)
    );
    let out = tangle_in(&f, ".", &["sync"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(f.read("hello.md").contains("println!(\"hi\");"));
    let out = tangle_in(&f, ".", &["--check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The manifest learnt what sync wrote: a change of the document tangles over it.
    let doc = f
        .read("hello.md")
        .replace("fn main() {", "fn main() {\n    // greets");
    f.write("hello.md", &doc);
    let out = tangle_in(&f, ".", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(f
        .read("src/main.rs")
        .contains("// greets\n    println!(\"hi\");"));
    assert!(Path::new(&f.join("src/main.rs")).is_file());
}

/// `tangle` in `dir` of `f` with `HOME` set to `home`.
fn tangle_at_home(f: &Scratch, dir: &str, home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tangle"))
        .args(args)
        .current_dir(f.join(dir))
        .env("HOME", home)
        .output()
        .unwrap()
}

#[test]
fn the_manifest_records_home_paths_as_written_so_two_machines_share_it() {
    let f = Scratch::outside("home");
    let org = "* rc\n#+begin_src sh :tangle ~/.myrc\nexport A=1\n#+end_src\n\
               #+begin_src sh :tangle bin/run.sh :mkdirp yes\necho run\n#+end_src\n";
    // Two machines: the same dotfiles folder, two homes.
    let (one, two) = (f.join("one"), f.join("two"));
    for machine in [&one, &two] {
        fs::create_dir_all(machine.join("home")).unwrap();
        f.write(
            format!(
                "{}/dots/dots.org",
                machine.file_name().unwrap().to_str().unwrap()
            ),
            org,
        );
    }
    for machine in ["one", "two"] {
        let out = tangle_at_home(
            &f,
            &format!("{machine}/dots"),
            &f.join(machine).join("home"),
            &["dots.org"],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let manifest = f.read("one/dots/.tangled");
    assert_eq!(manifest, f.read("two/dots/.tangled"));
    assert!(manifest.contains("\n~/.myrc\tfnv1a64:"), "{manifest}");
    assert!(manifest.contains("\nbin/run.sh\tfnv1a64:"), "{manifest}");
    assert!(!manifest.contains(one.to_str().unwrap()), "{manifest}");
    assert_eq!(f.read("one/home/.myrc"), "export A=1\n");

    // The record holds on the other machine too: an edit there is not overwritten.
    f.write("two/home/.myrc", "export A=2\n");
    f.write("two/dots/dots.org", org.replace("A=1", "A=3"));
    let out = tangle_at_home(&f, "two/dots", &two.join("home"), &["dots.org"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains(".myrc"), "{}", text(&out.stderr));
    assert_eq!(f.read("two/home/.myrc"), "export A=2\n");
    // Machine one, untouched, checks clean against the shared manifest.
    let out = tangle_at_home(&f, "one/dots", &one.join("home"), &["--check"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn an_old_manifest_with_absolute_home_paths_is_still_read() {
    let f = Scratch::outside("old");
    let home = f.join("home");
    fs::create_dir_all(&home).unwrap();
    f.write(
        "dots/dots.org",
        "* rc\n#+begin_src sh :tangle ~/.myrc\nexport A=1\n#+end_src\n",
    );
    let out = tangle_at_home(&f, "dots", &home, &["dots.org"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // As an earlier version wrote it: the home path absolute.
    let old = f
        .read("dots/.tangled")
        .replace("~/.myrc", home.join(".myrc").to_str().unwrap());
    f.write("dots/.tangled", &old);
    // Its record is used: the edit is seen as an edit, and refused.
    f.write("home/.myrc", "export A=2\n");
    f.write(
        "dots/dots.org",
        "* rc\n#+begin_src sh :tangle ~/.myrc\nexport A=3\n#+end_src\n",
    );
    let out = tangle_at_home(&f, "dots", &home, &["dots.org"]);
    assert!(!out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("tangle sync"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(f.read("home/.myrc"), "export A=2\n");
}
