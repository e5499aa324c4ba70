//! The expander, shared by the Markdown and org readers: turns a root block into text by
//! replacing every reference with what it resolves to, with org-babel's semantics: the text
//! before a reference is repeated before every line of the expansion, the text after it
//! follows the last line. Where the readers differ, a [`Dialect`] decides.
//!
//! Expansion runs on an explicit stack, so deep (legal) nesting cannot overflow the call stack,
//! and it records for every output line where it came from.
//!
//! Memory stays proportional to the output: frames share one prefix buffer (a child's prefix
//! always extends its caller's), and a frame's prefix is only copied there when the output
//! line it is part of ends; a reference whose expansion fits on one line copies nothing.

use crate::diag::Diagnostic;
use crate::dialect::{CalledAt, CycleStep, Dialect, PrefixRule, Separator};
use crate::mapped::{char_count, MappedText};
use crate::output::{Origin, Segment, SourceMap};

/// Where a piece of text stands in the line being built: bytes and characters.
#[derive(Debug, Clone, Copy, Default)]
struct At {
    bytes: usize,
    chars: usize,
}

/// An expansion in progress: the root block, or what a reference resolved to.
struct Frame<U, T> {
    /// `None` for the root block.
    target: Option<T>,
    part: usize,
    /// Next body line to emit within the current part.
    line: usize,
    /// Whether the current part was entered (its key checked and marked).
    entered: bool,
    expands: bool,
    key: Option<usize>,
    /// Whether this frame has emitted its first line (which continues the caller's line).
    started: bool,
    /// Whether the next line continues the current output line (after separator text).
    continues: bool,
    /// The text that this frame's prefix adds to its caller's.
    contrib: Contribution,
    /// The frame's prefix: bytes, characters and pieces (the pieces known once it is copied
    /// into the shared buffer, see [`Engine::materialize`]).
    plen: usize,
    pchars: usize,
    psegs: usize,
    /// Where this frame's own text starts on the output line numbered `base_line` (on later
    /// lines: after its prefix).
    base: At,
    base_line: usize,
    called_at: CalledAt<U>,
    /// Remaining text of the current line after a reference, still to be scanned.
    rest: Option<Resume<U>>,
}

/// The text a frame's prefix adds to its caller's, while the line the frame was opened on is
/// built: a range of the current line (see [`Engine::line_start`]) and the index of the first piece overlapping it.
#[derive(Debug, Clone, Copy, Default)]
struct Contribution {
    from: At,
    to: At,
    first_piece: usize,
}

/// A place to resume scanning: block, body line, byte offset and character offset.
#[derive(Clone, Copy)]
struct Resume<U> {
    unit: U,
    line: usize,
    offset: usize,
    chars: usize,
}

/// What a frame does next.
enum Step<U> {
    Line(U, usize),
    Again,
    Done,
}

struct Engine<'d, 's, D: Dialect<'s>> {
    d: &'d mut D,
    root: D::Unit,
    rules: crate::dialect::Rules,
    /// Where the output line being built starts in `out.text`: the line is written in place.
    line_start: usize,
    /// Byte offset in the current line where the current line's own content starts (after its prefix).
    cur_content_start: usize,
    /// Characters in the current line.
    cur_chars: usize,
    /// The pieces of the current line: starting column and origin.
    cur_segments: Vec<(u32, Origin)>,
    cur_origin: Option<Origin>,
    /// Where the current scan of a body line started in the current line (after the last reference).
    scan_start: At,
    /// The prefixes of the frames whose prefix was copied, and their pieces; each frame's
    /// is the start of the buffer.
    prefix: String,
    prefix_segments: Vec<(u32, Origin)>,
    /// How many frames, from the bottom of the stack, have their prefix in the buffer.
    materialized: usize,
    on_stack: Vec<bool>,
    /// Output lines finished so far.
    lines: usize,
    /// Whether finished lines' origins and pieces go into the map.
    map_lines: bool,
    out: MappedText,
    _text: std::marker::PhantomData<&'s str>,
}

/// Expands block `root` with dialect `d`: its text with every reference replaced, and where
/// each line came from. The last line is terminated or left open as the dialect's rules say.
pub fn expand<'s, D: Dialect<'s>>(d: &mut D, root: D::Unit) -> Result<MappedText, Diagnostic> {
    expand_with(d, root, true)
}

/// [`expand`], recording each line's origin and pieces in the map only if `lines`.
pub fn expand_with<'s, D: Dialect<'s>>(
    d: &mut D,
    root: D::Unit,
    lines: bool,
) -> Result<MappedText, Diagnostic> {
    let rules = d.rules();
    let keys = d.key_count();
    let mut ex = Engine {
        d,
        root,
        rules,
        line_start: 0,
        cur_content_start: 0,
        cur_chars: 0,
        cur_segments: Vec::new(),
        cur_origin: None,
        scan_start: At::default(),
        prefix: String::new(),
        prefix_segments: Vec::new(),
        materialized: 1,
        on_stack: vec![false; keys],
        lines: 0,
        map_lines: lines,
        out: MappedText {
            text: String::new(),
            map: SourceMap::default(),
        },
        _text: std::marker::PhantomData,
    };
    let mut stack = vec![Frame {
        target: None,
        part: 0,
        line: 0,
        entered: false,
        expands: false,
        key: None,
        started: false,
        continues: false,
        contrib: Contribution::default(),
        plen: 0,
        pchars: 0,
        psegs: 0,
        base: At::default(),
        base_line: 0,
        called_at: CalledAt {
            unit: root,
            line: 0,
            chars: 0,
        },
        rest: None,
    }];
    let mut any_line = false;
    while let Some(top) = stack.last_mut() {
        if let Some(r) = top.rest.take() {
            ex.scan(&mut stack, r)?;
            continue;
        }
        let (u, i) = match ex.next_line(&mut stack)? {
            Step::Again => continue,
            Step::Line(u, i) => (u, i),
            Step::Done => {
                let done = stack.pop().expect("stack is not empty");
                if let (true, Some(k)) = (done.entered, done.key) {
                    ex.on_stack[k] = false;
                }
                if ex.materialized > stack.len() {
                    // The frame's prefix is in the shared buffer: give the caller's back.
                    ex.materialized -= 1;
                    if let Some(caller) = stack.last() {
                        ex.prefix.truncate(caller.plen);
                        ex.prefix_segments.truncate(caller.psegs);
                    }
                }
                continue;
            }
        };
        any_line = true;
        let top = stack.last_mut().expect("stack is not empty");
        let new_line = top.started && !top.continues;
        top.started = true;
        top.continues = false;
        if new_line {
            ex.new_line(&mut stack);
        }
        let top = stack.last().expect("stack is not empty");
        if ex.map_lines {
            let shift = ex.cur_chars as i32 - ex.d.line_shift(u, i);
            let origin = ex.d.origin(&mut ex.out.map, top.target, u, i, shift);
            ex.push_segment(origin.clone());
            ex.cur_origin = Some(origin);
        } else {
            ex.d.note_unit(&mut ex.out.map, u);
        }
        let depth = stack.len();
        ex.scan(
            &mut stack,
            Resume {
                unit: u,
                line: i,
                offset: 0,
                chars: 0,
            },
        )?;
        if !ex.map_lines && stack.len() == depth {
            // No reference opened on the line: the lines after it that hold none are copied
            // in one go, each as the loop would (a new line, then the line's text).
            let top = stack.last_mut().expect("stack is not empty");
            let from = top.line;
            let plain = if top.expands {
                ex.d.plain_lines(u, from)
            } else {
                ex.d.line_count(u) - from
            };
            top.line += plain;
            ex.plain_lines(&mut stack, u, from..from + plain);
        }
    }
    if any_line && ex.rules.terminate {
        ex.emit();
    }
    // The last, open line.
    ex.finish_line(false);
    Ok(ex.out)
}

impl<'s, D: Dialect<'s>> Engine<'_, 's, D> {
    /// The next body line of the top frame, moving across its parts (entering a part checks
    /// for a cycle; leaving one emits the separator).
    fn next_line(
        &mut self,
        stack: &mut [Frame<D::Unit, D::Target>],
    ) -> Result<Step<D::Unit>, Diagnostic> {
        let n = stack.len();
        let top = &mut stack[n - 1];
        let part = match top.target {
            Some(t) => self.d.part(t, top.part),
            None => (top.part == 0).then_some(self.root),
        };
        let Some(u) = part else {
            return Ok(Step::Done);
        };
        if !top.entered {
            top.entered = true;
            top.expands = self.d.expands(top.target, u);
            top.key = if top.expands {
                self.d.key(top.target, u)
            } else {
                None
            };
            if let Some(k) = top.key {
                if self.on_stack[k] {
                    return Err(self.cycle(stack, k));
                }
                self.on_stack[k] = true;
            }
            return Ok(Step::Again);
        }
        if top.line < self.d.line_count(u) {
            top.line += 1;
            return Ok(Step::Line(u, top.line - 1));
        }
        // Leave the part.
        if let Some(k) = top.key {
            self.on_stack[k] = false;
        }
        top.part += 1;
        top.line = 0;
        top.entered = false;
        top.key = None;
        if let Some(t) = top.target {
            if self.d.part(t, top.part).is_some() {
                if let Separator::Text(s) = self.d.separator(t, top.part - 1)? {
                    let top = &mut stack[n - 1];
                    top.started = true;
                    top.continues = true;
                    self.text(stack, &s);
                }
            }
        }
        Ok(Step::Again)
    }

    /// Emits separator text in the top frame, its line breaks repeating the prefix.
    fn text(&mut self, stack: &mut [Frame<D::Unit, D::Target>], s: &str) {
        let cr = self.rules.cr_breaks;
        for (k, piece) in s.split(|c| c == '\n' || (cr && c == '\r')).enumerate() {
            if k > 0 {
                self.new_line(stack);
            }
            self.push(piece);
        }
    }

    /// Ends the current output line and starts the next with the top frame's prefix.
    fn new_line(&mut self, stack: &mut [Frame<D::Unit, D::Target>]) {
        self.materialize(stack);
        self.emit();
        let top = stack.last().expect("stack is not empty");
        self.out.text.push_str(&self.prefix[..top.plen]);
        self.cur_content_start = self.cur_len();
        self.cur_chars = top.pchars;
        self.cur_segments
            .extend_from_slice(&self.prefix_segments[..top.psegs]);
    }

    /// Emits lines `lines` of `unit`, which hold no reference, each on a new line after the
    /// top frame's prefix, as [`Engine::new_line`] and [`Engine::push`] would one by one. For
    /// an expansion without line map only: once the first line has put every prefix in the
    /// buffer, a new line is the line end, the prefix and the text, with no piece to keep.
    fn plain_lines(
        &mut self,
        stack: &mut [Frame<D::Unit, D::Target>],
        unit: D::Unit,
        mut lines: std::ops::Range<usize>,
    ) {
        debug_assert!(!self.map_lines);
        let Some(first) = lines.next() else {
            return;
        };
        self.new_line(stack);
        self.push(self.d.line(unit, first));
        let top = stack.last().expect("stack is not empty");
        let (plen, pchars) = (top.plen, top.pchars);
        debug_assert!(self.materialized == stack.len() && self.prefix_segments.is_empty());
        for k in lines {
            // `emit`: a line whose own content is empty loses its trailing whitespace.
            if self.rules.trim_blank_lines && self.cur_len() == self.cur_content_start {
                let keep = self.out.text[self.line_start..].trim_end().len();
                self.out.text.truncate(self.line_start + keep);
            }
            self.out.text.push('\n');
            self.lines += 1;
            self.line_start = self.out.text.len();
            self.out.text.push_str(&self.prefix[..plen]);
            self.cur_content_start = plen;
            let line = self.d.line(unit, k);
            self.out.text.push_str(line);
            self.cur_chars = pchars + char_count(line);
        }
    }

    /// Where frame `f`'s own text starts on the current line.
    fn base(&self, f: &Frame<D::Unit, D::Target>) -> At {
        if f.base_line == self.lines {
            f.base
        } else {
            At {
                bytes: f.plen,
                chars: f.pchars,
            }
        }
    }

    /// Copies the prefixes of the frames opened on the current line into the shared buffer,
    /// before the line ends: each is its caller's and the text it adds.
    fn materialize(&mut self, stack: &mut [Frame<D::Unit, D::Target>]) {
        while self.materialized < stack.len() {
            let (below, above) = stack.split_at_mut(self.materialized);
            let caller = below.last().expect("the root frame's prefix is empty");
            let frame = &mut above[0];
            debug_assert_eq!(self.prefix.len(), caller.plen);
            let Contribution {
                from,
                to,
                first_piece: first,
            } = frame.contrib;
            let line = &self.out.text[self.line_start..];
            self.prefix.push_str(&line[from.bytes..to.bytes]);
            if to.chars > from.chars {
                // The text moves from column `from` to the end of the caller's prefix (under
                // Markdown's rule it stays where it is).
                let moved = caller.pchars as i32 - from.chars as i32;
                for (col, origin) in &self.cur_segments[first..] {
                    let start = *col as usize - 1;
                    if start >= to.chars {
                        break;
                    }
                    let col = (start.max(from.chars) - from.chars + caller.pchars + 1) as u32;
                    let origin = Origin {
                        col_shift: origin.col_shift + moved,
                        ..origin.clone()
                    };
                    if self.prefix_segments.last().map(|p| &p.1) != Some(&origin) {
                        self.prefix_segments.push((col, origin));
                    }
                }
            }
            frame.psegs = self.prefix_segments.len();
            debug_assert_eq!(self.prefix.len(), frame.plen);
            self.materialized += 1;
        }
    }

    /// Finishes the current output line. Under Markdown's rules a line whose own content is
    /// empty is a blank line of an expansion and gets no trailing whitespace from its prefix.
    fn emit(&mut self) {
        if self.rules.trim_blank_lines && self.cur_len() == self.cur_content_start {
            let keep = self.out.text[self.line_start..].trim_end().len();
            self.out.text.truncate(self.line_start + keep);
        }
        self.finish_line(true);
        self.lines += 1;
    }

    fn finish_line(&mut self, newline: bool) {
        if newline {
            self.out.text.push('\n');
        }
        self.line_start = self.out.text.len();
        let origin = self.cur_origin.take();
        if !self.map_lines {
            self.cur_segments.clear();
        } else {
            self.out.map.lines.push(origin);
        }
        if self.cur_segments.len() > 1 {
            let line = self.out.map.lines.len() as u32 - 1;
            let segments =
                self.cur_segments
                    .drain(..)
                    .map(|(col, origin)| Segment { line, col, origin });
            self.out.map.segments.extend(segments);
        }
        self.cur_segments.clear();
        self.cur_content_start = 0;
        self.cur_chars = 0;
    }

    /// Appends the rest of a body line, from `r`, on to the current line, up to its first
    /// reference that resolves; pushes the frame that expands it.
    fn scan(
        &mut self,
        stack: &mut Vec<Frame<D::Unit, D::Target>>,
        r: Resume<D::Unit>,
    ) -> Result<(), Diagnostic> {
        let Resume {
            unit: at,
            line: i,
            mut offset,
            mut chars,
        } = r;
        let text = self.d.line(at, i);
        let (target, expands) = {
            let top = stack.last().expect("scanning frame");
            (top.target, top.expands)
        };
        loop {
            if offset > 0 && self.map_lines {
                // Resuming after a reference: the rest of the line is a piece of its own.
                let shift = self.cur_chars as i32 - self.d.line_shift(at, i) - chars as i32;
                let origin = self.d.origin(&mut self.out.map, target, at, i, shift);
                self.push_segment(origin);
            }
            self.scan_start = At {
                bytes: self.cur_len(),
                chars: self.cur_chars,
            };
            let found = if expands {
                self.d.find_reference(at, i, text, offset)
            } else {
                None
            };
            let Some(f) = found else {
                self.push(&text[offset..]);
                return Ok(());
            };
            let before = self.push(&text[offset..f.open]);
            let called_at = CalledAt {
                unit: at,
                line: i,
                chars: chars + before,
            };
            let reference = char_count(&text[f.open..f.end]);
            let resolved = self.d.resolve(&text[f.name.0..f.name.1], called_at)?;
            offset = f.end;
            chars += before + reference;
            let Some(t) = resolved else {
                continue;
            };
            self.open(stack, t, called_at);
            let n = stack.len();
            stack[n - 2].rest = Some(Resume {
                unit: at,
                line: i,
                offset,
                chars,
            });
            return Ok(());
        }
    }

    /// Pushes the frame for a reference to `t` at `called_at`, its prefix the caller's and
    /// the text before the reference that the dialect's prefix rule takes.
    fn open(
        &mut self,
        stack: &mut Vec<Frame<D::Unit, D::Target>>,
        t: D::Target,
        called_at: CalledAt<D::Unit>,
    ) {
        let caller = stack.last().expect("a calling frame");
        let from = match self.rules.prefix {
            PrefixRule::Line => self.base(caller),
            PrefixRule::SinceLastReference => self.scan_start,
        };
        let to = At {
            bytes: self.cur_len(),
            chars: self.cur_chars,
        };
        let first = self
            .cur_segments
            .partition_point(|(col, _)| (*col as usize - 1) <= from.chars)
            .saturating_sub(1);
        let frame = Frame {
            target: Some(t),
            part: 0,
            line: 0,
            entered: false,
            expands: false,
            key: None,
            started: false,
            continues: false,
            contrib: Contribution {
                from,
                to,
                first_piece: first,
            },
            plen: caller.plen + (to.bytes - from.bytes),
            pchars: caller.pchars + (to.chars - from.chars),
            psegs: 0,
            base: to,
            base_line: self.lines,
            called_at,
            rest: None,
        };
        self.cur_content_start = self.cur_len();
        stack.push(frame);
    }

    /// The error for the top frame, entering key `k` that a frame below already expands.
    fn cycle(&self, stack: &[Frame<D::Unit, D::Target>], k: usize) -> Diagnostic {
        let n = stack.len();
        let first = stack[..n - 1]
            .iter()
            .position(|f| f.key == Some(k))
            .expect("the key is on the stack");
        let steps: Vec<CycleStep<D::Unit>> = stack[first..n - 1]
            .iter()
            .map(|f| CycleStep {
                key: f.key.expect("keyed frames"),
                called_at: f.called_at,
            })
            .collect();
        self.d.cycle(
            &steps,
            CycleStep {
                key: k,
                called_at: stack[n - 1].called_at,
            },
        )
    }

    /// Starts a new piece of the current line at the current column; a piece that this one
    /// starts at the same column is empty and is dropped (and when it was the line's main
    /// piece, as after a reference that expands to nothing, the new piece is).
    fn push_segment(&mut self, origin: Origin) {
        let col = self.cur_chars as u32 + 1;
        while let Some((c, _)) = self.cur_segments.last() {
            if *c != col {
                break;
            }
            let (_, dropped) = self.cur_segments.pop().expect("a piece");
            if self.cur_origin.as_ref() == Some(&dropped) {
                self.cur_origin = Some(origin.clone());
            }
        }
        self.cur_segments.push((col, origin));
    }

    /// The length in bytes of the current line so far.
    fn cur_len(&self) -> usize {
        self.out.text.len() - self.line_start
    }

    /// Appends text to the current line; returns its length in characters.
    fn push(&mut self, text: &str) -> usize {
        let n = char_count(text);
        self.out.text.push_str(text);
        self.cur_chars += n;
        n
    }
}

#[cfg(test)]
mod tests {
    //! The expander with a dialect of its own: blocks of lines, `<<name>>` naming a block.
    use super::*;
    use crate::diag::Pos;
    use crate::dialect::{Found, Rules};

    /// Block `b` is named `names[b]`; the root is block 0.
    struct Toy {
        names: std::collections::HashMap<&'static str, usize>,
        blocks: Vec<Vec<&'static str>>,
        rules: Rules,
    }

    impl Toy {
        fn new(blocks: &[(&'static str, &[&'static str])], prefix: PrefixRule) -> Toy {
            Toy {
                names: blocks
                    .iter()
                    .enumerate()
                    .map(|(b, (n, _))| (*n, b))
                    .collect(),
                blocks: blocks.iter().map(|(_, b)| b.to_vec()).collect(),
                rules: Rules {
                    prefix,
                    trim_blank_lines: true,
                    cr_breaks: false,
                    terminate: true,
                },
            }
        }
    }

    impl<'s> Dialect<'s> for Toy {
        type Unit = usize;
        type Target = usize;

        fn rules(&self) -> Rules {
            self.rules
        }
        fn part(&self, target: usize, k: usize) -> Option<usize> {
            (k == 0).then_some(target)
        }
        fn line_count(&self, unit: usize) -> usize {
            self.blocks[unit].len()
        }
        fn line(&self, unit: usize, i: usize) -> &'s str {
            self.blocks[unit][i]
        }
        fn line_shift(&self, _: usize, _: usize) -> i32 {
            0
        }
        fn find_reference(&self, _: usize, _: usize, line: &'s str, from: usize) -> Option<Found> {
            let open = from + line[from..].find("<<")?;
            let close = open + line[open..].find(">>")?;
            Some(Found {
                open,
                name: (open + 2, close),
                end: close + 2,
            })
        }
        fn resolve(
            &mut self,
            name: &'s str,
            at: CalledAt<usize>,
        ) -> Result<Option<usize>, Diagnostic> {
            match self.names.get(name) {
                Some(&b) => Ok(Some(b)),
                None => Err(Diagnostic::error(
                    Pos::new("toy", at.line + 1, at.chars + 1),
                    format!("no block `{name}`"),
                )),
            }
        }
        fn key(&self, target: Option<usize>, _: usize) -> Option<usize> {
            target
        }
        fn key_count(&self) -> usize {
            self.blocks.len()
        }
        fn origin(
            &mut self,
            map: &mut SourceMap,
            _: Option<usize>,
            unit: usize,
            i: usize,
            col_shift: i32,
        ) -> Origin {
            if map.files.is_empty() {
                map.files.push("toy".into());
            }
            Origin {
                file: 0,
                line: (unit * 100 + i + 1) as u32,
                col_shift,
                fragment: 0,
            }
        }
        fn cycle(&self, steps: &[CycleStep<usize>], again: CycleStep<usize>) -> Diagnostic {
            Diagnostic::error(
                Pos::new("toy", again.called_at.line + 1, 1),
                format!("cycle of {} steps", steps.len()),
            )
        }
    }

    fn text(toy: &mut Toy) -> Result<(String, SourceMap), Diagnostic> {
        expand_with(toy, 0, true).map(MappedText::into_parts)
    }

    #[test]
    fn a_prefix_is_repeated_before_every_line_and_the_suffix_follows_the_last() {
        let mut toy = Toy::new(
            &[
                ("root", &["fn f() {", "    <<body>>;", "}"]),
                ("body", &["a", "", "b"]),
            ],
            PrefixRule::Line,
        );
        let (text, map) = text(&mut toy).unwrap();
        assert_eq!(text, "fn f() {\n    a\n\n    b;\n}\n");
        // Every line maps back to its own block's line, shifted by the reference's column (the
        // blank line too, whose trimmed prefix has no characters left to shift).
        let lines: Vec<(u32, i32)> = map
            .lines
            .iter()
            .map(|o| o.as_ref().map(|o| (o.line, o.col_shift)).unwrap())
            .collect();
        assert_eq!(lines, [(1, 0), (101, 4), (102, 4), (103, 4), (3, 0)]);
    }

    #[test]
    fn the_prefix_rule_is_the_dialects() {
        let blocks: &[(&str, &[&str])] = &[
            ("root", &["x <<a>> y <<b>>"]),
            ("a", &["1", "2"]),
            ("b", &["3", "4"]),
        ];
        let (line, _) = text(&mut Toy::new(blocks, PrefixRule::Line)).unwrap();
        let (since, _) = text(&mut Toy::new(blocks, PrefixRule::SinceLastReference)).unwrap();
        assert_eq!(line, "x 1\nx 2 y 3\nx 2 y 4\n");
        assert_eq!(since, "x 1\nx 2 y 3\n y 4\n");
    }

    #[test]
    fn a_cycle_and_an_unknown_name_are_the_dialects_errors() {
        let mut cycle = Toy::new(
            &[("root", &["<<a>>"]), ("a", &["<<b>>"]), ("b", &["<<a>>"])],
            PrefixRule::Line,
        );
        assert_eq!(text(&mut cycle).unwrap_err().message, "cycle of 2 steps");
        let mut unknown = Toy::new(&[("root", &["", "  <<gone>>"])], PrefixRule::Line);
        let e = text(&mut unknown).unwrap_err();
        assert_eq!(
            (
                e.message.as_str(),
                e.pos.as_ref().unwrap().line,
                e.pos.as_ref().unwrap().col
            ),
            ("no block `gone`", 2, 3)
        );
    }

    /// The origins' lines (block × 100 + line) of the output's lines.
    fn origins(map: &SourceMap) -> Vec<u32> {
        map.lines
            .iter()
            .map(|o| o.as_ref().map_or(0, |o| o.line))
            .collect()
    }

    #[test]
    fn a_block_used_twice_is_expanded_twice_each_copy_mapped_to_it() {
        let mut toy = Toy::new(
            &[("root", &["<<a>>", "-", "<<a>>"]), ("a", &["x", "y"])],
            PrefixRule::Line,
        );
        let (text, map) = text(&mut toy).unwrap();
        assert_eq!(text, "x\ny\n-\nx\ny\n");
        assert_eq!(origins(&map), [101, 102, 2, 101, 102]);
    }

    #[test]
    fn nested_prefixes_add_up() {
        let mut toy = Toy::new(
            &[
                ("root", &["  <<a>>"]),
                ("a", &["- <<b>> !", "end"]),
                ("b", &["1", "2"]),
            ],
            PrefixRule::Line,
        );
        let (text, map) = text(&mut toy).unwrap();
        assert_eq!(text, "  - 1\n  - 2 !\n  end\n");
        assert_eq!(origins(&map), [201, 202, 102]);
    }

    #[test]
    fn a_blank_line_drops_its_prefix_only_if_the_dialect_trims() {
        let blocks: &[(&str, &[&str])] = &[("root", &["// <<a>>"]), ("a", &["x", "", "y"])];
        let (trimmed, _) = text(&mut Toy::new(blocks, PrefixRule::Line)).unwrap();
        assert_eq!(trimmed, "// x\n//\n// y\n");
        let mut kept = Toy::new(blocks, PrefixRule::Line);
        kept.rules.trim_blank_lines = false;
        assert_eq!(text(&mut kept).unwrap().0, "// x\n// \n// y\n");
    }

    #[test]
    fn the_last_line_is_left_open_if_the_dialect_says() {
        let mut toy = Toy::new(
            &[("root", &["<<a>>"]), ("a", &["x", "y"])],
            PrefixRule::Line,
        );
        toy.rules.terminate = false;
        assert_eq!(text(&mut toy).unwrap().0, "x\ny");
    }

    #[test]
    fn without_line_maps_the_text_is_the_same() {
        let blocks: &[(&str, &[&str])] = &[
            ("root", &["a <<b>> c", "<<b>>"]),
            ("b", &["1", "  <<d>>"]),
            ("d", &["é", ""]),
        ];
        let with = text(&mut Toy::new(blocks, PrefixRule::Line)).unwrap();
        let without = expand_with(&mut Toy::new(blocks, PrefixRule::Line), 0, false)
            .unwrap()
            .into_parts();
        assert_eq!(with.0, without.0);
        assert_eq!(with.1.lines.len(), with.0.lines().count());
        assert!(without.1.lines.iter().all(Option::is_none));
    }

    #[test]
    fn deep_nesting_runs_on_the_expanders_own_stack() {
        // A chain of 20,000 references, each block naming the next, indented one more space:
        // far deeper than a recursive expander's call stack would allow in a test thread.
        let depth = 20_000;
        let names: Vec<&'static str> = (0..=depth)
            .map(|k| &*Box::leak(format!("b{k}").into_boxed_str()))
            .collect();
        let lines: Vec<&'static str> = (0..depth)
            .map(|k| &*Box::leak(format!(" <<b{}>>", k + 1).into_boxed_str()))
            .chain(["leaf"])
            .collect();
        let blocks: Vec<(&'static str, &[&'static str])> = (0..=depth)
            .map(|k| (names[k], std::slice::from_ref(&lines[k])))
            .collect();
        let (text, map) = text(&mut Toy::new(&blocks, PrefixRule::Line)).unwrap();
        assert_eq!(text, format!("{}leaf\n", " ".repeat(depth)));
        assert_eq!(origins(&map), [(depth * 100 + 1) as u32]);
    }
}
