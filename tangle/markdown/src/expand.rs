//! Our Markdown books' [`Dialect`]: how the shared expander of `tangle_core` reads a
//! [`Web`]'s blocks, and the expansion of one root.

use crate::model::{BlockRef, Web};
use tangle_core::diag::{Diagnostic, Pos};
use tangle_core::dialect::{CalledAt, CycleStep, Dialect, Found, PrefixRule};
use tangle_core::expand::expand_with;
use tangle_core::output::{Origin, SourceMap};

/// The text of one root, without header, and its line map. Lines end with `\n`.
#[derive(Debug, Clone, Default)]
pub struct Expansion {
    pub text: String,
    pub map: SourceMap,
}

/// Expands root `root` of `web`. Errors: an undefined reference, a reference cycle.
pub fn expand_root(web: &Web, root: usize) -> Result<Expansion, Diagnostic> {
    expand_root_as(web, root, true)
}

/// [`expand_root`] without the line map: its `lines`, `segments` and `fragments` stay empty
/// (its `files`, which the header names, are filled). For writing files, which needs the text
/// only.
pub fn expand_root_text(web: &Web, root: usize) -> Result<Expansion, Diagnostic> {
    expand_root_as(web, root, false)
}

fn expand_root_as(web: &Web, root: usize, lines: bool) -> Result<Expansion, Diagnostic> {
    let mut d = Markdown::new(web);
    let (text, map) = expand_with(&mut d, web.roots[root].block, lines)?.into_parts();
    Ok(Expansion { text, map })
}

/// Our Markdown books: `<<name>>` references (see [`crate::model::find_reference`]), fragments by exact
/// name, `name+=` parts on new lines, an undefined name an error.
pub struct Markdown<'w> {
    web: &'w Web,
    /// Chapter index → index in the map's files (+1; 0 = not yet added).
    file_ids: Vec<u32>,
    /// Fragment index (last slot: the root) → index in the map's fragments.
    fragment_ids: Vec<u32>,
}

impl<'w> Markdown<'w> {
    pub fn new(web: &'w Web) -> Self {
        Markdown {
            web,
            file_ids: Vec::new(),
            fragment_ids: vec![u32::MAX; web.fragments.len() + 1],
        }
    }

    /// The index in the map's files of chapter `chapter`, added at its first line.
    fn file_id(&mut self, map: &mut SourceMap, chapter: usize) -> u32 {
        if self.file_ids.len() <= chapter {
            self.file_ids.resize(chapter + 1, 0);
        }
        if self.file_ids[chapter] == 0 {
            map.files.push(self.web.chapters[chapter].path.clone());
            self.file_ids[chapter] = map.files.len() as u32;
        }
        self.file_ids[chapter] - 1
    }

    fn pos(&self, at: CalledAt<BlockRef>) -> Pos {
        let block = self.web.block(at.unit);
        Pos::new(
            &self.web.chapters[at.unit.chapter].path,
            block.body_line + at.line,
            block.col(at.line, at.chars),
        )
    }
}

impl<'w> Dialect<'w> for Markdown<'w> {
    type Unit = BlockRef;
    type Target = usize;

    fn rules(&self) -> tangle_core::dialect::Rules {
        tangle_core::dialect::Rules {
            prefix: PrefixRule::Line,
            trim_blank_lines: true,
            cr_breaks: false,
            terminate: true,
        }
    }

    fn part(&self, f: usize, k: usize) -> Option<BlockRef> {
        self.web.fragments[f].parts.get(k).copied()
    }

    fn line_count(&self, unit: BlockRef) -> usize {
        self.web.block(unit).len()
    }

    fn line(&self, unit: BlockRef, i: usize) -> &'w str {
        self.web.code(unit, i)
    }

    fn line_shift(&self, unit: BlockRef, i: usize) -> i32 {
        self.web.block(unit).shift(i)
    }

    fn plain_lines(&self, unit: BlockRef, from: usize) -> usize {
        let refs = self.web.found_refs(unit);
        let k = refs.partition_point(|r| (r.line as usize) < from);
        let next = refs
            .get(k)
            .map_or(self.line_count(unit), |r| r.line as usize);
        next - from
    }

    /// The references found when the web was built (see [`crate::model::find_reference`]).
    fn find_reference(&self, at: BlockRef, i: usize, _: &'w str, from: usize) -> Option<Found> {
        let refs = self.web.found_refs(at);
        let (i, from) = (i as u32, from as u32);
        let k = refs.partition_point(|r| (r.line, r.start) < (i, from));
        refs.get(k).filter(|r| r.line == i).map(|r| {
            let (start, end) = (r.start as usize, r.end as usize);
            Found {
                open: start,
                name: (start + 2, end - 2),
                end,
            }
        })
    }

    /// The fragment the web resolved the reference at `at` to when it was built (the
    /// reference with as many characters before it on its line), else by name.
    fn resolve(
        &mut self,
        name: &'w str,
        at: CalledAt<BlockRef>,
    ) -> Result<Option<usize>, Diagnostic> {
        let refs = self.web.found_refs(at.unit);
        let (line, chars) = (at.line as u32, at.chars as u32);
        let k = refs.partition_point(|r| (r.line, r.before) < (line, chars));
        let found = refs.get(k).filter(|r| (r.line, r.before) == (line, chars));
        if let Some(f) = found.and_then(|r| r.target) {
            debug_assert_eq!(self.web.fragments[f as usize].name, name);
            return Ok(Some(f as usize));
        }
        match self.web.by_name.get(name) {
            Some(&f) => Ok(Some(f)),
            None => Err(Diagnostic::error(
                self.pos(at),
                format!(
                    "undefined reference «{name}»{}",
                    self.web.nearest_name(name)
                ),
            )),
        }
    }

    fn key(&self, target: Option<usize>, _: BlockRef) -> Option<usize> {
        target
    }

    fn key_count(&self) -> usize {
        self.web.fragments.len()
    }

    fn origin(
        &mut self,
        map: &mut SourceMap,
        fragment: Option<usize>,
        at: BlockRef,
        line: usize,
        col_shift: i32,
    ) -> Origin {
        let file = self.file_id(map, at.chapter);
        let slot = fragment.unwrap_or(self.web.fragments.len());
        if self.fragment_ids[slot] == u32::MAX {
            self.fragment_ids[slot] = map.fragments.len() as u32;
            let name = match fragment {
                Some(f) => self.web.fragments[f].name.clone(),
                None => self
                    .web
                    .roots
                    .iter()
                    .find(|r| r.block == at)
                    .map_or_else(String::new, |r| r.path.display().to_string()),
            };
            map.fragments.push(name);
        }
        Origin {
            file,
            line: (self.web.block(at).body_line + line) as u32,
            col_shift,
            fragment: self.fragment_ids[slot],
        }
    }

    fn note_unit(&mut self, map: &mut SourceMap, at: BlockRef) {
        self.file_id(map, at.chapter);
    }

    /// The chain of references from the fragment back to itself. A long chain shows its
    /// first and last few steps and how many were left out.
    fn cycle(&self, steps: &[CycleStep<BlockRef>], again: CycleStep<BlockRef>) -> Diagnostic {
        tangle_core::dialect::fragment_cycle(
            steps,
            again,
            |key| self.web.fragments[key].name.to_string(),
            |at| self.pos(at),
        )
    }
}
