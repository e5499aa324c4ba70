//! Code-block calls: the noweb references `<<name(args)>>` that Org evaluates while
//! tangling, as Org 9.5.5 does it. `org-babel-ref-resolve` finds what `name` names (a code
//! block, an Org table, a plain list, an example block), binds the arguments over the
//! block's `:var` defaults (`org-babel-merge-params`, `org-babel-process-params` with its
//! table handling under `:hlines`, `:colnames` and `:rownames`), runs the block (emacs-lisp
//! blocks by the side-effect-free evaluator, other languages only with `--eval`), and the
//! reference expands to the result as `org-babel-expand-noweb-references` inserts it: a
//! string as it is, anything else printed with `%S`.

use super::body::{label_format, remove_coderefs};
use super::data::{import_table, index_list, split_index, Named};
use super::eval::{Ctx, Obj};
use super::header::{param, read_val, Val};
use super::lisp::{read_sexp, skip_blanks, ReadError};
use super::noweb::find_ref;
use super::python::{scalar_results, table_or_string, wrapped, Session};
use super::vars::{balanced_split_on, pick_name, python_text, reassemble, Bound, VarVal};
use super::Tangler;
use std::path::Path;
use tangle_core::mapped::MappedLine;

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

/// What a called reference asks for: the block's name and its arguments as written.
struct CallSpec {
    name: String,
    args: Vec<String>,
}

/// `org-trim`.
pub(super) fn org_trim_str(s: &str) -> &str {
    s.trim_matches([' ', '\t', '\n', '\r'])
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

/// `%S`-printable text of a value, or why not.
pub(super) fn printed(v: &Obj) -> Result<String, String> {
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

    /// `org-babel-ref-resolve`: the value of reference `r` (a name, or a call with arguments).
    pub(super) fn ref_resolve(&mut self, r: &str, depth: usize) -> Result<Obj, String> {
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
            if self.doc.ids.contains(&name) {
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

    /// A Lisp evaluation context at block `b` (its folder, file and tags).
    pub(super) fn lisp_ctx(&self, b: Option<usize>) -> Ctx<'_> {
        let dir = self
            .doc
            .env
            .cwd
            .join(self.doc.path.parent().unwrap_or(Path::new("")));
        let dir = tangle_core::paths::normalize(&dir)
            .to_string_lossy()
            .into_owned();
        let file = self.doc.env.cwd.join(self.doc.path);
        let file = tangle_core::paths::normalize(&file)
            .to_string_lossy()
            .into_owned();
        let mut ctx = Ctx::new(
            self.doc.env,
            format!("{}/", dir.trim_end_matches('/')),
            file,
        );
        if let Some(h) = b.and_then(|b| self.doc.blocks[b].heading) {
            ctx.local_tags = self.doc.headings[h].tags.clone();
            let mut inherited = self.doc.file_tags.clone();
            let mut chain = Vec::new();
            let mut p = self.doc.headings[h].parent;
            while let Some(k) = p {
                chain.push(k);
                p = self.doc.headings[k].parent;
            }
            for k in chain.into_iter().rev() {
                for t in &self.doc.headings[k].tags {
                    if !inherited.contains(t) {
                        inherited.push(t.clone());
                    }
                }
            }
            ctx.inherited_tags = inherited;
        } else {
            ctx.inherited_tags = self.doc.file_tags.clone();
        }
        ctx
    }

    /// `org-babel-execute-src-block` of block `b` called with `args` (`:var` assignments or
    /// positional values), with `:results silent`, and the value `org-babel-ref-resolve`
    /// makes of what it returns.
    fn execute(&mut self, b: usize, args: Vec<String>, depth: usize) -> Result<Obj, String> {
        let params = self.doc.params_of(b);
        let block_name = self.fragment_name(b);
        let raw = |k: &str| param(&params, k).and_then(|c| c.raw.clone());
        let lang = self.doc.blocks[b].lang.clone().unwrap_or_default();
        // A bare `:session` is a session too (Org's value is nil, not "none").
        let session = param(&params, ":session")
            .map(|c| c.raw.clone().unwrap_or_default())
            .filter(|s| s != "none" && !lang_is_elisp(&lang));
        for (key, ok) in [
            (":cache", &["no"][..]),
            (
                ":eval",
                &["yes", "query-export", "never-export", "no-export"][..],
            ),
            (":dir", &[][..]),
        ] {
            if let Some(v) = raw(key) {
                if !ok.contains(&v.as_str()) {
                    return Err(format!(
                        "`{block_name}` has `{key} {v}`, which this tangler does not evaluate \
                         with"
                    ));
                }
            }
        }
        let shell = matches!(lang.as_str(), "sh" | "bash");
        let python = lang == "python";
        if let Some(name) = session.as_deref().filter(|_| !python) {
            return Err(format!(
                "`{block_name}` has `{}`, which this tangler does not evaluate with (it keeps \
                 sessions for Python blocks only)",
                format!(":session {name}").trim_end()
            ));
        }
        if !(lang_is_elisp(&lang) || (shell || python) && self.doc.env.run_blocks) {
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
            if has("table") || has("vector") || has("list") {
                return Err(format!(
                    "`{block_name}` has `:results {}`, which makes Org read its value as a Lisp \
                     table; this tangler does not",
                    results.join(" ")
                ));
            }
            if has("output") && session.is_some() {
                return Err(format!(
                    "`{block_name}` is run in a session for its output, which this tangler \
                     does not do (it runs sessions for values)"
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
            let full = parts.join("\n");
            if has("output") {
                let out = self.run_program("python", &block_name, full)?;
                return Ok(Obj::Str(out));
            }
            let raw = match session {
                Some(name) => self.run_python_session(&name, &block_name, &full)?,
                None => self.run_python_value(&block_name, &full)?,
            };
            let value = if scalar_results(&results) {
                Obj::Str(raw)
            } else {
                table_or_string(&raw).map_err(|why| format!("`{block_name}`: {why}"))?
            };
            return Ok(match value {
                Obj::Nil => Obj::Str("nil".into()),
                v => v,
            });
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
                Err(e) => {
                    let line = body[..body.len() - rest.len()].matches('\n').count() + 1;
                    let why = match e {
                        ReadError::EndOfInput => "an expression there is never closed",
                        ReadError::Unsupported => {
                            "it holds syntax the reader does not read (a vector, a backquote, \
                             a `)` out of place or a string escape)"
                        }
                        ReadError::TooDeep => "its lists nest too deeply",
                    };
                    return Err(format!(
                        "the body of `{block_name}` cannot be read by this tangler's Lisp \
                         reader: from its line {line}, {why}"
                    ));
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

    /// `org-babel--expand-body`: block `b`'s body with its noweb references expanded as for
    /// evaluation and its coderefs removed.
    fn eval_body(&mut self, b: usize, depth: usize) -> Result<String, String> {
        if self.light_val(b, ":comments") == Val::Str("noweb".into()) {
            return Err("`:comments noweb` in a called block is not supported".into());
        }
        let text = self.expand_text(b, depth)?;
        let fmt = label_format(&self.doc.blocks[b].switches).unwrap_or_else(|| "(ref:%s)".into());
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
        if self.doc.ids.iter().any(|x| x == id) {
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

    /// Runs a Python block for its value without a session: `body` wrapped in
    /// `def main():`, its `str()` written to a temporary file, which is read back.
    fn run_python_value(&self, block_name: &str, body: &str) -> Result<String, String> {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let file = std::env::temp_dir().join(format!("tangle-python-{}-{n}", std::process::id()));
        std::fs::write(&file, "").map_err(|e| format!("cannot make a temporary file: {e}"))?;
        let run = self.run_program("python", block_name, wrapped(body, &file, false));
        let text = std::fs::read_to_string(&file);
        let _ = std::fs::remove_file(&file);
        run?;
        text.map_err(|e| format!("cannot read `{block_name}`'s value back: {e}"))
    }

    /// Runs a Python block for its value in the session `name` (started on first use, in
    /// the org file's folder, and kept for the rest of the tangle).
    fn run_python_session(
        &mut self,
        name: &str,
        block_name: &str,
        body: &str,
    ) -> Result<String, String> {
        if !self.python_sessions.contains_key(name) {
            let dir = self
                .doc
                .env
                .cwd
                .join(self.doc.path.parent().unwrap_or(Path::new("")));
            let s = Session::start(&dir)?;
            self.python_sessions.insert(name.to_string(), s);
        }
        self.session_runs += 1;
        let s = self.python_sessions.get_mut(name).expect("just started");
        s.run(body, false)
            .map_err(|why| format!("`{block_name}`: {why}"))
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
            .doc
            .env
            .cwd
            .join(self.doc.path.parent().unwrap_or(Path::new("")));
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

impl Tangler<'_> {}

fn lang_is_elisp(lang: &str) -> bool {
    lang == "emacs-lisp" || lang == "elisp"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars::join_near_equals;
    use crate::vars::var_name;

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
