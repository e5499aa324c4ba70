//! Span mapping: where a span of rustc's stands in the documents. A span in a tangled file is
//! taken through that output's line map to the chapter line, column and fragment it came
//! from; any other span stays where rustc put it. Nothing here knows how a diagnostic is laid
//! out (that is [`super::layout`]).

use super::message::span_text;
use crate::output::Output;
use crate::paths::normalize;
use cargo_metadata::diagnostic::DiagnosticSpan;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// Where a file named in a diagnostic stands with respect to the tangled outputs.
pub enum Found {
    /// Output `i`, and the line of the diagnostic matches what tangle produces.
    Output(usize),
    /// A tangled file whose contents on disk differ from what tangle produces.
    Stale(usize),
    NotTangled,
}

/// Which snippet a place is shown in: the file shown and the fragment (or a tag for places
/// that are not mapped).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SnippetKey {
    pub file: String,
    pub fragment: String,
}

/// One end of a span, resolved.
#[derive(Debug, Clone)]
pub struct Place {
    pub key: SnippetKey,
    /// The file shown: a chapter when mapped, otherwise the file rustc named.
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// The source line shown in the snippet.
    pub text: Option<String>,
    /// What follows the location in a `-->` line: the tangled place and fragment.
    pub suffix: String,
    /// Whether the place was taken into a document.
    pub mapped: bool,
}

/// Which end of a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Start,
    /// The end, exclusive.
    End,
}

/// The outputs, where they live, and the chapters' lines (read once, when first shown).
pub struct Places<'a> {
    root: PathBuf,
    /// `root` made absolute: as written and with symbolic links resolved.
    abs_roots: Vec<PathBuf>,
    pub outputs: &'a [Output],
    by_path: HashMap<PathBuf, usize>,
    lines: Vec<Vec<String>>,
    docs: RefCell<HashMap<PathBuf, Option<Rc<Vec<String>>>>>,
}

/// A text's lines without their line endings.
fn split_lines(text: &str) -> Vec<String> {
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l).to_string())
        .collect()
}

impl<'a> Places<'a> {
    /// `root` is the folder the outputs' paths are relative to (and where cargo runs).
    pub fn new(root: &Path, outputs: &'a [Output]) -> Places<'a> {
        let mut abs_roots = Vec::new();
        let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
        abs_roots.push(normalize(&abs));
        if let Ok(c) = root.canonicalize() {
            if !abs_roots.contains(&c) {
                abs_roots.push(c);
            }
        }
        Places {
            root: root.to_path_buf(),
            abs_roots,
            outputs,
            by_path: outputs
                .iter()
                .enumerate()
                .map(|(i, o)| (normalize(&o.path), i))
                .collect(),
            lines: outputs
                .iter()
                .map(|o| split_lines(&String::from_utf8_lossy(&o.content)))
                .collect(),
            docs: RefCell::new(HashMap::new()),
        }
    }

    /// Gives the text of a chapter instead of reading it from the root.
    pub fn set_document(&self, path: PathBuf, text: &str) {
        self.docs
            .borrow_mut()
            .insert(path, Some(Rc::new(split_lines(text))));
    }

    /// Which output a file named in a diagnostic is, trying it relative to the root, to the
    /// package's folder and to that folder's parents; the line's text (when rustc gives it)
    /// must match what tangle produces.
    pub fn find(
        &self,
        file: &str,
        package_dir: Option<&Path>,
        line: usize,
        text: Option<&str>,
    ) -> Found {
        let file = Path::new(file);
        let mut candidates = Vec::new();
        if file.is_absolute() {
            candidates.push(file.to_path_buf());
        } else {
            for r in &self.abs_roots {
                candidates.push(r.join(file));
            }
            if let Some(dir) = package_dir {
                candidates.extend(dir.ancestors().map(|d| d.join(file)));
            }
        }
        let mut stale = None;
        let mut tried = HashSet::new();
        for c in candidates {
            let c = normalize(&c);
            for r in &self.abs_roots {
                let Ok(rel) = c.strip_prefix(r) else { continue };
                let Some(&i) = self.by_path.get(rel) else {
                    continue;
                };
                if !tried.insert(i) {
                    continue;
                }
                let same = match text {
                    Some(t) => self.lines[i]
                        .get(line.wrapping_sub(1))
                        .is_some_and(|l| l == t),
                    None => true,
                };
                if same {
                    return Found::Output(i);
                }
                stale.get_or_insert(i);
            }
        }
        stale.map_or(Found::NotTangled, Found::Stale)
    }

    /// Line `line` (1-based) of the document at `path`, relative to the root.
    pub fn doc_line(&self, path: &Path, line: usize) -> Option<String> {
        let mut docs = self.docs.borrow_mut();
        let doc = docs.entry(path.to_path_buf()).or_insert_with(|| {
            let text = std::fs::read_to_string(self.root.join(path)).ok()?;
            Some(Rc::new(split_lines(&text)))
        });
        doc.as_ref()?.get(line.checked_sub(1)?).cloned()
    }

    /// One end of `span`, mapped when it is in a tangled file.
    pub fn resolve(&self, span: &DiagnosticSpan, end: End, package_dir: Option<&Path>) -> Place {
        let file = span.file_name.as_str();
        let is_end = end == End::End;
        let (line, col) = if is_end {
            (span.line_end, span.column_end)
        } else {
            (span.line_start, span.column_start)
        };
        // The end is exclusive: locate the span's last character (which may come from another
        // piece of the line than the character after it), then step past it.
        let inner_end = is_end && col > 1 && (span.line_start != line || col > span.column_start);
        let (probe, step) = if inner_end { (col - 1, 1) } else { (col, 0) };
        let text = span_text(span, is_end);
        let raw = |suffix: String, tag: &str| Place {
            key: SnippetKey {
                file: file.to_string(),
                fragment: tag.to_string(),
            },
            file: file.to_string(),
            line,
            col,
            text: text.map(str::to_string),
            suffix,
            mapped: false,
        };
        let Found::Output(i) = self.find(file, package_dir, line, text) else {
            return raw(String::new(), "");
        };
        let out = &self.outputs[i];
        let out_path = out.path.display().to_string();
        match out.map.locate(line, probe) {
            Some(at) => {
                let doc = at.path.display().to_string().replace('\\', "/");
                let place = if at.fragment == out_path || at.fragment.is_empty() {
                    format!("in `file={out_path}`")
                } else {
                    format!("in «{}»", at.fragment)
                };
                Place {
                    key: SnippetKey {
                        file: doc.clone(),
                        fragment: at.fragment.to_string(),
                    },
                    file: doc,
                    line: at.line,
                    col: at.col + step,
                    text: self.doc_line(at.path, at.line),
                    suffix: format!(" ({out_path}:{line}:{col}, {place})"),
                    mapped: true,
                }
            }
            None => raw(
                " (a line tangle generated: not in the document)".to_string(),
                "\0generated",
            ),
        }
    }
}
