//! The document model: the web of named fragments and file roots that a book defines.

use crate::parse::{Block, BlockKind, Chapter};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::PathBuf;
use tangle_core::coderef::{Label, MarkdownFormat};
use tangle_core::diag::{Diagnostic, Diagnostics, Pos};
use tangle_core::mapped::char_count;

/// Fragment names to indices. Names are short, and there is no untrusted peer to defend
/// against, so a cheap multiplicative hash (FxHash's) serves better than the default SipHash.
pub type NameMap = HashMap<String, usize, BuildHasherDefault<NameHasher>>;

/// The hasher of [`NameMap`]: eight bytes at a time, a rotate, a xor and a multiply each.
#[derive(Debug, Clone, Copy, Default)]
pub struct NameHasher(u64);

impl NameHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("eight bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.add(u64::from(b));
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Where one part of a fragment (one code block) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    pub chapter: usize,
    pub block: usize,
}

/// A named fragment: its parts in book order (the first defines, the rest continue).
#[derive(Debug, Clone)]
pub struct Fragment {
    pub name: String,
    pub parts: Vec<BlockRef>,
}

/// A file root: a block tangled to `path` (relative to the project root).
#[derive(Debug, Clone)]
pub struct Root {
    pub path: PathBuf,
    pub mode: u32,
    pub block: BlockRef,
}

/// A reference `<<name>>` found in a block body (byte offsets into the body line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference<'a> {
    pub name: &'a str,
    pub start: usize,
    pub end: usize,
}

/// A coderef label at the end of a line of a tangled block (`(ref:name)` in the block's label
/// format): the tangled code ends before it, the rendered book links to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeLabel {
    pub block: BlockRef,
    /// Body line index.
    pub line: usize,
    /// Byte length of the line's code: the line without the label and the blanks before it.
    pub keep: usize,
    pub name: String,
    /// The label as written (`(ref:name)`).
    pub text: String,
}

/// The whole web: chapters in book order, fragments by name, roots in book order.
#[derive(Debug, Clone)]
pub struct Web {
    pub chapters: Vec<Chapter>,
    pub fragments: Vec<Fragment>,
    pub by_name: NameMap,
    pub roots: Vec<Root>,
    /// The book's coderef label format (a block's `labels=` overrides it).
    pub label_format: String,
    /// Every coderef label of a tangled block, in book order.
    pub labels: Vec<CodeLabel>,
    /// For each chapter and block, the indices in `labels` of its labels (by body line).
    label_index: Vec<Vec<Vec<u32>>>,
    /// For each chapter, every reference of its blocks, found once when the web is built, in
    /// block order.
    refs: Vec<Vec<FoundRef>>,
    /// For each chapter and block, the range of its references in the chapter's `refs`.
    ref_index: Vec<Vec<std::ops::Range<u32>>>,
}

/// What one chapter's blocks hold, found on its own (so that chapters can be read on every
/// core): the coderef labels of its tangled blocks and the references of all its blocks, as
/// [`Web`] keeps them.
#[derive(Debug, Clone, Default)]
pub struct ChapterIndex {
    labels: Vec<CodeLabel>,
    /// For each block, the indices in `labels` of its labels.
    label_index: Vec<Vec<u32>>,
    refs: Vec<FoundRef>,
    ref_index: Vec<std::ops::Range<u32>>,
}

impl ChapterIndex {
    /// The labels and references of `chapter` (chapter `c` of the book); `default_fmt` is the
    /// book's coderef label format.
    pub fn new(c: usize, chapter: &Chapter, default_fmt: &str) -> ChapterIndex {
        let (labels, label_index) = find_labels(c, chapter, default_fmt);
        let mut index = ChapterIndex {
            labels,
            label_index,
            refs: Vec::new(),
            ref_index: Vec::with_capacity(chapter.blocks.len()),
        };
        for (b, block) in chapter.blocks.iter().enumerate() {
            let first = index.refs.len() as u32;
            // A line without `<` holds no reference.
            for i in block.lines_with(b'<') {
                let line = code(block, &index.labels, &index.label_index[b], i);
                let (mut from, mut chars) = (0, 0);
                while let Some(r) = find_reference(line, from) {
                    let before = chars + char_count(&line[from..r.start]);
                    chars = before + char_count(&line[r.start..r.end]);
                    from = r.end;
                    index.refs.push(FoundRef {
                        line: i as u32,
                        start: r.start as u32,
                        end: r.end as u32,
                        before: before as u32,
                        target: None,
                    });
                }
            }
            index.ref_index.push(first..index.refs.len() as u32);
        }
        index
    }
}

/// Body line `i` of `block` as it is tangled, given the block's labels (`mine`: their
/// indices in `labels`, by line).
fn code<'b>(block: &'b Block, labels: &[CodeLabel], mine: &[u32], i: usize) -> &'b str {
    let line = block.line(i);
    if mine.is_empty() {
        return line;
    }
    match mine.binary_search_by_key(&i, |&l| labels[l as usize].line) {
        Ok(k) => &line[..labels[mine[k] as usize].keep],
        Err(_) => line,
    }
}

/// A reference found when the web was built: body line, byte range of `<<name>>` in the line
/// as tangled ([`Web::code`]) and the characters before it on that line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundRef {
    pub line: u32,
    pub start: u32,
    pub end: u32,
    pub before: u32,
    /// The fragment the name resolves to (`None`: no fragment has it).
    pub target: Option<u32>,
}

/// The default mode of generated files: read-only, as in the original document.
pub const DEFAULT_MODE: u32 = 0o444;

/// Finds the first `<<name>>` reference in `line` at or after byte `from`.
///
/// A reference starts at the first `<<` whose name (the text up to the next `>>`) is not
/// empty, does not start with `<` or a space, does not end with a space and holds no `<<`.
/// The scan is linear: the next `>>` and the next `<<` after a candidate's name only move
/// forward as the candidate does, so each is searched for once per call.
pub fn find_reference(line: &str, from: usize) -> Option<Reference<'_>> {
    let b = line.as_bytes();
    // The first `cc` at or after `p` (`b.len()` if none).
    let find_pair = |p: usize, c: u8| {
        let mut k = p;
        while let Some(d) = b.get(k..).and_then(|rest| memchr::memchr(c, rest)) {
            k += d;
            if b.get(k + 1) == Some(&c) {
                return k;
            }
            k += 1;
        }
        b.len()
    };
    // The same, continuing an earlier search whose answer `cached` stands at or after `p`.
    let next_pair = |cached: Option<usize>, p: usize, c: u8| match cached {
        Some(k) if k >= p => k,
        _ => find_pair(p, c),
    };
    let (mut close, mut open) = (None, None);
    let mut start = from;
    loop {
        start = find_pair(start, b'<');
        if start + 1 >= b.len() {
            return None;
        }
        let inner = start + 2;
        let close_at = next_pair(close, inner, b'>');
        close = Some(close_at);
        if close_at == b.len() {
            return None;
        }
        let open_at = next_pair(open, inner, b'<');
        open = Some(open_at);
        let name_ok = close_at > inner
            && !matches!(b[inner], b'<' | b' ')
            && b[close_at - 1] != b' '
            && open_at + 2 > close_at;
        if name_ok {
            return Some(Reference {
                name: &line[inner..close_at],
                start,
                end: close_at + 2,
            });
        }
        start += 1;
    }
}

impl Web {
    /// Builds the web from chapters in book order; `labels` is the book's coderef label format
    /// (a block's `labels=` overrides it). Errors: a name defined twice without the append
    /// marker, a continuation of an undefined name, two roots writing one file.
    pub fn new(chapters: Vec<Chapter>, labels: &str) -> Result<Web, Diagnostics> {
        Web::indexed(chapters, labels, None)
    }

    /// [`Web::new`], with each chapter's [`ChapterIndex`] (for `labels`) when it was made
    /// already (else it is made here, chapters on every core).
    pub fn indexed(
        chapters: Vec<Chapter>,
        labels: &str,
        indexes: Option<Vec<ChapterIndex>>,
    ) -> Result<Web, Diagnostics> {
        let mut errors = Vec::new();
        // At most one fragment per block: room for all at once.
        let blocks = chapters.iter().map(|c| c.blocks.len()).sum();
        let mut fragments: Vec<Fragment> = Vec::with_capacity(blocks);
        let mut by_name = NameMap::with_capacity_and_hasher(blocks, Default::default());
        let mut roots: Vec<Root> = Vec::new();
        for (c, chapter) in chapters.iter().enumerate() {
            for (b, block) in chapter.blocks.iter().enumerate() {
                let at = BlockRef {
                    chapter: c,
                    block: b,
                };
                match &block.kind {
                    BlockKind::Illustration => {}
                    BlockKind::Fragment { name, append: false } => {
                        match by_name.entry(name.clone()) {
                            Entry::Vacant(v) => {
                                v.insert(fragments.len());
                                fragments.push(Fragment { name: name.clone(), parts: vec![at] });
                            }
                            Entry::Occupied(o) => {
                                let first = &fragments[*o.get()].parts[0];
                                errors.push(
                                    Diagnostic::error(
                                        block.pos.clone(),
                                        format!("fragment «{name}» is already defined; write `name+=` to continue it"),
                                    )
                                    .with_note(chapters[first.chapter].blocks[first.block].pos.clone(), "first defined here"),
                                );
                            }
                        }
                    }
                    BlockKind::Fragment { name, append: true } => match by_name.get(name) {
                        Some(&f) => fragments[f].parts.push(at),
                        None => errors.push(Diagnostic::error(
                            block.pos.clone(),
                            format!("`name+=` continues fragment «{name}», which is not defined before this point (book order); define it with `name=` first"),
                        )),
                    },
                    BlockKind::Root { path, mode } => {
                        if let Some(other) = roots.iter().find(|r| tangle_core::paths::same(&r.path, path)) {
                            let first = &chapters[other.block.chapter].blocks[other.block.block];
                            errors.push(
                                Diagnostic::error(block.pos.clone(), format!("a second root writes `{}`", path.display()))
                                    .with_note(first.pos.clone(), "the first root writing it is here"),
                            );
                        } else {
                            roots.push(Root { path: path.clone(), mode: mode.unwrap_or(DEFAULT_MODE), block: at });
                        }
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(Diagnostics(errors));
        }
        Ok(Web::with_index(
            chapters, fragments, by_name, roots, labels, indexes,
        ))
    }

    /// The web of fragments and roots already known: the chapters' labels and references
    /// (from `indexes` when they were found already) are added and resolved.
    fn with_index(
        chapters: Vec<Chapter>,
        fragments: Vec<Fragment>,
        by_name: NameMap,
        roots: Vec<Root>,
        labels: &str,
        indexes: Option<Vec<ChapterIndex>>,
    ) -> Web {
        let indexes = match indexes {
            Some(indexes) if indexes.len() == chapters.len() => indexes,
            _ => {
                let numbered: Vec<(usize, &Chapter)> = chapters.iter().enumerate().collect();
                let bytes = numbered.iter().map(|(_, c)| c.body_bytes()).sum();
                tangle_core::par::map(bytes, &numbered, |&(c, chapter)| {
                    ChapterIndex::new(c, chapter, labels)
                })
            }
        };
        let mut web = Web {
            chapters,
            fragments,
            by_name,
            roots,
            label_format: labels.to_string(),
            labels: Vec::new(),
            label_index: Vec::with_capacity(indexes.len()),
            refs: Vec::with_capacity(indexes.len()),
            ref_index: Vec::with_capacity(indexes.len()),
        };
        for (c, index) in indexes.into_iter().enumerate() {
            let offset = web.labels.len() as u32;
            let mut label_index = index.label_index;
            if offset > 0 {
                for l in label_index.iter_mut().flatten() {
                    *l += offset;
                }
            }
            web.labels.extend(index.labels.into_iter().map(|mut l| {
                l.block.chapter = c;
                l
            }));
            web.label_index.push(label_index);
            web.refs.push(index.refs);
            web.ref_index.push(index.ref_index);
        }
        web.resolve_refs();
        web
    }

    /// Resolves the name of every reference, once.
    fn resolve_refs(&mut self) {
        let mut refs = std::mem::take(&mut self.refs);
        for (c, found) in refs.iter_mut().enumerate() {
            for (b, range) in self.ref_index[c].iter().enumerate() {
                let at = BlockRef {
                    chapter: c,
                    block: b,
                };
                for r in &mut found[range.start as usize..range.end as usize] {
                    let line = self.code(at, r.line as usize);
                    let name = &line[r.start as usize + 2..r.end as usize - 2];
                    r.target = self.by_name.get(name).map(|&f| f as u32);
                }
            }
        }
        self.refs = refs;
    }

    /// A web whose fragments and roots another reader (Entangled's) has already resolved: only
    /// labels and references are found here.
    pub fn assemble(
        chapters: Vec<Chapter>,
        fragments: Vec<Fragment>,
        roots: Vec<Root>,
        labels: &str,
    ) -> Web {
        let mut by_name = NameMap::with_capacity_and_hasher(fragments.len(), Default::default());
        for (f, frag) in fragments.iter().enumerate() {
            by_name.insert(frag.name.clone(), f);
        }
        Web::with_index(chapters, fragments, by_name, roots, labels, None)
    }

    pub fn block(&self, at: BlockRef) -> &Block {
        &self.chapters[at.chapter].blocks[at.block]
    }

    /// Body line `i` of block `at` as it is tangled: without its coderef label.
    pub fn code(&self, at: BlockRef, i: usize) -> &str {
        let block = self.block(at);
        if self.labels.is_empty() {
            return block.line(i);
        }
        code(
            block,
            &self.labels,
            &self.label_index[at.chapter][at.block],
            i,
        )
    }

    /// The references of block `at`, found when the web was built, in order.
    pub fn found_refs(&self, at: BlockRef) -> &[FoundRef] {
        let r = &self.ref_index[at.chapter][at.block];
        &self.refs[at.chapter][r.start as usize..r.end as usize]
    }

    /// The references of block `at`: each with its body line and the characters before it on
    /// that line.
    pub fn references(&self, at: BlockRef) -> impl Iterator<Item = (usize, Reference<'_>, usize)> {
        self.found_refs(at).iter().map(move |f| {
            let line = self.code(at, f.line as usize);
            let (start, end) = (f.start as usize, f.end as usize);
            let r = Reference {
                name: &line[start + 2..end - 2],
                start,
                end,
            };
            (f.line as usize, r, f.before as usize)
        })
    }

    /// "; did you mean «X»?" for the defined fragment name nearest to `name`, or nothing.
    pub fn nearest_name(&self, name: &str) -> String {
        tangle_core::suggest::nearest(name, self.by_name.keys().map(String::as_str))
            .map_or_else(String::new, |n| format!("; did you mean «{n}»?"))
    }

    /// An error for every reference, in any tangled block, to a name that no block defines.
    pub fn undefined_references(&self) -> Vec<Diagnostic> {
        let mut errors = Vec::new();
        for (c, chapter) in self.chapters.iter().enumerate() {
            for (b, block) in chapter.blocks.iter().enumerate() {
                if block.kind == BlockKind::Illustration {
                    continue;
                }
                let at = BlockRef {
                    chapter: c,
                    block: b,
                };
                if self.found_refs(at).iter().all(|f| f.target.is_some()) {
                    continue;
                }
                for (i, r, before) in self.references(at) {
                    if !self.by_name.contains_key(r.name) {
                        let col = block.col(i, before);
                        errors.push(Diagnostic::error(
                            Pos::new(&chapter.path, block.body_line + i, col),
                            format!(
                                "undefined reference «{}»{}",
                                r.name,
                                self.nearest_name(r.name)
                            ),
                        ));
                    }
                }
            }
        }
        errors
    }

    /// The position of body line `i` of a block, at its first character.
    pub fn line_pos(&self, at: BlockRef, i: usize) -> Pos {
        let b = self.block(at);
        Pos::new(
            &self.chapters[at.chapter].path,
            b.body_line + i,
            b.col(i, 0),
        )
    }

    /// Warnings for fragments that no root reaches.
    pub fn unused_fragments(&self) -> Vec<Diagnostic> {
        let mut used = vec![false; self.fragments.len()];
        let mut stack: Vec<BlockRef> = self.roots.iter().map(|r| r.block).collect();
        while let Some(at) = stack.pop() {
            for r in self.found_refs(at) {
                if let Some(f) = r.target.map(|f| f as usize) {
                    if !used[f] {
                        used[f] = true;
                        stack.extend(&self.fragments[f].parts);
                    }
                }
            }
        }
        self.fragments
            .iter()
            .zip(used)
            .filter(|(_, used)| !used)
            .map(|(f, _)| {
                let b = self.block(f.parts[0]);
                Diagnostic::warning(
                    b.pos.clone(),
                    format!("fragment «{}» is defined but never used", f.name),
                )
            })
            .collect()
    }
}

/// The coderef labels of the tangled blocks of chapter `c`, and for each block the indices of
/// its own.
fn find_labels(c: usize, chapter: &Chapter, default_fmt: &str) -> (Vec<CodeLabel>, Vec<Vec<u32>>) {
    let mut labels = Vec::new();
    let mut per_block = Vec::with_capacity(chapter.blocks.len());
    // A label needs the text before its name: when that is known (and holds no line end),
    // only the lines holding it are read, found with one search through each body.
    let searcher = |fmt: &str| {
        let open = MarkdownFormat::new(fmt)?.opening();
        let usable = !open.is_empty() && !open.contains(['\r', '\n']);
        usable.then(|| memchr::memmem::Finder::new(open).into_owned())
    };
    let default_finder = searcher(default_fmt);
    for (b, block) in chapter.blocks.iter().enumerate() {
        let mut mine = Vec::new();
        if block.kind != BlockKind::Illustration {
            let own;
            let (fmt, finder) = match block.labels.as_deref() {
                Some(fmt) => {
                    own = searcher(fmt);
                    (fmt, own.as_ref())
                }
                None => (default_fmt, default_finder.as_ref()),
            };
            let Some(fmt) = MarkdownFormat::new(fmt) else {
                per_block.push(mine);
                continue;
            };
            let mut read = |i: usize| {
                let line = block.line(i);
                if let Some(Label { keep, name }) = fmt.find(line) {
                    mine.push(labels.len() as u32);
                    labels.push(CodeLabel {
                        block: BlockRef {
                            chapter: c,
                            block: b,
                        },
                        line: i,
                        keep,
                        name: name.to_string(),
                        text: line[keep..].trim().to_string(),
                    });
                }
            };
            match finder {
                Some(finder) => block.lines_holding(finder).for_each(&mut read),
                None => (0..block.len()).for_each(&mut read),
            }
        }
        per_block.push(mine);
    }
    (labels, per_block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_anywhere_on_a_line() {
        let r = find_reference("let x = <<the value>>;", 0).unwrap();
        assert_eq!((r.name, r.start, r.end), ("the value", 8, 21));
        assert!(find_reference("a << b >> c", 0).is_none());
        assert!(find_reference("x <<<a>>", 0).is_some_and(|r| r.name == "a"));
        let r = find_reference("<<a>> <<b>>", 1).unwrap();
        assert_eq!(r.name, "b");
        assert!(find_reference("1 << 2", 0).is_none());
    }

    /// The definition, written plainly (and quadratically): try every `<<` in turn.
    fn naive(line: &str, from: usize) -> Option<(usize, usize)> {
        let mut at = from;
        while let Some(open) = line[at..].find("<<") {
            let start = at + open;
            let close = line[start + 2..].find(">>")? + start + 2;
            let name = &line[start + 2..close];
            if !name.is_empty()
                && !name.starts_with(['<', ' '])
                && !name.ends_with(' ')
                && !name.contains("<<")
            {
                return Some((start, close + 2));
            }
            at = start + 1;
        }
        None
    }

    #[test]
    fn linear_scan_agrees_with_the_definition() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let pieces = ["<", ">", "<<", ">>", " ", "a", "é", "<< ", " >>"];
        for _ in 0..20_000 {
            let mut line = String::new();
            for _ in 0..(x % 12) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                line.push_str(pieces[(x % pieces.len() as u64) as usize]);
            }
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut from = 0;
            loop {
                let fast = find_reference(&line, from).map(|r| (r.start, r.end));
                assert_eq!(fast, naive(&line, from), "{line:?} from {from}");
                match fast {
                    Some((_, end)) => from = end,
                    None => break,
                }
            }
        }
    }

    #[test]
    fn half_a_million_openers_scan_in_linear_time() {
        // Quadratic scanning took minutes here.
        let line = format!("{}a>>", "<<".repeat(500_000));
        let r = find_reference(&line, 0).unwrap();
        assert_eq!((r.name, r.start), ("a", 999_998));
        let unclosed = "<<a ".repeat(300_000);
        assert!(find_reference(&unclosed, 0).is_none());
        let names = format!("{}>>", "<<a".repeat(300_000));
        assert_eq!(find_reference(&names, 0).unwrap().start, 899_997);
    }
}
