//! A byte figure: a frame's protoheader, JSON header and content laid out byte by byte, and
//! the bytes of a dump as the book writes them.

use super::svg::{esc, svg_open};
use super::Text;
use std::fmt::Write as _;

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
