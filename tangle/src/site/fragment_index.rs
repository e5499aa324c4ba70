//! The generated index chapter: the chapter whose file is [`INDEX_CHAPTER`] gets every fragment
//! (where it is defined, continued and used) and every tangled file appended.

use super::html::esc;
use super::page::Site;
use crate::markdown::model::BlockRef;
use std::fmt::Write as _;

/// The file name of the generated index chapter.
pub const INDEX_CHAPTER: &str = "fragment-index.md";

impl Site<'_> {
    /// The generated index: every fragment and every tangled file.
    pub(super) fn index(&self, c: usize) -> String {
        let links = |list: &[BlockRef]| {
            list.iter()
                .map(|p| self.tag_link(c, *p, "tangle-xref"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = String::from("## Fragments\n\n");
        let mut order: Vec<usize> = (0..self.web.fragments.len()).collect();
        order.sort_by_key(|&f| (self.web.fragments[f].name.to_lowercase(), f));
        if order.is_empty() {
            s.push_str("This book defines no fragments.\n\n");
        } else {
            s.push_str(r#"<ul class="tangle-index">"#);
            for f in order {
                let frag = &self.web.fragments[f];
                write!(
                    s,
                    r#"<li><a class="tangle-name" href="{}">«{}»</a> — defined in {}"#,
                    esc(&self.href(c, frag.parts[0])),
                    esc(&frag.name),
                    links(&frag.parts[..1]),
                )
                .ok();
                if frag.parts.len() > 1 {
                    write!(s, ", continued in {}", links(&frag.parts[1..])).ok();
                }
                let used: Vec<String> = self.uses[f]
                    .iter()
                    .map(|u| self.use_link(c, f, *u))
                    .collect();
                if used.is_empty() {
                    s.push_str("; never used.</li>");
                } else {
                    write!(s, "; used in {}.</li>", used.join(", ")).ok();
                }
            }
            s.push_str("</ul>\n\n");
        }
        s.push_str("## Files\n\n");
        if self.web.roots.is_empty() {
            s.push_str("This book tangles no files.\n");
        } else {
            s.push_str(r#"<ul class="tangle-index">"#);
            let mut roots: Vec<_> = self.web.roots.iter().collect();
            roots.sort_by(|a, b| a.path.cmp(&b.path));
            for r in roots {
                write!(
                    s,
                    r#"<li><a class="tangle-file" href="{}">{}</a> — defined in {}, mode <code>{:04o}</code>.</li>"#,
                    esc(&self.href(c, r.block)),
                    esc(&r.path.display().to_string()),
                    links(std::slice::from_ref(&r.block)),
                    r.mode
                )
                .ok();
            }
            s.push_str("</ul>\n");
        }
        s
    }
}
