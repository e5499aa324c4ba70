//! Block body treatment in `org-babel-tangle-single-block`: the body as org-element gives it
//! (`org-remove-indentation` unless `-i`), coderef labels removed with `-r`, and `org-trim`;
//! also the C wrapper's test for a `main` function (`org-babel-C-ensure-main-wrap`).

use tangle_core::coderef::{find_label, LabelRules};
use tangle_core::output::Origin;

use super::text::{Body, MappedLine, NormalLine};
use super::{is_blank_char, Tangler};

/// `org-trim`.
pub(super) fn org_trim(m: &mut Vec<MappedLine>) {
    // Trailing [ \t\n\r]+.
    loop {
        let last = m.last_mut().expect("non-empty");
        let t = last.text.trim_end_matches(is_blank_char).len();
        last.text.truncate(t);
        if last.text.is_empty() && m.len() > 1 {
            m.pop();
        } else {
            break;
        }
    }
    // Leading [ \t\n\r]+.
    let skip = m
        .iter()
        .position(|l| l.text.chars().any(|c| !is_blank_char(c)))
        .unwrap_or(m.len() - 1);
    m.drain(..skip);
    let first = &mut m[0];
    let t = first.text.trim_start_matches(is_blank_char);
    let removed = first.text[..first.text.len() - t.len()].chars().count();
    first.text = t.to_string();
    first.shift_left(removed);
    let last = m.last_mut().expect("non-empty");
    let len = last.chars();
    last.truncate(len);
}

/// Columns of the leading `[ \t]` of a line (tab width 8), and their length in bytes.
pub(super) fn indentation(s: &str) -> (usize, usize) {
    let mut col = 0;
    let mut n = 0;
    for b in s.bytes() {
        match b {
            b' ' => col += 1,
            b'\t' => col = (col / 8 + 1) * 8,
            _ => break,
        }
        n += 1;
    }
    (col, n)
}

/// `org-remove-indentation` on each line (joined by newlines).
pub(super) fn remove_indentation(m: &mut Vec<MappedLine>) {
    let mut min: Option<usize> = None;
    for l in m.iter() {
        let (col, n) = indentation(&l.text);
        match l.text[n..].chars().next() {
            Some(c) if !c.is_whitespace() => {
                if col == 0 {
                    return;
                }
                min = Some(min.map_or(col, |m: usize| m.min(col)));
            }
            _ => {}
        }
    }
    // `org-do-remove-indentation` starts its minimum at `point-max`, so a short text keeps
    // part of a large indentation.
    let point_max = m.iter().map(|l| l.text.chars().count() + 1).sum::<usize>();
    let n = min.map_or(point_max, |m| m.min(point_max));
    let mut out = Vec::with_capacity(m.len());
    for l in m.iter() {
        let (col, nb) = indentation(&l.text);
        if nb == l.text.len() {
            let mut l2 = l.clone();
            l2.text.clear();
            out.push(l2);
            continue;
        }
        if col < n {
            return;
        }
        let target = col - n;
        // Keep the indentation up to column TARGET, converting a straddling tab to spaces.
        let mut kept = String::new();
        let mut c = 0;
        for b in l.text[..nb].bytes() {
            if c >= target {
                break;
            }
            if b == b' ' {
                kept.push(' ');
                c += 1;
            } else {
                let next = (c / 8 + 1) * 8;
                if next <= target {
                    kept.push('\t');
                    c = next;
                } else {
                    kept.extend(std::iter::repeat_n(' ', target - c));
                    c = target;
                }
            }
        }
        let delta = kept.chars().count() as i32 - nb as i32;
        let mut l2 = l.clone();
        l2.text = format!("{kept}{}", &l.text[nb..]);
        l2.reindent(delta);
        out.push(l2);
    }
    *m = out;
}

/// Removes coderef labels (and the blanks before them) at line ends, as Org reads them
/// (see [`tangle_core::coderef`]).
pub(super) fn remove_coderefs(m: &mut [MappedLine], fmt: &str) {
    for l in m.iter_mut() {
        if let Some(label) = find_label(&l.text, fmt, LabelRules::Org) {
            let keep = l.text[..label.keep].chars().count();
            l.text.truncate(label.keep);
            l.truncate(keep);
        }
    }
}

/// `-l +"\([^"\n]+\)"` in the switches.
pub(super) fn label_format(switches: &str) -> Option<String> {
    let mut from = 0;
    while let Some(k) = switches[from..].find("-l") {
        let s = from + k + 2;
        let rest = &switches[s..];
        let t = rest.trim_start_matches(' ');
        if t.len() < rest.len() {
            if let Some(inner) = t.strip_prefix('"') {
                if let Some(end) = inner.find('"') {
                    if end > 0 {
                        return Some(inner[..end].to_string());
                    }
                }
            }
        }
        from = s;
    }
    None
}

/// `^[ \t]*[intvod]+[ \t\n\r]*main[ \t]*(.*)` (case-insensitive), as in
/// `org-babel-C-ensure-main-wrap`.
pub(super) fn has_c_main(body: &str) -> bool {
    let b: Vec<char> = body.chars().collect();
    let lower = |c: char| c.to_ascii_lowercase();
    for start in 0..b.len() {
        if start > 0 && b[start - 1] != '\n' {
            continue;
        }
        let mut i = start;
        while i < b.len() && (b[i] == ' ' || b[i] == '\t') {
            i += 1;
        }
        let t0 = i;
        while i < b.len() && "intvod".contains(lower(b[i])) {
            i += 1;
        }
        if i == t0 {
            continue;
        }
        while i < b.len() && matches!(b[i], ' ' | '\t' | '\n' | '\r') {
            i += 1;
        }
        let word: String = b[i..(i + 4).min(b.len())]
            .iter()
            .map(|&c| lower(c))
            .collect();
        if word != "main" {
            continue;
        }
        i += 4;
        while i < b.len() && (b[i] == ' ' || b[i] == '\t') {
            i += 1;
        }
        if i < b.len() && b[i] == '(' {
            let rest: String = b[i + 1..].iter().take_while(|&&c| c != '\n').collect();
            if rest.contains(')') {
                return true;
            }
        }
    }
    false
}

impl Tangler<'_> {
    /// The body of block `b` as Org normalizes it: final newline dropped, common indentation
    /// removed unless `-i`.
    pub(super) fn normalized_body(&self, b: usize) -> Body {
        let block = &self.doc.blocks[b];
        let mut m: Vec<MappedLine> = block
            .body
            .iter()
            .map(|bl| MappedLine {
                text: bl.text.clone(),
                origin: Some(Origin {
                    file: 0,
                    line: bl.line as u32,
                    col_shift: -(bl.removed as i32),
                    fragment: b as u32,
                }),
                pieces: Vec::new(),
            })
            .collect();
        if m.is_empty() {
            m.push(MappedLine::default());
        }
        let preserve = {
            let s = &block.switches;
            s.match_indices("-i").any(|(k, _)| {
                s[k + 2..]
                    .chars()
                    .next()
                    .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
            })
        };
        if !preserve {
            remove_indentation(&mut m);
        }
        let lines = m
            .into_iter()
            .map(|l| {
                let (line, shift) = match l.origin {
                    Some(o) => (o.line, -o.col_shift),
                    None => (block.line as u32 + 1, 0),
                };
                NormalLine {
                    text: l.text,
                    line,
                    shift,
                }
            })
            .collect();
        Body { lines }
    }
}
