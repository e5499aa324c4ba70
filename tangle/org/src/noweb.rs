//! Noweb references: Org 9.5.5's reference regexp (`org-babel-noweb-wrap`), their
//! resolution by `#+name:` or `:noweb-ref`, and the [`Org`] dialect with which the shared
//! expander ([`tangle_core::expand::expand`]) expands them as `org-babel-expand-noweb-references`
//! does (the text before a reference, since the previous one, repeated before every line of
//! its expansion).

use super::header::Val;
use super::text::Body;
use super::{eq_fold, NameIndex, PendingCall, Tangler};
use std::collections::HashMap;
use tangle_core::diag::Diagnostic;
use tangle_core::dialect::{
    shown_steps, CalledAt, CycleStep, Dialect, Found, PrefixRule, Rules, Separator, CYCLE_SHOWN,
};
use tangle_core::mapped::MappedText;
use tangle_core::output::{Origin, SourceMap};

// The noweb reference regexp of Org 9.5.5:
//   \(.*?\)\(<<\([^ \t\n]\(?:.*?[^ \t\n]\)?\)>>\)

/// One reference match on a line, as byte offsets: match start, `<<`, id start/end, match end.
pub(super) struct RefMatch {
    pub(super) mb: usize,
    pub(super) lt: usize,
    pub(super) id: (usize, usize),
    pub(super) me: usize,
}

/// The first match of the reference regexp in `line` at or after byte `start`, as Emacs'
/// backtracking matcher finds it: the lazy `\\(.*?\\)` tries each `<<` in turn, and for each
/// the optional group first (the shortest name ending in a non-blank before a `>>`), then a
/// one-character name. The search for the optional group's `>>` can only move forward from
/// one `<<` to the next, and once it finds none, no later `<<` has one: it runs at most once,
/// so the search is linear.
pub(super) fn find_ref(line: &str, start: usize) -> Option<RefMatch> {
    let b = line.as_bytes();
    let nonws = |c: u8| !matches!(c, b' ' | b'\t' | b'\n');
    // `>>` at `q` after a non-blank: where a name of two or more characters can end.
    let closes = |q: usize| b[q] == b'>' && b[q + 1] == b'>' && nonws(b[q - 1]);
    let mut longer_names = true;
    let mut lt = start;
    while lt + 1 < b.len() {
        if b[lt] == b'<' && b[lt + 1] == b'<' && lt + 2 < b.len() && nonws(b[lt + 2]) {
            let a = lt + 2;
            let c0_len = line[a..].chars().next().map_or(1, char::len_utf8);
            let after = a + c0_len;
            if longer_names {
                match (after + 1..b.len().saturating_sub(1)).find(|&q| closes(q)) {
                    Some(q) => {
                        return Some(RefMatch {
                            mb: start,
                            lt,
                            id: (a, q),
                            me: q + 2,
                        })
                    }
                    None => longer_names = false,
                }
            }
            if b.len() >= after + 2 && b[after] == b'>' && b[after + 1] == b'>' {
                return Some(RefMatch {
                    mb: start,
                    lt,
                    id: (a, after),
                    me: after + 2,
                });
            }
        }
        lt += 1;
    }
    None
}

/// A resolved reference: the blocks it expands to and the separators between them.
#[derive(Debug, Clone)]
pub(super) struct Group {
    pub(super) blocks: Vec<usize>,
    /// `seps[k]` goes between `blocks[k]` and `blocks[k + 1]` (`:noweb-sep`, default newline).
    pub(super) seps: Vec<String>,
}

/// The org dialect of the shared expander: Org 9.5.5's reference regexp, resolution by
/// `#+name:` or `:noweb-ref` joined by `:noweb-sep`, an unresolved reference expanding to
/// nothing (with a warning), `:noweb` per block, the prefix since the previous reference,
/// blank lines keeping their prefix (Org trims later, per block) and the body left open.
pub(super) struct Org<'t, 'a, 'b> {
    t: &'t mut Tangler<'a>,
    bodies: &'b [Body],
    /// Whether the root's references are expanded (its `:noweb`).
    root_expands: bool,
}

impl<'b> Org<'_, '_, 'b> {
    /// The place of `at` in the org file: line and 1-based column.
    fn place(&self, at: CalledAt<usize>) -> (usize, usize) {
        let l = &self.bodies[at.unit].lines[at.line];
        (
            l.line as usize,
            (at.chars as i32 + l.shift + 1).max(1) as usize,
        )
    }
}

impl<'b> Dialect<'b> for Org<'_, '_, 'b> {
    type Unit = usize;
    type Target = usize;

    fn rules(&self) -> Rules {
        Rules {
            prefix: PrefixRule::SinceLastReference,
            trim_blank_lines: false,
            cr_breaks: true,
            terminate: false,
        }
    }

    fn part(&self, group: usize, k: usize) -> Option<usize> {
        self.t.groups[group].blocks.get(k).copied()
    }

    fn line_count(&self, b: usize) -> usize {
        self.bodies[b].lines.len()
    }

    fn line(&self, b: usize, i: usize) -> &'b str {
        &self.bodies[b].lines[i].text
    }

    fn line_shift(&self, b: usize, i: usize) -> i32 {
        self.bodies[b].lines[i].shift
    }

    fn find_reference(&self, _: usize, _: usize, line: &'b str, from: usize) -> Option<Found> {
        // The match starts where the search does (`\\(.*?\\)`): the engine's scan start,
        // which `PrefixRule::SinceLastReference` takes as the prefix's start.
        find_ref(line, from).map(|m| Found {
            open: {
                debug_assert_eq!(m.mb, from);
                m.lt
            },
            name: m.id,
            end: m.me,
        })
    }

    fn resolve(&mut self, id: &'b str, at: CalledAt<usize>) -> Result<Option<usize>, Diagnostic> {
        let (line, col) = self.place(at);
        let t = &mut *self.t;
        if id.contains(">>") && id.contains("<<") {
            t.warn(
                line,
                col,
                format!(
                    "Org 9.5.5 reads this line's references as the single reference \
                     `<<{id}>>` (its noweb regexp spans `>>` … `<<` on one line); put each \
                     reference on its own line"
                ),
            );
        }
        if let Some(p) = id.find('(') {
            if id[p..].contains(')') {
                if id.contains(">>") || id.contains("<<") {
                    return Err(t.diag(
                        line,
                        col,
                        format!(
                            "`<<{id}>>` is read by Org 9.5.5 as one call spanning several \
                             references; put each reference on its own line"
                        ),
                    ));
                }
                // Evaluated between expansions (see `Tangler::evaluate_pending`).
                if let Some(&g) = t.call_groups.get(id) {
                    return Ok(Some(g));
                }
                t.pending_calls.push(PendingCall {
                    id: id.to_string(),
                    line,
                    col,
                });
                return Ok(None);
            }
        }
        if t.doc.ids.iter().any(|x| x == id) {
            return Err(t.diag(
                line,
                col,
                format!(
                    "`<<{id}>>` names a headline `:ID:`/`:CUSTOM_ID:`; Org would insert the \
                     headline's text, which is not supported"
                ),
            ));
        }
        match t.resolve(id)? {
            Some(g) => Ok(Some(g)),
            None => {
                t.warn(
                    line,
                    col,
                    format!(
                        "unresolved reference `<<{id}>>`: no block is named `{id}` or has \
                         `:noweb-ref {id}`; Org expands it to nothing"
                    ),
                );
                Ok(None)
            }
        }
    }

    fn separator(&mut self, group: usize, k: usize) -> Result<Separator, Diagnostic> {
        Ok(Separator::Text(self.t.groups[group].seps[k].clone()))
    }

    fn expands(&mut self, group: Option<usize>, b: usize) -> bool {
        if b >= self.t.doc.blocks.len() {
            // A call's result is inserted as it is.
            return false;
        }
        match group {
            None => self.root_expands,
            // Included blocks are expanded in the `:eval` context.
            Some(_) => self.t.noweb_eval(b),
        }
    }

    fn key(&self, _: Option<usize>, b: usize) -> Option<usize> {
        (b < self.t.doc.blocks.len()).then_some(b)
    }

    fn key_count(&self) -> usize {
        self.t.doc.blocks.len()
    }

    fn origin(
        &mut self,
        _: &mut SourceMap,
        _: Option<usize>,
        b: usize,
        i: usize,
        col_shift: i32,
    ) -> Origin {
        // The fragment is the block until the file's map is assembled.
        Origin {
            file: 0,
            line: self.bodies[b].lines[i].line,
            col_shift,
            fragment: b as u32,
        }
    }

    /// The chain of inclusions from the block back to itself. A long chain shows its first
    /// and last few steps and how many were left out.
    fn cycle(&self, steps: &[CycleStep<usize>], again: CycleStep<usize>) -> Diagnostic {
        let t = &*self.t;
        let (shown, omitted) = shown_steps(steps.len());
        let mut chain = Vec::new();
        for (k, s) in steps.iter().enumerate() {
            if shown(k) {
                chain.push(t.block_name(s.key));
            } else if k == CYCLE_SHOWN {
                chain.push(format!("… {omitted} more …"));
            }
        }
        chain.push(t.block_name(again.key));
        let block = &t.doc.blocks[again.key];
        let what = if omitted > 0 {
            format!("reference cycle of {} blocks", steps.len())
        } else {
            "reference cycle".to_string()
        };
        let mut d = Diagnostic::error(
            t.pos(block.line, block.col),
            format!(
                "{what}: {} (Emacs would recurse until `max-lisp-eval-depth`)",
                chain.join(" -> ")
            ),
        );
        // Step k: block k - 1 of the cycle includes block k (the last step closes it).
        let n = steps.len();
        for k in (1..=n).filter(|&k| shown(k - 1)) {
            let to = if k < n { steps[k] } else { again };
            let (line, col) = self.place(to.called_at);
            let from = t.block_name(steps[k - 1].key);
            let name = t.block_name(to.key);
            d = d.with_note(t.pos(line, col), format!("{from} includes {name} here"));
        }
        d
    }
}

impl Tangler<'_> {
    /// The blocks reference `id` expands to (an index in `groups`), or `None`.
    pub(super) fn resolve(&mut self, id: &str) -> Result<Option<usize>, Diagnostic> {
        if let Some(&r) = self.resolutions.get(id) {
            return Ok(r);
        }
        if self.name_index.is_none() {
            let mut names: HashMap<String, usize> = HashMap::new();
            let mut refs: HashMap<String, Vec<usize>> = HashMap::new();
            for b in 0..self.doc.blocks.len() {
                if !self.babel_visible(b) {
                    continue;
                }
                for n in &self.doc.blocks[b].names {
                    names.entry(n.to_lowercase()).or_insert(b);
                }
                if self.doc.blocks[b].commented {
                    continue;
                }
                if let Val::Str(r) = self.light_val(b, ":noweb-ref") {
                    refs.entry(r).or_default().push(b);
                }
            }
            self.name_index = Some(NameIndex { names, refs });
        }
        let index = self.name_index.as_ref().expect("just built");
        // The first block whose name matches, case-insensitively (`case-fold-search`); the
        // lower-case index is exact for the names Org documents use.
        let named = index
            .names
            .get(&id.to_lowercase())
            .copied()
            .filter(|&b| self.doc.blocks[b].names.iter().any(|n| eq_fold(n, id)));
        let blocks = match named {
            Some(b) if !self.doc.blocks[b].commented => vec![b],
            _ => match index.refs.get(id) {
                Some(v) => v.clone(),
                None => {
                    self.resolutions.insert(id.to_string(), None);
                    return Ok(None);
                }
            },
        };
        let mut seps = Vec::with_capacity(blocks.len() - 1);
        for &cb in &blocks[..blocks.len() - 1] {
            seps.push(match self.light_val(cb, ":noweb-sep") {
                Val::Nil => "\n".to_string(),
                Val::Str(s) => s,
                _ => {
                    let l = self.doc.blocks[cb].line;
                    return Err(self.diag(l, 1, "`:noweb-sep` must be a string"));
                }
            });
        }
        self.groups.push(Group { blocks, seps });
        let g = self.groups.len() - 1;
        self.resolutions.insert(id.to_string(), Some(g));
        Ok(Some(g))
    }

    /// Expands the body of tangled block `root` (noweb references expanded when `expand`);
    /// `bodies` are the normalized bodies of all blocks.
    pub(super) fn expand_root(
        &mut self,
        root: usize,
        expand: bool,
        bodies: &[Body],
    ) -> Result<MappedText, Diagnostic> {
        let mut org = Org {
            t: self,
            bodies,
            root_expands: expand,
        };
        tangle_core::expand::expand(&mut org, root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_strings;

    #[test]
    fn org_9_5_reference_quirk() {
        assert_eq!(find_ref("P<<a>>S <<b>>T", 0).map(|m| m.id), Some((3, 11)));
        assert_eq!(find_ref("<<a>>", 0).map(|m| m.id), Some((2, 3)));
        assert_eq!(find_ref("x << 2 >> 3", 0).map(|m| m.id), None);
    }

    fn naive_find_ref(line: &str, start: usize) -> Option<RefMatch> {
        let b = line.as_bytes();
        let nonws = |c: u8| !matches!(c, b' ' | b'\t' | b'\n');
        let mut lt = start;
        while lt + 1 < b.len() {
            if b[lt] == b'<' && b[lt + 1] == b'<' && lt + 2 < b.len() && nonws(b[lt + 2]) {
                let a = lt + 2;
                let c0_len = line[a..].chars().next().map_or(1, char::len_utf8);
                let after = a + c0_len;
                // The optional group is greedy: try the shortest non-empty group first.
                let mut q = after + 1;
                while q + 1 < b.len() {
                    if b[q] == b'>'
                        && b[q + 1] == b'>'
                        && nonws(b[q - 1])
                        && line.is_char_boundary(q)
                    {
                        return Some(RefMatch {
                            mb: start,
                            lt,
                            id: (a, q),
                            me: q + 2,
                        });
                    }
                    q += 1;
                }
                if b.len() >= after + 2 && b[after] == b'>' && b[after + 1] == b'>' {
                    return Some(RefMatch {
                        mb: start,
                        lt,
                        id: (a, after),
                        me: after + 2,
                    });
                }
            }
            lt += 1;
        }
        None
    }

    #[test]
    fn find_ref_agrees_with_its_definition() {
        let alphabet = ["<", ">", "<<", ">>", " ", "\t", "a", "é"];
        for s in random_strings(&alphabet, 50_000, 14) {
            let mut from = 0;
            loop {
                let fast = find_ref(&s, from).map(|m| (m.mb, m.lt, m.id, m.me));
                let slow = naive_find_ref(&s, from).map(|m| (m.mb, m.lt, m.id, m.me));
                assert_eq!(fast, slow, "{s:?} from {from}");
                match fast {
                    Some((.., me)) => from = me,
                    None => break,
                }
            }
        }
    }
}
