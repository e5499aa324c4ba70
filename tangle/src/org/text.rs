//! Text with a line map: the lines a block's body becomes, each knowing where in the org
//! file its pieces came from. Every step that Org applies to a body string (noweb
//! expansion, indentation removal, `org-trim`, coderef removal) is applied here to these
//! lines, so the origins survive it.

/// Where a piece of text starts in the org file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct SrcAt {
    /// 1-based line.
    pub(super) line: u32,
    /// 0-based character column in the org line.
    pub(super) col: usize,
    /// The block (fragment) the text belongs to.
    pub(super) frag: u32,
}

/// A normalized block body: its lines with where each starts.
pub(super) type BodyText = Vec<(String, Option<SrcAt>)>;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Src {
    pub(super) line: u32,
    pub(super) shift: i32,
    pub(super) frag: u32,
}

#[derive(Debug, Clone, Default)]
pub(super) struct MLine {
    pub(super) text: String,
    /// The length of `text` in characters.
    pub(super) chars: usize,
    pub(super) origin: Option<Src>,
    /// Whether `text` holds anything but blanks.
    pub(super) content: bool,
    /// Pieces of the line with a known origin: (0-based output column, origin), in order.
    pub(super) segs: Vec<(usize, Src)>,
}

impl MLine {
    pub(super) fn add_seg(&mut self, col: usize, src: Src) {
        if self.segs.last().map(|s| s.1) != Some(src) {
            self.segs.push((col, src));
        }
    }

    /// Records that `removed` characters were deleted at the start of the line.
    pub(super) fn shift_left(&mut self, removed: usize) {
        if let Some(o) = &mut self.origin {
            o.shift -= removed as i32;
        }
        for (c, o) in &mut self.segs {
            *c = c.saturating_sub(removed);
            o.shift -= removed as i32;
        }
    }

    /// Records that the line was cut to `len` characters.
    pub(super) fn truncate_segs(&mut self, len: usize) {
        while self.segs.len() > 1 && self.segs.last().is_some_and(|s| s.0 >= len) {
            self.segs.pop();
        }
    }
}

/// Text as lines (joined by `\n`), each with where it came from.
#[derive(Debug, Clone)]
pub(super) struct MText {
    pub(super) lines: Vec<MLine>,
}

impl MText {
    pub(super) fn new() -> MText {
        MText {
            lines: vec![MLine::default()],
        }
    }

    pub(super) fn from_str(s: &str) -> MText {
        let mut m = MText::new();
        m.push_str(s, None);
        m
    }

    /// Appends `s`; `src` is the origin of the first character of `s`.
    pub(super) fn push_str(&mut self, s: &str, src: Option<SrcAt>) {
        let mut first = true;
        for piece in s.split('\n') {
            if !first {
                self.lines.push(MLine::default());
            }
            let last = self.lines.last_mut().expect("non-empty");
            if first {
                if let Some(SrcAt { line, col, frag }) = src {
                    if !piece.is_empty() {
                        let out_col = last.chars;
                        let here = Src {
                            line,
                            shift: (out_col as i64 - col as i64) as i32,
                            frag,
                        };
                        if last.origin.is_none() || !last.content {
                            last.origin = Some(here);
                        }
                        last.add_seg(out_col, here);
                    }
                }
            }
            if !piece.is_empty() {
                last.text.push_str(piece);
                last.chars += piece.chars().count();
                if !last.content && piece.chars().any(|c| c != ' ' && c != '\t') {
                    last.content = true;
                }
            }
            first = false;
        }
    }

    pub(super) fn text(&self) -> String {
        let mut s = String::new();
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(&l.text);
        }
        s
    }

    /// Appends another text, merging its first line into our last.
    pub(super) fn append(&mut self, other: MText) {
        let mut it = other.lines.into_iter();
        if let Some(first) = it.next() {
            let last = self.lines.last_mut().expect("non-empty");
            let add = last.chars;
            if let Some(o) = first.origin {
                if last.origin.is_none() || !last.content {
                    last.origin = Some(Src {
                        shift: o.shift + add as i32,
                        ..o
                    });
                }
            }
            for (c, o) in first.segs {
                last.add_seg(
                    c + add,
                    Src {
                        shift: o.shift + add as i32,
                        ..o
                    },
                );
            }
            last.text.push_str(&first.text);
            last.chars += first.chars;
            last.content |= first.content;
        }
        self.lines.extend(it);
    }
}
