//! Mapped text: text whose every line knows where in a document it came from. The shared
//! expander ([`crate::expand`]) writes it for both readers, and org's body treatment
//! (indentation removal, coderef removal, trimming, wrapping) edits it line by line with
//! [`MappedLine`], so the map stays right through every step.

use crate::output::{Origin, Segment, SourceMap};

/// Text and, for each of its lines (`text.split('\n')`, so at least one, the last possibly
/// empty and unterminated), its origin; lines assembled from several places list their
/// pieces in `map.segments` (only lines of two or more pieces are listed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedText {
    pub text: String,
    pub map: SourceMap,
}

/// One line of a [`MappedText`], for editing: its text, origin and pieces (1-based column
/// and origin; empty for a line of at most one piece, whose origin is `origin`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MappedLine {
    pub text: String,
    pub origin: Option<Origin>,
    pub pieces: Vec<(u32, Origin)>,
}

impl Default for MappedText {
    fn default() -> Self {
        MappedText::new()
    }
}

impl MappedText {
    /// The empty text: one empty line without origin.
    pub fn new() -> MappedText {
        MappedText {
            text: String::new(),
            map: SourceMap {
                lines: vec![None],
                ..SourceMap::default()
            },
        }
    }

    /// Generated text (no origin), line breaks included.
    pub fn generated(s: &str) -> MappedText {
        let mut m = MappedText::new();
        m.push_str(s);
        m
    }

    /// Appends generated text (without origin): its first line continues the last line.
    pub fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
        let breaks = s.bytes().filter(|&b| b == b'\n').count();
        self.map.lines.extend(std::iter::repeat(None).take(breaks));
    }

    /// Appends another text, its first line continuing our last line (whose origin, if it
    /// has none, becomes that line's).
    pub fn append(&mut self, other: MappedText) {
        let last = self.map.lines.len() - 1;
        let at = self.text.len() - self.text.rfind('\n').map_or(0, |k| k + 1);
        let shift = self.text[self.text.len() - at..].chars().count();
        let mut others = other.into_lines().into_iter();
        let first = others.next().expect("a mapped text has a line");
        if !first.text.is_empty() || first.origin.is_some() {
            let mut mine = self.line(last);
            self.pop_line();
            let mut pieces = mine.all_pieces();
            for (col, o) in first.all_pieces() {
                let o = Origin {
                    col_shift: o.col_shift + shift as i32,
                    ..o
                };
                if pieces.last().map(|p| &p.1) != Some(&o) {
                    pieces.push((col + shift as u32, o));
                }
            }
            if mine.origin.is_none() {
                mine.origin = first.origin.map(|o| Origin {
                    col_shift: o.col_shift + shift as i32,
                    ..o
                });
            }
            mine.text.push_str(&first.text);
            mine.pieces = if pieces.len() > 1 { pieces } else { Vec::new() };
            self.push_line(mine);
        }
        for l in others {
            self.text.push('\n');
            self.map.lines.push(None);
            self.pop_line();
            self.push_line(l);
        }
    }

    /// Line `i` for editing.
    pub fn line(&self, i: usize) -> MappedLine {
        let text = self.text.split('\n').nth(i).unwrap_or("").to_string();
        let first = self.map.segments.partition_point(|s| (s.line as usize) < i);
        let pieces = self.map.segments[first..]
            .iter()
            .take_while(|s| s.line as usize == i)
            .map(|s| (s.col, s.origin.clone()))
            .collect();
        MappedLine {
            text,
            origin: self.map.lines[i].clone(),
            pieces,
        }
    }

    /// Removes the last line (its text, not the line break before it).
    fn pop_line(&mut self) {
        let i = self.map.lines.len() - 1;
        let start = self.text.rfind('\n').map_or(0, |k| k + 1);
        self.text.truncate(start);
        self.map.lines.pop();
        let keep = self.map.segments.partition_point(|s| (s.line as usize) < i);
        self.map.segments.truncate(keep);
    }

    /// Puts `l` as the (new) last line, after the last line break.
    fn push_line(&mut self, l: MappedLine) {
        let i = self.map.lines.len() as u32;
        self.text.push_str(&l.text);
        self.map.lines.push(l.origin);
        if l.pieces.len() > 1 {
            self.map
                .segments
                .extend(l.pieces.into_iter().map(|(col, origin)| Segment {
                    line: i,
                    col,
                    origin,
                }));
        }
    }

    /// The lines, for editing.
    pub fn into_lines(self) -> Vec<MappedLine> {
        let mut segments = self.map.segments.into_iter().peekable();
        self.text
            .split('\n')
            .zip(self.map.lines)
            .enumerate()
            .map(|(i, (text, origin))| {
                let mut pieces = Vec::new();
                while let Some(s) = segments.next_if(|s| s.line as usize == i) {
                    pieces.push((s.col, s.origin));
                }
                MappedLine {
                    text: text.to_string(),
                    origin,
                    pieces,
                }
            })
            .collect()
    }

    /// Text from edited lines (at least one), joined by line breaks; `files` and
    /// `fragments` are the map's tables.
    pub fn from_lines(
        lines: Vec<MappedLine>,
        files: Vec<std::path::PathBuf>,
        fragments: Vec<String>,
    ) -> MappedText {
        let mut m = MappedText {
            text: String::new(),
            map: SourceMap {
                files,
                fragments,
                ..SourceMap::default()
            },
        };
        for (i, l) in lines.into_iter().enumerate() {
            if i > 0 {
                m.text.push('\n');
            }
            m.push_line(l);
        }
        if m.map.lines.is_empty() {
            m.map.lines.push(None);
        }
        m
    }

    /// The map of the text's terminated lines (the last line, when empty, is no line of a
    /// file ending with a line break).
    pub fn into_parts(mut self) -> (String, SourceMap) {
        if self.text.is_empty() || self.text.ends_with('\n') {
            self.map.lines.pop();
        }
        (self.text, self.map)
    }
}

impl MappedLine {
    /// Every piece, the single piece of a one-piece line included (at column 1).
    fn all_pieces(&self) -> Vec<(u32, Origin)> {
        if self.pieces.is_empty() {
            self.origin.iter().map(|o| (1, o.clone())).collect()
        } else {
            self.pieces.clone()
        }
    }

    /// The length of the text in characters.
    pub fn chars(&self) -> usize {
        self.text.chars().count()
    }

    /// Whether the text holds anything but blanks.
    pub fn has_content(&self) -> bool {
        self.text.chars().any(|c| c != ' ' && c != '\t')
    }

    /// Records that `removed` characters were deleted at the start of the line.
    pub fn shift_left(&mut self, removed: usize) {
        if removed == 0 {
            return;
        }
        let r = removed as i32;
        if let Some(o) = &mut self.origin {
            o.col_shift -= r;
        }
        for (c, o) in &mut self.pieces {
            *c = (*c as i32 - r).max(1) as u32;
            o.col_shift -= r;
        }
        // Pieces now starting at column 1: the last of them starts the line.
        let first = self.pieces.iter().rposition(|p| p.0 == 1).unwrap_or(0);
        self.pieces.drain(..first);
        self.settle();
    }

    /// Records that the line was cut to `len` characters.
    pub fn truncate(&mut self, len: usize) {
        while self.pieces.len() > 1 && self.pieces.last().is_some_and(|p| p.0 as usize > len) {
            self.pieces.pop();
        }
        self.settle();
    }

    /// A line left with one piece has that piece as its origin.
    fn settle(&mut self) {
        if self.pieces.len() == 1 {
            let (_, o) = self.pieces.pop().expect("one piece");
            self.origin = Some(o);
        }
    }
}
