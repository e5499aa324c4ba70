//! Entangled's books: its Markdown dialect (pandoc attributes `{.rust #name file=path}`, or
//! the basic style's `rust #name file=path` and Quarto's `#|` lines), its names and
//! namespaces, its annotation markers, tangled by the shared expander into files identical to
//! Entangled 2.4's.
//!
//! - [`config`] reads `entangled.toml`; [`read`] finds a document's blocks as Entangled does;
//!   [`properties`] reads a fence's attributes.
//! - This module joins the blocks into a web: every block has a name (its id, else its `file`,
//!   else a name no reference can write), blocks of one name are one fragment, in document order
//!   (documents sorted by path); a file is its name's fragment. References are whole lines,
//!   `<<name>>`, `<<ns::name>>` naming a namespace. With the standard annotation each block's
//!   lines stand between `~/~ begin <<doc#name>>[n]` and `~/~ end` comments in its language's
//!   comment syntax, `[init]` for the first block of a name, else its count among that name's
//!   blocks in its own document.
//! - [`stitch`] reads those markers back, for `tangle sync`; [`filedb`] reads and updates
//!   Entangled's record of what it wrote, so that the two tools can take turns on one book.
//!
//! The files are Entangled 2.4's, byte for byte (`tests/entangled_differential.rs` runs both on
//! every case of `tests/entangled_corpus/`). Where we differ, on purpose:
//!
//! - entangled-rs' names for settings are read (`source_patterns`, `style = "pandoc"` or
//!   `"entangled-rs"`, `namespace_default = "file"` or `"none"`), where 2.4 ignores or refuses
//!   them; a file with `source_patterns` and no style is entangled-rs' own, read in its fences;
//! - a document that two watch-list patterns find is read once (2.4 reads it twice);
//! - a book Entangled refuses gets a located error and a failing exit (2.4 exits 0, silent);
//! - files are written 0644, or with their `mode` (2.4's temporary files leave 0600), and
//!   `#| mode: 755` is octal as `mode=755` is (2.4 takes the YAML integer as it is);
//! - with both the shebang and SPDX hooks, a shebang line goes first (2.4's order is that of
//!   a Python set, so changes from run to run);
//! - an empty file without markers is written empty (2.4 fails on it);
//! - the runners' hooks (`brei`, `build`, `repl`) are not run: their files under `.entangled/`
//!   and their sessions are not written (a warning says so).

pub mod config;
pub mod filedb;
pub mod properties;
pub mod read;
pub mod stitch;

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::dialect::{CalledAt, CycleStep, Dialect, Found, PrefixRule, Rules};
use crate::output::{Origin, Output, SourceMap};
use crate::tangle::Tangled;
use config::{Annotation, Config, Namespace};
use read::Document;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// A name and the namespace it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefName {
    pub namespace: Vec<String>,
    pub name: String,
}

impl RefName {
    /// `name` as written in a reference in a block of `namespace`: `a::b::c` names namespace
    /// `a::b` itself.
    fn parse(name: &str, namespace: &[String]) -> RefName {
        match name.rsplit_once("::") {
            Some((ns, n)) => RefName {
                namespace: ns.split("::").map(str::to_string).collect(),
                name: n.to_string(),
            },
            None => RefName {
                namespace: namespace.to_vec(),
                name: name.to_string(),
            },
        }
    }
}

impl std::fmt::Display for RefName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for ns in &self.namespace {
            write!(f, "{ns}::")?;
        }
        f.write_str(&self.name)
    }
}

/// One block in the web: where it is and the lines it contributes, markers included.
#[derive(Debug, Clone)]
struct Unit {
    doc: u32,
    /// The lines as expanded: header, begin marker, code, end marker.
    lines: Vec<UnitLine>,
    /// Characters taken off the start of each line (the fence's indentation), but for the
    /// lines in `verbatim` (indices, sorted), which kept theirs.
    indent: i32,
    verbatim: Vec<u32>,
    namespace: Vec<String>,
    /// The block's fence line.
    open_line: usize,
    /// Its language is unknown (with the standard annotation, an error once it is tangled).
    no_comment: bool,
}

/// A line of a unit: its document line, and its text: bytes `start..end` of its document's
/// text, or of the web's markers for a marker line.
#[derive(Debug, Clone, Copy)]
struct UnitLine {
    n: u32,
    start: u32,
    end: u32,
    marker: bool,
}

/// A name's blocks, in order.
#[derive(Debug, Clone)]
struct Fragment {
    name: RefName,
    blocks: Vec<u32>,
}

/// A file the book writes: its path and the fragment that makes it.
#[derive(Debug, Clone)]
struct Target {
    path: PathBuf,
    fragment: usize,
    /// The block whose `file=` named it last (Entangled keeps the last).
    block: u32,
}

/// An Entangled book read into one web.
#[derive(Debug, Clone)]
pub struct Web {
    docs: Vec<PathBuf>,
    /// The documents' texts (line breaks made `\n`), which the units' lines are in.
    texts: Vec<String>,
    /// The marker lines' text, one after another.
    markers: String,
    units: Vec<Unit>,
    fragments: Vec<Fragment>,
    by_name: HashMap<RefName, usize>,
    targets: Vec<Target>,
    /// Per target, its root line `<<name>>` (the expansion starts there).
    roots: Vec<String>,
    /// For each block: the fragment it belongs to and its marker's count.
    pub block_info: Vec<BlockInfo>,
    annotation: Annotation,
}

/// What [`stitch`] and the mdBook preprocessor need to know of a block.
#[derive(Debug, Clone)]
pub struct BlockInfo {
    /// Its document's index in the web ([`Web::doc_path`]).
    pub doc: u32,
    pub open_line: usize,
    pub close_line: usize,
    pub indent: String,
    pub name: RefName,
    /// `init` or the count shown in the begin marker.
    pub count: String,
    /// How many lines its hooks moved before its begin marker (its code lines follow them:
    /// [`Web::source`]).
    pub header_len: usize,
    pub file: Option<PathBuf>,
    /// `mode=`: the file's permissions, taken from the first block of a file's fragment.
    pub mode: Option<u32>,
}

/// A path as Python's `PurePath` spells it: no `.` parts, no doubled or trailing slashes.
fn pure_path(p: &str) -> PathBuf {
    let mut out = PathBuf::new();
    if p.starts_with('/') {
        out.push("/");
    }
    for part in p.split('/') {
        if !part.is_empty() && part != "." {
            out.push(part);
        }
    }
    out
}

fn posix(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// The text a reference line stands for, if `line` is one: `(indentation, name)`.
pub fn reference(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_end();
    let body = t.trim_start();
    let indent = t.len() - body.len();
    let name = body.strip_prefix("<<")?.strip_suffix(">>")?;
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ':' || c == '-');
    ok.then_some((indent, name))
}

/// `new` (an edited or formatted output) with each empty line that stands where `old` (the
/// output as tangled) has a line of white space only given that white space back.
///
/// Entangled indents every line a reference brings, blank lines too, so a blank line in an
/// indented block tangles to the reference's indentation; editors and rustfmt take such
/// trailing white space off. Both mean the same blank line: this keeps them equal.
pub fn keep_blank_prefixes(old: &str, new: &str) -> String {
    use similar::{DiffOp, TextDiff};
    let diff = TextDiff::from_lines(old, new);
    let old_lines: Vec<&str> = diff.old_slices().to_vec();
    let new_lines: Vec<&str> = diff.new_slices().to_vec();
    let mut out = String::with_capacity(new.len());
    for op in diff.ops() {
        match *op {
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                for k in 0..new_len {
                    let n = new_lines[new_index + k];
                    let o = (k < old_len).then(|| old_lines[old_index + k]);
                    match o {
                        Some(o)
                            if n.trim().is_empty()
                                && o.trim().is_empty()
                                && n.ends_with('\n') == o.ends_with('\n') =>
                        {
                            out.push_str(o)
                        }
                        _ => out.push_str(n),
                    }
                }
            }
            _ => {
                for r in op.new_range() {
                    out.push_str(new_lines[r]);
                }
            }
        }
    }
    out
}

/// Reads the documents (`(path, text)`, paths relative to the root) into a web.
pub fn web(
    config: &Config,
    docs: Vec<(PathBuf, String)>,
) -> Result<(Web, Vec<Diagnostic>), Diagnostics> {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut read_docs: Vec<Document> = Vec::new();
    // Documents are read on every core (each on its own); results come back in order.
    let bytes = docs.iter().map(|(_, t)| t.len()).sum();
    let read = crate::par::map(bytes, &docs, |(path, text)| read::read(config, path, text));
    for result in read {
        match result {
            Ok(mut d) => {
                warnings.append(&mut d.warnings);
                read_docs.push(d);
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    // A single document's YAML header settings are the book's (as Entangled has it); with
    // several, each document's only shape its own reading.
    let book_config = match read_docs.as_slice() {
        [only] => only.config.clone().unwrap_or_else(|| config.clone()),
        _ => config.clone(),
    };
    let annotation = book_config.annotation;
    let mut web = Web {
        docs: read_docs.iter().map(|d| d.path.clone()).collect(),
        texts: Vec::with_capacity(read_docs.len()),
        markers: String::new(),
        units: Vec::new(),
        fragments: Vec::new(),
        by_name: HashMap::new(),
        targets: Vec::new(),
        roots: Vec::new(),
        block_info: Vec::new(),
        annotation,
    };
    // Room for every block at once (doubling a large vector holds both copies for a while).
    let blocks: usize = read_docs.iter().map(|d| d.blocks.len()).sum();
    web.units.reserve_exact(blocks);
    web.block_info.reserve_exact(blocks);
    let mut target_index: HashMap<PathBuf, usize> = HashMap::new();
    // Per (name, document): blocks so far, for the marker counts.
    let mut counts: HashMap<(usize, u32), usize> = HashMap::new();
    for (d, (doc, (_, original))) in read_docs.into_iter().zip(docs).enumerate() {
        let d = d as u32;
        let config = doc.config.as_ref().unwrap_or(config);
        let namespace: Vec<String> = match &config.namespace {
            Namespace::Global => Vec::new(),
            Namespace::Private => vec![posix(&doc.path)],
            Namespace::Fixed(ns) => ns.clone(),
        };
        for block in doc.blocks {
            let at = |line: usize| Pos::new(&doc.path, line, block.indent.chars().count() + 1);
            let props = &block.properties;
            let lang = properties::language(props);
            let comment = lang.and_then(|l| config.languages.get(l));
            if let (Some(l), None) = (lang, comment) {
                warnings.push(Diagnostic::warning(
                    at(block.open_line),
                    format!("language `{l}` unknown (add it to `languages` in entangled.toml to give it a comment syntax)"),
                ));
            }
            let file = properties::attribute(props, "file");
            let mode = match properties::attribute(props, "mode") {
                None => None,
                Some(m) => match u32::from_str_radix(m.trim_start_matches("0o"), 8) {
                    Ok(m) if m <= 0o7777 => Some(m),
                    _ => {
                        errors.push(Diagnostic::error(
                            at(block.open_line),
                            format!("`mode={m}` is not an octal file mode such as 0755"),
                        ));
                        None
                    }
                },
            };
            let name = match (properties::id(props), file) {
                (Some(id), _) => id.to_string(),
                (None, Some(f)) => f.to_string(),
                (None, None) => format!("unnamed-{}:{}", posix(&doc.path), block.open_line),
            };
            let name = RefName {
                namespace: namespace.clone(),
                name,
            };
            let fragment = *web.by_name.entry(name.clone()).or_insert_with(|| {
                web.fragments.push(Fragment {
                    name: name.clone(),
                    blocks: Vec::new(),
                });
                web.fragments.len() - 1
            });
            let u = web.units.len() as u32;
            let first = web.fragments[fragment].blocks.is_empty();
            web.fragments[fragment].blocks.push(u);
            let n = counts.entry((fragment, d)).or_insert(0);
            let count = if first {
                "init".to_string()
            } else {
                n.to_string()
            };
            *n += 1;
            if let Some(f) = file {
                let path = pure_path(f);
                let t = Target {
                    path: path.clone(),
                    fragment,
                    block: u,
                };
                match target_index.get(&path) {
                    Some(&k) => web.targets[k] = t,
                    None => {
                        target_index.insert(path, web.targets.len());
                        web.targets.push(t);
                    }
                }
            }
            let indent = block.indent.chars().count() as i32;
            let mut unit = Unit {
                doc: d,
                lines: Vec::with_capacity(block.header.len() + block.source.len() + 2),
                indent,
                verbatim: Vec::new(),
                namespace: namespace.clone(),
                open_line: block.open_line,
                no_comment: comment.is_none(),
            };
            let code = |l: &read::Line| UnitLine {
                n: l.n,
                start: l.start,
                end: l.end,
                marker: false,
            };
            let marker = |markers: &mut String, n: usize, text: std::fmt::Arguments| {
                use std::fmt::Write as _;
                let start = markers.len() as u32;
                let _ = markers.write_fmt(text);
                UnitLine {
                    n: n as u32,
                    start,
                    end: markers.len() as u32,
                    marker: true,
                }
            };
            unit.lines.extend(block.header.iter().map(code));
            let standard = annotation == Annotation::Standard;
            let (open, close) = match comment {
                Some(c) => (
                    c.open.as_str(),
                    c.close.as_ref().map_or(String::new(), |c| format!(" {c}")),
                ),
                None => ("", String::new()),
            };
            if standard {
                let path = posix(&doc.path);
                let line = marker(
                    &mut web.markers,
                    block.open_line,
                    format_args!("{open} ~/~ begin <<{path}#{name}>>[{count}]{close}"),
                );
                unit.lines.push(line);
            }
            for l in &block.source {
                if block.verbatim.binary_search(&l.n()).is_ok() {
                    unit.verbatim.push(unit.lines.len() as u32);
                }
                unit.lines.push(code(l));
            }
            if standard {
                let line = marker(
                    &mut web.markers,
                    block.close_line,
                    format_args!("{open} ~/~ end{close}"),
                );
                unit.lines.push(line);
            }
            web.units.push(unit);
            web.block_info.push(BlockInfo {
                doc: d,
                open_line: block.open_line,
                close_line: block.close_line,
                indent: block.indent,
                name,
                count,
                header_len: block.header.len(),
                file: file.map(pure_path),
                mode,
            });
        }
        web.texts.push(doc.normalized.unwrap_or(original));
    }
    for t in &web.targets {
        let name = &web.fragments[t.fragment].name;
        web.roots.push(format!("<<{name}>>"));
    }
    if annotation == Annotation::Naked {
        web.drop_empty_references();
    }
    if errors.is_empty() {
        Ok((web, warnings))
    } else {
        Err(Diagnostics(errors))
    }
}

/// The web of the mdBook pages of an Entangled book (`(path, text)` in book order), for the
/// preprocessor to render: every block a fragment part (or, a file block without an id, the
/// file's root), named as Entangled names it.
pub fn site_web(
    config: &Config,
    pages: &[(PathBuf, String)],
    labels: &str,
) -> Result<crate::model::Web, Diagnostics> {
    use crate::markdown::{Block, BlockKind, Chapter};
    use crate::model::{BlockRef, Fragment as SiteFragment, Root};
    let mut errors = Vec::new();
    let mut chapters = Vec::with_capacity(pages.len());
    let mut fragments: Vec<SiteFragment> = Vec::new();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut roots: Vec<Root> = Vec::new();
    for (c, (path, text)) in pages.iter().enumerate() {
        let doc = match read::read(config, path, text) {
            Ok(d) => d,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let config = doc.config.as_ref().unwrap_or(config);
        let namespace: Vec<String> = match &config.namespace {
            Namespace::Global => Vec::new(),
            Namespace::Private => vec![posix(path)],
            Namespace::Fixed(ns) => ns.clone(),
        };
        let mut blocks = Vec::with_capacity(doc.blocks.len());
        for (b, block) in doc.blocks.iter().enumerate() {
            let props = &block.properties;
            let id = properties::id(props);
            let file = properties::attribute(props, "file").map(pure_path);
            let name = RefName {
                namespace: namespace.clone(),
                name: match (id, &file) {
                    (Some(id), _) => id.to_string(),
                    (None, Some(_)) => properties::attribute(props, "file")
                        .unwrap_or_default()
                        .to_string(),
                    (None, None) => format!("unnamed-{}:{}", posix(path), block.open_line),
                },
            }
            .to_string();
            let at = BlockRef {
                chapter: c,
                block: b,
            };
            let append = match by_name.get(&name) {
                Some(&f) => {
                    fragments[f].parts.push(at);
                    true
                }
                None => {
                    by_name.insert(name.clone(), fragments.len());
                    fragments.push(SiteFragment {
                        name: name.clone(),
                        parts: vec![at],
                    });
                    false
                }
            };
            let mode = properties::attribute(props, "mode")
                .and_then(|m| u32::from_str_radix(m.trim_start_matches("0o"), 8).ok());
            let kind = match (&file, id) {
                (Some(p), None) if !append => BlockKind::Root {
                    path: p.clone(),
                    mode,
                },
                _ => BlockKind::Fragment { name, append },
            };
            if let Some(p) = &file {
                let root = Root {
                    path: p.clone(),
                    mode: mode.unwrap_or(0o644),
                    block: at,
                };
                match roots.iter_mut().find(|r| r.path == *p) {
                    Some(r) => *r = root,
                    None => roots.push(root),
                }
            }
            let indent = block.indent.chars().count();
            let lines = block
                .header
                .iter()
                .chain(&block.source)
                .map(|l| l.of(doc.text(text)));
            let body_line = block
                .header
                .first()
                .or(block.source.first())
                .map_or(block.close_line, read::Line::n);
            blocks.push(Block::from_lines(
                kind,
                properties::language(props).unwrap_or(""),
                "",
                Pos::new(path, block.open_line, indent + 1),
                body_line,
                block.close_line,
                &block.indent,
                lines,
            ));
        }
        chapters.push(Chapter {
            path: path.clone(),
            blocks,
            warnings: Vec::new(),
        });
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    Ok(crate::model::Web::assemble(
        chapters, fragments, roots, labels,
    ))
}

/// Tangles the documents: every file the book writes, with its line map if `lines`.
pub fn tangle(
    config: &Config,
    docs: Vec<(PathBuf, String)>,
    lines: bool,
) -> Result<Tangled, Diagnostics> {
    let (count, bytes) = (docs.len(), docs.iter().map(|(_, t)| t.len()).sum());
    let (web, mut warnings) = web(config, docs)?;
    let mut outputs = Vec::with_capacity(web.targets.len());
    let mut errors = Vec::new();
    // Each file on its own, on every core.
    let numbered: Vec<usize> = (0..web.targets.len()).collect();
    let expanded = crate::par::map(bytes, &numbered, |&k| {
        crate::expand::expand_with(&mut Expander::new(&web), Piece::Root(k as u32), lines)
    });
    for (t, result) in web.targets.iter().zip(expanded) {
        match result {
            Ok(m) => {
                let (text, map) = m.into_parts();
                let main = web.fragments[t.fragment].blocks[0] as usize;
                let unit = &web.units[t.block as usize];
                let mode = web.block_info[main].mode;
                outputs.push(Output {
                    path: t.path.clone(),
                    content: text.into_bytes(),
                    mode: mode.unwrap_or(0o644),
                    mkdirp: true,
                    block: Pos::new(
                        &web.docs[unit.doc as usize],
                        unit.open_line,
                        unit.indent as usize + 1,
                    ),
                    map,
                });
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        errors.dedup_by(|a, b| a.pos == b.pos && a.message == b.message);
        return Err(Diagnostics(errors));
    }
    if count == 0 {
        warnings.push(Diagnostic::warning(
            config.pos(),
            format!(
                "the watch list ({}) finds no document",
                config
                    .watch_list
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    } else if web.units.is_empty() {
        warnings.push(Diagnostic::warning(
            config.pos(),
            format!(
                "no code block in the {} document(s) read: with this style a block opens with a line matching `{}`",
                count,
                config.markers.open.as_str().trim_start_matches(r"\A(?:").trim_end_matches(')')
            ),
        ));
    }
    if !config.not_run.is_empty() {
        warnings.push(Diagnostic::warning(
            config.pos(),
            format!(
                "hooks {} are Entangled's runners, not tangling; `tangle` does not run them",
                config
                    .not_run
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(Tangled::new(outputs, warnings))
}

/// What the expander works on: a block, or the line that starts a file (`<<name>>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    Block(u32),
    Root(u32),
}

/// The dialect: Entangled's whole-line references, fragments of concatenated blocks, prefixes
/// repeated on every line (blank lines too), no trailing text.
pub struct Expander<'w> {
    web: &'w Web,
    file_ids: Vec<u32>,
    fragment_ids: Vec<u32>,
}

impl<'w> Expander<'w> {
    pub fn new(web: &'w Web) -> Self {
        Expander {
            web,
            file_ids: vec![u32::MAX; web.docs.len()],
            fragment_ids: vec![u32::MAX; web.fragments.len()],
        }
    }

    fn pos(&self, at: CalledAt<Piece>) -> Pos {
        match at.unit {
            Piece::Block(b) => {
                let u = &self.web.units[b as usize];
                Pos::new(
                    &self.web.docs[u.doc as usize],
                    u.lines[at.line].n as usize,
                    at.chars + 1 + u.indent as usize,
                )
            }
            Piece::Root(t) => {
                let t = &self.web.targets[t as usize];
                let u = &self.web.units[t.block as usize];
                Pos::new(
                    &self.web.docs[u.doc as usize],
                    u.open_line,
                    u.indent as usize + 1,
                )
            }
        }
    }
}

impl<'w> Dialect<'w> for Expander<'w> {
    type Unit = Piece;
    type Target = usize;

    fn rules(&self) -> Rules {
        Rules {
            prefix: PrefixRule::Line,
            trim_blank_lines: false,
            cr_breaks: false,
            terminate: true,
        }
    }

    fn part(&self, f: usize, k: usize) -> Option<Piece> {
        self.web.fragments[f]
            .blocks
            .get(k)
            .map(|&b| Piece::Block(b))
    }

    fn line_count(&self, unit: Piece) -> usize {
        match unit {
            Piece::Block(b) => self.web.units[b as usize].lines.len(),
            Piece::Root(_) => 1,
        }
    }

    fn line(&self, unit: Piece, i: usize) -> &'w str {
        match unit {
            Piece::Block(b) => self.web.line(&self.web.units[b as usize], i),
            Piece::Root(t) => &self.web.roots[t as usize],
        }
    }

    fn line_shift(&self, unit: Piece, i: usize) -> i32 {
        match unit {
            Piece::Block(b) => {
                let u = &self.web.units[b as usize];
                if u.verbatim.binary_search(&(i as u32)).is_ok() {
                    0
                } else {
                    u.indent
                }
            }
            Piece::Root(_) => 0,
        }
    }

    fn find_reference(&self, unit: Piece, i: usize, line: &'w str, from: usize) -> Option<Found> {
        if from > 0 {
            return None;
        }
        match unit {
            Piece::Block(b) if self.web.units[b as usize].lines[i].marker => return None,
            Piece::Block(_) => {}
            Piece::Root(_) => {
                return Some(Found {
                    open: 0,
                    name: (2, line.len() - 2),
                    end: line.len(),
                })
            }
        }
        let (indent, name) = reference(line)?;
        Some(Found {
            open: indent,
            name: (indent + 2, indent + 2 + name.len()),
            end: line.len(),
        })
    }

    /// Lines up to the next reference line (a marker is never one).
    fn plain_lines(&self, unit: Piece, from: usize) -> usize {
        let Piece::Block(b) = unit else {
            return 0;
        };
        let u = &self.web.units[b as usize];
        (from..u.lines.len())
            .take_while(|&i| u.lines[i].marker || reference(self.web.line(u, i)).is_none())
            .count()
    }

    fn resolve(&mut self, name: &'w str, at: CalledAt<Piece>) -> Result<Option<usize>, Diagnostic> {
        let want = match at.unit {
            Piece::Block(b) => RefName::parse(name, &self.web.units[b as usize].namespace),
            Piece::Root(t) => {
                let f = self.web.targets[t as usize].fragment;
                self.web.fragments[f].name.clone()
            }
        };
        match self.web.by_name.get(&want) {
            Some(&f) => {
                if self.web.annotation == Annotation::Standard {
                    for &b in &self.web.fragments[f].blocks {
                        let u = &self.web.units[b as usize];
                        if u.no_comment {
                            return Err(Diagnostic::error(
                                Pos::new(&self.web.docs[u.doc as usize], u.open_line, u.indent as usize + 1),
                                "this block has no language with a comment syntax, so its `~/~` markers cannot be written (give it a class such as `.rust`, or set `annotation = \"naked\"`)",
                            ));
                        }
                    }
                }
                Ok(Some(f))
            }
            None => Err(Diagnostic::error(
                self.pos(at),
                format!("undefined reference «{want}»: no block has this name"),
            )),
        }
    }

    fn key(&self, target: Option<usize>, _: Piece) -> Option<usize> {
        target
    }

    fn key_count(&self) -> usize {
        self.web.fragments.len()
    }

    fn origin(
        &mut self,
        map: &mut SourceMap,
        target: Option<usize>,
        unit: Piece,
        i: usize,
        col_shift: i32,
    ) -> Origin {
        let (doc, line, fragment) = match unit {
            Piece::Block(b) => {
                let u = &self.web.units[b as usize];
                (u.doc, u.lines[i].n, target.unwrap_or(0))
            }
            Piece::Root(t) => {
                let t = &self.web.targets[t as usize];
                let u = &self.web.units[t.block as usize];
                (u.doc, u.open_line as u32, t.fragment)
            }
        };
        if self.file_ids[doc as usize] == u32::MAX {
            self.file_ids[doc as usize] = map.files.len() as u32;
            map.files.push(self.web.docs[doc as usize].clone());
        }
        if self.fragment_ids[fragment] == u32::MAX {
            self.fragment_ids[fragment] = map.fragments.len() as u32;
            map.fragments
                .push(self.web.fragments[fragment].name.to_string());
        }
        Origin {
            file: self.file_ids[doc as usize],
            line,
            col_shift,
            fragment: self.fragment_ids[fragment],
        }
    }

    fn cycle(&self, steps: &[CycleStep<Piece>], again: CycleStep<Piece>) -> Diagnostic {
        crate::dialect::fragment_cycle(
            steps,
            again,
            |key| self.web.fragments[key].name.to_string(),
            |at| self.pos(at),
        )
    }
}

impl Unit {
    /// Keeps the lines for which `keep` holds.
    fn retain(&mut self, keep: impl Fn(usize) -> bool) {
        let mut lines = Vec::with_capacity(self.lines.len());
        let mut verbatim = Vec::new();
        for (i, l) in self.lines.iter().enumerate() {
            if keep(i) {
                if self.verbatim.binary_search(&(i as u32)).is_ok() {
                    verbatim.push(lines.len() as u32);
                }
                lines.push(*l);
            }
        }
        self.lines = lines;
        self.verbatim = verbatim;
    }
}

impl Web {
    /// Line `i` of `unit`.
    fn line(&self, unit: &Unit, i: usize) -> &str {
        let l = unit.lines[i];
        let text = if l.marker {
            &self.markers
        } else {
            &self.texts[unit.doc as usize]
        };
        &text[l.start as usize..l.end as usize]
    }

    /// The path of document `doc` (its index in the web).
    pub fn doc_path(&self, doc: u32) -> &Path {
        &self.docs[doc as usize]
    }

    /// The code lines of block `b` (after the hooks), with their document lines. (With the
    /// naked annotation, references to empty fragments are gone from them: see
    /// [`Web::drop_empty_references`]; sync reads the blocks of annotated files only.)
    pub fn source(&self, b: usize) -> Vec<(usize, &str)> {
        let u = &self.units[b];
        (self.block_info[b].header_len..u.lines.len())
            .filter(|&i| !u.lines[i].marker)
            .map(|i| (u.lines[i].n as usize, self.line(u, i)))
            .collect()
    }

    /// The fragment a code line refers to, if it is a reference line to a defined name.
    fn referenced(&self, unit: &Unit, i: usize) -> Option<usize> {
        if unit.lines[i].marker {
            return None;
        }
        let (_, name) = reference(self.line(unit, i))?;
        self.by_name
            .get(&RefName::parse(name, &unit.namespace))
            .copied()
    }

    /// Without markers, a reference whose expansion has no line at all leaves no line either
    /// (not even its indentation): Entangled indents the lines an expansion yields, and an
    /// empty one yields none. Such reference lines are taken out of their blocks. A fragment
    /// is empty when each of its blocks holds nothing but references to empty fragments; a
    /// cycle never is (it stays, to be reported).
    fn drop_empty_references(&mut self) {
        let mut empty = vec![false; self.fragments.len()];
        loop {
            let mut changed = false;
            for f in 0..self.fragments.len() {
                if empty[f] {
                    continue;
                }
                let all = self.fragments[f].blocks.iter().all(|&b| {
                    let u = &self.units[b as usize];
                    (0..u.lines.len()).all(|i| self.referenced(u, i).is_some_and(|g| empty[g]))
                });
                if all {
                    empty[f] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        if !empty.contains(&true) {
            return;
        }
        for b in 0..self.units.len() {
            let u = &self.units[b];
            let drop: Vec<bool> = (0..u.lines.len())
                .map(|i| self.referenced(u, i).is_some_and(|g| empty[g]))
                .collect();
            if drop.contains(&true) {
                self.units[b].retain(|i| !drop[i]);
            }
        }
    }
}

/// The documents an Entangled book reads from `root`: the files its watch list's patterns
/// find, less those its ignore list matches, sorted as Python sorts paths (part by part).
pub fn documents(root: &Path, config: &Config) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    for pattern in &config.watch_list {
        glob(root, pattern, &mut found);
    }
    found.retain(|p| !config.ignore_list.iter().any(|pat| path_match(p, pat)));
    found.sort_by(|a, b| a.components().cmp(b.components()));
    found.dedup();
    found
}

/// A glob's one part (`*`, `?`, `[...]`) as a regular expression.
fn part_regex(part: &str) -> regex::Regex {
    let mut re = String::from(r"\A(?s:");
    let mut chars = part.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                let mut first = true;
                while let Some(&d) = chars.peek() {
                    chars.next();
                    if d == ']' && !first {
                        closed = true;
                        break;
                    }
                    if first && d == '!' {
                        class.push('^');
                    } else if d == '\\' || d == '[' || d == '^' && !first {
                        class.push('\\');
                        class.push(d);
                    } else {
                        class.push(d);
                    }
                    first = false;
                }
                if closed {
                    re.push('[');
                    re.push_str(&class);
                    re.push(']');
                } else {
                    re.push_str(&regex::escape("["));
                    re.push_str(&regex::escape(&class));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(r")\z");
    regex::Regex::new(&re).unwrap_or_else(|_| regex::Regex::new(r"\A\z").expect("valid"))
}

/// Every file below `root` that `pattern` (Python's `Path.glob`: `**` any depth of folders)
/// finds, relative to `root`.
fn glob(root: &Path, pattern: &str, found: &mut Vec<PathBuf>) {
    let parts: Vec<&str> = pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut here = vec![PathBuf::new()];
    for (k, part) in parts.iter().enumerate() {
        let last = k + 1 == parts.len();
        let mut next = Vec::new();
        if *part == "**" {
            for dir in here {
                let mut stack = vec![dir];
                while let Some(d) = stack.pop() {
                    if let Ok(entries) = std::fs::read_dir(root.join(&d)) {
                        for e in entries.flatten() {
                            if e.path().is_dir() {
                                stack.push(d.join(e.file_name()));
                            }
                        }
                    }
                    next.push(d);
                }
            }
            if last {
                // `a/**` names folders only.
                return;
            }
        } else {
            let re = part_regex(part);
            let literal = !part.contains(['*', '?', '[']);
            for dir in here {
                if literal {
                    let p = dir.join(part);
                    if root.join(&p).exists() {
                        next.push(p);
                    }
                    continue;
                }
                if let Ok(entries) = std::fs::read_dir(root.join(&dir)) {
                    for e in entries.flatten() {
                        let name = e.file_name();
                        if re.is_match(&name.to_string_lossy()) {
                            next.push(dir.join(name));
                        }
                    }
                }
            }
        }
        here = next;
    }
    found.extend(here.into_iter().filter(|p| root.join(p).is_file()));
}

/// Python's `PurePath.match`: a relative pattern matches the path's last parts.
fn path_match(path: &Path, pattern: &str) -> bool {
    let pats: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if pats.is_empty() || pats.len() > parts.len() {
        return false;
    }
    let from = if pattern.starts_with('/') {
        if pats.len() != parts.len() {
            return false;
        }
        0
    } else {
        parts.len() - pats.len()
    };
    pats.iter()
        .zip(&parts[from..])
        .all(|(p, s)| part_regex(p).is_match(s))
}

/// The documents' texts, read from `root` (or taken from `texts`, relative to the root).
pub fn read_texts(
    root: &Path,
    files: &[PathBuf],
    texts: &BTreeMap<PathBuf, String>,
) -> Result<Vec<(PathBuf, String)>, Diagnostics> {
    let mut out = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for f in files {
        match texts.get(f) {
            Some(t) => out.push((f.clone(), t.clone())),
            None => match crate::source::read(&root.join(f)) {
                Ok(t) => out.push((f.clone(), t)),
                Err(mut d) => {
                    d.pos.path = f.clone();
                    errors.push(d);
                }
            },
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tangle_one(config: &str, md: &str) -> Result<Vec<(PathBuf, String)>, Diagnostics> {
        let c = Config::parse(Path::new("entangled.toml"), config, &[]).unwrap();
        let t = tangle(&c, vec![(PathBuf::from("a.md"), md.to_string())], true)?;
        Ok(t.outputs
            .into_iter()
            .map(|o| (o.path, String::from_utf8(o.content).unwrap()))
            .collect())
    }

    const MD: &str = "```{.rust file=x.rs}\nfn main() {\n    <<body>>\n}\n```\n\n```{.rust #body}\nlet a = 1;\n\nlet b = 2;\n```\n\n```{.rust #body}\nlet c = 3;\n```\n";

    #[test]
    fn naked() {
        let out = tangle_one("version=\"2.0\"\nannotation=\"naked\"\n", MD).unwrap();
        assert_eq!(
            out,
            [(
                PathBuf::from("x.rs"),
                "fn main() {\n    let a = 1;\n    \n    let b = 2;\n    let c = 3;\n}\n"
                    .to_string()
            )]
        );
    }

    #[test]
    fn standard() {
        let out = tangle_one("version=\"2.0\"\n", MD).unwrap();
        assert_eq!(
            out[0].1,
            "// ~/~ begin <<a.md#x.rs>>[init]\nfn main() {\n    // ~/~ begin <<a.md#body>>[init]\n    let a = 1;\n    \n    let b = 2;\n    // ~/~ end\n    // ~/~ begin <<a.md#body>>[1]\n    let c = 3;\n    // ~/~ end\n}\n// ~/~ end\n"
        );
    }

    #[test]
    fn errors_are_located() {
        let e = tangle_one(
            "version=\"2.0\"\n",
            "```{.rust file=x.rs}\n  <<nope>>\n```\n",
        )
        .unwrap_err();
        assert_eq!(e.0[0].pos, Pos::new("a.md", 2, 3), "{e}");
        let e =
            tangle_one("version=\"2.0\"\n", "```{.rust file=x.rs #a}\n<<a>>\n```\n").unwrap_err();
        assert!(e.0[0].message.contains("cycle"), "{e}");
        let e = tangle_one("version=\"2.0\"\n", "```{file=x.rs}\nx\n```\n").unwrap_err();
        assert_eq!(e.0[0].pos, Pos::new("a.md", 1, 1), "{e}");
    }

    #[test]
    fn an_empty_expansion_leaves_no_line_when_naked() {
        let md = "```{.rust file=x.rs}\nfn f() {\n    <<outer>>\n}\n```\n\n```{.rust #outer}\n  <<nothing>>\n```\n\n```{.rust #nothing}\n```\n";
        let out = tangle_one("version=\"2.0\"\nannotation=\"naked\"\n", md).unwrap();
        assert_eq!(out[0].1, "fn f() {\n}\n");
        let cycle = "```{.rust file=x.rs}\n    <<a>>\n```\n\n```{.rust #a}\n<<b>>\n```\n\n```{.rust #b}\n<<a>>\n```\n";
        let e = tangle_one("version=\"2.0\"\nannotation=\"naked\"\n", cycle).unwrap_err();
        assert!(e.0[0].message.contains("cycle"), "{e}");
    }

    #[test]
    fn blank_prefixes() {
        let old = "fn f() {\n    a;\n    \n    b;\n}\n";
        assert_eq!(
            keep_blank_prefixes(old, "fn f() {\n    a;\n\n    b;\n}\n"),
            old
        );
        assert_eq!(
            keep_blank_prefixes(old, "fn f() {\n    a2;\n\n    b;\n}\n"),
            "fn f() {\n    a2;\n    \n    b;\n}\n"
        );
    }

    #[test]
    fn globs() {
        assert!(path_match(Path::new("docs/a/b.md"), "a/*.md"));
        assert!(!path_match(Path::new("docs/a/b.md"), "docs/*.md"));
        assert!(part_regex("[!a]*.md").is_match("b.md"));
        assert!(!part_regex("[!a]*.md").is_match("a.md"));
    }
}
