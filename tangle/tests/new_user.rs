//! What a new user does, from nothing: in a scratch folder outside the repository, a fresh
//! book of three files, wired by `mdbook-tangle install`, built by the real mdBook with the
//! tangler's binaries on PATH (as `cargo install` leaves them), tangled by `tangle`. The pages
//! carry captions, links and the styles; a `#!` script with mode 0755 runs; an XML file parses;
//! an edited output is never overwritten, in a book and beside an org file; mistakes get
//! suggestions.
//!
//! Needs `mdbook` 0.5 and `python3` (`.ci/run` installs them): a missing tool is a failure.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;
use support::Scratch;

const TANGLE: &str = env!("CARGO_BIN_EXE_tangle");
const MDBOOK_TANGLE: &str = env!("CARGO_BIN_EXE_mdbook-tangle");

/// Running the tools in a scratch folder outside the repository (`Scratch::outside`: no
/// book.toml or manifest above it may be found instead).
trait InScratch {
    fn run(&self, rel: &str, program: &str, args: &[&str]) -> Output;
}

impl InScratch for Scratch {
    /// Runs `program ARGS` in `rel` (a folder of the scratch), with the tangler's binaries
    /// first on PATH.
    fn run(&self, rel: &str, program: &str, args: &[&str]) -> Output {
        Command::new(program)
            .args(args)
            .current_dir(self.join(rel))
            .env("PATH", path_with_binaries())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
    }
}

fn outside(name: &str) -> Scratch {
    let s = Scratch::outside(name);
    assert!(!s.starts_with(env!("CARGO_MANIFEST_DIR")));
    s
}

/// PATH with the folder of this build's `tangle` and `mdbook-tangle` first (what `cargo
/// install` does for ~/.cargo/bin), and ~/.cargo/bin after it (where `.ci/run` puts mdBook).
fn path_with_binaries() -> std::ffi::OsString {
    let bin = Path::new(TANGLE).parent().unwrap();
    assert_eq!(Path::new(MDBOOK_TANGLE).parent().unwrap(), bin);
    let mut dirs = vec![bin.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    std::env::join_paths(dirs).unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

fn failed(out: &Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{what} succeeded:\n--- stdout\n{}\n--- stderr\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

const CHAPTER: &str = r#"# Greeting

The script says hello to whom it is given:

```sh file=hello.sh mode=0755
#!/bin/sh
<<say hello>>
```

It greets by name, or the world:

```sh name="say hello"
echo "hello, ${1:-world}"
```

Its settings, as XML:

```xml file=settings.xml
<?xml version="1.0" encoding="UTF-8"?>
<settings>
  <greeting>hello</greeting>
</settings>
```
"#;

#[test]
fn a_fresh_book_is_wired_built_and_tangled() {
    let s = outside("book");
    s.write("book/book.toml", "[book]\ntitle = \"Hello\"\n");
    s.write(
        "book/src/SUMMARY.md",
        "# Summary\n\n- [Greeting](greeting.md)\n",
    );
    s.write("book/src/greeting.md", CHAPTER);

    // The binaries found on PATH are this build's.
    let which = s.run(
        ".",
        "sh",
        &["-c", "command -v tangle; command -v mdbook-tangle"],
    );
    let found = text(&which.stdout);
    assert!(
        found.contains(TANGLE) && found.contains(MDBOOK_TANGLE),
        "{found}"
    );
    for program in ["tangle", "mdbook-tangle"] {
        let version = s.run(".", program, &["--version"]);
        let want = format!("{program} {}\n", env!("CARGO_PKG_VERSION"));
        assert_eq!(text(&version.stdout), want);
    }

    let said = ok(
        &s.run("book", "mdbook-tangle", &["install", "--index"]),
        "install",
    );
    for line in [
        "tangle.css",
        "tangle.js",
        "before = [\"links\"]",
        "fragment-index.md",
    ] {
        assert!(said.contains(line), "install does not say {line}:\n{said}");
    }
    let toml = s.read("book/book.toml");
    assert!(toml.starts_with("[book]\ntitle = \"Hello\"\n"), "{toml}");
    assert!(
        toml.contains("[preprocessor.tangle]\nbefore = [\"links\"]"),
        "{toml}"
    );
    assert!(!toml.contains("command"), "{toml}");
    // A second run changes nothing.
    let again = ok(
        &s.run("book", "mdbook-tangle", &["install", "--index"]),
        "install",
    );
    assert!(again.contains("wired already"), "{again}");
    assert_eq!(s.read("book/book.toml"), toml);

    // mdBook finds the preprocessor by its name alone.
    let built = ok(&s.run("book", "mdbook", &["build"]), "mdbook build");
    assert!(!built.contains("warning"), "{built}");
    let page = s.read("book/book/greeting.html");
    assert!(
        page.contains(r#"<div class="tangle-caption""#),
        "no caption:\n{page}"
    );
    assert!(page.contains("«say hello»"), "no fragment name:\n{page}");
    // The reference is linked to the fragment's definition (by the footer's anchors, which
    // tangle.js turns into links in the highlighted code).
    assert!(
        page.contains(r##"data-name="say hello" data-tag="1b" href="#f:say-hello""##),
        "{page}"
    );
    // The styles and the script are in the page.
    let assets: Vec<String> = fs::read_dir(s.join("book/book"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("tangle") && (n.ends_with(".css") || n.ends_with(".js")))
        .collect();
    assert_eq!(assets.len(), 2, "{assets:?}");
    for a in &assets {
        assert!(page.contains(a.as_str()), "the page does not load {a}");
    }
    let index = s.read("book/book/fragment-index.html");
    assert!(
        index.contains("tangle-index") && index.contains("«say hello»"),
        "{index}"
    );

    // tangle writes the files: the script keeps its interpreter line first and runs.
    ok(&s.run("book", "tangle", &[]), "tangle");
    let script = s.read("book/hello.sh");
    assert!(script.starts_with("#!/bin/sh\n# "), "{script}");
    let mode = fs::metadata(s.join("book/hello.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    let run = s.run("book", "./hello.sh", &["reader"]);
    ok(&run, "./hello.sh");
    assert_eq!(text(&run.stdout), "hello, reader\n");
    // The XML file keeps its declaration first and parses.
    let xml = s.read("book/settings.xml");
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- "),
        "{xml}"
    );
    let parsed = s.run(
        "book",
        "python3",
        &[
            "-c",
            "import sys, xml.dom.minidom as m; print(m.parse(sys.argv[1]).documentElement.tagName)",
            "settings.xml",
        ],
    );
    ok(&parsed, "python3's XML parser");
    assert_eq!(text(&parsed.stdout), "settings\n");

    // An edited output is not overwritten when the chapter changes too.
    s.edit("book/hello.sh", "hello, ", "hi, ");
    s.edit(
        "book/src/greeting.md",
        "echo \"hello, ",
        "echo \"good day, ",
    );
    let refused = failed(&s.run("book", "tangle", &[]), "tangle over an edit");
    assert!(
        refused.contains("hello.sh") && refused.contains("tangle sync"),
        "{refused}"
    );
    assert!(
        s.read("book/hello.sh").contains("hi, "),
        "the edit was lost"
    );
    let checked = failed(&s.run("book", "tangle", &["--check"]), "tangle --check");
    assert!(checked.contains("hello.sh"), "{checked}");

    // Suggestions: a mistyped command, reference and attribute.
    let synk = failed(&s.run("book", "tangle", &["synk"]), "tangle synk");
    assert!(synk.contains("did you mean `tangle sync`?"), "{synk}");
    s.write(
        "typo/ref.md",
        "```sh file=a.sh\n<<say helo>>\n```\n\n```sh name=\"say hello\"\necho hi\n```\n",
    );
    let reference = failed(
        &s.run("typo", "tangle", &["ref.md"]),
        "a mistyped reference",
    );
    assert!(
        reference.contains(
            "ref.md:2:1: error: undefined reference «say helo»; did you mean «say hello»?"
        ),
        "{reference}"
    );
    s.write("typo/attr.md", "```sh fiel=b.sh\necho hi\n```\n");
    let attribute = failed(
        &s.run("typo", "tangle", &["attr.md"]),
        "a mistyped attribute",
    );
    assert!(attribute.contains("did you mean `file`?"), "{attribute}");
}

#[test]
fn stale_or_missing_assets_are_warned_once() {
    let s = outside("assets");
    s.write("book/book.toml", "[book]\ntitle = \"Hello\"\n");
    s.write(
        "book/src/SUMMARY.md",
        "# Summary\n\n- [Greeting](greeting.md)\n",
    );
    s.write("book/src/greeting.md", CHAPTER);
    ok(&s.run("book", "mdbook-tangle", &["install"]), "install");

    // A copy written by an older tangler: one warning, naming it and the cure.
    let js = s.read("book/tangle.js");
    let (stamp, body) = js.split_once('\n').unwrap();
    let body = format!("{body}// older\n");
    let hash = &stamp[stamp.find("assets ").unwrap() + 7..][..16];
    let older = format!("{:016x}", tangle_core::hash::content_hash(body.as_bytes()));
    let stamp = stamp
        .replacen("mdbook-tangle 0.", "mdbook-tangle 0.0.", 1)
        .replace(hash, &older);
    s.write("book/tangle.js", format!("{stamp}\n{body}"));
    let built = ok(&s.run("book", "mdbook", &["build"]), "mdbook build");
    let warnings: Vec<&str> = built
        .lines()
        .filter(|l| l.contains("mdbook-tangle: warning"))
        .collect();
    assert_eq!(warnings.len(), 1, "{built}");
    assert!(
        warnings[0].contains("tangle.js is stale (written by mdbook-tangle 0.0."),
        "{built}"
    );
    assert!(
        warnings[0].contains("run `mdbook-tangle install`"),
        "{built}"
    );
    // install replaces an old copy that was not edited since, and the warning goes.
    let said = ok(&s.run("book", "mdbook-tangle", &["install"]), "install");
    assert!(said.contains("updated tangle.js"), "{said}");
    let built = ok(&s.run("book", "mdbook", &["build"]), "mdbook build");
    assert!(!built.contains("warning"), "{built}");

    // An edited copy is not overwritten without --force.
    s.write(
        "book/tangle.css",
        format!("{}/* mine */\n", s.read("book/tangle.css")),
    );
    let refused = failed(
        &s.run("book", "mdbook-tangle", &["install"]),
        "install over an edit",
    );
    assert!(refused.contains("tangle.css was edited"), "{refused}");
    assert!(s.read("book/tangle.css").ends_with("/* mine */\n"));

    // Not listed in book.toml (a file listed but absent fails mdBook's own build).
    s.edit("book/book.toml", "additional-css = [\"tangle.css\"]\n", "");
    let built = ok(&s.run("book", "mdbook", &["build"]), "mdbook build");
    assert!(
        built.contains(
            "mdbook-tangle: warning: book.toml's [output.html] does not list tangle.css: the \
             pages render without the tangler's styles"
        ),
        "{built}"
    );
}

#[test]
fn an_org_file_keeps_edits_too() {
    let s = outside("org");
    s.write(
        "dots/dots.org",
        "* Shell\n#+begin_src sh :tangle greet.sh\necho hello\n#+end_src\n",
    );
    ok(&s.run("dots", "tangle", &["dots.org"]), "tangle dots.org");
    assert_eq!(s.read("dots/greet.sh"), "echo hello\n");
    s.edit("dots/greet.sh", "hello", "hi");
    s.edit("dots/dots.org", "echo hello", "echo good day");
    let refused = failed(
        &s.run("dots", "tangle", &["dots.org"]),
        "tangle over an edit",
    );
    assert!(
        refused.contains("greet.sh") && refused.contains("tangle sync"),
        "{refused}"
    );
    assert_eq!(s.read("dots/greet.sh"), "echo hi\n");
}
