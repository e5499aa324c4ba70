//! `tangle cargo`: rustc's diagnostics mapped back into the Markdown chapters.
//!
//! The chapters under `tests/fixtures/cargo/` are tangled into a throwaway workspace of three
//! dependency-free crates, which is built once for real (`cargo build --offline
//! --message-format=json`); the recorded messages are then rendered with [`tangle::cargo`] and
//! checked against the chapters' lines, columns and fragments.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tangle::cargo::{self, Mapper};
use tangle::markdown::pipeline::tangle_chapters;
use tangle::Output;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cargo");

/// The header chapter's name holds U+202E, which the generated header comment repeats; rustc
/// denies such comments, so the error lands on the header line, which has no origin.
const HEADER_DOC: &str = "header\u{202e}.md";

struct Built {
    root: PathBuf,
    outputs: Vec<Output>,
    /// Every `compiler-message` cargo printed.
    messages: Vec<Value>,
    /// Everything else cargo printed on standard output, one JSON message a line.
    others: Vec<Value>,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cargo_map");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let mut chapters = Vec::new();
        for (name, fixture) in [
            ("errors.md", "errors.md"),
            ("warnings.md", "warnings.md"),
            (HEADER_DOC, "header.md"),
        ] {
            let text = std::fs::read_to_string(Path::new(FIXTURES).join(fixture)).unwrap();
            std::fs::write(root.join(name), &text).unwrap();
            chapters.push((PathBuf::from(name), text));
        }
        let tangled = tangle_chapters(&chapters, "(ref:%s)").unwrap_or_else(|e| panic!("{e}"));
        for o in &tangled.outputs {
            let path = root.join(&o.path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, &o.content).unwrap();
        }
        std::fs::write(
            root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"errors\", \"warnings\", \"header\"]\nresolver = \"2\"\n",
        )
        .unwrap();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "--offline",
                "--keep-going",
                "--workspace",
                "--message-format=json",
            ])
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", root.join("target"))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .unwrap();
        assert!(!out.status.success(), "the build must fail");
        let (mut messages, mut others) = (Vec::new(), Vec::new());
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if v["reason"] == "compiler-message" {
                messages.push(v);
            } else {
                others.push(v);
            }
        }
        Built {
            root,
            outputs: tangled.outputs,
            messages,
            others,
        }
    })
}

/// The rendering of the first message whose text contains `needle`.
fn rendered(needle: &str) -> String {
    let b = built();
    let msg = b
        .messages
        .iter()
        .find(|m| {
            m["message"]["rendered"]
                .as_str()
                .is_some_and(|t| t.contains(needle))
        })
        .unwrap_or_else(|| {
            panic!(
                "no message like {needle:?} among {:#?}",
                b.messages
                    .iter()
                    .map(|m| &m["message"]["rendered"])
                    .collect::<Vec<_>>()
            )
        });
    let text = cargo::render(msg, &b.outputs, &b.root);
    eprintln!("{text}");
    text
}

/// 1-based line of the first line of fixture `doc` containing `needle`, and the 1-based
/// (character) column where `needle` starts.
fn doc_pos(doc: &str, needle: &str) -> (usize, usize) {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join(doc)).unwrap();
    for (i, line) in text.lines().enumerate() {
        if let Some(b) = line.find(needle) {
            return (i + 1, line[..b].chars().count() + 1);
        }
    }
    panic!("{needle:?} is not in {doc}");
}

/// The same in a tangled output.
fn out_pos(path: &str, needle: &str) -> (usize, usize) {
    let o = built()
        .outputs
        .iter()
        .find(|o| o.path == Path::new(path))
        .unwrap();
    let text = String::from_utf8_lossy(&o.content);
    for (i, line) in text.lines().enumerate() {
        if let Some(b) = line.find(needle) {
            return (i + 1, line[..b].chars().count() + 1);
        }
    }
    panic!("{needle:?} is not in {path}");
}

/// The source row for document line `line` in `text`, and the marker row under it.
fn rows(text: &str, line: usize) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| {
            l.split_once(" | ")
                .is_some_and(|(n, _)| n.trim() == line.to_string())
        })
        .unwrap_or_else(|| panic!("no line {line} shown in\n{text}"));
    (lines[at].to_string(), lines[at + 1].to_string())
}

/// The column (1-based, in the source text) where the markers `mark` start under `line`.
fn marker_col(text: &str, line: usize, mark: char) -> usize {
    let (src, markers) = rows(text, line);
    let gutter = src.find(" | ").unwrap() + 3;
    let under = &markers[gutter..];
    under
        .find(mark)
        .unwrap_or_else(|| panic!("no {mark} under line {line}:\n{text}"))
        + 1
}

#[test]
fn type_error_in_an_indented_fragment_maps_to_the_chapter_with_the_column_shift() {
    let text = rendered("mismatched types");
    let text = if text.contains("forty-two") {
        text
    } else {
        panic!("first mismatch should be the literal:\n{text}")
    };
    let (line, col) = doc_pos("errors.md", "\"forty-two\"");
    let (oline, ocol) = out_pos("errors/src/main.rs", "\"forty-two\"");
    // The fragment is indented by 3 in its list item and by 4 where it is used.
    assert_eq!(ocol, col + 1);
    let head = format!(
        "--> errors.md:{line}:{col} (errors/src/main.rs:{oline}:{ocol}, in «compute the answer»)"
    );
    assert!(text.contains(&head), "{head}\nnot in\n{text}");
    assert!(
        text.starts_with("error[E0308]: mismatched types\n"),
        "{text}"
    );
    let (src, _) = rows(&text, line);
    assert!(
        src.ends_with(" |    let answer: u32 = \"forty-two\";"),
        "{src}"
    );
    assert_eq!(marker_col(&text, line, '^'), col);
    assert_eq!(
        marker_col(&text, line, '-'),
        doc_pos("errors.md", "u32 = \"forty").1
    );
    assert!(
        text.contains("^^^^^^^^^^^ expected `u32`, found `&str`"),
        "{text}"
    );
    assert!(text.contains("expected due to this"), "{text}");
    assert!(
        !text.contains("errors/src/main.rs:13:23\n"),
        "unmapped location left:\n{text}"
    );
}

#[test]
fn warning_with_a_secondary_span_in_another_fragment() {
    let text = rendered("unreachable statement");
    let (line, col) = doc_pos("warnings.md", "let unused");
    let (oline, ocol) = out_pos("warnings/src/main.rs", "let unused");
    let (rline, rcol) = doc_pos("warnings.md", "return;");
    let (roline, rocol) = out_pos("warnings/src/main.rs", "return;");
    assert!(
        text.starts_with("warning: unreachable statement\n"),
        "{text}"
    );
    let primary = format!(
        "--> warnings.md:{line}:{col} (warnings/src/main.rs:{oline}:{ocol}, in «never runs»)"
    );
    let secondary = format!("::: warnings.md:{rline}:{rcol} (warnings/src/main.rs:{roline}:{rocol}, in «bail out early»)");
    assert!(text.contains(&primary), "{primary}\nnot in\n{text}");
    assert!(text.contains(&secondary), "{secondary}\nnot in\n{text}");
    assert!(
        rows(&text, line)
            .1
            .ends_with("| ^^^^^^^^^^^^^^^ unreachable statement"),
        "{text}"
    );
    assert!(
        rows(&text, rline)
            .1
            .ends_with("| ------ any code following this expression is unreachable"),
        "{text}"
    );
    assert!(
        text.contains("= note: `#[warn(unreachable_code)]`"),
        "{text}"
    );
}

#[test]
fn error_on_the_generated_header_stays_in_the_tangled_file() {
    let text = rendered("unicode codepoint changing visible direction");
    let b = built();
    let msg = b
        .messages
        .iter()
        .find(|m| {
            m["message"]["message"]
                .as_str()
                .is_some_and(|t| t.contains("unicode codepoint"))
        })
        .unwrap();
    // rustc's own text, unchanged, then a note.
    let rustc = msg["message"]["rendered"].as_str().unwrap();
    assert!(text.starts_with(rustc), "{text}");
    assert!(rustc.contains("--> header/src/main.rs:1:1\n"), "{rustc}");
    assert_eq!(&text[rustc.len()..], "note: line 1 of header/src/main.rs is generated by tangle (not taken from the document)\n\n");
    assert!(
        !text.contains(&format!("{HEADER_DOC}:")),
        "mapped into the chapter:\n{text}"
    );
    // Rendered from the spans (as when another span maps), the header says where it stands.
    let mut bare = msg.clone();
    bare["message"]["rendered"] = Value::Null;
    let text = cargo::render(&bare, &b.outputs, &b.root);
    assert!(
        text.starts_with(
            "error: unicode codepoint changing visible direction of text present in comment\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "--> header/src/main.rs:1:1 (a line tangle generated: not in the document)\n"
        ),
        "{text}"
    );
    let (src, markers) = rows(&text, 1);
    assert!(src.contains("Generated by tangle from header"), "{src}");
    assert!(markers.contains("^^^^"), "{text}");
    assert!(
        text.contains("'\\u{202e}'")
            && text
                .contains("this comment contains an invisible unicode text flow control codepoint"),
        "{text}"
    );
}

#[test]
fn multi_line_span_maps_both_ends() {
    let text = rendered("expected `String`");
    // The span starts at the `5` of `String = 5`.
    let (line, col) = doc_pos("errors.md", "String = 5");
    let col = col + 9;
    let (oline, ocol) = out_pos("errors/src/main.rs", "String = 5");
    let head = format!(
        "--> errors.md:{line}:{col} (errors/src/main.rs:{oline}:{}, in «compute the answer»)",
        ocol + 9
    );
    assert!(text.contains(&head), "{head}\nnot in\n{text}");
    let (end_line, end_col) = doc_pos("errors.md", "+ helper(answer, 2);");
    assert_eq!(end_line, line + 1);
    assert_eq!(marker_col(&text, line, '^'), col);
    assert_eq!(marker_col(&text, end_line, '^'), end_col);
    assert!(
        rows(&text, end_line)
            .1
            .ends_with("^^^^^^^^^^^^^^^^^^^ expected `String`, found `u32`"),
        "{text}"
    );
    // The suggestion is shown on the chapter's lines.
    assert!(
        text.contains(&format!("{line} +    let total: String = (5\n")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{end_line} +        + helper(answer, 2)).to_string();\n"
        )),
        "{text}"
    );
}

#[test]
fn child_notes_and_suggestions_are_mapped() {
    let text = rendered("takes 1 argument but 2 arguments");
    let (line, _) = doc_pos("errors.md", "+ helper(answer, 2);");
    let (hline, hcol) = doc_pos("errors.md", "helper(x: u32)");
    let (ohline, ohcol) = out_pos("errors/src/main.rs", "helper(x: u32)");
    let note = format!("note: function defined here\n  --> errors.md:{hline}:{hcol} (errors/src/main.rs:{ohline}:{ohcol}, in «helpers»)\n");
    assert!(text.contains(&note), "{note}\nnot in\n{text}");
    assert!(text.contains(&format!("help: remove the extra argument\n   |\n{line} -        + helper(answer, 2);\n{line} +        + helper(answer);\n")), "{text}");
    assert_eq!(marker_col(&text, line, '-'), doc_pos("errors.md", "2);").1);
}

#[test]
fn macro_expansions_show_the_invocation() {
    let text = rendered("cannot divide");
    let (line, col) = doc_pos("errors.md", "/ 2u8");
    let (iline, icol) = doc_pos("errors.md", "halve!(answer)");
    assert!(
        text.contains(&format!("--> errors.md:{line}:{col} (")) && text.contains("in «helpers»)"),
        "{text}"
    );
    let call = format!("::: errors.md:{iline}:{icol} (");
    assert!(text.contains(&call), "{call}\nnot in\n{text}");
    assert!(
        rows(&text, iline)
            .1
            .ends_with("-------------- in this expansion of `halve!`"),
        "{text}"
    );
}

#[test]
fn short_format_names_the_chapter() {
    let b = built();
    let msg = b
        .messages
        .iter()
        .find(|m| m["message"]["message"] == "mismatched types")
        .unwrap();
    let (line, col) = doc_pos("errors.md", "\"forty-two\"");
    let (oline, ocol) = out_pos("errors/src/main.rs", "\"forty-two\"");
    assert_eq!(
        Mapper::new(&b.root, &b.outputs).render_short(msg),
        format!("errors.md:{line}:{col}: error[E0308]: mismatched types (errors/src/main.rs:{oline}:{ocol}, in «compute the answer»)\n")
    );
}

#[test]
fn spans_relative_to_the_package_folder_map_too() {
    let b = built();
    let mut msg = b
        .messages
        .iter()
        .find(|m| m["message"]["message"] == "unreachable statement")
        .unwrap()
        .clone();
    for span in msg["message"]["spans"].as_array_mut().unwrap() {
        span["file_name"] = Value::from("src/main.rs");
    }
    assert_eq!(
        cargo::render(&msg, &b.outputs, &b.root),
        rendered("unreachable statement")
    );
}

#[test]
fn untangled_files_and_stale_outputs_are_left_alone() {
    let b = built();
    let orig = b
        .messages
        .iter()
        .find(|m| m["message"]["message"] == "unreachable statement")
        .unwrap();
    let rustc = orig["message"]["rendered"].as_str().unwrap();
    // A file that is not tangled: rustc's own text.
    let mut msg = orig.clone();
    for span in msg["message"]["spans"].as_array_mut().unwrap() {
        span["file_name"] = Value::from("warnings/src/other.rs");
    }
    msg["message"]["rendered"] =
        Value::from(rustc.replace("warnings/src/main.rs", "warnings/src/other.rs"));
    assert_eq!(
        cargo::render(&msg, &b.outputs, &b.root),
        rustc.replace("warnings/src/main.rs", "warnings/src/other.rs")
    );
    // The file on disk is not what tangle makes of the chapter: nothing is mapped.
    let mut outputs = b.outputs.clone();
    let o = outputs
        .iter_mut()
        .find(|o| o.path == Path::new("warnings/src/main.rs"))
        .unwrap();
    let fresh = o.content.clone();
    o.content = [b"// an extra line\n".as_slice(), &fresh].concat();
    let text = cargo::render(orig, &outputs, &b.root);
    assert!(text.starts_with(rustc), "{text}");
    assert!(
        text.contains("note: warnings/src/main.rs differs from what tangle makes of the document"),
        "{text}"
    );
    // Only some lines differ: those are left alone, the others are mapped.
    let o = outputs
        .iter_mut()
        .find(|o| o.path == Path::new("warnings/src/main.rs"))
        .unwrap();
    o.content = String::from_utf8_lossy(&fresh)
        .replace("return;", "return ;")
        .into_bytes();
    let text = cargo::render(orig, &outputs, &b.root);
    assert!(text.contains("::: warnings/src/main.rs:3:5\n"), "{text}");
    assert!(text.contains("in «never runs»"), "{text}");
    assert!(
        text.contains("note: warnings/src/main.rs differs"),
        "{text}"
    );
}

/// [`cargo::run_plan`] with cargo's own standard error captured in a file rather than let
/// through: the test suite's log should not show the deliberately broken crates' `error: could
/// not compile`. Returns the exit code and what cargo wrote there.
fn run_quietly(
    root: &Path,
    outputs: &[Output],
    plan: &cargo::Plan,
    out: &mut Vec<u8>,
    err: &mut Vec<u8>,
) -> (i32, String) {
    let log = root.join(format!("cargo-stderr-{}.log", std::process::id()));
    let file = std::fs::File::create(&log).unwrap();
    let code = cargo::run_plan(root, outputs, plan, out, err, file.into()).unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    (code, text)
}

#[test]
fn run_streams_cargo_and_returns_its_exit_code() {
    let b = built();
    let target = b.root.join("target");
    let args = |a: &[&str]| -> Vec<std::ffi::OsString> { a.iter().map(Into::into).collect() };
    // A failing build: JSON is consumed, diagnostics come out mapped, cargo's code comes back.
    let plan = cargo::plan(
        &args(&[
            "build",
            "--offline",
            "--keep-going",
            "--all-targets",
            "--target-dir",
            target.to_str().unwrap(),
        ]),
        || false,
    )
    .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (code, cargo_err) = run_quietly(&b.root, &b.outputs, &plan, &mut out, &mut err);
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(code, 101, "{err}");
    assert!(
        cargo_err.contains("could not compile `errors`"),
        "{cargo_err}"
    );
    assert!(!out.contains("\"reason\""), "JSON leaked:\n{out}");
    let (line, col) = doc_pos("errors.md", "\"forty-two\"");
    // Built twice (the library and its tests), the error is still shown once.
    let at = format!("--> errors.md:{line}:{col} (");
    assert_eq!(err.matches(&at).count(), 1, "{err}");
    assert!(err.contains("in «bail out early»"), "{err}");
    // Its test target gives the same warning, counted as a duplicate when both are built
    // before either is reported (which comes first is cargo's scheduling).
    assert!(
        err.contains("warning: `warnings` (bin \"warnings\") generated 1 warning\n")
            || err.contains(
                "warning: `warnings` (bin \"warnings\") generated 1 warning (1 duplicate)\n"
            ),
        "{err}"
    );
    // Tests run: their output passes through.
    let plan = cargo::plan(
        &args(&[
            "test",
            "--offline",
            "-p",
            "warnings",
            "--target-dir",
            target.to_str().unwrap(),
            "--",
            "--test-threads=1",
        ]),
        || false,
    )
    .unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let (code, cargo_err) = run_quietly(&b.root, &b.outputs, &plan, &mut out, &mut err);
    assert!(cargo_err.contains("Running"), "{cargo_err}");
    let (out, err) = (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("running 0 tests"), "{out}");
    assert!(err.contains("in «never runs»"), "{err}");
}

#[test]
fn cargo_printed_everything_else_as_json() {
    let b = built();
    assert!(b.others.iter().any(|m| m["reason"] == "build-finished"));
    assert!(!b.messages.is_empty());
}

/// The fixture chapters under the names the live build uses, tangled.
fn fixture_outputs() -> Vec<Output> {
    let chapters: Vec<(PathBuf, String)> = [
        ("errors.md", "errors.md"),
        ("warnings.md", "warnings.md"),
        (HEADER_DOC, "header.md"),
    ]
    .iter()
    .map(|(name, fixture)| {
        (
            PathBuf::from(name),
            std::fs::read_to_string(Path::new(FIXTURES).join(fixture)).unwrap(),
        )
    })
    .collect();
    tangle_chapters(&chapters, "(ref:%s)")
        .unwrap_or_else(|e| panic!("{e}"))
        .outputs
}

/// Golden test: messages recorded from a real build (`recorded.jsonl`) render as
/// `recorded.txt` says. `TANGLE_BLESS=1` records both again from the live build.
#[test]
fn golden_rendering_of_recorded_messages() {
    let dir = Path::new(FIXTURES);
    if std::env::var_os("TANGLE_BLESS").is_some() {
        let b = built();
        let root = b.root.display().to_string();
        let mut jsonl = String::new();
        for m in &b.messages {
            let mut m = m.clone();
            if m["message"]["code"].is_object() {
                m["message"]["code"]["explanation"] = Value::Null;
            }
            jsonl.push_str(&m.to_string().replace(&root, "/recorded"));
            jsonl.push('\n');
        }
        std::fs::write(dir.join("recorded.jsonl"), jsonl).unwrap();
    }
    let outputs = fixture_outputs();
    let mut text = String::new();
    for line in std::fs::read_to_string(dir.join("recorded.jsonl"))
        .unwrap()
        .lines()
    {
        let msg: Value = serde_json::from_str(line).unwrap();
        text.push_str(&cargo::render(&msg, &outputs, dir));
    }
    if std::env::var_os("TANGLE_BLESS").is_some() {
        std::fs::write(dir.join("recorded.txt"), &text).unwrap();
    }
    let expected = std::fs::read_to_string(dir.join("recorded.txt")).unwrap();
    if text != expected {
        let diff = similar::TextDiff::from_lines(&expected, &text)
            .unified_diff()
            .header("recorded.txt", "rendered")
            .to_string();
        panic!("rendering differs from recorded.txt (TANGLE_BLESS=1 records it again):\n{diff}");
    }
}

#[test]
fn colour_changes_nothing_but_the_escapes() {
    let b = built();
    let plain = Mapper::new(&b.root, &b.outputs);
    let color = Mapper::new(&b.root, &b.outputs).color(true);
    for m in &b.messages {
        let painted = color.render(m);
        let mut stripped = String::new();
        let mut rest = painted.as_str();
        while let Some(at) = rest.find('\x1b') {
            stripped.push_str(&rest[..at]);
            let end = rest[at..].find('m').expect("escape ends with m");
            rest = &rest[at + end + 1..];
        }
        stripped.push_str(rest);
        let plain_text = plain.render(m);
        if m["message"]["rendered"].as_str() != Some(plain_text.as_str()) {
            assert!(painted.contains("\x1b["), "{painted}");
        }
        assert_eq!(stripped, plain_text);
    }
}

#[test]
fn a_reference_inside_a_line_maps_each_piece_to_its_fragment() {
    // `let small: u8 = <<a big number>>;`: the literal comes from one fragment, the type
    // annotation from another, on the same output line.
    let text = rendered("found `u16`");
    let (line, col) = doc_pos("errors.md", "256u16");
    let (oline, ocol) = out_pos("errors/src/main.rs", "256u16");
    let head = format!(
        "--> errors.md:{line}:{col} (errors/src/main.rs:{oline}:{ocol}, in «a big number»)"
    );
    assert!(text.contains(&head), "{head}\nnot in\n{text}");
    assert!(
        rows(&text, line)
            .1
            .ends_with("| ^^^^^^ expected `u8`, found `u16`"),
        "{text}"
    );
    let (tline, tcol) = doc_pos("errors.md", "u8 = <<a big number>>");
    let (_, otcol) = out_pos("errors/src/main.rs", "u8 = 256u16");
    let secondary = format!("::: errors.md:{tline}:{tcol} (errors/src/main.rs:{oline}:{otcol}, in «compute the answer»)");
    assert!(text.contains(&secondary), "{secondary}\nnot in\n{text}");
    assert_eq!(marker_col(&text, tline, '-'), tcol);
}
