//! The evaluator's special forms beyond `eval`'s core ones (`quote`, `if`, `let` and
//! friends): `function`, `lambda`, `setq`, `push`, `dolist`, `dotimes`, `cl-loop` and the
//! forms refused with a message. Builtins (functions of evaluated arguments) are `elisp`'s.

use super::elisp::{car, cdr, cons, int_arg, list_items, FRESH_LISTS, MAX_ITERATIONS};
use super::eval::{quoted, string_arg, Ctx, Obj, R};
use super::lisp::Sexp;

/// The parts of a `cl-loop` form that we run.
enum Iter {
    In(Vec<Obj>),
    Range {
        next: i64,
        end: Option<(i64, bool)>,
        step: i64,
        down: bool,
    },
    Repeat(i64),
}

/// A `cl-loop` action: its condition (negated for `unless`), its kind and its forms.
type Action = (Option<(Sexp, bool)>, String, Vec<Sexp>);

enum Accum {
    None,
    Collect(Vec<Obj>),
    Append(Vec<Obj>),
    Concat(String),
    Sum(i64),
    Count(i64),
}

impl Ctx<'_> {
    /// Special forms beyond `if`, `let` and friends; `None` when `f` is not one.
    pub(super) fn special_more(&mut self, f: &str, args: &[Sexp]) -> Option<R> {
        Some(match f {
            "function" => match args {
                [Sexp::Sym(s)] => Ok(Obj::Sym(s.clone())),
                [e @ Sexp::List(items)] if matches!(items.first(), Some(Sexp::Sym(l)) if l == "lambda") => {
                    self.eval(e)
                }
                _ => Err("`function` needs a symbol or a lambda".into()),
            },
            "lambda" => match args.split_first() {
                Some((Sexp::List(params), body)) => {
                    let mut names = Vec::new();
                    for p in params {
                        match p {
                            Sexp::Sym(n) => names.push(n.clone()),
                            _ => return Some(Err("a malformed `lambda` parameter list".into())),
                        }
                    }
                    Ok(Obj::Lambda(names, body.to_vec()))
                }
                Some((Sexp::Sym(n), body)) if n == "nil" => {
                    Ok(Obj::Lambda(Vec::new(), body.to_vec()))
                }
                _ => Err("a malformed `lambda`".into()),
            },
            "setq" => self.setq(args),
            "push" => match args {
                [x, Sexp::Sym(place)] => (|| {
                    let x = self.eval(x)?;
                    let old = self.variable(place)?;
                    let new = cons(x, old);
                    self.set_local(place, new.clone())?;
                    Ok(new)
                })(),
                _ => Err("`push` is evaluated only onto a variable".into()),
            },
            "dolist" | "dotimes" => self.dolist(f, args),
            "cl-loop" | "loop" => self.cl_loop(args),
            "with-output-to-string" => {
                let saved = self.output.replace(String::new());
                let r = self.progn(args);
                let out = std::mem::replace(&mut self.output, saved).unwrap_or_default();
                r.map(|_| Obj::Str(out))
            }
            // Destructive list functions are evaluated only on lists no variable holds, where
            // working on a copy cannot show.
            "sort" | "nreverse" | "delete-dups" | "delete" => {
                let k = usize::from(f == "delete");
                let fresh = |e: &Sexp| match e {
                    Sexp::List(items) => matches!(
                        items.first(),
                        Some(Sexp::Sym(h)) if FRESH_LISTS.contains(&h.as_str())
                    ),
                    _ => false,
                };
                if args.get(k).is_some_and(|a| !fresh(a)) {
                    return Some(Err(format!(
                        "`{f}` changes its list in place in Emacs, and this tangler does not \
                         follow such changes: give it a fresh list (`copy-sequence`, `mapcar`, \
                         `list`, ...)"
                    )));
                }
                return None;
            }
            "prog1" => match args.split_first() {
                Some((first, rest)) => (|| {
                    let v = self.eval(first)?;
                    self.progn(rest)?;
                    Ok(v)
                })(),
                None => Err("`prog1` needs a form".into()),
            },
            "if-let"
            | "when-let"
            | "if-let*"
            | "when-let*"
            | "while"
            | "catch"
            | "throw"
            | "condition-case"
            | "ignore-errors"
            | "pcase"
            | "cl-case"
            | "with-temp-buffer"
            | "save-excursion"
            | "defun"
            | "defvar"
            | "defconst"
            | "defmacro"
            | "setf"
            | "eval"
            | "eval-when-compile"
            | "with-current-buffer" => Err(format!(
                "`{f}` is not evaluated by this tangler (it evaluates `if`, `when`, `unless`, \
                 `cond`, `and`, `or`, `let`, `let*`, `progn`, `prog1`, `setq` and `push` on \
                 `let` variables, `dolist`, `dotimes`, `lambda` and `cl-loop` basics)"
            )),
            _ => return None,
        })
    }

    /// Sets the innermost `let` binding of `name` (a global variable is never set).
    fn set_local(&mut self, name: &str, v: Obj) -> Result<(), String> {
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(format!(
                "`setq` of `{name}`, which is not bound by `let` here: setting a global \
                 variable is a side effect this tangler does not have"
            )),
        }
    }

    fn setq(&mut self, args: &[Sexp]) -> R {
        if !args.len().is_multiple_of(2) {
            return Err("`setq` gets an odd number of arguments (Emacs fails)".into());
        }
        let mut last = Obj::Nil;
        for pair in args.chunks(2) {
            let Sexp::Sym(name) = &pair[0] else {
                return Err("`setq` needs variable names".into());
            };
            last = self.eval(&pair[1])?;
            self.set_local(name, last.clone())?;
        }
        Ok(last)
    }

    fn dolist(&mut self, f: &str, args: &[Sexp]) -> R {
        let Some((Sexp::List(spec), body)) = args.split_first() else {
            return Err(format!("`{f}` needs `(VAR LIST)`"));
        };
        let (var, seq, result) = match spec.as_slice() {
            [Sexp::Sym(v), l] => (v.clone(), l, None),
            [Sexp::Sym(v), l, r] => (v.clone(), l, Some(r)),
            _ => return Err(format!("`{f}` needs `(VAR LIST [RESULT])`")),
        };
        let items = if f == "dolist" {
            list_items(f, &self.eval(seq)?)?
        } else {
            let n = int_arg(f, &self.eval(seq)?)?;
            if n as u64 > MAX_ITERATIONS as u64 && n > 0 {
                return Err(format!("`dotimes` over {n} steps is more than we run"));
            }
            (0..n.max(0)).map(Obj::Int).collect()
        };
        let depth = self.vars.len();
        self.vars.push((var.clone(), Obj::Nil));
        let mut out = Ok(Obj::Nil);
        for x in items {
            self.vars[depth].1 = x;
            if let Err(e) = self.progn(body) {
                out = Err(e);
                break;
            }
        }
        if out.is_ok() {
            if let Some(r) = result {
                if f == "dolist" {
                    self.vars[depth].1 = Obj::Nil;
                }
                out = self.eval(r);
            }
        }
        self.vars.truncate(depth);
        out
    }

    /// `cl-loop` with `for VAR in LIST`, `for VAR from A to|upto|below|downto B [by N]`,
    /// `repeat N`, `with VAR = X`, `collect`/`append`/`concat`/`sum`/`count`/`do`, each
    /// optionally under `when`/`if`/`unless COND`, and `finally return X`.
    fn cl_loop(&mut self, args: &[Sexp]) -> R {
        fn kw(e: &Sexp) -> Option<&str> {
            match e {
                Sexp::Sym(s) => Some(s.as_str()),
                _ => None,
            }
        }
        let refuse = |what: &str| -> R {
            Err(format!(
                "`cl-loop` is evaluated with `for VAR in LIST`, `for VAR from A to B [by N]`, \
                 `repeat`, `with`, `collect`, `append`, `concat`, `sum`, `count`, `do`, \
                 `when`/`if`/`unless` and `finally return`; not {what}"
            ))
        };
        // Parse the clauses.
        let mut iters: Vec<(Sexp, Iter)> = Vec::new();
        let mut withs: Vec<(String, Obj)> = Vec::new();
        // (condition, negate, kind, expression)
        let mut actions: Vec<Action> = Vec::new();
        let mut finally: Option<Sexp> = None;
        let mut i = 0;
        let depth = self.vars.len();
        let body_words = [
            "collect",
            "collecting",
            "append",
            "appending",
            "concat",
            "sum",
            "summing",
            "count",
            "counting",
            "do",
        ];
        while i < args.len() {
            let Some(word) = kw(&args[i]) else {
                return refuse(&format!("`{}`", quoted(&args[i]).show(true)));
            };
            match word {
                "for" | "as" => {
                    let var = args
                        .get(i + 1)
                        .cloned()
                        .ok_or("`cl-loop` `for` needs a variable")?;
                    match args.get(i + 2).and_then(kw) {
                        Some("in") => {
                            let l = self.eval(args.get(i + 3).ok_or("`for … in` needs a list")?)?;
                            iters.push((var, Iter::In(list_items("cl-loop", &l)?)));
                            i += 4;
                        }
                        Some(w @ ("from" | "upfrom" | "downfrom")) => {
                            let start = int_arg(
                                "cl-loop",
                                &self
                                    .eval(args.get(i + 3).ok_or("`for … from` needs a number")?)?,
                            )?;
                            i += 4;
                            let mut end = None;
                            let mut step = 1;
                            let mut down = w == "downfrom";
                            while let Some(k) = args.get(i).and_then(kw) {
                                match k {
                                    "to" | "upto" | "below" | "downto" | "above" => {
                                        let n = int_arg(
                                            "cl-loop",
                                            &self.eval(args.get(i + 1).ok_or("missing bound")?)?,
                                        )?;
                                        if matches!(k, "downto" | "above") {
                                            down = true;
                                        }
                                        end = Some((n, matches!(k, "below" | "above")));
                                        i += 2;
                                    }
                                    "by" => {
                                        step = int_arg(
                                            "cl-loop",
                                            &self.eval(args.get(i + 1).ok_or("missing step")?)?,
                                        )?;
                                        if step <= 0 {
                                            return refuse("a step that is not positive");
                                        }
                                        i += 2;
                                    }
                                    _ => break,
                                }
                            }
                            iters.push((
                                var,
                                Iter::Range {
                                    next: start,
                                    end,
                                    step,
                                    down,
                                },
                            ));
                        }
                        _ => return refuse("this kind of `for` clause"),
                    }
                }
                "repeat" => {
                    let n = int_arg(
                        "cl-loop",
                        &self.eval(args.get(i + 1).ok_or("`repeat` needs a number")?)?,
                    )?;
                    iters.push((Sexp::Sym("nil".into()), Iter::Repeat(n)));
                    i += 2;
                }
                "with" => {
                    let (Some(Sexp::Sym(v)), Some("="), Some(x)) = (
                        args.get(i + 1),
                        args.get(i + 2).and_then(kw),
                        args.get(i + 3),
                    ) else {
                        return refuse("this `with` clause");
                    };
                    let val = self.eval(x)?;
                    self.vars.push((v.clone(), val.clone()));
                    withs.push((v.clone(), val));
                    i += 4;
                }
                "when" | "if" | "unless" => {
                    let c = args.get(i + 1).cloned().ok_or("`when` needs a condition")?;
                    let Some(k) = args
                        .get(i + 2)
                        .and_then(kw)
                        .filter(|k| body_words.contains(k))
                    else {
                        self.vars.truncate(depth);
                        return refuse("a condition on anything but one accumulation");
                    };
                    let x = args.get(i + 3).cloned().ok_or("missing expression")?;
                    actions.push((Some((c, word == "unless")), k.to_string(), vec![x]));
                    i += 4;
                }
                "finally" => {
                    match (args.get(i + 1).and_then(kw), args.get(i + 2)) {
                        (Some("return"), Some(x)) => finally = Some(x.clone()),
                        _ => {
                            self.vars.truncate(depth);
                            return refuse("`finally` without `return`");
                        }
                    }
                    i += 3;
                }
                "do" => {
                    let mut forms = Vec::new();
                    i += 1;
                    while i < args.len() && matches!(args[i], Sexp::List(_)) {
                        forms.push(args[i].clone());
                        i += 1;
                    }
                    actions.push((None, "do".into(), forms));
                }
                k if body_words.contains(&k) => {
                    if matches!(args.get(i + 2).and_then(kw), Some("into")) {
                        self.vars.truncate(depth);
                        return refuse("`into`");
                    }
                    let x = args.get(i + 1).cloned().ok_or("missing expression")?;
                    actions.push((None, k.to_string(), vec![x]));
                    i += 2;
                }
                other => {
                    self.vars.truncate(depth);
                    return refuse(&format!("`{other}`"));
                }
            }
        }
        let kinds: Vec<&str> = actions
            .iter()
            .map(|a| a.1.as_str())
            .filter(|k| *k != "do")
            .map(|k| match k {
                "collecting" => "collect",
                "appending" => "append",
                "summing" => "sum",
                "counting" => "count",
                k => k,
            })
            .collect();
        if kinds.windows(2).any(|w| w[0] != w[1]) {
            self.vars.truncate(depth);
            return refuse("several kinds of accumulation");
        }
        let mut acc = match kinds.first() {
            None => Accum::None,
            Some(&"collect") => Accum::Collect(Vec::new()),
            Some(&"append") => Accum::Append(Vec::new()),
            Some(&"concat") => Accum::Concat(String::new()),
            Some(&"sum") => Accum::Sum(0),
            _ => Accum::Count(0),
        };
        let vars_at = self.vars.len();
        for (var, _) in &iters {
            for n in pattern_vars(var) {
                self.vars.push((n, Obj::Nil));
            }
        }
        let result = (|| -> R {
            for _ in 0..MAX_ITERATIONS {
                // Step every iteration clause; the loop ends when one ends.
                let mut values = Vec::new();
                for (_, it) in iters.iter_mut() {
                    let v = match it {
                        Iter::In(items) => {
                            if items.is_empty() {
                                return self.loop_end(acc, &finally);
                            }
                            items.remove(0)
                        }
                        Iter::Range {
                            next,
                            end,
                            step,
                            down,
                        } => {
                            let n = *next;
                            if let Some((e, strict)) = *end {
                                let past = if *down {
                                    n < e || (strict && n == e)
                                } else {
                                    n > e || (strict && n == e)
                                };
                                if past {
                                    return self.loop_end(acc, &finally);
                                }
                            }
                            *next = if *down { n - *step } else { n + *step };
                            Obj::Int(n)
                        }
                        Iter::Repeat(n) => {
                            if *n <= 0 {
                                return self.loop_end(acc, &finally);
                            }
                            *n -= 1;
                            Obj::Nil
                        }
                    };
                    values.push(v);
                }
                for ((var, _), v) in iters.iter().zip(values) {
                    let mut bound = Vec::new();
                    destructure(var, v, &mut bound)?;
                    for (name, val) in bound {
                        if let Some(slot) = self.vars[vars_at..]
                            .iter_mut()
                            .rev()
                            .find(|(n, _)| *n == name)
                        {
                            slot.1 = val;
                        }
                    }
                }
                for (cond, kind, exprs) in &actions {
                    if let Some((c, negate)) = cond {
                        if self.eval(c)?.truthy() == *negate {
                            continue;
                        }
                    }
                    if kind == "do" {
                        self.progn(exprs)?;
                        continue;
                    }
                    let x = self.eval(&exprs[0])?;
                    match &mut acc {
                        Accum::Collect(v) => v.push(x),
                        Accum::Append(v) => v.extend(list_items("cl-loop", &x)?),
                        Accum::Concat(s) => s.push_str(&string_arg("cl-loop concat", &x)?),
                        Accum::Sum(n) => {
                            *n = n
                                .checked_add(int_arg("cl-loop sum", &x)?)
                                .ok_or("`cl-loop` `sum` overflows")?
                        }
                        Accum::Count(n) => *n += i64::from(x.truthy()),
                        Accum::None => {}
                    }
                }
                if iters.is_empty() {
                    return Err("`cl-loop` without an iteration clause would never end".into());
                }
            }
            Err(format!("`cl-loop` runs more than {MAX_ITERATIONS} times"))
        })();
        self.vars.truncate(depth);
        result
    }

    fn loop_end(&mut self, acc: Accum, finally: &Option<Sexp>) -> R {
        if let Some(x) = finally {
            return self.eval(x);
        }
        Ok(match acc {
            Accum::None => Obj::Nil,
            Accum::Collect(v) | Accum::Append(v) => Obj::list(v),
            Accum::Concat(s) => Obj::Str(s),
            Accum::Sum(n) | Accum::Count(n) => Obj::Int(n),
        })
    }
}

/// The variable names a `cl-loop` `for` pattern binds.
fn pattern_vars(p: &Sexp) -> Vec<String> {
    match p {
        Sexp::Sym(s) if s == "nil" || s == "." => Vec::new(),
        Sexp::Sym(s) => vec![s.clone()],
        Sexp::List(items) => items.iter().flat_map(pattern_vars).collect(),
        _ => Vec::new(),
    }
}

/// Binds pattern `p` (a symbol or a list of symbols, possibly dotted) to `v`, in the order
/// of [`pattern_vars`].
fn destructure(p: &Sexp, v: Obj, out: &mut Vec<(String, Obj)>) -> Result<(), String> {
    match p {
        Sexp::Sym(s) if s == "nil" => Ok(()),
        Sexp::Sym(s) => {
            out.push((s.clone(), v));
            Ok(())
        }
        Sexp::List(items) => {
            let mut rest = v;
            let mut k = 0;
            while k < items.len() {
                if matches!(&items[k], Sexp::Sym(d) if d == ".") {
                    if let Some(tail) = items.get(k + 1) {
                        destructure(tail, rest, out)?;
                    }
                    return Ok(());
                }
                let head = car(&rest).unwrap_or(Obj::Nil);
                rest = cdr(&rest).unwrap_or(Obj::Nil);
                destructure(&items[k], head, out)?;
                k += 1;
            }
            Ok(())
        }
        _ => Err("a `cl-loop` pattern must be made of symbols".into()),
    }
}
