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
//!
//! This module is the protocol: mdBook's JSON in and out, and the settings read from
//! `book.toml`. The pages are rendered by [`super::page`] (a chapter's page),
//! [`super::block`] (a block's caption and footer) and [`super::fragment_index`].

use super::page::Site;
use crate::diag::{Diagnostic, Diagnostics};
use crate::markdown::book::DEFAULT_LABELS;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub use super::fragment_index::INDEX_CHAPTER;

/// Why the preprocessor could not render the book.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input is not JSON.
    #[error("mdbook preprocessor input is not JSON")]
    NotJson(#[source] serde_json::Error),
    /// The input is JSON but not an array.
    #[error("mdbook preprocessor input must be a JSON array `[context, book]`")]
    NotArray,
    /// The input is an array of other than two elements.
    #[error("mdbook preprocessor input must be `[context, book]`, got {0} elements")]
    Elements(usize),
    /// The book has no chapters to read.
    #[error("the book has neither `items` nor `sections`")]
    NoChapters,
    /// The chapters have errors (parse errors, undefined references, unknown labels, cycles,
    /// ...), each at its place.
    #[error(transparent)]
    Document(#[from] Diagnostics),
    /// The rendered book could not be written as JSON.
    #[error(transparent)]
    Output(serde_json::Error),
}

/// Whether the preprocessor runs for `renderer`: `html`, and `test` so that `mdbook test`
/// skips fragments (rendered as `ignore` blocks) instead of compiling them.
pub fn supports(renderer: &str) -> bool {
    matches!(renderer, "html" | "test")
}

/// Runs the preprocessor on mdBook's input (`[context, book]` as JSON) and returns the book as
/// JSON. Warnings (unused fragments) are printed to stderr; errors are returned (their
/// `Display` is one `path:line:col: error: message` per line).
pub fn preprocess(input: &str) -> Result<String, Error> {
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
pub fn render(input: &str) -> Result<Rendered, Error> {
    let input: Value = serde_json::from_str(input).map_err(Error::NotJson)?;
    let Value::Array(mut parts) = input else {
        return Err(Error::NotArray);
    };
    if parts.len() != 2 {
        return Err(Error::Elements(parts.len()));
    }
    let mut book = parts.pop().unwrap_or_default();
    let ctx = parts.pop().unwrap_or_default();
    let config = Config::from_context(&ctx);
    let key = ["items", "sections"]
        .into_iter()
        .find(|k| book.get(k).is_some_and(Value::is_array))
        .ok_or(Error::NoChapters)?;
    let mut pages = Vec::new();
    collect_pages(&book[key], &format!("/{key}"), &config.src, &mut pages);
    let out = render_pages(&pages, &config)?;
    for (page, content) in pages.iter().zip(out.contents) {
        if let Some(Value::Object(ch)) = book.pointer_mut(&page.pointer) {
            ch.insert("content".into(), Value::String(content));
        }
    }
    Ok(Rendered {
        book: serde_json::to_string(&book).map_err(Error::Output)?,
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
pub(super) struct Page {
    /// JSON pointer to the chapter object.
    pointer: String,
    pub(super) name: String,
    /// Section number as displayed (`2.1`), if numbered.
    pub(super) number: Option<String>,
    /// The page, relative to the book's root (`part/ch.html`).
    pub(super) html: String,
    /// The source file relative to the book root (`docs/part/ch.md`), for messages.
    pub(super) source: PathBuf,
    pub(super) content: String,
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
pub(super) fn html_path(path: &str) -> String {
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
