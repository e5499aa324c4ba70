//! The Markdown pipeline: chapters in, complete outputs (with headers and line maps) out.

use crate::expand::{expand_root, expand_root_text};
use crate::model::{ChapterIndex, Web};
use crate::parse;
use std::path::{Path, PathBuf};
use tangle_core::diag::{Diagnostic, Diagnostics, Pos};
use tangle_core::output::{Output, Tangled, HEADER_MARK};
use tangle_core::paths::check_target;

/// A Markdown tangle together with the web it was tangled from: the mdBook preprocessor renders
/// the book from this same result, so the site and the files can never disagree.
#[derive(Debug, Clone)]
pub struct MarkdownTangle {
    pub web: Web,
    pub tangled: Tangled,
}

impl MarkdownTangle {
    /// The tangle, holding on to the web.
    fn into_tangled(self) -> Tangled {
        self.tangled.keeping(self.web)
    }
}

/// Tangles chapters given in book order as `(path, text)`. Paths are used in messages and
/// headers as given. Nothing is written: on error, nothing is produced at all.
pub fn tangle_chapters(
    chapters: &[(PathBuf, String)],
    labels: &str,
) -> Result<Tangled, Diagnostics> {
    tangle_markdown(chapters, labels).map(MarkdownTangle::into_tangled)
}

/// [`tangle_chapters`], keeping the web. Every error of the document is reported, each once at
/// its place: parse errors, then the web's (duplicate names, undefined references, bad
/// targets), then expansion's (cycles).
pub fn tangle_markdown(
    chapters: &[(PathBuf, String)],
    labels: &str,
) -> Result<MarkdownTangle, Diagnostics> {
    let mut parsed = Parsed::default();
    let numbered: Vec<(usize, &(PathBuf, String))> = chapters.iter().enumerate().collect();
    let bytes = chapters.iter().map(|(_, text)| text.len()).sum();
    for chapter in tangle_core::par::map(bytes, &numbered, |&(c, (path, text))| {
        read_chapter(c, path, text, labels)
    }) {
        parsed.add(chapter);
    }
    tangle_parsed(parsed, labels, Maps::Full)
}

/// Chapters read so far, and the problems found in them.
#[derive(Default)]
struct Parsed {
    chapters: Vec<parse::Chapter>,
    /// Each chapter's labels and references, found as it was read.
    indexes: Vec<ChapterIndex>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
}

impl Parsed {
    fn add(&mut self, chapter: Result<(parse::Chapter, ChapterIndex), Diagnostic>) {
        match chapter {
            Ok((mut ch, index)) => {
                self.warnings.append(&mut ch.warnings);
                self.chapters.push(ch);
                self.indexes.push(index);
            }
            Err(d) => self.errors.push(d),
        }
    }
}

/// Chapter `c` (`path`, with `text`) read, and its labels and references found.
fn read_chapter(
    c: usize,
    path: &Path,
    text: &str,
    labels: &str,
) -> Result<(parse::Chapter, ChapterIndex), Diagnostic> {
    let chapter = parse::parse(path, text)?;
    let index = ChapterIndex::new(c, &chapter, labels);
    Ok((chapter, index))
}

/// Whether outputs get their line maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Maps {
    /// Every output line's origin and pieces.
    Full,
    /// None: each output's map lists its documents and fragments, and no lines. For writing
    /// files, which needs the content only.
    Skip,
}

/// The web of parsed chapters, checked and expanded.
fn tangle_parsed(parsed: Parsed, labels: &str, maps: Maps) -> Result<MarkdownTangle, Diagnostics> {
    let Parsed {
        chapters,
        indexes,
        mut errors,
        mut warnings,
    } = parsed;
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let web = Web::indexed(chapters, labels, Some(indexes))?;
    errors.extend(web.undefined_references());
    for root in &web.roots {
        if let Err(why) = check_target(&root.path) {
            errors.push(Diagnostic::error(
                web.block(root.block).pos.clone(),
                format!("`file={}`: {why}", root.path.display()),
            ));
        }
    }
    if !errors.is_empty() {
        // The chapters' warnings first: a fence left open explains an undefined reference.
        return Err(Diagnostics(warnings.into_iter().chain(errors).collect()));
    }
    // Roots are independent: they are expanded on every core.
    let roots: Vec<usize> = (0..web.roots.len()).collect();
    let bytes = web.chapters.iter().map(|c| c.body_bytes()).sum();
    let expanded = tangle_core::par::map(bytes, &roots, |&i| {
        let root = &web.roots[i];
        let expanded = match maps {
            Maps::Full => expand_root(&web, i),
            Maps::Skip => expand_root_text(&web, i),
        };
        expanded.map(|ex| {
            with_header(
                &root.path,
                root.mode,
                web.block(root.block).pos.clone(),
                ex,
                maps,
            )
        })
    });
    let mut outputs = Vec::with_capacity(web.roots.len());
    for output in expanded {
        match output {
            Ok(output) => outputs.push(output),
            Err(d) => errors.push(d),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    warnings.extend(web.unused_fragments());
    Ok(MarkdownTangle {
        web,
        tangled: Tangled::new(outputs, warnings),
    })
}

/// Reads chapters given relative to `root` and tangles them. Messages name the chapters
/// relative to `root`.
pub fn tangle_files(
    root: &Path,
    chapters: &[PathBuf],
    labels: &str,
) -> Result<Tangled, Diagnostics> {
    tangle_files_as(root, chapters, labels, Maps::Full)
}

/// [`tangle_files`], with line maps or without.
pub fn tangle_files_as(
    root: &Path,
    chapters: &[PathBuf],
    labels: &str,
    maps: Maps,
) -> Result<Tangled, Diagnostics> {
    // Each chapter is parsed as soon as it is read, and its text let go: only the blocks stay.
    // Chapters are independent: they are read and parsed on every core.
    let numbered: Vec<(usize, &PathBuf)> = chapters.iter().enumerate().collect();
    // The chapters' sizes, to know whether reading them is worth a second thread.
    let bytes = chapters
        .iter()
        .map(|rel| std::fs::metadata(root.join(rel)).map_or(0, |m| m.len() as usize))
        .sum();
    let read = tangle_core::par::map(bytes, &numbered, |&(c, rel)| {
        tangle_core::source::read(&root.join(rel))
            .map(|text| read_chapter(c, rel, &text, labels))
            .map_err(|mut d| {
                d.set_path(rel);
                d
            })
    });
    let mut parsed = Parsed::default();
    for chapter in read {
        match chapter {
            Ok(chapter) => parsed.add(chapter),
            Err(d) => parsed.errors.push(d),
        }
    }
    tangle_parsed(parsed, labels, maps).map(MarkdownTangle::into_tangled)
}

/// Tangles the book whose `book.toml` is in `root`, in `SUMMARY.md` order.
pub fn tangle_book(root: &Path) -> Result<Tangled, Diagnostics> {
    let book = crate::book::Book::load(root)?;
    tangle_files(root, &book.chapters, &book.labels)
}

/// Line comment markers by file extension: (start, end).
fn comment_syntax(path: &Path) -> Option<(&'static str, &'static str)> {
    let ext = path.extension()?.to_str()?;
    Some(match ext {
        "rs" | "c" | "h" | "cc" | "cpp" | "hpp" | "go" | "java" | "js" | "ts" | "kt" | "swift"
        | "scala" | "zig" => ("// ", ""),
        "py" | "sh" | "bash" | "toml" | "yaml" | "yml" | "rb" | "pl" | "r" | "mk" | "cmake"
        | "nix" => ("# ", ""),
        "el" | "lisp" | "scm" | "clj" => (";; ", ""),
        "sql" | "lua" | "hs" | "ada" => ("-- ", ""),
        "html" | "xml" | "md" | "svg" => ("<!-- ", " -->"),
        "css" => ("/* ", " */"),
        _ => return None,
    })
}

/// Whether `text` starts with a line that must stay first: a `#!` interpreter line (not a
/// Rust inner attribute `#![...]`), or an XML declaration `<?xml ...?>`. The header goes
/// after it.
fn first_line_kept(text: &str) -> bool {
    (text.starts_with("#!") && !text.starts_with("#![")) || text.starts_with("<?xml")
}

/// The header's text (one line, with its newline) for a file tangled from `sources`, in the
/// comment syntax `open`, `close`.
pub fn header_line(open: &str, close: &str, sources: &[String]) -> String {
    format!(
        "{open}{HEADER_MARK}{}: change the chapter{} and run `tangle`, or edit this file and \
         carry the edits back with `tangle sync`.{close}\n",
        sources.join(", "),
        if sources.len() == 1 { "" } else { "s" }
    )
}

fn with_header(
    path: &Path,
    mode: u32,
    block: Pos,
    ex: crate::expand::Expansion,
    maps: Maps,
) -> Output {
    // The header goes into the text in its own buffer (no second copy of the text): on line 1,
    // or on line 2 after a line that must stay first (see `first_line_kept`).
    let mut content = ex.text;
    let mut map = ex.map;
    let kept = first_line_kept(&content);
    // A script with no extension is commented as its `#!` line's shell is.
    let syntax =
        comment_syntax(path).or_else(|| (kept && content.starts_with("#!")).then_some(("# ", "")));
    if let Some((open, close)) = syntax {
        let sources: Vec<String> = map
            .files
            .iter()
            .map(|p| p.display().to_string().replace('\\', "/"))
            .collect();
        let (at, line) = match content.find('\n') {
            Some(nl) if kept => (nl + 1, 1),
            // A kept first line that is the whole text: the header follows it on a line of its own.
            None if kept => {
                content.push('\n');
                (content.len(), 1)
            }
            _ => (0, 0),
        };
        content.insert_str(at, &header_line(open, close, &sources));
        if maps == Maps::Full {
            map.lines.insert(line.min(map.lines.len()), None);
            for s in &mut map.segments {
                if s.line as usize >= line {
                    s.line += 1;
                }
            }
        }
    }
    Output {
        path: path.to_path_buf(),
        content: content.into_bytes(),
        mode,
        folders: tangle_core::output::Folders::Make,
        block,
        map,
    }
}

/// Takes the header out of an output made by this pipeline (`[preprocessor.tangle] header =
/// false`): its line and its place in the line map.
pub fn drop_header(output: &mut Output) {
    let text = String::from_utf8_lossy(&output.content);
    let mut start = 0;
    for (i, line) in text.split_inclusive('\n').take(2).enumerate() {
        if line.contains(HEADER_MARK) {
            let end = start + line.len();
            output.content.drain(start..end);
            if output.map.lines.get(i) == Some(&None) {
                output.map.lines.remove(i);
                output.map.segments.retain(|s| s.line as usize != i);
                for s in &mut output.map.segments {
                    if s.line as usize > i {
                        s.line -= 1;
                    }
                }
            }
            return;
        }
        start += line.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines from block quotes and list items map back to their document columns, whatever
    /// prefix each line had.
    #[test]
    fn columns_map_through_container_prefixes() {
        let text = "> ```rust file=q.rs\n> fn f() {\n>    <<body>>\n>}\n> ```\n\n- item\n\n\t```rust name=body\n\tlet x = 1;\n\t  <<gone>>\n\t```\n";
        let chapters = [(PathBuf::from("c.md"), text.to_string())];
        let err = tangle_chapters(&chapters, "(ref:%s)").unwrap_err();
        // `<<gone>>` stands after a tab and two spaces: character column 4.
        assert_eq!(err.0[0].pos, Some(Pos::new("c.md", 11, 4)));
        let fixed = text.replace("<<gone>>", "x + 1");
        let t = tangle_chapters(&[(PathBuf::from("c.md"), fixed)], "(ref:%s)").unwrap();
        let out = &t.outputs[0];
        let body = String::from_utf8(out.content.clone()).unwrap();
        assert_eq!(
            body.lines().skip(1).collect::<Vec<_>>(),
            vec!["fn f() {", "   let x = 1;", "     x + 1", "}"]
        );
        // Output line 3 (after the header), column 4 is `let`, at line 10 column 2.
        let at = out.map.locate(3, 4).unwrap();
        assert_eq!((at.line, at.col, at.fragment), (10, 2, "body"));
        let at = out.map.locate(4, 6).unwrap();
        assert_eq!((at.line, at.col), (11, 4));
        // `}` comes after a `>` without a space: column 2.
        let at = out.map.locate(5, 1).unwrap();
        assert_eq!((at.line, at.col), (4, 2));
    }
}
