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
        self.map.lines.extend(std::iter::repeat_n(None, breaks));
    }

    /// Appends another text, its first line continuing our last line (whose origin, if it
    /// has none, becomes that line's).
    pub fn append(&mut self, other: MappedText) {
        let shift = self.text[self.last_line_start()..].chars().count();
        let mut others = other.into_lines().into_iter();
        let first = others.next().expect("a mapped text has a line");
        if !first.text.is_empty() || first.origin.is_some() {
            let mut mine = self.last_line();
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

    /// Where the last line starts in `text`.
    fn last_line_start(&self) -> usize {
        self.text.rfind('\n').map_or(0, |k| k + 1)
    }

    /// The last line, for editing.
    fn last_line(&self) -> MappedLine {
        let i = self.map.lines.len() - 1;
        let first = self.map.segments.partition_point(|s| (s.line as usize) < i);
        MappedLine {
            text: self.text[self.last_line_start()..].to_string(),
            origin: self.map.lines[i].clone(),
            pieces: self.map.segments[first..]
                .iter()
                .map(|s| (s.col, s.origin.clone()))
                .collect(),
        }
    }

    /// Removes the last line (its text, not the line break before it).
    fn pop_line(&mut self) {
        let i = self.map.lines.len() - 1;
        let start = self.last_line_start();
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
        self.reindent(-(removed as i32));
    }

    /// Records that the line's leading blanks were rewritten, `delta` characters longer
    /// (negative: shorter), as when indentation is removed and a tab that straddles the new
    /// indentation becomes spaces.
    pub fn reindent(&mut self, delta: i32) {
        if delta == 0 {
            return;
        }
        if let Some(o) = &mut self.origin {
            o.col_shift += delta;
        }
        for (c, o) in &mut self.pieces {
            *c = (*c as i32 + delta).max(1) as u32;
            o.col_shift += delta;
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

/// The number of characters of `s`; most code is ASCII, which is checked a word at a time.
#[inline]
pub fn char_count(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: u32, col_shift: i32) -> Origin {
        Origin {
            file: 0,
            line,
            col_shift,
            fragment: 0,
        }
    }

    fn text(lines: &[(&str, Option<Origin>)]) -> MappedText {
        let lines = lines
            .iter()
            .map(|(t, o)| MappedLine {
                text: t.to_string(),
                origin: o.clone(),
                pieces: Vec::new(),
            })
            .collect();
        MappedText::from_lines(lines, Vec::new(), Vec::new())
    }

    #[test]
    fn append_continues_the_last_line_and_shifts_its_pieces() {
        let mut m = MappedText::generated("int main() {\n  ");
        m.append(text(&[("x;", Some(at(5, 0))), ("y;", Some(at(6, 0)))]));
        m.push_str("\n}\n");
        assert_eq!(m.text, "int main() {\n  x;\ny;\n}\n");
        assert_eq!(
            m.map.lines,
            vec![None, Some(at(5, 2)), Some(at(6, 0)), None, None]
        );
        assert!(m.map.segments.is_empty());
        let (text, map) = m.into_parts();
        assert_eq!(text.lines().count(), map.lines.len());
    }

    #[test]
    fn appending_to_a_mapped_line_records_both_pieces() {
        let mut m = text(&[("a = ", Some(at(1, 0)))]);
        m.append(text(&[("42", Some(at(9, 0)))]));
        assert_eq!(m.text, "a = 42");
        assert_eq!(m.map.lines, vec![Some(at(1, 0))]);
        let pieces: Vec<_> = m
            .map
            .segments
            .iter()
            .map(|s| (s.col, s.origin.line))
            .collect();
        assert_eq!(pieces, vec![(1, 1), (5, 9)]);
        let mut l = m.into_lines().pop().unwrap();
        l.text.truncate(3);
        l.truncate(3);
        assert!(l.pieces.is_empty());
        assert_eq!(l.origin, Some(at(1, 0)));
    }

    #[test]
    fn shifting_left_moves_origins_and_pieces() {
        let mut l = MappedLine {
            text: "    x = y".into(),
            origin: Some(at(3, 0)),
            pieces: vec![(1, at(3, 0)), (9, at(4, 8))],
        };
        l.text.drain(..4);
        l.shift_left(4);
        assert_eq!(l.origin, Some(at(3, -4)));
        assert_eq!(l.pieces, vec![(1, at(3, -4)), (5, at(4, 4))]);
    }
}
