//! Placing the identifiers: every occurrence in the compiler's index mapped through the
//! outputs' line maps to a chapter, block, line and column, resolved ([`super::resolve`]) to
//! the book item it names or to documentation outside the book; then the anchors, the uses in
//! book order and each page's table of targets.

use super::{Identifiers, Occ, Place, Target};
use crate::markdown::model::Web;
use crate::output::Output;
use crate::site::scip::Index;
use std::collections::{HashMap, HashSet};

impl Identifiers {
    /// Places the occurrences of `index` (of `outputs`, tangled from `web`) in the web's blocks.
    pub fn build(web: &Web, outputs: &[Output], index: &Index) -> Identifiers {
        let chapter_of: HashMap<&std::path::Path, usize> = web
            .chapters
            .iter()
            .enumerate()
            .map(|(c, ch)| (ch.path.as_path(), c))
            .collect();
        let mut ids = Identifiers {
            tables: vec![Vec::new(); web.chapters.len()],
            table_index: vec![HashMap::new(); web.chapters.len()],
            ..Identifiers::default()
        };
        let mut symbols = ids.define_items(index);
        // The occurrences, placed in the blocks.
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
                let Some(target) = ids.resolve(&mut symbols, o.symbol, &doc.path) else {
                    continue;
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
