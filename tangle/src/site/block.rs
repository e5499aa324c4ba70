//! A tangled block on its page: the caption before its fence (its name or path, tag and the
//! links to the previous and next parts), the fence's new info string, and the footer after it
//! (where the fragment is defined, continued and used, and the hidden anchors that
//! `tangle/assets/tangle.js` turns into links and labels).

use super::html::{esc, rel_href};
use super::page::Site;
use crate::markdown::model::BlockRef;
use crate::markdown::parse::BlockKind;
use std::collections::HashSet;
use std::fmt::Write as _;

impl Site<'_> {
    /// The caption and the rewritten opening fence. The caption takes the fence's place on its
    /// line, after the block's container prefix (`> `, a list marker); the fence moves to a line
    /// of its own, after a blank line that stays inside the same containers.
    pub(super) fn open_block(&self, c: usize, b: usize, line: &str, out: &mut String) {
        let block = &self.web.chapters[c].blocks[b];
        let at = BlockRef {
            chapter: c,
            block: b,
        };
        let prefix = &block.prefix;
        let rest = line.get(prefix.len()..).unwrap_or_default();
        let cont = continuation(prefix);
        let blank = cont.trim_end();
        let fence_ch = rest.chars().next().unwrap_or('`');
        let fence: String = rest.chars().take_while(|&ch| ch == fence_ch).collect();
        let id = &self.ids[&(c, b)];
        let mut cap = String::new();
        let mut prev = String::new();
        let mut next = String::new();
        match &block.kind {
            BlockKind::Fragment { name, .. } => {
                let f = self.web.by_name[name];
                let parts = &self.web.fragments[f].parts;
                let k = parts.iter().position(|p| *p == at).unwrap_or(0);
                if k == 0 {
                    write!(
                        cap,
                        r#"<dfn class="tangle-name">«{}»</dfn> <span class="tangle-op">≡</span>"#,
                        esc(name)
                    )
                    .ok();
                } else {
                    write!(
                        cap,
                        r#"<a class="tangle-name" href="{}" title="defined in {}">«{}»</a> <span class="tangle-op">+≡</span>"#,
                        esc(&self.href(c, parts[0])),
                        esc(self.tag(parts[0])),
                        esc(name)
                    )
                    .ok();
                }
                if k > 0 {
                    write!(
                        prev,
                        r#"<a class="tangle-prev" href="{}" title="previous part">◂ {}</a>"#,
                        esc(&self.href(c, parts[k - 1])),
                        esc(self.tag(parts[k - 1]))
                    )
                    .ok();
                }
                if let Some(n) = parts.get(k + 1) {
                    write!(
                        next,
                        r#"<a class="tangle-next" href="{}" title="next part">{} ▸</a>"#,
                        esc(&self.href(c, *n)),
                        esc(self.tag(*n))
                    )
                    .ok();
                }
            }
            BlockKind::Root { path, .. } => {
                write!(
                    cap,
                    r#"<span class="tangle-file">{}</span> <span class="tangle-op">≡</span>"#,
                    esc(&path.display().to_string())
                )
                .ok();
            }
            BlockKind::Illustration => {}
        }
        let lang = if block.lang.is_empty() {
            "text"
        } else {
            block.lang.as_str()
        };
        write!(
            out,
            "{prefix}<div class=\"tangle-caption\" id=\"{}\"><span class=\"tangle-title\">{cap}</span><span class=\"tangle-nav\">{prev}<a class=\"tangle-tag\" href=\"#{}\" title=\"link to this block\">{}</a>{next}</span></div>\n{blank}\n{cont}{fence}{},ignore,tangle",
            esc(id),
            esc(id),
            esc(self.tag(at)),
            lang.replace(['`', ','], ""),
        )
        .ok();
    }

    /// The footer after the closing fence: cross references, reference targets and labels.
    /// It and the blank lines around it carry the block's container prefix, so that a block
    /// quote goes on around it.
    pub(super) fn close_block(&self, c: usize, b: usize, out: &mut String) {
        let block = &self.web.chapters[c].blocks[b];
        let at = BlockRef {
            chapter: c,
            block: b,
        };
        let cont = continuation(&block.prefix);
        let blank = cont.trim_end();
        let mut foot = String::new();
        match &block.kind {
            BlockKind::Fragment { name, .. } => {
                let f = self.web.by_name[name];
                let parts = &self.web.fragments[f].parts;
                let show = |p: &BlockRef| {
                    if *p == at {
                        format!(r#"<span class="tangle-here">{}</span>"#, esc(self.tag(at)))
                    } else {
                        self.tag_link(c, *p, "tangle-xref")
                    }
                };
                write!(foot, "Defined in {}", show(&parts[0])).ok();
                if parts.len() > 1 {
                    let rest: Vec<String> = parts[1..].iter().map(show).collect();
                    write!(foot, ", continued in {}", rest.join(", ")).ok();
                }
                foot.push_str(". ");
                let uses = &self.uses[f];
                if uses.is_empty() {
                    foot.push_str("Not used.");
                } else {
                    let list: Vec<String> = uses.iter().map(|u| self.use_link(c, f, *u)).collect();
                    write!(foot, "Used in {}.", list.join(", ")).ok();
                }
            }
            BlockKind::Root { path, .. } => {
                let mode = self
                    .web
                    .roots
                    .iter()
                    .find(|r| r.block == at)
                    .map_or(0, |r| r.mode);
                write!(
                    foot,
                    "Tangled to <code>{}</code> (mode {mode:04o}).",
                    esc(&path.display().to_string())
                )
                .ok();
            }
            BlockKind::Illustration => {}
        }
        // The footer's text goes in an attribute, which tangle.js shows: mdBook's search
        // indexes a page's text, and "Defined in 2.1a. Used in ..." would fill every snippet.
        let text = format!(
            r#"<span class="tangle-footer-text" data-text="{}"></span>"#,
            esc(&foot)
        );
        foot = text;
        let mut seen = HashSet::new();
        for (_, r, _) in self.web.references(BlockRef {
            chapter: c,
            block: b,
        }) {
            if let Some(&f) = self.web.by_name.get(r.name) {
                if seen.insert(f) {
                    write!(
                        foot,
                        r#"<a class="tangle-ref-target" hidden data-name="{}" data-tag="{}" href="{}"></a>"#,
                        esc(r.name),
                        esc(self.tag(self.web.fragments[f].parts[0])),
                        esc(&self.href(c, self.web.fragments[f].parts[0]))
                    )
                    .ok();
                    if let Some(id) = self.use_ids.get(&(f, c, b)) {
                        write!(
                            foot,
                            r#"<span class="tangle-use" hidden id="{}" data-name="{}"></span>"#,
                            esc(id),
                            esc(r.name)
                        )
                        .ok();
                    }
                }
            }
        }
        for l in self.labels.iter().filter(|l| l.at == at) {
            write!(
                foot,
                r#"<span class="tangle-label" hidden id="{}" data-line="{}" data-label="{}" data-text="{}" title="line labelled {}"></span>"#,
                esc(&l.id),
                l.line,
                esc(&l.name),
                esc(&l.text),
                esc(&l.name)
            )
            .ok();
        }
        if let Some(idents) = &self.idents {
            foot.push_str(&idents.footer(c, b));
        }
        write!(
            out,
            "\n{blank}\n{cont}<div class=\"tangle-footer\">{foot}</div>\n{blank}"
        )
        .ok();
    }

    /// A link to a block that uses fragment `f`: «parent» or the root's path, and its tag. It
    /// lands on the line of the (first) reference.
    pub(super) fn use_link(&self, from: usize, f: usize, to: BlockRef) -> String {
        let href = match self.use_ids.get(&(f, to.chapter, to.block)) {
            Some(id) => format!(
                "{}#{id}",
                rel_href(&self.pages[from].html, &self.pages[to.chapter].html)
            ),
            None => self.href(from, to),
        };
        format!(
            r#"<a class="tangle-xref" href="{}" title="in {}">{} {}</a>"#,
            esc(&href),
            esc(&self.pages[to.chapter].name),
            esc(&self.block_title(to)),
            esc(self.tag(to))
        )
    }
}

/// What continues, on a line of its own, the containers that `prefix` (the text before a fence
/// on its line) opens or continues: block quote markers stay, a list item's marker becomes
/// spaces, so that a line starting with it is inside the same block quotes and list items.
fn continuation(prefix: &str) -> String {
    prefix
        .chars()
        .map(|c| {
            if matches!(c, '>' | ' ' | '\t') {
                c
            } else {
                ' '
            }
        })
        .collect()
}
