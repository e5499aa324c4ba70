//! The invariants the tangle fuzz targets check, shared word for word by the fuzz targets
//! (`fuzz/fuzz_targets/*_tangle.rs`) and the stable replay test (`tangle/tests/fuzz_corpus.rs`),
//! which both include this file with `#[path]`.
//!
//! Whatever the input, tangling must not panic, and:
//!
//! - every diagnostic (error or warning, and each of its notes) points at an existing line of
//!   an input document, at a column from 1 to one past the line's last character;
//! - every output's line map has one entry per line of the content; every origin names an
//!   input document, one of its lines and one of the map's fragments;
//! - segments are sorted by line then column, lie on mapped lines of the output, and a line
//!   never has exactly one;
//! - the text of every piece of a mapped line (the whole line, or from one segment to the
//!   next) is the text of its origin's line at the output column minus `col_shift`: what the
//!   map says the reader is looking at is what is there. In a Markdown output this holds for
//!   every character. An org output's blanks may be made rather than copied, and a piece may
//!   carry made text before or after its origin's (Emacs re-indents with tabs, joins blocks
//!   with `:noweb-sep`, repeats a reference's prefix without an origin); there the origin
//!   line's first non-blank character must be where the map puts it (when that falls inside
//!   the piece), and every non-blank output character that maps onto the origin's text from
//!   there on must equal it (in a document with an in-line `:noweb-sep`, whose text has no
//!   origin of its own, only the map's shape is checked);
//! - `Output::locate` answers columns of lines (one past the end included) with a place in
//!   an input document, and refuses a column beyond that.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use tangle::{Diagnostic, Output, Pos};

/// How many lines of each output `Output::locate` is asked about.
const LOCATED_LINES: usize = 256;

/// The most chapters a Markdown input is split into.
pub const MAX_CHAPTERS: usize = 4;

/// The chapters a fuzz input stands for: its text (invalid UTF-8 replaced), split at NUL
/// characters into at most [`MAX_CHAPTERS`] chapters `ch1.md`, `ch2.md`, ...
pub fn chapters(data: &[u8]) -> Vec<(PathBuf, String)> {
    let text = String::from_utf8_lossy(data);
    text.splitn(MAX_CHAPTERS, '\0')
        .enumerate()
        .map(|(i, t)| (PathBuf::from(format!("ch{}.md", i + 1)), t.to_string()))
        .collect()
}

/// Tangles the Markdown chapters built from `data` and checks every invariant; panics with
/// the reason on a violation.
pub fn check_markdown(data: &[u8]) {
    let chapters = chapters(data);
    let docs: Vec<(&Path, &str)> = chapters
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    match tangle::markdown::pipeline::tangle_chapters(&chapters, "(ref:%s)") {
        Ok(tangled) => {
            for d in &tangled.warnings {
                check_diagnostic(&docs, d);
            }
            for out in &tangled.outputs {
                check_position(&docs, &out.block, "the block of an output");
                check_output(&docs, out, Blanks::Copied);
                let path = &out.path;
                assert!(
                    tangle::paths::check_target(path).is_ok(),
                    "{}: a Markdown target outside the project",
                    path.display()
                );
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a failed tangle without an error");
            for d in &errors.0 {
                check_diagnostic(&docs, d);
            }
        }
    }
}

/// The path an org fuzz input is tangled as.
pub const ORG_PATH: &str = "fuzz.org";

/// Tangles `data` (invalid UTF-8 replaced) as an org document and checks every invariant;
/// panics with the reason on a violation.
pub fn check_org(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let docs = [(Path::new(ORG_PATH), &*text)];
    match tangle::org::tangle_org(Path::new(ORG_PATH), &text) {
        Ok(tangled) => {
            for d in &tangled.warnings {
                check_diagnostic(&docs, d);
            }
            // In-line `:noweb-sep` text is made text without an origin (see `Blanks`), and so
            // is a called block's result (`<<name(args)>>`), mapped to the reference.
            let mode = if text.to_ascii_lowercase().contains(":noweb-sep") || text.contains(")>>") {
                Blanks::Separated
            } else {
                Blanks::Made
            };
            for out in &tangled.outputs {
                check_position(&docs, &out.block, "the block of an output");
                check_output(&docs, out, mode);
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a failed tangle without an error");
            for d in &errors.0 {
                check_diagnostic(&docs, d);
            }
        }
    }
}

/// The settings an Entangled fuzz input's first byte chooses: bit 0 the naked annotation,
/// bit 1 the basic style (fences without braces, `#|` attribute lines), bit 2 private
/// namespaces and the SPDX hook.
pub fn entangled_settings(flags: u8) -> String {
    let mut s = String::from("version = \"2.4\"\n");
    if flags & 1 != 0 {
        s.push_str("annotation = \"naked\"\n");
    }
    if flags & 2 != 0 {
        s.push_str("style = \"basic\"\n");
    }
    if flags & 4 != 0 {
        s.push_str("namespace_default = \"private\"\nhooks = [\"spdx_license\"]\n");
    }
    s
}

/// Tangles the Entangled book built from `data` (its first byte the settings, see
/// [`entangled_settings`]; the rest documents as for Markdown, carriage returns taken out so
/// that lines are counted alike) and checks every invariant; panics with the reason.
pub fn check_entangled(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    // Eight settings, read once each (their patterns are compiled then).
    static CONFIGS: std::sync::OnceLock<Vec<tangle::entangled::config::Config>> =
        std::sync::OnceLock::new();
    let configs = CONFIGS.get_or_init(|| {
        (0..8u8)
            .map(|f| {
                let text = entangled_settings(f);
                tangle::entangled::config::Config::parse(Path::new("entangled.toml"), &text, &[])
                    .expect("the fuzz settings are valid")
            })
            .collect()
    });
    let settings = entangled_settings(flags);
    let config = &configs[usize::from(flags & 7)];
    let chapters: Vec<(PathBuf, String)> = chapters(rest)
        .into_iter()
        .map(|(p, t)| (p, t.replace('\r', "")))
        .collect();
    let mut docs: Vec<(&Path, &str)> = chapters
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    docs.push((Path::new("entangled.toml"), settings.as_str()));
    match tangle::entangled::tangle(config, chapters.clone(), true) {
        Ok(tangled) => {
            for d in &tangled.warnings {
                check_diagnostic(&docs, d);
            }
            for out in &tangled.outputs {
                check_position(&docs, &out.block, "the block of an output");
                check_output(&docs, out, Blanks::Markers);
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a failed tangle without an error");
            for d in &errors.0 {
                check_diagnostic(&docs, d);
            }
        }
    }
}

/// Whether an output line is one of Entangled's annotation markers (made text, mapped to its
/// block's fence).
fn is_marker(line: &str) -> bool {
    line.contains(" ~/~ begin <<") || line.contains(" ~/~ end")
}

/// How an output's blanks relate to the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blanks {
    /// Every character of a mapped piece, blanks too, is copied from its origin (Markdown).
    Copied,
    /// Blanks may be made by the tangler, and a piece may hold made text before or after its
    /// origin's (org: re-indentation with tabs, `:noweb-sep`, a repeated reference prefix).
    Made,
    /// As `Copied`, but for Entangled's marker lines, which are made (and mapped to a fence).
    Markers,
    /// As `Made`, and a piece may begin with made text of any kind: a `:noweb-sep` other than
    /// a newline has no origin of its own, so its text joins the piece before it, before or
    /// in place of that piece's own text. Only where each piece starts is checked.
    Separated,
}

/// The lines of a document as its readers see them: split at `\n`, one `\r` before it dropped.
fn doc_lines(text: &str) -> Vec<&str> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect()
}

/// The lines of an output's content: a final newline ends the last line, it does not start
/// another.
fn output_lines(content: &str) -> Vec<&str> {
    if content.is_empty() {
        return Vec::new();
    }
    let body = content.strip_suffix('\n').unwrap_or(content);
    body.split('\n').collect()
}

fn find_doc<'d>(docs: &[(&Path, &'d str)], path: &Path) -> Option<&'d str> {
    docs.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}

fn check_diagnostic(docs: &[(&Path, &str)], d: &Diagnostic) {
    match &d.pos {
        Some(pos) => check_position(docs, pos, &d.to_string()),
        None => panic!("a diagnostic of the documents without a place: {d}"),
    }
    for note in &d.notes {
        check_position(docs, &note.pos, &d.to_string());
    }
}

fn check_position(docs: &[(&Path, &str)], pos: &Pos, what: &str) {
    let text = find_doc(docs, &pos.path)
        .unwrap_or_else(|| panic!("{what}: {pos} is in no input document"));
    let lines = doc_lines(text);
    assert!(
        pos.line >= 1 && pos.line <= lines.len(),
        "{what}: line {} of a document of {} lines",
        pos.line,
        lines.len()
    );
    let len = lines[pos.line - 1].chars().count();
    assert!(
        pos.col >= 1 && pos.col <= len + 1,
        "{what}: column {} of a line of {len} characters",
        pos.col
    );
}

fn check_output(docs: &[(&Path, &str)], out: &Output, mode: Blanks) {
    let name = out.path.display();
    let content = std::str::from_utf8(&out.content)
        .unwrap_or_else(|e| panic!("{name}: the content is not UTF-8: {e}"));
    let lines = output_lines(content);
    let map = &out.map;
    assert_eq!(
        map.lines.len(),
        lines.len(),
        "{name}: the map has {} lines, the content {}",
        map.lines.len(),
        lines.len()
    );
    assert!(out.mode <= 0o7777, "{name}: mode {:o}", out.mode);

    // Every file of the map is an input document, once.
    let files: Vec<Vec<&str>> = map
        .files
        .iter()
        .map(|f| {
            let text = find_doc(docs, f)
                .unwrap_or_else(|| panic!("{name}: map file {} is no input", f.display()));
            doc_lines(text)
        })
        .collect();
    for (i, f) in map.files.iter().enumerate() {
        assert!(
            !map.files[..i].contains(f),
            "{name}: {} listed twice",
            f.display()
        );
    }
    let origin_ok = |o: &tangle::Origin, at: &str| {
        let file = files
            .get(o.file as usize)
            .unwrap_or_else(|| panic!("{name} {at}: file index {} out of range", o.file));
        assert!(
            o.line >= 1 && (o.line as usize) <= file.len(),
            "{name} {at}: origin line {} of a document of {} lines",
            o.line,
            file.len()
        );
        assert!(
            (o.fragment as usize) < map.fragments.len(),
            "{name} {at}: fragment index {} of {}",
            o.fragment,
            map.fragments.len()
        );
        file[o.line as usize - 1]
    };

    // Segments: sorted, on mapped lines, never alone on a line.
    for w in map.segments.windows(2) {
        assert!(
            (w[0].line, w[0].col) < (w[1].line, w[1].col),
            "{name}: segments out of order: {:?} then {:?}",
            w[0],
            w[1]
        );
    }
    for s in &map.segments {
        let at = format!("segment at line {} col {}", s.line + 1, s.col);
        assert!(
            (s.line as usize) < lines.len(),
            "{name} {at}: past the last line"
        );
        assert!(
            map.lines[s.line as usize].is_some(),
            "{name} {at}: on a generated line"
        );
        // A segment may start past the end of its line: an expansion's blank line loses the
        // blanks of its prefix, and the (empty) piece that followed them keeps its column.
        assert!(s.col >= 1, "{name} {at}: column 0");
        origin_ok(&s.origin, &at);
        let alone = map.segments.iter().filter(|t| t.line == s.line).count() == 1;
        assert!(!alone, "{name} {at}: a line with a single segment");
    }

    // The text of every piece is the text of its origin.
    for (i, (origin, text)) in map.lines.iter().zip(&lines).enumerate() {
        let Some(origin) = origin else { continue };
        let at = format!("line {}", i + 1);
        origin_ok(origin, &at);
        let out: Vec<char> = text.chars().collect();
        let first = map.segments.partition_point(|s| (s.line as usize) < i);
        let mut pieces: Vec<(usize, &tangle::Origin)> = map.segments[first..]
            .iter()
            .take_while(|s| s.line as usize == i)
            .map(|s| (s.col as usize - 1, &s.origin))
            .collect();
        if pieces.is_empty() {
            pieces.push((0, origin));
        }
        for (k, &(start, o)) in pieces.iter().enumerate() {
            let end = pieces.get(k + 1).map_or(out.len(), |p| p.0).min(out.len());
            let src: Vec<char> = origin_ok(o, &at).chars().collect();
            let mismatch = |c: usize, found: Option<&char>| {
                panic!(
                    "{name} {at} column {}: {:?} in the output, but the map points at \
                     column {} of {}:{} which holds {found:?}\n  output: {text:?}\n  source: {:?}",
                    c + 1,
                    out[c],
                    c as i64 - o.col_shift as i64 + 1,
                    map.files[o.file as usize].display(),
                    o.line,
                    src.iter().collect::<String>(),
                )
            };
            let source_col = |c: usize| usize::try_from(c as i64 - o.col_shift as i64).ok();
            if mode == Blanks::Markers && is_marker(text) {
                continue;
            }
            if matches!(mode, Blanks::Copied | Blanks::Markers) {
                for (c, ch) in out.iter().enumerate().take(end).skip(start) {
                    let found = source_col(c).and_then(|f| src.get(f));
                    if found != Some(ch) {
                        mismatch(c, found);
                    }
                }
                continue;
            }
            if mode == Blanks::Separated {
                continue;
            }
            // Blanks may be made: the source's text, from its first non-blank character, is
            // where the map puts it, and the non-blank characters that follow are its own.
            let Some(mut first) = src.iter().position(|ch| !matches!(ch, ' ' | '\t')) else {
                continue;
            };
            // An empty block's one (empty) line is mapped to its `#+end_src` line, and made
            // text after it (a `:noweb-sep`) has no origin of its own: nothing of that line is
            // copied, so there is nothing to anchor.
            let text: String = src.iter().collect();
            if text.trim_start().to_ascii_lowercase().starts_with("#+end_") {
                continue;
            }
            // Org's escape comma (`,*`, `,#+`, and `,,*` keeping one) is removed, not copied:
            // the line's one shift counts it, so its text starts one character later.
            let commas = src[first..].iter().take_while(|c| **c == ',').count();
            let after = &src[first + commas..];
            if commas > 0 && (after.first() == Some(&'*') || after.starts_with(&['#', '+'])) {
                first += 1;
            }
            let anchor = first as i64 + o.col_shift as i64;
            if anchor >= start as i64 && anchor < end as i64 && out[anchor as usize] != src[first] {
                mismatch(anchor as usize, Some(&src[first]));
            }
            for (c, ch) in out.iter().enumerate().take(end).skip(start) {
                let Some(f) = source_col(c).filter(|&f| f >= first && f < src.len()) else {
                    continue;
                };
                if !matches!(ch, ' ' | '\t') && *ch != src[f] {
                    mismatch(c, Some(&src[f]));
                }
            }
        }
    }

    // `locate` answers the first, middle and last columns of a mapped line, one past its end
    // included, and no more. (It reads the content from the start each time: only the first
    // lines are asked, so that checking stays linear.)
    for (i, text) in lines.iter().enumerate().take(LOCATED_LINES) {
        let line = i + 1;
        // As `locate` reads a line: one `\r` before the newline ends it.
        let len = text.strip_suffix('\r').unwrap_or(text).chars().count();
        for col in [
            None,
            Some(1),
            Some(len.div_ceil(2).max(1)),
            Some(len),
            Some(len + 1),
        ] {
            if col == Some(0) {
                continue;
            }
            match (out.locate(line, col), &map.lines[i]) {
                (Ok(found), Some(_)) => {
                    let pos = Pos::new(found.path, found.line, found.col);
                    let text = find_doc(docs, found.path)
                        .unwrap_or_else(|| panic!("{name}: locate({line}, {col:?}) gave {pos}"));
                    let n = doc_lines(text).len();
                    assert!(
                        found.line >= 1 && found.line <= n && found.col >= 1,
                        "{name}: locate({line}, {col:?}) gave {pos}"
                    );
                }
                (Err(tangle::output::LocateError::Generated { .. }), None) => {}
                (r, o) => panic!("{name}: locate({line}, {col:?}) = {r:?} for origin {o:?}"),
            }
        }
        assert!(
            out.locate(line, Some(len + 2)).is_err(),
            "{name}: locate({line}, {}) past the end answered",
            len + 2
        );
    }
    assert!(
        out.locate(lines.len() + 1, None).is_err(),
        "{name}: a line past the end located"
    );
}

/// [`check_output`] on an output of `chapters`, for tests of the checks themselves.
pub fn check_output_for_test(chapters: &[(PathBuf, String)], out: &Output) {
    let docs: Vec<(&Path, &str)> = chapters
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    check_output(&docs, out, Blanks::Copied);
}
