//! Identifiers in the rendered book, from the compiler's view ([`super::scip`]): every name in a
//! tangled block's code mapped through the outputs' line maps to its chapter, block, line and
//! column, and what the site shows of it.
//!
//! The code blocks are highlighted in the browser (mdBook's highlight.js), so the links cannot
//! be written into the code here: like the `<<name>>` references, they travel as hidden data
//! that `tangle/assets/tangle.js` turns into links once highlighting has run, by offsets in the
//! code's text (which highlighting does not change), wrapping the highlighted text in place:
//!
//! - after each block, `span.tangle-ids` lists its names (`line.col.len.sym;...`, columns in
//!   UTF-16 units as JavaScript counts them, `sym` an entry of the page's table), and one
//!   `span.tangle-def` per definition, which carries the definition's anchor id (`i:PATH`);
//! - at the end of the page, `div.tangle-syms` holds one hidden link per name the page uses:
//!   to the anchor of its definition in the book, or to the documentation of std or of a
//!   dependency; its title is the signature and the first line of the doc comment. Real links
//!   (not data), so that mdBook rewrites them for the print page as it does every link.
//!
//! Inline code in the prose that names a book item (`Phase`, `Message::new`, `run()`) becomes a
//! link to its definition; each chapter ends with what it defines and what it uses from other
//! chapters; the identifier index chapter lists every item, members under their types.

use super::scip::{self, Index};
use crate::markdown::model::{BlockRef, Web};
use crate::output::Output;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

/// The file name of the generated identifier index chapter.
pub const INDEX_CHAPTER: &str = "identifier-index.md";

/// A name's place in the rendered book: a line of a tangled block, and the column and length
/// in UTF-16 units (as JavaScript measures the code's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Place {
    pub chapter: usize,
    pub block: usize,
    pub line: usize,
    pub col: usize,
    pub len: usize,
}

impl Place {
    pub fn block_ref(&self) -> BlockRef {
        BlockRef {
            chapter: self.chapter,
            block: self.block,
        }
    }
}

/// What a name in code leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    /// An item the book defines.
    Item(usize),
    /// Documentation outside the book (std, a dependency).
    External(usize),
}

/// A name in a block's code.
#[derive(Debug, Clone, Copy)]
struct Occ {
    line: usize,
    col: usize,
    len: usize,
    target: Target,
    /// This is the item's definition (it gets the anchor).
    definition: bool,
}

/// Something the book's code defines: a type, a function, a field, a variant...
#[derive(Debug, Clone)]
pub struct Item {
    pub name: String,
    /// SCIP's kind (`Struct`, `Method`, ...).
    pub kind: String,
    pub signature: String,
    pub doc: String,
    /// The module path inside its crate (`message`), empty at the crate's root.
    pub module: String,
    /// The type (or trait) it is a member of.
    pub parent: Option<usize>,
    /// `Type::name` for a member, else `name`.
    pub path: String,
    /// Where it is defined (None: not in any tangled block).
    pub def: Option<Place>,
    /// Anchor id of the definition.
    pub id: String,
    /// The tangled blocks whose code uses it, in book order.
    pub uses: Vec<BlockRef>,
    /// The output file it is defined in.
    pub file: String,
}

/// A name from outside the book, and where its documentation is.
#[derive(Debug, Clone)]
struct External {
    url: String,
    title: String,
}

/// The identifiers of a book, placed in its blocks.
#[derive(Debug, Default)]
pub struct Identifiers {
    pub items: Vec<Item>,
    externals: Vec<External>,
    /// Names in each tangled block's code, by (chapter, block).
    blocks: HashMap<(usize, usize), Vec<Occ>>,
    /// For each chapter, the targets its code uses, in order of first use (the page's table).
    tables: Vec<Vec<Target>>,
    table_index: Vec<HashMap<Target, usize>>,
    /// Items by name and by `Parent::name` / `module::name`, for inline code in the prose.
    by_name: HashMap<String, Vec<usize>>,
    by_path: HashMap<String, Vec<usize>>,
}

/// How the renderer links to pages and blocks.
pub struct Links<'a> {
    /// The page of each chapter (`part/ch.html`).
    pub html: &'a [String],
    /// A link from page `from` to a tangled block, showing its tag.
    pub tag_link: Box<dyn Fn(usize, BlockRef) -> String + 'a>,
}

/// The crates whose documentation lives at doc.rust-lang.org.
const STD: [&str; 4] = ["std", "core", "alloc", "proc_macro"];

impl Identifiers {
    /// Places the occurrences of `index` (of `outputs`, tangled from `web`) in the web's blocks.
    pub fn build(web: &Web, outputs: &[Output], index: &Index) -> Identifiers {
        let chapter_of: HashMap<&std::path::Path, usize> = web
            .chapters
            .iter()
            .enumerate()
            .map(|(c, ch)| (ch.path.as_path(), c))
            .collect();
        let parsed: Vec<Option<scip::Parsed>> =
            index.symbols.iter().map(|s| scip::parse(s)).collect();
        let mut ids = Identifiers {
            tables: vec![Vec::new(); web.chapters.len()],
            table_index: vec![HashMap::new(); web.chapters.len()],
            ..Identifiers::default()
        };
        // The items: every symbol a document says it defines.
        let mut defined: HashMap<u32, Vec<usize>> = HashMap::new();
        let mut own_packages = HashSet::new();
        let mut lib_docs = HashSet::new();
        for doc in &index.docs {
            let mut has_main = false;
            for info in &doc.infos {
                let Some(p) = &parsed[info.symbol as usize] else {
                    continue;
                };
                own_packages.insert(p.package.clone());
                if info.kind == "Function" && p.descriptors.len() == 1 && info.name == "main" {
                    has_main = true;
                }
                if info.name.is_empty()
                    || matches!(
                        info.kind.as_str(),
                        "TypeParameter" | "Parameter" | "SelfParameter" | "Variable"
                    )
                {
                    continue;
                }
                defined
                    .entry(info.symbol)
                    .or_default()
                    .push(ids.items.len());
                ids.items.push(Item {
                    name: info.name.clone(),
                    kind: info.kind.clone(),
                    signature: info.signature.clone(),
                    doc: info.doc.clone(),
                    module: if info.kind == "Module" {
                        // A module's path holds its own name: its place is its parent's.
                        p.module()
                            .rsplit_once("::")
                            .map_or(String::new(), |(m, _)| m.to_string())
                    } else {
                        p.module()
                    },
                    parent: None,
                    path: info.name.clone(),
                    def: None,
                    id: String::new(),
                    uses: Vec::new(),
                    file: doc.path.clone(),
                });
            }
            if !has_main {
                lib_docs.insert(doc.path.clone());
            }
        }
        // Members under their types.
        for (&sym, list) in &defined {
            let Some(p) = &parsed[sym as usize] else {
                continue;
            };
            let Some(parent_sym) = p.parent_symbol(&index.symbols[sym as usize]) else {
                continue;
            };
            for &i in list {
                let file = ids.items[i].file.clone();
                let parent = index
                    .symbols
                    .iter()
                    .position(|s| *s == parent_sym)
                    .and_then(|ps| defined.get(&(ps as u32)))
                    .and_then(|l| {
                        l.iter()
                            .copied()
                            .find(|&j| ids.items[j].file == file)
                            .or(l.first().copied())
                    });
                if let Some(parent) = parent {
                    ids.items[i].parent = Some(parent);
                    ids.items[i].path =
                        format!("{}::{}", ids.items[parent].name, ids.items[i].name);
                }
            }
        }
        // The occurrences, placed in the blocks.
        let mut ext_index: HashMap<String, usize> = HashMap::new();
        let mut seen: HashSet<Place> = HashSet::new();
        for doc in &index.docs {
            let Some(out) = outputs
                .iter()
                .find(|o| o.path.to_string_lossy().replace('\\', "/") == doc.path)
            else {
                continue;
            };
            let lines: Vec<&[u8]> = out.content.split(|&b| b == b'\n').collect();
            for o in &doc.occurrences {
                let Some(line) = lines
                    .get(o.line as usize)
                    .and_then(|l| std::str::from_utf8(l).ok())
                else {
                    continue;
                };
                let (s, e) = (o.start as usize, o.end as usize);
                let Some(name) = line.get(s..e) else {
                    continue;
                };
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    continue;
                }
                let col = line[..s].chars().count() + 1;
                let Some(at) = out.map.locate(o.line as usize + 1, col) else {
                    continue;
                };
                let Some(&c) = chapter_of.get(at.path) else {
                    continue;
                };
                let Some(place) = place_in(web, c, at.line, at.col, name) else {
                    continue;
                };
                let target = match defined.get(&o.symbol) {
                    Some(list) => {
                        let pick = list
                            .iter()
                            .copied()
                            .find(|&i| ids.items[i].file == doc.path)
                            .or_else(|| (list.len() == 1).then(|| list[0]))
                            .or_else(|| {
                                let libs: Vec<usize> = list
                                    .iter()
                                    .copied()
                                    .filter(|&i| lib_docs.contains(&ids.items[i].file))
                                    .collect();
                                (libs.len() == 1).then(|| libs[0])
                            });
                        match pick {
                            Some(i) => Target::Item(i),
                            None => continue,
                        }
                    }
                    None => {
                        let Some(p) = &parsed[o.symbol as usize] else {
                            continue;
                        };
                        if own_packages.contains(&p.package) {
                            continue;
                        }
                        let Some((url, title)) = p.docs_link() else {
                            continue;
                        };
                        let n = ext_index.len();
                        let e = *ext_index.entry(url.clone()).or_insert(n);
                        if e == ids.externals.len() {
                            ids.externals.push(External { url, title });
                        }
                        Target::External(e)
                    }
                };
                if !seen.insert(place) {
                    continue;
                }
                let mut definition = false;
                if let Target::Item(i) = target {
                    if o.definition && ids.items[i].def.is_none() {
                        ids.items[i].def = Some(place);
                        definition = true;
                    } else if !o.definition {
                        ids.items[i].uses.push(place.block_ref());
                    }
                }
                ids.blocks
                    .entry((place.chapter, place.block))
                    .or_default()
                    .push(Occ {
                        line: place.line,
                        col: place.col,
                        len: place.len,
                        target,
                        definition,
                    });
            }
        }
        // Anchor ids, uses in book order, the pages' tables.
        let mut taken = HashSet::new();
        for item in &mut ids.items {
            let base = if item.module.is_empty() {
                format!("i:{}", item.path)
            } else {
                format!("i:{}::{}", item.module, item.path)
            };
            let mut id = base.clone();
            let mut n = 1;
            while !taken.insert(id.clone()) {
                n += 1;
                id = format!("{base}-{n}");
            }
            item.id = id;
            item.uses.sort_by_key(|u| (u.chapter, u.block));
            item.uses.dedup();
            if let Some(def) = item.def {
                item.uses.retain(|u| *u != def.block_ref());
            }
        }
        let mut keys: Vec<(usize, usize)> = ids.blocks.keys().copied().collect();
        keys.sort();
        for key in keys {
            let occs = ids.blocks.get_mut(&key).expect("key");
            occs.sort_by_key(|o| (o.line, o.col));
            for o in occs.iter() {
                if o.definition {
                    continue;
                }
                if let Target::Item(i) = o.target {
                    if ids.items[i].def.is_none() {
                        continue;
                    }
                }
                let table = &mut ids.tables[key.0];
                ids.table_index[key.0].entry(o.target).or_insert_with(|| {
                    table.push(o.target);
                    table.len() - 1
                });
            }
        }
        for (i, item) in ids.items.iter().enumerate() {
            if item.def.is_none() {
                continue;
            }
            ids.by_name.entry(item.name.clone()).or_default().push(i);
            ids.by_path.entry(item.path.clone()).or_default().push(i);
            if !item.module.is_empty() {
                ids.by_path
                    .entry(format!("{}::{}", item.module, item.path))
                    .or_default()
                    .push(i);
            }
        }
        ids
    }

    /// The number of names linked in code (uses and definitions).
    pub fn links(&self) -> usize {
        self.blocks.values().map(Vec::len).sum()
    }

    /// The hidden data after block `b` of chapter `c`: its names, and its definitions' anchors.
    pub fn footer(&self, c: usize, b: usize) -> String {
        let Some(occs) = self.blocks.get(&(c, b)) else {
            return String::new();
        };
        let mut data = String::new();
        let mut defs = String::new();
        for o in occs {
            if o.definition {
                let Target::Item(i) = o.target else { continue };
                let item = &self.items[i];
                write!(
                    defs,
                    r#"<span class="tangle-def" hidden id="{}" data-line="{}" data-col="{}" data-len="{}" title="{}"></span>"#,
                    esc(&item.id),
                    o.line,
                    o.col,
                    o.len,
                    esc(&self.item_title(i))
                )
                .ok();
            } else if let Some(&s) = self.table_index[c].get(&o.target) {
                if !data.is_empty() {
                    data.push(';');
                }
                write!(data, "{}.{}.{}.{s}", o.line, o.col, o.len).ok();
            }
        }
        let mut out = String::new();
        if !data.is_empty() {
            write!(
                out,
                r#"<span class="tangle-ids" hidden data-page="{c}" data-ids="{data}"></span>"#
            )
            .ok();
        }
        out.push_str(&defs);
        out
    }

    /// What ends the page of chapter `c`: the table of its names' targets (hidden) and the
    /// chapter's mini-index (what it defines, what it uses from elsewhere).
    pub fn page_end(&self, c: usize, links: &Links) -> String {
        let mut s = String::new();
        if !self.tables[c].is_empty() {
            write!(s, r#"<div class="tangle-syms" hidden data-page="{c}">"#).ok();
            for (n, t) in self.tables[c].iter().enumerate() {
                let (href, title, class) = match *t {
                    Target::Item(i) => (
                        self.item_href(c, i, links),
                        self.item_title(i),
                        "tangle-ident",
                    ),
                    Target::External(e) => (
                        self.externals[e].url.clone(),
                        self.externals[e].title.clone(),
                        "tangle-ident tangle-ext",
                    ),
                };
                write!(
                    s,
                    r#"<a class="{class}" data-s="{n}" href="{}" title="{}"></a>"#,
                    esc(&href),
                    esc(&title)
                )
                .ok();
            }
            s.push_str("</div>\n");
        }
        let mut defines: Vec<usize> = (0..self.items.len())
            .filter(|&i| self.items[i].def.is_some_and(|d| d.chapter == c))
            .collect();
        let mut used: BTreeSet<usize> = BTreeSet::new();
        for ((ch, _), occs) in &self.blocks {
            if *ch != c {
                continue;
            }
            for o in occs {
                if let Target::Item(i) = o.target {
                    if self.items[i].def.is_some_and(|d| d.chapter != c) {
                        used.insert(i);
                    }
                }
            }
        }
        if defines.is_empty() && used.is_empty() {
            return s;
        }
        let mut used: Vec<usize> = used.into_iter().collect();
        let key = |i: &usize| (self.items[*i].path.to_lowercase(), *i);
        defines.sort_by_key(key);
        used.sort_by_key(key);
        s.push_str("\n<div class=\"tangle-mini-index\">");
        let list = |list: &[usize], with_tag: bool| -> String {
            list.iter()
                .map(|&i| {
                    let item = &self.items[i];
                    let mut a = format!(
                        r#"<a class="tangle-ident" href="{}" title="{}"><code>{}</code></a>"#,
                        esc(&self.item_href(c, i, links)),
                        esc(&self.item_title(i)),
                        esc(&item.path)
                    );
                    if with_tag {
                        if let Some(d) = item.def {
                            write!(a, " {}", (links.tag_link)(c, d.block_ref())).ok();
                        }
                    }
                    a
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !defines.is_empty() {
            write!(
                s,
                r#"<p><span class="tangle-mini-title">Defined in this chapter:</span> {}.</p>"#,
                list(&defines, false)
            )
            .ok();
        }
        if !used.is_empty() {
            write!(
                s,
                r#"<p><span class="tangle-mini-title">Used from other chapters:</span> {}.</p>"#,
                list(&used, true)
            )
            .ok();
        }
        s.push_str("</div>\n");
        s
    }

    /// A link for inline code `text` in the prose of chapter `c`, when it names a book item
    /// without doubt: a type, function, trait, constant... by its name, a member or a module's
    /// item by its path (`Next::Close`, `message::Message`), a method as `name()` when only
    /// one has that name. A bare variant or module name is left alone: `Read`, `request` and
    /// `error` say other things in prose as often.
    pub fn inline_code(&self, c: usize, text: &str, links: &Links) -> Option<String> {
        let bare = text.strip_suffix("()").unwrap_or(text);
        let call = bare.len() != text.len();
        if bare.is_empty()
            || !bare
                .chars()
                .all(|ch| ch.is_alphanumeric() || ch == '_' || ch == ':')
        {
            return None;
        }
        let found: Vec<usize> = if bare.contains("::") {
            // `libmessage::Message`: the crate's name first.
            let in_crate = bare.split_once("::").map_or(bare, |(_, rest)| rest);
            self.by_path
                .get(bare)
                .or_else(|| self.by_path.get(in_crate))
                .cloned()
                .unwrap_or_default()
        } else {
            self.by_name
                .get(bare)
                .map(|l| {
                    l.iter()
                        .copied()
                        .filter(|&i| {
                            let item = &self.items[i];
                            (item.parent.is_none() && item.kind != "Module")
                                || (call && item.kind.contains("Method"))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let pick = match found.as_slice() {
            [one] => *one,
            [] => return None,
            many => {
                // The same name in several crates (the server's and the client's `Cli`): the
                // one this chapter defines, else the one with the most uses.
                let here: Vec<usize> = many
                    .iter()
                    .copied()
                    .filter(|&i| self.items[i].def.is_some_and(|d| d.chapter == c))
                    .collect();
                match here.as_slice() {
                    [one] => *one,
                    _ => return None,
                }
            }
        };
        Some(format!(
            r#"<a class="tangle-ident tangle-prose" href="{}" title="{}"><code>{}</code></a>"#,
            esc(&self.item_href(c, pick, links)),
            esc(&self.item_title(pick)),
            esc(text)
        ))
    }

    /// The identifier index (appended to the chapter `identifier-index.md`, page `c`): every
    /// item, members under their types, the defining block underlined, every using block.
    pub fn index(&self, c: usize, links: &Links) -> String {
        let mut tops: Vec<usize> = (0..self.items.len())
            .filter(|&i| self.items[i].def.is_some() && self.items[i].parent.is_none())
            .collect();
        let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, item) in self.items.iter().enumerate() {
            if let (Some(p), Some(_)) = (item.parent, item.def) {
                members.entry(p).or_default().push(i);
            }
        }
        let key = |i: &usize| {
            (
                self.items[*i].name.to_lowercase(),
                self.items[*i].id.clone(),
            )
        };
        tops.sort_by_key(key);
        let mut s = String::new();
        if tops.is_empty() {
            s.push_str("This book's code defines no items (or rust-analyzer was not found when it was built).\n");
            return s;
        }
        s.push_str(r#"<ul class="tangle-index tangle-ident-index">"#);
        for i in tops {
            self.index_entry(c, i, links, &mut s);
            if let Some(list) = members.get_mut(&i) {
                list.sort_by_key(key);
                s.push_str("<ul>");
                for &m in list.iter() {
                    self.index_entry(c, m, links, &mut s);
                    s.push_str("</li>");
                }
                s.push_str("</ul>");
            }
            s.push_str("</li>");
        }
        s.push_str("</ul>\n");
        s
    }

    fn index_entry(&self, c: usize, i: usize, links: &Links, s: &mut String) {
        let item = &self.items[i];
        let Some(def) = item.def else { return };
        write!(
            s,
            r#"<li><a class="tangle-ident" href="{}" title="{}"><code>{}</code></a> <span class="tangle-kind">{}</span>"#,
            esc(&self.item_href(c, i, links)),
            esc(&self.item_title(i)),
            esc(&item.name),
            esc(&kind_word(&item.kind)),
        )
        .ok();
        if item.parent.is_none() && !item.module.is_empty() {
            write!(
                s,
                r#" <span class="tangle-kind">in <code>{}</code></span>"#,
                esc(&item.module)
            )
            .ok();
        }
        write!(
            s,
            r#" — <span class="tangle-defined" title="defined here">{}</span>"#,
            (links.tag_link)(c, def.block_ref())
        )
        .ok();
        if !item.uses.is_empty() {
            let uses: Vec<String> = item.uses.iter().map(|u| (links.tag_link)(c, *u)).collect();
            write!(s, "; used in {}", uses.join(", ")).ok();
        }
        s.push('.');
    }

    fn item_href(&self, from: usize, i: usize, links: &Links) -> String {
        let item = &self.items[i];
        let Some(def) = item.def else {
            return String::new();
        };
        format!(
            "{}#{}",
            super::html::rel_href(&links.html[from], &links.html[def.chapter]),
            item.id
        )
    }

    /// The hover text of an item: its signature and the first line of its doc comment.
    fn item_title(&self, i: usize) -> String {
        let item = &self.items[i];
        let mut t = item.signature.clone();
        if t.is_empty() {
            t = item.path.clone();
        }
        if !item.doc.is_empty() {
            t.push('\n');
            t.push_str(&item.doc);
        }
        t
    }
}

/// The place of a name `name` found at `line`, `col` (1-based, characters) of chapter `c`: the
/// tangled block whose body holds the line, the body line and the column in UTF-16 units.
fn place_in(web: &Web, c: usize, line: usize, col: usize, name: &str) -> Option<Place> {
    let chapter = &web.chapters[c];
    let b = chapter.blocks.iter().position(|b| {
        b.kind != crate::markdown::parse::BlockKind::Illustration
            && line >= b.body_line
            && line < b.body_line + b.len()
    })?;
    let block = &chapter.blocks[b];
    let i = line - block.body_line;
    let text = block.line(i);
    let k = (col as i64 - 1 - i64::from(block.shift(i))).max(0) as usize;
    let start = text.char_indices().nth(k).map(|(at, _)| at)?;
    if !text[start..].starts_with(name) {
        return None;
    }
    Some(Place {
        chapter: c,
        block: b,
        line: i,
        col: text[..start].encode_utf16().count(),
        len: name.encode_utf16().count(),
    })
}

/// A word for SCIP's kind in the index.
fn kind_word(kind: &str) -> String {
    match kind {
        "Struct" => "struct",
        "Enum" => "enum",
        "EnumMember" => "variant",
        "Field" => "field",
        "Function" => "fn",
        "Method" | "StaticMethod" | "TraitMethod" => "method",
        "Trait" => "trait",
        "TypeAlias" => "type",
        "AssociatedType" => "associated type",
        "Constant" => "const",
        "StaticVariable" => "static",
        "Module" => "mod",
        "Macro" => "macro",
        "Union" => "union",
        other => other,
    }
    .to_lowercase()
}

/// Escapes for HTML; line ends too, so that an attribute never ends the raw HTML block that
/// Markdown reads it in (a blank line would).
fn esc(s: &str) -> String {
    super::html::esc(s).replace('\r', "").replace('\n', "&#10;")
}

/// Whether docs for a crate live at doc.rust-lang.org.
pub(super) fn is_std(krate: &str) -> bool {
    STD.contains(&krate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::site::scip::{Doc, Info, Occurrence};
    use std::path::PathBuf;

    const CHAPTER: &str = "# A\n\n1. The root:\n\n   ```rust file=src/main.rs\n   fn main() { let s = \"🐰\"; <<use it>> }\n   <<the phase>>\n   ```\n\nThe `Phase` and `Phase::A`, not `Other` nor [`Phase`](x).\n\n```rust name=\"use it\"\nlet p = Phase::A;\n```\n\n```rust name=\"the phase\"\nenum Phase { A }\n```\n";

    /// An index as rust-analyzer would write it for `src/main.rs`: every `Phase` and `A`.
    fn index_of(text: &str) -> Index {
        let symbols = vec![
            "rust-analyzer cargo a 0.1.0 Phase#".to_string(),
            "rust-analyzer cargo a 0.1.0 Phase#A#".to_string(),
            "rust-analyzer cargo std https://github.com/rust-lang/rust/library/std main()."
                .to_string(),
        ];
        let mut occurrences = Vec::new();
        for (l, line) in text.lines().enumerate() {
            for (name, symbol) in [("Phase", 0), ("A", 1)] {
                let mut from = 0;
                while let Some(i) = line[from..].find(name) {
                    let start = from + i;
                    let end = start + name.len();
                    let word = |k: Option<char>| k.is_some_and(|c| c.is_alphanumeric());
                    if !word(line[..start].chars().last()) && !word(line[end..].chars().next()) {
                        occurrences.push(Occurrence {
                            line: l as u32,
                            start: start as u32,
                            end: end as u32,
                            symbol,
                            definition: line.starts_with("enum"),
                        });
                    }
                    from = end;
                }
            }
        }
        let info = |symbol, kind: &str, name: &str, sig: &str| Info {
            symbol,
            kind: kind.into(),
            name: name.into(),
            signature: sig.into(),
            doc: "Where it stands.".into(),
        };
        Index {
            symbols,
            docs: vec![Doc {
                path: "src/main.rs".into(),
                occurrences,
                infos: vec![
                    info(0, "Enum", "Phase", "enum Phase"),
                    info(1, "EnumMember", "A", "A"),
                ],
            }],
        }
    }

    #[test]
    fn names_are_placed_in_their_blocks_and_linked() {
        let pages = [(PathBuf::from("docs/a.md"), CHAPTER.to_string())];
        let tangle = crate::markdown::pipeline::tangle_markdown(&pages, "(ref:%s)").unwrap();
        let out = &tangle.tangled.outputs[0];
        let text = String::from_utf8(out.content.clone()).unwrap();
        let ids = Identifiers::build(&tangle.web, &tangle.tangled.outputs, &index_of(&text));
        let phase = ids.items.iter().position(|i| i.name == "Phase").unwrap();
        let a = ids.items.iter().position(|i| i.name == "A").unwrap();
        assert_eq!(ids.items[a].parent, Some(phase));
        assert_eq!(ids.items[a].path, "Phase::A");
        assert_eq!(ids.items[phase].id, "i:Phase");
        assert_eq!(ids.items[a].id, "i:Phase::A");
        // The definitions: `enum Phase { A }` is the block 2 of the chapter, line 0.
        let def = ids.items[phase].def.unwrap();
        assert_eq!((def.block, def.line, def.col, def.len), (2, 0, 5, 5));
        assert_eq!(ids.items[a].def.unwrap().col, 13);
        // The use, in «use it»: block 1, line 0, `Phase` at 8 and `A` at 15.
        assert_eq!(
            ids.items[phase].uses,
            vec![BlockRef {
                chapter: 0,
                block: 1
            }]
        );
        assert_eq!(
            ids.footer(0, 1),
            r#"<span class="tangle-ids" hidden data-page="0" data-ids="0.8.5.0;0.15.1.1"></span>"#
        );
        let defs = ids.footer(0, 2);
        assert!(defs.contains(r#"id="i:Phase" data-line="0" data-col="5" data-len="5" title="enum Phase&#10;Where it stands.""#), "{defs}");
        assert_eq!(ids.links(), 4);
        let html = ["a.html".to_string()];
        let links = Links {
            html: &html,
            tag_link: Box::new(|_, to| format!("[{}]", to.block)),
        };
        let end = ids.page_end(0, &links);
        assert!(end.contains(r##"<a class="tangle-ident" data-s="0" href="#i:Phase" title="enum Phase&#10;Where it stands."></a>"##), "{end}");
        assert!(end.contains("Defined in this chapter:"), "{end}");
        // Inline code: a type by its name, a member by its path; not an unknown name.
        assert!(ids
            .inline_code(0, "Phase", &links)
            .unwrap()
            .contains(r##"href="#i:Phase""##));
        assert!(ids
            .inline_code(0, "Phase::A", &links)
            .unwrap()
            .contains(r##"href="#i:Phase::A""##));
        assert_eq!(ids.inline_code(0, "Other", &links), None);
        let index = ids.index(0, &links);
        assert!(
            index.contains("<code>Phase</code></a> <span class=\"tangle-kind\">enum</span>"),
            "{index}"
        );
        assert!(
            index.contains("<ul><li><a class=\"tangle-ident\" href=\"#i:Phase::A\""),
            "{index}"
        );
    }

    #[test]
    fn docs_of_std_and_dependencies() {
        let p = scip::parse("rust-analyzer cargo std https://github.com/rust-lang/rust/library/std collections/hash/map/HashMap#insert().").unwrap();
        assert_eq!(
            p.docs_link().unwrap().0,
            "https://doc.rust-lang.org/std/?search=HashMap::insert"
        );
        let p = scip::parse("rust-analyzer cargo mio 1.2.5 net/").unwrap();
        assert_eq!(
            p.docs_link().unwrap().0,
            "https://docs.rs/mio/1.2.5/mio/net/index.html"
        );
        let p = scip::parse("rust-analyzer cargo env-logger 0.11.0 Builder#").unwrap();
        assert_eq!(
            p.docs_link().unwrap().0,
            "https://docs.rs/env-logger/0.11.0/env_logger/?search=Builder"
        );
        let p =
            scip::parse("rust-analyzer cargo a 0.1.0 impl#[`Clipped<'_>`][Display]fmt().").unwrap();
        assert_eq!(
            p.parent_symbol("rust-analyzer cargo a 0.1.0 impl#[`Clipped<'_>`][Display]fmt().")
                .as_deref(),
            Some("rust-analyzer cargo a 0.1.0 Clipped#")
        );
    }
}
