//! Reading Entangled's markers back: `tangle sync` on a book with the standard annotation.
//!
//! Every line of an annotated file between `~/~ begin <<doc#name>>[n]` and its `~/~ end`
//! belongs to that block (less the marker's indentation); a block nested in it stands in its
//! parent as the reference line `<<name>>` (the first block of a name) or not at all (the
//! name's later blocks, which the reference also brings). So the markers say, for every
//! edited line, which block it belongs to, wherever it was inserted, whatever the diff
//! between old and new would guess. Each block whose lines changed gets its new lines in its
//! document, indented as its fence is; nothing else in the document moves.
//!
//! The caller then checks the guarantee of every sync: the new documents tangle to exactly
//! the edited files. What Entangled's own stitch would drop or move (lines outside any block,
//! a line between a nested block's end and the next begin, which tangling puts after all of
//! that name's blocks) fails that check and is refused, with nothing written.

use super::{BlockInfo, Web};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tangle_core::diag::{Diagnostic, Diagnostics, Pos};

/// Which block a marker names: its document, name (as written) and count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    doc: PathBuf,
    name: String,
    count: String,
}

/// A block's lines as an annotated file holds them.
#[derive(Debug, Clone)]
struct Read {
    key: Key,
    lines: Vec<String>,
    /// The begin marker's line in the file (1-based).
    at: usize,
}

/// A begin marker: its indentation and what it names.
fn begin(line: &str) -> Option<(usize, Key)> {
    let at = line.find(" ~/~ begin <<")?;
    let indent = line.len() - line.trim_start().len();
    if indent > at {
        return None;
    }
    let rest = &line[at + " ~/~ begin <<".len()..];
    let (target, rest) = rest.split_once(">>[")?;
    let (doc, name) = target.split_once('#')?;
    let ok = |s: &str| !s.is_empty() && !s.contains(['#', '<', '>']);
    if !ok(doc) || !ok(name) {
        return None;
    }
    let count = &rest[..rest.find(']')?];
    if count != "init" && (count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    Some((
        indent,
        Key {
            doc: PathBuf::from(doc),
            name: name.to_string(),
            count: count.to_string(),
        },
    ))
}

/// An end marker's indentation.
fn end(line: &str) -> Option<usize> {
    let at = line.find(" ~/~ end")?;
    let indent = line.len() - line.trim_start().len();
    (indent <= at).then_some(indent)
}

/// The blocks in annotated file `path` holding `text`, innermost first.
fn read_file(path: &Path, text: &str) -> Result<Vec<Read>, Diagnostic> {
    struct Open {
        key: Key,
        indent: usize,
        lines: Vec<String>,
        at: usize,
        /// The last block that closed in this one, and a line of this one since (which
        /// tangling would move if the same name's next block follows).
        closed: Option<String>,
        loose: Option<usize>,
    }
    let mut stack: Vec<Open> = Vec::new();
    let mut out = Vec::new();
    let lines: Vec<&str> = text
        .strip_suffix('\n')
        .unwrap_or(text)
        .split('\n')
        .collect();
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        let here = |m: &str| Diagnostic::error(Pos::new(path, n, 1), m.to_string());
        if let Some((indent, key)) = begin(line) {
            if let Some(parent) = stack.last_mut() {
                if indent < parent.indent {
                    return Err(here(
                        "this begin marker is indented less than the block it is in",
                    ));
                }
                if let (Some(loose), Some(closed)) = (parent.loose, &parent.closed) {
                    if key.count != "init" && *closed == key.name {
                        return Err(Diagnostic::error(
                            Pos::new(path, loose, 1),
                            format!(
                                "this line stands between two blocks of «{closed}», which one reference \
                                 brings together: tangling would move it after them; put it inside one of them"
                            ),
                        ));
                    }
                }
                parent.closed = None;
                parent.loose = None;
            }
            stack.push(Open {
                key,
                indent,
                lines: Vec::new(),
                at: n,
                closed: None,
                loose: None,
            });
            continue;
        }
        if let Some(indent) = end(line) {
            let Some(open) = stack.pop() else {
                return Err(here("this end marker closes no block"));
            };
            if indent != open.indent {
                return Err(here(&format!(
                    "this end marker is not indented as its begin marker (line {})",
                    open.at
                )));
            }
            if let Some(parent) = stack.last_mut() {
                if open.key.count == "init" {
                    let extra = open.indent - parent.indent;
                    let name = match open.key.name.rsplit_once("::") {
                        Some((ns, n))
                            if parent.key.name.rsplit_once("::").map(|p| p.0) == Some(ns) =>
                        {
                            n
                        }
                        _ => open.key.name.as_str(),
                    };
                    parent
                        .lines
                        .push(format!("{}<<{name}>>", " ".repeat(extra)));
                }
                parent.closed = Some(open.key.name.clone());
                parent.loose = None;
            }
            out.push(Read {
                key: open.key,
                lines: open.lines,
                at: open.at,
            });
            continue;
        }
        if let Some(open) = stack.last_mut() {
            if open.closed.is_some() && open.loose.is_none() {
                open.loose = Some(n);
            }
            let Some(rest) = line.get(open.indent..).filter(|_| {
                line.as_bytes()[..open.indent.min(line.len())]
                    .iter()
                    .all(|b| b.is_ascii_whitespace())
            }) else {
                if line.trim().is_empty() {
                    open.lines.push(String::new());
                    continue;
                }
                return Err(here(&format!(
                    "this line is indented less than its block's begin marker (line {})",
                    open.at
                )));
            };
            open.lines.push(rest.to_string());
        }
    }
    if let Some(open) = stack.last() {
        return Err(Diagnostic::error(
            Pos::new(path, open.at, 1),
            "this begin marker has no end marker",
        ));
    }
    Ok(out)
}

/// The documents' new texts after carrying `edited` (annotated files by path) back: only
/// documents with a changed block are listed. `texts` are the documents' current texts.
pub fn plan(
    web: &Web,
    texts: &[(PathBuf, String)],
    edited: &BTreeMap<PathBuf, String>,
) -> Result<BTreeMap<PathBuf, String>, Diagnostics> {
    let index: BTreeMap<Key, usize> = web
        .block_info
        .iter()
        .enumerate()
        .map(|(k, b)| {
            (
                Key {
                    doc: web.doc_path(b.doc).to_path_buf(),
                    name: b.name.to_string(),
                    count: b.count.clone(),
                },
                k,
            )
        })
        .collect();
    let mut errors = Vec::new();
    // Block → its new lines, and where they were read.
    let mut new: BTreeMap<usize, (Vec<String>, Pos)> = BTreeMap::new();
    for (path, text) in edited {
        let reads = match read_file(path, text) {
            Ok(r) => r,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        for r in reads {
            let at = Pos::new(path, r.at, 1);
            let Some(&b) = index.get(&r.key) else {
                errors.push(Diagnostic::error(
                    at,
                    format!(
                        "this marker names block «{}»[{}] of {}, which the documents do not have",
                        r.key.name,
                        r.key.count,
                        r.key.doc.display()
                    ),
                ));
                continue;
            };
            match new.get(&b) {
                Some((lines, first)) if *lines != r.lines => errors.push(
                    Diagnostic::error(
                        at,
                        format!(
                            "this copy of «{}» is edited differently from another; make the copies alike",
                            r.key.name
                        ),
                    )
                    .with_note(first.clone(), "the other copy"),
                ),
                Some(_) => {}
                None => {
                    new.insert(b, (r.lines, at));
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let mut out = BTreeMap::new();
    for (doc, text) in texts {
        let changed: Vec<Changed<'_>> = new
            .iter()
            .filter(|(&b, _)| web.doc_path(web.block_info[b].doc) == doc.as_path())
            .map(|(&b, (lines, _))| {
                let source = web.source(b);
                Changed {
                    info: &web.block_info[b],
                    first: source.first().map(|(n, _)| *n),
                    old: source.into_iter().map(|(_, l)| l).collect(),
                    new: lines,
                }
            })
            .filter(|c| {
                c.old.len() != c.new.len() || c.old.iter().zip(c.new).any(|(a, b)| !same_line(a, b))
            })
            .collect();
        if changed.is_empty() {
            continue;
        }
        out.insert(doc.clone(), rewrite(text, &changed));
    }
    Ok(out)
}

/// A block whose lines an edited file changes: its lines now and as edited.
struct Changed<'w> {
    info: &'w BlockInfo,
    /// The document line of its first code line, if it has one.
    first: Option<usize>,
    old: Vec<&'w str>,
    new: &'w Vec<String>,
}

/// Whether a block's line reads back as `new`: the same, or the same reference line (tangling
/// drops spaces after a reference).
fn same_line(old: &str, new: &str) -> bool {
    old == new || (super::reference(old).is_some() && old.trim_end() == new)
}

/// `text` with each block's code lines replaced by its new lines, indented as its fence.
fn rewrite(text: &str, changed: &[Changed<'_>]) -> String {
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let normal = super::read::normalize_newlines(text);
    let ends_open = !normal.ends_with('\n');
    let mut lines: Vec<String> = normal.split('\n').map(str::to_string).collect();
    if !ends_open {
        lines.pop();
    }
    // From the last block up, so earlier line numbers stay right.
    let mut order: Vec<&Changed<'_>> = changed.iter().collect();
    order.sort_by_key(|c| std::cmp::Reverse(c.info.open_line));
    for c in order {
        let info = c.info;
        // The code lines run up to the closing fence; header and `#|` lines stay.
        let first = c.first.unwrap_or(info.close_line);
        let range = first - 1..info.close_line - 1;
        let indented = c.new.iter().enumerate().map(|(k, l)| {
            // A reference line keeps what tangling dropped (spaces after `>>`).
            if let Some(old) = c.old.get(k).filter(|old| same_line(old, l)) {
                format!("{}{old}", info.indent)
            } else if l.is_empty() {
                String::new()
            } else {
                format!("{}{l}", info.indent)
            }
        });
        lines.splice(range, indented);
    }
    let mut s = lines.join(eol);
    if !ends_open {
        s.push_str(eol);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        assert_eq!(
            begin("    // ~/~ begin <<docs/a.md#ns::x>>[init]"),
            Some((
                4,
                Key {
                    doc: "docs/a.md".into(),
                    name: "ns::x".into(),
                    count: "init".into()
                }
            ))
        );
        assert_eq!(
            begin("/* ~/~ begin <<a.md#x>>[12] */").unwrap().1.count,
            "12"
        );
        assert_eq!(begin("// ~/~ begin <<a.md#x>>[y]"), None);
        assert_eq!(end("  # ~/~ end"), Some(2));
        let r = read_file(
            Path::new("x.rs"),
            "// ~/~ begin <<a.md#x.rs>>[init]\nfn f() {\n    // ~/~ begin <<a.md#b>>[init]\n    a;\n\n    // ~/~ end\n    // ~/~ begin <<a.md#b>>[1]\n    b;\n    // ~/~ end\n}\n// ~/~ end\n",
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].lines, ["a;", ""]);
        assert_eq!(r[1].lines, ["b;"]);
        assert_eq!(r[2].lines, ["fn f() {", "    <<b>>", "}"]);
        let e = read_file(Path::new("x.rs"), "// ~/~ begin <<a.md#x>>[init]\nx\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("x.rs", 1, 1)));
    }
}
