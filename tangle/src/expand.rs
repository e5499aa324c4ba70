//! The expander: turns a root into text by replacing every `<<name>>` reference with the
//! fragment's lines, with org-babel's semantics: the text before a reference is repeated before
//! every line of the expansion, the text after it follows the last line.
//!
//! Expansion runs on an explicit stack, so deep (legal) nesting cannot overflow the call stack,
//! and it records for every output line where it came from.

use crate::diag::{Diagnostic, Pos};
use crate::model::{find_reference, BlockRef, Web};
use crate::output::{Origin, Segment, SourceMap};
use std::rc::Rc;

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
    /// The blocks whose lines this frame emits, in order.
    parts: Rc<[BlockRef]>,
    part: usize,
    /// Next body line to emit within `parts[part]`.
    line: usize,
    /// Whether this frame has emitted its first line (which continues the caller's line).
    started: bool,
    /// Text repeated before each of this frame's lines after the first, its length in
    /// characters, and where its pieces come from.
    prefix: Rc<str>,
    prefix_chars: usize,
    prefix_segments: Rc<[(u32, Origin)]>,
    /// Where the reference that opened this frame stands (for cycle messages).
    called_at: Pos,
    /// Remaining text of the current line after a reference, still to be scanned.
    rest: Option<Resume>,
}

/// A place to resume scanning: block, body line, byte offset.
type Resume = (BlockRef, usize, usize);

/// Expands root `root` of `web`. Errors: an undefined reference, a reference cycle.
pub fn expand_root(web: &Web, root: usize) -> Result<Expansion, Diagnostic> {
    let r = &web.roots[root];
    let root_pos = web.block(r.block).pos.clone();
    let mut ex = Expander {
        web,
        cur: String::new(),
        cur_content_start: 0,
        cur_chars: 0,
        cur_segments: Vec::new(),
        cur_origin: None,
        on_stack: vec![false; web.fragments.len()],
        out: Expansion::default(),
        file_ids: Vec::new(),
        fragment_ids: vec![u32::MAX; web.fragments.len() + 1],
    };
    let mut stack = vec![Frame {
        fragment: None,
        parts: Rc::from(vec![r.block]),
        part: 0,
        line: 0,
        started: false,
        prefix: Rc::from(""),
        prefix_chars: 0,
        prefix_segments: Rc::from(Vec::new()),
        called_at: root_pos,
        rest: None,
    }];
    let mut any_line = false;
    while let Some(top) = stack.last_mut() {
        if let Some((at, line, offset)) = top.rest.take() {
            if let Some((child, resume)) = ex.scan(&stack, at, line, offset)? {
                stack.last_mut().expect("scanning frame").rest = Some(resume);
                stack.push(child);
            }
            continue;
        }
        let Some((at, i)) = next_line(web, top) else {
            let done = stack.pop().expect("stack is not empty");
            if let Some(f) = done.fragment {
                ex.on_stack[f] = false;
            }
            continue;
        };
        any_line = true;
        if top.started {
            ex.emit();
            ex.cur.push_str(&top.prefix);
            ex.cur_content_start = ex.cur.len();
            ex.cur_chars = top.prefix_chars;
            ex.cur_segments.extend(top.prefix_segments.iter().cloned());
        }
        top.started = true;
        let block = web.block(at);
        let shift = ex.cur_chars as i32 - block.shift(i);
        let fragment = top.fragment;
        let origin = ex.origin(at, i, shift, fragment);
        ex.push_segment(origin.clone());
        ex.cur_origin = Some(origin);
        if let Some((child, resume)) = ex.scan(&stack, at, i, 0)? {
            stack.last_mut().expect("scanning frame").rest = Some(resume);
            stack.push(child);
        }
    }
    if any_line {
        ex.emit();
    }
    Ok(ex.out)
}

/// The next body line of a frame, moving across its parts.
fn next_line(web: &Web, frame: &mut Frame) -> Option<(BlockRef, usize)> {
    while let Some(&at) = frame.parts.get(frame.part) {
        if frame.line < web.block(at).lines.len() {
            frame.line += 1;
            return Some((at, frame.line - 1));
        }
        frame.part += 1;
        frame.line = 0;
    }
    None
}

struct Expander<'w> {
    web: &'w Web,
    /// The output line being built.
    cur: String,
    /// Byte offset in `cur` where the current line's own content starts (after its prefix).
    cur_content_start: usize,
    /// Characters in `cur`.
    cur_chars: usize,
    /// The pieces of `cur`: starting column and origin.
    cur_segments: Vec<(u32, Origin)>,
    cur_origin: Option<Origin>,
    on_stack: Vec<bool>,
    out: Expansion,
    /// Chapter index → index in `out.map.files` (+1; 0 = not yet added).
    file_ids: Vec<u32>,
    /// Fragment index (last slot: the root) → index in `out.map.fragments`.
    fragment_ids: Vec<u32>,
}

impl Expander<'_> {
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

    /// Appends body line `i` of block `at` from byte `offset` on to the current line, up to
    /// its first reference; returns the frame that expands that reference.
    fn scan(
        &mut self,
        stack: &[Frame],
        at: BlockRef,
        i: usize,
        offset: usize,
    ) -> Result<Option<(Frame, Resume)>, Diagnostic> {
        let block = self.web.block(at);
        let text = self.web.code(at, i);
        if offset > 0 {
            // Resuming after a reference: the rest of the line is a piece of its own.
            let fragment = stack.last().and_then(|f| f.fragment);
            let shift =
                self.cur_chars as i32 - block.col(i, text[..offset].chars().count()) as i32 + 1;
            let origin = self.origin(at, i, shift, fragment);
            self.push_segment(origin);
        }
        let Some(r) = find_reference(text, offset) else {
            self.push(&text[offset..]);
            return Ok(None);
        };
        self.push(&text[offset..r.start]);
        let pos = Pos::new(
            &self.web.chapters[at.chapter].path,
            block.body_line + i,
            block.col(i, text[..r.start].chars().count()),
        );
        let Some(&f) = self.web.by_name.get(r.name) else {
            return Err(Diagnostic::error(
                pos,
                format!("undefined reference «{}»", r.name),
            ));
        };
        if self.on_stack[f] {
            return Err(self.cycle(stack, f, pos));
        }
        self.on_stack[f] = true;
        let parent = stack.last().expect("a frame is scanning");
        let prefix: Rc<str> = if self.cur.len() == parent.prefix.len() {
            parent.prefix.clone()
        } else {
            Rc::from(self.cur.as_str())
        };
        self.cur_content_start = self.cur.len();
        // The caller resumes this line after the reference once the child is done.
        let resume = (at, i, r.end);
        let child = Frame {
            fragment: Some(f),
            parts: Rc::from(self.web.fragments[f].parts.as_slice()),
            part: 0,
            line: 0,
            started: false,
            prefix,
            prefix_chars: self.cur_chars,
            prefix_segments: Rc::from(self.cur_segments.as_slice()),
            called_at: pos,
            rest: None,
        };
        Ok(Some((child, resume)))
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

    fn push(&mut self, text: &str) {
        self.cur.push_str(text);
        self.cur_chars += text.chars().count();
    }

    fn cycle(&self, stack: &[Frame], f: usize, pos: Pos) -> Diagnostic {
        let first = stack
            .iter()
            .position(|fr| fr.fragment == Some(f))
            .expect("fragment is on the stack");
        let names: Vec<&str> = stack[first..]
            .iter()
            .map(|fr| {
                self.web.fragments[fr.fragment.expect("fragments only")]
                    .name
                    .as_str()
            })
            .chain([self.web.fragments[f].name.as_str()])
            .collect();
        let mut d = Diagnostic::error(pos, format!("reference cycle: «{}»", names.join("» → «")));
        for fr in &stack[first..] {
            let name = &self.web.fragments[fr.fragment.expect("fragments only")].name;
            d = d.with_note(fr.called_at.clone(), format!("«{name}» is referenced here"));
        }
        d
    }
}
