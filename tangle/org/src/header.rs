//! Header arguments: `org-babel-parse-header-arguments` (with `org-babel-balanced-split`),
//! `org-babel-read` of their values, and their merging for a block as
//! `org-babel-get-src-block-info` does it: Org's defaults, the `header-args` properties
//! inherited as `org-entry-get-with-inheritance` finds them, the block line and its
//! `#+header:` lines. Resolution only, on the scanned [`Document`]: evaluating the values
//! a tangle uses is the Tangler's ([`header_eval`](super::header_eval)).
use super::lisp::{eval_lisp, read_lisp_int, read_lisp_string, ReadError};
use super::scan::Property;
use super::{is_blank_char, string_nw, Document, PropertyValue};

/// A header-argument value as written, with where it was written.
#[derive(Debug, Clone)]
pub(super) struct Cell {
    pub(super) raw: Option<String>,
    pub(super) line: usize,
}

/// A header-argument value after `org-babel-read`.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Val {
    Nil,
    Str(String),
    Int(i64),
    /// Something we cannot represent (a float, a list, unsupported Lisp): the raw text.
    Other(String),
    /// Lisp that cannot be read: the raw text and why.
    Unreadable(String, ReadError),
}

/// One header argument: its key (`:tangle`) and value.
#[derive(Debug, Clone)]
pub(super) struct Param {
    pub(super) key: String,
    pub(super) cell: Cell,
}

/// Header arguments in the order Org merges them: a later one overrides an earlier one with
/// the same key.
#[derive(Debug, Clone, Default)]
pub(super) struct Params(pub(super) Vec<Param>);

impl Params {
    /// The value in force for `key`.
    pub(super) fn get(&self, key: &str) -> Option<&Cell> {
        self.0.iter().rev().find(|p| p.key == key).map(|p| &p.cell)
    }

    fn push(&mut self, key: impl Into<String>, raw: Option<String>, line: usize) {
        self.0.push(Param {
            key: key.into(),
            cell: Cell { raw, line },
        });
    }

    fn extend(&mut self, other: Params) {
        self.0.extend(other.0);
    }
}

pub(super) fn param<'a>(params: &'a Params, key: &str) -> Option<&'a Cell> {
    params.get(key)
}

/// `org-babel-read`. `light` leaves Lisp unevaluated, as `org-babel-get-src-block-info` does
/// with LIGHT non-nil. The flag reports a decimal literal with a leading zero.
pub(super) fn read_val(raw: Option<&str>, light: bool) -> (Val, bool) {
    let Some(s) = raw else {
        return (Val::Nil, false);
    };
    if !string_nw(s) {
        return (Val::Str(s.to_string()), false);
    }
    // org-babel--string-to-number.
    let t = s.trim_matches(is_blank_char);
    if !t.chars().any(char::is_whitespace)
        && s.chars().all(|c| c.is_ascii_digit() || "e.+ -".contains(c))
    {
        if let Some((v, z)) = read_lisp_int(t) {
            return (Val::Int(v), z);
        }
        if t.parse::<f64>().is_ok() {
            return (Val::Other(s.to_string()), false);
        }
    }
    if s.starts_with(['(', '\'', '`', '[']) || s == "*this*" {
        if light {
            return (Val::Str(s.to_string()), false);
        }
        let mut z = false;
        return match eval_lisp(s, &mut z) {
            Ok(Some(v)) => (v, z),
            Ok(None) => (Val::Other(s.to_string()), false),
            Err(e) => (Val::Unreadable(s.to_string(), e), false),
        };
    }
    if s.starts_with('"') {
        return match read_lisp_string(s) {
            Some((v, _)) => (Val::Str(v), false),
            None => (Val::Other(s.to_string()), false),
        };
    }
    (Val::Str(s.to_string()), false)
}

/// For each `(` or `[` of `chars`, the index just past its balanced partner, if it has one.
/// The partner is found as `org-babel-balanced-split` scans: over brackets only, each `)` or
/// `]` closing the innermost opening when that is its kind, and being skipped otherwise. A
/// scan that starts at an opening sees the same innermost openings as one pass over the
/// whole text that started earlier, so a single pass answers for every opening.
pub(super) fn bracket_partners(chars: &[char]) -> Vec<Option<usize>> {
    let mut partner = vec![None; chars.len()];
    let mut open: Vec<usize> = Vec::new();
    for (k, &c) in chars.iter().enumerate() {
        match c {
            '(' | '[' => open.push(k),
            ')' | ']' => {
                let opening = if c == ')' { '(' } else { '[' };
                if open.last().is_some_and(|&o| chars[o] == opening) {
                    let o = open.pop().expect("just checked");
                    partner[o] = Some(k + 1);
                }
            }
            _ => {}
        }
    }
    partner
}

/// `org-babel-balanced-split` with ALTS `((32 9) . 58)`.
pub(super) fn balanced_split(s: &str) -> Vec<String> {
    balanced_split_at(s, Alts::ColonAfterBlank)
}

/// What splits in `org-babel-balanced-split` (outside brackets and quotes).
#[derive(Clone, Copy)]
pub(super) enum Alts {
    /// A `:` after a space or a tab, which goes with it (header arguments).
    ColonAfterBlank,
    /// One character, dropped (`,` between call arguments, a space between `:var`s).
    Char(char),
}

/// `org-babel-balanced-split` with the given ALTS.
pub(super) fn balanced_split_at(s: &str, alts: Alts) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let partner = bracket_partners(&chars);
    let mut result = Vec::new();
    let mut partial: Vec<char> = Vec::new();
    // Where the search for a closing quote found none: no later quote has one either.
    let mut no_closing_quote = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let before = if i > 0 { Some(chars[i - 1]) } else { None };
        let splits = match alts {
            Alts::ColonAfterBlank => matches!(before, Some(' ' | '\t')) && c == ':',
            Alts::Char(split) => c == split,
        };
        if splits {
            if let Alts::ColonAfterBlank = alts {
                partial.pop();
            }
            if !partial.is_empty() {
                result.push(partial.iter().collect());
                partial.clear();
            }
            i += 1;
        } else if c == '(' || c == '[' {
            match partner[i] {
                Some(j) => {
                    partial.extend_from_slice(&chars[i..j]);
                    i = j;
                }
                None => {
                    partial.push(c);
                    i += 1;
                }
            }
        } else if c == '"' && before != Some('\\') {
            // re-search-forward "[^\\]\"" from the quote itself.
            let found = if no_closing_quote {
                None
            } else {
                (i..chars.len().saturating_sub(1))
                    .find(|&k| chars[k] != '\\' && chars[k + 1] == '"')
                    .map(|k| k + 2)
            };
            match found {
                Some(end) => {
                    partial.extend_from_slice(&chars[i..end]);
                    i = end;
                }
                None => {
                    no_closing_quote = true;
                    partial.push('"');
                    i += 1;
                }
            }
        } else {
            partial.push(c);
            i += 1;
        }
    }
    if !partial.is_empty() {
        result.push(partial.iter().collect());
    }
    result
}

/// `org-babel-parse-header-arguments` (without evaluation: values stay raw).
pub(super) fn parse_header_args(s: &str, line: usize) -> Params {
    let mut out = Params::default();
    if !string_nw(s) {
        return out;
    }
    let raw = balanced_split(s);
    for (i, arg) in raw.into_iter().enumerate() {
        let arg = if i == 0 { arg } else { format!(":{arg}") };
        let ws = |c: char| matches!(c, ' ' | '\x0c' | '\t' | '\n' | '\r' | '\x0b');
        // "\\([^ \f\t\n\r\v]+\\)[ \f\t\n\r\v]+\\([^ \f\t\n\r\v]+.*\\)"
        let mut parsed = None;
        let mut start = 0;
        while start < arg.len() {
            let rest = &arg[start..];
            let kstart = match rest.find(|c: char| !ws(c)) {
                Some(k) => start + k,
                None => break,
            };
            let kend = arg[kstart..].find(ws).map_or(arg.len(), |k| kstart + k);
            let vstart = arg[kend..].find(|c: char| !ws(c)).map(|k| kend + k);
            match vstart {
                Some(v) if kend < arg.len() && !arg[v..].starts_with('\n') => {
                    let val = &arg[v..];
                    let val = val.split('\n').next().unwrap_or("");
                    parsed = Some((arg[kstart..kend].to_string(), chomp(val).to_string()));
                    break;
                }
                _ => start = kend,
            }
        }
        match parsed {
            Some((k, v)) => out.push(k, Some(v), line),
            None => out.push(chomp(&arg), None, line),
        }
    }
    out
}

/// `org-babel-chomp`.
pub(super) fn chomp(s: &str) -> &str {
    s.trim_end_matches([' ', '\x0c', '\t', '\n', '\r', '\x0b'])
}

/// An entry whose properties `entry_get` reads, climbing from a block to the top.
#[derive(Clone, Copy)]
enum Entry {
    /// The headline at this index.
    Heading(usize),
    /// Point-min: the headline on the first line, else the drawer before the first headline
    /// (`org-up-heading-or-point-min`).
    PointMin,
}

/// Header-argument resolution: what the scanned document gives each block, before any
/// value is evaluated.
impl Document<'_> {
    /// `org-entry-get` with inheritance (`org-entry-get-with-inheritance`): the headline's
    /// `PROP` and `PROP+` values, then its ancestors' as long as no plain `PROP` was found,
    /// then the `#+property:` value. Returns the value and the line of its last part.
    pub(super) fn entry_get(&self, heading: Option<usize>, prop: &str) -> Option<(String, usize)> {
        let prop = prop.to_lowercase();
        let plus = format!("{prop}+");
        let mut value: Option<String> = None;
        let mut line = 0;
        let not_nil = |v: Option<String>| v.filter(|v| v != "nil");
        let mut h = Some(match heading {
            Some(hi) => Entry::Heading(hi),
            None => Entry::PointMin,
        });
        let first_is_heading = self.headings.first().is_some_and(|f| f.line == 1);
        while let Some(entry) = h {
            let props = match entry {
                Entry::Heading(hi) => &self.headings[hi].props,
                Entry::PointMin if first_is_heading => &self.headings[0].props,
                Entry::PointMin => &self.top_props,
            };
            let base = props.iter().find(|p| p.name == prop);
            let pluses: Vec<&Property> = props.iter().filter(|p| p.name == plus).collect();
            let base_val = base.and_then(|p| not_nil(Some(p.value.clone())));
            if base_val.is_some() || !pluses.is_empty() {
                let mut parts: Vec<&str> = Vec::new();
                if let Some(b) = &base_val {
                    parts.push(b);
                }
                parts.extend(pluses.iter().map(|p| p.value.as_str()));
                let here = parts.join(" ");
                if line == 0 {
                    line = pluses
                        .last()
                        .map(|p| p.line)
                        .or(base.map(|p| p.line))
                        .unwrap_or(0);
                }
                value = Some(match value {
                    Some(v) => format!("{here} {v}"),
                    None => here,
                });
            }
            if base_val.is_some() {
                return not_nil(value).map(|v| (v, line));
            }
            h = match entry {
                Entry::Heading(hi) if self.headings[hi].level > 1 => {
                    self.headings[hi].parent.map(Entry::Heading)
                }
                Entry::Heading(hi) if self.headings[hi].line != 1 => Some(Entry::PointMin),
                _ => None,
            };
        }
        if let Some(PropertyValue {
            value: g,
            line: gline,
        }) = self.props.get(&prop)
        {
            if g != "nil" {
                if line == 0 {
                    line = *gline;
                }
                value = Some(match value {
                    Some(v) => format!("{g} {v}"),
                    None => g.clone(),
                });
            }
        }
        not_nil(value).map(|v| (v, line))
    }

    /// The merged header arguments of block `b` (raw values, later entries override).
    pub(super) fn params_of(&self, b: usize) -> Params {
        let block = &self.blocks[b];
        let mut params = Params::default();
        let l = block.line;
        for (k, v) in [
            (":session", "none"),
            (":results", "replace"),
            (":exports", "code"),
            (":cache", "no"),
            (":noweb", "no"),
            (":hlines", "no"),
            (":tangle", "no"),
        ] {
            params.push(k, Some(v.to_string()), 0);
        }
        let lang = block.lang.clone().unwrap_or_default();
        if lang == "emacs-lisp" || lang == "elisp" {
            params.push(":lexical", Some("no".to_string()), 0);
        }
        if let Some((v, line)) = self.entry_get(block.heading, "header-args") {
            params.extend(parse_header_args(&v, line));
        }
        if let Some((v, line)) = self.entry_get(block.heading, &format!("header-args:{lang}")) {
            params.extend(parse_header_args(&v, line));
        }
        if let Some(p) = &block.params {
            params.extend(parse_header_args(p, l));
        }
        for (h, line) in &block.headers {
            params.extend(parse_header_args(h, *line));
        }
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_strings;
    use std::path::Path;

    #[test]
    fn header_values() {
        assert_eq!(read_val(Some("(identity #o444)"), false).0, Val::Int(0o444));
        assert_eq!(read_val(Some("\"a\\nb\""), true).0, Val::Str("a\nb".into()));
        assert_eq!(read_val(Some("0444"), false), (Val::Int(444), true));
        let p = parse_header_args(":tangle yes :shebang \"#!/bin/sh -e\" :x (a :b)", 1);
        let kv: Vec<_> =
            p.0.iter()
                .map(|p| (p.key.as_str(), p.cell.raw.as_deref()))
                .collect();
        assert_eq!(
            kv,
            vec![
                (":tangle", Some("yes")),
                (":shebang", Some("\"#!/bin/sh -e\"")),
                (":x", Some("(a :b)"))
            ]
        );
    }

    /// The merged raw header arguments of each block of `text` (`doc.org`): key and value
    /// of every argument in force, in key order, and the line each was written on.
    fn resolved(text: &str) -> Vec<Vec<(String, Option<String>, usize)>> {
        let env = crate::OrgEnv::from_process();
        let (doc, diags) = crate::scan::scan(Path::new("doc.org"), text, &env);
        assert!(diags.errors.is_empty(), "{:?}", diags.errors);
        (0..doc.blocks.len())
            .map(|b| {
                let params = doc.params_of(b);
                let mut keys: Vec<&str> = params.0.iter().map(|p| p.key.as_str()).collect();
                keys.sort_unstable();
                keys.dedup();
                keys.iter()
                    .map(|k| {
                        let c = params.get(k).expect("a key of the list");
                        (k.to_string(), c.raw.clone(), c.line)
                    })
                    .collect()
            })
            .collect()
    }

    fn get<'a>(args: &'a [(String, Option<String>, usize)], key: &str) -> (Option<&'a str>, usize) {
        let (_, v, line) = args.iter().find(|(k, _, _)| k == key).expect(key);
        (v.as_deref(), *line)
    }

    #[test]
    fn header_arguments_merge_defaults_properties_block_line_and_header_lines() {
        let doc = "#+property: header-args :tangle all.sh :padline no\n\
                   #+property: header-args:sh :shebang \"#!/bin/sh\"\n\
                   #+header: :padline yes\n\
                   #+begin_src sh :tangle one.sh\n\
                   x\n\
                   #+end_src\n\
                   #+begin_src python\n\
                   y\n\
                   #+end_src\n";
        let r = resolved(doc);
        // Org's defaults, at no line.
        assert_eq!(get(&r[0], ":results"), (Some("replace"), 0));
        assert_eq!(get(&r[0], ":noweb"), (Some("no"), 0));
        // The block line over the property, the `#+header:` line over both.
        assert_eq!(get(&r[0], ":tangle"), (Some("one.sh"), 4));
        assert_eq!(get(&r[0], ":padline"), (Some("yes"), 3));
        assert_eq!(get(&r[0], ":shebang"), (Some("\"#!/bin/sh\""), 2));
        // The language's property does not reach another language.
        assert_eq!(get(&r[1], ":tangle"), (Some("all.sh"), 1));
        assert_eq!(get(&r[1], ":padline"), (Some("no"), 1));
        assert!(r[1].iter().all(|(k, _, _)| k != ":shebang"));
    }

    #[test]
    fn drawer_properties_are_inherited_and_accumulated_with_plus() {
        let doc = "#+property: header-args :tangle top.sh\n\
                   * A\n\
                   :PROPERTIES:\n\
                   :header-args: :tangle a.sh\n\
                   :END:\n\
                   ** B\n\
                   :PROPERTIES:\n\
                   :header-args+: :mkdirp yes\n\
                   :END:\n\
                   #+begin_src sh\n\
                   x\n\
                   #+end_src\n\
                   * C\n\
                   #+begin_src sh\n\
                   y\n\
                   #+end_src\n";
        let r = resolved(doc);
        // B's `+` extends A's value, which hides the `#+property:` one; the line is the
        // last part's.
        assert_eq!(get(&r[0], ":tangle"), (Some("a.sh"), 8));
        assert_eq!(get(&r[0], ":mkdirp"), (Some("yes"), 8));
        // C has no drawer: the document's property.
        assert_eq!(get(&r[1], ":tangle"), (Some("top.sh"), 1));
        assert!(r[1].iter().all(|(k, _, _)| k != ":mkdirp"));
    }

    /// `org-babel-balanced-split` with ALTS `((32 9) . 58)`.
    fn naive_balanced_split(s: &str) -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        let mut result = Vec::new();
        let mut partial: Vec<char> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let before = if i > 0 { Some(chars[i - 1]) } else { None };
            if matches!(before, Some(' ' | '\t')) && c == ':' {
                partial.pop();
                if !partial.is_empty() {
                    result.push(partial.iter().collect());
                    partial.clear();
                }
                i += 1;
            } else if c == '(' || c == '[' {
                let origin = i;
                let mut openings = vec![c];
                let mut j = i + 1;
                while !openings.is_empty() {
                    match chars[j..]
                        .iter()
                        .position(|&x| matches!(x, '[' | ']' | '(' | ')'))
                    {
                        None => break,
                        Some(k) => {
                            let ch = chars[j + k];
                            j += k + 1;
                            match ch {
                                '[' | '(' => openings.push(ch),
                                ']' => {
                                    if openings.last() == Some(&'[') {
                                        openings.pop();
                                    }
                                }
                                _ => {
                                    if openings.last() == Some(&'(') {
                                        openings.pop();
                                    }
                                }
                            }
                        }
                    }
                }
                if openings.is_empty() {
                    partial.extend_from_slice(&chars[origin..j]);
                    i = j;
                } else {
                    partial.push(c);
                    i = origin + 1;
                }
            } else if c == '"' && before != Some('\\') {
                // re-search-forward "[^\\]\"" from the quote itself.
                let mut found = None;
                let mut k = i;
                while k + 1 < chars.len() {
                    if chars[k] != '\\' && chars[k + 1] == '"' {
                        found = Some(k + 2);
                        break;
                    }
                    k += 1;
                }
                match found {
                    Some(end) => {
                        partial.extend_from_slice(&chars[i..end]);
                        i = end;
                    }
                    None => {
                        partial.push('"');
                        i += 1;
                    }
                }
            } else {
                partial.push(c);
                i += 1;
            }
        }
        if !partial.is_empty() {
            result.push(partial.iter().collect());
        }
        result
    }

    #[test]
    fn balanced_split_agrees_with_its_definition() {
        let alphabet = ["(", ")", "[", "]", "\"", "\\", " ", "\t", ":", "a", "é"];
        for s in random_strings(&alphabet, 50_000, 16) {
            assert_eq!(balanced_split(&s), naive_balanced_split(&s), "{s:?}");
        }
    }
}
