//! The Markdown reader: finds fenced code blocks (CommonMark fences, also inside list items)
//! and reads the tangle attributes from their info strings.
//!
//! An info string starts with the language and may carry, separated by spaces or commas:
//!
//! - `name=NAME` (or `name="a name with spaces"`) defines a fragment;
//! - `name+=NAME` continues a fragment defined earlier;
//! - `file=PATH` makes the block a root tangled to `PATH`, with an optional `mode=0444`;
//! - `labels=FORMAT` overrides the coderef label format (org's `-l`, e.g. `"[{(<%s>)}]"`).
//!
//! Any other block is an illustration and is never tangled.

use crate::diag::{Diagnostic, Pos};
use std::path::{Path, PathBuf};

/// What a code block contributes to the web.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockKind {
    /// `name=NAME` (first definition) or `name+=NAME` (continuation).
    Fragment { name: String, append: bool },
    /// `file=PATH`: a root tangled to `path`, with its permission bits.
    Root { path: PathBuf, mode: Option<u32> },
    /// Not tangled.
    Illustration,
}

/// One fenced code block of a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    /// The language (first word of the info string), possibly empty.
    pub lang: String,
    /// The whole info string as written.
    pub info: String,
    /// Position of the opening fence.
    pub pos: Pos,
    /// Line of the first body line (1-based); body line `i` is at `body_line + i`.
    pub body_line: usize,
    /// Line of the closing fence.
    pub end_line: usize,
    /// Columns of indentation removed from each body line (the fence's indentation).
    pub indent: usize,
    /// Body lines without line endings, indentation removed, coderef labels kept.
    pub lines: Vec<String>,
    /// Coderef label format for this block, if the info string sets one.
    pub labels: Option<String>,
}

/// A chapter: its path (as given, for messages) and its code blocks in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    pub path: PathBuf,
    pub blocks: Vec<Block>,
    /// Things that are probably mistakes but not errors (a tangle fence that Markdown reads
    /// as indented code, for instance).
    pub warnings: Vec<Diagnostic>,
}

/// An opening fence: its character, length and indentation.
struct Fence {
    ch: char,
    len: usize,
    indent: usize,
}

/// Reads `text` (the contents of `path`) into a chapter. Errors: an unterminated fence,
/// a malformed attribute.
pub fn parse(path: &Path, text: &str) -> Result<Chapter, Diagnostic> {
    let mut blocks = Vec::new();
    let mut warnings = Vec::new();
    // Content columns of the list items that enclose the current line, innermost last.
    let mut lists: Vec<usize> = Vec::new();
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let indent = leading_spaces(line);
        if line.trim().is_empty() {
            continue;
        }
        // Track list items so that fences indented under them are recognised: a line ends
        // every item whose content starts right of it.
        let item = list_item_content(line);
        while lists.last().is_some_and(|&c| c > indent) {
            lists.pop();
        }
        let allowed = lists.last().copied().unwrap_or(0) + 3;
        if let Some(content) = item {
            lists.push(content);
        }
        let Some(fence) = opening_fence(line) else {
            continue;
        };
        if fence.indent > allowed {
            let info = &line[fence.indent + fence.len..];
            if info.contains("name=") || info.contains("name+=") || info.contains("file=") {
                warnings.push(Diagnostic::warning(
                    Pos::new(path, i + 1, fence.indent + 1),
                    "this fence is indented too far: Markdown reads it as indented code, so it is not tangled",
                ));
            }
            continue;
        }
        let info = line[fence.indent + fence.len..].trim();
        if fence.ch == '`' && info.contains('`') {
            continue; // not a fence: CommonMark forbids backticks in a backtick fence's info
        }
        let pos = Pos::new(path, i + 1, fence.indent + 1);
        let (lang, kind, labels) = parse_info(info, &pos)?;
        let mut body = Vec::new();
        let mut end_line = None;
        for (j, raw) in lines.by_ref() {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if is_closing_fence(line, &fence) {
                end_line = Some(j + 1);
                break;
            }
            body.push(strip_indent(line, fence.indent).to_string());
        }
        let Some(end_line) = end_line else {
            return Err(Diagnostic::error(
                pos,
                format!(
                    "unterminated code block: no closing `{}` fence before the end of the file",
                    fence.ch.to_string().repeat(fence.len)
                ),
            ));
        };
        blocks.push(Block {
            kind,
            lang,
            info: info.to_string(),
            pos,
            body_line: i + 2,
            end_line,
            indent: fence.indent,
            lines: body,
            labels,
        });
    }
    Ok(Chapter {
        path: path.to_path_buf(),
        blocks,
        warnings,
    })
}

fn leading_spaces(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// The content column of a list item line (`- x`, `* x`, `+ x`, `1. x`, `1) x`), if it is one.
fn list_item_content(line: &str) -> Option<usize> {
    let indent = leading_spaces(line);
    let rest = &line[indent..];
    let marker = if rest.starts_with(['-', '*', '+']) {
        1
    } else {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 || !rest[digits..].starts_with(['.', ')']) {
            return None;
        }
        digits + 1
    };
    let after = &rest[marker..];
    let gap = after.len() - after.trim_start_matches(' ').len();
    if gap == 0 && !after.is_empty() {
        return None;
    }
    // A marker followed by 5+ spaces starts indented code: content begins one space in.
    let gap = if (1..=4).contains(&gap) { gap } else { 1 };
    Some(indent + marker + gap)
}

fn opening_fence(line: &str) -> Option<Fence> {
    let indent = leading_spaces(line);
    let rest = &line[indent..];
    let ch = rest.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = rest.chars().take_while(|c| *c == ch).count();
    (len >= 3).then_some(Fence { ch, len, indent })
}

fn is_closing_fence(line: &str, open: &Fence) -> bool {
    let indent = leading_spaces(line);
    let rest = &line[indent..];
    let len = rest.chars().take_while(|c| *c == open.ch).count();
    len >= open.len && rest[len..].trim().is_empty() && indent <= open.indent + 3
}

/// Removes up to `n` leading spaces, as CommonMark does for the lines of an indented fence.
fn strip_indent(line: &str, n: usize) -> &str {
    let k = leading_spaces(line).min(n);
    &line[k..]
}

/// Splits an info string into words separated by spaces or commas; double quotes group.
fn words(info: &str, pos: &Pos) -> Result<Vec<String>, Diagnostic> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = info.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => cur.extend(chars.next()),
            ' ' | '\t' | ',' if !in_quotes => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if in_quotes {
        return Err(Diagnostic::error(
            pos.clone(),
            format!("unterminated quote in code block attributes `{info}`"),
        ));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    Ok(out)
}

type Info = (String, BlockKind, Option<String>);

fn parse_info(info: &str, pos: &Pos) -> Result<Info, Diagnostic> {
    let words = words(info, pos)?;
    let mut iter = words.iter().peekable();
    let lang = match iter.peek() {
        Some(w) if !w.contains('=') => iter.next().cloned().unwrap_or_default(),
        _ => String::new(),
    };
    let err = |m: String| Err(Diagnostic::error(pos.clone(), m));
    let (mut name, mut file, mut mode, mut labels) = (None, None, None, None);
    for w in iter {
        let Some((key, value)) = w.split_once('=') else {
            continue; // mdBook's own flags (ignore, noplayground, ...) pass through
        };
        match key {
            "name" | "name+" if name.is_some() => {
                return err(format!("`{w}`: a block has at most one name"))
            }
            "name" | "name+" if value.trim().is_empty() => return err("empty fragment name".into()),
            "name" => name = Some((value.to_string(), false)),
            "name+" => name = Some((value.to_string(), true)),
            "file" if value.is_empty() => return err("empty file path in `file=`".into()),
            "file" => file = Some(PathBuf::from(value)),
            "mode" => match u32::from_str_radix(value.trim_start_matches("0o"), 8) {
                Ok(m) if m <= 0o7777 => mode = Some(m),
                _ => {
                    return err(format!(
                        "`mode={value}`: expected an octal mode such as 0444"
                    ))
                }
            },
            "labels" if !value.contains("%s") => {
                return err(format!("`labels={value}`: the format must contain %s"))
            }
            "labels" => labels = Some(value.to_string()),
            _ => {
                return err(format!(
                    "unknown code block attribute `{key}` (known: name, name+, file, mode, labels)"
                ))
            }
        }
    }
    let kind = match (name, file) {
        (Some(_), Some(_)) => {
            return err(
                "a block is either a fragment (`name=`) or a file root (`file=`), not both".into(),
            )
        }
        (Some((name, append)), None) => BlockKind::Fragment { name, append },
        (None, Some(path)) => BlockKind::Root { path, mode },
        (None, None) if mode.is_some() => return err("`mode=` needs `file=`".into()),
        (None, None) => BlockKind::Illustration,
    };
    Ok((lang, kind, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(text: &str) -> Vec<Block> {
        parse(Path::new("ch.md"), text).unwrap().blocks
    }

    #[test]
    fn fences_of_both_kinds_and_lengths() {
        let b = blocks(
            "x\n```rust name=a\none\n```\n~~~~ rust file=src/x.rs mode=0644\n```\ntwo\n~~~~\n",
        );
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[0].kind,
            BlockKind::Fragment {
                name: "a".into(),
                append: false
            }
        );
        assert_eq!(b[0].lines, vec!["one"]);
        assert_eq!(b[0].body_line, 3);
        assert_eq!(
            b[1].kind,
            BlockKind::Root {
                path: "src/x.rs".into(),
                mode: Some(0o644)
            }
        );
        assert_eq!(b[1].lines, vec!["```", "two"]);
    }

    #[test]
    fn crlf_and_no_final_newline() {
        let b = blocks("```rust,name=\"a b\"\r\nx\r\n```");
        assert_eq!(
            b[0].kind,
            BlockKind::Fragment {
                name: "a b".into(),
                append: false
            }
        );
        assert_eq!(b[0].lines, vec!["x"]);
    }

    #[test]
    fn fence_inside_list_item() {
        let b = blocks("1. step\n\n    ```rust name+=a\n    let x = 1;\n      y\n    ```\n");
        assert_eq!(
            b[0].kind,
            BlockKind::Fragment {
                name: "a".into(),
                append: true
            }
        );
        assert_eq!(b[0].indent, 4);
        assert_eq!(b[0].lines, vec!["let x = 1;", "  y"]);
        assert_eq!(b[0].pos.col, 5);
    }

    #[test]
    fn indented_code_is_not_a_fence() {
        let ch = parse(Path::new("c.md"), "para\n\n        ```rust name=a\n").unwrap();
        assert!(ch.blocks.is_empty());
        assert_eq!(
            ch.warnings.len(),
            1,
            "a tangle fence read as indented code is worth a warning"
        );
        assert_eq!(ch.warnings[0].pos, Pos::new("c.md", 3, 9));
    }

    #[test]
    fn nested_lists_end_where_their_content_ends() {
        let text = "- outer\n  - inner\n\n      ```rust name=deep\n      x\n      ```\n  back in outer\n\n     ```rust name=outer\n     y\n     ```\n";
        let b = blocks(text);
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!(b[0].lines, vec!["x"]);
        assert_eq!(
            (b[1].indent, b[1].lines.clone()),
            (5, vec!["y".to_string()])
        );
    }

    #[test]
    fn unterminated_fence_is_an_error_at_the_fence() {
        let e = parse(Path::new("ch.md"), "a\n\n  ```rust name=x\nbody\n").unwrap_err();
        assert_eq!(e.pos, Pos::new("ch.md", 3, 3));
        assert!(e.message.contains("unterminated"), "{e}");
    }

    #[test]
    fn bad_attributes_are_errors() {
        for info in [
            "name=a file=b",
            "mode=9",
            "mode=0644",
            "colour=red",
            "name=\"x",
            "labels=x",
        ] {
            let text = format!("```rust {info}\n```\n");
            assert!(parse(Path::new("c.md"), &text).is_err(), "{info}");
        }
    }

    #[test]
    fn mdbook_flags_pass_through() {
        let b = blocks("```rust,ignore\nx\n```\n");
        assert_eq!(b[0].kind, BlockKind::Illustration);
        assert_eq!(b[0].lang, "rust");
    }
}

/// Finds a coderef label at the end of `line` in format `fmt` (`%s` stands for the label, as
/// in org's `-l` switch). Returns the byte length of the line without the label and the
/// whitespace before it, and the label.
pub fn find_label<'a>(line: &'a str, fmt: &str) -> Option<(usize, &'a str)> {
    let (before, after) = fmt.split_once("%s")?;
    let body = line.trim_end_matches([' ', '\t']);
    let body = body.strip_suffix(after)?;
    let open = body.rfind(before)?;
    let label = &body[open + before.len()..];
    let valid = label.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ' '));
    if !valid {
        return None;
    }
    let keep = line[..open].trim_end_matches([' ', '\t']).len();
    Some((keep, label))
}

/// Removes coderef labels from the bodies of tangled blocks (illustrations keep theirs).
pub fn strip_labels(chapter: &mut Chapter, default_fmt: &str) {
    for block in &mut chapter.blocks {
        if block.kind == BlockKind::Illustration {
            continue;
        }
        let fmt = block
            .labels
            .clone()
            .unwrap_or_else(|| default_fmt.to_string());
        for line in &mut block.lines {
            if let Some((keep, _)) = find_label(line, &fmt) {
                line.truncate(keep);
            }
        }
    }
}

#[cfg(test)]
mod label_tests {
    use super::find_label;

    #[test]
    fn org_style_labels() {
        assert_eq!(
            find_label("let x = 1; (ref:one)", "(ref:%s)"),
            Some((10, "one"))
        );
        assert_eq!(
            find_label("a  [{(<my label>)}]  ", "[{(<%s>)}]"),
            Some((1, "my label"))
        );
        assert_eq!(find_label("f(x) (ref:)", "(ref:%s)"), None);
        assert_eq!(find_label("no label", "(ref:%s)"), None);
    }
}
