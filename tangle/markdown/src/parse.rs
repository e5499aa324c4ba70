//! The Markdown reader: finds fenced code blocks where CommonMark puts them and reads the
//! tangle attributes from their info strings.
//!
//! pulldown-cmark, with the extensions mdBook enables, decides where a fenced code block is:
//! inside block quotes, list items and footnotes, never inside an HTML block or comment. The
//! lines themselves (the opening fence, the body, the closing fence) are then read from the
//! chapter's text at the offsets the parser gives, so that every body line keeps its exact
//! document position.
//!
//! An info string starts with the language and may carry, separated by spaces or commas:
//!
//! - `name=NAME` (or `name="a name with spaces"`) defines a fragment;
//! - `name+=NAME` continues a fragment defined earlier;
//! - `file=PATH` makes the block a root tangled to `PATH`, with an optional `mode=0444`;
//! - `labels=FORMAT` overrides the coderef label format (org's `-l`, e.g. `"[{(<%s>)}]"`).
//!
//! Any other block is an illustration and is never tangled.

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tangle_core::diag::{Diagnostic, Pos};
use tangle_core::mapped::char_count;

/// What a code block contributes to the web.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockKind {
    /// `name=NAME` (first definition) or `name+=NAME` (continuation).
    Fragment { name: String, append: bool },
    /// `file=PATH`: a root tangled to `path`, with its permission bits.
    Root { path: PathBuf, mode: Option<u32> },
    /// Not tangled.
    Illustration,
}

/// One fenced code block of a chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub kind: BlockKind,
    /// The language (first word of the info string), possibly empty.
    pub lang: String,
    /// The whole info string as written.
    pub info: String,
    /// Position of the opening fence: its line, and the column (characters) of its first
    /// backtick or tilde.
    pub pos: Pos,
    /// Line of the first body line (1-based); body line `i` is at `body_line + i`.
    pub body_line: usize,
    /// Line of the closing fence. An illustration that the end of its block quote or list
    /// item closes has no closing fence: then it is its last line (the last body line, or the
    /// opening fence line for an empty body). A tangled block always has a closing fence.
    pub end_line: usize,
    /// Columns (tabs to 4-column stops) before the opening fence on its line: its container
    /// prefix (list item indentation, `> ` markers) and its own indentation. This is what is
    /// removed from each body line when the prefix is the same on every line; [`Block::col`]
    /// gives the exact column of any body character.
    pub indent: usize,
    /// The text before the opening fence on its line (container markers and indentation).
    pub prefix: String,
    /// The body lines ([`Block::line`]) without their container prefix and indentation (a
    /// tab that is only partly removed leaves spaces for its remaining columns, as in
    /// CommonMark), coderef labels kept: in the chapter's store, from byte `start`, line `i`
    /// ending at the store's end `lines.start + i`, each followed by a line end (`\n`, or
    /// `\r\n` as the chapter has it; the last line's may be missing) after which the next line
    /// starts.
    store: Arc<Store>,
    start: usize,
    lines: Range<usize>,
    /// For each body line, document column minus column in [`Block::line`] (characters): what
    /// was removed before the line's text, less the spaces left for a partly removed tab. Empty
    /// when that is `indent` for every line (see [`Block::shift`]).
    shifts: Vec<i32>,
    /// Coderef label format for this block, if the info string sets one.
    pub labels: Option<String>,
}

/// The bodies of a chapter's blocks, one after the other, and where each of their lines ends:
/// one allocation for all of them, read in order as the blocks are.
#[derive(Default, Clone, PartialEq, Eq)]
struct Store {
    text: String,
    ends: Vec<usize>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Store({} bytes, {} lines)",
            self.text.len(),
            self.ends.len()
        )
    }
}

impl Block {
    /// A block read by another reader (Entangled's): its lines already without their
    /// indentation, `indent` columns before the fence on every line.
    #[allow(clippy::too_many_arguments)]
    pub fn from_lines<'l>(
        kind: BlockKind,
        lang: &str,
        info: &str,
        pos: Pos,
        body_line: usize,
        end_line: usize,
        prefix: &str,
        lines: impl IntoIterator<Item = &'l str>,
    ) -> Block {
        let mut store = Store::default();
        for l in lines {
            store.text.push_str(l);
            store.ends.push(store.text.len());
            store.text.push('\n');
        }
        let n = store.ends.len();
        Block {
            kind,
            lang: lang.to_string(),
            info: info.to_string(),
            pos,
            body_line,
            end_line,
            indent: prefix.chars().count(),
            prefix: prefix.to_string(),
            store: Arc::new(store),
            start: 0,
            lines: 0..n,
            shifts: Vec::new(),
            labels: None,
        }
    }

    /// The number of body lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the body has no lines.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Body line `i` (see [`Block::lines`]).
    pub fn line(&self, i: usize) -> &str {
        let start = if i == 0 {
            self.start
        } else {
            self.after(i - 1)
        };
        &self.store.text[start..self.end(i)]
    }

    /// Where line `i` ends in the store.
    fn end(&self, i: usize) -> usize {
        self.store.ends[self.lines.start + i]
    }

    /// Where the line after line `i` starts in the store: past the line end after line `i`.
    fn after(&self, i: usize) -> usize {
        let end = self.end(i);
        end + 1 + usize::from(self.store.text.as_bytes().get(end) == Some(&b'\r'))
    }

    /// The bytes of the body (its lines and the line ends between them).
    pub fn body_len(&self) -> usize {
        match self.len() {
            0 => 0,
            n => self.end(n - 1) - self.start,
        }
    }

    /// The indices of the body lines that hold `byte`, in order: one search through the
    /// whole body instead of one per line.
    pub fn lines_with(&self, byte: u8) -> impl Iterator<Item = usize> + '_ {
        self.lines_found(move |hay| memchr::memchr(byte, hay))
    }

    /// The indices of the body lines that hold what `finder` looks for (which holds no line
    /// end), in order, as [`Block::lines_with`] finds them.
    pub fn lines_holding<'b>(
        &'b self,
        finder: &'b memchr::memmem::Finder<'_>,
    ) -> impl Iterator<Item = usize> + 'b {
        debug_assert!(!finder.needle().contains(&b'\r') && !finder.needle().contains(&b'\n'));
        self.lines_found(move |hay| finder.find(hay))
    }

    /// The lines holding what `find` finds (the offset of its first occurrence in a slice of
    /// the body, never across a line end).
    fn lines_found<'b>(
        &'b self,
        find: impl Fn(&[u8]) -> Option<usize> + 'b,
    ) -> impl Iterator<Item = usize> + 'b {
        let (mut at, mut i) = (self.start, 0);
        let limit = self.start + self.body_len();
        let text = self.store.text.as_bytes();
        std::iter::from_fn(move || loop {
            let k = at + find(&text[at..limit])?;
            while i < self.len() && self.end(i) <= k {
                i += 1;
            }
            if i == self.len() {
                return None;
            }
            let start = if i == 0 {
                self.start
            } else {
                self.after(i - 1)
            };
            if k < start {
                // In a line end.
                at = start;
                continue;
            }
            at = self.end(i);
            i += 1;
            return Some(i - 1);
        })
    }

    /// The body lines in order.
    pub fn lines(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.line(i))
    }

    /// The document column (1-based, characters) of character `k` (0-based, characters) of
    /// body line `i`.
    pub fn col(&self, i: usize, k: usize) -> usize {
        (k as i64 + 1 + i64::from(self.shift(i))).max(1) as usize
    }

    /// Document column minus column in line `i`.
    pub fn shift(&self, i: usize) -> i32 {
        self.shifts.get(i).copied().unwrap_or(self.indent as i32)
    }
}

impl Chapter {
    /// The bytes of its blocks' bodies.
    pub fn body_bytes(&self) -> usize {
        self.blocks.iter().map(Block::body_len).sum()
    }
}

/// A chapter: its path (as given, for messages) and its code blocks in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    pub path: PathBuf,
    pub blocks: Vec<Block>,
    /// Things that are probably mistakes but not errors (a tangle fence that Markdown reads
    /// as indented code, for instance).
    pub warnings: Vec<Diagnostic>,
}

/// The extensions mdBook turns on: the same Markdown must find the same blocks here and in
/// the rendered book (footnote definitions, for instance, hold blocks like list items do).
fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_HEADING_ATTRIBUTES
}

/// Line numbers of byte offsets, counted forward: the parser gives code blocks in document
/// order, so the text is scanned for line ends once.
struct LineCounter {
    /// A byte offset and the 0-based line holding it.
    offset: usize,
    line: usize,
}

impl LineCounter {
    fn new() -> LineCounter {
        LineCounter { offset: 0, line: 0 }
    }

    /// Records that line `line` (0-based) starts at byte `offset`, when that is ahead.
    fn skip_to(&mut self, offset: usize, line: usize) {
        if offset > self.offset {
            *self = LineCounter { offset, line };
        }
    }

    /// The 0-based line holding byte `offset`, and where that line starts.
    fn line_of(&mut self, text: &str, offset: usize) -> (usize, usize) {
        if offset < self.offset {
            *self = LineCounter::new();
        }
        self.line += newlines(&text.as_bytes()[self.offset..offset]);
        self.offset = offset;
        (self.line, line_start(text, offset))
    }
}

/// The number of line ends in `bytes`. Counted 64 bytes at a time into a byte-wide counter,
/// which compilers turn into vector compares.
fn newlines(bytes: &[u8]) -> usize {
    let mut chunks = bytes.chunks_exact(64);
    let mut n = 0;
    for chunk in &mut chunks {
        let mut k = 0u8;
        for &b in chunk {
            k += u8::from(b == b'\n');
        }
        n += usize::from(k);
    }
    n + chunks.remainder().iter().filter(|&&b| b == b'\n').count()
}

/// Where the line holding byte `offset` starts.
fn line_start(text: &str, offset: usize) -> usize {
    memchr::memrchr(b'\n', &text.as_bytes()[..offset]).map_or(0, |i| i + 1)
}

/// The line starting at byte `start`: where its text ends (before its `\n` and a `\r` before
/// that), and where the next line starts, if there is one.
fn line_end(text: &str, start: usize) -> (usize, Option<usize>) {
    let bytes = text.as_bytes();
    let (end, next) = match memchr::memchr(b'\n', &bytes[start..]) {
        Some(i) => (start + i, Some(start + i + 1)),
        None => (bytes.len(), None),
    };
    if end > start && bytes[end - 1] == b'\r' {
        (end - 1, next)
    } else {
        (end, next)
    }
}

/// A piece of a code block's content that stands in the chapter's text.
#[derive(Clone, Copy)]
struct Piece {
    start: usize,
    end: usize,
    /// Whether the piece starts a content line, and the spaces the parser put before it then
    /// (for a partly removed tab).
    first: Option<usize>,
}

/// A code block being read from the parser's events.
struct Code {
    /// The block's byte range (from its opening fence, or its first indented line).
    range: Range<usize>,
    fenced: bool,
    /// The innermost container holding the block, for messages.
    container: Option<&'static str>,
    /// The pieces of content that stand in the chapter, in order. A content line's text
    /// starts at the start of a piece that starts a line, or after a line end inside a piece.
    pieces: Vec<Piece>,
    at_line_start: bool,
    pending_spaces: usize,
    /// Line ends in the content, and whether it ends with one (or is empty).
    newlines: usize,
    ends_with_newline: bool,
}

impl Code {
    /// A code block at `range`; `pieces` is an empty buffer to reuse.
    fn new(
        range: Range<usize>,
        fenced: bool,
        container: Option<&'static str>,
        pieces: Vec<Piece>,
    ) -> Code {
        Code {
            range,
            fenced,
            container,
            pieces,
            at_line_start: true,
            pending_spaces: 0,
            newlines: 0,
            ends_with_newline: true,
        }
    }

    /// Takes in one piece of the block's content: `piece` as the parser gives it, `range`
    /// where it stands in `text` (empty for text the parser made up, such as the spaces left
    /// for a partly removed tab).
    fn content(&mut self, text: &str, range: Range<usize>, piece: &str) {
        if piece.is_empty() {
            return;
        }
        let real = !range.is_empty() && text.get(range.clone()) == Some(piece);
        if real {
            let first = self.at_line_start.then_some(self.pending_spaces);
            if self.at_line_start {
                self.pending_spaces = 0;
            }
            self.pieces.push(Piece {
                start: range.start,
                end: range.end,
                first,
            });
        } else if self.at_line_start {
            self.pending_spaces += piece.chars().count();
        }
        self.newlines += newlines(piece.as_bytes());
        self.ends_with_newline = piece.ends_with('\n');
        // Spaces made up before a line's text leave it at its start.
        self.at_line_start = self.ends_with_newline || (self.at_line_start && !real);
    }

    /// The number of body lines: one per line end, and a last line without one.
    fn body_lines(&self) -> usize {
        self.newlines + usize::from(!self.ends_with_newline)
    }
}

/// Reads `text` (the contents of `path`) into a chapter. Errors: a fence left open at the end
/// of the file, a tangled block that the end of its block quote or list item closes, a
/// malformed attribute.
pub fn parse(path: &Path, text: &str) -> Result<Chapter, Diagnostic> {
    parse_as(path, text, true)
}

/// [`parse`]; `fast`: whether a block whose content is one piece of the chapter is copied
/// whole (the same lines as reading it line by line, which the tests check).
fn parse_as(path: &Path, text: &str, fast: bool) -> Result<Chapter, Diagnostic> {
    let mut lines = LineCounter::new();
    let mut blocks = Vec::new();
    // Room for every body at once: they are pieces of the text (a partly removed tab, rare,
    // may add a little).
    let mut store = Store {
        text: String::with_capacity(text.len()),
        ends: Vec::new(),
    };
    let mut warnings = Vec::new();
    let mut containers: Vec<&'static str> = Vec::new();
    let mut code: Option<Code> = None;
    // The pieces of the block before, for the next block.
    let mut spare = Vec::new();
    for (event, range) in Parser::new_ext(text, options()).into_offset_iter() {
        match event {
            Event::Text(piece) => {
                if let Some(code) = &mut code {
                    code.content(text, range, &piece);
                }
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                let fenced = matches!(kind, CodeBlockKind::Fenced(_));
                let pieces = std::mem::take(&mut spare);
                code = Some(Code::new(range, fenced, containers.last().copied(), pieces));
            }
            Event::End(TagEnd::CodeBlock) => {
                let Some(code) = code.take() else { continue };
                if code.fenced {
                    blocks.push(fenced_block(
                        path, text, &mut lines, &code, &mut store, fast,
                    )?);
                } else if let Some(w) = tangle_fence_in_indented_code(path, text, &mut lines, &code)
                {
                    warnings.push(w);
                }
                spare = code.pieces;
                spare.clear();
            }
            Event::Start(Tag::BlockQuote(_)) => containers.push("block quote"),
            Event::Start(Tag::Item) => containers.push("list item"),
            Event::Start(Tag::FootnoteDefinition(_)) => containers.push("footnote"),
            Event::End(TagEnd::BlockQuote(_) | TagEnd::Item | TagEnd::FootnoteDefinition) => {
                containers.pop();
            }
            _ => {}
        }
    }
    let store = Arc::new(store);
    for b in &mut blocks {
        b.store = Arc::clone(&store);
    }
    for b in blocks.iter().filter(|b| b.kind != BlockKind::Illustration) {
        warnings.extend(fence_inside(path, text, b));
        warnings.extend(name_cut_short(b));
    }
    Ok(Chapter {
        path: path.to_path_buf(),
        blocks,
        warnings,
    })
}

/// Width in columns of `s` at the start of a line, tabs to 4-column stops.
fn columns(s: &str) -> usize {
    s.chars().fold(
        0,
        |col, c| if c == '\t' { col / 4 * 4 + 4 } else { col + 1 },
    )
}

/// Where the text of the body line spanning `line..next` starts, from the content pieces
/// from `pieces[*k]` on (those before it were used by earlier lines; `first`: this is the
/// first body line, which also takes any content before it): the start of the last content
/// line that starts before `next`, and the spaces the parser put before it.
fn content_start(
    text: &str,
    pieces: &[Piece],
    k: &mut usize,
    line: usize,
    next: usize,
) -> Option<(usize, usize)> {
    let mut found = None;
    while let Some(p) = pieces.get(*k).filter(|p| p.start < next) {
        if let Some(spaces) = p.first {
            found = Some((p.start, spaces));
        }
        // The last line end inside the piece, before `next` and before the piece's last byte.
        let upto = p.end.min(next);
        if p.start < line && line < upto {
            found = Some((line, 0));
        } else if upto <= line {
            if let Some(i) = memchr::memrchr(b'\n', &text.as_bytes()[p.start..upto - 1]) {
                found = Some((p.start + i + 1, 0));
            }
        }
        if p.end > next {
            break;
        }
        *k += 1;
    }
    found
}

/// Reads a fenced block's lines from the chapter at the offsets the parser gave.
fn fenced_block(
    path: &Path,
    text: &str,
    lines: &mut LineCounter,
    code: &Code,
    store: &mut Store,
    fast: bool,
) -> Result<Block, Diagnostic> {
    let start = code.range.start;
    let (open, open_start) = lines.line_of(text, start);
    let prefix = &text[open_start..start];
    let fence_ch = text[start..].chars().next().unwrap_or('`');
    let fence_len = text[start..].chars().take_while(|&c| c == fence_ch).count();
    let (open_end, mut next) = line_end(text, open_start);
    let info = text[start + fence_len..open_end.max(start + fence_len)].trim();
    let pos = Pos::new(path, open + 1, char_count(prefix) + 1);
    let (lang, kind, labels) = parse_info(info, &pos)?;
    // One body line per line the parser gave content for (never past the end of the text).
    // Each starts where the parser's content for it starts.
    let wanted = code.body_lines();
    let Store { text: body, ends } = store;
    let (start, first) = (body.len(), ends.len());
    let mut shifts = Vec::new();
    match code.pieces.as_slice() {
        // The usual block: its content stands in the chapter as one piece, from the line after
        // the fence to a line end (or the end of the text), nothing removed before any line.
        // Each line is the chapter's, whole: the body is a copy of the piece.
        [p] if fast
            && p.first == Some(0)
            && next == Some(p.start)
            && (p.end == text.len() || text.as_bytes()[p.end - 1] == b'\n') =>
        {
            let piece = &text[p.start..p.end];
            body.push_str(piece);
            let bytes = piece.as_bytes();
            let mut line_start = 0;
            let end_of = |line_start: usize, end: usize| {
                start
                    + if end > line_start && bytes[end - 1] == b'\r' {
                        end - 1
                    } else {
                        end
                    }
            };
            for k in memchr::memchr_iter(b'\n', bytes) {
                if ends.len() - first == wanted {
                    break;
                }
                ends.push(end_of(line_start, k));
                line_start = k + 1;
            }
            next = Some(p.start + line_start);
            if ends.len() - first < wanted {
                // The last line, at the end of the text without a line end.
                ends.push(end_of(line_start, bytes.len()));
                next = None;
            }
            if columns(prefix) != 0 {
                shifts = vec![0; ends.len() - first];
            }
        }
        _ => {
            shifts.reserve(wanted);
            let mut k = 0;
            while ends.len() - first < wanted {
                let Some(line_start) = next else { break };
                let (eol, after) = line_end(text, line_start);
                let limit = after.unwrap_or(text.len() + 1);
                let found = content_start(text, &code.pieces, &mut k, line_start, limit);
                let (at, spaces) = found.unwrap_or((eol, 0));
                let at = at.clamp(line_start, eol);
                let removed = char_count(&text[line_start..at]);
                if spaces > 0 {
                    body.extend(std::iter::repeat_n(' ', spaces));
                }
                body.push_str(&text[at..eol]);
                ends.push(body.len());
                body.push('\n');
                shifts.push(removed as i32 - spaces as i32);
                next = after;
            }
            let indent = columns(prefix) as i32;
            if shifts.iter().all(|&s| s == indent) {
                shifts = Vec::new();
            }
        }
    }
    let count = ends.len() - first;
    if let Some(s) = next {
        // The body's lines are counted: the next block's line is counted from here.
        lines.skip_to(s, open + count + 1);
    }
    // `next`: the line after the body, if there is one.
    let last = code.range.end.saturating_sub(1).max(start);
    let end_line = match next.filter(|&s| s <= last) {
        Some(s) => open + count + 1 + newlines(&text.as_bytes()[s..last]) + 1,
        None => {
            let fence = fence_ch.to_string().repeat(fence_len);
            let after = open + count + 1;
            let rest = next.map_or("", |s| &text[s..]);
            match code.container {
                Some(container) if !rest.trim().is_empty() => {
                    if kind != BlockKind::Illustration {
                        let ends = Pos::new(path, after + 1, 1);
                        return Err(unterminated(pos, &fence, Some((container, ends))));
                    }
                    open + count + 1
                }
                _ => return Err(unterminated(pos, &fence, None)),
            }
        }
    };
    Ok(Block {
        kind,
        lang,
        info: info.to_string(),
        pos,
        body_line: open + 2,
        end_line,
        indent: columns(prefix),
        prefix: prefix.to_string(),
        store: Arc::default(),
        start,
        lines: first..first + count,
        shifts,
        labels,
    })
}

/// The error for a fence at `pos` that nothing closes: the end of the file, or the end of its
/// container (a block quote or list item), which ends at `ends`.
fn unterminated(pos: Pos, fence: &str, container: Option<(&str, Pos)>) -> Diagnostic {
    match container {
        None => Diagnostic::error(
            pos,
            format!(
                "unterminated code block: no closing `{fence}` fence before the end of the file"
            ),
        ),
        Some((container, ends)) => Diagnostic::error(
            pos,
            format!(
                "unterminated code block: its {container} ends before a closing `{fence}` fence"
            ),
        )
        .with_note(
            ends,
            format!("the {container} ends here, and the code block with it"),
        ),
    }
}

/// A warning when an indented code block starts with what was meant as a tangle fence (one
/// indented too far for its list item, say), which Markdown shows as code and never tangles.
fn tangle_fence_in_indented_code(
    path: &Path,
    text: &str,
    lines: &mut LineCounter,
    code: &Code,
) -> Option<Diagnostic> {
    let (line, line_start) = lines.line_of(text, code.range.start);
    let eol = line_end(text, line_start).0.max(code.range.start);
    let first = &text[code.range.start..eol];
    let fence = first.trim_start_matches([' ', '\t']);
    let ch = fence.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = fence.chars().take_while(|c| *c == ch).count();
    let info = &fence[len..];
    if len < 3 || !(info.contains("name=") || info.contains("name+=") || info.contains("file=")) {
        return None;
    }
    let at = eol - fence.len();
    let col = char_count(&text[line_start..at]) + 1;
    Some(Diagnostic::warning(
        Pos::new(path, line + 1, col),
        "this fence is indented too far: Markdown reads it as indented code, so it is not tangled",
    ))
}

/// A warning for the first line inside tangled block `b` that reads like an opening fence
/// with an info string (```` ```rust name=x ````) at least as long as the block's own: it
/// cannot close the block, so the block goes on, most likely because the author forgot the
/// closing fence above it and the next block's fence is being tangled as code.
fn fence_inside(path: &Path, text: &str, b: &Block) -> Option<Diagnostic> {
    let candidate = |i: usize| -> Option<(usize, char, usize)> {
        let line = b.line(i);
        let body = line.trim_start_matches(' ');
        let ch = body.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let run = body.chars().take_while(|c| *c == ch).count();
        let info = body[run..].trim();
        let valid = !(info.is_empty() || ch == '`' && info.contains('`'));
        (line.len() - body.len() <= 3 && run >= 3 && valid).then_some((
            line.len() - body.len(),
            ch,
            run,
        ))
    };
    let (i, (k, ch, run)) = b
        .lines_with(b'`')
        .chain(b.lines_with(b'~'))
        .filter_map(|i| candidate(i).map(|c| (i, c)))
        .min_by_key(|(i, _)| *i)?;
    // The block's own fence, on its opening line.
    let opening = text.lines().nth(b.pos.line - 1)?;
    let fence = opening.chars().skip(b.pos.col - 1);
    let own: Vec<char> = fence.take_while(|c| *c == '`' || *c == '~').collect();
    if own.first() != Some(&ch) || run < own.len() {
        return None;
    }
    Some(Diagnostic::warning(
        Pos::new(path, b.body_line + i, b.col(i, k)),
        format!(
            "a fence with an info string inside the tangled block of line {}: it cannot close \
             that block, so it is tangled as code; is the block's closing fence missing above it?",
            b.pos.line
        ),
    ))
}

/// The flags mdBook and rustdoc read in an info string, which may follow a name.
const FLAGS: [&str; 13] = [
    "ignore",
    "no_run",
    "should_panic",
    "compile_fail",
    "editable",
    "noplayground",
    "mdbook-runnable",
    "test_harness",
    "allow_fail",
    "edition2015",
    "edition2018",
    "edition2021",
    "edition2024",
];

/// A hint for a fragment named without quotes and followed by bare words (`name=print a row`):
/// the name stops at the first space, the words after it are dropped, and a reference to the
/// whole phrase would be undefined.
fn name_cut_short(b: &Block) -> Option<Diagnostic> {
    let BlockKind::Fragment { name, append } = &b.kind else {
        return None;
    };
    let key = if *append { "name+=" } else { "name=" };
    let unquoted = format!("{key}{name}");
    let mut words = b.info.split([' ', '\t', ',']).filter(|w| !w.is_empty());
    words.find(|w| *w == unquoted)?;
    let rest: Vec<&str> = words
        .take_while(|w| !w.contains('=') && !w.contains('"') && !FLAGS.contains(w))
        .collect();
    if rest.is_empty() {
        return None;
    }
    let whole = format!("{name} {}", rest.join(" "));
    Some(Diagnostic::warning(
        b.pos.clone(),
        format!(
            "this fragment is named «{name}»: a name ends at the first space, so `{}` is not \
             part of it; to name it «{whole}», quote it: {key}\"{whole}\"",
            rest.join(" ")
        ),
    ))
}

/// Splits an info string into words separated by spaces or commas; double quotes group.
fn words<'i>(info: &'i str, pos: &Pos) -> Result<Vec<Cow<'i, str>>, Diagnostic> {
    if !info.contains('"') {
        // Nothing groups or escapes: the words are pieces of the info string.
        let mut out = Vec::with_capacity(4);
        let mut start = 0;
        for (k, b) in info.bytes().enumerate() {
            if matches!(b, b' ' | b'\t' | b',') {
                if k > start {
                    out.push(Cow::Borrowed(&info[start..k]));
                }
                start = k + 1;
            }
        }
        if info.len() > start {
            out.push(Cow::Borrowed(&info[start..]));
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = info.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes => cur.extend(chars.next()),
            ' ' | '\t' | ',' if !in_quotes => {
                if !cur.is_empty() {
                    out.push(Cow::Owned(std::mem::take(&mut cur)));
                }
            }
            c => cur.push(c),
        }
    }
    if in_quotes {
        return Err(Diagnostic::error(
            pos.clone(),
            format!("unterminated quote in code block attributes `{info}`"),
        ));
    }
    if !cur.is_empty() {
        out.push(Cow::Owned(cur));
    }
    Ok(out)
}

type Info = (String, BlockKind, Option<String>);

fn parse_info(info: &str, pos: &Pos) -> Result<Info, Diagnostic> {
    let words = words(info, pos)?;
    let mut iter = words.iter().peekable();
    let lang = match iter.peek() {
        Some(w) if !w.contains('=') => iter.next().map(|w| w.to_string()).unwrap_or_default(),
        _ => String::new(),
    };
    let err = |m: String| Err(Diagnostic::error(pos.clone(), m));
    let (mut name, mut file, mut mode, mut labels) = (None, None, None, None);
    for w in iter {
        let Some((key, value)) = w.split_once('=') else {
            continue; // mdBook's own flags (ignore, noplayground, ...) pass through
        };
        match key {
            "name" | "name+" if name.is_some() => {
                return err(format!("`{w}`: a block has at most one name"))
            }
            "name" | "name+" if value.trim().is_empty() => return err("empty fragment name".into()),
            "name" => name = Some((value.to_string(), false)),
            "name+" => name = Some((value.to_string(), true)),
            "file" if value.is_empty() => return err("empty file path in `file=`".into()),
            "file" => file = Some(PathBuf::from(value)),
            "mode" => match u32::from_str_radix(value.trim_start_matches("0o"), 8) {
                Ok(m) if m <= 0o7777 => mode = Some(m),
                _ => {
                    return err(format!(
                        "`mode={value}`: expected an octal mode such as 0444"
                    ))
                }
            },
            "labels" if !value.contains("%s") => {
                return err(format!("`labels={value}`: the format must contain %s"))
            }
            "labels" => labels = Some(value.to_string()),
            _ => {
                const KNOWN: [&str; 5] = ["name", "name+", "file", "mode", "labels"];
                return err(format!(
                    "unknown code block attribute `{key}` (known: name, name+, file, mode, \
                     labels){}",
                    tangle_core::suggest::did_you_mean(key, KNOWN)
                ));
            }
        }
    }
    let kind = match (name, file) {
        (Some(_), Some(_)) => {
            return err(
                "a block is either a fragment (`name=`) or a file root (`file=`), not both".into(),
            )
        }
        (Some((name, append)), None) => BlockKind::Fragment { name, append },
        (None, Some(path)) => BlockKind::Root { path, mode },
        (None, None) if mode.is_some() => return err("`mode=` needs `file=`".into()),
        (None, None) => BlockKind::Illustration,
    };
    Ok((lang, kind, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocks(text: &str) -> Vec<Block> {
        parse(Path::new("ch.md"), text).unwrap().blocks
    }

    fn shifts(b: &Block) -> Vec<i32> {
        (0..b.len()).map(|i| b.shift(i)).collect()
    }

    #[test]
    fn fences_of_both_kinds_and_lengths() {
        let b = blocks(
            "x\n```rust name=a\none\n```\n~~~~ rust file=src/x.rs mode=0644\n```\ntwo\n~~~~\n",
        );
        assert_eq!(b.len(), 2);
        assert_eq!(
            b[0].kind,
            BlockKind::Fragment {
                name: "a".into(),
                append: false
            }
        );
        assert_eq!(b[0].lines().collect::<Vec<_>>(), vec!["one"]);
        assert_eq!(b[0].body_line, 3);
        assert_eq!(
            b[1].kind,
            BlockKind::Root {
                path: "src/x.rs".into(),
                mode: Some(0o644)
            }
        );
        assert_eq!(b[1].lines().collect::<Vec<_>>(), vec!["```", "two"]);
    }

    #[test]
    fn crlf_and_no_final_newline() {
        let b = blocks("```rust,name=\"a b\"\r\nx\r\n```");
        assert_eq!(
            b[0].kind,
            BlockKind::Fragment {
                name: "a b".into(),
                append: false
            }
        );
        assert_eq!(b[0].lines().collect::<Vec<_>>(), vec!["x"]);
    }

    #[test]
    fn fence_inside_list_item() {
        let b = blocks("1. step\n\n    ```rust name+=a\n    let x = 1;\n      y\n    ```\n");
        assert_eq!(
            b[0].kind,
            BlockKind::Fragment {
                name: "a".into(),
                append: true
            }
        );
        assert_eq!(b[0].indent, 4);
        assert_eq!(b[0].lines().collect::<Vec<_>>(), vec!["let x = 1;", "  y"]);
        assert_eq!(b[0].pos.col, 5);
    }

    #[test]
    fn indented_code_is_not_a_fence() {
        let ch = parse(Path::new("c.md"), "para\n\n        ```rust name=a\n").unwrap();
        assert!(ch.blocks.is_empty());
        assert_eq!(
            ch.warnings.len(),
            1,
            "a tangle fence read as indented code is worth a warning"
        );
        assert_eq!(ch.warnings[0].pos, Some(Pos::new("c.md", 3, 9)));
    }

    #[test]
    fn nested_lists_end_where_their_content_ends() {
        let text = "- outer\n  - inner\n\n      ```rust name=deep\n      x\n      ```\n  back in outer\n\n     ```rust name=outer\n     y\n     ```\n";
        let b = blocks(text);
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!(b[0].lines().collect::<Vec<_>>(), vec!["x"]);
        assert_eq!(
            (
                b[1].indent,
                b[1].lines().map(String::from).collect::<Vec<_>>()
            ),
            (5, vec!["y".to_string()])
        );
    }

    #[test]
    fn unterminated_fence_is_an_error_at_the_fence() {
        let e = parse(Path::new("ch.md"), "a\n\n  ```rust name=x\nbody\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("ch.md", 3, 3)));
        assert!(e.message.contains("unterminated"), "{e}");
    }

    #[test]
    fn fences_in_html_comments_and_blocks_are_not_blocks() {
        let text = "<!--\n```rust name=hidden\nfn x() {}\n```\n-->\n\n<div>\n```rust file=a.rs\n```\n</div>\n\n```rust name=seen\ny\n```\n";
        let b = blocks(text);
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!(
            b[0].kind,
            BlockKind::Fragment {
                name: "seen".into(),
                append: false
            }
        );
        assert_eq!((b[0].pos.line, b[0].body_line, b[0].end_line), (12, 13, 14));
        // An unterminated fence in a comment is no error either.
        assert!(blocks("<!-- ```rust name=x\n-->\n").is_empty());
    }

    #[test]
    fn fence_inside_block_quote() {
        let text =
            "> ```rust name=q\n> let a = 1;\n>   indented\n>\n>no space <<r>>\n> ```\n\nafter\n";
        let b = blocks(text);
        assert_eq!(b.len(), 1);
        let q = &b[0];
        assert_eq!(q.pos, Pos::new("ch.md", 1, 3));
        assert_eq!((q.body_line, q.end_line, q.indent), (2, 6, 2));
        assert_eq!(q.prefix, "> ");
        assert_eq!(
            q.lines().collect::<Vec<_>>(),
            vec!["let a = 1;", "  indented", "", "no space <<r>>"]
        );
        assert_eq!(shifts(q), vec![2, 2, 1, 1]);
        // `<<r>>` is at column 11 of line 5, behind a `>` without a space.
        assert_eq!(q.col(3, q.line(3).find("<<").unwrap()), 11);
        assert_eq!(q.col(0, 0), 3);
    }

    #[test]
    fn fence_in_block_quote_in_list_item() {
        let text = "1. item\n\n   > ```rust name=n\n   > x <<y>>\n   >  z\n   > ```\n";
        let b = blocks(text);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].pos, Pos::new("ch.md", 3, 6));
        assert_eq!((b[0].indent, b[0].prefix.as_str()), (5, "   > "));
        assert_eq!(b[0].lines().collect::<Vec<_>>(), vec!["x <<y>>", " z"]);
        assert_eq!(b[0].col(0, 2), 8);
        assert_eq!(b[0].end_line, 6);
        // A quote in a quote, the inner one without spaces.
        let b = blocks("> >```rust name=m\n> >a\n> >```\n");
        assert_eq!(
            (
                b[0].pos.col,
                b[0].lines().map(String::from).collect::<Vec<_>>()
            ),
            (4, vec!["a".to_string()])
        );
    }

    #[test]
    fn block_quote_ends_a_fence_in_it() {
        // An illustration that the quote's end closes is read up to there.
        let b = blocks("> ```\n> x\nlazy paragraph\n");
        assert_eq!(b.len(), 1);
        assert_eq!(
            (
                b[0].lines().map(String::from).collect::<Vec<_>>(),
                b[0].end_line
            ),
            (vec!["x".to_string()], 2)
        );
        // A tangled one is an error at its fence, with a note where the quote ends.
        let e = parse(Path::new("ch.md"), "> ```rust name=q\n> x\n\nafter\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("ch.md", 1, 3)));
        assert!(e.message.contains("block quote ends"), "{e}");
        assert_eq!(e.notes[0].pos, Pos::new("ch.md", 3, 1));
        // So is one in a list item that ends at a line indented less than its content.
        let e = parse(
            Path::new("ch.md"),
            "- a\n\n  ```rust file=f.rs\n  x\nback\n",
        )
        .unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("ch.md", 3, 3)));
        assert!(e.message.contains("list item ends"), "{e}");
        assert_eq!(e.notes[0].pos, Pos::new("ch.md", 5, 1));
        // At the end of the file, it is the same error as at top level.
        let e = parse(Path::new("ch.md"), "> ```\n> x\n").unwrap_err();
        assert!(e.message.contains("before the end of the file"), "{e}");
    }

    #[test]
    fn tab_indented_fences() {
        // A tab is 4 columns: 2 for the list item, 2 of indentation for the fence.
        let text = "- item\n\n\t```rust name=t\n\tlet t = 1;\n\t\tnested\n\t```\n";
        let b = blocks(text);
        assert_eq!(b.len(), 1, "{b:?}");
        assert_eq!(b[0].pos, Pos::new("ch.md", 3, 2));
        assert_eq!(b[0].indent, 4);
        assert_eq!(
            b[0].lines().collect::<Vec<_>>(),
            vec!["let t = 1;", "\tnested"]
        );
        assert_eq!(shifts(&b[0]), vec![1, 1]);
        // A tab that the list item only partly takes leaves spaces for the rest of it.
        let b = blocks("1. x\n\n   ```rust name=p\n\t  a <<b>>\n   ```\n");
        assert_eq!(b[0].lines().collect::<Vec<_>>(), vec!["   a <<b>>"]);
        assert_eq!(shifts(&b[0]), vec![0]);
        assert_eq!(b[0].col(0, 5), 6);
        // At top level, a tab is indented code, as four spaces are.
        let ch = parse(Path::new("c.md"), "\t```rust name=a\n\t```\n").unwrap();
        assert!(ch.blocks.is_empty());
        assert_eq!(ch.warnings[0].pos, Some(Pos::new("c.md", 1, 2)));
    }

    #[test]
    fn deeply_nested_lists() {
        let text = "- a\n  1. b\n     - c\n\n       ```rust name=c\n       c\n       ```\n\n     ```rust name=b\n     b\n     ```\n\n  ```rust name=a\n  a\n  ```\n-  ```rust name=d\n   d\n   ```\n";
        let b = blocks(text);
        let got: Vec<(usize, usize, Vec<String>)> = b
            .iter()
            .map(|b| {
                (
                    b.pos.line,
                    b.indent,
                    b.lines().map(String::from).collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (5, 7, vec!["c".to_string()]),
                (9, 5, vec!["b".to_string()]),
                (13, 2, vec!["a".to_string()]),
                (16, 3, vec!["d".to_string()]),
            ]
        );
        assert_eq!(b[3].prefix, "-  ");
    }

    #[test]
    fn crlf_in_a_block_quote() {
        let b = blocks("> ```rust name=c\r\n> a\r\n>\r\n> ```\r\n");
        assert_eq!(b[0].lines().collect::<Vec<_>>(), vec!["a", ""]);
        assert_eq!(b[0].end_line, 4);
    }

    /// Chapters made of random lines of Markdown containers and fences: reading them never
    /// panics, and every body line is its document line less what was removed before it.
    #[test]
    fn random_containers_keep_line_bookkeeping() {
        const PREFIXES: [&str; 8] = ["> ", ">", "- ", "1. ", "  ", "   ", "\t", " "];
        const CONTENTS: [&str; 10] = [
            "```",
            "```",
            "```rust name=a",
            "~~~",
            "x",
            "  y",
            "\tz",
            "<!--",
            "-->",
            "",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut checked = 0;
        for _ in 0..8000 {
            let mut text = String::new();
            for _ in 0..next(14) {
                for _ in 0..next(4) {
                    text.push_str(PREFIXES[next(PREFIXES.len())]);
                }
                text.push_str(CONTENTS[next(CONTENTS.len())]);
                if next(8) == 0 {
                    text.push('\r');
                }
                if next(10) > 0 {
                    text.push('\n');
                }
            }
            let parsed = parse(Path::new("r.md"), &text);
            // Line by line, the same blocks, lines and columns.
            let general = parse_as(Path::new("r.md"), &text, false);
            let Ok(ch) = parsed else {
                assert_eq!(parsed, general, "{text:?}");
                continue;
            };
            let general = general.unwrap().blocks;
            assert_eq!(ch.blocks.len(), general.len(), "{text:?}");
            for (b, g) in ch.blocks.iter().zip(&general) {
                assert_eq!(
                    (&b.kind, b.pos.clone(), b.body_line, b.end_line, b.indent),
                    (&g.kind, g.pos.clone(), g.body_line, g.end_line, g.indent),
                    "{text:?}"
                );
                let lines = |b: &Block| {
                    (0..b.len())
                        .map(|i| (b.line(i).to_string(), b.shift(i)))
                        .collect::<Vec<_>>()
                };
                assert_eq!(lines(b), lines(g), "{text:?}");
            }
            let doc: Vec<&str> = text.split('\n').collect();
            for b in &ch.blocks {
                assert!(b.shifts.is_empty() || b.shifts.len() == b.len(), "{text:?}");
                for byte in [b'x', b' ', b'`', b'\r', b'\n'] {
                    let plain: Vec<usize> = (0..b.len())
                        .filter(|&i| b.line(i).as_bytes().contains(&byte))
                        .collect();
                    assert_eq!(b.lines_with(byte).collect::<Vec<_>>(), plain, "{text:?}");
                }
                assert!(b.end_line + 1 >= b.body_line + b.len(), "{text:?}");
                let open = doc[b.pos.line - 1];
                assert!(open.starts_with(&b.prefix), "{text:?}");
                for (i, line) in b.lines().enumerate() {
                    let src = doc[b.body_line - 1 + i];
                    let src = src.strip_suffix('\r').unwrap_or(src);
                    let width = line.chars().count() as i32 + b.shift(i);
                    assert_eq!(width, src.chars().count() as i32, "{text:?} line {i}");
                    let own = line.len() - line.trim_start_matches(' ').len();
                    assert!(src.ends_with(&line[own..]), "{text:?} line {i}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000, "only {checked} body lines checked");
    }

    #[test]
    fn bad_attributes_are_errors() {
        for info in [
            "name=a file=b",
            "mode=9",
            "mode=0644",
            "colour=red",
            "name=\"x",
            "labels=x",
        ] {
            let text = format!("```rust {info}\n```\n");
            assert!(parse(Path::new("c.md"), &text).is_err(), "{info}");
        }
    }

    #[test]
    fn mdbook_flags_pass_through() {
        let b = blocks("```rust,ignore\nx\n```\n");
        assert_eq!(b[0].kind, BlockKind::Illustration);
        assert_eq!(b[0].lang, "rust");
    }
}
