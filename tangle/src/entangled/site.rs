//! The mdBook preprocessor's view of an Entangled book: its pages read into the Markdown
//! model's web, so that the site renders them as it renders our books.

use super::config::Config;
use super::properties;
use super::read;
use super::web::{block_name, file_mode, namespace_of, pure_path, RefName};
use crate::diag::{Diagnostics, Pos};
use std::collections::HashMap;
use std::path::PathBuf;

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
            let mode = properties::attribute(props, "mode").and_then(file_mode);
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
