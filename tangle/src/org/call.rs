//! Code-block calls: the noweb references `<<name(args)>>` that Org evaluates while
//! tangling, as Org 9.5.5 does it. `org-babel-ref-resolve` finds what `name` names (a code
//! block, an Org table, a plain list, an example block), binds the arguments over the
//! block's `:var` defaults (`org-babel-merge-params`, `org-babel-process-params` with its
//! table handling under `:hlines`, `:colnames` and `:rownames`), runs the block (emacs-lisp
//! blocks by the side-effect-free evaluator, other languages only with `--eval`), and the
//! reference expands to the result as `org-babel-expand-noweb-references` inserts it: a
//! string as it is, anything else printed with `%S`.

use super::eval::{Ctx, Obj};
use super::*;

/// How deeply calls may nest (a call whose block calls another, ...).
const MAX_CALL_DEPTH: usize = 24;

/// Org's exclusive groups of `:results` values (`org-babel-common-header-args-w-values`).
const RESULT_GROUPS: [&[&str]; 4] = [
    &["file", "list", "vector", "table", "scalar", "verbatim"],
    &[
        "raw", "html", "latex", "org", "code", "pp", "drawer", "link", "graphics",
    ],
    &["replace", "silent", "none", "append", "prepend"],
    &["output", "value"],
];

/// What a `#+name:` names.
enum Named {
    Block(usize),
    Table(usize),
    List(usize),
    Example(usize),
    /// Something we do not read: what it is, and its line.
    Other(&'static str),
}

/// One `:var` of a block being called: its name and its value, read or still as written
/// (`name=value`).
#[derive(Clone)]
enum VarVal {
    Read(Obj),
    Raw(String),
}

/// A called block's variables, read, and the table names taken out of them.
struct Bound {
    vars: Vec<(String, Obj)>,
    cnames: Vec<(String, Obj)>,
    rnames: Vec<(String, Obj)>,
    colnames: Val,
    rownames: Val,
}

/// What a called reference asks for: the block's name and its arguments as written.
struct CallSpec {
    name: String,
    args: Vec<String>,
}

/// `org-babel-balanced-split` with a single character as ALTS (`,` between call arguments,
/// a space between `:var` assignments): the character splits outside brackets and quotes
/// and is dropped.
pub(super) fn balanced_split_on(s: &str, split: char) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let partner = bracket_partners(&chars);
    let mut result = Vec::new();
    let mut partial: Vec<char> = Vec::new();
    let mut no_closing_quote = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let before = if i > 0 { Some(chars[i - 1]) } else { None };
        if c == split {
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

/// `org-babel-join-splits-near-ch` with `=`: a piece ending with `=` or one starting with
/// `=` is joined to its neighbour.
fn join_near_equals(pieces: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in pieces {
        match out.last_mut() {
            Some(head) if head.ends_with('=') || p.starts_with('=') => head.push_str(&p),
            _ => out.push(p),
        }
    }
    out
}

/// `org-trim`.
fn org_trim_str(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r'])
}

/// A reference's index (`NAME[1,2]`: `\\[\\([^\\[]+\\)\\]$` with balanced parentheses
/// before it), split off.
fn split_index(r: &str) -> (&str, Option<&str>) {
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
fn index_list(index: &str, v: &Obj) -> Result<Obj, String> {
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

/// Splits a reference into the called name and its arguments, as `org-babel-ref-resolve`
/// reads `NAME[HEADER](ARGS)`; `None` when it is not a call.
fn parse_call(r: &str) -> Result<Option<CallSpec>, String> {
    if !r.ends_with(')') {
        return Ok(None);
    }
    // `^\\(.+?\\)\\(\\[\\(.*\\)\\]\\|\\(\\)\\)(\\(.*\\))$`: the shortest name.
    for (p, c) in r.char_indices().skip(1) {
        let rest = &r[p..];
        if c == '[' {
            if let Some(k) = rest.rfind("](") {
                return Err(format!(
                    "`{r}` passes header arguments (`[{}]`) to the block, which this tangler \
                     does not evaluate",
                    &rest[1..k]
                ));
            }
        }
        if c == '(' {
            let name = &r[..p];
            if name.contains('\n') {
                return Ok(None);
            }
            let inner = &rest[1..rest.len() - 1];
            let args = if inner.is_empty() {
                Vec::new()
            } else {
                balanced_split_on(inner, ',')
                    .iter()
                    .map(|a| org_trim_str(a).to_string())
                    .collect()
            };
            return Ok(Some(CallSpec {
                name: name.to_string(),
                args,
            }));
        }
    }
    Ok(None)
}

/// A name given by an affiliated keyword: the name, and whether `org-babel-ref-resolve`
/// searches for it there (`#+name:` and `#+tblname:`; `#+data:`, `#+label:`, `#+resname:`,
/// `#+source:` and `#+srcname:` name the element too, as org-element translates them).
type AffiliatedName = (String, bool);

/// Whether `line` is an affiliated keyword line (`#+name:`, `#+caption:`, `#+header:`,
/// `#+attr_...:`, `#+results:`, `#+plot:`, and their old spellings), and the name it gives.
fn affiliated(line: &str) -> Option<Option<AffiliatedName>> {
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
        return Some(Some((trim_st(&rest[colon + 1..]).to_string(), searched)));
    }
    Some(None)
}

/// A plain-list bullet at the start of `t` (after indentation): its length with the space.
fn bullet(t: &str, indented: bool) -> Option<usize> {
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
fn string_to_float(s: &str) -> Option<f64> {
    let t = s.trim_matches(is_blank_char);
    if t.chars().any(char::is_whitespace)
        || !s.chars().all(|c| c.is_ascii_digit() || "e.+ -".contains(c))
    {
        return None;
    }
    read_lisp_float(t)
}

/// `org-babel-read` with `inhibit-lisp-eval` of a table cell or list item.
fn read_cell(cell: &str) -> Result<Obj, String> {
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
fn import_table(out: &str) -> Result<Obj, String> {
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

/// `%S`-printable text of a value, or why not.
fn printed(v: &Obj) -> Result<String, String> {
    if v.printable() {
        Ok(v.show(true))
    } else {
        Err("the result is a function, which Emacs would print in its own way".into())
    }
}

impl Tangler<'_> {
    /// The text `<<id>>` expands to when `id` calls a block (`org-babel-ref-resolve`, then
    /// the string itself or its `%S` printing).
    pub(super) fn call_text(&mut self, id: &str, depth: usize) -> Result<String, String> {
        match self.ref_resolve(id, depth)? {
            Obj::Str(s) => Ok(s),
            other => printed(&other),
        }
    }

    /// Whether line `line` (1-based) is under a `COMMENT` headline.
    fn line_commented(&self, line: usize) -> bool {
        let mut h = self.headings.iter().rposition(|h| h.line <= line);
        while let Some(k) = h {
            let hd = &self.headings[k];
            if headline_flags(self.lines[hd.line - 1], hd.level).0 {
                return true;
            }
            h = hd.parent;
        }
        false
    }

    /// What `#+name: NAME` names, as `org-babel-ref-resolve` finds it: the first such line
    /// (the keyword and the name matched ignoring case) not under a `COMMENT` headline whose
    /// element's name is exactly `name`.
    fn find_named(&self, name: &str) -> Option<(Named, usize)> {
        // Lines inside source blocks are code, not keywords.
        let mut in_block = vec![false; self.lines.len()];
        for b in &self.blocks {
            for l in &b.body {
                if let Some(x) = in_block.get_mut(l.line - 1) {
                    *x = true;
                }
            }
        }
        for (k, l) in self.lines.iter().enumerate() {
            if in_block[k] {
                continue;
            }
            let Some(Some((n, true))) = affiliated(l) else {
                continue;
            };
            if !eq_fold(&n, name) || self.line_commented(k + 1) {
                continue;
            }
            // The element's affiliated keywords: up and down from here.
            let mut first = k;
            while first > 0 && affiliated(self.lines[first - 1]).is_some() {
                first -= 1;
            }
            let mut e = k;
            while e < self.lines.len() && affiliated(self.lines[e]).is_some() {
                e += 1;
            }
            let last_name = (first..e)
                .rev()
                .find_map(|j| affiliated(self.lines[j]).flatten().map(|(n, _)| n));
            if e >= self.lines.len() || last_name.as_deref() != Some(name) {
                continue;
            }
            let t = self.lines[e].trim_start_matches([' ', '\t']);
            let named = if is_begin_src(self.lines[e]).is_some() {
                match self.blocks.iter().position(|b| b.line == e + 1) {
                    Some(b) => Named::Block(b),
                    None => Named::Other("a source block"),
                }
            } else if t.starts_with('|') {
                Named::Table(e)
            } else if t.starts_with("+-") {
                Named::Other("a table.el table")
            } else if bullet(t, t.len() < self.lines[e].len()).is_some() {
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

    /// `org-babel-ref-resolve`: the value of reference `r` (a name, or a call with arguments).
    fn ref_resolve(&mut self, r: &str, depth: usize) -> Result<Obj, String> {
        if depth > MAX_CALL_DEPTH {
            return Err(format!(
                "references nest more than {MAX_CALL_DEPTH} deep (a cycle? Emacs would \
                 recurse until `max-lisp-eval-depth`)"
            ));
        }
        let (r, index) = split_index(r);
        let value = self.ref_resolve_unindexed(r, depth)?;
        match (index, &value) {
            (Some(index), Obj::List(_) | Obj::Nil) => index_list(index, &value),
            _ => Ok(value),
        }
    }

    /// [`Tangler::ref_resolve`] without an index.
    fn ref_resolve_unindexed(&mut self, r: &str, depth: usize) -> Result<Obj, String> {
        let (name, args) = match parse_call(r)? {
            Some(c) if !c.name.is_empty() => (c.name, Some(c.args)),
            _ => (r.to_string(), None),
        };
        if let Some(k) = name.find(':').filter(|&k| k > 0 && k + 1 < name.len()) {
            return Err(format!(
                "`{name}` refers to `{}` in the file `{}`; references to other files are not \
                 evaluated",
                &name[k + 1..],
                &name[..k]
            ));
        }
        let Some((named, line)) = self.find_named(&name) else {
            if self.ids.contains(&name) {
                return Err(format!(
                    "`{name}` names a headline `:ID:`/`:CUSTOM_ID:`, whose text Org would \
                     use; not supported"
                ));
            }
            return Err(format!(
                "no code block, table or list is named `{name}` (Emacs fails: \"Reference \
                 `{name}' not found in this buffer\")"
            ));
        };
        let value = match named {
            Named::Block(b) => return self.execute(b, args.unwrap_or_default(), depth),
            Named::Table(e) => self.read_table(e)?,
            Named::List(e) => self.read_list(e)?,
            Named::Example(e) => self.read_example(e)?,
            Named::Other(what) => {
                return Err(format!(
                    "`{name}` names {what} (line {line}), which this tangler does not read as \
                     a value"
                ))
            }
        };
        // Arguments to data are ignored, as Org ignores them.
        let _ = args;
        Ok(match value {
            Obj::Nil => Obj::Str("nil".into()),
            Obj::T => Obj::Str("t".into()),
            Obj::Sym(s) => Obj::Str(s),
            v => v,
        })
    }

    /// `org-table-to-lisp` and `org-babel-read-table` of the table starting at line index
    /// `e`.
    fn read_table(&self, e: usize) -> Result<Obj, String> {
        let mut rows = Vec::new();
        for l in &self.lines[e..] {
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
    fn read_list(&self, e: usize) -> Result<Obj, String> {
        let indent = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
        let first_indent = indent(self.lines[e]);
        let mut items = Vec::new();
        for (k, l) in self.lines[e..].iter().enumerate() {
            if l.trim().is_empty() {
                // One blank line between items keeps the list going (two end it): items
                // apart are not read here.
                let next = self.lines.get(e + k + 1).copied().unwrap_or("");
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
    fn read_example(&self, e: usize) -> Result<Obj, String> {
        let begin = trim_st(self.lines[e]);
        if begin.len() > "#+begin_example".len() {
            return Err("an example block with switches is not read as a value".into());
        }
        let mut body: Vec<MappedLine> = Vec::new();
        for l in &self.lines[e + 1..] {
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

    /// A Lisp evaluation context at block `b` (its folder, file and tags).
    pub(super) fn lisp_ctx(&self, b: Option<usize>) -> Ctx<'_> {
        let dir = self
            .env
            .cwd
            .join(self.path.parent().unwrap_or(Path::new("")));
        let dir = crate::paths::normalize(&dir).to_string_lossy().into_owned();
        let file = self.env.cwd.join(self.path);
        let file = crate::paths::normalize(&file)
            .to_string_lossy()
            .into_owned();
        let mut ctx = Ctx::new(self.env, format!("{}/", dir.trim_end_matches('/')), file);
        if let Some(h) = b.and_then(|b| self.blocks[b].heading) {
            ctx.local_tags = self.headings[h].tags.clone();
            let mut inherited = self.file_tags.clone();
            let mut chain = Vec::new();
            let mut p = self.headings[h].parent;
            while let Some(k) = p {
                chain.push(k);
                p = self.headings[k].parent;
            }
            for k in chain.into_iter().rev() {
                for t in &self.headings[k].tags {
                    if !inherited.contains(t) {
                        inherited.push(t.clone());
                    }
                }
            }
            ctx.inherited_tags = inherited;
        } else {
            ctx.inherited_tags = self.file_tags.clone();
        }
        ctx
    }

    /// `org-babel-ref-parse`'s reading of a variable's value (`org-babel-read`, then a
    /// reference when it stays the same string).
    fn var_value(&mut self, b: usize, value: &str, depth: usize) -> Result<Obj, String> {
        if !string_nw(value) {
            return Err(format!(
                "a `:var` without a value (Emacs fails: \"Reference `{value}' not found\")"
            ));
        }
        if value.starts_with(['(', '\'', '`', '[']) || value == "*this*" {
            let (form, _) = read_sexp(value)
                .map_err(|_| format!("the `:var` value `{value}` cannot be read"))?;
            let mut ctx = self.lisp_ctx(Some(b));
            return ctx.eval(&form);
        }
        match read_val(Some(value), true).0 {
            Val::Int(n) => Ok(Obj::Int(n)),
            Val::Str(s) if value.starts_with('"') => Ok(Obj::Str(s)),
            Val::Str(s) => self.ref_resolve(&s, depth + 1),
            _ => match string_to_float(value) {
                Some(x) => Ok(Obj::Float(x)),
                None => Err(format!(
                    "the `:var` value `{value}` is an unterminated string, which Emacs fails to \
                     read"
                )),
            },
        }
    }

    /// The `:var` assignments of block `b` as `org-babel-parse-multiple-vars` splits them.
    fn block_vars(&self, params: &Params) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for p in params.0.iter().filter(|p| p.key == ":var") {
            let Some(raw) = &p.cell.raw else {
                return Err("a `:var` without a value".into());
            };
            if raw.starts_with(['(', '\'', '`', '[', '"'])
                || read_val(Some(raw), true).0 != Val::Str(raw.clone())
            {
                return Err(format!("the `:var` argument `{raw}` is not `NAME=VALUE`"));
            }
            for v in join_near_equals(balanced_split_on(raw, ' ')) {
                out.push(org_trim_str(&v).to_string());
            }
        }
        Ok(out)
    }

    /// `org-babel-execute-src-block` of block `b` called with `args` (`:var` assignments or
    /// positional values), with `:results silent`, and the value `org-babel-ref-resolve`
    /// makes of what it returns.
    fn execute(&mut self, b: usize, args: Vec<String>, depth: usize) -> Result<Obj, String> {
        let params = self.params_of(b);
        let lang = self.blocks[b].lang.clone().unwrap_or_default();
        let block_name = self.fragment_name(b);
        let raw = |k: &str| param(&params, k).and_then(|c| c.raw.clone());
        for (key, ok) in [
            (":cache", &["no"][..]),
            (
                ":eval",
                &["yes", "query-export", "never-export", "no-export"][..],
            ),
            (":dir", &[][..]),
            (":session", &["none"][..]),
        ] {
            if let Some(v) = raw(key) {
                if !(ok.contains(&v.as_str()) || key == ":session" && lang_is_elisp(&lang)) {
                    return Err(format!(
                        "`{block_name}` has `{key} {v}`, which this tangler does not evaluate \
                         with"
                    ));
                }
            }
        }
        let shell = matches!(lang.as_str(), "sh" | "bash");
        let python = lang == "python";
        if !(lang_is_elisp(&lang) || (shell || python) && self.env.run_blocks) {
            return Err(if shell || python {
                format!(
                    "`{block_name}` is a `{lang}` block, which Emacs would run: run it with \
                     `tangle --eval` (this tangler runs shell and Python blocks only when asked)"
                )
            } else {
                format!(
                    "`{block_name}` is a `{lang}` block; this tangler evaluates emacs-lisp \
                     blocks, and runs `sh`, `bash` and `python` blocks with `--eval`"
                )
            });
        }
        let Bound {
            vars,
            cnames,
            rnames,
            colnames,
            rownames,
        } = self.bind_vars(b, &params, args, depth)?;
        let vars: Vec<(String, VarVal)> = vars
            .into_iter()
            .map(|(n, v)| (n, VarVal::Read(v)))
            .collect();
        // The `:results` words, "silent" last.
        let mut results: Vec<String> = Vec::new();
        let words: Vec<String> = params
            .0
            .iter()
            .filter(|p| p.key == ":results")
            .flat_map(|p| {
                p.cell
                    .raw
                    .clone()
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .chain(["silent".to_string()])
            .collect();
        for w in words {
            if let Some(g) = RESULT_GROUPS.iter().find(|g| g.contains(&w.as_str())) {
                results.retain(|o| !g.contains(&o.as_str()));
            }
            if !results.contains(&w) {
                results.push(w);
            }
        }
        let has = |w: &str| results.iter().any(|r| r == w);
        for w in [
            "output", "code", "pp", "file", "html", "latex", "link", "graphics",
        ] {
            if has(w) && w != "output" {
                return Err(format!(
                    "`{block_name}` has `:results {w}`, which this tangler does not evaluate"
                ));
            }
        }
        // The body, expanded as for evaluation.
        let body = self.eval_body(b, depth)?;
        if python {
            for key in [":python", ":preamble", ":return"] {
                if raw(key).is_some() {
                    return Err(format!(
                        "`{block_name}` has `{key}`, which this tangler does not run blocks with"
                    ));
                }
            }
            if !has("output") || has("table") || has("vector") || has("list") {
                return Err(format!(
                    "`{block_name}` is run by Org for its value (its `:results` are `{}`), which \
                     Org reads back from Python's printing; this tangler runs Python blocks for \
                     `:results output` only",
                    results.join(" ")
                ));
            }
            // org-babel-expand-body:generic with Python's assignments.
            let mut parts: Vec<String> = Vec::new();
            let text = |v: Option<String>| -> Result<Option<String>, String> {
                match v.map(|s| read_val(Some(&s), true).0) {
                    Some(Val::Str(s)) => Ok(Some(s)),
                    None | Some(Val::Nil) => Ok(None),
                    _ => Err("a `:prologue` or `:epilogue` that is not a string".to_string()),
                }
            };
            parts.extend(text(raw(":prologue"))?);
            for (n, v) in &vars {
                let VarVal::Read(v) = v else {
                    unreachable!("every variable is read")
                };
                parts.push(format!("{n}={}", python_text(v)?));
            }
            parts.push(body.clone());
            parts.extend(text(raw(":epilogue"))?);
            let out = self.run_program("python", &block_name, parts.join("\n"))?;
            return Ok(Obj::Str(out));
        }
        if shell {
            let vars: Vec<(String, Obj)> = vars
                .into_iter()
                .map(|(n, v)| match v {
                    VarVal::Read(v) => (n, v),
                    VarVal::Raw(_) => unreachable!("every variable is read"),
                })
                .collect();
            let prologue = raw(":prologue");
            let epilogue = raw(":epilogue");
            for key in [":stdin", ":cmdline", ":shebang", ":separator"] {
                if raw(key).is_some() {
                    return Err(format!(
                        "`{block_name}` has `{key}`, which this tangler does not run blocks with"
                    ));
                }
            }
            if has("value") {
                return Err(format!(
                    "`{block_name}` has `:results value`, whose value is the shell's exit \
                     status; this tangler does not run blocks for it"
                ));
            }
            let scalar = has("scalar")
                || has("verbatim")
                || ((has("output") || has("raw") || has("org") || has("drawer")) && !has("table"));
            let read = |v: Option<String>| v.map(|s| read_val(Some(&s), true).0);
            let text = |v: Option<Val>| match v {
                Some(Val::Str(s)) => Ok(Some(s)),
                None | Some(Val::Nil) => Ok(None),
                _ => Err("a `:prologue` or `:epilogue` that is not a string".to_string()),
            };
            let (prologue, epilogue) = (text(read(prologue))?, text(read(epilogue))?);
            let out = self.run_shell(&lang, &block_name, &vars, prologue, &body, epilogue)?;
            if scalar {
                return Ok(Obj::Str(out));
            }
            // Read as an Org table (`org-babel-import-elisp-from-file`), then as any result.
            let value = import_table(&out).map_err(|why| {
                format!(
                    "`{block_name}`'s output {why}; with `:results output` \
                                        it would be inserted as it is"
                )
            })?;
            let value = reassemble(
                value,
                pick_name(&cnames, &colnames),
                pick_name(&rnames, &rownames),
            );
            let value = if (has("vector") || has("table"))
                && !has("output")
                && !matches!(value, Obj::Nil | Obj::List(_) | Obj::Dotted(..))
            {
                Obj::List(vec![Obj::List(vec![value])])
            } else {
                value
            };
            return Ok(match value {
                Obj::Nil => Obj::Str("nil".into()),
                Obj::T => Obj::Str("t".into()),
                Obj::Sym(s) => Obj::Str(s),
                v => v,
            });
        }
        let mut forms = Vec::new();
        let mut rest = body.as_str();
        loop {
            rest = skip_blanks(rest);
            if rest.is_empty() {
                break;
            }
            match read_sexp(rest) {
                Ok((f, r)) => {
                    forms.push(f);
                    rest = r;
                }
                Err(_) => {
                    return Err(format!(
                        "the body of `{block_name}` cannot be read by this tangler's Lisp reader"
                    ))
                }
            }
        }
        let mut ctx = self.lisp_ctx(Some(b));
        for (n, v) in &vars {
            let VarVal::Read(v) = v else {
                unreachable!("every variable is read")
            };
            ctx.vars.push((n.clone(), v.clone()));
        }
        // `:results output`: `with-output-to-string` around the body.
        if has("output") {
            ctx.output = Some(String::new());
        }
        let value = ctx
            .progn(&forms)
            .map_err(|e| format!("in `{block_name}`: {e}"))?;
        let value = match ctx.output.take() {
            Some(out) => Obj::Str(out),
            None => value,
        };
        let scalar = has("scalar")
            || has("verbatim")
            || ((has("raw") || has("org") || has("drawer")) && !has("table"));
        let value = if scalar {
            Obj::Str(if has("scalar") || has("verbatim") {
                printed(&value)?
            } else {
                if !value.printable() {
                    return Err("the result is a function".into());
                }
                value.show(false)
            })
        } else {
            let colnames_sel = pick_name(&cnames, &colnames);
            let rownames_sel = pick_name(&rnames, &rownames);
            reassemble(value, colnames_sel, rownames_sel)
        };
        let value = if (has("vector") || has("table"))
            && !matches!(value, Obj::Nil | Obj::List(_) | Obj::Dotted(..))
        {
            Obj::List(vec![Obj::List(vec![value])])
        } else {
            value
        };
        Ok(match value {
            Obj::Nil => Obj::Str("nil".into()),
            Obj::T => Obj::Str("t".into()),
            Obj::Sym(s) => Obj::Str(s),
            v => v,
        })
    }

    /// The variables of block `b` called with `args`, as `org-babel-execute-src-block`
    /// binds them: the block's `:var` defaults merged and read (`org-babel-merge-params`,
    /// `org-babel-process-params` with its table handling), then merged and read again with
    /// the arguments.
    fn bind_vars(
        &mut self,
        b: usize,
        params: &Params,
        args: Vec<String>,
        depth: usize,
    ) -> Result<Bound, String> {
        let block_name = self.fragment_name(b);
        let raw = |k: &str| param(params, k).and_then(|c| c.raw.clone());
        // org-babel-merge-params of the block's own parameters.
        let mut vars: Vec<(String, VarVal)> = Vec::new();
        for v in self.block_vars(params)? {
            match var_name(&v) {
                Some(n) => {
                    vars.retain(|(x, _)| *x != n);
                    vars.push((n, VarVal::Raw(v)));
                }
                None => {
                    return Err(format!(
                        "`{block_name}`: the variable `{v}` must be assigned a default value \
                         (Emacs fails)"
                    ))
                }
            }
        }
        let read = |t: &mut Self, vars: &mut Vec<(String, VarVal)>| -> Result<(), String> {
            for (_, v) in vars.iter_mut() {
                if let VarVal::Raw(a) = v {
                    // org-babel-ref-parse: `\\(.+?\\)=`.
                    let k = a
                        .find('=')
                        .filter(|&k| k > 0)
                        .ok_or_else(|| format!("the `:var` assignment `{a}` has no name"))?;
                    let value = org_trim_str(&a[k + 1..]).to_string();
                    *v = VarVal::Read(t.var_value(b, &value, depth)?);
                }
            }
            Ok(())
        };
        read(self, &mut vars)?;
        let hlines = read_val(raw(":hlines").as_deref(), true).0;
        let colnames = read_val(raw(":colnames").as_deref(), true).0;
        let rownames = read_val(raw(":rownames").as_deref(), true).0;
        for (k, v) in [
            (":colnames", &colnames),
            (":rownames", &rownames),
            (":hlines", &hlines),
        ] {
            if !matches!(v, Val::Nil | Val::Str(_)) {
                return Err(format!(
                    "`{k}` values other than `yes` and `no` are not evaluated"
                ));
            }
        }
        let (mut cnames, mut rnames) = disassemble(&mut vars, &hlines, &colnames, &rownames);
        // Merged again with the call's arguments (org-babel-execute-src-block).
        let mut clear: Vec<String> = Vec::new();
        let mut index = 0;
        for a in args {
            match var_name(&a) {
                Some(n) => {
                    if vars.iter().any(|(x, _)| *x == n) {
                        clear.push(n.clone());
                        vars.retain(|(x, _)| *x != n);
                    }
                    vars.push((n, VarVal::Raw(a)));
                }
                None if index < vars.len() => {
                    let n = vars[index].0.clone();
                    clear.push(n.clone());
                    vars[index].1 = VarVal::Raw(format!("{n}={a}"));
                    index += 1;
                }
                None => {
                    return Err(format!(
                        "the argument `{a}` has no variable of `{block_name}` to go to (Emacs \
                         fails: \"Variable must be assigned a default value\")"
                    ))
                }
            }
        }
        read(self, &mut vars)?;
        if !clear.is_empty() {
            cnames.retain(|(n, _)| !clear.contains(n));
            rnames.retain(|(n, _)| !clear.contains(n));
            if cnames.is_empty() || rnames.is_empty() {
                let (c2, r2) = disassemble(&mut vars, &hlines, &colnames, &rownames);
                if cnames.is_empty() {
                    cnames = c2;
                }
                if rnames.is_empty() {
                    rnames = r2;
                }
            }
        }
        let vars = vars
            .into_iter()
            .map(|(n, v)| match v {
                VarVal::Read(v) => (n, v),
                VarVal::Raw(_) => unreachable!("every variable is read"),
            })
            .collect();
        Ok(Bound {
            vars,
            cnames,
            rnames,
            colnames,
            rownames,
        })
    }

    /// `org-babel--expand-body`: block `b`'s body with its noweb references expanded as for
    /// evaluation and its coderefs removed.
    fn eval_body(&mut self, b: usize, depth: usize) -> Result<String, String> {
        if self.light_val(b, ":comments") == Val::Str("noweb".into()) {
            return Err("`:comments noweb` in a called block is not supported".into());
        }
        let text = self.expand_text(b, depth)?;
        let fmt = label_format(&self.blocks[b].switches).unwrap_or_else(|| "(ref:%s)".into());
        let mut lines: Vec<MappedLine> = text
            .split('\n')
            .map(|l| MappedLine {
                text: l.to_string(),
                origin: None,
                pieces: Vec::new(),
            })
            .collect();
        remove_coderefs(&mut lines, &fmt);
        Ok(lines
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// `org-babel-expand-noweb-references` of block `b` in the `:eval` context, on text.
    fn expand_text(&mut self, b: usize, depth: usize) -> Result<String, String> {
        if depth > MAX_CALL_DEPTH {
            return Err(format!(
                "references nest more than {MAX_CALL_DEPTH} deep (a cycle? Emacs would \
                 recurse until `max-lisp-eval-depth`)"
            ));
        }
        let body: Vec<String> = self
            .normalized_body(b)
            .lines
            .into_iter()
            .map(|l| l.text)
            .collect();
        if !self.noweb_eval(b) {
            return Ok(body.join("\n"));
        }
        let mut out = String::new();
        for (k, line) in body.iter().enumerate() {
            if k > 0 {
                out.push('\n');
            }
            let mut from = 0;
            while let Some(m) = find_ref(line, from) {
                out.push_str(&line[from..m.lt]);
                let prefix = &line[m.mb..m.lt];
                let id = &line[m.id.0..m.id.1];
                let expansion = self.reference_text(id, depth + 1)?;
                let parts: Vec<&str> = expansion.split(['\n', '\r']).collect();
                out.push_str(&parts.join(&format!("\n{prefix}")));
                from = m.me;
            }
            out.push_str(&line[from..]);
        }
        Ok(out)
    }

    /// What reference `id` expands to in the `:eval` context.
    fn reference_text(&mut self, id: &str, depth: usize) -> Result<String, String> {
        if id.find('(').is_some_and(|p| id[p..].contains(')')) {
            return self.call_text(id, depth);
        }
        if self.ids.iter().any(|x| x == id) {
            return Err(format!(
                "`<<{id}>>` names a headline `:ID:`/`:CUSTOM_ID:`; not supported"
            ));
        }
        let Some(g) = self.resolve(id).map_err(|d| d.message)? else {
            return Ok(String::new());
        };
        let group = self.groups[g].clone();
        let mut out = String::new();
        for (k, &cb) in group.blocks.iter().enumerate() {
            if k > 0 {
                out.push_str(&group.seps[k - 1]);
            }
            out.push_str(&self.expand_text(cb, depth)?);
        }
        Ok(out)
    }
}

impl Tangler<'_> {
    /// Runs a shell block as `org-babel-execute:sh` does without a session: the variables
    /// assigned (`name='value'`), the prologue, body and epilogue joined by new lines and
    /// trimmed, given to the shell on standard input, in the org file's folder. Returns its
    /// standard output.
    fn run_shell(
        &self,
        lang: &str,
        block_name: &str,
        vars: &[(String, Obj)],
        prologue: Option<String>,
        body: &str,
        epilogue: Option<String>,
    ) -> Result<String, String> {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(prologue);
        for (n, v) in vars {
            let value = match v {
                Obj::Str(s) => s.clone(),
                Obj::Int(_) | Obj::Sym(_) | Obj::T | Obj::Nil => v.show(true),
                Obj::List(items)
                    if lang == "sh"
                        && !items.iter().any(|i| {
                            matches!(i, Obj::List(_) | Obj::Dotted(..))
                                || *i == Obj::Sym("hline".into())
                        }) =>
                {
                    let shown: Result<Vec<String>, String> = items
                        .iter()
                        .map(|i| match i {
                            Obj::Str(s) => Ok(s.clone()),
                            other => printed(other),
                        })
                        .collect();
                    shown?.join("\n")
                }
                _ => {
                    return Err(format!(
                        "`{block_name}`'s variable `{n}` is a table or a list, which this \
                         tangler does not pass to a `{lang}` block"
                    ))
                }
            };
            parts.push(format!("{n}='{}'", value.replace('\'', "'\"'\"'")));
        }
        parts.push(body.to_string());
        parts.extend(epilogue);
        let script = org_trim_str(&parts.join("\n")).to_string();
        self.run_program(lang, block_name, script)
    }

    /// Runs `program` (found on `PATH`) in the org file's folder with `script` on its
    /// standard input, as `org-babel-eval` does; its standard output, or why it failed.
    fn run_program(
        &self,
        program: &str,
        block_name: &str,
        script: String,
    ) -> Result<String, String> {
        use std::io::Write;
        let lang = program;
        let dir = self
            .env
            .cwd
            .join(self.path.parent().unwrap_or(Path::new("")));
        let mut child = std::process::Command::new(lang)
            .current_dir(&dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `{lang}` for `{block_name}`: {e}"))?;
        let mut stdin = child.stdin.take().expect("piped");
        let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
        let out = child
            .wait_with_output()
            .map_err(|e| format!("running `{lang}` for `{block_name}`: {e}"))?;
        let _ = writer.join();
        if !out.status.success() {
            return Err(format!(
                "`{block_name}` fails ({}): {}; Emacs would insert `nil`",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        String::from_utf8(out.stdout)
            .map_err(|_| format!("`{block_name}` writes bytes that are not UTF-8"))
    }
}

/// How the variables of a tangled block go into its tangled body.
pub(super) enum VarCode {
    /// `org-babel-expand-body:emacs-lisp`: the body inside `(let (BINDINGS)` ... `)`.
    Let(String),
    /// `org-babel-expand-body:generic`: assignment lines between the prologue and the body.
    Lines(Vec<String>),
}

/// Shell names whose `org-babel-variable-assignments:` ob-shell defines.
const SHELLS: [&str; 11] = [
    "sh", "bash", "zsh", "fish", "csh", "ash", "dash", "ksh", "mksh", "posh", "shell",
];

/// `org-babel-sh-var-to-string`'s text of a value: a table's rows with tab separated cells
/// (an hline as `hline` under `:hlines yes`, else left out), a list's items on lines, a
/// string as it is, anything else printed.
fn sh_text(v: &Obj, hline_text: Option<&str>) -> Result<String, String> {
    let echo = |x: &Obj| match x {
        Obj::Str(s) => Ok(s.clone()),
        other => printed(other),
    };
    let hline = Obj::Sym("hline".into());
    match v {
        Obj::List(items)
            if matches!(
                items.first(),
                Some(Obj::List(_) | Obj::Nil | Obj::Dotted(..))
            ) || items.first() == Some(&hline) =>
        {
            let mut rows = Vec::new();
            for r in items {
                match r {
                    r if *r == hline => rows.extend(hline_text.map(str::to_string)),
                    Obj::List(cells) => rows.push(
                        cells
                            .iter()
                            .map(echo)
                            .collect::<Result<Vec<_>, _>>()?
                            .join("\t"),
                    ),
                    Obj::Nil => rows.push(String::new()),
                    _ => return Err("a table with rows that are not lists".into()),
                }
            }
            Ok(rows.join("\n"))
        }
        Obj::List(items) => Ok(items
            .iter()
            .map(echo)
            .collect::<Result<Vec<_>, _>>()?
            .join("\n")),
        Obj::Dotted(..) => Err("a dotted pair".into()),
        other => echo(other),
    }
}

/// `org-babel-python-var-to-python`.
fn python_text(v: &Obj) -> Result<String, String> {
    match v {
        Obj::Nil => Ok("[]".into()),
        Obj::List(items) => Ok(format!(
            "[{}]",
            items
                .iter()
                .map(python_text)
                .collect::<Result<Vec<_>, _>>()?
                .join(", ")
        )),
        Obj::Sym(s) if s == "hline" => Ok("None".into()),
        Obj::Str(s) if s.contains(['\n', '\r']) => Ok(format!("\"\"{}\"\"", v.show(true))),
        Obj::Dotted(..) => Err("a dotted pair, which Emacs fails to write for Python".into()),
        other => printed(other),
    }
}

impl Tangler<'_> {
    /// The variables of tangled block `b` as `org-babel-tangle-single-block` writes them:
    /// read as for evaluation (without arguments), then assigned in the block's language
    /// (`None`: the language has no assignments, and Org drops them).
    pub(super) fn tangle_vars(
        &mut self,
        b: usize,
        params: &Params,
    ) -> Result<Option<VarCode>, String> {
        let lang = self.blocks[b].lang.clone().unwrap_or_default();
        if matches!(lang.as_str(), "C" | "C++" | "cpp" | "D") {
            return Err(format!("`:var` in `{lang}` blocks is not supported"));
        }
        let bound = self.bind_vars(b, params, Vec::new(), 0)?;
        let vars = bound.vars;
        Ok(match lang.as_str() {
            "emacs-lisp" | "elisp" => {
                let mut bindings = Vec::new();
                for (n, v) in &vars {
                    if !v.printable() {
                        return Err(format!("`{n}` is a function"));
                    }
                    bindings.push(format!("({n} '{})", v.show(true)));
                }
                Some(VarCode::Let(bindings.join("\n      ")))
            }
            "python" => Some(VarCode::Lines(
                vars.iter()
                    .map(|(n, v)| Ok(format!("{n}={}", python_text(v)?)))
                    .collect::<Result<_, String>>()?,
            )),
            l if SHELLS.contains(&l) => {
                // ob-shell writes bash arrays when Emacs' own shell is bash.
                let shell = self
                    .env
                    .vars
                    .get("SHELL")
                    .cloned()
                    .unwrap_or_else(|| "/bin/sh".into());
                let mut lines = Vec::new();
                let hlines = param(params, ":hlines").and_then(|c| c.raw.clone());
                if param(params, ":separator").is_some() || param(params, ":hline-string").is_some()
                {
                    return Err("`:separator` and `:hline-string` are not supported".into());
                }
                let hline_text = (hlines.as_deref() == Some("yes")).then_some("hline");
                for (n, v) in &vars {
                    let list = matches!(v, Obj::List(_) | Obj::Dotted(..));
                    if list && shell.ends_with("bash") {
                        return Err(format!(
                            "`{n}` is a list or a table, which Org writes as a bash array when \
                             Emacs' shell (`$SHELL`, here `{shell}`) is bash; not supported"
                        ));
                    }
                    let text = sh_text(v, hline_text).map_err(|why| format!("`{n}` is {why}"))?;
                    lines.push(format!("{n}='{}'", text.replace('\'', "'\"'\"'")));
                }
                Some(VarCode::Lines(lines))
            }
            _ => None,
        })
    }
}

fn lang_is_elisp(lang: &str) -> bool {
    lang == "emacs-lisp" || lang == "elisp"
}

/// The variable an assignment names (`org-babel-merge-params`:
/// `^\\([^= \f\t\n\r\v]+\\)[ \t]*=`), or `None` for a positional value.
fn var_name(a: &str) -> Option<String> {
    let end = a
        .find(|c: char| c == '=' || " \x0c\t\n\r\x0b".contains(c))
        .unwrap_or(a.len());
    if end == 0 {
        return None;
    }
    let rest = a[end..].trim_start_matches([' ', '\t']);
    rest.starts_with('=').then(|| a[..end].to_string())
}

/// `org-babel-disassemble-tables`: column names, row names and hlines taken out of the
/// table values of `vars`; returns the column and row names by variable.
#[allow(clippy::type_complexity)]
fn disassemble(
    vars: &mut [(String, VarVal)],
    hlines: &Val,
    colnames: &Val,
    rownames: &Val,
) -> (Vec<(String, Obj)>, Vec<(String, Obj)>) {
    let hline = Obj::Sym("hline".into());
    let no = |v: &Val| *v == Val::Str("no".into());
    let mut cnames = Vec::new();
    let mut rnames = Vec::new();
    for (name, v) in vars.iter_mut() {
        let VarVal::Read(value) = v else { continue };
        let mut rows = match value {
            Obj::Nil => Vec::new(),
            Obj::List(items) => items.clone(),
            _ => continue,
        };
        if !no(colnames)
            && (*colnames != Val::Nil
                || (rows.len() > 1 && rows[1] == hline && !rows[2..].contains(&hline)))
        {
            let (rest, names) = if rows.get(1) == Some(&hline) {
                (rows[2..].to_vec(), rows[0].clone())
            } else {
                (
                    rows.get(1..).map(<[Obj]>::to_vec).unwrap_or_default(),
                    rows.first().cloned().unwrap_or(Obj::Nil),
                )
            };
            cnames.push((name.clone(), names));
            rows = rest;
        }
        if *rownames != Val::Nil && !no(rownames) {
            rows.retain(|r| *r != hline);
            let mut names = Vec::new();
            for r in rows.iter_mut() {
                if let Obj::List(cells) = r {
                    names.push(cells.remove(0));
                    if cells.is_empty() {
                        *r = Obj::Nil;
                    }
                } else {
                    names.push(Obj::Nil);
                }
            }
            rnames.push((name.clone(), Obj::list(names)));
        }
        if *hlines != Val::Nil && *hlines != Val::Str("yes".into()) {
            rows.retain(|r| *r != hline);
        }
        *value = Obj::list(rows);
    }
    (cnames, rnames)
}

/// `org-babel-pick-name` with a selector read from a header argument.
fn pick_name(names: &[(String, Obj)], selector: &Val) -> Option<Obj> {
    match selector {
        Val::Nil => None,
        _ => names.last().map(|(_, n)| n.clone()),
    }
}

/// `org-babel-reassemble-table`.
fn reassemble(table: Obj, colnames: Option<Obj>, rownames: Option<Obj>) -> Obj {
    let Obj::List(mut rows) = table else {
        return table;
    };
    if let Some(Obj::List(rn)) = &rownames {
        if rn.len() == rows.len() {
            // Only rows that are lists take a name, in turn (`org-babel-put-rownames`).
            let mut names = rn.iter();
            for r in rows.iter_mut() {
                let mut name = || names.next().cloned().unwrap_or(Obj::Str(String::new()));
                match r {
                    Obj::List(cells) => cells.insert(0, name()),
                    Obj::Nil => *r = Obj::List(vec![name()]),
                    Obj::Dotted(cells, _) => cells.insert(0, name()),
                    _ => {}
                }
            }
        }
    }
    if let Some(Obj::List(cn)) = &colnames {
        let width = match rows.first() {
            Some(Obj::List(c)) => Some(c.len()),
            Some(Obj::Nil) => Some(0),
            _ => None,
        };
        if width == Some(cn.len()) {
            rows.insert(0, Obj::Sym("hline".into()));
            rows.insert(0, Obj::List(cn.clone()));
        }
    }
    Obj::List(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_org() {
        assert_eq!(
            balanced_split_on("a=\"x, y\", b=(1, 2) ,c", ','),
            vec!["a=\"x, y\"", " b=(1, 2) ", "c"]
        );
        assert_eq!(
            join_near_equals(balanced_split_on("x = 1 y=\"a b\"", ' ')),
            vec!["x=1".to_string(), "y=\"a b\"".to_string()]
        );
        assert_eq!(var_name("x = 1").as_deref(), Some("x"));
        assert_eq!(var_name("\"fg\""), None);
        let c = parse_call("get(name=\"fg\", 2)").unwrap().unwrap();
        assert_eq!(c.name, "get");
        assert_eq!(c.args, vec!["name=\"fg\"".to_string(), "2".to_string()]);
        assert!(parse_call("plain").unwrap().is_none());
    }
}
