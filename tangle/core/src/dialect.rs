//! What the shared expander ([`crate::expand::expand`]) asks of a reader: where the blocks'
//! lines are, how a reference is written and resolved, and the few rules in which
//! org-babel (Org 9.5.5, reproduced byte for byte) and our Markdown books differ.
//!
//! The machinery — the explicit stack, the repeated prefixes, the line map, the bounded
//! cycle errors — is one; a dialect only answers questions.

use crate::diag::Diagnostic;
use crate::output::{Origin, SourceMap};

/// A reference found on a line (byte offsets): `<<` at `open`, the name at `name`, the
/// reference ending at `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub open: usize,
    pub name: (usize, usize),
    pub end: usize,
}

/// Where a reference stands: block, body line and the characters before it on that line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CalledAt<U> {
    pub unit: U,
    pub line: usize,
    pub chars: usize,
}

/// One step of a reference cycle: the expansion `key` (a fragment, an org block) and where
/// the reference that opened it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleStep<U> {
    pub key: usize,
    pub called_at: CalledAt<U>,
}

/// What separates two parts of a reference's expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Separator {
    /// The next part starts on a new line (Markdown's `name+=` continuations).
    NewLine,
    /// This text, the next part continuing its last line (org's `:noweb-sep`, default `"\n"`).
    Text(String),
}

/// Which text before a reference is repeated before every line of its expansion (after the
/// prefixes of the references it is nested in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixRule {
    /// Everything on the output line before the reference (Markdown).
    Line,
    /// The text of the calling line since the previous reference on it, or its start:
    /// Org 9.5.5's `\(.*?\)` group before `<<`.
    SinceLastReference,
}

/// The rules in which the dialects differ, beside the questions of [`Dialect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub prefix: PrefixRule,
    /// Whether a blank line of an expansion drops the trailing blanks of its prefix (our
    /// Markdown) or keeps the prefix whole (Org, which trims later, per block).
    pub trim_blank_lines: bool,
    /// Whether a carriage return in separator text breaks the line like a newline (Org splits
    /// an expansion at `[\n\r]` to interpose the prefix).
    pub cr_breaks: bool,
    /// Whether the expansion's last line ends with a newline (Markdown: every line of a file
    /// does) or is left open (Org: a body is its lines joined by newlines).
    pub terminate: bool,
}

/// A reader's answers to the expander. `'s` is the lifetime of the blocks' text.
pub trait Dialect<'s> {
    /// A block whose lines are expanded.
    type Unit: Copy + Eq;
    /// What a reference resolves to: the parts of one expansion.
    type Target: Copy + Eq;

    fn rules(&self) -> Rules;
    /// Part `k` of the expansion of `target`.
    fn part(&self, target: Self::Target, k: usize) -> Option<Self::Unit>;
    fn line_count(&self, unit: Self::Unit) -> usize;
    /// Body line `i` as it is expanded.
    fn line(&self, unit: Self::Unit, i: usize) -> &'s str;
    /// Document column minus column in line `i` (characters).
    fn line_shift(&self, unit: Self::Unit, i: usize) -> i32;
    /// The first reference in `line` (body line `i` of `unit`) at or after byte `from`.
    fn find_reference(
        &self,
        unit: Self::Unit,
        i: usize,
        line: &'s str,
        from: usize,
    ) -> Option<Found>;
    /// How many lines of `unit` from line `from` on hold no reference that
    /// [`Dialect::find_reference`] would find (a dialect may answer fewer, down to 0).
    fn plain_lines(&self, _unit: Self::Unit, _from: usize) -> usize {
        0
    }
    /// What reference `name` at `at` expands to; `Ok(None)`: to nothing.
    fn resolve(
        &mut self,
        name: &'s str,
        at: CalledAt<Self::Unit>,
    ) -> Result<Option<Self::Target>, Diagnostic>;
    /// What separates part `k` of `target` from part `k + 1`; by default a new line.
    fn separator(&mut self, _target: Self::Target, _k: usize) -> Result<Separator, Diagnostic> {
        Ok(Separator::NewLine)
    }
    /// Whether references in `unit`, reached as part of `target` (`None`: the root), are
    /// expanded; by default they are.
    fn expands(&mut self, _target: Option<Self::Target>, _unit: Self::Unit) -> bool {
        true
    }
    /// Expansions of the same key must not nest (a cycle); `None`: not checked.
    fn key(&self, target: Option<Self::Target>, unit: Self::Unit) -> Option<usize>;
    /// Keys are below this.
    fn key_count(&self) -> usize;
    /// The origin of body line `i` of `unit`, with the map's tables filled as needed.
    fn origin(
        &mut self,
        map: &mut SourceMap,
        target: Option<Self::Target>,
        unit: Self::Unit,
        i: usize,
        col_shift: i32,
    ) -> Origin;
    /// Records, when the expansion keeps no line origins, that a line of `unit` is in the
    /// output: the map's tables filled as [`Dialect::origin`] would fill them for what the
    /// reader reads from an expansion without lines (Markdown: its documents, for the
    /// header). By default, nothing.
    fn note_unit(&mut self, _map: &mut SourceMap, _unit: Self::Unit) {}
    /// The error for a cycle: the steps from the first expansion of `again.key` on, then the
    /// reference that would open it again. [`shown_steps`] bounds what a long one shows.
    fn cycle(&self, steps: &[CycleStep<Self::Unit>], again: CycleStep<Self::Unit>) -> Diagnostic;
}

/// How many steps of a long cycle an error shows at its start and at its end.
pub const CYCLE_SHOWN: usize = 4;

/// Which steps of a cycle of `len` steps an error shows: all of a short one, the first and
/// last [`CYCLE_SHOWN`] of a long one; and how many are left out (0 for a short one).
pub fn shown_steps(len: usize) -> (impl Fn(usize) -> bool, usize) {
    let long = len > 2 * CYCLE_SHOWN + 1;
    let shown = move |k: usize| !long || k < CYCLE_SHOWN || k >= len - CYCLE_SHOWN;
    (shown, if long { len - 2 * CYCLE_SHOWN } else { 0 })
}

/// The error for a cycle of named fragments (the Markdown and Entangled dialects): the chain
/// of names, bounded by [`shown_steps`], at the reference that would open the first again,
/// with a note at each reference of the chain.
pub fn fragment_cycle<U: Copy>(
    steps: &[CycleStep<U>],
    again: CycleStep<U>,
    name: impl Fn(usize) -> String,
    pos: impl Fn(CalledAt<U>) -> crate::diag::Pos,
) -> Diagnostic {
    let (shown, omitted) = shown_steps(steps.len());
    let mut chain = String::new();
    for (k, s) in steps.iter().enumerate() {
        if shown(k) {
            chain.push_str(&format!("«{}» → ", name(s.key)));
        } else if k == CYCLE_SHOWN {
            chain.push_str(&format!("… {omitted} more … → "));
        }
    }
    chain.push_str(&format!("«{}»", name(again.key)));
    let message = if omitted > 0 {
        format!("reference cycle of {} fragments: {chain}", steps.len())
    } else {
        format!("reference cycle: {chain}")
    };
    let mut d = Diagnostic::error(pos(again.called_at), message);
    for (_, s) in steps.iter().enumerate().filter(|(k, _)| shown(*k)) {
        d = d.with_note(
            pos(s.called_at),
            format!("«{}» is referenced here", name(s.key)),
        );
    }
    d
}
