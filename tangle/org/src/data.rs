//! The values that `#+name:` gives to references (`org-babel-ref-resolve` and
//! `org-babel-read-element`): where a name is (the first `#+name:` or `#+tblname:` line, not
//! under a `COMMENT` headline, whose element has that name), Org tables read as
//! `org-table-to-lisp` and `org-babel-read-table` read them, plain lists, example blocks,
//! indexes into them (`org-babel-ref-index-list`), and a shell block's output read back as a
//! table (`org-babel-import-elisp-from-file`).

use super::body::remove_indentation;
use super::call::org_trim_str;
use super::eval::Obj;
use super::header::{read_val, Val};
use super::lisp::read_lisp_float;
use super::scan::{headline_flags, headline_level, is_begin_src, is_end};
use super::{eq_fold, is_blank_char, strip_prefix_fold, trim_st, Tangler};
use tangle_core::mapped::MappedLine;

/// What a `#+name:` names.
pub(super) enum Named {
    Block(usize),
    Table(usize),
    List(usize),
    Example(usize),
    /// Something we do not read: what it is, and its line.
    Other(&'static str),
}

/// A reference's index (`NAME[1,2]`: `\\[\\([^\\[]+\\)\\]$` with balanced parentheses
/// before it), split off.
pub(super) fn split_index(r: &str) -> (&str, Option<&str>) {
    if let Some(open) = r.strip_suffix(']').and_then(|x| x.rfind('[')) {
        let before = &r[..open];
        if open + 2 < r.len() && before.matches('(').count() == before.matches(')').count() {
            return (before, Some(&r[open + 1..r.len() - 1]));
        }
    }
    (r, None)
}

/// `org-babel-ref-index-list`: the part of `v` that `index` selects (`,` between
/// dimensions; each an index, `A:B`, `*` or empty for all; negative from the end).
pub(super) fn index_list(index: &str, v: &Obj) -> Result<Obj, String> {
    let Obj::List(items) = v else {
        return Ok(v.clone());
    };
    if index.is_empty() {
        return Ok(v.clone());
    }
    let (portion, rest) = match index.find(',') {
        Some(k) => (&index[..k], &index[k + 1..]),
        None => (index, ""),
    };
    let len = items.len() as i64;
    let wrap = |n: i64| if n < 0 { len + n } else { n };
    let number = |t: &str| -> Result<i64, String> {
        t.trim()
            .parse::<i64>()
            .map_err(|_| format!("the index `{t}` is not a number this tangler reads"))
    };
    let nth = |k: i64| -> Obj {
        usize::try_from(k)
            .ok()
            .and_then(|k| items.get(k).cloned())
            .unwrap_or(Obj::Nil)
    };
    let picked: Vec<Obj> = if portion.is_empty() || portion == "*" {
        (0..len).map(nth).collect()
    } else if let Some((a, b)) = portion.split_once(':') {
        let (a, b) = (wrap(number(a)?), wrap(number(b)?));
        (a..=b).map(nth).collect()
    } else if portion.contains('*') || portion.contains(':') {
        return Err(format!(
            "the index `{portion}` is not one this tangler reads"
        ));
    } else {
        vec![nth(wrap(number(portion)?))]
    };
    let mut out = Vec::with_capacity(picked.len());
    for x in picked {
        out.push(match x {
            Obj::List(_) => index_list(rest, &x)?,
            other => other,
        });
    }
    // A single element is opened (`open`).
    Ok(if out.len() == 1 {
        out.pop().expect("one element")
    } else {
        Obj::list(out)
    })
}

/// An affiliated keyword line: one that names its element, or one of the others.
pub(super) enum Affiliated {
    /// A keyword naming the element: the name, and whether `org-babel-ref-resolve`
    /// searches for it there (`#+name:` and `#+tblname:`; `#+data:`, `#+label:`,
    /// `#+resname:`, `#+source:` and `#+srcname:` name the element too, as org-element
    /// translates them).
    Naming { name: String, searched: bool },
    /// A keyword that gives no name (`#+caption:`, `#+header:`, `#+attr_...:`, ...).
    Other,
}

impl Affiliated {
    /// The name this keyword gives the element, if it names it.
    fn name(self) -> Option<String> {
        match self {
            Affiliated::Naming { name, .. } => Some(name),
            Affiliated::Other => None,
        }
    }
}

/// Whether `line` is an affiliated keyword line (`#+name:`, `#+caption:`, `#+header:`,
/// `#+attr_...:`, `#+results:`, `#+plot:`, and their old spellings), and the name it gives.
pub(super) fn affiliated(line: &str) -> Option<Affiliated> {
    let t = line.trim_start_matches([' ', '\t']);
    let rest = t.strip_prefix("#+")?;
    let colon = rest.find(':')?;
    let key = rest[..colon].to_lowercase();
    let naming = matches!(
        key.as_str(),
        "name" | "tblname" | "data" | "label" | "resname" | "source" | "srcname"
    );
    let known = naming
        || matches!(
            key.as_str(),
            "caption" | "header" | "headers" | "results" | "result" | "plot"
        )
        || key.starts_with("attr_");
    if !known || key.contains(char::is_whitespace) {
        return None;
    }
    if naming {
        let searched = key == "name" || key == "tblname";
        let name = trim_st(&rest[colon + 1..]).to_string();
        return Some(Affiliated::Naming { name, searched });
    }
    Some(Affiliated::Other)
}

/// A plain-list bullet at the start of `t` (after indentation): its length with the space.
pub(super) fn bullet(t: &str, indented: bool) -> Option<usize> {
    let b = t.as_bytes();
    match b.first()? {
        b'-' | b'+' => (b.get(1) == Some(&b' ')).then_some(2),
        b'*' if indented => (b.get(1) == Some(&b' ')).then_some(2),
        b'0'..=b'9' => {
            let d = t.bytes().take_while(u8::is_ascii_digit).count();
            (matches!(b.get(d), Some(b'.' | b')')) && b.get(d + 1) == Some(&b' ')).then_some(d + 2)
        }
        _ => None,
    }
}

/// `org-babel--string-to-number` for a float: no blank inside, only `[0-9e.+ -]`, and
/// the Lisp reader reads a float.
pub(super) fn string_to_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(is_blank_char);
    if t.chars().any(char::is_whitespace)
        || !s.chars().all(|c| c.is_ascii_digit() || "e.+ -".contains(c))
    {
        return None;
    }
    read_lisp_float(t)
}

/// `org-babel-read` with `inhibit-lisp-eval` of a table cell or list item.
pub(super) fn read_cell(cell: &str) -> Result<Obj, String> {
    match read_val(Some(cell), true).0 {
        Val::Int(n) => Ok(Obj::Int(n)),
        Val::Str(s) => Ok(Obj::Str(s)),
        Val::Nil => Ok(Obj::Nil),
        _ => match string_to_float(cell) {
            Some(x) => Ok(Obj::Float(x)),
            None => Err(format!(
                "the value `{cell}` is an unterminated string, which Emacs fails to read"
            )),
        },
    }
}

/// `org-babel-import-elisp-from-file` of a shell block's output, for the outputs whose
/// reading is plain (no tab, comma, `|`, quote or blank line): one line is one cell (read as
/// CSV); several are rows of words separated by spaces, padded to the widest
/// (`org-table-align`); each cell is read as a number when it is one; a single cell is the
/// value itself, no output `nil`.
pub(super) fn import_table(out: &str) -> Result<Obj, String> {
    if out.is_empty() {
        return Ok(Obj::Nil);
    }
    let text = out.strip_suffix('\n').unwrap_or(out);
    let lines: Vec<&str> = text.split('\n').collect();
    if lines.len() > 999 {
        return Err("has more lines than Org converts to a table".into());
    }
    if lines
        .iter()
        .any(|l| l.contains(['\t', ',', '|', '"', '\r', '\\']) || l.trim().is_empty())
    {
        return Err(
            "would be read as an Org table in a way this tangler does not reproduce (it has \
             a tab, a comma, a `|`, a quote, a backslash or a blank line)"
                .into(),
        );
    }
    // The separator is guessed from a line without a tab and a later line without a comma:
    // one line is read as CSV, so it is one cell.
    if let [line] = lines.as_slice() {
        return read_cell(line.trim_matches([' ', '\t']));
    }
    let mut rows: Vec<Vec<Obj>> = Vec::new();
    for l in &lines {
        let mut row = Vec::new();
        for w in l.split(' ').filter(|w| !w.is_empty()) {
            row.push(read_cell(w)?);
        }
        rows.push(row);
    }
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    for r in &mut rows {
        r.resize(width, Obj::Str(String::new()));
    }
    Ok(match rows.as_slice() {
        [r] if r.len() == 1 => r[0].clone(),
        _ => Obj::list(rows.into_iter().map(Obj::list).collect()),
    })
}

/// Which lines are inside an example, export, comment or verse block (between a
/// `#+begin_NAME` line and its `#+end_NAME` line, both excluded, as the scan reads them):
/// text, not elements.
pub(super) fn verbatim_lines(lines: &[&str]) -> Vec<bool> {
    let mut inside = vec![false; lines.len()];
    let mut k = 0;
    while k < lines.len() {
        let t = lines[k].trim_start_matches([' ', '\t']);
        let kind = ["example", "export", "comment", "verse"]
            .into_iter()
            .find(|kind| {
                strip_prefix_fold(t, "#+begin_")
                    .and_then(|r| strip_prefix_fold(r, kind))
                    .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
            });
        if let Some(kind) = kind {
            // A block does not reach over a headline.
            let end = (k + 1..lines.len())
                .take_while(|&j| headline_level(lines[j]).is_none())
                .find(|&j| is_end(lines[j], kind));
            if let Some(e) = end {
                for x in &mut inside[k + 1..e] {
                    *x = true;
                }
                k = e + 1;
                continue;
            }
        }
        k += 1;
    }
    inside
}

impl Tangler<'_> {
    /// Whether line `line` (1-based) is under a `COMMENT` headline.
    pub(super) fn line_commented(&self, line: usize) -> bool {
        let mut h = self.doc.headings.iter().rposition(|h| h.line <= line);
        while let Some(k) = h {
            let hd = &self.doc.headings[k];
            if headline_flags(self.doc.lines[hd.line - 1], hd.level).commented {
                return true;
            }
            h = hd.parent;
        }
        false
    }

    /// What `#+name: NAME` names, as `org-babel-ref-resolve` finds it: the first such line
    /// (the keyword and the name matched ignoring case) not under a `COMMENT` headline whose
    /// element's name is exactly `name`.
    pub(super) fn find_named(&self, name: &str) -> Option<(Named, usize)> {
        // Lines inside source blocks are code, not keywords; so are those inside the other
        // blocks whose contents are text (`org-next-block` takes a match there for the
        // enclosing block, whose affiliated keywords it is not).
        let mut in_block = verbatim_lines(&self.doc.lines);
        for b in &self.doc.blocks {
            for l in &b.body {
                if let Some(x) = in_block.get_mut(l.line - 1) {
                    *x = true;
                }
            }
        }
        for (k, l) in self.doc.lines.iter().enumerate() {
            if in_block[k] {
                continue;
            }
            let Some(Affiliated::Naming {
                name: n,
                searched: true,
            }) = affiliated(l)
            else {
                continue;
            };
            if !eq_fold(&n, name) || self.line_commented(k + 1) {
                continue;
            }
            // The element's affiliated keywords: up and down from here.
            let mut first = k;
            while first > 0 && affiliated(self.doc.lines[first - 1]).is_some() {
                first -= 1;
            }
            let mut e = k;
            while e < self.doc.lines.len() && affiliated(self.doc.lines[e]).is_some() {
                e += 1;
            }
            let last_name = (first..e)
                .rev()
                .find_map(|j| affiliated(self.doc.lines[j]).and_then(Affiliated::name));
            if e >= self.doc.lines.len() || last_name.as_deref() != Some(name) {
                continue;
            }
            let t = self.doc.lines[e].trim_start_matches([' ', '\t']);
            let named = if is_begin_src(self.doc.lines[e]).is_some() {
                match self.doc.blocks.iter().position(|b| b.line == e + 1) {
                    Some(b) => Named::Block(b),
                    None => Named::Other("a source block"),
                }
            } else if t.starts_with('|') {
                Named::Table(e)
            } else if t.starts_with("+-") {
                Named::Other("a table.el table")
            } else if bullet(t, t.len() < self.doc.lines[e].len()).is_some() {
                Named::List(e)
            } else if strip_prefix_fold(t, "#+begin_example").is_some() {
                Named::Example(e)
            } else if strip_prefix_fold(t, "#+call:").is_some() {
                Named::Other("a `#+call:` line")
            } else if t.trim().is_empty() {
                // Orphaned keywords: Org's element is the keyword, without a name.
                continue;
            } else {
                Named::Other("a paragraph or another element")
            };
            return Some((named, e + 1));
        }
        None
    }

    /// `org-table-to-lisp` and `org-babel-read-table` of the table starting at line index
    /// `e`.
    pub(super) fn read_table(&self, e: usize) -> Result<Obj, String> {
        let mut rows = Vec::new();
        for l in &self.doc.lines[e..] {
            let t = l.trim_start_matches([' ', '\t']);
            let Some(mut rest) = t.strip_prefix('|') else {
                break;
            };
            if rest.starts_with('-') {
                rows.push(Obj::Sym("hline".into()));
                continue;
            }
            let mut row = Vec::new();
            loop {
                rest = rest.trim_start_matches([' ', '\t']);
                if rest.is_empty() {
                    break;
                }
                let end = rest.find('|').unwrap_or(rest.len());
                let cell = rest[..end].trim_end_matches([' ', '\t']);
                row.push(read_cell(cell)?);
                rest = if end < rest.len() {
                    &rest[end + 1..]
                } else {
                    ""
                };
            }
            rows.push(Obj::list(row));
        }
        Ok(Obj::list(rows))
    }

    /// `org-babel-read-list` of a plain list whose items are one line each, at one
    /// indentation.
    pub(super) fn read_list(&self, e: usize) -> Result<Obj, String> {
        let indent = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
        let first_indent = indent(self.doc.lines[e]);
        let mut items = Vec::new();
        for (k, l) in self.doc.lines[e..].iter().enumerate() {
            if l.trim().is_empty() {
                // One blank line between items keeps the list going (two end it): items
                // apart are not read here.
                let next = self.doc.lines.get(e + k + 1).copied().unwrap_or("");
                let item = bullet(&next[indent(next)..], indent(next) > 0).is_some();
                if !next.trim().is_empty()
                    && (indent(next) > first_indent || (item && indent(next) == first_indent))
                {
                    return Err(
                        "a list with blank lines between its items is not read as a value".into(),
                    );
                }
                break;
            }
            let t = &l[indent(l)..];
            match bullet(t, indent(l) > 0) {
                Some(n) if indent(l) == first_indent => {
                    let text = &t[n..];
                    if text.starts_with("[ ]") || text.starts_with("[X]") || text.starts_with("[-]")
                    {
                        return Err("a list with check boxes is not read as a value".into());
                    }
                    // `org-list-to-lisp` gives each item as a list of its text (and
                    // sublists), which `org-babel-read` leaves as it is.
                    items.push(Obj::List(vec![Obj::Str(org_trim_str(text).to_string())]));
                }
                _ if indent(l) <= first_indent && bullet(t, indent(l) > 0).is_none() => break,
                _ => {
                    return Err(
                        "a list with nested items or items over several lines is not read as \
                         a value"
                            .into(),
                    )
                }
            }
        }
        Ok(Obj::list(items))
    }

    /// The value of the example block starting at line index `e`, its indentation removed.
    pub(super) fn read_example(&self, e: usize) -> Result<Obj, String> {
        let begin = trim_st(self.doc.lines[e]);
        if begin.len() > "#+begin_example".len() {
            return Err("an example block with switches is not read as a value".into());
        }
        let mut body: Vec<MappedLine> = Vec::new();
        for l in &self.doc.lines[e + 1..] {
            if is_end(l, "example") {
                remove_indentation(&mut body);
                let text: Vec<&str> = body.iter().map(|m| m.text.as_str()).collect();
                let mut v = text.join("\n");
                if !text.is_empty() {
                    v.push('\n');
                }
                return Ok(Obj::Str(v));
            }
            let t = l.trim_start_matches([' ', '\t']);
            if t.starts_with(",*") || t.starts_with(",#+") {
                return Err("an example block with escaped lines is not read as a value".into());
            }
            body.push(MappedLine {
                text: l.to_string(),
                origin: None,
                pieces: Vec::new(),
            });
        }
        Err("the example block is not terminated".into())
    }
}
