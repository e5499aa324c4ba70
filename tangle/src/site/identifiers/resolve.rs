//! Resolving the index's symbols: the items the book's code defines (members under their
//! types), and for a name in the code, the item it names or the documentation outside the
//! book it leads to.

use super::{External, Identifiers, Item, Target};
use crate::site::scip::{self, Index};
use std::collections::{HashMap, HashSet};

/// What the index's symbols are to the book.
pub(super) struct Symbols {
    /// Each symbol, parsed (`None`: a local or unreadable one).
    parsed: Vec<Option<scip::Parsed>>,
    /// The items each symbol defines (one per output that defines it).
    defined: HashMap<u32, Vec<usize>>,
    /// The book's own packages: their symbols never lead outside the book.
    own_packages: HashSet<String>,
    /// The outputs that are libraries (without `main`).
    lib_docs: HashSet<String>,
    /// Each external's index, by its URL.
    ext_index: HashMap<String, usize>,
}

impl Identifiers {
    /// The items: every symbol a document of `index` says it defines, members under their
    /// types.
    pub(super) fn define_items(&mut self, index: &Index) -> Symbols {
        let mut symbols = Symbols {
            parsed: index.symbols.iter().map(|s| scip::parse(s)).collect(),
            defined: HashMap::new(),
            own_packages: HashSet::new(),
            lib_docs: HashSet::new(),
            ext_index: HashMap::new(),
        };
        for doc in &index.docs {
            let mut has_main = false;
            for info in &doc.infos {
                let Some(p) = &symbols.parsed[info.symbol as usize] else {
                    continue;
                };
                symbols.own_packages.insert(p.package.clone());
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
                symbols
                    .defined
                    .entry(info.symbol)
                    .or_default()
                    .push(self.items.len());
                self.items.push(Item {
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
                symbols.lib_docs.insert(doc.path.clone());
            }
        }
        // Members under their types.
        for (&sym, list) in &symbols.defined {
            let Some(p) = &symbols.parsed[sym as usize] else {
                continue;
            };
            let Some(parent_sym) = p.parent_symbol(&index.symbols[sym as usize]) else {
                continue;
            };
            for &i in list {
                let file = self.items[i].file.clone();
                let parent = index
                    .symbols
                    .iter()
                    .position(|s| *s == parent_sym)
                    .and_then(|ps| symbols.defined.get(&(ps as u32)))
                    .and_then(|l| {
                        l.iter()
                            .copied()
                            .find(|&j| self.items[j].file == file)
                            .or(l.first().copied())
                    });
                if let Some(parent) = parent {
                    self.items[i].parent = Some(parent);
                    self.items[i].path =
                        format!("{}::{}", self.items[parent].name, self.items[i].name);
                }
            }
        }
        symbols
    }

    /// What `symbol`, named in the code of output `file`, leads to: the book's item (the one
    /// `file` defines, else the only one, else the only one in a library), or the
    /// documentation outside the book; `None` when it is neither.
    pub(super) fn resolve(
        &mut self,
        symbols: &mut Symbols,
        symbol: u32,
        file: &str,
    ) -> Option<Target> {
        match symbols.defined.get(&symbol) {
            Some(list) => {
                let pick = list
                    .iter()
                    .copied()
                    .find(|&i| self.items[i].file == file)
                    .or_else(|| (list.len() == 1).then(|| list[0]))
                    .or_else(|| {
                        let libs: Vec<usize> = list
                            .iter()
                            .copied()
                            .filter(|&i| symbols.lib_docs.contains(&self.items[i].file))
                            .collect();
                        (libs.len() == 1).then(|| libs[0])
                    });
                pick.map(Target::Item)
            }
            None => {
                let p = symbols.parsed[symbol as usize].as_ref()?;
                if symbols.own_packages.contains(&p.package) {
                    return None;
                }
                let (url, title) = p.docs_link()?;
                let n = symbols.ext_index.len();
                let e = *symbols.ext_index.entry(url.clone()).or_insert(n);
                if e == self.externals.len() {
                    self.externals.push(External { url, title });
                }
                Some(Target::External(e))
            }
        }
    }
}
