//! Layout: a diagnostic's places, already resolved, laid out as rustc lays them out: the
//! `-->` line, the gutter, source lines, underlines with their labels, suggestions as `-`/`+`
//! lines. Nothing here knows where a place came from (that is [`super::place`]).
//!
//! Why not `annotate-snippets`, rust-lang's renderer: its header line is `--> file:line:col`,
//! computed from the snippet's own source, with nothing after it, where ours must say where
//! the place was tangled (`(src/main.rs:45:26, in «fragment»)`); and one snippet shows one
//! contiguous source, where ours shows chosen lines of a chapter under one gutter width for
//! the whole diagnostic. The layout below reproduces rustc's byte for byte on what the tests
//! record (`tests/fixtures/cargo/recorded.txt`).

use super::place::{Place, SnippetKey};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// ANSI styles, as rustc uses them.
pub const BOLD: &str = "\x1b[1m";
const ERROR: &str = "\x1b[1m\x1b[91m";
pub const WARNING: &str = "\x1b[1m\x1b[93m";
const NOTE: &str = "\x1b[1m\x1b[92m";
const HELP: &str = "\x1b[1m\x1b[96m";
const BLUE: &str = "\x1b[1m\x1b[94m";
const ADDED: &str = "\x1b[92m";
const RESET: &str = "\x1b[0m";

pub fn paint(color: bool, style: &str, text: &str) -> String {
    if color {
        format!("{style}{text}{RESET}")
    } else {
        text.to_string()
    }
}

fn level_style(level: &str) -> &'static str {
    match level {
        "warning" => WARNING,
        "note" | "failure-note" => NOTE,
        "help" => HELP,
        _ => ERROR,
    }
}

/// An underline under one line of a snippet.
#[derive(Debug, Clone)]
pub struct Ann {
    pub line: usize,
    pub start: usize,
    /// Exclusive end column; `None`: to the end of the line.
    pub end: Option<usize>,
    pub primary: bool,
    pub label: Option<String>,
}

/// The place a snippet's `-->` (or `:::`) line names.
#[derive(Debug, Clone)]
pub struct Head {
    pub line: usize,
    pub col: usize,
    /// What follows `file:line:col`.
    pub suffix: String,
    pub primary: bool,
}

/// A run of source lines from one file (and one fragment), with annotations.
#[derive(Debug, Default)]
pub struct Snippet {
    key: SnippetKey,
    file: String,
    head: Option<Head>,
    texts: BTreeMap<usize, String>,
    anns: Vec<Ann>,
}

/// Snippets of one diagnostic or child, in order: the primary span's first.
#[derive(Debug, Default)]
pub struct Snippets(Vec<Snippet>);

impl Snippets {
    /// Adds `place`'s line to its snippet, and `ann` under it.
    pub fn add(&mut self, place: &Place, ann: Option<Ann>) {
        let i = match self.0.iter().position(|s| s.key == place.key) {
            Some(i) => i,
            None => {
                self.0.push(Snippet {
                    key: place.key.clone(),
                    file: place.file.clone(),
                    ..Snippet::default()
                });
                self.0.len() - 1
            }
        };
        let sn = &mut self.0[i];
        if let Some(t) = &place.text {
            sn.texts.entry(place.line).or_insert_with(|| t.clone());
        }
        if let Some(ann) = ann {
            let primary = ann.primary;
            if sn.head.as_ref().is_none_or(|h| primary && !h.primary) {
                sn.head = Some(Head {
                    line: place.line,
                    col: place.col,
                    suffix: place.suffix.clone(),
                    primary,
                });
            }
            if !sn.anns.iter().any(|a| {
                a.line == ann.line
                    && a.start == ann.start
                    && a.end == ann.end
                    && a.label == ann.label
            }) {
                sn.anns.push(ann);
            }
        }
    }

    /// The snippet with the first primary span leads; the rest keep their order.
    pub fn order(&mut self) {
        if let Some(i) = self
            .0
            .iter()
            .position(|s| s.head.as_ref().is_some_and(|h| h.primary))
        {
            let s = self.0.remove(i);
            self.0.insert(0, s);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The snippet shown first.
    pub fn first_key(&self) -> Option<&SnippetKey> {
        self.0.first().map(|s| &s.key)
    }

    pub fn max_line(&self) -> usize {
        self.0
            .iter()
            .flat_map(|s| s.anns.iter().map(|a| a.line).chain(s.texts.keys().copied()))
            .max()
            .unwrap_or(0)
    }
}

/// One replacement of a suggestion: from (`line`, `col`) to (`end_line`, `end_col`), 1-based
/// and exclusive at the end, the text becomes `with`.
#[derive(Debug, Clone)]
pub struct Piece {
    pub line: usize,
    pub col: usize,
    pub end_line: usize,
    pub end_col: usize,
    pub with: String,
}

/// How a rendered line of a suggestion is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The line as it is (`-`).
    Old,
    /// The line as the suggestion makes it (`+`).
    New,
    /// The lines are unknown: a replacement told in words (`=`).
    Told,
}

/// Replacements in one range of lines of one file.
#[derive(Debug, Clone)]
pub struct Edit {
    pub key: SnippetKey,
    pub file: String,
    pub head: Head,
    pub lo: usize,
    pub hi: usize,
    pub pieces: Vec<Piece>,
    /// Rendered, by [`Edit::finish`].
    pub lines: Vec<EditLine>,
}

/// One rendered line of a suggestion: its mark, its line number and its text.
#[derive(Debug, Clone)]
pub struct EditLine {
    pub mark: Mark,
    pub line: usize,
    pub text: String,
}

impl Edit {
    /// Renders the edit's lines from the old lines `lo..=hi` (`None` when they are unknown:
    /// then each replacement is told).
    pub fn finish(&mut self, old: Option<Vec<String>>) {
        let Some(old) = old else {
            self.lines = self
                .pieces
                .iter()
                .map(|p| {
                    let told = format!(
                        "at {}:{}:{}: replace with `{}`",
                        self.file, p.line, p.col, p.with
                    );
                    EditLine {
                        mark: Mark::Told,
                        line: p.line,
                        text: told,
                    }
                })
                .collect();
            return;
        };
        let mut chars: Vec<char> = old.join("\n").chars().collect();
        // Char offset of (line, 1-based col) in the joined text.
        let offset = |line: usize, col: usize| -> usize {
            let before: usize = old[..line - self.lo]
                .iter()
                .map(|l| l.chars().count() + 1)
                .sum();
            let len = old[line - self.lo].chars().count();
            before + col.saturating_sub(1).min(len)
        };
        let mut pieces = self.pieces.clone();
        pieces.sort_by_key(|p| std::cmp::Reverse((p.line, p.col)));
        for p in pieces {
            let s = offset(p.line, p.col);
            let t = offset(p.end_line, p.end_col).max(s);
            chars.splice(s..t, p.with.chars());
        }
        let new: String = chars.into_iter().collect();
        let lo = self.lo;
        let line = |mark, k, text: &str| EditLine {
            mark,
            line: lo + k,
            text: text.to_string(),
        };
        let old_lines = old.iter().enumerate().map(|(k, l)| line(Mark::Old, k, l));
        let new_lines = new
            .split('\n')
            .enumerate()
            .map(|(k, l)| line(Mark::New, k, l));
        self.lines = old_lines.chain(new_lines).collect();
    }
}

/// Writes the parts of a diagnostic, with or without colour, under a gutter `width` digits wide.
pub struct Layout {
    pub color: bool,
    pub width: usize,
}

impl Layout {
    fn bold(&self, s: &str) -> String {
        paint(self.color, BOLD, s)
    }

    fn blue(&self, s: &str) -> String {
        paint(self.color, BLUE, s)
    }

    /// `level[code]: message`, the first line of a diagnostic or of a child with places.
    pub fn title(&self, out: &mut String, level: &str, code: &str, message: &str) {
        let _ = writeln!(
            out,
            "{}{}",
            paint(self.color, level_style(level), &format!("{level}{code}")),
            self.bold(&format!(": {message}"))
        );
    }

    /// `= level: message`, a child without places.
    pub fn note(&self, out: &mut String, level: &str, message: &str) {
        let w = self.width;
        let indent = " ".repeat(w + 5 + level.len());
        let message = message.replace('\n', &format!("\n{indent}"));
        let _ = writeln!(
            out,
            "{}{} {}: {message}",
            " ".repeat(w + 1),
            self.blue("="),
            self.bold(level)
        );
    }

    /// A note under the whole diagnostic (`note: …`, unindented).
    pub fn remark(&self, text: &str) -> String {
        format!("{}: {text}\n\n", paint(self.color, NOTE, "note"))
    }

    /// The gutter: `NNN |` or `    |` (no trailing space when nothing follows).
    pub fn gutter(&self, line: Option<usize>) -> String {
        let w = self.width;
        match line {
            Some(n) => self.blue(&format!("{n:>w$} |")),
            None => format!("{}{}", " ".repeat(w + 1), self.blue("|")),
        }
    }

    fn arrow(&self, out: &mut String, arrow: &str, file: &str, head: (usize, usize, &str)) {
        let (l, c, suffix) = head;
        let _ = writeln!(
            out,
            "{}{} {file}:{l}:{c}{suffix}",
            " ".repeat(self.width),
            self.blue(arrow)
        );
    }

    pub fn snippets(&self, out: &mut String, snippets: &Snippets, level: &str) {
        for (i, sn) in snippets.0.iter().enumerate() {
            let head = sn
                .head
                .as_ref()
                .map_or((0, 0, ""), |h| (h.line, h.col, h.suffix.as_str()));
            if i == 0 {
                self.arrow(out, "-->", &sn.file, head);
            } else {
                let _ = writeln!(out, "{}", self.gutter(None));
                self.arrow(out, ":::", &sn.file, head);
            }
            let _ = writeln!(out, "{}", self.gutter(None));
            let lines: BTreeSet<usize> = sn.anns.iter().map(|a| a.line).collect();
            let mut prev: Option<usize> = None;
            for &line in &lines {
                if let Some(p) = prev {
                    if line == p + 2 && sn.texts.contains_key(&(p + 1)) {
                        self.source(out, p + 1, sn.texts.get(&(p + 1)));
                    } else if line > p + 1 {
                        let _ = writeln!(out, "{}", self.blue("..."));
                    }
                }
                let text = sn.texts.get(&line);
                self.source(out, line, text);
                let anns: Vec<&Ann> = sn.anns.iter().filter(|a| a.line == line).collect();
                for row in self.marker_rows(text.map_or("", String::as_str), &anns, level) {
                    let _ = writeln!(out, "{} {row}", self.gutter(None));
                }
                prev = Some(line);
            }
        }
    }

    fn source(&self, out: &mut String, line: usize, text: Option<&String>) {
        let text = text.map(|t| t.replace('\t', "    ")).unwrap_or_default();
        if text.is_empty() {
            let _ = writeln!(out, "{}", self.gutter(Some(line)));
        } else {
            let _ = writeln!(out, "{} {text}", self.gutter(Some(line)));
        }
    }

    /// The rows under a source line: underlines, then labels, as rustc lays them out.
    fn marker_rows(&self, text: &str, anns: &[&Ann], level: &str) -> Vec<String> {
        let cols: Vec<char> = text.chars().collect();
        // Display offset (0-based) of 1-based char column `c`: tabs show as four spaces.
        let disp = |c: usize| -> usize {
            cols.iter()
                .take(c.saturating_sub(1))
                .map(|&ch| if ch == '\t' { 4 } else { 1 })
                .sum::<usize>()
                + c.saturating_sub(1).saturating_sub(cols.len())
        };
        let eol =
            disp(cols.len() - cols.iter().rev().take_while(|c| c.is_whitespace()).count() + 1);
        let mut spans: Vec<(usize, usize, &Ann)> = anns
            .iter()
            .map(|a| {
                let s = disp(a.start);
                let e = a.end.map_or(eol, disp).max(s + 1);
                (s, e, *a)
            })
            .collect();
        spans.sort_by_key(|&(s, e, a)| (s, e, !a.primary));
        let width = spans.iter().map(|s| s.1).max().unwrap_or(0);
        let primary_style = level_style(level);
        // Row 1: the underlines, primary over secondary.
        let mut row: Vec<(char, u8)> = vec![(' ', 0); width];
        for pass in [false, true] {
            for &(s, e, _) in spans.iter().filter(|x| x.2.primary == pass) {
                for cell in &mut row[s..e] {
                    *cell = if pass { ('^', 1) } else { ('-', 2) };
                }
            }
        }
        let style = |a: &Ann| if a.primary { primary_style } else { BLUE };
        let mut rows = Vec::new();
        let mut first = self.cells(&row, primary_style);
        let last = spans.last().copied();
        let inline = last.filter(|&(s, _, a)| {
            a.label.is_some() && spans.iter().all(|x| std::ptr::eq(x.2, a) || x.1 <= s)
        });
        if let Some((_, _, a)) = inline {
            let _ = write!(
                first,
                " {}",
                paint(self.color, style(a), a.label.as_deref().unwrap_or(""))
            );
        }
        rows.push(first);
        let hanging: Vec<(usize, &Ann)> = spans
            .iter()
            .filter(|x| x.2.label.is_some() && !inline.is_some_and(|i| std::ptr::eq(i.2, x.2)))
            .map(|x| (x.0, x.2))
            .collect();
        if !hanging.is_empty() {
            let bars = |upto: usize| {
                let mut r: Vec<(char, u8)> = vec![(' ', 0); width.max(1)];
                for &(s, a) in &hanging[..upto] {
                    r[s] = ('|', if a.primary { 1 } else { 2 });
                }
                r
            };
            rows.push(self.cells(&bars(hanging.len()), primary_style));
            for k in (0..hanging.len()).rev() {
                let (s, a) = hanging[k];
                let mut r = bars(k);
                r.truncate(s);
                let mut line = self.cells(&r, primary_style);
                let pad = s - line_len(&r);
                line.push_str(&" ".repeat(pad));
                line.push_str(&paint(
                    self.color,
                    style(a),
                    a.label.as_deref().unwrap_or(""),
                ));
                rows.push(line);
            }
        }
        rows
    }

    /// A row of cells as text: style 1 is the primary colour, 2 the secondary, trailing
    /// blanks trimmed.
    fn cells(&self, row: &[(char, u8)], primary: &str) -> String {
        let n = line_len(row);
        let mut s = String::new();
        let mut cur = 0u8;
        for &(c, st) in &row[..n] {
            if self.color && st != cur {
                if cur != 0 {
                    s.push_str(RESET);
                }
                if st != 0 {
                    s.push_str(if st == 1 { primary } else { BLUE });
                }
                cur = st;
            }
            s.push(c);
        }
        if self.color && cur != 0 {
            s.push_str(RESET);
        }
        s
    }

    /// Writes the edits of a suggestion; a `-->` line names the place whenever it is not in the
    /// file (and fragment) shown last, starting from `shown`.
    pub fn suggestion<'e>(
        &self,
        out: &mut String,
        edits: &'e [Edit],
        mut shown: Option<&'e SnippetKey>,
    ) {
        let w = self.width;
        for e in edits {
            if shown != Some(&e.key) {
                self.arrow(
                    out,
                    "-->",
                    &e.file,
                    (e.head.line, e.head.col, &e.head.suffix),
                );
                shown = Some(&e.key);
            }
            let _ = writeln!(out, "{}", self.gutter(None));
            for EditLine { mark, line, text } in &e.lines {
                let text = text.replace('\t', "    ");
                let _ = match mark {
                    Mark::Told => writeln!(out, "{}{} {text}", " ".repeat(w + 1), self.blue("=")),
                    Mark::Old => writeln!(
                        out,
                        "{} {}",
                        self.blue(&format!("{line:>w$} -")),
                        paint(self.color, ERROR, &text)
                    ),
                    Mark::New => writeln!(
                        out,
                        "{} {}",
                        self.blue(&format!("{line:>w$} +")),
                        paint(self.color, ADDED, &text)
                    ),
                };
            }
        }
        let _ = writeln!(out, "{}", self.gutter(None));
    }
}

fn line_len(row: &[(char, u8)]) -> usize {
    row.len() - row.iter().rev().take_while(|c| c.0 == ' ').count()
}
