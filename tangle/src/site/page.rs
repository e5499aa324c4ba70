//! A chapter's page: the [`Site`] (ids, tags, uses and labels of every tangled block, assigned
//! once for the whole book) and the rewriting of one chapter's Markdown, line by line: figure
//! blocks become SVG, each tangled block gets its caption and footer ([`super::block`]), and in
//! prose a coderef label becomes a link to its line and inline code may become an identifier
//! link.

use super::html::{esc, letters, rel_href, slug, unique};
use super::preprocess::Page;
use crate::diag::{Diagnostic, Pos};
use crate::markdown::model::{BlockRef, Web};
use crate::markdown::parse::{Block, BlockKind};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// The anchor of a coderef label in a tangled block: the line a prose reference to the label
/// links to (the model's [`crate::markdown::model::CodeLabel`] with its id on the page; not
/// the core's `coderef::Label`, which is the label as found at the end of a line).
#[derive(Debug, Clone)]
pub(super) struct LabelAnchor {
    pub(super) at: BlockRef,
    /// Body line index.
    pub(super) line: usize,
    pub(super) name: String,
    /// The label as written (`(ref:name)`).
    pub(super) text: String,
    pub(super) id: String,
}

/// Everything needed to render links: the web, ids, tags and cross references.
pub(super) struct Site<'a> {
    pub(super) pages: &'a [Page],
    pub(super) web: Web,
    /// Anchor id of each tangled block.
    pub(super) ids: HashMap<(usize, usize), String>,
    /// Tag of each tangled block (`2.1a`).
    pub(super) tags: HashMap<(usize, usize), String>,
    /// For each fragment, the tangled blocks that reference it, in book order.
    pub(super) uses: Vec<Vec<BlockRef>>,
    pub(super) labels: Vec<LabelAnchor>,
    /// Label formats in use (the book's first).
    pub(super) formats: Vec<String>,
    /// Identifiers from the compiler's view, when indexed (see [`crate::site`]).
    pub(super) idents: Option<crate::site::identifiers::Identifiers>,
    /// The page of each chapter, for identifier links.
    pub(super) html: Vec<String>,
    /// The anchor of the first reference to fragment `f` in block (chapter, block): where
    /// "used in" lands.
    pub(super) use_ids: HashMap<(usize, usize, usize), String>,
}

fn tangled(block: &Block) -> bool {
    block.kind != BlockKind::Illustration
}

impl<'a> Site<'a> {
    /// Assigns ids and tags and finds uses and labels of a web that tangled without errors.
    pub(super) fn new(pages: &'a [Page], web: Web) -> Site<'a> {
        let mut taken: HashSet<String> = HashSet::new();
        let mut ids = HashMap::new();
        let mut tags = HashMap::new();
        for (f, frag) in web.fragments.iter().enumerate() {
            let slug = slug(&frag.name, false);
            let slug = if slug.is_empty() {
                format!("{}", f + 1)
            } else {
                slug
            };
            let base = unique(&format!("f:{slug}"), &mut taken);
            for (k, at) in frag.parts.iter().enumerate() {
                let id = if k == 0 {
                    base.clone()
                } else {
                    format!("{base}:{}", k + 1)
                };
                ids.insert((at.chapter, at.block), id);
            }
        }
        for root in &web.roots {
            let id = unique(
                &format!("file:{}", slug(&root.path.to_string_lossy(), true)),
                &mut taken,
            );
            ids.insert((root.block.chapter, root.block.block), id);
        }
        let mut uses: Vec<Vec<BlockRef>> = vec![Vec::new(); web.fragments.len()];
        let mut use_ids = HashMap::new();
        let mut formats = vec![web.label_format.clone()];
        for (c, chapter) in web.chapters.iter().enumerate() {
            let mut letter = 0;
            for (b, block) in chapter.blocks.iter().enumerate() {
                if !tangled(block) {
                    continue;
                }
                let at = BlockRef {
                    chapter: c,
                    block: b,
                };
                let tag = match &pages[c].number {
                    Some(n) => format!("{n}{}", letters(letter)),
                    None => format!("{} {}", pages[c].name, letters(letter)),
                };
                letter += 1;
                tags.insert((c, b), tag);
                if let Some(fmt) = &block.labels {
                    if !formats.contains(fmt) {
                        formats.push(fmt.clone());
                    }
                }
                for (_, r, _) in web.references(at) {
                    if let Some(&f) = web.by_name.get(r.name) {
                        if uses[f].last() != Some(&at) {
                            uses[f].push(at);
                            let base = format!("u:{}", slug(&web.fragments[f].name, false));
                            use_ids.insert((f, c, b), unique(&base, &mut taken));
                        }
                    }
                }
            }
        }
        let labels = web
            .labels
            .iter()
            .map(|l| LabelAnchor {
                at: l.block,
                line: l.line,
                name: l.name.clone(),
                text: l.text.clone(),
                id: unique(&format!("l:{}", slug(&l.name, false)), &mut taken),
            })
            .collect();
        Site {
            pages,
            web,
            ids,
            tags,
            uses,
            labels,
            formats,
            idents: None,
            html: pages.iter().map(|p| p.html.clone()).collect(),
            use_ids,
        }
    }

    /// A link from page `from` to tangled block `to`.
    pub(super) fn href(&self, from: usize, to: BlockRef) -> String {
        format!(
            "{}#{}",
            rel_href(&self.pages[from].html, &self.pages[to.chapter].html),
            self.ids[&(to.chapter, to.block)]
        )
    }

    pub(super) fn tag(&self, at: BlockRef) -> &str {
        &self.tags[&(at.chapter, at.block)]
    }

    /// A link to a tangled block, showing its tag; its title names it and its chapter.
    pub(super) fn tag_link(&self, from: usize, to: BlockRef, class: &str) -> String {
        format!(
            r#"<a class="{class}" href="{}" title="{} in {}">{}</a>"#,
            esc(&self.href(from, to)),
            esc(&self.block_title(to)),
            esc(&self.pages[to.chapter].name),
            esc(self.tag(to))
        )
    }

    /// «name» for a fragment part, the path for a root.
    pub(super) fn block_title(&self, at: BlockRef) -> String {
        match &self.web.block(at).kind {
            BlockKind::Fragment { name, .. } => format!("«{name}»"),
            BlockKind::Root { path, .. } => path.display().to_string(),
            BlockKind::Illustration => String::new(),
        }
    }

    pub(super) fn render_page(&self, c: usize) -> Result<String, Vec<Diagnostic>> {
        let page = &self.pages[c];
        let chapter = &self.web.chapters[c];
        let lines: Vec<&str> = page.content.split('\n').collect();
        // Line (0-based) → what happens there.
        let mut opens: HashMap<usize, usize> = HashMap::new();
        let mut closes: HashMap<usize, usize> = HashMap::new();
        let mut in_code = vec![false; lines.len()];
        for (b, block) in chapter.blocks.iter().enumerate() {
            for flag in in_code
                .iter_mut()
                .take(block.end_line)
                .skip(block.pos.line - 1)
            {
                *flag = true;
            }
            if tangled(block) {
                opens.insert(block.pos.line - 1, b);
                closes.insert(block.end_line - 1, b);
            }
        }
        let mut out = String::with_capacity(page.content.len() * 2);
        // Figure blocks become inline SVG (crate::figure).
        let (figures, mut errors) = crate::figure::chapter_figures(
            &chapter.blocks,
            &lines,
            page.number.as_deref(),
            &page.source,
        );
        for (i, line) in lines.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            if let Some(figure) = figures.get(&i) {
                out.push_str(figure);
            } else if let Some(&b) = opens.get(&i) {
                self.open_block(c, b, line, &mut out);
            } else if let Some(&b) = closes.get(&i) {
                out.push_str(line);
                self.close_block(c, b, &mut out);
            } else if in_code[i] {
                out.push_str(line);
            } else {
                self.prose_line(c, i + 1, line, &mut out, &mut errors);
            }
        }
        if let Some(idents) = &self.idents {
            let end = idents.page_end(c, &self.links());
            if !end.is_empty() {
                out.push_str("\n\n");
                out.push_str(&end);
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// How [`crate::site::identifiers`] links to pages and blocks.
    pub(super) fn links(&self) -> crate::site::identifiers::Links<'_> {
        crate::site::identifiers::Links {
            html: &self.html,
            tag_link: Box::new(|from, to| self.tag_link(from, to, "tangle-xref")),
        }
    }

    /// The identifier index, for page `c`.
    pub(super) fn identifier_index(&self, c: usize) -> String {
        match &self.idents {
            Some(idents) => idents.index(c, &self.links()),
            None => "This book was built without identifiers (see `identifiers` under `[preprocessor.tangle]`, and rust-analyzer).\n".into(),
        }
    }

    /// Copies a prose line, turning coderef labels outside inline code into links.
    fn prose_line(
        &self,
        c: usize,
        lineno: usize,
        line: &str,
        out: &mut String,
        errors: &mut Vec<Diagnostic>,
    ) {
        let bytes = line.as_bytes();
        let mut i = 0;
        let mut copied = 0;
        while i < line.len() {
            if bytes[i] == b'`' {
                let n = bytes[i..].iter().take_while(|&&b| b == b'`').count();
                let end = closing_ticks(line, i + n, n);
                if let (Some(end), Some(idents)) = (end, &self.idents) {
                    if let Some(link) = prose_code(line, i, n, end)
                        .and_then(|code| idents.inline_code(c, code, &self.links()))
                    {
                        out.push_str(&line[copied..i]);
                        out.push_str(&link);
                        copied = end;
                    }
                }
                i = end.unwrap_or(i + n);
                continue;
            }
            if let Some((len, name)) = self.formats.iter().find_map(|f| label_at(&line[i..], f)) {
                let pos = Pos::new(&self.pages[c].source, lineno, line[..i].chars().count() + 1);
                match self.resolve_label(c, lineno, name, &pos) {
                    Ok(l) => {
                        out.push_str(&line[copied..i]);
                        let href = format!(
                            "{}#{}",
                            rel_href(&self.pages[c].html, &self.pages[l.at.chapter].html),
                            l.id
                        );
                        write!(
                            out,
                            r#"<a class="tangle-label-ref" href="{}" title="line labelled {} in {}">{}</a>"#,
                            esc(&href),
                            esc(&l.name),
                            esc(&self.block_title(l.at)),
                            esc(&l.name)
                        )
                        .ok();
                        copied = i + len;
                    }
                    Err(d) => errors.push(d),
                }
                i += len;
                continue;
            }
            i += line[i..].chars().next().map_or(1, char::len_utf8);
        }
        out.push_str(&line[copied..]);
    }

    /// The label a prose reference on line `lineno` of page `c` means: in the same chapter, the
    /// last one defined above, else the first below; else the only one in the book.
    fn resolve_label(
        &self,
        c: usize,
        lineno: usize,
        name: &str,
        pos: &Pos,
    ) -> Result<&LabelAnchor, Diagnostic> {
        let here: Vec<&LabelAnchor> = self
            .labels
            .iter()
            .filter(|l| l.name == name && l.at.chapter == c)
            .collect();
        if !here.is_empty() {
            let above = here
                .iter()
                .rev()
                .find(|l| self.web.block(l.at).pos.line < lineno);
            return Ok(above.unwrap_or(&here[0]));
        }
        let all: Vec<&LabelAnchor> = self.labels.iter().filter(|l| l.name == name).collect();
        match all.as_slice() {
            [one] => Ok(one),
            [] => Err(Diagnostic::error(
                pos.clone(),
                format!("undefined coderef label `{name}`: no tangled block has it"),
            )),
            many => {
                let mut d = Diagnostic::error(
                    pos.clone(),
                    format!("ambiguous coderef label `{name}`: several chapters define it"),
                );
                for l in many {
                    d = d.with_note(self.web.line_pos(l.at, l.line), "defined here");
                }
                Err(d)
            }
        }
    }
}

/// The text of the inline code span `line[start..end]` (opened by `n` backticks) when it may
/// become a link: not in a heading, not inside a link's text (no `[` left open before it).
pub(super) fn prose_code(line: &str, start: usize, n: usize, end: usize) -> Option<&str> {
    let before = &line[..start];
    if before.trim_start_matches(['>', ' ', '\t']).starts_with('#') {
        return None;
    }
    if before.matches('[').count() > before.matches(']').count() {
        return None;
    }
    let code = line.get(start + n..end - n)?;
    let code = code
        .strip_prefix(' ')
        .and_then(|c| c.strip_suffix(' '))
        .unwrap_or(code);
    Some(code)
}

/// After an opening run of `n` backticks ending at `from`, the end of the matching closing run.
pub(super) fn closing_ticks(line: &str, from: usize, n: usize) -> Option<usize> {
    let bytes = line.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let m = bytes[i..].iter().take_while(|&&b| b == b'`').count();
            if m == n {
                return Some(i + m);
            }
            i += m;
        } else {
            i += 1;
        }
    }
    None
}

/// A coderef label in format `fmt` at the start of `text`: its length and name.
fn label_at<'t>(text: &'t str, fmt: &str) -> Option<(usize, &'t str)> {
    let (before, after) = fmt.split_once("%s")?;
    let rest = text.strip_prefix(before)?;
    let end = rest.find(after)?;
    let name = &rest[..end];
    crate::coderef::is_label_name(name).then_some((before.len() + end + after.len(), name))
}
