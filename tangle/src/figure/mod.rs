//! Figures: ```` ```figure ```` blocks of a chapter, drawn as inline SVG by the mdBook
//! preprocessor ([`crate::mdbook`]) at build time, with no script and no network.
//!
//! A figure block starts with header lines, then `---`, then what it draws:
//!
//! ````text
//! ```figure
//! id: connection-life
//! caption: The connection's life.
//! alt: A state machine: Reading goes to Writing when a request is complete, ...
//! ---
//! ┌─────────┐ request complete ┌─────────┐
//! │ Reading ├─────────────────▶│ Writing │
//! └─────────┘                  └─────────┘
//! ```
//! ````
//!
//! - `caption:` (required) is shown under the figure, numbered (`Figure 7.1`);
//! - `alt:` (required, may be repeated to continue) is the text alternative: the SVG's
//!   `<desc>`, read by screen readers in place of the drawing;
//! - `id:` gives the anchor (`fig:ID`), else the caption's first words do;
//! - `kind: drawing` (the default) draws the body: box-drawing characters (`─│┌┐└┘├┤┬┴┼`,
//!   rounded `╭╮╰╯`, dashed `┄┆`) become lines, `▶◀▲▼` arrowheads, the rest text, each
//!   character in its cell, so the drawing in the chapter reads as it is drawn;
//! - `kind: bytes` draws a byte layout of the frame in the block right above the figure,
//!   which must be a byte dump checked by a test (`<!-- check: frame NAME -->` before it,
//!   `tests/book_examples.rs`): protoheader, JSON header and content, each byte in a cell.
//!   The figure has no body: it is drawn from those checked bytes, never from a copy.

use crate::diag::{Diagnostic, Pos};
use crate::markdown::parse::{Block, BlockKind};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// The info string's language that makes a block a figure.
pub const LANG: &str = "figure";

/// Cell width and height of a drawing, in SVG pixels.
const CW: f64 = 8.0;
const CH: f64 = 18.0;

/// What a figure draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Drawing,
    Bytes,
    /// An SVG file beside the chapter (`src:`), such as a chart a script draws from a
    /// benchmark's results, inlined so that the theme's colours apply to it.
    Svg(String),
}

/// A figure block, read.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: Option<String>,
    pub caption: String,
    pub alt: String,
    pub kind: Kind,
    pub body: Vec<String>,
}

/// Reads a figure block's lines. Errors are messages about the block's own lines; `Err((i,
/// message))` names the body line `i` (0-based) at fault.
pub fn parse<S: AsRef<str>>(lines: &[S]) -> Result<Spec, (usize, String)> {
    let mut spec = Spec {
        id: None,
        caption: String::new(),
        alt: String::new(),
        kind: Kind::Drawing,
        body: Vec::new(),
    };
    let mut body_at = None;
    for (i, line) in lines.iter().enumerate() {
        let line = line.as_ref();
        if line.trim() == "---" {
            body_at = Some(i + 1);
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err((
                i,
                format!("a figure's header line is `key: value` (caption, alt, id, kind), then `---`; got `{line}`"),
            ));
        };
        let value = value.trim();
        match key.trim() {
            "caption" => spec.caption = value.to_string(),
            "alt" => {
                if !spec.alt.is_empty() {
                    spec.alt.push(' ');
                }
                spec.alt.push_str(value);
            }
            "id" => spec.id = Some(value.to_string()),
            "src" => spec.kind = Kind::Svg(value.to_string()),
            "kind" => {
                spec.kind = match value {
                    "drawing" => Kind::Drawing,
                    "bytes" => Kind::Bytes,
                    "svg" => match &spec.kind {
                        Kind::Svg(_) => continue,
                        _ => return Err((i, "`kind: svg` needs `src: FILE.svg` first".into())),
                    },
                    other => {
                        return Err((
                            i,
                            format!("unknown figure kind `{other}` (known: drawing, bytes, svg)"),
                        ))
                    }
                }
            }
            other => {
                return Err((
                    i,
                    format!("unknown figure header `{other}` (known: caption, alt, id, kind, src)"),
                ))
            }
        }
    }
    if spec.caption.is_empty() {
        return Err((0, "a figure needs a `caption:` line".into()));
    }
    if spec.alt.is_empty() {
        return Err((
            0,
            "a figure needs an `alt:` line, its text alternative".into(),
        ));
    }
    match (body_at, &spec.kind) {
        (Some(at), _) => spec.body = lines[at..].iter().map(|l| l.as_ref().to_string()).collect(),
        (None, Kind::Drawing) => {
            return Err((
                lines.len().saturating_sub(1),
                "a drawing needs `---` and the drawing below its header".into(),
            ))
        }
        (None, Kind::Bytes | Kind::Svg(_)) => {}
    }
    while spec.body.last().is_some_and(|l| l.trim().is_empty()) {
        spec.body.pop();
    }
    if spec.kind == Kind::Bytes && !spec.body.is_empty() {
        return Err((
            at_least(body_at),
            "a byte figure has no body: it draws the checked dump right above it".into(),
        ));
    }
    if matches!(spec.kind, Kind::Svg(_)) && !spec.body.is_empty() {
        return Err((
            at_least(body_at),
            "a figure with `src:` has no body: it shows that file".into(),
        ));
    }
    Ok(spec)
}

fn at_least(n: Option<usize>) -> usize {
    n.unwrap_or(0)
}

/// The figure as one line of HTML (a `<figure>` holding an inline SVG and its caption), to
/// stand in the chapter's Markdown as one HTML block. `number` is shown before the caption
/// (`7.1`); `bytes` are the dump above the figure, for `kind: bytes`.
pub fn html(
    spec: &Spec,
    anchor: &str,
    number: &str,
    bytes: Option<&[u8]>,
    file: Option<&str>,
) -> Result<String, String> {
    let text = Text {
        title: &spec.caption,
        desc: &spec.alt,
        id: anchor,
    };
    let svg = match &spec.kind {
        Kind::Drawing => drawing_svg(&spec.body, text),
        Kind::Bytes => {
            let bytes = bytes.ok_or("a byte figure must follow a byte dump checked by a test (`<!-- check: frame NAME -->` before it)")?;
            bytes_svg(bytes, text)?
        }
        Kind::Svg(src) => inline_svg(file.ok_or(format!("no SVG read from `{src}`"))?, text)?,
    };
    Ok(format!(
        r##"<figure class="tangle-figure" id="{}">{svg}<figcaption><a class="tangle-fig-number" href="#{}">Figure {}</a> {}</figcaption></figure>"##,
        esc(anchor),
        esc(anchor),
        esc(number),
        inline_code(&spec.caption)
    ))
}

/// A figure's text: its accessible name (the caption), its description (the text
/// alternative), and the id its SVG's `<title>` and `<desc>` are named after.
#[derive(Debug, Clone, Copy)]
pub struct Text<'a> {
    pub title: &'a str,
    pub desc: &'a str,
    pub id: &'a str,
}

/// The opening of an SVG with its accessible name and description.
fn svg_open(out: &mut String, class: &str, w: f64, h: f64, text: Text) {
    let (title_id, desc_id) = (format!("{}-title", text.id), format!("{}-desc", text.id));
    let (title_id, desc_id, title, desc) = (&title_id, &desc_id, text.title, text.desc);
    write!(
        out,
        r#"<svg class="{class}" xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-labelledby="{}" aria-describedby="{}"><title id="{}">{}</title><desc id="{}">{}</desc>"#,
        esc(title_id),
        esc(desc_id),
        esc(title_id),
        esc(&strip_ticks(title)),
        esc(desc_id),
        esc(&strip_ticks(desc)),
    )
    .ok();
}

/// An SVG file's drawing, inline: without an XML declaration or comments before it, its
/// `<svg>` given the figure's role, name and description.
pub fn inline_svg(file: &str, text: Text) -> Result<String, String> {
    let start = file
        .find("<svg")
        .ok_or("the file holds no `<svg` element")?;
    let body = &file[start..];
    let open_end = body.find('>').ok_or("the `<svg` element is not closed")?;
    let mut open = String::new();
    svg_open(&mut open, "tangle-file-svg", 0.0, 0.0, text);
    // The accessible attributes and the <title>/<desc> that svg_open writes, after the file's
    // own opening tag (less its `>`), whose viewBox and size are kept.
    let attrs_at = open.find(" role=").unwrap_or(0);
    let attrs = &open[attrs_at..];
    let attrs = attrs
        .split_once(" viewBox=")
        .map_or(attrs.to_string(), |(a, rest)| {
            let after = rest.find(" aria-labelledby=").map_or("", |i| &rest[i..]);
            format!("{a}{after}")
        });
    let own = body[..open_end].trim_end_matches('/');
    Ok(format!(
        "{own}{attrs}{}",
        body[open_end + 1..].replace(['\n', '\r'], " ")
    ))
}

/// Which sides of its cell a drawing character joins: up, right, down, left.
fn sides(c: char) -> Option<[bool; 4]> {
    Some(match c {
        '─' | '┄' => [false, true, false, true],
        '│' | '┆' => [true, false, true, false],
        '┌' | '╭' => [false, true, true, false],
        '┐' | '╮' => [false, false, true, true],
        '└' | '╰' => [true, true, false, false],
        '┘' | '╯' => [true, false, false, true],
        '├' => [true, true, true, false],
        '┤' => [true, false, true, true],
        '┬' => [false, true, true, true],
        '┴' => [true, true, false, true],
        '┼' => [true, true, true, true],
        _ => return None,
    })
}

fn is_arrow(c: char) -> bool {
    matches!(c, '▶' | '◀' | '▲' | '▼')
}

/// A drawing: lines for the box-drawing characters, triangles for arrowheads, text for the
/// rest. Horizontal and vertical runs are merged into single lines.
pub fn drawing_svg(body: &[String], text: Text) -> String {
    let grid: Vec<Vec<char>> = body.iter().map(|l| l.chars().collect()).collect();
    let cols = grid.iter().map(Vec::len).max().unwrap_or(0);
    let rows = grid.len();
    let at = |r: usize, c: usize| grid.get(r).and_then(|l| l.get(c)).copied().unwrap_or(' ');
    let (w, h) = (cols as f64 * CW + 2.0, rows as f64 * CH + 2.0);
    let mut out = String::new();
    svg_open(&mut out, "tangle-drawing", w, h, text);
    out.push_str(r#"<g transform="translate(1 1)">"#);
    // Each cell's share of the lines: half a cell towards each side it joins; merged below
    // into runs, so that a box edge is one line.
    let mut rows_of: Vec<Vec<(f64, f64, bool)>> = vec![Vec::new(); rows];
    let mut cols_of: Vec<Vec<(f64, f64, bool)>> = vec![Vec::new(); cols];
    let mut arrows = String::new();
    for (r, row_list) in rows_of.iter_mut().enumerate() {
        for (c, col_list) in cols_of.iter_mut().enumerate() {
            let ch = at(r, c);
            let (x0, y0) = (c as f64 * CW, r as f64 * CH);
            let (cx, cy) = (x0 + CW / 2.0, y0 + CH / 2.0);
            if let Some(s) = sides(ch) {
                let dash = matches!(ch, '┄' | '┆');
                if s[3] {
                    row_list.push((x0, cx, dash));
                }
                if s[1] {
                    row_list.push((cx, x0 + CW, dash));
                }
                if s[0] {
                    col_list.push((y0, cy, dash));
                }
                if s[2] {
                    col_list.push((cy, y0 + CH, dash));
                }
                continue;
            }
            // Arrowheads: the tip on the cell's edge in the arrow's direction, so that it
            // touches what it points at.
            let tri = match ch {
                '▶' => format!(
                    "M{} {}L{} {}L{} {}Z",
                    x0 + CW,
                    cy,
                    x0,
                    cy - 4.0,
                    x0,
                    cy + 4.0
                ),
                '◀' => format!(
                    "M{} {}L{} {}L{} {}Z",
                    x0,
                    cy,
                    x0 + CW,
                    cy - 4.0,
                    x0 + CW,
                    cy + 4.0
                ),
                '▼' => {
                    col_list.push((y0, y0 + CH - 8.0, false));
                    format!(
                        "M{} {}L{} {}L{} {}Z",
                        cx,
                        y0 + CH,
                        cx - 4.0,
                        y0 + CH - 8.0,
                        cx + 4.0,
                        y0 + CH - 8.0
                    )
                }
                '▲' => {
                    col_list.push((y0 + 8.0, y0 + CH, false));
                    format!(
                        "M{} {}L{} {}L{} {}Z",
                        cx,
                        y0,
                        cx - 4.0,
                        y0 + 8.0,
                        cx + 4.0,
                        y0 + 8.0
                    )
                }
                _ => continue,
            };
            arrows.push_str(&tri);
        }
    }
    let (mut solid, mut dashed) = (String::new(), String::new());
    for (horizontal, lists) in [(true, &mut rows_of), (false, &mut cols_of)] {
        for (k, list) in lists.iter_mut().enumerate() {
            list.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut runs: Vec<(f64, f64, bool)> = Vec::new();
            for &(a, b, dash) in list.iter() {
                match runs.last_mut() {
                    Some(last) if last.1 == a && last.2 == dash => last.1 = b,
                    _ => runs.push((a, b, dash)),
                }
            }
            for (a, b, dash) in runs {
                let target = if dash { &mut dashed } else { &mut solid };
                if horizontal {
                    write!(target, "M{a} {}H{b}", (k as f64 + 0.5) * CH).ok();
                } else {
                    write!(target, "M{} {a}V{b}", (k as f64 + 0.5) * CW).ok();
                }
            }
        }
    }
    if !solid.is_empty() {
        write!(out, r#"<path class="tangle-line" d="{solid}"/>"#).ok();
    }
    if !dashed.is_empty() {
        write!(
            out,
            r#"<path class="tangle-line tangle-dashed" d="{dashed}"/>"#
        )
        .ok();
    }
    if !arrows.is_empty() {
        write!(out, r#"<path class="tangle-arrow" d="{arrows}"/>"#).ok();
    }
    // Text: runs of other characters, cut at two spaces or a drawing character.
    for (r, line) in grid.iter().enumerate() {
        let mut c = 0;
        while c < line.len() {
            let ch = line[c];
            if ch == ' ' || sides(ch).is_some() || is_arrow(ch) {
                c += 1;
                continue;
            }
            let start = c;
            let mut end = c;
            while end < line.len() {
                let e = line[end];
                if sides(e).is_some() || is_arrow(e) {
                    break;
                }
                if e == ' '
                    && line
                        .get(end + 1)
                        .is_none_or(|&n| n == ' ' || sides(n).is_some() || is_arrow(n))
                {
                    break;
                }
                end += 1;
            }
            let text: String = line[start..end].iter().collect();
            write!(
                out,
                r#"<text x="{}" y="{}" textLength="{}" lengthAdjust="spacingAndGlyphs">{}</text>"#,
                start as f64 * CW,
                r as f64 * CH + CH * 0.5 + 4.5,
                (end - start) as f64 * CW,
                esc(&text)
            )
            .ok();
            c = end;
        }
    }
    out.push_str("</g></svg>");
    out
}

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

/// Bytes per row of a byte layout.
const PER_ROW: usize = 24;
const BW: f64 = 24.0;
const BH: f64 = 34.0;

/// A byte layout of a frame: the protoheader, the JSON header and the content, each byte in
/// a cell (its character, or its hex value when it is no printable ASCII), with the offsets
/// of the rows and a legend that gives each part's length as the frame states it.
pub fn bytes_svg(bytes: &[u8], text: Text) -> Result<String, String> {
    if bytes.len() < 2 {
        return Err("a frame has at least its two protoheader bytes".into());
    }
    let hlen = usize::from(u16::from_be_bytes([bytes[0], bytes[1]]));
    if bytes.len() < 2 + hlen {
        return Err(format!(
            "the protoheader says {hlen} header bytes, the dump has {}",
            bytes.len() - 2
        ));
    }
    let header = &bytes[2..2 + hlen];
    let content = &bytes[2 + hlen..];
    let stated = content_length(header);
    if stated != Some(content.len()) {
        return Err(format!(
            "the header says content-length {stated:?}, the dump has {} content bytes",
            content.len()
        ));
    }
    let part = |i: usize| {
        if i < 2 {
            0
        } else if i < 2 + hlen {
            1
        } else {
            2
        }
    };
    let rows = bytes.len().div_ceil(PER_ROW);
    let left = 44.0;
    let legend = 3.0 * 22.0 + 10.0;
    let notes = [
        format!(
            "protoheader: 2 bytes, {:02x} {:02x} = {hlen}, the header's length",
            bytes[0], bytes[1]
        ),
        format!(
            "JSON header: {hlen} bytes, content-length {}",
            content.len()
        ),
        format!("content: {} bytes; · is a space", content.len()),
    ];
    let widest = notes.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let w = (left + PER_ROW as f64 * BW + 2.0).max(left + 24.0 + widest as f64 * 8.0 + 8.0);
    let h = rows as f64 * BH + 8.0 + legend;
    let mut out = String::new();
    svg_open(&mut out, "tangle-bytes", w, h, text);
    for r in 0..rows {
        let y = 4.0 + r as f64 * BH;
        write!(
            out,
            r#"<text class="tangle-offset" x="{}" y="{}" text-anchor="end">{}</text>"#,
            left - 8.0,
            y + BH / 2.0 + 4.0,
            r * PER_ROW
        )
        .ok();
    }
    for (i, &b) in bytes.iter().enumerate() {
        let (r, c) = (i / PER_ROW, i % PER_ROW);
        let (x, y) = (left + c as f64 * BW, 4.0 + r as f64 * BH);
        let shown = if b.is_ascii_graphic() {
            esc(&char::from(b).to_string())
        } else if b == b' ' {
            "·".to_string()
        } else {
            format!("{b:02x}")
        };
        let hex = !b.is_ascii_graphic() && b != b' ';
        write!(
            out,
            r#"<g class="tangle-byte tangle-part{}" data-byte="{b}"><rect x="{}" y="{}" width="{}" height="{}"/><text x="{}" y="{}" text-anchor="middle"{}>{shown}</text></g>"#,
            part(i),
            x + 1.0,
            y + 1.0,
            BW - 2.0,
            BH - 2.0,
            x + BW / 2.0,
            y + BH / 2.0 + 5.0,
            if hex { r#" class="tangle-hex""# } else { "" },
        )
        .ok();
    }
    for (k, note) in notes.iter().enumerate() {
        let y = 4.0 + rows as f64 * BH + 12.0 + k as f64 * 22.0;
        write!(
            out,
            r#"<g class="tangle-legend tangle-part{k}"><rect x="{left}" y="{y}" width="16" height="16"/><text x="{}" y="{}">{}</text></g>"#,
            left + 24.0,
            y + 13.0,
            esc(note)
        )
        .ok();
    }
    out.push_str("</svg>");
    Ok(out)
}

/// The `content-length` a JSON header states (the number after the key), if any.
fn content_length(header: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(header).ok()?;
    let at = text.find("\"content-length\"")? + "\"content-length\"".len();
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The bytes of a dump written as the book writes bytes (Python's escapes: `\xHH`, `\\`,
/// `\n`, `\r`, `\t`, `\'`, `\"`; any other character as its UTF-8), lines joined.
pub fn unescape(line: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).map_err(|_| format!("bad escape \\x{hex}"))?);
            }
            Some('n') => out.push(b'\n'),
            Some('r') => out.push(b'\r'),
            Some('t') => out.push(b'\t'),
            Some(c @ ('\\' | '\'' | '"')) => out.push(c as u8),
            other => return Err(format!("unknown escape \\{}", other.unwrap_or(' '))),
        }
    }
    Ok(out)
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

/// Text with `code spans` as `<code>`, the rest escaped.
fn inline_code(text: &str) -> String {
    let mut out = String::new();
    for (k, piece) in text.split('`').enumerate() {
        if k % 2 == 1 {
            write!(out, "<code>{}</code>", esc(piece)).ok();
        } else {
            out.push_str(&esc(piece));
        }
    }
    out
}

fn strip_ticks(text: &str) -> String {
    text.replace('`', "")
}

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_body_and_errors() {
        let s = parse(&[
            "caption: A `Next`.",
            "alt: one",
            "alt: two",
            "---",
            "┌─┐",
            "└─┘",
            "",
        ])
        .unwrap();
        assert_eq!(s.alt, "one two");
        assert_eq!(s.body, ["┌─┐", "└─┘"]);
        assert!(parse(&["alt: x", "---", "x"])
            .unwrap_err()
            .1
            .contains("caption"));
        assert!(parse(&["caption: x", "---", "x"])
            .unwrap_err()
            .1
            .contains("alt"));
        assert!(parse(&["caption: x", "alt: y", "colour: red"])
            .unwrap_err()
            .1
            .contains("unknown figure header"));
        assert!(parse(&["caption: x", "alt: y", "kind: bytes", "---", "z"]).is_err());
        let html = html(&s, "fig:a", "1.1", None, None).unwrap();
        assert!(
            html.contains("<title id=\"fig:a-title\">A Next.</title>"),
            "{html}"
        );
        assert!(html.contains("<figcaption><a class=\"tangle-fig-number\" href=\"#fig:a\">Figure 1.1</a> A <code>Next</code>.</figcaption>"), "{html}");
        assert!(!html.contains('\n'), "one line of HTML");
    }

    #[test]
    fn a_box_is_four_lines_and_its_text() {
        let body: Vec<String> = ["┌────┐", "│ ab ├──▶", "└────┘"].map(String::from).to_vec();
        let svg = drawing_svg(
            &body,
            Text {
                title: "t",
                desc: "d",
                id: "t",
            },
        );
        // The top and bottom edges are each one horizontal line from centre to centre.
        assert!(svg.contains("M4 9H44"), "{svg}");
        assert!(svg.contains("M4 45H44"), "{svg}");
        // The left side joins the corners' centres.
        assert!(svg.contains("M4 9V45"), "{svg}");
        // The arrow's line runs from ├ to the arrowhead's base, whose tip ends the cell.
        assert!(svg.contains("M44 27H64"), "{svg}");
        assert!(svg.contains("M72 27L64 23L64 31Z"), "{svg}");
        assert!(svg.contains(">ab</text>"), "{svg}");
    }

    #[test]
    fn a_frame_is_laid_out_from_its_bytes() {
        let frame = unescape(r#"\x00\x15{"content-length": 2}hi"#).unwrap();
        let svg = bytes_svg(
            &frame,
            Text {
                title: "t",
                desc: "d",
                id: "t",
            },
        )
        .unwrap();
        let cells: Vec<u8> = svg
            .split("data-byte=\"")
            .skip(1)
            .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
            .collect();
        assert_eq!(cells, frame);
        assert_eq!(svg.matches("tangle-byte tangle-part0").count(), 2);
        assert_eq!(svg.matches("tangle-byte tangle-part2").count(), 2);
        assert!(svg.contains("00 15 = 21"), "{svg}");
        let wrong = unescape(r#"\x00\x15{"content-length": 3}hi"#).unwrap();
        assert!(bytes_svg(
            &wrong,
            Text {
                title: "t",
                desc: "d",
                id: "t"
            }
        )
        .unwrap_err()
        .contains("content-length"));
    }
    #[test]
    fn a_chapter_figure_replaces_its_block_and_a_byte_figure_needs_a_checked_dump() {
        let text = "# A\n\n<!-- check: frame x -->\n```text\n\\x00\\x15{\"content-length\": 2}hi\n```\n\n```figure\nkind: bytes\ncaption: C\nalt: D\n```\n\n> ```figure\n> caption: E\n> alt: F\n> ---\n> ─\n> ```\n";
        let chapter = crate::markdown::parse::parse(Path::new("docs/a.md"), text).unwrap();
        let lines: Vec<&str> = text.split('\n').collect();
        let (figs, errors) =
            chapter_figures(&chapter.blocks, &lines, Some("3"), Path::new("docs/a.md"));
        assert!(errors.is_empty(), "{errors:?}");
        let first = &figs[&7];
        assert!(
            first.starts_with(r#"<figure class="tangle-figure" id="fig:c">"#),
            "{first}"
        );
        assert!(first.contains("Figure 3.1"), "{first}");
        assert_eq!(first.matches("data-byte=").count(), 25);
        assert_eq!(figs[&8], "");
        // Inside a block quote, the figure keeps the quote's marker, and so do its other lines.
        assert!(figs[&13].starts_with("> <figure"), "{}", figs[&13]);
        assert!(figs[&13].contains("Figure 3.2"));
        assert_eq!(figs[&14], ">");
        // Without its marker, the dump is no checked one.
        let unchecked = text.replace("<!-- check: frame x -->\n", "");
        let chapter = crate::markdown::parse::parse(Path::new("docs/a.md"), &unchecked).unwrap();
        let lines: Vec<&str> = unchecked.split('\n').collect();
        let (_, errors) = chapter_figures(&chapter.blocks, &lines, None, Path::new("docs/a.md"));
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].to_string().starts_with(
                "docs/a.md:8:1: error: the byte dump above a byte figure must be checked"
            ),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn an_svg_file_is_inlined_with_its_text() {
        let file = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\" width=\"10\">\n<rect/>\n</svg>\n";
        let t = Text {
            title: "T",
            desc: "D",
            id: "fig:c",
        };
        let svg = inline_svg(file, t).unwrap();
        assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" width="10" role="img" aria-labelledby="fig:c-title" aria-describedby="fig:c-desc"><title id="fig:c-title">T</title><desc id="fig:c-desc">D</desc> <rect/> </svg>"#), "{svg}");
        assert!(!svg.contains('\n'));
        assert!(inline_svg("<p>", t).is_err());
    }
}
