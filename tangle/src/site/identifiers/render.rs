//! What the site shows of the identifiers: the hidden data after each block, the end of each
//! page (its table of targets and its mini-index), and the identifier index.

use super::{esc, Identifiers, Links, Target};
use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

impl Identifiers {
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

    pub(super) fn item_href(&self, from: usize, i: usize, links: &Links) -> String {
        let item = &self.items[i];
        let Some(def) = item.def else {
            return String::new();
        };
        format!(
            "{}#{}",
            crate::site::html::rel_href(&links.html[from], &links.html[def.chapter]),
            item.id
        )
    }

    /// The hover text of an item: its signature and the first line of its doc comment.
    pub(super) fn item_title(&self, i: usize) -> String {
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
