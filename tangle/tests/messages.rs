//! Messages that help: "did you mean" for a mistyped reference, command or attribute, and a
//! warning for a named document that holds nothing to tangle. Run through the real `tangle`
//! binary in temporary folders.

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output};

struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Folder {
        let dir =
            std::env::temp_dir().join(format!("tangle-messages-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Folder(dir)
    }
    fn write(&self, rel: &str, text: &str) -> &Folder {
        fs::write(self.0.join(rel), text).unwrap();
        self
    }
    fn tangle(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_tangle"))
            .args(args)
            .current_dir(&self.0)
            .output()
            .unwrap()
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_mistyped_reference_gets_the_nearest_fragment_name() {
    let f = Folder::new("reference");
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
    assert!(!f.0.join("a.rs").exists());
}

#[test]
fn a_reference_far_from_every_name_gets_no_suggestion() {
    let f = Folder::new("far");
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
    let f = Folder::new("command");
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
    assert!(f.0.join("out.sh").exists());
}

#[test]
fn an_unknown_attribute_gets_the_nearest_known_one() {
    let f = Folder::new("attribute");
    f.write("a.md", "```rust fiel=a.rs\nfn main() {}\n```\n");
    let err = stderr(&f.tangle(&["a.md"]));
    assert!(
        err.contains("a.md:1:1: error: unknown code block attribute `fiel` (known: name, name+, file, mode, labels); did you mean `file`?"),
        "{err}"
    );
}

#[test]
fn a_named_document_without_code_blocks_is_warned() {
    let f = Folder::new("empty");
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
