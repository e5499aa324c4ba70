//! The mdBook preprocessor: renders the web of fragments in the HTML book.
//!
//! mdBook runs `tangle mdbook supports RENDERER` (exit 0 when [`supports`] says so), then
//! `tangle mdbook` with `[context, book]` as JSON on stdin, and reads the book back as JSON
//! from stdout ([`preprocess`]). The protocol is implemented by hand on `serde_json::Value`,
//! so it accepts both mdBook 0.5 (`{"items": [...]}`) and older versions (`{"sections": [...]}`).
//!
//! For every fragment and file root, the chapter's Markdown is rewritten around the code block:
//!
//! - a caption (`<div class="tangle-caption" id=...>`) before the fence: the fragment's name as a
//!   defined term (`«name» ≡`), a continuation (`«name» +≡`, linking to the definition) or a
//!   root's path, the block's tag (`2.1a`: chapter number and letter) and links to the previous
//!   and next parts of the same fragment;
//! - the fence's info string becomes `LANG,ignore,tangle`: highlight.js still highlights the
//!   block, `mdbook test` does not compile it, and it gets no playground button;
//! - a footer (`<div class="tangle-footer">`) after it: where the fragment is defined, continued
//!   and used, as links, and hidden anchors that `tangle/assets/tangle.js` (`[output.html]
//!   additional-js`, styled by `tangle/assets/tangle.css`) turns into links on each `<<name>>`
//!   in the code once highlight.js has run, and the coderef labels, which `tangle.js` puts in
//!   place of the label text at the end of their lines.
//!
//! Every link is a relative `.html` link or an `#anchor`, so mdBook rewrites it for the print page.
//! Ids are `f:NAME`, `f:NAME:2`, ... (fragment parts), `file:PATH` (roots) and `l:LABEL`
//! (coderef labels): the colon never occurs in the ids mdBook derives from headings.
//!
//! In prose, a coderef label written in the book's label format (`(ref:name)` by default)
//! outside inline code becomes a link to its line. The chapter whose file is
//! `fragment-index.md` gets an index of every fragment and every tangled file appended.
//!
//! Errors in the document (parse errors, undefined references, unknown labels, cycles, ...) fail
//! the build; each is reported as `path:line:col: error: message`.

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::markdown::book::DEFAULT_LABELS;
use crate::markdown::model::{BlockRef, Web};
use crate::markdown::parse::{Block, BlockKind};
use anyhow::{anyhow, Context};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The file name of the generated index chapter.
pub const INDEX_CHAPTER: &str = "fragment-index.md";

/// Whether the preprocessor runs for `renderer`: `html`, and `test` so that `mdbook test`
/// skips fragments (rendered as `ignore` blocks) instead of compiling them.
pub fn supports(renderer: &str) -> bool {
    matches!(renderer, "html" | "test")
}

/// Runs the preprocessor on mdBook's input (`[context, book]` as JSON) and returns the book as
/// JSON. Warnings (unused fragments) are printed to stderr; errors are returned (their
/// `Display` is one `path:line:col: error: message` per line).
pub fn preprocess(input: &str) -> anyhow::Result<String> {
    let rendered = render(input)?;
    for w in &rendered.warnings {
        eprintln!("{w}");
    }
    Ok(rendered.book)
}

/// The result of [`render`]: the book as JSON, and warnings.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub book: String,
    pub warnings: Vec<Diagnostic>,
}

/// Like [`preprocess`], but returns the warnings instead of printing them.
pub fn render(input: &str) -> anyhow::Result<Rendered> {
    let input: Value =
        serde_json::from_str(input).context("mdbook preprocessor input is not JSON")?;
    let Value::Array(mut parts) = input else {
        return Err(anyhow!(
            "mdbook preprocessor input must be a JSON array `[context, book]`"
        ));
    };
    if parts.len() != 2 {
        return Err(anyhow!(
            "mdbook preprocessor input must be `[context, book]`, got {} elements",
            parts.len()
        ));
    }
    let mut book = parts.pop().unwrap_or_default();
    let ctx = parts.pop().unwrap_or_default();
    let config = Config::from_context(&ctx);
    let key = ["items", "sections"]
        .into_iter()
        .find(|k| book.get(k).is_some_and(Value::is_array))
        .ok_or_else(|| anyhow!("the book has neither `items` nor `sections`"))?;
    let mut pages = Vec::new();
    collect_pages(&book[key], &format!("/{key}"), &config.src, &mut pages);
    let out = render_pages(&pages, &config).map_err(anyhow::Error::new)?;
    for (page, content) in pages.iter().zip(out.contents) {
        if let Some(Value::Object(ch)) = book.pointer_mut(&page.pointer) {
            ch.insert("content".into(), Value::String(content));
        }
    }
    Ok(Rendered {
        book: serde_json::to_string(&book)?,
        warnings: out.warnings,
    })
}

/// What the preprocessor reads from `book.toml` (through mdBook's context).
#[derive(Debug, Clone)]
struct Config {
    /// `[book] src`: chapter paths in messages are `src/path`, as the tangler prints them.
    src: PathBuf,
    /// `[preprocessor.tangle] labels`.
    labels: String,
    /// The book's root folder (mdBook's context), where settings may choose the chapters'
    /// dialect (see [`crate::project::site::site_web`]).
    root: PathBuf,
    /// `[preprocessor.tangle] dialect`, if set.
    dialect: Option<String>,
    /// Whether identifiers are linked (`[preprocessor.tangle] identifiers`, true by default;
    /// only for the HTML renderer, in a Cargo project). See [`crate::site`].
    identifiers: bool,
}

impl Config {
    fn from_context(ctx: &Value) -> Config {
        let cfg = &ctx["config"];
        let src = cfg["book"]["src"].as_str().unwrap_or("src");
        let labels = cfg["preprocessor"]["tangle"]["labels"]
            .as_str()
            .unwrap_or(DEFAULT_LABELS);
        Config {
            src: PathBuf::from(src),
            labels: labels.to_string(),
            root: PathBuf::from(ctx["root"].as_str().unwrap_or(".")),
            dialect: cfg["preprocessor"]["tangle"]["dialect"]
                .as_str()
                .map(str::to_string),
            identifiers: ctx["renderer"].as_str().is_none_or(|r| r == "html")
                && !matches!(
                    &cfg["preprocessor"]["tangle"]["identifiers"],
                    Value::Bool(false)
                )
                && cfg["preprocessor"]["tangle"]["identifiers"].as_str() != Some("false"),
        }
    }
}

/// A chapter of the book that has a page.
#[derive(Debug, Clone)]
struct Page {
    /// JSON pointer to the chapter object.
    pointer: String,
    name: String,
    /// Section number as displayed (`2.1`), if numbered.
    number: Option<String>,
    /// The page, relative to the book's root (`part/ch.html`).
    html: String,
    /// The source file relative to the book root (`docs/part/ch.md`), for messages.
    source: PathBuf,
    content: String,
}

fn collect_pages(items: &Value, pointer: &str, src: &Path, out: &mut Vec<Page>) {
    let Some(items) = items.as_array() else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let Some(ch) = item.get("Chapter") else {
            continue;
        };
        let here = format!("{pointer}/{i}/Chapter");
        if let Some(path) = ch["path"].as_str() {
            let source = ch["source_path"].as_str().unwrap_or(path);
            let number = ch["number"].as_array().filter(|n| !n.is_empty()).map(|n| {
                n.iter()
                    .map(|x| x.as_u64().map_or_else(|| x.to_string(), |x| x.to_string()))
                    .collect::<Vec<_>>()
                    .join(".")
            });
            out.push(Page {
                pointer: here.clone(),
                name: ch["name"].as_str().unwrap_or_default().to_string(),
                number,
                html: html_path(path),
                source: src.join(source),
                content: ch["content"].as_str().unwrap_or_default().to_string(),
            });
        }
        collect_pages(&ch["sub_items"], &format!("{here}/sub_items"), src, out);
    }
}

/// The page mdBook writes for chapter `path` (`README.md` becomes `index.html`).
fn html_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    let (dir, file) = path
        .rsplit_once('/')
        .map_or(("", path.as_str()), |(d, f)| (d, f));
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let stem = if stem.eq_ignore_ascii_case("readme") {
        "index"
    } else {
        stem
    };
    if dir.is_empty() {
        format!("{stem}.html")
    } else {
        format!("{dir}/{stem}.html")
    }
}

/// The new contents of the pages, in order, and warnings.
struct RenderedPages {
    contents: Vec<String>,
    warnings: Vec<Diagnostic>,
}

/// A coderef label in a tangled block.
#[derive(Debug, Clone)]
struct Label {
    at: BlockRef,
    /// Body line index.
    line: usize,
    name: String,
    /// The label as written (`(ref:name)`).
    text: String,
    id: String,
}

/// Everything needed to render links: the web, ids, tags and cross references.
struct Site<'a> {
    pages: &'a [Page],
    web: Web,
    /// Anchor id of each tangled block.
    ids: HashMap<(usize, usize), String>,
    /// Tag of each tangled block (`2.1a`).
    tags: HashMap<(usize, usize), String>,
    /// For each fragment, the tangled blocks that reference it, in book order.
    uses: Vec<Vec<BlockRef>>,
    labels: Vec<Label>,
    /// Label formats in use (the book's first).
    formats: Vec<String>,
    /// Identifiers from the compiler's view, when indexed (see [`crate::site`]).
    idents: Option<crate::site::identifiers::Identifiers>,
    /// The page of each chapter, for identifier links.
    html: Vec<String>,
    /// The anchor of the first reference to fragment `f` in block (chapter, block): where
    /// "used in" lands.
    use_ids: HashMap<(usize, usize, usize), String>,
}

fn render_pages(pages: &[Page], config: &Config) -> Result<RenderedPages, Diagnostics> {
    let chapters: Vec<(PathBuf, String)> = pages
        .iter()
        .map(|p| (p.source.clone(), p.content.clone()))
        .collect();
    // The same web as `tangle` builds, in the book's dialect.
    let (web, warnings, outputs) = crate::project::site::site_web(
        &config.root,
        &chapters,
        &config.labels,
        config.dialect.as_deref(),
    )?;
    let idents = config
        .identifiers
        .then(|| crate::site::identifiers_of(&config.root, &web, &outputs))
        .flatten();
    let mut site = Site::new(pages, web);
    site.idents = idents;
    let mut contents = Vec::with_capacity(pages.len());
    let mut errors = Vec::new();
    for c in 0..pages.len() {
        match site.render_page(c) {
            Ok(text) => contents.push(text),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    if let Some(c) = pages.iter().position(|p| {
        p.source
            .file_name()
            .is_some_and(|f| f == crate::site::identifiers::INDEX_CHAPTER)
    }) {
        let index = site.identifier_index(c);
        let text = &mut contents[c];
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&index);
    }
    if let Some(c) = pages
        .iter()
        .position(|p| p.source.file_name().is_some_and(|f| f == INDEX_CHAPTER))
    {
        let index = site.index(c);
        let text = &mut contents[c];
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&index);
    }
    Ok(RenderedPages { contents, warnings })
}

fn tangled(block: &Block) -> bool {
    block.kind != BlockKind::Illustration
}

impl<'a> Site<'a> {
    /// Assigns ids and tags and finds uses and labels of a web that tangled without errors.
    fn new(pages: &'a [Page], web: Web) -> Site<'a> {
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
            .map(|l| Label {
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
    fn href(&self, from: usize, to: BlockRef) -> String {
        format!(
            "{}#{}",
            rel_href(&self.pages[from].html, &self.pages[to.chapter].html),
            self.ids[&(to.chapter, to.block)]
        )
    }

    fn tag(&self, at: BlockRef) -> &str {
        &self.tags[&(at.chapter, at.block)]
    }

    /// A link to a tangled block, showing its tag; its title names it and its chapter.
    fn tag_link(&self, from: usize, to: BlockRef, class: &str) -> String {
        format!(
            r#"<a class="{class}" href="{}" title="{} in {}">{}</a>"#,
            esc(&self.href(from, to)),
            esc(&self.block_title(to)),
            esc(&self.pages[to.chapter].name),
            esc(self.tag(to))
        )
    }

    /// «name» for a fragment part, the path for a root.
    fn block_title(&self, at: BlockRef) -> String {
        match &self.web.block(at).kind {
            BlockKind::Fragment { name, .. } => format!("«{name}»"),
            BlockKind::Root { path, .. } => path.display().to_string(),
            BlockKind::Illustration => String::new(),
        }
    }

    fn render_page(&self, c: usize) -> Result<String, Vec<Diagnostic>> {
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
    fn links(&self) -> crate::site::identifiers::Links<'_> {
        crate::site::identifiers::Links {
            html: &self.html,
            tag_link: Box::new(|from, to| self.tag_link(from, to, "tangle-xref")),
        }
    }

    /// The identifier index, for page `c`.
    fn identifier_index(&self, c: usize) -> String {
        match &self.idents {
            Some(idents) => idents.index(c, &self.links()),
            None => "This book was built without identifiers (see `identifiers` under `[preprocessor.tangle]`, and rust-analyzer).\n".into(),
        }
    }

    /// The caption and the rewritten opening fence. The caption takes the fence's place on its
    /// line, after the block's container prefix (`> `, a list marker); the fence moves to a line
    /// of its own, after a blank line that stays inside the same containers.
    fn open_block(&self, c: usize, b: usize, line: &str, out: &mut String) {
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
    fn close_block(&self, c: usize, b: usize, out: &mut String) {
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
    fn use_link(&self, from: usize, f: usize, to: BlockRef) -> String {
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
    ) -> Result<&Label, Diagnostic> {
        let here: Vec<&Label> = self
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
        let all: Vec<&Label> = self.labels.iter().filter(|l| l.name == name).collect();
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

    /// The generated index: every fragment and every tangled file.
    fn index(&self, c: usize) -> String {
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

/// The text of the inline code span `line[start..end]` (opened by `n` backticks) when it may
/// become a link: not in a heading, not inside a link's text (no `[` left open before it).
fn prose_code(line: &str, start: usize, n: usize, end: usize) -> Option<&str> {
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
fn closing_ticks(line: &str, from: usize, n: usize) -> Option<usize> {
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

/// `a`, `b`, ..., `z`, `aa`, `ab`, ...
fn letters(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// An id-safe form of `text`: lowercase ASCII letters and digits, runs of anything else
/// become `-`; with `path`, `.`, `_` and `/` are kept too.
fn slug(text: &str, path: bool) -> String {
    let mut s = String::with_capacity(text.len());
    for ch in text.chars() {
        let ch = ch.to_ascii_lowercase();
        if ch.is_ascii_alphanumeric() || (path && matches!(ch, '.' | '_' | '/')) {
            s.push(ch);
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_matches('-').to_string()
}

/// `base`, or `base-2`, `base-3`, ... : the first one not taken (and takes it).
fn unique(base: &str, taken: &mut HashSet<String>) -> String {
    let mut id = base.to_string();
    let mut n = 1;
    while taken.contains(&id) {
        n += 1;
        id = format!("{base}-{n}");
    }
    taken.insert(id.clone());
    id
}

/// The relative URL of page `to` seen from page `from` (both relative to the book root,
/// `/`-separated); empty when they are the same page.
pub(crate) fn rel_href(from: &str, to: &str) -> String {
    if from == to {
        return String::new();
    }
    let from_dirs: Vec<&str> = from.split('/').collect();
    let from_dirs = &from_dirs[..from_dirs.len() - 1];
    let to_parts: Vec<&str> = to.split('/').collect();
    let common = from_dirs
        .iter()
        .zip(&to_parts[..to_parts.len() - 1])
        .take_while(|(a, b)| a == b)
        .count();
    let mut s = "../".repeat(from_dirs.len() - common);
    s.push_str(&to_parts[common..].join("/"));
    let mut enc = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            ' ' => enc.push_str("%20"),
            '"' => enc.push_str("%22"),
            '#' => enc.push_str("%23"),
            '%' => enc.push_str("%25"),
            '?' => enc.push_str("%3F"),
            c => enc.push(c),
        }
    }
    enc
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chapter(name: &str, path: &str, number: Option<Vec<u32>>, content: &str) -> Value {
        json!({"Chapter": {"name": name, "content": content, "number": number, "sub_items": [],
            "path": path, "source_path": path, "parent_names": []}})
    }

    fn run(key: &str, items: Vec<Value>) -> anyhow::Result<(Value, Vec<Diagnostic>)> {
        let ctx = json!({"root": "/b", "config": {"book": {"src": "docs"}}, "renderer": "html", "mdbook_version": "0.5.4"});
        let input = json!([ctx, {key: items}]).to_string();
        let r = render(&input)?;
        Ok((serde_json::from_str(&r.book)?, r.warnings))
    }

    fn content(book: &Value, pointer: &str) -> String {
        book.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    const A: &str = "# A\n\n```rust file=src/main.rs\nfn main() { <<body>> } (ref:main)\n```\n\nSee (ref:main) and `(ref:not)`.\n";
    const B: &str = "# B\n\n1. step\n\n   ```rust name=body\n   let x = 1;\n   ```\n\n~~~rust name+=body\nlet y = <<more>>;\n~~~\n\n```rust name=more\n2\n```\n";

    #[test]
    fn renders_captions_footers_and_links_across_chapters() {
        let mut a = chapter("A", "a.md", Some(vec![1]), A);
        a["Chapter"]["sub_items"] = json!([chapter("B", "part/b.md", Some(vec![1, 1]), B)]);
        let (book, warnings) = run(
            "items",
            vec![a, json!("Separator"), json!({"PartTitle": "P"})],
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let a = content(&book, "/items/0/Chapter/content");
        let b = content(&book, "/items/0/Chapter/sub_items/0/Chapter/content");
        assert!(
            a.contains(r#"<div class="tangle-caption" id="file:src/main.rs">"#),
            "{a}"
        );
        assert!(
            a.contains("```rust,ignore,tangle\nfn main() { <<body>> } (ref:main)\n```"),
            "{a}"
        );
        assert!(
            a.contains(r#"data-name="body" data-tag="1.1a" href="part/b.html#f:body""#),
            "{a}"
        );
        assert!(a.contains(r#"id="l:main" data-line="0""#), "{a}");
        assert!(
            a.contains(r##"See <a class="tangle-label-ref" href="#l:main""##),
            "{a}"
        );
        assert!(a.contains("`(ref:not)`"), "{a}");
        // The fence in the list item keeps its indentation, and so do caption and footer.
        assert!(
            b.contains("\n   <div class=\"tangle-caption\" id=\"f:body\">"),
            "{b}"
        );
        assert!(b.contains("\n   ```rust,ignore,tangle\n   let x = 1;\n   ```\n\n   <div class=\"tangle-footer\">"), "{b}");
        assert!(b.contains("<dfn class=\"tangle-name\">«body»</dfn>"), "{b}");
        assert!(b.contains(r#"id="f:body:2""#), "{b}");
        assert!(b.contains("~~~rust,ignore,tangle\n"), "{b}");
        // "Used in" lands on the reference's line: its anchor is in the using block's footer.
        assert!(b.contains(r#"href=&quot;../a.html#u:body&quot;"#), "{b}");
        assert!(
            a.contains(r#"<span class="tangle-use" hidden id="u:body" data-name="body">"#),
            "{a}"
        );
        // The footer's text is an attribute (out of the search index), shown by tangle.js.
        assert!(
            b.contains(r#"<span class="tangle-footer-text" data-text="Defined in "#),
            "{b}"
        );
        assert!(b.contains("1.1b ▸"), "{b}");
    }

    #[test]
    fn old_sections_key_and_index_chapter() {
        let idx = chapter("Index", "fragment-index.md", None, "# Fragment index\n");
        let (book, _) = run(
            "sections",
            vec![
                chapter("A", "a.md", Some(vec![1]), A),
                chapter("B", "b.md", Some(vec![2]), B),
                idx,
            ],
        )
        .unwrap();
        let index = content(&book, "/sections/2/Chapter/content");
        assert!(
            index.starts_with("# Fragment index\n\n## Fragments\n"),
            "{index}"
        );
        assert!(
            index.contains(r#"<a class="tangle-name" href="b.html#f:body">«body»</a>"#),
            "{index}"
        );
        assert!(
            index.contains(
                r#"<a class="tangle-file" href="a.html#file:src/main.rs">src/main.rs</a>"#
            ),
            "{index}"
        );
        assert!(index.contains("<code>0444</code>"), "{index}");
    }

    #[test]
    fn errors_are_located() {
        let bad = "# A\n\n```rust file=x.rs\n  <<nope>>\n```\n\n(ref:gone)\n";
        let err = run("items", vec![chapter("A", "a.md", None, bad)])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "docs/a.md:4:3: error: undefined reference «nope»");
        let bad = "```rust file=x.rs\nx\n```\n\n(ref:gone)\n";
        let err = run("items", vec![chapter("A", "a.md", None, bad)])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("docs/a.md:5:1: error: undefined coderef label `gone`"),
            "{err}"
        );
        let cyc = "```rust file=x.rs\n<<a>>\n```\n```rust name=a\n<<a>>\n```\n";
        let err = run("items", vec![chapter("A", "a.md", None, cyc)])
            .unwrap_err()
            .to_string();
        assert!(err.contains("reference cycle"), "{err}");
    }

    #[test]
    fn unused_fragments_warn() {
        let (_, warnings) = run(
            "items",
            vec![chapter("A", "a.md", None, "```rust name=lonely\nx\n```\n")],
        )
        .unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].to_string().contains("never used"));
    }

    /// The tangle captions, code blocks and footers of `md` as mdBook's parser reads it, each
    /// with the containers around it, and the number of block quotes and lists.
    fn structure(md: &str) -> (Vec<(&'static str, Vec<&'static str>)>, usize, usize) {
        use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
        let options = Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES;
        let (mut found, mut stack, mut quotes, mut lists) = (Vec::new(), Vec::new(), 0, 0);
        for event in Parser::new_ext(md, options) {
            match event {
                Event::Start(Tag::BlockQuote(_)) => {
                    quotes += 1;
                    stack.push("quote");
                }
                Event::Start(Tag::List(_)) => lists += 1,
                Event::Start(Tag::Item) => stack.push("item"),
                Event::End(TagEnd::BlockQuote(_) | TagEnd::Item) => {
                    stack.pop();
                }
                Event::Start(Tag::CodeBlock(_)) => found.push(("code", stack.clone())),
                Event::Html(h) if h.contains("tangle-caption") => {
                    found.push(("caption", stack.clone()))
                }
                Event::Html(h) if h.contains("tangle-footer") => {
                    found.push(("footer", stack.clone()))
                }
                _ => {}
            }
        }
        (found, quotes, lists)
    }

    #[test]
    fn fragment_inside_a_block_quote_stays_in_it() {
        let q = "# Q\n\n> A quote:\n>\n> ```rust file=q.rs\n> fn main() { <<x>> }\n>```\n>\n>```rust name=x\n>1\n> ```\n> and more of the quote.\n\n<!--\n```rust name=hidden\n```\n-->\n";
        let (book, warnings) = run("items", vec![chapter("Q", "q.md", Some(vec![1]), q)]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let out = content(&book, "/items/0/Chapter/content");
        assert!(
            out.contains("> <div class=\"tangle-caption\" id=\"file:q.rs\">"),
            "{out}"
        );
        assert!(
            out.contains("</div>\n>\n> ```rust,ignore,tangle\n> fn main() { <<x>> }\n>```\n>\n> <div class=\"tangle-footer\">"),
            "{out}"
        );
        assert!(out.contains(">```rust,ignore,tangle\n>1\n> ```\n"), "{out}");
        let (found, quotes, _) = structure(&out);
        let quote = vec!["quote"];
        assert_eq!(
            found,
            vec![
                ("caption", quote.clone()),
                ("code", quote.clone()),
                ("footer", quote.clone()),
                ("caption", quote.clone()),
                ("code", quote.clone()),
                ("footer", quote.clone()),
            ],
            "{out}"
        );
        assert_eq!(quotes, 1, "the quote goes on around the blocks:\n{out}");
        // A fence in an HTML comment is no block: no caption, the comment unchanged.
        assert!(!out.contains("f:hidden"), "{out}");
        assert!(
            out.ends_with("<!--\n```rust name=hidden\n```\n-->\n"),
            "{out}"
        );
    }

    #[test]
    fn fragment_inside_a_list_item_stays_in_it() {
        let l = "# L\n\n1. ```rust file=l.rs\n   <<x>>\n   ```\n2. Then:\n\n   ```rust name=x\n   x\n   ```\n\n   done.\n3. Third.\n";
        let (book, warnings) = run("items", vec![chapter("L", "l.md", Some(vec![1]), l)]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let out = content(&book, "/items/0/Chapter/content");
        // The caption takes the fence's place after the list marker; the fence follows it.
        assert!(
            out.contains("\n1. <div class=\"tangle-caption\" id=\"file:l.rs\">"),
            "{out}"
        );
        assert!(
            out.contains("</div>\n\n   ```rust,ignore,tangle\n   <<x>>\n   ```\n\n   <div class=\"tangle-footer\">"),
            "{out}"
        );
        let (found, _, lists) = structure(&out);
        let item = vec!["item"];
        assert_eq!(
            found,
            vec![
                ("caption", item.clone()),
                ("code", item.clone()),
                ("footer", item.clone()),
                ("caption", item.clone()),
                ("code", item.clone()),
                ("footer", item.clone()),
            ],
            "{out}"
        );
        assert_eq!(lists, 1, "one list, its items around the blocks:\n{out}");
    }

    #[test]
    fn the_preprocessor_warns_as_tangle_does() {
        let text = "```rust file=a.rs\n<<used>>\n```\n\n```rust name=used\nx\n```\n\npara\n\n        ```rust name=indented\n";
        let (_, warnings) = run("items", vec![chapter("A", "a.md", None, text)]).unwrap();
        let tangled = crate::markdown::pipeline::tangle_chapters(
            &[(PathBuf::from("docs/a.md"), text.into())],
            "(ref:%s)",
        )
        .unwrap();
        assert_eq!(warnings, tangled.warnings);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].message.contains("indented too far"));
    }

    #[test]
    fn inline_code_that_may_become_an_identifier_link() {
        fn at(line: &str) -> Option<&str> {
            let i = line.find('`').unwrap();
            let end = closing_ticks(line, i + 1, 1).unwrap();
            prose_code(line, i, 1, end)
        }
        assert_eq!(at("The `Phase` enum."), Some("Phase"));
        assert_eq!(at("> In a quote, `Next::Close`."), Some("Next::Close"));
        // Not in a heading, not inside a link's text.
        assert_eq!(at("## The `Phase` enum"), None);
        assert_eq!(at("See [the `Phase` enum](x.html)."), None);
        assert_eq!(at("[a](b) and `Phase`"), Some("Phase"));
    }

    #[test]
    fn helpers() {
        assert_eq!(rel_href("a.html", "a.html"), "");
        assert_eq!(rel_href("x/a.html", "b.html"), "../b.html");
        assert_eq!(rel_href("x/a.html", "x/y/b c.html"), "y/b%20c.html");
        assert_eq!(html_path("dir/README.md"), "dir/index.html");
        assert_eq!(letters(0), "a");
        assert_eq!(letters(26), "aa");
        assert_eq!(
            slug("Accept every «pending» connection!", false),
            "accept-every-pending-connection"
        );
        assert_eq!(slug("src/Main.rs", true), "src/main.rs");
        assert!(supports("html") && supports("test") && !supports("epub"));
    }
}
