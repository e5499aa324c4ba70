//! Differential tests of the Entangled dialect against Entangled 2.4 itself (PyPI's
//! `entangled-cli`, the Python tool). Every folder of `tests/entangled_corpus/` is a small book
//! with its `entangled.toml` (or `pyproject.toml`); it is copied to two temporary folders,
//! `entangled tangle` runs in one and our `tangle` (no arguments) in the other, and the files
//! they write must be the same files with the same bytes (and the same executable bit). The
//! inputs, `.entangled/` (Entangled's database) and `.tangled` (our manifest) are left out.
//!
//! A case runs once per annotation it is listed with; the `annotation` key of a temporary copy
//! of its configuration is set to it. The `error_*` cases are books Entangled refuses: it
//! raises an error that its `tangle` command swallows, so it exits 0 with no message and writes
//! nothing. Our tangler must fail on them too, write nothing, and name the Markdown line.
//!
//! Where we differ on purpose, the cases are not here but in `entangled_project.rs`: the names
//! entangled-rs gives settings (`source_patterns`, `style = "pandoc"`, `namespace_default =
//! "file"`) are read, not ignored or refused, and a document that two watch-list patterns find
//! is read once (Entangled 2.4 reads it twice, doubling its blocks).
//!
//! Entangled is found through `ENTANGLED_PY` (set by `.ci/run`, which installs it), else at
//! `~/.cache/tangle-ci/entangled-2.4/bin/entangled` where `.ci/run` puts it. Without it the
//! tests fail.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

mod support;
use support::Scratch;

const NAKED: &str = "naked";
const STANDARD: &str = "standard";
/// Entangled 2.4 writes the same as under `standard`.
const SUPPLEMENTED: &str = "supplemented";
const BOTH: &[&str] = &[NAKED, STANDARD];

/// The `entangled` executable, checked to be version 2.4.0 (once).
fn entangled() -> &'static Path {
    static FOUND: OnceLock<PathBuf> = OnceLock::new();
    FOUND.get_or_init(|| {
        let path = std::env::var_os("ENTANGLED_PY")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|h| PathBuf::from(h).join(".cache/tangle-ci/entangled-2.4/bin/entangled"))
            })
            .expect("neither ENTANGLED_PY nor HOME is set");
        let version = Command::new(&path).arg("--version").output();
        let ok = version
            .as_ref()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "Entangled 2.4.0");
        assert!(
            ok,
            "Entangled 2.4.0 is required for the Entangled differential tests, and {} is not it \
             ({version:?}); run `.ci/run` once (it installs it), or point ENTANGLED_PY at it",
            path.display()
        );
        path
    })
}

fn corpus_dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/entangled_corpus")
        .join(case)
}

/// Copies `src` into `dst`, returning the relative paths of the files copied.
fn copy_tree(src: &Path, dst: &Path, rel: &Path, files: &mut BTreeSet<PathBuf>) {
    fs::create_dir_all(dst.join(rel)).expect("create folder");
    let entries = fs::read_dir(src.join(rel)).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    for e in entries {
        let e = e.expect("dir entry");
        let r = rel.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_tree(src, dst, &r, files);
        } else {
            fs::copy(src.join(&r), dst.join(&r)).expect("copy case file");
            files.insert(r);
        }
    }
}

/// Sets the `annotation` key of the copied configuration.
fn set_annotation(dir: &Path, annotation: &str) {
    let line = format!("annotation = \"{annotation}\"");
    let toml = dir.join("entangled.toml");
    if toml.exists() {
        let text = fs::read_to_string(&toml).expect("read entangled.toml");
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("annotation"))
            .collect();
        // First, so that it is a top-level key whatever tables follow.
        fs::write(&toml, format!("{line}\n{}\n", kept.join("\n"))).expect("write entangled.toml");
    } else {
        let toml = dir.join("pyproject.toml");
        let text = fs::read_to_string(&toml).expect("read pyproject.toml");
        let text = text.replace("[tool.entangled]\n", &format!("[tool.entangled]\n{line}\n"));
        fs::write(&toml, text).expect("write pyproject.toml");
    }
}

/// A fresh copy of the case, its annotation set; with the relative paths of its inputs.
/// The folder is outside this repository, so that each tool finds the case's settings only.
fn place(case: &str, annotation: Option<&str>, tag: &str) -> (Scratch, BTreeSet<PathBuf>) {
    let dir = Scratch::outside(&format!("entangled-diff-{case}-{tag}"));
    let mut inputs = BTreeSet::new();
    copy_tree(&corpus_dir(case), &dir, Path::new(""), &mut inputs);
    if let Some(a) = annotation {
        set_annotation(&dir, a);
    }
    (dir, inputs)
}

fn run_entangled(dir: &Path) -> Output {
    Command::new(entangled())
        .arg("tangle")
        .current_dir(dir)
        // Entangled runs its hooks in the order of a Python set: fixed here.
        .env("PYTHONHASHSEED", "0")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .output()
        .expect("run entangled")
}

fn run_ours(dir: &Path) -> Output {
    support::tangle(dir, &[])
}

/// The files under `dir` that a run wrote: relative path -> (bytes, executable by owner).
fn produced(dir: &Path, inputs: &BTreeSet<PathBuf>) -> BTreeMap<PathBuf, (Vec<u8>, bool)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            let rel = p.strip_prefix(dir).expect("under dir").to_path_buf();
            if rel == Path::new(".entangled") || rel == Path::new(".tangled") {
                continue;
            }
            let meta = fs::symlink_metadata(&p).expect("metadata");
            if meta.is_dir() {
                stack.push(p);
            } else if !inputs.contains(&rel) {
                let bytes = fs::read(&p).expect("read output");
                out.insert(rel, (bytes, meta.permissions().mode() & 0o100 != 0));
            }
        }
    }
    out
}

/// A file's lines, numbered, between bars, with CR and tab made visible.
fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .split_inclusive('\n')
        .enumerate()
        .map(|(i, l)| {
            let (l, end) = match l.strip_suffix('\n') {
                Some(l) => (l, ""),
                None => (l, " (no newline at the end)"),
            };
            let l = l.replace('\r', "\\r").replace('\t', "\\t");
            format!("{:4} |{l}|{end}\n", i + 1)
        })
        .collect()
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);
    let al: Vec<&str> = a.split_inclusive('\n').collect();
    let bl: Vec<&str> = b.split_inclusive('\n').collect();
    let i = (0..al.len().max(bl.len()))
        .find(|&i| al.get(i) != bl.get(i))
        .unwrap_or(0);
    format!(
        "first difference at line {}:\n  entangled: {:?}\n  ours:      {:?}",
        i + 1,
        al.get(i),
        bl.get(i)
    )
}

fn output_text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}stderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// What differs between the two sets of written files, if anything.
fn differences(
    theirs: &BTreeMap<PathBuf, (Vec<u8>, bool)>,
    ours: &BTreeMap<PathBuf, (Vec<u8>, bool)>,
) -> String {
    let mut report = String::new();
    for (p, (bytes, exec)) in theirs {
        match ours.get(p) {
            None => report.push_str(&format!(
                "{}: written by Entangled but not by us; Entangled wrote:\n{}",
                p.display(),
                show(bytes)
            )),
            Some((ob, oexec)) => {
                if ob != bytes {
                    report.push_str(&format!(
                        "{}: contents differ; {}\n--- entangled\n{}--- ours\n{}",
                        p.display(),
                        first_difference(bytes, ob),
                        show(bytes),
                        show(ob)
                    ));
                }
                if oexec != exec {
                    report.push_str(&format!(
                        "{}: executable: entangled {exec}, ours {oexec}\n",
                        p.display()
                    ));
                }
            }
        }
    }
    for (p, (bytes, _)) in ours {
        if !theirs.contains_key(p) {
            report.push_str(&format!(
                "{}: written by us but not by Entangled; we wrote:\n{}",
                p.display(),
                show(bytes)
            ));
        }
    }
    report
}

/// Tangles `case` under `annotation` with both tools; the differences, if any.
fn compare(case: &str, annotation: &str) -> Result<(), String> {
    let (their_dir, inputs) = place(case, Some(annotation), "entangled");
    let out = run_entangled(&their_dir);
    let theirs = produced(&their_dir, &inputs);
    // Entangled exits 0 on the errors it reports (and on some it does not): a case that
    // writes nothing is a broken case.
    if !out.status.success() || theirs.is_empty() {
        return Err(format!(
            "Entangled did not tangle the case (a broken case?)\n{}",
            output_text(&out)
        ));
    }
    let (our_dir, _) = place(case, Some(annotation), "ours");
    let our_out = run_ours(&our_dir);
    let ours = produced(&our_dir, &inputs);
    let mut report = String::new();
    if !our_out.status.success() {
        report.push_str(&format!("our tangle failed\n{}", output_text(&our_out)));
    }
    report.push_str(&differences(&theirs, &ours));
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

/// Runs `case` under each annotation; panics with every difference.
fn check(case: &str, annotations: &[&str]) {
    entangled();
    let failures: Vec<String> = annotations
        .iter()
        .filter_map(|a| {
            compare(case, a)
                .err()
                .map(|r| format!("== {case}, annotation = \"{a}\"\n{r}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{case}: our tangle differs from Entangled 2.4:\n{}",
        failures.join("\n")
    );
}

/// An `error_*` case under `annotation`: Entangled writes nothing; we fail, write nothing,
/// and print a message located at a line of `markdown`.
fn check_error(case: &str, annotation: &str, markdown: &str) {
    entangled();
    let (their_dir, inputs) = place(case, Some(annotation), "entangled");
    let out = run_entangled(&their_dir);
    let theirs = produced(&their_dir, &inputs);
    assert!(
        theirs.is_empty(),
        "{case} ({annotation}): Entangled is expected to refuse this book, but it wrote {:?}\n{}",
        theirs.keys().collect::<Vec<_>>(),
        output_text(&out)
    );
    let (our_dir, inputs) = place(case, Some(annotation), "ours");
    let out = run_ours(&our_dir);
    let mut written: Vec<PathBuf> = produced(&our_dir, &inputs).into_keys().collect();
    if our_dir.join(".tangled").exists() {
        written.push(PathBuf::from(".tangled"));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let located = stderr.match_indices(&format!("{markdown}:")).any(|(i, m)| {
        stderr[i + m.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    });
    assert!(
        !out.status.success() && written.is_empty() && located,
        "{case} ({annotation}): our tangle must fail, write nothing and name a line of \
         {markdown}; it wrote {written:?}\n{}",
        output_text(&out)
    );
}

#[test]
fn basics() {
    check("basics", BOTH);
}

#[test]
fn attributes() {
    check("attributes", BOTH);
}

#[test]
fn custom_markers() {
    check("custom_markers", BOTH);
}

#[test]
fn concatenation() {
    check("concatenation", BOTH);
}

#[test]
fn namespaces() {
    check("namespaces", BOTH);
}

#[test]
fn namespace_config() {
    check("namespace_config", BOTH);
}

/// A header's `entangled` key: a namespace and a language for that file's blocks.
#[test]
fn header_config() {
    check("header_config", BOTH);
}

/// The header of the only Markdown file sets `annotation = "naked"` for the whole run.
#[test]
fn single_file_header() {
    check("single_file_header", &[STANDARD]);
}

#[test]
fn hooks() {
    check("hooks", BOTH);
}

#[test]
fn hook_switches() {
    check("hook_switches", BOTH);
}

#[test]
fn languages() {
    check("languages", &[NAKED, STANDARD, SUPPLEMENTED]);
}

#[test]
fn indented() {
    check("indented", BOTH);
}

#[test]
fn crlf() {
    check("crlf", BOTH);
}

#[test]
fn basic_style() {
    check("basic_style", BOTH);
}

#[test]
fn watch_lists() {
    check("watch_lists", BOTH);
}

#[test]
fn pyproject() {
    check("pyproject", BOTH);
}

/// Under `standard` a block without a known language is an error (`error_missing_language`).
#[test]
fn unknown_language() {
    check("unknown_language", &[NAKED]);
}

/// Naked, an empty target crashes Entangled (it indexes the last character).
#[test]
fn empty_blocks() {
    check("empty_blocks", &[STANDARD]);
}

#[test]
fn ignore_blocks() {
    check("ignore_blocks", BOTH);
}

#[test]
fn error_missing_reference() {
    for a in BOTH {
        check_error("error_missing_reference", a, "book.md");
    }
}

#[test]
fn error_cycle() {
    for a in BOTH {
        check_error("error_cycle", a, "book.md");
    }
}

#[test]
fn error_missing_language() {
    check_error("error_missing_language", STANDARD, "book.md");
}

#[test]
fn error_unclosed_fence() {
    for a in BOTH {
        check_error("error_unclosed_fence", a, "book.md");
    }
}

#[test]
fn error_outdented_fence() {
    for a in BOTH {
        check_error("error_outdented_fence", a, "book.md");
    }
}

#[test]
fn error_outdented_line() {
    for a in BOTH {
        check_error("error_outdented_line", a, "book.md");
    }
}

/// A YAML header must be a mapping: Entangled exits 255 with a message.
#[test]
fn error_header_not_a_map() {
    check_error("error_header_not_a_map", STANDARD, "book.md");
}

#[test]
fn error_header_bad_yaml() {
    check_error("error_header_bad_yaml", STANDARD, "book.md");
}

#[test]
fn error_header_unclosed() {
    check_error("error_header_unclosed", STANDARD, "book.md");
}

/// Runs `tool` (`entangled` or our `tangle`) with `args` in `dir`; it must succeed, and its
/// messages must not speak of a conflict.
fn step(dir: &Path, tool: &str, args: &[&str]) {
    let program = if tool == "entangled" {
        entangled().to_path_buf()
    } else {
        PathBuf::from(support::TANGLE)
    };
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .env("PYTHONHASHSEED", "0")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "200")
        .output()
        .expect("run");
    let said = output_text(&out);
    assert!(
        out.status.success() && !said.contains("conflict") && !said.contains("outside the control"),
        "{tool} {args:?} in {}:\n{said}",
        dir.display()
    );
}

fn replace_in(dir: &Path, rel: &str, from: &str, to: &str) {
    let path = dir.join(rel);
    let text = fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "{rel} lacks {from:?}:\n{text}");
    let mut perms = fs::metadata(&path).expect("meta").permissions();
    perms.set_mode(perms.mode() | 0o200);
    fs::set_permissions(&path, perms).expect("chmod");
    fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

/// A team switches tools back and forth on one book: each tangles after the other, each
/// carries edits of the tangled file back (Entangled's `stitch`, our `sync`), and neither
/// finds the other's files "changed outside its control".
#[test]
fn switching_tools_back_and_forth() {
    let (dir, _) = place("concatenation", Some(STANDARD), "switch");
    let (doc, out) = ("shop.md", "shop.py");
    step(&dir, "entangled", &["tangle"]);
    assert!(fs::read_to_string(dir.join(out))
        .expect("Entangled wrote the file")
        .contains("PRICES = {"));
    let line = "PRICES = {";
    // Ours after Entangled: a chapter edit.
    replace_in(&dir, doc, line, &format!("{line}  # one"));
    step(&dir, "tangle", &[]);
    assert!(fs::read_to_string(dir.join(out)).unwrap().contains("# one"));
    // Entangled after ours: a chapter edit.
    replace_in(&dir, doc, "# one", "# two");
    step(&dir, "entangled", &["tangle"]);
    assert!(fs::read_to_string(dir.join(out)).unwrap().contains("# two"));
    // The file edited, carried back by ours, then tangled by Entangled.
    replace_in(&dir, out, "# two", "# three");
    step(&dir, "tangle", &["sync"]);
    assert!(fs::read_to_string(dir.join(doc))
        .unwrap()
        .contains("# three"));
    step(&dir, "entangled", &["tangle"]);
    // The file edited, carried back by Entangled, then tangled by ours.
    replace_in(&dir, out, "# three", "# four");
    step(&dir, "entangled", &["stitch"]);
    assert!(fs::read_to_string(dir.join(doc))
        .unwrap()
        .contains("# four"));
    step(&dir, "tangle", &[]);
    step(&dir, "tangle", &["--check"]);
    assert!(fs::read_to_string(dir.join(out))
        .unwrap()
        .contains("# four"));
}

/// Every case folder has its configuration and its test above.
#[test]
fn every_case_is_run() {
    let source = include_str!("entangled_differential.rs");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/entangled_corpus");
    for e in fs::read_dir(&dir).expect("corpus") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_dir() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(
                e.path().join("entangled.toml").exists()
                    || e.path().join("pyproject.toml").exists(),
                "tests/entangled_corpus/{name} has no entangled.toml nor pyproject.toml"
            );
            assert!(
                source.contains(&format!("(\"{name}\"")),
                "tests/entangled_corpus/{name} has no test in entangled_differential.rs"
            );
        }
    }
}
