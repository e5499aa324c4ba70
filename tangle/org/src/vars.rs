//! A block's variables: its `:var` assignments split (`org-babel-parse-multiple-vars`),
//! merged with a call's arguments by name or position (`org-babel-merge-params`), read
//! (`org-babel-ref-parse`) with tables' column names, row names and hlines handled as
//! `org-babel-process-params` does, and written into a tangled block's code as each
//! language's Org code writes them.

use super::call::{org_trim_str, printed};
use super::data::string_to_float;
use super::eval::Obj;
use super::header::{balanced_split_at, param, read_val, Alts, Params, Val};
use super::lisp::read_sexp;
use super::{string_nw, Tangler};

/// One `:var` of a block being called: its name and its value, read or still as written
/// (`name=value`).
#[derive(Clone)]
pub(super) enum VarVal {
    Read(Obj),
    Raw(String),
}

/// A called block's variables, read, and the table names taken out of them.
pub(super) struct Bound {
    pub(super) vars: Vec<(String, Obj)>,
    pub(super) cnames: Vec<(String, Obj)>,
    pub(super) rnames: Vec<(String, Obj)>,
    pub(super) colnames: Val,
    pub(super) rownames: Val,
}

/// `org-babel-balanced-split` with a single character as ALTS (`,` between call arguments,
/// a space between `:var` assignments): the character splits outside brackets and quotes
/// and is dropped.
pub(super) fn balanced_split_on(s: &str, split: char) -> Vec<String> {
    balanced_split_at(s, Alts::Char(split))
}

/// `org-babel-join-splits-near-ch` with `=`: a piece ending with `=` or one starting with
/// `=` is joined to its neighbour.
pub(super) fn join_near_equals(pieces: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in pieces {
        match out.last_mut() {
            Some(head) if head.ends_with('=') || p.starts_with('=') => head.push_str(&p),
            _ => out.push(p),
        }
    }
    out
}

/// How the variables of a tangled block go into its tangled body.
pub(super) enum VarCode {
    /// `org-babel-expand-body:emacs-lisp`: the body inside `(let (BINDINGS)` ... `)`.
    Let(String),
    /// `org-babel-expand-body:generic`: assignment lines between the prologue and the body.
    Lines(Vec<String>),
}

/// Shell names whose `org-babel-variable-assignments:` ob-shell defines.
pub(super) const SHELLS: [&str; 11] = [
    "sh", "bash", "zsh", "fish", "csh", "ash", "dash", "ksh", "mksh", "posh", "shell",
];

/// `org-babel-sh-var-to-string`'s text of a value: a table's rows with tab separated cells
/// (an hline as `hline` under `:hlines yes`, else left out), a list's items on lines, a
/// string as it is, anything else printed.
pub(super) fn sh_text(v: &Obj, hline_text: Option<&str>) -> Result<String, String> {
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
pub(super) fn python_text(v: &Obj) -> Result<String, String> {
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

/// The variable an assignment names (`org-babel-merge-params`:
/// `^\\([^= \f\t\n\r\v]+\\)[ \t]*=`), or `None` for a positional value.
pub(super) fn var_name(a: &str) -> Option<String> {
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
pub(super) fn disassemble(
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
pub(super) fn pick_name(names: &[(String, Obj)], selector: &Val) -> Option<Obj> {
    match selector {
        Val::Nil => None,
        _ => names.last().map(|(_, n)| n.clone()),
    }
}

/// `org-babel-reassemble-table`.
pub(super) fn reassemble(table: Obj, colnames: Option<Obj>, rownames: Option<Obj>) -> Obj {
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

impl Tangler<'_> {
    /// `org-babel-ref-parse`'s reading of a variable's value (`org-babel-read`, then a
    /// reference when it stays the same string).
    pub(super) fn var_value(&mut self, b: usize, value: &str, depth: usize) -> Result<Obj, String> {
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
    pub(super) fn block_vars(&self, params: &Params) -> Result<Vec<String>, String> {
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

    /// The variables of block `b` called with `args`, as `org-babel-execute-src-block`
    /// binds them: the block's `:var` defaults merged and read (`org-babel-merge-params`,
    /// `org-babel-process-params` with its table handling), then merged and read again with
    /// the arguments.
    pub(super) fn bind_vars(
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

    /// The variables of tangled block `b` as `org-babel-tangle-single-block` writes them:
    /// read as for evaluation (without arguments), then assigned in the block's language
    /// (`None`: the language has no assignments, and Org drops them).
    pub(super) fn tangle_vars(
        &mut self,
        b: usize,
        params: &Params,
    ) -> Result<Option<VarCode>, String> {
        let lang = self.doc.blocks[b].lang.clone().unwrap_or_default();
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
                    .doc
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
