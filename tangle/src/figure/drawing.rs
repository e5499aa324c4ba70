//! A drawing figure: box-drawing characters become lines, arrowheads triangles, the rest
//! text, each character in its cell.

use super::svg::{esc, svg_open};
use super::Text;
use std::fmt::Write as _;

/// Cell width and height of a drawing, in SVG pixels.
const CW: f64 = 8.0;
const CH: f64 = 18.0;
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
