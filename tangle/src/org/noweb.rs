//! Noweb references: Org 9.5.5's reference regexp (`org-babel-noweb-wrap`), their
//! resolution by `#+name:` or `:noweb-ref` and their expansion as
//! `org-babel-expand-noweb-references` does it (the text before a reference repeated before
//! every line of its expansion).

use super::*;

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

/// How many steps of a long reference cycle an error shows at its start and at its end.
pub(super) const CYCLE_SHOWN: usize = 4;

/// How a reference resolves.
#[derive(Debug, Clone)]
pub(super) enum Resolution {
    Blocks(Vec<usize>),
    Unresolved,
}

pub(super) enum Task {
    /// Continue the body of block `b` at line `line`, byte `off` (character `chars`);
    /// `expand` tells whether references are expanded.
    Body {
        b: usize,
        line: usize,
        off: usize,
        chars: usize,
        expand: bool,
    },
    /// Include block `b` as a reference (expanded if its `:noweb` allows it in `:eval`).
    Child {
        b: usize,
        via: (usize, usize),
    },
    Text(String),
    PopPrefix,
    PopPath,
}

impl Tangler<'_> {
    pub(super) fn resolve(&mut self, id: &str) -> Resolution {
        if let Some(r) = self.resolutions.get(id) {
            return r.clone();
        }
        if self.name_index.is_none() {
            let mut names: HashMap<String, usize> = HashMap::new();
            let mut refs: HashMap<String, Vec<usize>> = HashMap::new();
            for b in 0..self.blocks.len() {
                if !self.babel_visible(b) {
                    continue;
                }
                for n in &self.blocks[b].names {
                    names.entry(n.to_lowercase()).or_insert(b);
                }
                if self.blocks[b].commented {
                    continue;
                }
                if let Val::Str(r) = self.light_val(b, ":noweb-ref") {
                    refs.entry(r).or_default().push(b);
                }
            }
            self.name_index = Some((names, refs));
        }
        let (names, refs) = self.name_index.as_ref().expect("just built");
        // The first block whose name matches, case-insensitively (`case-fold-search`); the
        // lower-case index is exact for the names Org documents use.
        let named = names
            .get(&id.to_lowercase())
            .copied()
            .filter(|&b| self.blocks[b].names.iter().any(|n| eq_fold(n, id)));
        let r = match named {
            Some(b) if !self.blocks[b].commented => Resolution::Blocks(vec![b]),
            _ => match refs.get(id) {
                Some(v) => Resolution::Blocks(v.clone()),
                None => Resolution::Unresolved,
            },
        };
        self.resolutions.insert(id.to_string(), r.clone());
        r
    }

    /// Expands the body of tangled block `root` (noweb references expanded when `expand`).
    pub(super) fn expand_root(&mut self, root: usize, expand: bool) -> Result<MText, Diagnostic> {
        let mut out = MText::new();
        let mut prefix = String::new();
        let mut prefix_lens: Vec<usize> = Vec::new();
        let mut path: Vec<(usize, (usize, usize))> = Vec::new();
        let mut on_path = vec![false; self.blocks.len()];
        let mut bodies: HashMap<usize, Rc<BodyText>> = HashMap::new();
        let mut stack = vec![Task::Body {
            b: root,
            line: 0,
            off: 0,
            chars: 0,
            expand,
        }];
        on_path[root] = expand;
        if expand {
            path.push((root, (0, 0)));
        }
        // Emits text, repeating the prefixes after every line break.
        fn emit(out: &mut MText, prefix: &str, depth: usize, s: &str, src: Option<SrcAt>) {
            if depth == 0 || !s.contains(['\n', '\r']) {
                out.push_str(s, src);
                return;
            }
            let mut first = true;
            for piece in s.split(['\n', '\r']) {
                if !first {
                    out.push_str("\n", None);
                    out.push_str(prefix, None);
                }
                out.push_str(piece, if first { src } else { None });
                first = false;
            }
        }
        while let Some(task) = stack.pop() {
            match task {
                Task::Text(s) => emit(&mut out, &prefix, prefix_lens.len(), &s, None),
                Task::PopPrefix => {
                    let l = prefix_lens.pop().expect("balanced");
                    prefix.truncate(l);
                }
                Task::PopPath => {
                    let (b, _) = path.pop().expect("balanced");
                    on_path[b] = false;
                }
                Task::Child { b, via } => {
                    let expand = self.noweb_eval(b);
                    if expand {
                        if on_path[b] {
                            return Err(self.cycle_error(&path, b, via));
                        }
                        on_path[b] = true;
                        path.push((b, via));
                        stack.push(Task::PopPath);
                    }
                    stack.push(Task::Body {
                        b,
                        line: 0,
                        off: 0,
                        chars: 0,
                        expand,
                    });
                }
                Task::Body {
                    b,
                    line,
                    off,
                    chars,
                    expand,
                } => {
                    let body = Rc::clone(
                        bodies
                            .entry(b)
                            .or_insert_with(|| Rc::new(self.normalized_body(b))),
                    );
                    let (text, src) = &body[line];
                    let src = *src;
                    let nlines = body.len();
                    let at = src.map(|s| SrcAt {
                        col: s.col + chars,
                        ..s
                    });
                    let m = if expand { find_ref(text, off) } else { None };
                    match m {
                        None => {
                            emit(&mut out, &prefix, prefix_lens.len(), &text[off..], at);
                            if line + 1 < nlines {
                                emit(&mut out, &prefix, prefix_lens.len(), "\n", None);
                                stack.push(Task::Body {
                                    b,
                                    line: line + 1,
                                    off: 0,
                                    chars: 0,
                                    expand,
                                });
                            }
                        }
                        Some(m) => {
                            emit(&mut out, &prefix, prefix_lens.len(), &text[off..m.lt], at);
                            let id = text[m.id.0..m.id.1].to_string();
                            let before = text[off..m.lt].chars().count();
                            let ref_pos = match src {
                                Some(s) => (s.line as usize, s.col + chars + before + 1),
                                None => (self.blocks[b].line, 1),
                            };
                            stack.push(Task::Body {
                                b,
                                line,
                                off: m.me,
                                chars: chars + before + text[m.lt..m.me].chars().count(),
                                expand,
                            });
                            stack.push(Task::PopPrefix);
                            prefix_lens.push(prefix.len());
                            prefix.push_str(&text[m.mb..m.lt]);
                            if id.contains(">>") && id.contains("<<") {
                                self.warn(
                                    ref_pos.0,
                                    ref_pos.1,
                                    format!(
                                        "Org 9.5.5 reads this line's references as the single \
                                         reference `<<{id}>>` (its noweb regexp spans `>>` … \
                                         `<<` on one line); put each reference on its own line"
                                    ),
                                );
                            }
                            if let Some(p) = id.find('(') {
                                if id[p..].contains(')') {
                                    return Err(self.diag(
                                        ref_pos.0,
                                        ref_pos.1,
                                        format!(
                                            "`<<{id}>>` asks Org to evaluate a block; \
                                             evaluation is not supported"
                                        ),
                                    ));
                                }
                            }
                            if self.ids.iter().any(|x| x == &id) {
                                return Err(self.diag(
                                    ref_pos.0,
                                    ref_pos.1,
                                    format!(
                                        "`<<{id}>>` names a headline `:ID:`/`:CUSTOM_ID:`; Org \
                                         would insert the headline's text, which is not \
                                         supported"
                                    ),
                                ));
                            }
                            match self.resolve(&id) {
                                Resolution::Unresolved => self.warn(
                                    ref_pos.0,
                                    ref_pos.1,
                                    format!(
                                        "unresolved reference `<<{id}>>`: no block is named \
                                         `{id}` or has `:noweb-ref {id}`; Org expands it to \
                                         nothing"
                                    ),
                                ),
                                Resolution::Blocks(bs) => {
                                    let mut tasks = Vec::new();
                                    let last = bs.len() - 1;
                                    for (k, &cb) in bs.iter().enumerate() {
                                        tasks.push(Task::Child {
                                            b: cb,
                                            via: ref_pos,
                                        });
                                        if k < last {
                                            let sep = match self.light_val(cb, ":noweb-sep") {
                                                Val::Nil => "\n".to_string(),
                                                Val::Str(s) => s,
                                                _ => {
                                                    let l = self.blocks[cb].line;
                                                    return Err(self.diag(
                                                        l,
                                                        1,
                                                        "`:noweb-sep` must be a string",
                                                    ));
                                                }
                                            };
                                            tasks.push(Task::Text(sep));
                                        }
                                    }
                                    stack.extend(tasks.into_iter().rev());
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// The error for block `b`, included again at `via` while it is being expanded: the
    /// chain of inclusions from `b` back to itself. A long chain shows its first and last
    /// [`CYCLE_SHOWN`] steps and how many were left out.
    pub(super) fn cycle_error(
        &self,
        path: &[(usize, (usize, usize))],
        b: usize,
        via: (usize, usize),
    ) -> Diagnostic {
        let start = path.iter().position(|p| p.0 == b).unwrap_or(0);
        let cycle = &path[start..];
        let long = cycle.len() > 2 * CYCLE_SHOWN + 1;
        let shown = |k: usize| !long || k < CYCLE_SHOWN || k >= cycle.len() - CYCLE_SHOWN;
        let mut chain = Vec::new();
        for (k, p) in cycle.iter().enumerate() {
            if shown(k) {
                chain.push(self.block_name(p.0));
            } else if k == CYCLE_SHOWN {
                chain.push(format!("… {} more …", cycle.len() - 2 * CYCLE_SHOWN));
            }
        }
        chain.push(self.block_name(b));
        let block = &self.blocks[b];
        let what = if long {
            format!("reference cycle of {} blocks", cycle.len())
        } else {
            "reference cycle".to_string()
        };
        let mut d = Diagnostic::error(
            self.pos(block.line, block.col),
            format!(
                "{what}: {} (Emacs would recurse until `max-lisp-eval-depth`)",
                chain.join(" -> ")
            ),
        );
        // Step k: block k - 1 of the cycle includes block k (the last step closes it).
        let steps = cycle.len();
        for k in (1..=steps).filter(|&k| shown(k - 1)) {
            let (to, at) = if k < steps {
                (cycle[k].0, cycle[k].1)
            } else {
                (b, via)
            };
            let from = self.block_name(cycle[k - 1].0);
            let name = self.block_name(to);
            d = d.with_note(self.pos(at.0, at.1), format!("{from} includes {name} here"));
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::org::random_strings;

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
