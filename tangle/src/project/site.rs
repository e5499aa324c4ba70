//! What a book's site shows, in each dialect: the web of the pages mdBook hands over (the
//! Markdown model's, which the mdBook preprocessor renders), and the warnings of tangling the
//! book as `tangle` does. An Entangled book's pages are read into that same model, by the
//! rules its tangle reads them by.

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::entangled::config::Config;
use crate::entangled::properties;
use crate::entangled::read;
use crate::entangled::web::{block_mode, block_name, namespace_of, pure_path, RefName};
use crate::markdown::model::Web;
use crate::markdown::pipeline::tangle_markdown;
use std::collections::HashMap;
use std::path::Path;
use std::path::PathBuf;

/// The web a site renders and the warnings of tangling the book, from the pages mdBook hands
/// over (`(path, text)` in book order) in the book in `root`. The dialect: Entangled's where
/// `root` has Entangled settings or `dialect` (book.toml's choice) says `entangled`, else ours.
/// The same functions as `tangle` itself: the same errors, the same warnings. The outputs come
/// along, with their line maps (the site places the compiler's view of them in the pages).
pub fn site_web(
    root: &Path,
    pages: &[(PathBuf, String)],
    labels: &str,
    dialect: Option<&str>,
) -> Result<(Web, Vec<Diagnostic>, Vec<crate::Output>), Diagnostics> {
    use crate::entangled::config::{settings_file, Config};
    let entangled = match settings_file(root) {
        Some(settings) => Some(Config::load(root, &settings).map_err(|d| Diagnostics(vec![d]))?),
        None if dialect == Some("entangled") => Some(Config::default()),
        None => None,
    };
    match entangled {
        Some(config) => entangled_web(root, &config, pages, labels),
        None => {
            let tangle = tangle_markdown(pages, labels)?;
            Ok((tangle.web, tangle.tangled.warnings, tangle.tangled.outputs))
        }
    }
}

/// An Entangled book's web of pages, and the warnings of tangling the whole book (its other
/// documents read from disk, the pages as mdBook hands them) as `tangle` does.
fn entangled_web(
    root: &Path,
    config: &Config,
    pages: &[(PathBuf, String)],
    labels: &str,
) -> Result<(Web, Vec<Diagnostic>, Vec<crate::Output>), Diagnostics> {
    use crate::entangled;
    // The documents: those the settings' watch list finds, or, for a book that chose the
    // dialect in book.toml, its chapters.
    let files = if config.path.is_some() {
        entangled::documents(root, config)
    } else {
        let mut files: Vec<PathBuf> = pages.iter().map(|(p, _)| p.clone()).collect();
        files.sort_by(|a, b| a.components().cmp(b.components()));
        files
    };
    let by_path: std::collections::BTreeMap<PathBuf, String> = pages.iter().cloned().collect();
    let docs = crate::source::read_all(root, &files, &by_path)?;
    let tangled = entangled::tangle(config, docs, false)?;
    let web = entangled_pages(config, pages, labels)?;
    Ok((web, tangled.warnings, tangled.outputs))
}

/// The web of the mdBook pages of an Entangled book (`(path, text)` in book order), for the
/// preprocessor to render: every block a fragment part (or, a file block without an id, the
/// file's root), named as Entangled names it.
fn entangled_pages(
    config: &Config,
    pages: &[(PathBuf, String)],
    labels: &str,
) -> Result<crate::markdown::model::Web, Diagnostics> {
    use crate::markdown::model::{BlockRef, Fragment as SiteFragment, Root};
    use crate::markdown::parse::{Block, BlockKind, Chapter};
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
        let namespace = namespace_of(config, path);
        let mut blocks = Vec::with_capacity(doc.blocks.len());
        for (b, block) in doc.blocks.iter().enumerate() {
            let props = &block.properties;
            let id = properties::id(props);
            let file = properties::attribute(props, "file").map(pure_path);
            let name = RefName {
                namespace: namespace.clone(),
                name: block_name(props, path, block.open_line),
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
            let indent = block.indent.chars().count();
            let at_open = Pos::new(path, block.open_line, indent + 1);
            let mode = block_mode(props, at_open.clone()).unwrap_or_else(|e| {
                errors.push(e);
                None
            });
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
                at_open,
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
    Ok(crate::markdown::model::Web::assemble(
        chapters, fragments, roots, labels,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The site reads a block's mode by the tangle's rule: a bad one is the same error.
    #[test]
    fn a_bad_mode_is_an_error_in_the_site_as_in_the_tangle() {
        let page = (
            PathBuf::from("index.md"),
            "# A\n\n``` {.python file=a.py mode=9z}\nprint(1)\n```\n".to_string(),
        );
        let config = Config::default();
        let site = entangled_pages(&config, std::slice::from_ref(&page), "(ref:%s)").unwrap_err();
        let docs = crate::source::read_all(
            Path::new("."),
            std::slice::from_ref(&page.0),
            &[page.clone()].into_iter().collect(),
        )
        .unwrap();
        let tangle = crate::entangled::tangle(&config, docs, false).unwrap_err();
        assert_eq!(site.0.len(), 1, "{site:?}");
        assert_eq!(site.0[0].message, tangle.0[0].message);
        assert_eq!(site.0[0].pos, tangle.0[0].pos);
        assert!(site.0[0].message.contains("`mode=9z`"), "{site:?}");
    }
}
