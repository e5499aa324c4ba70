//! An Entangled book read into one web: every block has a name (its id, else its `file`,
//! else a name no reference can write), blocks of one name are one fragment, in document order
//! (documents sorted by path); a file is its name's fragment. Each block becomes a unit of
//! lines for the expander: its hooks' lines, with the standard annotation its begin marker, its
//! code, its end marker; lines are slices of their document's text.

use super::config::{Annotation, Config, Namespace};
use super::properties;
use super::read::{self, Document};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tangle_core::diag::{Diagnostic, Diagnostics, Pos};

/// A name and the namespace it lives in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RefName {
    pub namespace: Vec<String>,
    pub name: String,
}

impl RefName {
    /// `name` as written in a reference in a block of `namespace`: `a::b::c` names namespace
    /// `a::b` itself.
    pub fn parse(name: &str, namespace: &[String]) -> RefName {
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
pub(super) struct Unit {
    pub(super) doc: u32,
    /// The lines as expanded: header, begin marker, code, end marker.
    pub(super) lines: Vec<UnitLine>,
    /// Characters taken off the start of each line (the fence's indentation), but for the
    /// lines in `verbatim` (indices, sorted), which kept theirs.
    pub(super) indent: i32,
    pub(super) verbatim: Vec<u32>,
    pub(super) namespace: Vec<String>,
    /// The block's fence line.
    pub(super) open_line: usize,
}

/// A line of a unit: its document line, and its text: bytes `start..end` of its document's
/// text, or of the web's markers for a marker line.
#[derive(Debug, Clone, Copy)]
pub(super) struct UnitLine {
    pub(super) n: u32,
    pub(super) start: u32,
    pub(super) end: u32,
    pub(super) marker: bool,
}

/// A name's blocks, in order.
#[derive(Debug, Clone)]
pub(super) struct Fragment {
    pub(super) name: RefName,
    pub(super) blocks: Vec<u32>,
    /// With the standard annotation, its first block whose language has no comment syntax
    /// (no markers can be written for it: an error once the fragment is tangled).
    pub(super) uncommented: Option<u32>,
}

/// A file the book writes: its path and the fragment that makes it.
#[derive(Debug, Clone)]
pub(super) struct Target {
    pub(super) path: PathBuf,
    pub(super) fragment: usize,
    /// The block whose `file=` named it last (Entangled keeps the last).
    pub(super) block: u32,
}

/// An Entangled book read into one web.
#[derive(Debug, Clone)]
pub struct Web {
    pub(super) docs: Vec<PathBuf>,
    /// The documents' texts (line breaks made `\n`), which the units' lines are in.
    pub(super) texts: Vec<String>,
    /// The marker lines' text, one after another.
    pub(super) markers: String,
    pub(super) units: Vec<Unit>,
    pub(super) fragments: Vec<Fragment>,
    pub(super) by_name: HashMap<RefName, usize>,
    pub(super) targets: Vec<Target>,
    /// Per target, its root line `<<name>>` (the expansion starts there).
    pub(super) roots: Vec<String>,
    /// For each block: the fragment it belongs to and its marker's count.
    pub block_info: Vec<BlockInfo>,
}

/// What [`super::stitch`] and the mdBook preprocessor need to know of a block.
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
pub fn pure_path(p: &str) -> PathBuf {
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

pub fn posix(p: &Path) -> String {
    p.to_string_lossy().replace('\\', "/")
}

/// The namespace of document `path`'s names, under `config` (its own, if its header has one).
pub fn namespace_of(config: &Config, path: &Path) -> Vec<String> {
    match &config.namespace {
        Namespace::Global => Vec::new(),
        Namespace::Private => vec![posix(path)],
        Namespace::Fixed(ns) => ns.clone(),
    }
}

/// A block's name, as Entangled names it: its id, else its `file`, else a name no reference
/// can write (its document and fence line).
pub fn block_name(props: &[properties::Property], path: &Path, open_line: usize) -> String {
    match (properties::id(props), properties::attribute(props, "file")) {
        (Some(id), _) => id.to_string(),
        (None, Some(f)) => f.to_string(),
        (None, None) => format!("unnamed-{}:{}", posix(path), open_line),
    }
}

/// A `mode=` value as permission bits: octal (`0755`, `755`, `0o755`), at most `0o7777`.
pub fn file_mode(m: &str) -> Option<u32> {
    u32::from_str_radix(m.trim_start_matches("0o"), 8)
        .ok()
        .filter(|&m| m <= 0o7777)
}

/// A block's `mode=` attribute as permission bits (`None` without one); an error at `at` where
/// it is not an octal file mode. The tangle and the site's view read modes by this one rule.
pub fn block_mode(props: &[properties::Property], at: Pos) -> Result<Option<u32>, Diagnostic> {
    match properties::attribute(props, "mode") {
        None => Ok(None),
        Some(m) => file_mode(m).map(Some).ok_or_else(|| {
            Diagnostic::error(
                at,
                format!("`mode={m}` is not an octal file mode such as 0755"),
            )
        }),
    }
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
    let read = tangle_core::par::map(bytes, &docs, |(path, text)| read::read(config, path, text));
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
        let namespace = namespace_of(config, &doc.path);
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
            let mode = block_mode(props, at(block.open_line)).unwrap_or_else(|e| {
                errors.push(e);
                None
            });
            let name = RefName {
                namespace: namespace.clone(),
                name: block_name(props, &doc.path, block.open_line),
            };
            let fragment = *web.by_name.entry(name.clone()).or_insert_with(|| {
                web.fragments.push(Fragment {
                    name: name.clone(),
                    blocks: Vec::new(),
                    uncommented: None,
                });
                web.fragments.len() - 1
            });
            let u = web.units.len() as u32;
            let standard = annotation == Annotation::Standard;
            let frag = &mut web.fragments[fragment];
            let first = frag.blocks.is_empty();
            frag.blocks.push(u);
            if standard && comment.is_none() && frag.uncommented.is_none() {
                frag.uncommented = Some(u);
            }
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
    pub(super) fn line(&self, unit: &Unit, i: usize) -> &str {
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
