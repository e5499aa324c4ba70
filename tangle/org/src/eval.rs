//! A small evaluator for the Lisp that header arguments of real documents use
//! (`:tangle (if (executable-find "mbsync") "~/.config/x" "no")`), with Emacs 28's
//! semantics: special forms (`if`, `when`, `unless`, `cond`, `and`, `or`, `progn`, `let`,
//! `let*`, `quote`), string and file-name functions, a few predicates that look at the
//! machine as Emacs would (`getenv`, `executable-find`, `file-exists-p`, `file-directory-p`),
//! and `org-get-tags`. It has no side effects; any other function is refused, by name.

use super::env::OrgEnv;
use super::lisp::Sexp;
use std::path::Path;

/// A Lisp value. Values compare as `equal` does (floats bit for bit: `-0.0` is not `0.0`).
#[derive(Debug, Clone)]
pub(super) enum Obj {
    Nil,
    T,
    Int(i64),
    Float(f64),
    Str(String),
    Sym(String),
    List(Vec<Obj>),
    /// An improper list: its elements and the final cdr (`(a b . c)`).
    Dotted(Vec<Obj>, Box<Obj>),
    /// `(lambda PARAMS BODY...)`: the parameter names and the body.
    Lambda(Vec<String>, Vec<Sexp>),
}

impl PartialEq for Obj {
    fn eq(&self, other: &Obj) -> bool {
        match (self, other) {
            (Obj::Nil, Obj::Nil) | (Obj::T, Obj::T) => true,
            (Obj::Int(a), Obj::Int(b)) => a == b,
            (Obj::Float(a), Obj::Float(b)) => a.to_bits() == b.to_bits(),
            (Obj::Str(a), Obj::Str(b)) | (Obj::Sym(a), Obj::Sym(b)) => a == b,
            (Obj::List(a), Obj::List(b)) => a == b,
            (Obj::Dotted(a, x), Obj::Dotted(b, y)) => a == b && x == y,
            (Obj::Lambda(p, x), Obj::Lambda(q, y)) => p == q && x == y,
            _ => false,
        }
    }
}

impl Obj {
    pub(super) fn truthy(&self) -> bool {
        !matches!(self, Obj::Nil)
    }

    pub(super) fn bool(b: bool) -> Obj {
        if b {
            Obj::T
        } else {
            Obj::Nil
        }
    }

    pub(super) fn list(items: Vec<Obj>) -> Obj {
        if items.is_empty() {
            Obj::Nil
        } else {
            Obj::List(items)
        }
    }

    /// `prin1` (`quoted`) or `princ` text.
    pub(super) fn show(&self, quoted: bool) -> String {
        match self {
            Obj::Nil => "nil".into(),
            Obj::T => "t".into(),
            Obj::Int(n) => n.to_string(),
            Obj::Float(x) => super::lisp::float_to_string(*x),
            Obj::Str(s) if quoted => {
                format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
            }
            Obj::Str(s) => s.clone(),
            Obj::Sym(s) => s.clone(),
            // `print-quoted`: `(quote X)` prints as `'X`, `(function X)` as `#'X`.
            Obj::List(items)
                if items.len() == 2 && matches!(&items[0], Obj::Sym(q) if q == "quote") =>
            {
                format!("'{}", items[1].show(quoted))
            }
            Obj::List(items)
                if items.len() == 2 && matches!(&items[0], Obj::Sym(q) if q == "function") =>
            {
                format!("#'{}", items[1].show(quoted))
            }
            Obj::List(items) => {
                let inner: Vec<String> = items.iter().map(|i| i.show(quoted)).collect();
                format!("({})", inner.join(" "))
            }
            Obj::Dotted(items, tail) => {
                let inner: Vec<String> = items.iter().map(|i| i.show(quoted)).collect();
                format!("({} . {})", inner.join(" "), tail.show(quoted))
            }
            Obj::Lambda(params, _) => format!("(lambda ({}) …)", params.join(" ")),
        }
    }

    /// Whether [`Obj::show`] prints it as Emacs would (a function value is not printed).
    pub(super) fn printable(&self) -> bool {
        match self {
            Obj::Lambda(..) => false,
            Obj::List(items) => items.iter().all(Obj::printable),
            Obj::Dotted(items, tail) => items.iter().all(Obj::printable) && tail.printable(),
            _ => true,
        }
    }
}

/// Where a form is evaluated: the machine, the org file's folder and the block's headline.
pub(super) struct Ctx<'a> {
    pub(super) env: &'a OrgEnv,
    /// `default-directory`: the org file's folder, absolute, ending with `/`.
    pub(super) default_dir: String,
    /// `buffer-file-name`: the org file, absolute.
    pub(super) file: String,
    /// The block's headline's own tags.
    pub(super) local_tags: Vec<String>,
    /// The tags it inherits (file tags, then its ancestors' from the top), without its own.
    pub(super) inherited_tags: Vec<String>,
    /// `let` bindings, innermost last.
    pub(super) vars: Vec<(String, Obj)>,
    /// How deeply function calls nest (bounded, as `max-lisp-eval-depth` bounds Emacs).
    pub(super) depth: usize,
    /// How deeply the forms being evaluated nest.
    nesting: usize,
    /// What `princ` and friends print, while `with-output-to-string` collects it (`None`:
    /// they print to Emacs' standard output, which no file receives).
    pub(super) output: Option<String>,
}

/// Functions that would run a program, or whose value changes from run to run.
const IMPURE: &[(&str, &str)] = &[
    ("shell-command-to-string", "runs a shell command"),
    ("shell-command", "runs a shell command"),
    ("call-process", "runs a program"),
    ("process-lines", "runs a program"),
    ("make-temp-name", "makes a random name"),
    ("make-temp-file", "creates a file"),
    ("format-time-string", "depends on the time"),
    ("current-time-string", "depends on the time"),
    ("random", "is random"),
    ("org-sbe", "evaluates a code block"),
    ("org-babel-ref-resolve", "evaluates a code block"),
    ("make-directory", "creates a folder"),
    ("write-region", "writes a file"),
    ("with-temp-file", "writes a file"),
    ("append-to-file", "writes a file"),
    ("delete-file", "deletes a file"),
    ("delete-directory", "deletes a folder"),
    ("copy-file", "copies a file"),
    ("rename-file", "renames a file"),
    ("make-symbolic-link", "creates a link"),
    ("insert", "inserts text into the Org buffer"),
    ("insert-file-contents", "reads a file into a buffer"),
    ("start-process", "runs a program"),
    ("make-process", "runs a program"),
    ("call-process-shell-command", "runs a shell command"),
    ("async-shell-command", "runs a shell command"),
    ("url-retrieve", "uses the network"),
    ("url-retrieve-synchronously", "uses the network"),
    ("setenv", "changes the environment"),
    ("load", "loads Lisp"),
    ("load-file", "loads Lisp"),
    ("eval", "evaluates arbitrary Lisp"),
];

/// What the evaluator knows, for messages.
const KNOWN: &str = "`concat`, `format`, list, string and number functions (`car`, \
                     `nth`, `assoc`, `alist-get`, `mapcar`, `mapconcat`, `string-join`, \
                     `upcase`, `+`, ...), `cl-loop` basics, `expand-file-name`, `file-name-*`, \
                     `substitute-in-file-name`, `string-trim`, `getenv`, `system-name`, \
                     `executable-find`, `file-exists-p`, `file-directory-p`, `org-get-tags`, \
                     `locate-user-emacs-file`, `abbreviate-file-name`, \
                     `if`/`when`/`unless`/`cond`/`and`/`or`/`not`/`let`, `equal`/`string=`/\
                     `eq`/`member`/`string-match-p`/`string-prefix-p`/`string-suffix-p`";

pub(super) type R = Result<Obj, String>;

/// How deeply forms may nest when evaluated: within Emacs' own `max-lisp-eval-depth` (800),
/// which counts every form and function call on the way, and within a thread's stack.
const MAX_NESTING: usize = 200;

/// An error naming `f` when it is impure.
pub(super) fn refuse_impure(f: &str) -> Result<(), String> {
    match IMPURE.iter().find(|(n, _)| *n == f) {
        Some((_, why)) => Err(format!(
            "`{f}` {why}; Emacs would call it while tangling, this tangler evaluates \
             only side-effect-free Lisp"
        )),
        None => Ok(()),
    }
}

pub(super) fn quoted(e: &Sexp) -> Obj {
    match e {
        Sexp::Int(n, _) => Obj::Int(*n),
        Sexp::Float(x) => Obj::Float(*x),
        Sexp::Str(s) => Obj::Str(s.clone()),
        Sexp::Sym(s) if s == "nil" => Obj::Nil,
        Sexp::Sym(s) if s == "t" => Obj::T,
        Sexp::Sym(s) => Obj::Sym(s.clone()),
        Sexp::List(items) => match items.as_slice() {
            [head @ .., Sexp::Sym(dot), tail] if !head.is_empty() && dot == "." => {
                match quoted(tail) {
                    Obj::Nil => Obj::List(head.iter().map(quoted).collect()),
                    Obj::List(more) => Obj::List(head.iter().map(quoted).chain(more).collect()),
                    Obj::Dotted(more, t) => {
                        Obj::Dotted(head.iter().map(quoted).chain(more).collect(), t)
                    }
                    t => Obj::Dotted(head.iter().map(quoted).collect(), Box::new(t)),
                }
            }
            _ => Obj::list(items.iter().map(quoted).collect()),
        },
        Sexp::Quote(q) => Obj::List(vec![Obj::Sym("quote".into()), quoted(q)]),
    }
}

pub(super) fn string_arg(f: &str, v: &Obj) -> Result<String, String> {
    match v {
        Obj::Str(s) => Ok(s.clone()),
        other => Err(format!(
            "`{f}` gets `{}` where Emacs expects a string (wrong-type-argument)",
            other.show(true)
        )),
    }
}

/// A string or symbol, as `string=` compares them.
fn string_or_symbol(f: &str, v: &Obj) -> Result<String, String> {
    match v {
        Obj::Str(s) | Obj::Sym(s) => Ok(s.clone()),
        Obj::Nil | Obj::T => Ok(v.show(false)),
        other => string_arg(f, other),
    }
}

/// `expand-file-name`'s lexical part: `//` collapsed, `.` dropped, `..` cancelling.
fn clean_absolute(name: &str) -> String {
    let trailing = name.ends_with('/') && name.len() > 1;
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = format!("/{}", parts.join("/"));
    if trailing && out != "/" {
        out.push('/');
    }
    out
}

/// `file-name-as-directory`.
fn as_directory(s: &str) -> String {
    if s.is_empty() {
        "./".into()
    } else if s.ends_with('/') {
        s.to_string()
    } else {
        format!("{s}/")
    }
}

/// What [`simple_match`] finds.
enum PlainMatch {
    /// The plain string matches at this character index.
    At(usize),
    /// The plain string does not match.
    Absent,
    /// Not a case we evaluate: another regexp, a line break, or letters outside ASCII.
    Unsupported,
}

/// Where `re` first matches in `s` (a character index), when `re` is a plain string with at
/// most `^` and `$` anchors, matched ignoring case as `case-fold-search` does;
/// [`PlainMatch::Unsupported`] for any other regexp, for a string with a line break (where
/// `^` and `$` match too) and for letters outside ASCII (whose case folding we do not
/// reproduce).
fn simple_match(re: &str, s: &str) -> PlainMatch {
    let (anchored, re) = match re.strip_prefix('^') {
        Some(r) => (true, r),
        None => (false, re),
    };
    let (end, re) = match re.strip_suffix('$') {
        Some(r) if !r.ends_with('\\') => (true, r),
        _ => (false, re),
    };
    if re.contains(['.', '*', '+', '?', '[', ']', '\\', '^', '$'])
        || s.contains('\n')
        || !re.is_ascii()
        || s.chars().any(|c| !c.is_ascii() && c.is_alphabetic())
    {
        return PlainMatch::Unsupported;
    }
    let (fs, fr) = (s.to_ascii_lowercase(), re.to_ascii_lowercase());
    let at = match (anchored, end) {
        (true, true) => (fs == fr).then_some(0),
        (true, false) => fs.starts_with(&fr).then_some(0),
        (false, true) => fs.ends_with(&fr).then(|| fs.len() - fr.len()),
        (false, false) => fs.find(&fr),
    };
    match at {
        Some(k) => PlainMatch::At(s[..k].chars().count()),
        None => PlainMatch::Absent,
    }
}

impl<'a> Ctx<'a> {
    pub(super) fn new(env: &'a OrgEnv, default_dir: String, file: String) -> Ctx<'a> {
        Ctx {
            env,
            default_dir,
            file,
            local_tags: Vec::new(),
            inherited_tags: Vec::new(),
            vars: Vec::new(),
            depth: 0,
            nesting: 0,
            output: None,
        }
    }

    /// `user-emacs-directory` as Emacs 28 sets it: `~/.emacs.d/`, or `~/.config/emacs/`
    /// (XDG) when only that exists.
    fn user_emacs_directory(&self) -> String {
        let home = self.env.expand_tilde("~").unwrap_or_default();
        let dot = Path::new(&home).join(".emacs.d");
        let xdg = match self.env.vars.get("XDG_CONFIG_HOME") {
            Some(x) if x.starts_with('/') => Path::new(x).join("emacs"),
            _ => Path::new(&home).join(".config/emacs"),
        };
        if !dot.exists() && xdg.is_dir() {
            match self.env.vars.get("XDG_CONFIG_HOME") {
                Some(x) if x.starts_with('/') => as_directory(&format!("{x}/emacs")),
                _ => "~/.config/emacs/".into(),
            }
        } else {
            "~/.emacs.d/".into()
        }
    }

    pub(super) fn variable(&self, name: &str) -> R {
        if let Some((_, v)) = self.vars.iter().rev().find(|(n, _)| n == name) {
            return Ok(v.clone());
        }
        Ok(match name {
            "nil" => Obj::Nil,
            "t" => Obj::T,
            "user-emacs-directory" => Obj::Str(self.user_emacs_directory()),
            "system-type" => Obj::Sym("gnu/linux".into()),
            "default-directory" => Obj::Str(self.default_dir.clone()),
            "buffer-file-name" => Obj::Str(self.file.clone()),
            "temporary-file-directory" => Obj::Str(as_directory(
                self.env
                    .vars
                    .get("TMPDIR")
                    .filter(|t| t.starts_with('/'))
                    .map_or("/tmp", String::as_str),
            )),
            "org-use-tag-inheritance" => Obj::T,
            _ if name.starts_with(':') => Obj::Sym(name.into()),
            _ => {
                return Err(format!(
                    "the variable `{name}` is not one this tangler knows (it knows \
                     `user-emacs-directory`, `system-type`, `default-directory`, \
                     `buffer-file-name`, `temporary-file-directory`)"
                ))
            }
        })
    }

    /// `abbreviate-file-name`: the home folder written `~`.
    fn abbreviate(&self, name: &str) -> String {
        let home = self.env.expand_tilde("~").unwrap_or_default();
        let home = home.trim_end_matches('/');
        if home.is_empty() {
            return name.to_string();
        }
        match name.strip_prefix(home) {
            Some("") => "~".into(),
            Some(rest) if rest.starts_with('/') => format!("~{rest}"),
            _ => name.to_string(),
        }
    }

    /// `expand-file-name NAME DIR`.
    fn expand(&self, name: &str, dir: Option<&str>) -> Result<String, String> {
        let name = self.env.expand_tilde(name)?;
        if name.starts_with('/') {
            return Ok(clean_absolute(&name));
        }
        let dir = match dir {
            Some(d) => self.expand(d, None)?,
            None => self.default_dir.clone(),
        };
        Ok(clean_absolute(&format!("{}{name}", as_directory(&dir))))
    }

    pub(super) fn eval(&mut self, e: &Sexp) -> R {
        match e {
            Sexp::Int(n, _) => Ok(Obj::Int(*n)),
            Sexp::Float(x) => Ok(Obj::Float(*x)),
            Sexp::Str(s) => Ok(Obj::Str(s.clone())),
            Sexp::Sym(s) => self.variable(s),
            Sexp::Quote(q) => Ok(quoted(q)),
            Sexp::List(items) => {
                let Some((Sexp::Sym(f), args)) = items.split_first() else {
                    return Err(format!("`{}` is not a function call", quoted(e).show(true)));
                };
                if self.nesting >= MAX_NESTING {
                    return Err(format!(
                        "forms nest more than {MAX_NESTING} deep (Emacs stops at \
                         `max-lisp-eval-depth`, 800, counting more than forms)"
                    ));
                }
                self.nesting += 1;
                let r = self.call(f, args);
                self.nesting -= 1;
                r
            }
        }
    }

    fn call(&mut self, f: &str, args: &[Sexp]) -> R {
        // Special forms.
        match f {
            "quote" => {
                return args
                    .first()
                    .map(quoted)
                    .ok_or("`quote` needs an argument".into())
            }
            "if" => {
                let [c, then, rest @ ..] = args else {
                    return Err("`if` needs a condition and a branch".into());
                };
                return if self.eval(c)?.truthy() {
                    self.eval(then)
                } else {
                    self.progn(rest)
                };
            }
            "when" | "unless" => {
                let Some((c, body)) = args.split_first() else {
                    return Err(format!("`{f}` needs a condition"));
                };
                let c = self.eval(c)?.truthy();
                return if c == (f == "when") {
                    self.progn(body)
                } else {
                    Ok(Obj::Nil)
                };
            }
            "progn" => return self.progn(args),
            "and" => {
                let mut v = Obj::T;
                for a in args {
                    v = self.eval(a)?;
                    if !v.truthy() {
                        break;
                    }
                }
                return Ok(v);
            }
            "or" => {
                for a in args {
                    let v = self.eval(a)?;
                    if v.truthy() {
                        return Ok(v);
                    }
                }
                return Ok(Obj::Nil);
            }
            "cond" => {
                for clause in args {
                    let Sexp::List(parts) = clause else {
                        return Err("a `cond` clause must be a list".into());
                    };
                    let Some((c, body)) = parts.split_first() else {
                        continue;
                    };
                    let v = self.eval(c)?;
                    if v.truthy() {
                        return if body.is_empty() {
                            Ok(v)
                        } else {
                            self.progn(body)
                        };
                    }
                }
                return Ok(Obj::Nil);
            }
            "let" | "let*" => {
                let Some((first, body)) = args.split_first() else {
                    return Err(format!("`{f}` needs a list of bindings"));
                };
                let bindings: &[Sexp] = match first {
                    Sexp::List(b) => b,
                    Sexp::Sym(n) if n == "nil" => &[],
                    _ => return Err(format!("`{f}` needs a list of bindings")),
                };
                let depth = self.vars.len();
                let mut new = Vec::new();
                for b in bindings {
                    let (name, value) = match b {
                        Sexp::Sym(n) => (n.clone(), Obj::Nil),
                        Sexp::List(p) => match p.as_slice() {
                            [Sexp::Sym(n)] => (n.clone(), Obj::Nil),
                            [Sexp::Sym(n), v] => (n.clone(), self.eval(v)?),
                            _ => return Err(format!("a malformed `{f}` binding")),
                        },
                        _ => return Err(format!("a malformed `{f}` binding")),
                    };
                    if f == "let*" {
                        self.vars.push((name, value));
                    } else {
                        new.push((name, value));
                    }
                }
                self.vars.extend(new);
                let v = self.progn(body);
                self.vars.truncate(depth);
                return v;
            }
            _ => {
                if let Some(r) = self.special_more(f, args) {
                    return r;
                }
            }
        }
        refuse_impure(f)?;
        let mut v = Vec::with_capacity(args.len());
        for a in args {
            v.push(self.eval(a)?);
        }
        self.call_values(f, v)
    }

    /// Calls function `f` with the evaluated arguments `v`.
    pub(super) fn call_values(&mut self, f: &str, v: Vec<Obj>) -> R {
        refuse_impure(f)?;
        if let Some(r) = self.builtin_more(f, &v) {
            return r;
        }
        let arity = |min: usize, max: usize| -> Result<(), String> {
            if v.len() < min || v.len() > max {
                Err(format!(
                    "`{f}` gets {} arguments (wrong-number-of-arguments)",
                    v.len()
                ))
            } else {
                Ok(())
            }
        };
        Ok(match f {
            "fboundp" | "functionp" => {
                arity(1, 1)?;
                match &v[0] {
                    Obj::Sym(name) => self.defined_function(f, name)?,
                    Obj::Lambda(..) => Obj::T,
                    Obj::Nil | Obj::T if f == "fboundp" => Obj::Nil,
                    Obj::Nil | Obj::T | Obj::Int(_) | Obj::Float(_) | Obj::Str(_) => Obj::Nil,
                    Obj::List(_) | Obj::Dotted(..) => {
                        return Err(format!("`{f}` of a list is not evaluated by this tangler"))
                    }
                }
            }
            "identity" | "convert-standard-filename" => {
                arity(1, 1)?;
                v[0].clone()
            }
            "not" | "null" => {
                arity(1, 1)?;
                Obj::bool(!v[0].truthy())
            }
            "concat" => {
                let mut s = String::new();
                for x in &v {
                    match x {
                        Obj::Nil => {}
                        Obj::Str(t) => s.push_str(t),
                        other => return Err(string_arg("concat", other).unwrap_err()),
                    }
                }
                Obj::Str(s)
            }
            "format" => super::elisp::format(&v)?,
            "expand-file-name" => {
                arity(1, 2)?;
                let name = string_arg(f, &v[0])?;
                let dir = match v.get(1) {
                    None | Some(Obj::Nil) => None,
                    Some(d) => Some(string_arg(f, d)?),
                };
                Obj::Str(self.expand(&name, dir.as_deref())?)
            }
            "abbreviate-file-name" => {
                arity(1, 1)?;
                Obj::Str(self.abbreviate(&string_arg(f, &v[0])?))
            }
            "locate-user-emacs-file" => {
                // In batch, Emacs does not create `user-emacs-directory` here.
                arity(1, 2)?;
                let new = string_arg(f, &v[0])?;
                let best = self.abbreviate(&self.expand(&new, Some(&self.user_emacs_directory()))?);
                let readable = |p: &str| {
                    self.expand(p, None)
                        .is_ok_and(|p| std::fs::File::open(p).is_ok())
                };
                match v.get(1) {
                    Some(Obj::Str(old)) if !readable(&best) => {
                        let at_home = self.expand(old, Some("~"))?;
                        if readable(&at_home) {
                            Obj::Str(at_home)
                        } else {
                            Obj::Str(best)
                        }
                    }
                    _ => Obj::Str(best),
                }
            }
            "file-name-as-directory" => {
                arity(1, 1)?;
                Obj::Str(as_directory(&string_arg(f, &v[0])?))
            }
            "file-name-directory" => {
                arity(1, 1)?;
                let s = string_arg(f, &v[0])?;
                match s.rfind('/') {
                    Some(k) => Obj::Str(s[..=k].to_string()),
                    None => Obj::Nil,
                }
            }
            "file-name-nondirectory" => {
                arity(1, 1)?;
                let s = string_arg(f, &v[0])?;
                Obj::Str(s[s.rfind('/').map_or(0, |k| k + 1)..].to_string())
            }
            "file-name-sans-extension" => {
                arity(1, 1)?;
                let s = string_arg(f, &v[0])?;
                let start = s.rfind('/').map_or(0, |k| k + 1);
                match s[start..].rfind('.') {
                    Some(k) if k > 0 => Obj::Str(s[..start + k].to_string()),
                    _ => Obj::Str(s),
                }
            }
            "substitute-in-file-name" => {
                arity(1, 1)?;
                Obj::Str(self.substitute(&string_arg(f, &v[0])?))
            }
            "string-trim" => {
                arity(1, 1)?;
                Obj::Str(
                    string_arg(f, &v[0])?
                        .trim_matches([' ', '\t', '\n', '\r'])
                        .to_string(),
                )
            }
            "getenv" => {
                arity(1, 2)?;
                let name = string_arg(f, &v[0])?;
                self.env
                    .vars
                    .get(&name)
                    .map_or(Obj::Nil, |s| Obj::Str(s.clone()))
            }
            "system-name" => {
                arity(0, 0)?;
                Obj::Str(self.env.system_name.clone())
            }
            "buffer-file-name" => {
                arity(0, 1)?;
                Obj::Str(self.file.clone())
            }
            "executable-find" => {
                arity(1, 2)?;
                let name = string_arg(f, &v[0])?;
                self.executable_find(&name)
            }
            "file-exists-p" | "file-directory-p" => {
                arity(1, 1)?;
                let p = self.expand(&string_arg(f, &v[0])?, None)?;
                let m = std::fs::metadata(&p);
                Obj::bool(if f == "file-exists-p" {
                    m.is_ok()
                } else {
                    m.is_ok_and(|m| m.is_dir())
                })
            }
            "equal" => {
                arity(2, 2)?;
                Obj::bool(v[0] == v[1])
            }
            "eq" | "eql" => {
                arity(2, 2)?;
                Obj::bool(match (&v[0], &v[1]) {
                    (Obj::Str(_), _) | (_, Obj::Str(_)) | (Obj::List(_), _) => false,
                    (a, b) => a == b,
                })
            }
            "string=" | "string-equal" => {
                arity(2, 2)?;
                Obj::bool(string_or_symbol(f, &v[0])? == string_or_symbol(f, &v[1])?)
            }
            "string-prefix-p" | "string-suffix-p" => {
                arity(2, 3)?;
                let (a, b) = (string_arg(f, &v[0])?, string_arg(f, &v[1])?);
                let fold = v.get(2).is_some_and(Obj::truthy);
                if fold && !(a.is_ascii() && b.is_ascii()) {
                    return Err(format!("`{f}` ignoring the case of non-ASCII text"));
                }
                let (a, b) = if fold {
                    (a.to_ascii_lowercase(), b.to_ascii_lowercase())
                } else {
                    (a, b)
                };
                Obj::bool(if f == "string-prefix-p" {
                    b.starts_with(&a)
                } else {
                    b.ends_with(&a)
                })
            }
            "member" => {
                arity(2, 2)?;
                match &v[1] {
                    Obj::Nil => Obj::Nil,
                    Obj::List(items) => match items.iter().position(|x| *x == v[0]) {
                        Some(k) => Obj::List(items[k..].to_vec()),
                        None => Obj::Nil,
                    },
                    other => {
                        return Err(format!(
                            "`member` gets `{}` where Emacs expects a list",
                            other.show(true)
                        ))
                    }
                }
            }
            "string-match-p" => {
                arity(2, 3)?;
                let (re, s) = (string_arg(f, &v[0])?, string_arg(f, &v[1])?);
                match simple_match(&re, &s) {
                    PlainMatch::At(k) => Obj::Int(k as i64),
                    PlainMatch::Absent => Obj::Nil,
                    PlainMatch::Unsupported => {
                        return Err(format!(
                            "`string-match-p` is evaluated only for plain strings (with `^` and \
                             `$`), not the regexp `{re}`"
                        ))
                    }
                }
            }
            "org-get-tags" => {
                arity(0, 2)?;
                if v.first().is_some_and(Obj::truthy) {
                    return Err("`org-get-tags` is evaluated only at the block".into());
                }
                let local = v.get(1).is_some_and(Obj::truthy);
                let inherit = self.variable("org-use-tag-inheritance")?.truthy();
                let mut tags: Vec<String> = Vec::new();
                if inherit && !local {
                    tags.extend(self.inherited_tags.iter().cloned());
                }
                for t in &self.local_tags {
                    if !tags.contains(t) {
                        tags.push(t.clone());
                    }
                }
                Obj::list(tags.into_iter().map(Obj::Str).collect())
            }
            _ => {
                return Err(format!(
                    "`{f}` is not a function this tangler evaluates (it evaluates {KNOWN})"
                ))
            }
        })
    }

    /// `fboundp` / `functionp` of the symbol `name`: `t` for the functions this evaluator
    /// computes and for the impure ones it refuses (Emacs has them), `nil` for a name in a
    /// personal namespace (`prefix/name`: no function of Emacs -Q and the Org it loads is
    /// named so); any other name is refused, since whether Emacs defines it is not known here.
    fn defined_function(&mut self, f: &str, name: &str) -> R {
        if refuse_impure(name).is_err() {
            return Ok(Obj::T);
        }
        // Probe with no arguments, the output kept as it was (an arity error still says the
        // function is known).
        let output = self.output.clone();
        let probe = self.call_values(name, Vec::new());
        self.output = output;
        let unknown = format!("`{name}` is not a function this tangler evaluates");
        match probe {
            Err(e) if e.starts_with(&unknown) => {
                if name.contains('/') {
                    Ok(Obj::Nil)
                } else {
                    Err(format!(
                        "`{f}` of `{name}`: whether Emacs defines `{name}` is not known to this \
                         tangler"
                    ))
                }
            }
            _ => Ok(Obj::T),
        }
    }

    pub(super) fn progn(&mut self, body: &[Sexp]) -> R {
        let mut v = Obj::Nil;
        for e in body {
            v = self.eval(e)?;
        }
        Ok(v)
    }

    /// `substitute-in-file-name`: `$VAR` and `${VAR}` replaced by the environment (unset
    /// variables are kept), `$$` is `$`, and a `//` or `/~` starts the name afresh.
    fn substitute(&self, s: &str) -> String {
        let start = [s.rfind("//").map(|k| k + 1), s.rfind("/~").map(|k| k + 1)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(0);
        let s = &s[start..];
        let mut out = String::new();
        let mut rest = s;
        while let Some(k) = rest.find('$') {
            out.push_str(&rest[..k]);
            let after = &rest[k + 1..];
            if let Some(a) = after.strip_prefix('$') {
                out.push('$');
                rest = a;
                continue;
            }
            let (name, used) = if let Some(b) = after.strip_prefix('{') {
                match b.find('}') {
                    Some(e) => (&b[..e], e + 2),
                    None => ("", 0),
                }
            } else {
                let e = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..e], e)
            };
            match self.env.vars.get(name).filter(|_| !name.is_empty()) {
                Some(v) => out.push_str(v),
                None => {
                    out.push('$');
                    out.push_str(&after[..used]);
                }
            }
            rest = &after[used..];
        }
        out.push_str(rest);
        out
    }

    /// `executable-find`: the first executable regular file on `PATH`.
    fn executable_find(&self, name: &str) -> Obj {
        use std::os::unix::fs::PermissionsExt;
        let is_exec = |p: &Path| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        };
        if name.contains('/') {
            let p = self.expand(name, None).unwrap_or_default();
            return if is_exec(Path::new(&p)) {
                Obj::Str(p)
            } else {
                Obj::Nil
            };
        }
        let path = self.env.vars.get("PATH").cloned().unwrap_or_default();
        for dir in path.split(':') {
            let dir = if dir.is_empty() {
                self.default_dir.clone()
            } else {
                as_directory(dir)
            };
            let p = format!("{dir}{name}");
            if is_exec(Path::new(&p)) {
                return Obj::Str(p);
            }
        }
        Obj::Nil
    }
}

#[cfg(test)]
mod tests {
    use super::super::lisp::read_sexp;
    use super::*;

    fn ev(env: &OrgEnv, s: &str) -> R {
        let mut c = Ctx::new(env, "/doc/".into(), "/doc/a.org".into());
        c.local_tags = vec!["own".into()];
        c.inherited_tags = vec!["INACTIVE".into()];
        c.eval(&read_sexp(s).unwrap().0)
    }

    #[test]
    fn evaluates_what_headers_use() {
        let mut env = OrgEnv {
            home: Some("/h".into()),
            ..OrgEnv::default()
        };
        env.vars.insert("X".into(), "ex".into());
        let s = |x: &str| Obj::Str(x.into());
        assert_eq!(ev(&env, "(concat \"a\" nil \"b\")"), Ok(s("ab")));
        assert_eq!(
            ev(&env, "(expand-file-name \"init.el\" user-emacs-directory)"),
            Ok(s("/h/.emacs.d/init.el"))
        );
        assert_eq!(
            ev(&env, "(expand-file-name \"~/x//y/../z\")"),
            Ok(s("/h/x/z"))
        );
        assert_eq!(
            ev(&env, "(expand-file-name \"a/\" \"sub\")"),
            Ok(s("/doc/sub/a/"))
        );
        assert_eq!(
            ev(&env, "(format \"%s-%S-%d\" \"a\" \"b\" 3)"),
            Ok(s("a-\"b\"-3"))
        );
        assert_eq!(
            ev(&env, "(substitute-in-file-name \"$X/a//b/$NOPE\")"),
            Ok(s("/b/$NOPE"))
        );
        assert_eq!(
            ev(&env, "(substitute-in-file-name \"${X}/$$\")"),
            Ok(s("ex/$"))
        );
        assert_eq!(ev(&env, "(if (getenv \"NOPE\") \"y\" \"n\")"), Ok(s("n")));
        assert_eq!(
            ev(&env, "(cond ((eq system-type 'darwin) 1) (t 2))"),
            Ok(Obj::Int(2))
        );
        assert_eq!(
            ev(&env, "(let ((org-use-tag-inheritance t)) (if (member \"INACTIVE\" (org-get-tags)) \"no\" \"x\"))"),
            Ok(s("no"))
        );
        assert_eq!(
            ev(&env, "(let ((org-use-tag-inheritance nil)) (if (member \"INACTIVE\" (org-get-tags)) \"no\" \"x\"))"),
            Ok(s("x"))
        );
        // The position of the match, case folded as `case-fold-search` folds it.
        assert_eq!(
            ev(&env, "(string-match-p \"^ab\" \"abc\")"),
            Ok(Obj::Int(0))
        );
        assert_eq!(ev(&env, "(string-match-p \"C\" \"abc\")"), Ok(Obj::Int(2)));
        assert_eq!(ev(&env, "(string-match-p \"x$\" \"abc\")"), Ok(Obj::Nil));
        assert_eq!(
            ev(&env, "(file-name-sans-extension \"a.b/c.el\")"),
            Ok(s("a.b/c"))
        );
        let e = ev(
            &env,
            "(if (string= (shell-command-to-string \"x\") \"\") 1 2)",
        )
        .unwrap_err();
        assert!(
            e.starts_with("`shell-command-to-string` runs a shell command"),
            "{e}"
        );
        let e = ev(&env, "(frobnicate 1)").unwrap_err();
        assert!(e.starts_with("`frobnicate` is not a function"), "{e}");
        let e = ev(&env, "(string-match-p \"a.*\" \"abc\")").unwrap_err();
        assert!(e.contains("not the regexp `a.*`"), "{e}");
    }
}
