//! Messages that help: "did you mean" for a mistyped reference, command or attribute, and a
//! warning for a named document that holds nothing to tangle. Run through the real `tangle`
//! binary in temporary folders.

use std::fs;
use std::process::{Command, Output};

mod support;
use support::Scratch;

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_mistyped_reference_gets_the_nearest_fragment_name() {
    let f = Scratch::outside("reference");
    f.write(
        "a.md",
        "```rust file=a.rs\nfn main() {\n    <<read the reqest>>\n}\n```\n\n```rust name=\"read the request\"\nlet r = 1;\n```\n\n```rust name=\"write the answer\"\nlet w = 2;\n```\n",
    );
    let out = f.tangle(&["a.md"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(
            "a.md:3:5: error: undefined reference «read the reqest»; did you mean «read the request»?"
        ),
        "{}",
        stderr(&out)
    );
    assert!(!f.join("a.rs").exists());
}

#[test]
fn a_reference_far_from_every_name_gets_no_suggestion() {
    let f = Scratch::outside("far");
    f.write(
        "a.md",
        "```rust file=a.rs\n<<something else entirely>>\n```\n\n```rust name=\"x\"\nlet x = 1;\n```\n",
    );
    let err = stderr(&f.tangle(&["a.md"]));
    assert!(
        err.contains("undefined reference «something else entirely»\n"),
        "{err}"
    );
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn an_unknown_command_is_not_read_as_a_file() {
    let f = Scratch::outside("command");
    let out = f.tangle(&["synk"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(
        err,
        "tangle: error: `synk` is not a command, nor a file here; did you mean `tangle sync`?\n"
    );
    let err = stderr(&f.tangle(&["qwertyuiop"]));
    assert!(
        err.starts_with("tangle: error: `qwertyuiop` is not a command, nor a file here (commands: locate, cargo, mdbook, sync, fmt, watch"),
        "{err}"
    );
    // A file of that name is tangled as a file.
    f.write("synk", "```sh file=out.sh\necho hi\n```\n");
    let out = f.tangle(&["-q", "synk"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(f.join("out.sh").exists());
}

#[test]
fn an_unknown_attribute_gets_the_nearest_known_one() {
    let f = Scratch::outside("attribute");
    f.write("a.md", "```rust fiel=a.rs\nfn main() {}\n```\n");
    let err = stderr(&f.tangle(&["a.md"]));
    assert!(
        err.contains("a.md:1:1: error: unknown code block attribute `fiel` (known: name, name+, file, mode, labels); did you mean `file`?"),
        "{err}"
    );
}

#[test]
fn a_named_document_without_code_blocks_is_warned() {
    let f = Scratch::outside("empty");
    f.write("x.txt", "Just prose, no code.\n");
    let out = f.tangle(&["x.txt"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("x.txt:1:1: warning: no code block: nothing to tangle from this file"),
        "{}",
        stderr(&out)
    );
    f.write("y.md", "Prose.\n\n```rust\nfn shown() {}\n```\n");
    let out = f.tangle(&["y.md"]);
    assert!(
        stderr(&out).contains("y.md:1:1: warning: no tangled code block (none has `file=` or `name=`): nothing to tangle from this file"),
        "{}",
        stderr(&out)
    );
    // `-q` keeps it quiet; a document with a tangled block says nothing of the kind.
    assert!(!stderr(&f.tangle(&["-q", "x.txt"])).contains("warning"));
    f.write("z.md", "```sh file=z.sh\necho z\n```\n");
    assert!(!stderr(&f.tangle(&["z.md"])).contains("nothing to tangle"));
}

#[test]
fn a_book_whose_src_lacks_summary_is_reported_at_its_book_toml_line() {
    let f = Scratch::outside("src");
    f.write("book.toml", "[book]\ntitle = \"t\"\nsrc = \"doc\"\n");
    fs::create_dir_all(f.join("doc")).unwrap();
    let err = stderr(&f.tangle(&[]));
    assert_eq!(
        err,
        "book.toml:3:7: error: `src = \"doc\"`: the book's SUMMARY.md should be there, but \
         doc/SUMMARY.md does not exist\n"
    );
    // From a folder below, the path climbs to it.
    let out = Command::new(env!("CARGO_BIN_EXE_tangle"))
        .current_dir(f.join("doc"))
        .output()
        .unwrap();
    assert!(
        stderr(&out).starts_with("../book.toml:3:7: error: `src = \"doc\"`"),
        "{}",
        stderr(&out)
    );
    // Without `src`, the default's SUMMARY.md is named.
    f.write("book.toml", "[book]\ntitle = \"t\"\n");
    let err = stderr(&f.tangle(&[]));
    assert!(
        err.starts_with("src/SUMMARY.md:1:1: error: cannot read file"),
        "{err}"
    );
}

#[test]
fn a_chapter_missing_on_disk_is_reported_at_its_summary_line() {
    let f = Scratch::outside("summary");
    f.write("book.toml", "[book]\ntitle = \"t\"\n");
    fs::create_dir_all(f.join("src")).unwrap();
    f.write(
        "src/SUMMARY.md",
        "# Summary\n\n- [One](one.md)\n- [Two](./two.md)\n  - [Three](part/three.md)\n",
    );
    f.write("src/one.md", "# One\n");
    let err = stderr(&f.tangle(&[]));
    assert_eq!(
        err,
        "src/SUMMARY.md:4:9: error: `two.md` is listed here, but src/two.md does not exist\n\
         src/SUMMARY.md:5:13: error: `part/three.md` is listed here, but src/part/three.md does not exist\n"
    );
}

#[test]
fn a_fence_inside_a_tangled_block_is_warned() {
    let f = Scratch::outside("fence");
    // The first block's closing fence is missing: the second block's fence is read as code.
    f.write(
        "a.md",
        "```rust file=a.rs\nfn main() {\n    <<count>>\n}\n\nProse.\n\n```rust name=count\nlet n = 1;\n```\n",
    );
    let out = f.tangle(&["a.md"]);
    assert!(!out.status.success());
    assert_eq!(
        stderr(&out),
        "a.md:8:1: warning: a fence with an info string inside the tangled block of line 1: it \
         cannot close that block, so it is tangled as code; is the block's closing fence missing \
         above it?\na.md:3:5: error: undefined reference «count»\n"
    );
    // A shorter fence inside a longer one is content (a Markdown file with code in it).
    f.write(
        "b.md",
        "````markdown file=README.md\n# Hi\n\n```rust\nfn x() {}\n```\n````\n",
    );
    let out = f.tangle(&["b.md"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn an_unquoted_name_with_spaces_gets_a_hint_at_its_definition() {
    let f = Scratch::outside("unquoted");
    f.write(
        "a.md",
        "```rust file=a.rs\n<<print a row>>\n```\n\n```rust name=print a row\nprintln!();\n```\n",
    );
    let err = stderr(&f.tangle(&["a.md"]));
    assert_eq!(
        err,
        "a.md:5:1: warning: this fragment is named «print»: a name ends at the first space, so \
         `a row` is not part of it; to name it «print a row», quote it: name=\"print a row\"\n\
         a.md:2:1: error: undefined reference «print a row»\n"
    );
    // mdBook's flags after a name are no part of it.
    f.write(
        "b.md",
        "```rust file=b.rs\n<<print>>\n```\n\n```rust name=print ignore\nprintln!();\n```\n",
    );
    let out = f.tangle(&["b.md"]);
    assert!(
        out.status.success() && !stderr(&out).contains("warning"),
        "{}",
        stderr(&out)
    );
}
