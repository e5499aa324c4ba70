//! Differential tests: every `tests/org_corpus/*.org` is tangled by real Emacs
//! (`org-babel-tangle-file`, with python, shell, C and emacs-lisp loaded) and by
//! `tangle::org::tangle_org_in`; the files written (in the document's folder tree and in a
//! temporary home folder, which both get as `HOME`), their bytes and their modes must agree.
//!
//! Emacs (`emacs-nox` on Debian) is required: without it the test fails.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::Scratch;

/// The Lisp run before `org-babel-tangle-file`.
const EMACS_SETUP: &str = "(progn (require 'org) (require 'ob-tangle) \
     (org-babel-do-load-languages 'org-babel-load-languages \
     '((python . t) (shell . t) (C . t) (emacs-lisp . t))) \
     (setq org-confirm-babel-evaluate nil))";

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/org_corpus");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "org"))
        .collect();
    files.sort();
    files
}

/// One comparison's scratch folder (removed when dropped, also when the test fails): a
/// tree for Emacs and one for us, each with the document placed two levels down (`work/doc/`)
/// so that `../` targets stay inside it, and a home folder; and `tmp/`, the temporary folder
/// both are given (`TMPDIR`), so that Emacs' babel files are removed with the rest.
struct Trees {
    scratch: Scratch,
}

impl Trees {
    fn new() -> Trees {
        let scratch = Scratch::new("org-diff");
        for dir in [
            "emacs/work/doc",
            "emacs/home",
            "ours/work/doc",
            "ours/home",
            "tmp",
        ] {
            fs::create_dir_all(scratch.join(dir)).expect("create scratch folders");
        }
        Trees { scratch }
    }

    /// The tree of `side`, `emacs` or `ours`.
    fn side(&self, side: &str) -> PathBuf {
        self.scratch.join(side)
    }

    fn tmp(&self) -> PathBuf {
        self.scratch.join("tmp")
    }
}

/// The files beside the corpus documents that they read (`#+setupfile:`): `*.setup`.
fn companions() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/org_corpus");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "setup"))
        .collect();
    files.sort();
    files
}

/// Copies the document and its companions into `doc_dir`.
fn place(src: &Path, doc_dir: &Path) -> Result<(), String> {
    for f in std::iter::once(src.to_path_buf()).chain(companions()) {
        fs::copy(&f, doc_dir.join(f.file_name().expect("name"))).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Every file under `root` except the org document and its companions: relative path ->
/// (bytes, mode).
fn snapshot(root: &Path, skip: &Path) -> BTreeMap<PathBuf, (Vec<u8>, u32)> {
    let companions: Vec<PathBuf> = companions()
        .iter()
        .map(|c| skip.with_file_name(c.file_name().expect("name")))
        .collect();
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).expect("read dir") {
            let p = e.expect("entry").path();
            let meta = fs::symlink_metadata(&p).expect("metadata");
            if meta.is_dir() {
                stack.push(p);
            } else if p != skip
                && !companions.contains(&p)
                // The history an interactive Python session (`:session`) keeps, not an output.
                && p.file_name() != Some(std::ffi::OsStr::new(".python_history"))
            {
                let bytes = fs::read(&p).expect("read output");
                out.insert(
                    p.strip_prefix(root).expect("under root").to_path_buf(),
                    (bytes, meta.permissions().mode() & 0o7777),
                );
            }
        }
    }
    out
}

fn emacs_available() -> bool {
    Command::new("emacs")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs Emacs on `doc` (inside `dir/work/doc/`), with `tmp` as its temporary folder,
/// returning its stderr.
fn run_emacs(dir: &Path, tmp: &Path, name: &str) -> String {
    let script = format!(
        "umask 022; exec emacs --batch -Q --eval \"$1\" --eval \"(org-babel-tangle-file \\\"{name}\\\")\""
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&script)
        .arg("sh")
        .arg(EMACS_SETUP)
        .current_dir(dir.join("work/doc"))
        .env("HOME", dir.join("home"))
        .env("TMPDIR", tmp)
        // Emacs' shell decides how shell blocks' `:var` lists are written (bash arrays).
        .env("SHELL", "/bin/sh")
        .env("LANG", "C.UTF-8")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .expect("run emacs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "emacs failed on {name}:\n{stderr}");
    stderr
}

/// Writes our outputs like the real writer would, with `tmp` as the temporary folder.
fn write_ours(dir: &Path, tmp: &Path, name: &str, text: &str) -> Result<(), String> {
    let doc_dir = dir.join("work/doc");
    // Documents named `eval_*` call shell blocks: run as with `tangle --eval`.
    let env = tangle::org::OrgEnv::from_process()
        .with_home(&dir.join("home"))
        .with_cwd(&doc_dir)
        .with_run_blocks(name.starts_with("eval_"));
    let mut env = env;
    env.vars.insert("SHELL".into(), "/bin/sh".into());
    env.vars
        .insert("TMPDIR".into(), tmp.to_string_lossy().into_owned());
    let t = tangle::org::tangle_org_in(Path::new(name), text, &env).map_err(|e| e.to_string())?;
    // Like the real writer, every target is checked before anything is written.
    for o in &t.outputs {
        let target = doc_dir.join(&o.path);
        if target.parent().is_some_and(|p| !p.exists()) && !o.folders.may_make() {
            return Err(format!(
                "{}: missing folder and no :mkdirp",
                o.path.display()
            ));
        }
    }
    for o in &t.outputs {
        let target = doc_dir.join(&o.path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        if target.exists() {
            fs::remove_file(&target).map_err(|e| e.to_string())?;
        }
        fs::write(&target, &o.content).map_err(|e| e.to_string())?;
        fs::set_permissions(&target, fs::Permissions::from_mode(o.mode))
            .map_err(|e| e.to_string())?;
        assert_eq!(
            o.map.lines.len(),
            o.content.iter().filter(|&&b| b == b'\n').count()
                + usize::from(!o.content.is_empty() && !o.content.ends_with(b"\n")),
            "{name}: {}: the source map must have one entry per line",
            o.path.display()
        );
    }
    Ok(())
}

fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{:4} |{l}|\n", i + 1))
        .collect()
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);
    let al: Vec<&str> = a.split('\n').collect();
    let bl: Vec<&str> = b.split('\n').collect();
    for i in 0..al.len().max(bl.len()) {
        let x = al.get(i);
        let y = bl.get(i);
        if x != y {
            return format!(
                "first difference at line {}:\n  emacs: {:?}\n  ours:  {:?}",
                i + 1,
                x,
                y
            );
        }
    }
    "no line difference (trailing bytes?)".to_string()
}

fn compare(name: &str) -> Result<(), String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/org_corpus")
        .join(name);
    let text = fs::read_to_string(&src).map_err(|e| e.to_string())?;

    let trees = Trees::new();
    let emacs_dir = trees.side("emacs");
    place(&src, &emacs_dir.join("work/doc"))?;
    run_emacs(&emacs_dir, &trees.tmp(), name);
    // The home folder too: `~/` targets are written there.
    let emacs = snapshot(&emacs_dir, &emacs_dir.join("work/doc").join(name));

    let our_dir = trees.side("ours");
    place(&src, &our_dir.join("work/doc"))?;
    write_ours(&our_dir, &trees.tmp(), name, &text)?;
    let ours = snapshot(&our_dir, &our_dir.join("work/doc").join(name));

    let mut report = String::new();
    for (p, (bytes, mode)) in &emacs {
        match ours.get(p) {
            None => report.push_str(&format!(
                "{}: written by Emacs but not by us; Emacs wrote:\n{}",
                p.display(),
                show(bytes)
            )),
            Some((ob, om)) => {
                if ob != bytes {
                    report.push_str(&format!(
                        "{}: contents differ; {}\n--- emacs\n{}--- ours\n{}",
                        p.display(),
                        first_difference(bytes, ob),
                        show(bytes),
                        show(ob)
                    ));
                }
                if om != mode {
                    report.push_str(&format!(
                        "{}: mode differs: emacs {mode:04o}, ours {om:04o}\n",
                        p.display()
                    ));
                }
            }
        }
    }
    for p in ours.keys() {
        if !emacs.contains_key(p) {
            report.push_str(&format!(
                "{}: written by us but not by Emacs\n",
                p.display()
            ));
        }
    }
    if emacs.is_empty() {
        report.push_str("Emacs wrote no file: the corpus file should tangle something\n");
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

#[test]
fn org_corpus_matches_emacs() {
    assert!(
        emacs_available(),
        "`emacs` is required for the org differential tests (install emacs-nox); \
         it was not found on PATH"
    );
    let files = corpus();
    assert!(files.len() >= 10, "the org corpus is missing");
    // `ORG_DIFF_ONLY=calls` compares only the documents whose names contain `calls`.
    let only = std::env::var("ORG_DIFF_ONLY").unwrap_or_default();
    let files: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| {
            f.file_name()
                .is_some_and(|n| n.to_string_lossy().contains(only.as_str()))
        })
        .collect();
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        match compare(&name) {
            Ok(()) => eprintln!("{name}: matches Emacs"),
            Err(r) => failures.push(format!("== {name}\n{r}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} org corpus files differ from Emacs:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
