//! A chapter's figures: each figure block read, numbered and drawn, and put in place of its
//! block's lines; a byte figure's bytes from the checked dump above it.

use super::{html, parse, unescape, Kind, LANG};
use crate::diag::{Diagnostic, Pos};
use crate::markdown::parse::{Block, BlockKind};
use std::collections::HashMap;
use std::path::Path;

/// The figures of a chapter, for the preprocessor: for each line (0-based) of the chapter's
/// text that a figure block covers, what stands there instead (the figure's HTML on the
/// opening fence's line, after the block's container prefix; the other lines empty but for
/// their container markers). `number` is the chapter's (`7`); figures are `7.1`, `7.2`, ...
pub fn chapter_figures(
    blocks: &[Block],
    lines: &[&str],
    number: Option<&str>,
    source: &Path,
) -> (HashMap<usize, String>, Vec<Diagnostic>) {
    let mut out = HashMap::new();
    let mut errors = Vec::new();
    let mut k = 0;
    for (b, block) in blocks.iter().enumerate() {
        if block.lang != LANG || block.kind != BlockKind::Illustration {
            continue;
        }
        k += 1;
        let body: Vec<&str> = block.lines().collect();
        let err =
            |i: usize, m: String| Diagnostic::error(Pos::new(source, block.body_line + i, 1), m);
        let spec = match parse(&body) {
            Ok(spec) => spec,
            Err((i, m)) => {
                errors.push(err(i, m));
                continue;
            }
        };
        let file = match &spec.kind {
            Kind::Svg(src) => {
                let path = source.parent().unwrap_or(Path::new("")).join(src);
                match std::fs::read_to_string(&path) {
                    Ok(text) => Some(text),
                    Err(e) => {
                        errors.push(err(0, format!("cannot read {}: {e}", path.display())));
                        continue;
                    }
                }
            }
            _ => None,
        };
        let bytes = match spec.kind {
            Kind::Drawing | Kind::Svg(_) => None,
            Kind::Bytes => match checked_dump(blocks, b, lines) {
                Ok(bytes) => Some(bytes),
                Err(m) => {
                    errors.push(err(0, m));
                    continue;
                }
            },
        };
        let anchor = format!(
            "fig:{}",
            spec.id.clone().unwrap_or_else(|| slug(&spec.caption))
        );
        let number = match number {
            Some(n) => format!("{n}.{k}"),
            None => k.to_string(),
        };
        match html(&spec, &anchor, &number, bytes.as_deref(), file.as_deref()) {
            Ok(html) => {
                let cont: String = block
                    .prefix
                    .chars()
                    .map(|c| {
                        if matches!(c, '>' | ' ' | '\t') {
                            c
                        } else {
                            ' '
                        }
                    })
                    .collect();
                let blank = cont.trim_end().to_string();
                out.insert(block.pos.line - 1, format!("{}{html}", block.prefix));
                for line in block.pos.line..block.end_line {
                    out.insert(line, blank.clone());
                }
            }
            Err(m) => errors.push(err(0, m)),
        }
    }
    (out, errors)
}

/// The bytes of the dump right above figure block `b`: a `text` block of escaped bytes with a
/// `<!-- check: frame NAME -->` marker on the line before it (so a test compares it with what
/// the programs send). Hex dump lines, which repeat the same bytes, are left out.
fn checked_dump(blocks: &[Block], b: usize, lines: &[&str]) -> Result<Vec<u8>, String> {
    let above = b
        .checked_sub(1)
        .map(|a| &blocks[a])
        .filter(|a| a.lang == "text")
        .ok_or("a byte figure draws the `text` byte dump right above it, and there is none")?;
    let marker = above
        .pos
        .line
        .checked_sub(2)
        .and_then(|l| lines.get(l))
        .map(|l| l.trim())
        .unwrap_or_default();
    if !marker.starts_with("<!-- check: frame ") {
        return Err(
            "the byte dump above a byte figure must be checked by a test: `<!-- check: frame NAME -->` on the line before it"
                .into(),
        );
    }
    let mut bytes = Vec::new();
    for line in above.lines() {
        if line
            .split_whitespace()
            .all(|w| w.len() == 2 && u8::from_str_radix(w, 16).is_ok())
        {
            continue;
        }
        bytes.extend(unescape(line)?);
    }
    Ok(bytes)
}

/// An id-safe slug of the caption's first words, for a figure without `id:`.
pub fn slug(text: &str) -> String {
    let mut s = String::new();
    for ch in text.chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            s.push(ch);
        } else if !s.ends_with('-') {
            s.push('-');
        }
        if s.len() >= 40 {
            break;
        }
    }
    s.trim_matches('-').to_string()
}
