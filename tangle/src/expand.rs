//! The expander: turns a root into text by replacing every `<<name>>` reference with the
//! fragment's lines, with org-babel's semantics: the text before a reference is repeated before
//! every line of the expansion, the text after it follows the last line.
//!
//! Expansion runs on an explicit stack, so deep (legal) nesting cannot overflow the call stack,
//! and it records for every output line where it came from.
//!
//! Memory stays proportional to the output: frames share one prefix buffer (a child's prefix
//! always extends its caller's), and a frame's prefix is only copied there when the output
//! line it is part of ends; a reference whose expansion fits on one line copies nothing.

use crate::diag::{Diagnostic, Pos};
use crate::model::{find_reference, BlockRef, Web};
use crate::output::{Origin, Segment, SourceMap};

/// The text of one root, without header, and its line map. Lines end with `\n`.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    pub text: String,
    pub map: SourceMap,
}

/// What is being expanded: a root block, or a fragment reached by a reference.
struct Frame {
    /// The fragment, or `None` for the root block.
    fragment: Option<usize>,
    part: usize,
    /// Next body line to emit within the current part.
    line: usize,
    /// Whether this frame has emitted its first line (which continues the caller's line).
    started: bool,
    /// The text repeated before each of this frame's lines after the first: the output line
    /// as it stood when the frame was opened, `prefix_len` bytes (`prefix_chars` characters)
    /// in `prefix_segments` pieces. While that line is being built, the prefix is the start
    /// of [`Expander::cur`], except that its last piece (`last_piece`, an empty piece) may
    /// have been replaced there by a later one at the same column. When the line ends, the
    /// prefix is copied into the shared [`Expander::prefix`] buffer (see
    /// [`Expander::materialize`]).
    prefix_len: usize,
    prefix_chars: usize,
    prefix_segments: usize,
    last_piece: Option<(u32, Origin)>,
    /// Once copied: the caller's last prefix piece, when this frame's prefix replaced it in
    /// the shared buffer; put back when this frame ends.
    replaced: Option<(u32, Origin)>,
    /// Where the reference that opened this frame stands (for cycle messages): block, body
    /// line, 1-based column.
    called_at: (BlockRef, usize, usize),
    /// Remaining text of the current line after a reference, still to be scanned.
    rest: Option<Resume>,
}

/// A place to resume scanning: block, body line, byte offset and character offset.
type Resume = (BlockRef, usize, usize, usize);

/// How many steps of a long cycle an error shows at its start and at its end.
const CYCLE_SHOWN: usize = 4;

/// Expands root `root` of `web`. Errors: an undefined reference, a reference cycle.
pub fn expand_root(web: &Web, root: usize) -> Result<Expansion, Diagnostic> {
    let r = &web.roots[root];
    let root_block = web.block(r.block);
    let mut ex = Expander {
        web,
        root: r.block,
        cur: String::new(),
        cur_content_start: 0,
        cur_chars: 0,
        cur_segments: Vec::new(),
        cur_origin: None,
        prefix: String::new(),
        prefix_segments: Vec::new(),
        materialized: 1,
        on_stack: vec![false; web.fragments.len()],
        out: Expansion::default(),
        file_ids: Vec::new(),
        fragment_ids: vec![u32::MAX; web.fragments.len() + 1],
    };
    let mut stack = vec![Frame {
        fragment: None,
        part: 0,
        line: 0,
        started: false,
        prefix_len: 0,
        prefix_chars: 0,
        prefix_segments: 0,
        last_piece: None,
        replaced: None,
        called_at: (r.block, 0, root_block.indent + 1),
        rest: None,
    }];
    let mut any_line = false;
    while let Some(top) = stack.last_mut() {
        if let Some((at, line, offset, chars)) = top.rest.take() {
            if let Some((child, resume)) = ex.scan(&stack, at, line, offset, chars)? {
                stack.last_mut().expect("scanning frame").rest = Some(resume);
                stack.push(child);
            }
            continue;
        }
        let Some((at, i)) = ex.next_line(top) else {
            let done = stack.pop().expect("stack is not empty");
            if let Some(f) = done.fragment {
                ex.on_stack[f] = false;
            }
            if ex.materialized > stack.len() {
                // The frame's prefix is in the shared buffer: give the caller's back.
                ex.materialized -= 1;
                let Some(caller) = stack.last() else {
                    break; // the root frame
                };
                ex.prefix.truncate(caller.prefix_len);
                match done.replaced {
                    Some(piece) => {
                        ex.prefix_segments.truncate(caller.prefix_segments - 1);
                        ex.prefix_segments.push(piece);
                    }
                    None => ex.prefix_segments.truncate(caller.prefix_segments),
                }
            }
            continue;
        };
        any_line = true;
        if top.started {
            ex.materialize(&mut stack);
            ex.emit();
            let top = stack.last_mut().expect("stack is not empty");
            ex.cur.push_str(&ex.prefix[..top.prefix_len]);
            ex.cur_content_start = ex.cur.len();
            ex.cur_chars = top.prefix_chars;
            ex.cur_segments
                .extend_from_slice(&ex.prefix_segments[..top.prefix_segments]);
        }
        let top = stack.last_mut().expect("stack is not empty");
        top.started = true;
        let block = web.block(at);
        let shift = ex.cur_chars as i32 - block.shift(i);
        let fragment = top.fragment;
        let origin = ex.origin(at, i, shift, fragment);
        ex.push_segment(origin.clone());
        ex.cur_origin = Some(origin);
        if let Some((child, resume)) = ex.scan(&stack, at, i, 0, 0)? {
            stack.last_mut().expect("scanning frame").rest = Some(resume);
            stack.push(child);
        }
    }
    if any_line {
        ex.emit();
    }
    Ok(ex.out)
}

struct Expander<'w> {
    web: &'w Web,
    /// The root block being expanded.
    root: BlockRef,
    /// The output line being built.
    cur: String,
    /// Byte offset in `cur` where the current line's own content starts (after its prefix).
    cur_content_start: usize,
    /// Characters in `cur`.
    cur_chars: usize,
    /// The pieces of `cur`: starting column and origin.
    cur_segments: Vec<(u32, Origin)>,
    cur_origin: Option<Origin>,
    /// The prefix of the topmost frame whose prefix was copied, and its pieces (see
    /// [`Frame`]); the frames below it own the buffer's starts.
    prefix: String,
    prefix_segments: Vec<(u32, Origin)>,
    /// How many frames, from the bottom of the stack, have their prefix in the buffer.
    materialized: usize,
    on_stack: Vec<bool>,
    out: Expansion,
    /// Chapter index → index in `out.map.files` (+1; 0 = not yet added).
    file_ids: Vec<u32>,
    /// Fragment index (last slot: the root) → index in `out.map.fragments`.
    fragment_ids: Vec<u32>,
}

impl Expander<'_> {
    /// The blocks whose lines a frame emits, in order.
    fn parts(&self, frame: &Frame) -> &[BlockRef] {
        match frame.fragment {
            Some(f) => &self.web.fragments[f].parts,
            None => std::slice::from_ref(&self.root),
        }
    }

    /// The next body line of a frame, moving across its parts.
    fn next_line(&self, frame: &mut Frame) -> Option<(BlockRef, usize)> {
        while let Some(&at) = self.parts(frame).get(frame.part) {
            if frame.line < self.web.block(at).lines.len() {
                frame.line += 1;
                return Some((at, frame.line - 1));
            }
            frame.part += 1;
            frame.line = 0;
        }
        None
    }

    /// Copies the prefixes of the frames opened on the current line into the shared buffer,
    /// before the line ends. Each extends its caller's prefix, so the buffer grows by the
    /// difference; its pieces agree with the caller's except perhaps the last (an empty piece
    /// that a later piece at the same column replaced).
    fn materialize(&mut self, stack: &mut [Frame]) {
        while self.materialized < stack.len() {
            let (below, above) = stack.split_at_mut(self.materialized);
            let caller = below.last().expect("the root frame's prefix is empty");
            let frame = &mut above[0];
            debug_assert_eq!(self.prefix.len(), caller.prefix_len);
            self.prefix
                .push_str(&self.cur[caller.prefix_len..frame.prefix_len]);
            // The frame's pieces are the current line's, but for the last.
            let nf = frame.prefix_segments;
            let piece = |k: usize| -> (u32, Origin) {
                if k + 1 == nf {
                    frame.last_piece.clone().expect("a last piece")
                } else {
                    self.cur_segments[k].clone()
                }
            };
            let n = caller.prefix_segments;
            debug_assert!(nf + 1 >= n);
            let keep = if n > 0 && (nf < n || piece(n - 1) != self.prefix_segments[n - 1]) {
                n - 1
            } else {
                n
            };
            frame.replaced = (keep < n).then(|| self.prefix_segments[n - 1].clone());
            let pieces: Vec<(u32, Origin)> = (keep..nf).map(piece).collect();
            self.prefix_segments.truncate(keep);
            self.prefix_segments.extend(pieces);
            self.materialized += 1;
        }
    }

    /// Finishes the current output line. A line whose own content is empty is a blank line
    /// of an expansion and gets no trailing whitespace from its prefix.
    fn emit(&mut self) {
        if self.cur.len() == self.cur_content_start {
            let keep = self.cur.trim_end().len();
            self.cur.truncate(keep);
        }
        self.out.text.push_str(&self.cur);
        self.out.text.push('\n');
        self.out.map.lines.push(self.cur_origin.take());
        if self.cur_segments.len() > 1 {
            let line = self.out.map.lines.len() as u32 - 1;
            let segments =
                self.cur_segments
                    .drain(..)
                    .map(|(col, origin)| Segment { line, col, origin });
            self.out.map.segments.extend(segments);
        }
        self.cur_segments.clear();
        self.cur.clear();
        self.cur_content_start = 0;
        self.cur_chars = 0;
    }

    fn origin(
        &mut self,
        at: BlockRef,
        line: usize,
        col_shift: i32,
        fragment: Option<usize>,
    ) -> Origin {
        if self.file_ids.len() <= at.chapter {
            self.file_ids.resize(at.chapter + 1, 0);
        }
        if self.file_ids[at.chapter] == 0 {
            self.out
                .map
                .files
                .push(self.web.chapters[at.chapter].path.clone());
            self.file_ids[at.chapter] = self.out.map.files.len() as u32;
        }
        let slot = fragment.unwrap_or(self.web.fragments.len());
        if self.fragment_ids[slot] == u32::MAX {
            self.fragment_ids[slot] = self.out.map.fragments.len() as u32;
            let name = match fragment {
                Some(f) => self.web.fragments[f].name.clone(),
                None => self
                    .web
                    .roots
                    .iter()
                    .find(|r| r.block == at)
                    .map_or_else(String::new, |r| r.path.display().to_string()),
            };
            self.out.map.fragments.push(name);
        }
        Origin {
            file: self.file_ids[at.chapter] - 1,
            line: (self.web.block(at).body_line + line) as u32,
            col_shift,
            fragment: self.fragment_ids[slot],
        }
    }

    /// Appends body line `i` of block `at` from byte `offset` (character `chars`) on to the
    /// current line, up to its first reference; returns the frame that expands that reference.
    fn scan(
        &mut self,
        stack: &[Frame],
        at: BlockRef,
        i: usize,
        offset: usize,
        chars: usize,
    ) -> Result<Option<(Frame, Resume)>, Diagnostic> {
        let block = self.web.block(at);
        let text = self.web.code(at, i);
        if offset > 0 {
            // Resuming after a reference: the rest of the line is a piece of its own.
            let fragment = stack.last().and_then(|f| f.fragment);
            let shift = self.cur_chars as i32 - block.shift(i) - chars as i32;
            let origin = self.origin(at, i, shift, fragment);
            self.push_segment(origin);
        }
        let Some(r) = find_reference(text, offset) else {
            self.push(&text[offset..]);
            return Ok(None);
        };
        let before = self.push(&text[offset..r.start]);
        let col = block.col(i, chars + before);
        let Some(&f) = self.web.by_name.get(r.name) else {
            return Err(Diagnostic::error(
                self.pos(at, i, col),
                format!("undefined reference «{}»", r.name),
            ));
        };
        if self.on_stack[f] {
            return Err(self.cycle(stack, f, (at, i, col)));
        }
        self.on_stack[f] = true;
        self.cur_content_start = self.cur.len();
        // The caller resumes this line after the reference once the child is done.
        let reference = text[r.start..r.end].chars().count();
        let resume = (at, i, r.end, chars + before + reference);
        let child = Frame {
            fragment: Some(f),
            part: 0,
            line: 0,
            started: false,
            prefix_len: self.cur.len(),
            prefix_chars: self.cur_chars,
            prefix_segments: self.cur_segments.len(),
            last_piece: self.cur_segments.last().cloned(),
            replaced: None,
            called_at: (at, i, col),
            rest: None,
        };
        Ok(Some((child, resume)))
    }

    /// The position of column `col` of body line `i` of block `at`.
    fn pos(&self, at: BlockRef, i: usize, col: usize) -> Pos {
        let block = self.web.block(at);
        Pos::new(
            &self.web.chapters[at.chapter].path,
            block.body_line + i,
            col,
        )
    }

    /// Starts a new piece of the current line at the current column; a piece that this one
    /// starts at the same column is empty and is dropped.
    fn push_segment(&mut self, origin: Origin) {
        let col = self.cur_chars as u32 + 1;
        while self.cur_segments.last().is_some_and(|(c, _)| *c == col) {
            self.cur_segments.pop();
        }
        self.cur_segments.push((col, origin));
    }

    /// Appends text to the current line; returns its length in characters.
    fn push(&mut self, text: &str) -> usize {
        let n = text.chars().count();
        self.cur.push_str(text);
        self.cur_chars += n;
        n
    }

    /// The error for a reference to fragment `f`, which is already being expanded: the
    /// chain of references from `f` back to itself. A long chain shows its first and last
    /// [`CYCLE_SHOWN`] steps and how many were left out.
    fn cycle(&self, stack: &[Frame], f: usize, at: (BlockRef, usize, usize)) -> Diagnostic {
        let first = stack
            .iter()
            .position(|fr| fr.fragment == Some(f))
            .expect("fragment is on the stack");
        let cycle = &stack[first..];
        let name = |fr: &Frame| {
            self.web.fragments[fr.fragment.expect("fragments only")]
                .name
                .as_str()
        };
        let long = cycle.len() > 2 * CYCLE_SHOWN + 1;
        let shown = |k: usize| !long || k < CYCLE_SHOWN || k >= cycle.len() - CYCLE_SHOWN;
        let mut chain = String::new();
        for (k, fr) in cycle.iter().enumerate() {
            if shown(k) {
                chain.push_str(&format!("«{}» → ", name(fr)));
            } else if k == CYCLE_SHOWN {
                let omitted = cycle.len() - 2 * CYCLE_SHOWN;
                chain.push_str(&format!("… {omitted} more … → "));
            }
        }
        chain.push_str(&format!("«{}»", self.web.fragments[f].name));
        let message = if long {
            format!("reference cycle of {} fragments: {chain}", cycle.len())
        } else {
            format!("reference cycle: {chain}")
        };
        let mut d = Diagnostic::error(self.pos(at.0, at.1, at.2), message);
        for (_, fr) in cycle.iter().enumerate().filter(|(k, _)| shown(*k)) {
            let (b, i, col) = fr.called_at;
            d = d.with_note(
                self.pos(b, i, col),
                format!("«{}» is referenced here", name(fr)),
            );
        }
        d
    }
}
