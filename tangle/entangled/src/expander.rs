//! The expander's questions answered for Entangled: whole-line references, fragments of
//! concatenated blocks, prefixes repeated on every line (blank lines too), no trailing text; a
//! file starts from a line `<<name>>` of its own.

use super::web::{reference, RefName, Web};
use tangle_core::diag::{Diagnostic, Pos};
use tangle_core::dialect::{CalledAt, CycleStep, Dialect, Found, PrefixRule, Rules};
use tangle_core::output::{Origin, SourceMap};

/// What the expander works on: a block, or the line that starts a file (`<<name>>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    Block(u32),
    Root(u32),
}

/// The dialect: Entangled's whole-line references, fragments of concatenated blocks, prefixes
/// repeated on every line (blank lines too), no trailing text.
pub struct Expander<'w> {
    web: &'w Web,
    file_ids: Vec<u32>,
    fragment_ids: Vec<u32>,
}

impl<'w> Expander<'w> {
    pub fn new(web: &'w Web) -> Self {
        Expander {
            web,
            file_ids: vec![u32::MAX; web.docs.len()],
            fragment_ids: vec![u32::MAX; web.fragments.len()],
        }
    }

    fn pos(&self, at: CalledAt<Piece>) -> Pos {
        match at.unit {
            Piece::Block(b) => {
                let u = &self.web.units[b as usize];
                Pos::new(
                    &self.web.docs[u.doc as usize],
                    u.lines[at.line].n as usize,
                    at.chars + 1 + u.indent as usize,
                )
            }
            Piece::Root(t) => {
                let t = &self.web.targets[t as usize];
                let u = &self.web.units[t.block as usize];
                Pos::new(
                    &self.web.docs[u.doc as usize],
                    u.open_line,
                    u.indent as usize + 1,
                )
            }
        }
    }
}

impl<'w> Dialect<'w> for Expander<'w> {
    type Unit = Piece;
    type Target = usize;

    fn rules(&self) -> Rules {
        Rules {
            prefix: PrefixRule::Line,
            trim_blank_lines: false,
            cr_breaks: false,
            terminate: true,
        }
    }

    fn part(&self, f: usize, k: usize) -> Option<Piece> {
        self.web.fragments[f]
            .blocks
            .get(k)
            .map(|&b| Piece::Block(b))
    }

    fn line_count(&self, unit: Piece) -> usize {
        match unit {
            Piece::Block(b) => self.web.units[b as usize].lines.len(),
            Piece::Root(_) => 1,
        }
    }

    fn line(&self, unit: Piece, i: usize) -> &'w str {
        match unit {
            Piece::Block(b) => self.web.line(&self.web.units[b as usize], i),
            Piece::Root(t) => &self.web.roots[t as usize],
        }
    }

    fn line_shift(&self, unit: Piece, i: usize) -> i32 {
        match unit {
            Piece::Block(b) => {
                let u = &self.web.units[b as usize];
                if u.verbatim.binary_search(&(i as u32)).is_ok() {
                    0
                } else {
                    u.indent
                }
            }
            Piece::Root(_) => 0,
        }
    }

    fn find_reference(&self, unit: Piece, i: usize, line: &'w str, from: usize) -> Option<Found> {
        if from > 0 {
            return None;
        }
        match unit {
            Piece::Block(b) if self.web.units[b as usize].lines[i].marker => return None,
            Piece::Block(_) => {}
            Piece::Root(_) => {
                return Some(Found {
                    open: 0,
                    name: (2, line.len() - 2),
                    end: line.len(),
                })
            }
        }
        let (indent, name) = reference(line)?;
        Some(Found {
            open: indent,
            name: (indent + 2, indent + 2 + name.len()),
            end: line.len(),
        })
    }

    /// Lines up to the next reference line (a marker is never one).
    fn plain_lines(&self, unit: Piece, from: usize) -> usize {
        let Piece::Block(b) = unit else {
            return 0;
        };
        let u = &self.web.units[b as usize];
        (from..u.lines.len())
            .take_while(|&i| u.lines[i].marker || reference(self.web.line(u, i)).is_none())
            .count()
    }

    fn resolve(&mut self, name: &'w str, at: CalledAt<Piece>) -> Result<Option<usize>, Diagnostic> {
        let want = match at.unit {
            Piece::Block(b) => RefName::parse(name, &self.web.units[b as usize].namespace),
            Piece::Root(t) => {
                let f = self.web.targets[t as usize].fragment;
                self.web.fragments[f].name.clone()
            }
        };
        match self.web.by_name.get(&want) {
            Some(&f) => match self.web.fragments[f].uncommented {
                Some(b) => {
                    let u = &self.web.units[b as usize];
                    Err(Diagnostic::error(
                        Pos::new(&self.web.docs[u.doc as usize], u.open_line, u.indent as usize + 1),
                        "this block has no language with a comment syntax, so its `~/~` markers cannot be written (give it a class such as `.rust`, or set `annotation = \"naked\"`)",
                    ))
                }
                None => Ok(Some(f)),
            },
            None => Err(Diagnostic::error(
                self.pos(at),
                format!("undefined reference «{want}»: no block has this name"),
            )),
        }
    }

    fn key(&self, target: Option<usize>, _: Piece) -> Option<usize> {
        target
    }

    fn key_count(&self) -> usize {
        self.web.fragments.len()
    }

    fn origin(
        &mut self,
        map: &mut SourceMap,
        target: Option<usize>,
        unit: Piece,
        i: usize,
        col_shift: i32,
    ) -> Origin {
        let (doc, line, fragment) = match unit {
            Piece::Block(b) => {
                let u = &self.web.units[b as usize];
                (u.doc, u.lines[i].n, target.unwrap_or(0))
            }
            Piece::Root(t) => {
                let t = &self.web.targets[t as usize];
                let u = &self.web.units[t.block as usize];
                (u.doc, u.open_line as u32, t.fragment)
            }
        };
        if self.file_ids[doc as usize] == u32::MAX {
            self.file_ids[doc as usize] = map.files.len() as u32;
            map.files.push(self.web.docs[doc as usize].clone());
        }
        if self.fragment_ids[fragment] == u32::MAX {
            self.fragment_ids[fragment] = map.fragments.len() as u32;
            map.fragments
                .push(self.web.fragments[fragment].name.to_string());
        }
        Origin {
            file: self.file_ids[doc as usize],
            line,
            col_shift,
            fragment: self.fragment_ids[fragment],
        }
    }

    fn cycle(&self, steps: &[CycleStep<Piece>], again: CycleStep<Piece>) -> Diagnostic {
        tangle_core::dialect::fragment_cycle(
            steps,
            again,
            |key| self.web.fragments[key].name.to_string(),
            |at| self.pos(at),
        )
    }
}
