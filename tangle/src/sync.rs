//! `tangle sync`: carries edits made to the tangled outputs back into the documents.
//!
//! The outputs carry no markers: every line's origin comes from the line map the tangle builds.
//! Sync compares each output on disk with what the documents tangle to now, line by line, and
//! turns each difference into an edit of a document line:
//!
//! - a **changed line** becomes an edit of the place its changed characters came from: the
//!   fragment's line for its code, the reference's line for the text a reference put before
//!   or after the fragment (the repeated prefix, the rest of the line);
//! - an **inserted line** joins the fragment of the output line above it (at the top of a file,
//!   the line below), written with that line's indentation taken off, as the fragment's own
//!   lines are; so a line added at the boundary between two fragments goes to the first,
//!   unless it is indented less than the first's lines and fits the second;
//! - a **deleted line** deletes the document line it came from.
//!
//! Which new line is which old one comes from the diff's equal lines; between them, lines of
//! the same indentation whose texts start alike (`g(1);` and the `g(` it was split into) are
//! paired first. Where like lines make that a guess, the few ways of pairing are tried in turn
//! and the first whose documents tangle back to the edit wins.
//!
//! Refused, with nothing written: an edit to the generated header; an output that is not UTF-8;
//! an output whose documents changed since it was tangled while it was edited too (the
//! manifest records what each output held when it was written); copies of a fragment used in
//! several places edited differently; any edit after which the documents would not tangle to
//! exactly the edited outputs. That last check is the guarantee: after `tangle sync`, tangling
//! reproduces the edited outputs byte for byte, or sync wrote nothing.

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::output::Tangled;
use crate::output::{Origin, Output};
use crate::paths::normalize;
use crate::project::Project;
use crate::write::{content_hash, Records};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The error when the edited documents would not tangle: about the edit as a whole (no one
/// place), with each of the documents' errors as a note at its place.
fn broken(errors: Diagnostics) -> Diagnostics {
    let mut d = Diagnostic::unplaced(
        "the edits, carried into the documents, would leave them broken; nothing was written",
    );
    let mut unplaced = Vec::new();
    for e in errors.0 {
        match e.pos {
            Some(pos) => d = d.with_note(pos, e.message),
            None => unplaced.push(e),
        }
    }
    Diagnostics(std::iter::once(d).chain(unplaced).collect())
}

/// The documents' new texts and what they tangle to (equal to the edited outputs).
#[derive(Debug, Clone)]
pub struct Plan {
    /// New texts of the documents that change, relative to the project root.
    pub texts: BTreeMap<PathBuf, String>,
    /// The tangle of the new texts.
    pub tangled: Tangled,
    /// The outputs whose edits were carried back.
    pub carried: Vec<PathBuf>,
}

/// A change to one line of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    /// Characters `from..to` of the line become `text`.
    Replace {
        from: usize,
        to: usize,
        text: String,
    },
    /// The line goes.
    Delete,
}

/// Lines to add beside a document line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Anchor {
    doc: PathBuf,
    /// 1-based line of the document.
    line: usize,
    /// After the line (else before it).
    after: bool,
}

/// Everything the differences ask of the documents, with the output places that asked.
#[derive(Default)]
struct Edits {
    lines: BTreeMap<(PathBuf, usize), Vec<(Change, Pos)>>,
    inserts: BTreeMap<Anchor, Vec<(Vec<String>, Pos)>>,
}

/// The documents' lines, read once: text without line ending, and the ending.
struct Documents<'p> {
    project: &'p Project,
    texts: BTreeMap<PathBuf, Vec<(String, String)>>,
}

impl Documents<'_> {
    fn lines(&mut self, doc: &Path) -> Result<&Vec<(String, String)>, Diagnostic> {
        if !self.texts.contains_key(doc) {
            let text = crate::source::read(&self.project.root.join(doc)).map_err(|mut d| {
                d.set_path(doc);
                d
            })?;
            let lines = text
                .split_inclusive('\n')
                .map(|l| {
                    let body = l.trim_end_matches('\n').trim_end_matches('\r');
                    (body.to_string(), l[body.len()..].to_string())
                })
                .collect();
            self.texts.insert(doc.to_path_buf(), lines);
        }
        Ok(&self.texts[doc])
    }

    fn line(&mut self, doc: &Path, line: usize) -> Result<String, Diagnostic> {
        let lines = self.lines(doc)?;
        lines
            .get(line.wrapping_sub(1))
            .map(|(l, _)| l.clone())
            .ok_or_else(|| Diagnostic::error(Pos::new(doc, line, 1), "this line no longer exists"))
    }
}

/// The pieces of output line `i` (0-based): where each starts (0-based character) and where
/// it comes from. `None` for a generated line.
fn pieces(o: &Output, i: usize) -> Option<Vec<(usize, Origin)>> {
    let main = o.map.lines.get(i)?.clone()?;
    let first = o.map.segments.partition_point(|s| (s.line as usize) < i);
    let segs: Vec<(usize, Origin)> = o.map.segments[first..]
        .iter()
        .take_while(|s| s.line as usize == i)
        .map(|s| (s.col as usize - 1, s.origin.clone()))
        .collect();
    Some(if segs.is_empty() {
        vec![(0, main)]
    } else {
        segs
    })
}

/// The piece holding the line's own content: the one its main origin names.
fn content_piece(o: &Output, i: usize) -> Option<(usize, Origin)> {
    let main = o.map.lines.get(i)?.clone()?;
    let pieces = pieces(o, i)?;
    pieces
        .iter()
        .rev()
        .find(|(_, p)| p.file == main.file && p.line == main.line)
        .cloned()
        .or_else(|| pieces.last().cloned())
}

fn char_slice(s: &str, from: usize, to: usize) -> String {
    s.chars().skip(from).take(to.saturating_sub(from)).collect()
}

/// Plans the edits that carry `edited` (new contents of outputs, by output path) back into the
/// documents of `project`, whose current tangle is `fresh`. Nothing is written.
pub fn plan(
    project: &Project,
    fresh: &Tangled,
    edited: &BTreeMap<PathBuf, String>,
) -> Result<Plan, Diagnostics> {
    // Each edit as the dialect reads it (Entangled's blank lines keep their indentation).
    let normalized: BTreeMap<PathBuf, String> = edited
        .iter()
        .map(|(path, new)| {
            let old = fresh.outputs.iter().find(|o| normalize(&o.path) == *path);
            let new = match old {
                Some(o) => project.normalise_edit(&String::from_utf8_lossy(&o.content), new),
                None => new.clone(),
            };
            (path.clone(), new)
        })
        .collect();
    let edited = &normalized;
    if let Some(texts) = project.plan_by_markers(edited) {
        // The files say which block each line belongs to: read their markers.
        return carried(project, fresh, edited, texts?);
    }
    // Without markers, which old line a new one is (after a split or a join among like
    // lines) is a guess: the alignments are tried in turn, and the first whose documents
    // tangle to the edited bytes is the plan. Refused when none does, with the first's reasons.
    let mut first_error = None;
    for alignment in Alignment::ALL {
        let attempt = by_line_maps(project, fresh, edited, alignment)
            .and_then(|texts| carried(project, fresh, edited, texts));
        match attempt {
            Ok(plan) => return Ok(plan),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Err(first_error.expect("at least one alignment"))
}

/// The plan for `texts`, once they are checked to tangle to exactly the edited outputs.
fn carried(
    project: &Project,
    fresh: &Tangled,
    edited: &BTreeMap<PathBuf, String>,
    texts: BTreeMap<PathBuf, String>,
) -> Result<Plan, Diagnostics> {
    let tangled = project.tangle_with(&texts).map_err(broken)?;
    verify(fresh, &tangled, edited)?;
    Ok(Plan {
        texts,
        tangled,
        carried: edited.keys().cloned().collect(),
    })
}

/// How the lines of a run that differs are paired (see [`by_indentation`]).
#[derive(Debug, Clone, Copy)]
struct Alignment {
    /// Runs a line or two apart are aligned as one.
    merge: bool,
    /// Where two pairings are as good, a new line is passed over first (else an old one).
    new_first: bool,
}

impl Alignment {
    const ALL: [Alignment; 4] = [
        Alignment {
            merge: true,
            new_first: false,
        },
        Alignment {
            merge: true,
            new_first: true,
        },
        Alignment {
            merge: false,
            new_first: false,
        },
        Alignment {
            merge: false,
            new_first: true,
        },
    ];
}

/// The documents' new texts, each edited line carried to where the line maps say it came from.
fn by_line_maps(
    project: &Project,
    fresh: &Tangled,
    edited: &BTreeMap<PathBuf, String>,
    alignment: Alignment,
) -> Result<BTreeMap<PathBuf, String>, Diagnostics> {
    let mut docs = Documents {
        project,
        texts: BTreeMap::new(),
    };
    let mut edits = Edits::default();
    let mut errors = Vec::new();
    for o in &fresh.outputs {
        let Some(new) = edited.get(&normalize(&o.path)) else {
            continue;
        };
        let old = String::from_utf8_lossy(&o.content);
        if let Err(mut e) = diff_output(o, &old, new, alignment, &mut docs, &mut edits) {
            errors.append(&mut e);
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    apply(&mut docs, &edits)
}

/// Turns the differences between `old` (tangled) and `new` (edited) into edits.
fn diff_output(
    o: &Output,
    old: &str,
    new: &str,
    alignment: Alignment,
    docs: &mut Documents<'_>,
    edits: &mut Edits,
) -> Result<(), Vec<Diagnostic>> {
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let mut errors = Vec::new();
    let strip = |l: &str| l.trim_end_matches('\n').to_string();
    let runs = differing_runs(&old_lines, &new_lines, alignment)
        .into_iter()
        .flat_map(|run| by_indentation(&old_lines, &new_lines, run, alignment));
    for (old_index, old_len, new_index, new_len) in runs {
        let paired = old_len.min(new_len);
        for k in 0..paired {
            let (i, j) = (old_index + k, new_index + k);
            if old_lines[i] == new_lines[j] {
                // A line kept as it was, inside a run made of two gaps.
                continue;
            }
            if let Err(e) = changed(
                o,
                i,
                j,
                &strip(old_lines[i]),
                &strip(new_lines[j]),
                docs,
                edits,
            ) {
                errors.push(e);
            }
        }
        for i in old_index + paired..old_index + old_len {
            if let Err(e) = deleted(o, i, edits) {
                errors.push(e);
            }
        }
        if new_len > paired {
            let added: Vec<String> = new_lines[new_index + paired..new_index + new_len]
                .iter()
                .map(|l| strip(l))
                .collect();
            let place = Pos::new(&o.path, new_index + paired + 1, 1);
            if let Err(e) = inserted(o, old_index + paired, &added, place, docs, edits) {
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The runs of lines that differ between `old` and `new`, in order, each as (its first old
/// line, how many old lines, its first new line, how many new lines), found from the equal
/// runs of the diff alone, as the gaps between them.
///
/// The diff's own deletions and insertions are not read: after its clean-up, `similar` (2.7)
/// may report an insertion with an old index one line short of where it stands (before a
/// line it has just matched as equal). Read as it was, a call split into `g(` / `1,` / `);`
/// right before a line that is also `g(` had its new lines put above that line, in the
/// fragment of the line deleted before it, and the edit was refused as one that cannot be
/// carried back. The equal runs are right, and the gaps between them say the rest.
fn differing_runs(
    old: &[&str],
    new: &[&str],
    alignment: Alignment,
) -> Vec<(usize, usize, usize, usize)> {
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, old, new);
    let mut equal: Vec<(usize, usize, usize)> = ops
        .iter()
        .filter_map(|op| match *op {
            similar::DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => Some((old_index, new_index, len)),
            _ => None,
        })
        .collect();
    equal.sort_unstable();
    let mut runs: Vec<(usize, usize, usize, usize)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    for (old_index, new_index, len) in equal.into_iter().chain([(old.len(), new.len(), 0)]) {
        if old_index < i || new_index < j {
            // Out of step with the runs before it: its lines join the next gap.
            continue;
        }
        if old_index > i || new_index > j {
            match runs.last_mut() {
                // Two gaps a line or two apart are one: which of several like lines
                // (`g(`, `);`) the diff called equal is a guess that `by_indentation` makes
                // better, with the lines of both gaps before it.
                Some(last)
                    if alignment.merge
                        && i - (last.0 + last.1) <= 2
                        && (old_index - last.0).saturating_mul(new_index - last.2) <= 1 << 16 =>
                {
                    *last = (last.0, old_index - last.0, last.2, new_index - last.2);
                }
                _ => runs.push((i, old_index - i, j, new_index - j)),
            }
        }
        (i, j) = (old_index + len, new_index + len);
    }
    runs
}

/// A run of differing lines cut finer: the best in-order pairing of its old and new lines of
/// the same indentation (each pair worth one, and one more per character their text shares at
/// its start; the earliest where there is a choice), each pair a changed line, and between the
/// pairs the runs left, which `diff_output` pairs by position.
///
/// Pairing by position alone would make a joined call (`g(` / `18,` / `);` into `g(18);`)
/// followed by another, at another indentation, into a change of a line of one fragment into a
/// line of another, which cannot be carried back. A line keeps its indentation through a
/// split or a join, and lines that came from one place share it; the shared start tells the
/// `g(` a call was split from the argument line after it, at the same indentation.
fn by_indentation(
    old: &[&str],
    new: &[&str],
    (oi, ol, ni, nl): (usize, usize, usize, usize),
    alignment: Alignment,
) -> Vec<(usize, usize, usize, usize)> {
    let indent = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
    let (a, b) = (&old[oi..oi + ol], &new[ni..ni + nl]);
    // Too large to compare all with all: by position, as before.
    if ol <= 1 && nl <= 1 || ol.saturating_mul(nl) > 1 << 18 {
        return vec![(oi, ol, ni, nl)];
    }
    // What pairing old line i with new line j is worth: nothing unless they are indented alike.
    let worth = |i: usize, j: usize| -> Option<u32> {
        let (x, y) = (
            a[i].trim_start_matches([' ', '\t']),
            b[j].trim_start_matches([' ', '\t']),
        );
        let related = x.starts_with(y.trim_end()) || y.starts_with(x.trim_end());
        (indent(a[i]) == indent(b[j]) && related).then_some(1)
    };
    // best[i][j]: the best pairing of a[i..] with b[j..].
    let mut best = vec![vec![0u32; nl + 1]; ol + 1];
    for i in (0..ol).rev() {
        for j in (0..nl).rev() {
            let skip = best[i + 1][j].max(best[i][j + 1]);
            best[i][j] = worth(i, j).map_or(skip, |w| skip.max(w + best[i + 1][j + 1]));
        }
    }
    let mut runs = Vec::new();
    let (mut i, mut j, mut from) = (0, 0, (0, 0));
    while i < ol && j < nl {
        if worth(i, j).is_some_and(|w| w + best[i + 1][j + 1] == best[i][j]) {
            if from != (i, j) {
                runs.push((oi + from.0, i - from.0, ni + from.1, j - from.1));
            }
            runs.push((oi + i, 1, ni + j, 1));
            (i, j) = (i + 1, j + 1);
            from = (i, j);
        } else if alignment.new_first && best[i][j + 1] >= best[i + 1][j]
            || !alignment.new_first && best[i + 1][j] < best[i][j + 1]
        {
            j += 1;
        } else {
            i += 1;
        }
    }
    if from != (ol, nl) {
        runs.push((oi + from.0, ol - from.0, ni + from.1, nl - from.1));
    }
    runs
}

fn header_error(o: &Output, line: usize) -> Diagnostic {
    Diagnostic::error(
        Pos::new(&o.path, line, 1),
        "this line is generated by the tangler (the header): an edit to it cannot be carried back",
    )
}

/// Old line `i` became new line `j`: the changed characters go to the piece they lie in.
fn changed(
    o: &Output,
    i: usize,
    j: usize,
    old: &str,
    new: &str,
    docs: &mut Documents<'_>,
    edits: &mut Edits,
) -> Result<(), Diagnostic> {
    let place = Pos::new(&o.path, j + 1, 1);
    let pieces = pieces(o, i).ok_or_else(|| header_error(o, i + 1))?;
    let (a, b): (Vec<char>, Vec<char>) = (old.chars().collect(), new.chars().collect());
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let room = a.len().min(b.len()) - prefix;
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    let (from, to) = (prefix, a.len() - suffix);
    let text: String = b[prefix..b.len() - suffix].iter().collect();
    // The piece the change starts in; at a boundary, the piece that starts there.
    let k = pieces
        .iter()
        .rposition(|(start, _)| *start <= from)
        .unwrap_or(0);
    let end = pieces.get(k + 1).map_or(a.len(), |(start, _)| *start);
    if to > end {
        let d = Diagnostic::error(
            Pos::new(&o.path, j + 1, from + 1),
            "this edit spans text that comes from several places in the documents (a \
             reference and the text around it); edit each part on its own",
        );
        return Err(d);
    }
    let origin = &pieces[k].1;
    let doc = o.map.files[origin.file as usize].clone();
    let shift = origin.col_shift as i64;
    let source = docs.line(&doc, origin.line as usize)?;
    let (sfrom, sto) = (from as i64 - shift, to as i64 - shift);
    if sfrom < 0 || sto as usize > source.chars().count() {
        return Err(Diagnostic::error(
            Pos::new(&o.path, j + 1, from + 1),
            "this edit falls outside the document line it maps to",
        ));
    }
    edits
        .lines
        .entry((doc, origin.line as usize))
        .or_default()
        .push((
            Change::Replace {
                from: sfrom as usize,
                to: sto as usize,
                text,
            },
            place,
        ));
    Ok(())
}

/// Old line `i` is gone: so is the document line its content came from.
fn deleted(o: &Output, i: usize, edits: &mut Edits) -> Result<(), Diagnostic> {
    let (_, origin) = content_piece(o, i).ok_or_else(|| header_error(o, i + 1))?;
    let doc = o.map.files[origin.file as usize].clone();
    edits
        .lines
        .entry((doc, origin.line as usize))
        .or_default()
        .push((Change::Delete, Pos::new(&o.path, i + 1, 1)));
    Ok(())
}

/// New lines stand before old line `i`: they join the fragment of the line above (old line
/// `i - 1`), or, at the top, of the line below. Lines indented less than the fragment above
/// (its lines start with more) and the lines after them join the fragment of the line below
/// instead, when they fit there: so `g(4);` that ends a run of lines added after a fragment
/// used deeper goes to the fragment of the line after it, at its own indentation.
fn inserted(
    o: &Output,
    i: usize,
    added: &[String],
    place: Pos,
    docs: &mut Documents<'_>,
    edits: &mut Edits,
) -> Result<(), Diagnostic> {
    let above = match i.checked_sub(1) {
        Some(a) => content_piece(o, a).map(|p| Beside::new(o, a, p, true, docs)),
        None => None,
    }
    .transpose()?;
    let below = (i..o.map.lines.len())
        .find_map(|b| content_piece(o, b).map(|p| (b, p)))
        .map(|(b, p)| Beside::new(o, b, p, false, docs))
        .transpose()?;
    let (above, below) = match (above, below) {
        (Some(above), below) => (above, below),
        (None, Some(below)) => (below, None),
        (None, None) => return Err(header_error(o, i + 1)),
    };
    let fit = added.iter().take_while(|l| above.fits(l)).count();
    let (here, rest) = match below {
        Some(below) if fit < added.len() && added[fit..].iter().all(|l| below.fits(l)) => (
            vec![(above, &added[..fit], 0)],
            Some((below, &added[fit..], fit)),
        ),
        _ => (vec![(above, added, 0)], None),
    };
    for (beside, lines, skip) in here.into_iter().chain(rest) {
        if lines.is_empty() {
            continue;
        }
        let at = Pos::new(&place.path, place.line + skip, 1);
        let lines = beside.lines(lines, &at)?;
        edits
            .inserts
            .entry(beside.anchor)
            .or_default()
            .push((lines, at));
    }
    Ok(())
}

/// A document line new lines may be written beside: where, and how its fragment's lines are
/// indented in the output (`out_prefix`) and in the document (`doc_prefix`).
struct Beside {
    anchor: Anchor,
    out_prefix: String,
    doc_prefix: String,
}

impl Beside {
    /// Beside old output line `line`, whose content piece starts at `start` from `origin`.
    fn new(
        o: &Output,
        line: usize,
        (start, origin): (usize, Origin),
        after: bool,
        docs: &mut Documents<'_>,
    ) -> Result<Beside, Diagnostic> {
        let old = String::from_utf8_lossy(&o.content);
        let text = old.split('\n').nth(line).unwrap_or("");
        let out_prefix: String = text.chars().take(start).collect();
        let doc = o.map.files[origin.file as usize].clone();
        let source = docs.line(&doc, origin.line as usize)?;
        let kept = (start as i64 - origin.col_shift as i64).max(0) as usize;
        let doc_prefix = char_slice(&source, 0, kept);
        let anchor = Anchor {
            doc,
            line: origin.line as usize,
            after,
        };
        Ok(Beside {
            anchor,
            out_prefix,
            doc_prefix,
        })
    }

    /// Whether `line` can join this fragment: blank, or indented as much as its lines.
    fn fits(&self, line: &str) -> bool {
        line.trim().is_empty() || line.starts_with(&self.out_prefix)
    }

    /// The document's lines for `added` (the first of which stands at `at` in the output).
    fn lines(&self, added: &[String], at: &Pos) -> Result<Vec<String>, Diagnostic> {
        let mut lines = Vec::with_capacity(added.len());
        for (n, line) in added.iter().enumerate() {
            if line.trim().is_empty() {
                lines.push(String::new());
            } else if let Some(rest) = line.strip_prefix(&self.out_prefix) {
                lines.push(format!("{}{rest}", self.doc_prefix));
            } else {
                return Err(Diagnostic::error(
                    Pos::new(&at.path, at.line + n, 1),
                    format!(
                        "this new line is indented less than the fragment it joins (its lines \
                         start with {:?}); indent it, or add it in the document",
                        self.out_prefix
                    ),
                ));
            }
        }
        Ok(lines)
    }
}

/// One edit per place: copies asking the same are one edit, copies asking differently are a
/// conflict.
fn one<T: PartialEq + Clone>(asks: &[(T, Pos)], doc: &Path, line: usize) -> Result<T, Diagnostic> {
    let first = &asks[0].0;
    if asks.iter().all(|(t, _)| t == first) {
        return Ok(first.clone());
    }
    let mut d = Diagnostic::error(
        Pos::new(doc, line, 1),
        "this line is expanded in several places, and their copies were edited differently",
    );
    for (_, at) in asks {
        d = d.with_note(at.clone(), "a copy edited here");
    }
    Err(d)
}

/// The documents' new texts: every planned edit applied.
fn apply(
    docs: &mut Documents<'_>,
    edits: &Edits,
) -> Result<BTreeMap<PathBuf, String>, Diagnostics> {
    let mut errors = Vec::new();
    let mut changes: BTreeMap<PathBuf, BTreeMap<usize, Change>> = BTreeMap::new();
    for ((doc, line), asks) in &edits.lines {
        match one(asks, doc, *line) {
            Ok(c) => {
                changes.entry(doc.clone()).or_default().insert(*line, c);
            }
            Err(d) => errors.push(d),
        }
    }
    let mut inserts: BTreeMap<PathBuf, BTreeMap<(usize, bool), Vec<String>>> = BTreeMap::new();
    for (anchor, asks) in &edits.inserts {
        match one(asks, &anchor.doc, anchor.line) {
            Ok(lines) => {
                inserts
                    .entry(anchor.doc.clone())
                    .or_default()
                    .insert((anchor.line, anchor.after), lines);
            }
            Err(d) => errors.push(d),
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let mut texts = BTreeMap::new();
    let touched: std::collections::BTreeSet<&PathBuf> =
        changes.keys().chain(inserts.keys()).collect();
    for doc in touched {
        let lines = docs.lines(doc).map_err(Diagnostics::from)?;
        let none_c = BTreeMap::new();
        let none_i = BTreeMap::new();
        let line_changes = changes.get(doc).unwrap_or(&none_c);
        let line_inserts = inserts.get(doc).unwrap_or(&none_i);
        let mut out = String::new();
        for (k, (text, ending)) in lines.iter().enumerate() {
            let n = k + 1;
            let eol = if ending.is_empty() {
                "\n"
            } else {
                ending.as_str()
            };
            if let Some(before) = line_inserts.get(&(n, false)) {
                for l in before {
                    out.push_str(l);
                    out.push_str(eol);
                }
            }
            match line_changes.get(&n) {
                Some(Change::Delete) => {}
                Some(Change::Replace {
                    from,
                    to,
                    text: new,
                }) => {
                    let total = text.chars().count();
                    out.push_str(&char_slice(text, 0, *from));
                    out.push_str(new);
                    out.push_str(&char_slice(text, *to, total));
                    out.push_str(ending);
                }
                None => {
                    out.push_str(text);
                    out.push_str(ending);
                }
            }
            if let Some(after) = line_inserts.get(&(n, true)) {
                if ending.is_empty() && !after.is_empty() {
                    out.push_str(eol);
                }
                for (m, l) in after.iter().enumerate() {
                    out.push_str(l);
                    if m + 1 < after.len() || !ending.is_empty() {
                        out.push_str(eol);
                    }
                }
            }
        }
        texts.insert(doc.clone(), out);
    }
    Ok(texts)
}

/// The guarantee: the new documents tangle to exactly the edited outputs (and to the same
/// files as before).
fn verify(
    fresh: &Tangled,
    tangled: &Tangled,
    edited: &BTreeMap<PathBuf, String>,
) -> Result<(), Diagnostics> {
    let mut errors = Vec::new();
    for o in &fresh.outputs {
        let path = normalize(&o.path);
        let want: &[u8] = edited.get(&path).map_or(&o.content, |s| s.as_bytes());
        let Some(got) = tangled.outputs.iter().find(|t| normalize(&t.path) == path) else {
            errors.push(Diagnostic::error(
                o.block.clone(),
                format!(
                    "after the edits the documents would no longer write `{}`; nothing was written",
                    path.display()
                ),
            ));
            continue;
        };
        if got.content == want {
            continue;
        }
        let (g, w) = (
            String::from_utf8_lossy(&got.content),
            String::from_utf8_lossy(want),
        );
        let line = g
            .split('\n')
            .zip(w.split('\n'))
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| g.split('\n').count().min(w.split('\n').count()));
        let mut d = Diagnostic::error(
            Pos::new(&path, line + 1, 1),
            format!(
                "the edits cannot be carried back as made: the documents would tangle this line \
                 to {:?} instead of {:?} (a fragment used in several places edited in one, or an \
                 indentation the fragment does not own); nothing was written",
                g.split('\n').nth(line).unwrap_or(""),
                w.split('\n').nth(line).unwrap_or("")
            ),
        );
        if let Ok(at) = got.locate(line + 1, None) {
            d = d.with_note(
                Pos::new(at.path, at.line, at.col),
                format!("that line comes from «{}» here", at.fragment),
            );
        }
        errors.push(d);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Diagnostics(errors))
    }
}

/// What the last tangle wrote, as the project records it (see [`crate::write::Records`]).
pub fn records(project: &Project) -> Records {
    project.records()
}

/// The outputs sync found edited, as text to carry back, and the hash of the bytes each held
/// when it was read (it may be replaced only while it still holds them).
#[derive(Debug, Clone, Default)]
pub struct Edited {
    pub texts: BTreeMap<PathBuf, String>,
    pub read: BTreeMap<PathBuf, u64>,
    /// What was done to the texts on the way (line ends, a byte order mark), for the user.
    pub notes: Vec<String>,
}

/// How an output on disk that differs from what its documents tangle to stands against the
/// record of what the last tangle wrote there (our manifest or, for a file Entangled wrote,
/// its database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Nothing recorded: whose side changed cannot be told.
    Unrecorded,
    /// Only the documents moved on since: the file holds what was written.
    DocumentsMoved,
    /// Both the documents and the file changed since.
    BothChanged,
    /// The documents still tangle to what was written: the file was edited.
    Edited,
}

impl Standing {
    /// `fresh` is what the documents tangle to now, `disk` what the file holds.
    fn of(records: &Records, path: &Path, fresh: &[u8], disk: &[u8]) -> Standing {
        if !records.knows(path) {
            Standing::Unrecorded
        } else if records.wrote(path, fresh) {
            Standing::Edited
        } else if records.wrote(path, disk) {
            Standing::DocumentsMoved
        } else {
            Standing::BothChanged
        }
    }
}

/// What `tangle sync` found on disk: the outputs edited since they were tangled, as text.
pub fn edited_outputs(project: &Project, fresh: &Tangled) -> Result<Edited, Diagnostics> {
    let records = records(project);
    let mut edited = Edited::default();
    let mut errors = Vec::new();
    for o in &fresh.outputs {
        let path = normalize(&o.path);
        let Ok(disk) = std::fs::read(project.root.join(&o.path)) else {
            continue; // a missing output has nothing to carry back; `tangle` writes it again
        };
        if disk == o.content {
            continue;
        }
        let standing = Standing::of(&records, &path, &o.content, &disk);
        match standing {
            Standing::Unrecorded => errors.push(Diagnostic::error(
                o.block.clone(),
                format!(
                    "`{}` differs from its documents, and the manifest does not say what was \
                     tangled into it, so sync cannot tell whose side changed: restore it, or \
                     replace it with `tangle --force` (what it holds now is then lost)",
                    path.display()
                ),
            )),
            Standing::DocumentsMoved => {} // `tangle` updates the output
            Standing::BothChanged => errors.push(Diagnostic::error(
                Pos::new(&path, 1, 1),
                "both this file and its documents changed since it was tangled; sync would \
                 lose one side: merge by hand (copy the file's edits into the documents), or \
                 discard the file's edits with `tangle --force`",
            )),
            Standing::Edited => match String::from_utf8(disk) {
                Ok(text) => {
                    edited
                        .read
                        .insert(path.clone(), content_hash(text.as_bytes()));
                    match conventions(&path, &o.content, text) {
                        Ok((text, notes)) => {
                            edited.notes.extend(notes);
                            edited.texts.insert(path, text);
                        }
                        Err(d) => errors.push(d),
                    }
                }
                Err(e) => {
                    let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
                    let good = String::from_utf8_lossy(good);
                    let line = good.matches('\n').count() + 1;
                    let col = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    errors.push(Diagnostic::error(
                        Pos::new(&path, line, col),
                        "the file is not valid UTF-8: nothing can be carried back from it",
                    ));
                }
            },
        }
    }
    if errors.is_empty() {
        Ok(edited)
    } else {
        Err(Diagnostics(errors))
    }
}

/// The saved text of output `path` (tangled as `tangled`) in the documents' conventions: an
/// editor that saved it with CRLF line ends or a byte order mark changed no line of it, so
/// those are taken off (the documents keep their own line ends; the file is written again as
/// tangled) and the user is told; a last line without its line end is refused, named as such
/// (a fragment's lines all end with one).
fn conventions(
    path: &Path,
    tangled: &[u8],
    text: String,
) -> Result<(String, Vec<String>), Diagnostic> {
    let mut notes = Vec::new();
    let mut text = text;
    if let Some(rest) = text.strip_prefix('\u{feff}') {
        if !tangled.starts_with("\u{feff}".as_bytes()) {
            text = rest.to_string();
            notes.push(format!(
                "{} was saved with a byte order mark (BOM): it is left out (the documents keep \
                 their own start, and the file is written again without it)",
                path.display()
            ));
        }
    }
    if text.contains("\r\n") && !tangled.contains(&b'\r') {
        text = text.replace("\r\n", "\n");
        notes.push(format!(
            "{} was saved with CRLF line ends: its edits are carried back in the documents' own \
             line ends (and the file is written again with LF)",
            path.display()
        ));
    }
    if tangled.ends_with(b"\n") && !text.is_empty() && !text.ends_with('\n') {
        let line = text.matches('\n').count() + 1;
        let col = text.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        return Err(Diagnostic::error(
            Pos::new(path, line, col),
            "the file's last line lost its line end (the final newline), which the documents \
             cannot leave out: add it back (an editor's \"insert final newline\" setting), or \
             discard the edits with `tangle --force`; nothing was written",
        ));
    }
    Ok((text, notes))
}

/// Whether `disk`, the saved text of output `path` whose documents tangle to `tangled`, looks
/// like a save still in progress (an editor that writes a file in several pieces, or empties
/// it first), and why: `watch` does not carry such a file back until the next save. The
/// signs, none of which needs a parser: the file is empty, its last line has no line end where
/// the tangled file's has one (a write cut short mid-line), it has lost more than half its
/// lines or its last quarter, or (Rust) its brackets do not balance as the tangled file's do
/// (a cut through a block leaves it open; an edit seldom changes the balance, and a manual
/// `tangle sync` still carries one that does).
pub fn half_saved(path: &Path, tangled: &[u8], disk: &str) -> Option<&'static str> {
    if disk.is_empty() && !tangled.is_empty() {
        return Some("it is empty");
    }
    if tangled.ends_with(b"\n") && !disk.ends_with('\n') {
        return Some("its last line has no line end");
    }
    let lines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
    if lines(disk.as_bytes()) * 2 < lines(tangled) {
        return Some("it has lost more than half its lines");
    }
    // An editor writes a file from its start: seen half-way, a save lacks its end. An edit
    // seldom takes away the last quarter of a file at once (and `tangle sync` still carries
    // one that does).
    let old = String::from_utf8_lossy(tangled);
    let (a, b): (Vec<&str>, Vec<&str>) = (
        old.split_inclusive('\n').collect(),
        disk.split_inclusive('\n').collect(),
    );
    let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &a, &b);
    if let Some(similar::DiffOp::Delete {
        old_index, old_len, ..
    }) = ops.last()
    {
        if old_index + old_len == a.len() && old_len * 4 >= a.len() {
            return Some("its last lines are gone");
        }
    }
    if path.extension().is_some_and(|e| e == "rs") {
        let balance = |b: &[u8]| {
            let mut depth = [0i64; 3];
            for &c in b {
                match c {
                    b'{' => depth[0] += 1,
                    b'}' => depth[0] -= 1,
                    b'(' => depth[1] += 1,
                    b')' => depth[1] -= 1,
                    b'[' => depth[2] += 1,
                    b']' => depth[2] -= 1,
                    _ => {}
                }
            }
            depth
        };
        if balance(disk.as_bytes()) != balance(tangled) {
            return Some("its brackets do not balance as the tangled file's do");
        }
    }
    None
}

/// Which lines of a document a sync changed: the lines of its new text that are new or
/// different (as ranges, 1-based), and how many of its old lines went without a replacement.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangedLines {
    /// Ranges of lines of the new text, first and last line included.
    pub written: Vec<(usize, usize)>,
    /// Old lines removed with nothing in their place.
    pub removed: usize,
}

impl ChangedLines {
    /// Compares the text a document had with the text a sync gives it.
    pub fn between(old: &str, new: &str) -> ChangedLines {
        let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
        let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
        let ops = similar::capture_diff_slices(similar::Algorithm::Myers, &old_lines, &new_lines);
        let mut changed = ChangedLines::default();
        for op in ops {
            let (_, old_range, new_range) = op.as_tag_tuple();
            if op.tag() == similar::DiffTag::Equal {
                continue;
            }
            if new_range.is_empty() {
                changed.removed += old_range.len();
                continue;
            }
            changed.removed += old_range.len().saturating_sub(new_range.len());
            let (first, last) = (new_range.start + 1, new_range.end);
            match changed.written.last_mut() {
                Some((_, end)) if *end + 1 == first => *end = last,
                _ => changed.written.push((first, last)),
            }
        }
        changed
    }
}

impl std::fmt::Display for ChangedLines {
    /// `line 12, lines 40-42; 1 line removed`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, &(first, last)) in self.written.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            if first == last {
                write!(f, "{sep}line {first}")?;
            } else {
                write!(f, "{sep}lines {first}-{last}")?;
            }
        }
        if self.removed > 0 {
            let sep = if self.written.is_empty() { "" } else { "; " };
            let s = if self.removed == 1 { "" } else { "s" };
            write!(f, "{sep}{} line{s} removed", self.removed)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod changed_lines_tests {
    use super::ChangedLines;

    #[test]
    fn a_changed_line_an_insertion_and_a_deletion_are_named() {
        let old = "a\nb\nc\nd\ne\n";
        let new = "a\nB\nc\nx\ny\nd\n";
        let changed = ChangedLines::between(old, new);
        assert_eq!(changed.written, vec![(2, 2), (4, 5)]);
        assert_eq!(changed.removed, 1);
        assert_eq!(changed.to_string(), "line 2, lines 4-5; 1 line removed");
    }

    #[test]
    fn adjacent_changes_are_one_range_and_removals_alone_are_counted() {
        let changed = ChangedLines::between("a\nb\nc\n", "A\nB\nc\n");
        assert_eq!(changed.to_string(), "lines 1-2");
        let changed = ChangedLines::between("a\nb\nc\nd\n", "a\nd\n");
        assert_eq!(changed.to_string(), "2 lines removed");
        assert_eq!(ChangedLines::between("a\n", "a\n").to_string(), "");
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::project::Documents;

    const CHAPTER: &str = "# A\n\n```rust file=src/main.rs\nfn main() {\n    <<say hello>>\n}\n```\n\n```rust name=\"say hello\"\nprintln!(\"hello\");\n```\n";

    /// A Markdown project of one chapter in a folder of its own (removed when dropped).
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> (Scratch, Project) {
            let root =
                std::env::temp_dir().join(format!("tangle-sync-{}-{tag}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(&root).unwrap();
            std::fs::write(root.join("a.md"), CHAPTER).unwrap();
            let project = Project {
                root: root.clone(),
                documents: Documents::Markdown {
                    chapters: vec!["a.md".into()],
                    labels: "(ref:%s)".into(),
                },
            };
            (Scratch(root), project)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn output(tangled: &Tangled) -> String {
        String::from_utf8(tangled.outputs[0].content.clone()).unwrap()
    }

    #[test]
    fn an_edited_line_goes_back_to_the_fragment_it_came_from() {
        let (_dir, project) = Scratch::new("carry");
        let fresh = project.tangle().unwrap();
        let edited_text = output(&fresh).replace("\"hello\"", "\"hello, world\"");
        let edited = BTreeMap::from([(PathBuf::from("src/main.rs"), edited_text.clone())]);
        let plan = plan(&project, &fresh, &edited).unwrap();
        assert_eq!(plan.carried, [PathBuf::from("src/main.rs")]);
        assert_eq!(
            plan.texts[Path::new("a.md")],
            CHAPTER.replace("\"hello\"", "\"hello, world\"")
        );
        // The plan's own tangle writes what the user wrote.
        assert_eq!(output(&plan.tangled), edited_text);
    }

    /// `plan` of `project` with its one output edited by `f`.
    fn planned(project: &Project, f: impl FnOnce(&str) -> String) -> Result<Plan, Diagnostics> {
        let fresh = project.tangle().unwrap();
        let edited = BTreeMap::from([(PathBuf::from("src/main.rs"), f(&output(&fresh)))]);
        plan(project, &fresh, &edited)
    }

    #[test]
    fn an_inserted_line_joins_the_fragment_above_without_its_indentation() {
        let (_dir, project) = Scratch::new("insert");
        let plan = planned(&project, |t| {
            t.replace(
                "    println!(\"hello\");\n",
                "    println!(\"hello\");\n    println!(\"bye\");\n",
            )
        })
        .unwrap();
        assert_eq!(
            plan.texts[Path::new("a.md")],
            CHAPTER.replace(
                "println!(\"hello\");\n",
                "println!(\"hello\");\nprintln!(\"bye\");\n"
            )
        );
    }

    #[test]
    fn a_deleted_line_deletes_its_document_line() {
        let (_dir, project) = Scratch::new("delete");
        let plan = planned(&project, |t| t.replace("fn main() {\n", "")).unwrap();
        assert_eq!(
            plan.texts[Path::new("a.md")],
            CHAPTER.replace("fn main() {\n", "")
        );
        // The only line of a fragment cannot go: the reference would still leave its line.
        let (_dir, project) = Scratch::new("delete-all");
        assert!(planned(&project, |t| t.replace("    println!(\"hello\");\n", "")).is_err());
    }

    #[test]
    fn an_edit_of_the_generated_header_is_refused_at_its_line() {
        let (_dir, project) = Scratch::new("header");
        let fresh = project.tangle().unwrap();
        let header = output(&fresh).lines().next().unwrap().to_string();
        assert!(
            fresh.outputs[0].map.locate(1, 1).is_none(),
            "line 1 is the generated header"
        );
        let e = planned(&project, |t| t.replacen(&header, "// mine", 1)).unwrap_err();
        let pos = e.0[0].pos.as_ref().expect("located");
        assert_eq!(
            (pos.path.as_path(), pos.line),
            (Path::new("src/main.rs"), 1)
        );
    }

    #[test]
    fn an_edit_that_would_break_the_documents_is_refused_as_a_whole_with_each_error_placed() {
        let (_dir, project) = Scratch::new("broken");
        // A reference to a fragment that does not exist: carried into the chapter, it would
        // not tangle.
        let e = planned(&project, |t| {
            t.replace("println!(\"hello\");", "<<no such fragment>>")
        })
        .unwrap_err();
        let d = &e.0[0];
        assert!(d.message.contains("would leave them broken"), "{e}");
        assert_eq!(d.pos, None, "the edit as a whole has no one place: {e}");
        assert!(e.to_string().starts_with("error: the edits"), "{e}");
        assert!(!d.notes.is_empty(), "{e}");
        assert!(
            d.notes.iter().all(|n| n.pos.path == Path::new("a.md")),
            "each error at its chapter line: {e}"
        );
    }

    #[test]
    fn copies_of_a_fragment_edited_differently_are_refused() {
        let (dir, _) = Scratch::new("twice");
        let chapter = CHAPTER.replace(
            "    <<say hello>>\n}",
            "    <<say hello>>\n    <<say hello>>\n}",
        );
        std::fs::write(dir.0.join("a.md"), &chapter).unwrap();
        let project = Project {
            root: dir.0.clone(),
            documents: Documents::Markdown {
                chapters: vec!["a.md".into()],
                labels: "(ref:%s)".into(),
            },
        };
        let one = planned(&project, |t| t.replacen("\"hello\"", "\"one\"", 1));
        assert!(one.is_err(), "one copy of two carried back");
        let both = planned(&project, |t| t.replace("\"hello\"", "\"both\"")).unwrap();
        assert_eq!(
            both.texts[Path::new("a.md")],
            chapter.replace("\"hello\"", "\"both\"")
        );
    }

    #[test]
    fn a_save_in_crlf_or_with_a_bom_is_read_in_the_documents_conventions() {
        let path = Path::new("src/main.rs");
        let (text, notes) = conventions(path, b"a\nb\n", "\u{feff}a\r\nb\r\n".to_string()).unwrap();
        assert_eq!(text, "a\nb\n");
        assert_eq!(notes.len(), 2, "{notes:?}");
        let e = conventions(path, b"a\nb\n", "a\nbc".to_string()).unwrap_err();
        assert_eq!(e.pos, Some(Pos::new(path, 2, 3)), "{e}");
    }

    #[test]
    fn a_save_in_progress_is_told_from_an_edit() {
        let path = Path::new("m.rs");
        let tangled = b"fn main() {\n    a();\n    b();\n    c();\n}\n";
        assert_eq!(half_saved(path, tangled, ""), Some("it is empty"));
        assert!(half_saved(path, tangled, "fn main() {\n    a();").is_some());
        assert!(half_saved(path, tangled, "fn main() {\n    a();\n    b();\n").is_some());
        let edit = "fn main() {\n    a();\n    b2();\n    c();\n}\n";
        assert_eq!(half_saved(path, tangled, edit), None);
    }

    #[test]
    fn an_unedited_output_plans_no_change() {
        let (_dir, project) = Scratch::new("same");
        let fresh = project.tangle().unwrap();
        let edited = BTreeMap::from([(PathBuf::from("src/main.rs"), output(&fresh))]);
        let plan = plan(&project, &fresh, &edited).unwrap();
        let text = plan.texts.get(Path::new("a.md")).map(String::as_str);
        assert_eq!(text.unwrap_or(CHAPTER), CHAPTER);
    }
}
