//! The builtins that code blocks called from noweb references use (their special forms,
//! `lambda`, `setq`, `dolist`, `cl-loop`, are `forms`'): `funcall`/`apply`, list
//! functions (`car`, `nth`, `assoc`, `alist-get`, `mapcar`, `mapconcat`, ...), string
//! functions (`string-join`, `upcase`, `split-string`, `replace-regexp-in-string` with plain
//! strings, `format` with widths) and integer arithmetic, all with Emacs 28's semantics. Like
//! the rest of [`super::eval`], nothing here has a side effect outside the evaluation.

use super::eval::{string_arg, Ctx, Obj, R};

/// How deeply function calls and loops may nest before we give up (Emacs: its
/// `max-lisp-eval-depth` of 800).
const MAX_DEPTH: usize = 200;

/// Functions that return a list of their own, which a destructive function may change.
pub(super) const FRESH_LISTS: &[&str] = &[
    "copy-sequence",
    "copy-tree",
    "mapcar",
    "seq-map",
    "list",
    "number-sequence",
    "split-string",
    "reverse",
    "cl-loop",
    "loop",
    "string-to-list",
];

/// How many iterations a loop may run.
pub(super) const MAX_ITERATIONS: usize = 1_000_000;

/// The elements of a proper list (`nil` is the empty list).
pub(super) fn list_items(f: &str, v: &Obj) -> Result<Vec<Obj>, String> {
    match v {
        Obj::Nil => Ok(Vec::new()),
        Obj::List(items) => Ok(items.clone()),
        other => Err(format!(
            "`{f}` gets `{}` where Emacs expects a list (wrong-type-argument)",
            other.show(true)
        )),
    }
}

/// A sequence as a list of elements: lists, and strings (their characters).
fn seq_items(f: &str, v: &Obj) -> Result<Vec<Obj>, String> {
    match v {
        Obj::Str(s) => Ok(s.chars().map(|c| Obj::Int(c as i64)).collect()),
        other => list_items(f, other),
    }
}

pub(super) fn int_arg(f: &str, v: &Obj) -> Result<i64, String> {
    match v {
        Obj::Int(n) => Ok(*n),
        other => Err(format!(
            "`{f}` gets `{}` where this tangler expects an integer",
            other.show(true)
        )),
    }
}

/// A string, or a symbol's name (as `string<` takes them).
fn string_or_symbol_arg(f: &str, v: &Obj) -> Result<String, String> {
    match v {
        Obj::Str(s) | Obj::Sym(s) => Ok(s.clone()),
        Obj::Nil | Obj::T => Ok(v.show(false)),
        other => string_arg(f, other),
    }
}

/// A number as a float (an integer converted).
fn float_arg(f: &str, v: &Obj) -> Result<f64, String> {
    match v {
        Obj::Int(n) => Ok(*n as f64),
        Obj::Float(x) => Ok(*x),
        other => Err(format!(
            "`{f}` gets `{}` where Emacs expects a number (wrong-type-argument)",
            other.show(true)
        )),
    }
}

pub(super) fn car(v: &Obj) -> Result<Obj, String> {
    match v {
        Obj::Nil => Ok(Obj::Nil),
        Obj::List(items) | Obj::Dotted(items, _) => Ok(items[0].clone()),
        other => Err(format!(
            "`car` gets `{}` where Emacs expects a list (wrong-type-argument)",
            other.show(true)
        )),
    }
}

pub(super) fn cdr(v: &Obj) -> Result<Obj, String> {
    match v {
        Obj::Nil => Ok(Obj::Nil),
        Obj::List(items) => Ok(Obj::list(items[1..].to_vec())),
        Obj::Dotted(items, tail) if items.len() == 1 => Ok((**tail).clone()),
        Obj::Dotted(items, tail) => Ok(Obj::Dotted(items[1..].to_vec(), tail.clone())),
        other => Err(format!(
            "`cdr` gets `{}` where Emacs expects a list (wrong-type-argument)",
            other.show(true)
        )),
    }
}

pub(super) fn cons(a: Obj, b: Obj) -> Obj {
    match b {
        Obj::Nil => Obj::List(vec![a]),
        Obj::List(mut items) => {
            items.insert(0, a);
            Obj::List(items)
        }
        Obj::Dotted(mut items, tail) => {
            items.insert(0, a);
            Obj::Dotted(items, tail)
        }
        other => Obj::Dotted(vec![a], Box::new(other)),
    }
}

/// The elements of an alist, tolerating improper ones as `assoc` does for its elements.
fn alist_items(f: &str, v: &Obj) -> Result<Vec<Obj>, String> {
    list_items(f, v)
}

/// `eq` as far as we can tell it: strings and lists are never `eq` (we do not track
/// object identity), so an `eq` test on them is refused.
fn eq(f: &str, a: &Obj, b: &Obj) -> Result<bool, String> {
    let heap = |o: &Obj| match o {
        Obj::Str(_) => 1,
        Obj::List(_) | Obj::Dotted(..) => 2,
        Obj::Lambda(..) => 3,
        Obj::Float(_) => 4,
        _ => 0,
    };
    match (a, b) {
        _ if heap(a) == 0 || heap(b) == 0 || heap(a) != heap(b) => Ok(a == b),
        _ => Err(format!(
            "`{f}` compares `{}` with `eq`, which depends on object identity; pass `equal` \
             (or use `assoc`) to compare strings or lists",
            a.show(true)
        )),
    }
}

/// `format`'s text for one `%` sequence: flags, width, precision and conversion.
fn format_one(spec: &str, conv: char, arg: &Obj) -> Result<String, String> {
    let minus = spec.contains('-');
    let zero = spec.starts_with('0') || spec.contains("-0") || spec.contains("+0");
    let plus = spec.contains('+');
    let space = spec.contains(' ');
    let digits = spec.trim_start_matches(['-', '0', '+', ' ', '#']);
    let (width, precision) = match digits.split_once('.') {
        Some((w, p)) => (w, Some(p)),
        None => (digits, None),
    };
    let width: usize = if width.is_empty() {
        0
    } else {
        width
            .parse()
            .map_err(|_| format!("`format` cannot read the width in `%{spec}{conv}`"))?
    };
    let precision: Option<usize> = match precision {
        None => None,
        Some("") => Some(0),
        Some(p) => Some(
            p.parse()
                .map_err(|_| format!("`format` cannot read the precision in `%{spec}{conv}`"))?,
        ),
    };
    let (text, numeric) = match conv {
        's' | 'S' => {
            if !arg.printable() {
                return Err("`format` cannot print a function".into());
            }
            let mut t = arg.show(conv == 'S');
            if (width > 0 || precision.is_some()) && !t.is_ascii() {
                // Emacs measures widths in columns, which wide characters take two of.
                return Err("`format` with a width or precision of non-ASCII text".into());
            }
            if let Some(p) = precision {
                t = t.chars().take(p).collect();
            }
            (t, false)
        }
        'f' => {
            let x = match arg {
                Obj::Int(n) => *n as f64,
                Obj::Float(x) => *x,
                _ => {
                    return Err(format!(
                        "`format` `%f` gets `{}` where Emacs expects a number",
                        arg.show(true)
                    ))
                }
            };
            if !x.is_finite() {
                return Err("`format` `%f` of an infinity or a NaN is not evaluated".into());
            }
            let t = format!("{x:.*}", precision.unwrap_or(6));
            let t = if x >= 0.0 && plus {
                format!("+{t}")
            } else if x >= 0.0 && space {
                format!(" {t}")
            } else {
                t
            };
            (t, true)
        }
        'd' | 'x' | 'X' | 'o' | 'c' => {
            let n = match arg {
                Obj::Int(n) => *n,
                // `%d` of a float truncates it.
                Obj::Float(x) if conv == 'd' && x.abs() < 9.0e15 => x.trunc() as i64,
                _ => {
                    return Err(format!(
                        "`format` `%{conv}` gets `{}` where Emacs expects a number",
                        arg.show(true)
                    ))
                }
            };
            if precision.is_some() {
                return Err("`format` is evaluated without a precision for integers".into());
            }
            let t = match conv {
                'd' => {
                    let s = n.abs().to_string();
                    if n < 0 {
                        format!("-{s}")
                    } else if plus {
                        format!("+{s}")
                    } else if space {
                        format!(" {s}")
                    } else {
                        s
                    }
                }
                'x' | 'X' | 'o' if n < 0 => {
                    return Err("`format` `%x`/`%o` of a negative number is not evaluated".into())
                }
                'x' => format!("{n:x}"),
                'X' => format!("{n:X}"),
                'o' => format!("{n:o}"),
                _ => match u32::try_from(n).ok().and_then(char::from_u32) {
                    Some(c) => c.to_string(),
                    None => return Err(format!("`format` `%c` gets {n}, which is no character")),
                },
            };
            (t, conv != 'c')
        }
        _ => {
            return Err(format!(
                "`format` is evaluated only with `%s`, `%S`, `%d`, `%f`, `%x`, `%X`, `%o`, `%c` \
                 and `%%`, not `%{conv}`"
            ))
        }
    };
    let len = text.chars().count();
    if len >= width {
        return Ok(text);
    }
    let pad = width - len;
    Ok(if minus {
        format!("{text}{}", " ".repeat(pad))
    } else if zero && numeric {
        let (sign, digits) = match text.strip_prefix(['-', '+', ' ']) {
            Some(d) => (&text[..1], d),
            None => ("", text.as_str()),
        };
        format!("{sign}{}{digits}", "0".repeat(pad))
    } else {
        format!("{}{text}", " ".repeat(pad))
    })
}

/// `format`.
pub(super) fn format(v: &[Obj]) -> R {
    let Some((fmt, rest)) = v.split_first() else {
        return Err("`format` needs a format string".into());
    };
    let fmt = string_arg("format", fmt)?;
    let mut out = String::new();
    let mut rest = rest.iter();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() || "-+ #.".contains(d) {
                spec.push(d);
                chars.next();
            } else {
                break;
            }
        }
        match chars.next() {
            Some('%') if spec.is_empty() => out.push('%'),
            Some(conv) => {
                if spec.contains('$') || spec.contains('#') {
                    return Err("`format` is evaluated without `#` and field numbers".into());
                }
                let a = rest
                    .next()
                    .ok_or("`format` has fewer arguments than `%` sequences (Emacs fails)")?;
                out.push_str(&format_one(&spec, conv, a)?);
            }
            None => return Err("`format` string ends with `%` (Emacs fails)".into()),
        }
    }
    Ok(Obj::Str(out))
}

/// Whether `re` is a regexp without special characters: it matches itself.
fn plain_regexp(re: &str) -> bool {
    !re.contains(['.', '*', '+', '?', '[', ']', '\\', '^', '$'])
}

/// Checks that `f` gets between `min` and `max` arguments.
fn check_arity(f: &str, v: &[Obj], min: usize, max: usize) -> Result<(), String> {
    if v.len() < min || v.len() > max {
        Err(format!(
            "`{f}` gets {} arguments (wrong-number-of-arguments)",
            v.len()
        ))
    } else {
        Ok(())
    }
}

impl Ctx<'_> {
    /// Calls a function value: a symbol naming a function, or a lambda.
    pub(super) fn funcall(&mut self, func: &Obj, args: Vec<Obj>) -> R {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "function calls nest more than {MAX_DEPTH} deep (Emacs would stop at \
                 `max-lisp-eval-depth`)"
            ));
        }
        self.depth += 1;
        let r = match func {
            Obj::Sym(name) => {
                if self.special_more(name, &[]).is_some()
                    || matches!(
                        name.as_str(),
                        "if" | "when"
                            | "unless"
                            | "cond"
                            | "and"
                            | "or"
                            | "let"
                            | "let*"
                            | "progn"
                            | "quote"
                    )
                {
                    Err(format!(
                        "`{name}` is a special form, not a function (Emacs fails)"
                    ))
                } else {
                    self.call_values(name, args)
                }
            }
            Obj::Lambda(params, body) => {
                let depth = self.vars.len();
                let mut args = args.into_iter();
                let mut optional = false;
                let mut result = Ok(());
                let mut k = 0;
                while k < params.len() {
                    match params[k].as_str() {
                        "&optional" => optional = true,
                        "&rest" => {
                            if let Some(n) = params.get(k + 1) {
                                self.vars
                                    .push((n.clone(), Obj::list(args.by_ref().collect())));
                            }
                            k += 1;
                        }
                        p => match args.next() {
                            Some(v) => self.vars.push((p.to_string(), v)),
                            None if optional => self.vars.push((p.to_string(), Obj::Nil)),
                            None => {
                                result =
                                    Err("a lambda gets too few arguments (Emacs fails)".into());
                                break;
                            }
                        },
                    }
                    k += 1;
                }
                if result.is_ok() && args.next().is_some() {
                    result = Err("a lambda gets too many arguments (Emacs fails)".into());
                }
                let body = body.clone();
                let r = result.and_then(|()| self.progn(&body));
                self.vars.truncate(depth);
                r
            }
            other => Err(format!(
                "`{}` is not a function (invalid-function)",
                other.show(true)
            )),
        };
        self.depth -= 1;
        r
    }

    /// Functions beyond the header ones; `None` when `f` is not one of them.
    /// The builtins of this module (see [`Self::call_values`] for `eval`'s): `None` when `f`
    /// is not one.
    pub(super) fn builtin_more(&mut self, f: &str, v: &[Obj]) -> Option<R> {
        self.list_builtin(f, v)
            .or_else(|| self.string_builtin(f, v))
            .or_else(|| self.number_builtin(f, v))
            .or_else(|| Self::predicate_builtin(f, v))
            .or_else(|| self.output_builtin(f, v))
    }

    /// Builtins on lists and other sequences, and the functions that call function values.
    fn list_builtin(&mut self, f: &str, v: &[Obj]) -> Option<R> {
        let arity = |min: usize, max: usize| check_arity(f, v, min, max);
        let r = (|| -> R {
            Ok(match f {
                "car" | "car-safe" => {
                    arity(1, 1)?;
                    match (&v[0], f) {
                        (Obj::List(_) | Obj::Dotted(..) | Obj::Nil, _) => car(&v[0])?,
                        (_, "car-safe") => Obj::Nil,
                        _ => car(&v[0])?,
                    }
                }
                "cdr" | "cdr-safe" => {
                    arity(1, 1)?;
                    match (&v[0], f) {
                        (Obj::List(_) | Obj::Dotted(..) | Obj::Nil, _) => cdr(&v[0])?,
                        (_, "cdr-safe") => Obj::Nil,
                        _ => cdr(&v[0])?,
                    }
                }
                "cadr" | "cddr" | "caar" | "cdar" | "caddr" | "cdddr" => {
                    arity(1, 1)?;
                    let ops: Vec<char> = f[1..f.len() - 1].chars().rev().collect();
                    let mut x = v[0].clone();
                    for op in ops {
                        x = if op == 'a' { car(&x)? } else { cdr(&x)? };
                    }
                    x
                }
                "nth" | "nthcdr" | "elt" => {
                    arity(2, 2)?;
                    let (n, l) = if f == "elt" {
                        (int_arg(f, &v[1])?, &v[0])
                    } else {
                        (int_arg(f, &v[0])?, &v[1])
                    };
                    let mut x = l.clone();
                    for _ in 0..n.max(0) {
                        if x == Obj::Nil {
                            break;
                        }
                        x = cdr(&x)?;
                    }
                    if f == "nthcdr" {
                        x
                    } else {
                        car(&x)?
                    }
                }
                "last" => {
                    arity(1, 1)?;
                    let items = list_items(f, &v[0])?;
                    Obj::list(items.last().cloned().into_iter().collect())
                }
                "length" | "safe-length" | "string-width" => {
                    arity(1, 1)?;
                    Obj::Int(match &v[0] {
                        Obj::Str(s) if f == "string-width" && !s.is_ascii() => {
                            return Err("`string-width` of non-ASCII text (columns)".into())
                        }
                        Obj::Str(s) => s.chars().count() as i64,
                        other => list_items(f, other)?.len() as i64,
                    })
                }
                "list" => Obj::list(v.to_vec()),
                "cons" => {
                    arity(2, 2)?;
                    cons(v[0].clone(), v[1].clone())
                }
                "append" => {
                    let mut out = Vec::new();
                    let Some((last, init)) = v.split_last() else {
                        return Ok(Obj::Nil);
                    };
                    for x in init {
                        out.extend(seq_items(f, x)?);
                    }
                    match last {
                        Obj::Nil => Obj::list(out),
                        Obj::List(items) => {
                            out.extend(items.iter().cloned());
                            Obj::List(out)
                        }
                        other if out.is_empty() => other.clone(),
                        other => Obj::Dotted(out, Box::new(other.clone())),
                    }
                }
                "reverse" | "nreverse" => {
                    arity(1, 1)?;
                    match &v[0] {
                        Obj::Str(s) => Obj::Str(s.chars().rev().collect()),
                        other => {
                            let mut items = list_items(f, other)?;
                            items.reverse();
                            Obj::list(items)
                        }
                    }
                }
                "assoc" | "assoc-string" | "assq" | "rassoc" | "rassq" | "alist-get" => {
                    self.assoc(f, v)?
                }
                "plist-get" => {
                    arity(2, 3)?;
                    let items = list_items(f, &v[0])?;
                    let mut out = Obj::Nil;
                    for pair in items.chunks(2) {
                        if pair.len() == 2 && eq(f, &pair[0], &v[1])? {
                            out = pair[1].clone();
                            break;
                        }
                    }
                    out
                }
                "memq" => {
                    arity(2, 2)?;
                    let items = list_items(f, &v[1])?;
                    let mut out = Obj::Nil;
                    for (k, x) in items.iter().enumerate() {
                        if eq(f, &v[0], x)? {
                            out = Obj::List(items[k..].to_vec());
                            break;
                        }
                    }
                    out
                }
                "delete-dups" | "seq-uniq" | "cl-remove-duplicates" => {
                    arity(1, 1)?;
                    let mut out: Vec<Obj> = Vec::new();
                    for x in list_items(f, &v[0])? {
                        if !out.contains(&x) {
                            out.push(x);
                        }
                    }
                    Obj::list(out)
                }
                "delete" | "remove" => {
                    arity(2, 2)?;
                    Obj::list(
                        list_items(f, &v[1])?
                            .into_iter()
                            .filter(|x| *x != v[0])
                            .collect(),
                    )
                }
                "mapcar" | "mapc" | "seq-map" | "mapcan" => {
                    arity(2, 2)?;
                    let items = seq_items(f, &v[1])?;
                    let mut out = Vec::with_capacity(items.len());
                    for x in items {
                        out.push(self.funcall(&v[0], vec![x])?);
                    }
                    match f {
                        "mapc" => v[1].clone(),
                        "mapcan" => {
                            let mut all = Vec::new();
                            for x in out {
                                all.extend(list_items(f, &x)?);
                            }
                            Obj::list(all)
                        }
                        _ => Obj::list(out),
                    }
                }
                "mapconcat" => {
                    // Emacs 28 needs the separator (it is optional from Emacs 29 on).
                    arity(3, 3)?;
                    let sep = string_arg(f, &v[2])?;
                    let mut parts = Vec::new();
                    for x in seq_items(f, &v[1])? {
                        match self.funcall(&v[0], vec![x])? {
                            Obj::Str(s) => parts.push(s),
                            Obj::Nil => parts.push(String::new()),
                            other => {
                                return Err(format!(
                                    "`mapconcat`'s function returns `{}`, not a string",
                                    other.show(true)
                                ))
                            }
                        }
                    }
                    Obj::Str(parts.join(&sep))
                }
                "seq-filter" | "cl-remove-if-not" | "cl-remove-if" | "seq-remove" => {
                    arity(2, 2)?;
                    let (func, seq) = (&v[0], &v[1]);
                    let keep_true = matches!(f, "seq-filter" | "cl-remove-if-not");
                    let mut out = Vec::new();
                    for x in list_items(f, seq)? {
                        if self.funcall(func, vec![x.clone()])?.truthy() == keep_true {
                            out.push(x);
                        }
                    }
                    Obj::list(out)
                }
                "funcall" => {
                    let Some((func, rest)) = v.split_first() else {
                        return Err("`funcall` needs a function".into());
                    };
                    self.funcall(func, rest.to_vec())?
                }
                "apply" => {
                    let Some((func, rest)) = v.split_first() else {
                        return Err("`apply` needs a function".into());
                    };
                    let Some((last, init)) = rest.split_last() else {
                        return Err("`apply` needs a list of arguments".into());
                    };
                    let mut args = init.to_vec();
                    args.extend(list_items(f, last)?);
                    self.funcall(func, args)?
                }
                "ignore" => Obj::Nil,
                "number-sequence" => {
                    arity(1, 3)?;
                    let from = int_arg(f, &v[0])?;
                    let to = match v.get(1) {
                        None | Some(Obj::Nil) => from,
                        Some(t) => int_arg(f, t)?,
                    };
                    let step = match v.get(2) {
                        None | Some(Obj::Nil) => 1,
                        Some(s) => int_arg(f, s)?,
                    };
                    if step == 0 {
                        return Err("`number-sequence` with a zero step (Emacs fails)".into());
                    }
                    let count = if step > 0 {
                        (to - from).checked_div(step).map_or(0, |c| c + 1)
                    } else {
                        (from - to).checked_div(-step).map_or(0, |c| c + 1)
                    };
                    if count as u64 > MAX_ITERATIONS as u64 {
                        return Err("`number-sequence` longer than this tangler makes".into());
                    }
                    Obj::list(
                        (0..count.max(0))
                            .map(|k| Obj::Int(from + k * step))
                            .collect(),
                    )
                }
                "sort" | "seq-sort" => {
                    arity(2, 2)?;
                    let (seq, pred) = if f == "sort" {
                        (&v[0], &v[1])
                    } else {
                        (&v[1], &v[0])
                    };
                    let mut items = list_items(f, seq)?;
                    // A stable merge sort, as Emacs' `sort` is: an element moves before an
                    // earlier one only when PRED says it is less.
                    let mut err = None;
                    let mut k = 1;
                    while k < items.len() && err.is_none() {
                        let mut j = k;
                        while j > 0 {
                            match self.funcall(pred, vec![items[j].clone(), items[j - 1].clone()]) {
                                Ok(less) if less.truthy() => {
                                    // Stable sorts agree only for a strict order.
                                    let back = self.funcall(
                                        pred,
                                        vec![items[j - 1].clone(), items[j].clone()],
                                    );
                                    if !matches!(back, Ok(Obj::Nil)) {
                                        err = Some(back.err().unwrap_or_else(|| {
                                            "`sort`'s predicate puts two elements each before \
                                             the other; Emacs' merge sort would order them its \
                                             own way"
                                                .into()
                                        }));
                                        break;
                                    }
                                    items.swap(j, j - 1);
                                    j -= 1;
                                }
                                Ok(_) => break,
                                Err(e) => {
                                    err = Some(e);
                                    break;
                                }
                            }
                        }
                        k += 1;
                    }
                    if let Some(e) = err {
                        return Err(e);
                    }
                    Obj::list(items)
                }
                "copy-sequence" | "copy-tree" => {
                    arity(1, 2)?;
                    v[0].clone()
                }
                "cl-first" | "cl-second" | "cl-third" => {
                    arity(1, 1)?;
                    let n = ["cl-first", "cl-second", "cl-third"]
                        .iter()
                        .position(|x| *x == f)
                        .expect("listed");
                    let mut x = v[0].clone();
                    for _ in 0..n {
                        x = cdr(&x)?;
                    }
                    car(&x)?
                }
                "butlast" => {
                    arity(1, 2)?;
                    let mut items = list_items(f, &v[0])?;
                    let n = match v.get(1) {
                        None | Some(Obj::Nil) => 1,
                        Some(n) => int_arg(f, n)?.max(0) as usize,
                    };
                    items.truncate(items.len().saturating_sub(n));
                    Obj::list(items)
                }
                _ => return Err(String::new()),
            })
        })();
        match r {
            Err(e) if e.is_empty() => None,
            r => Some(r),
        }
    }

    /// Builtins on strings and symbols' names.
    fn string_builtin(&mut self, f: &str, v: &[Obj]) -> Option<R> {
        let arity = |min: usize, max: usize| check_arity(f, v, min, max);
        let r = (|| -> R {
            Ok(match f {
                "string-join" => {
                    arity(1, 2)?;
                    let sep = match v.get(1) {
                        None | Some(Obj::Nil) => String::new(),
                        Some(s) => string_arg(f, s)?,
                    };
                    let mut parts = Vec::new();
                    for x in list_items(f, &v[0])? {
                        parts.push(string_arg(f, &x)?);
                    }
                    Obj::Str(parts.join(&sep))
                }
                "rot13-string" => {
                    arity(1, 1)?;
                    let s = string_arg(f, &v[0])?;
                    Obj::Str(
                        s.chars()
                            .map(|c| match c {
                                'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
                                'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
                                c => c,
                            })
                            .collect(),
                    )
                }
                "upcase" | "downcase" => {
                    arity(1, 1)?;
                    let s = match &v[0] {
                        Obj::Str(s) => s.clone(),
                        other => return Err(string_arg(f, other).unwrap_err()),
                    };
                    if !s.is_ascii() {
                        return Err(format!(
                            "`{f}` is evaluated for ASCII text only (Emacs' case tables differ \
                             from Unicode's for some characters)"
                        ));
                    }
                    Obj::Str(if f == "upcase" {
                        s.to_ascii_uppercase()
                    } else {
                        s.to_ascii_lowercase()
                    })
                }
                "number-to-string" => {
                    arity(1, 1)?;
                    float_arg(f, &v[0])?;
                    Obj::Str(v[0].show(false))
                }
                "string-to-number" => {
                    arity(1, 1)?;
                    let s = string_arg(f, &v[0])?;
                    // The longest number at the start, after spaces and tabs; else 0.
                    let t = s.trim_start_matches([' ', '\t']);
                    let end = t
                        .find(|c: char| !(c.is_ascii_digit() || "+-.eE".contains(c)))
                        .unwrap_or(t.len());
                    let mut value = Obj::Int(0);
                    for k in (1..=end).rev() {
                        if let Some((n, _)) = super::lisp::read_lisp_int(&t[..k]) {
                            value = Obj::Int(n);
                            break;
                        }
                        if let Some(x) = super::lisp::read_lisp_float(&t[..k]) {
                            value = Obj::Float(x);
                            break;
                        }
                    }
                    value
                }
                "symbol-name" => {
                    arity(1, 1)?;
                    match &v[0] {
                        Obj::Sym(s) => Obj::Str(s.clone()),
                        Obj::Nil | Obj::T => Obj::Str(v[0].show(false)),
                        other => {
                            return Err(format!(
                                "`symbol-name` gets `{}`, not a symbol",
                                other.show(true)
                            ))
                        }
                    }
                }
                "intern" => {
                    arity(1, 2)?;
                    match string_arg(f, &v[0])?.as_str() {
                        "nil" => Obj::Nil,
                        "t" => Obj::T,
                        // Emacs prints such symbols with escapes.
                        s if s.is_empty()
                            || s.contains(|c: char| {
                                c.is_whitespace() || "()[]\"';`,#?\\.".contains(c)
                            })
                            || s.starts_with(|c: char| {
                                c.is_ascii_digit() || c == '-' || c == '+'
                            }) =>
                        {
                            return Err(format!(
                                "`intern` of `{s}` makes a symbol Emacs prints with escapes"
                            ))
                        }
                        s => Obj::Sym(s.to_string()),
                    }
                }
                "substring" | "substring-no-properties" => {
                    arity(1, 3)?;
                    let s: Vec<char> = string_arg(f, &v[0])?.chars().collect();
                    let n = s.len() as i64;
                    let idx = |x: Option<&Obj>, default: i64| -> Result<i64, String> {
                        match x {
                            None | Some(Obj::Nil) => Ok(default),
                            Some(o) => {
                                let k = int_arg(f, o)?;
                                Ok(if k < 0 { n + k } else { k })
                            }
                        }
                    };
                    let (a, b) = (idx(v.get(1), 0)?, idx(v.get(2), n)?);
                    if a < 0 || b > n || a > b {
                        return Err("`substring` out of range (args-out-of-range)".into());
                    }
                    Obj::Str(s[a as usize..b as usize].iter().collect())
                }
                "string-empty-p" => {
                    arity(1, 1)?;
                    Obj::bool(string_arg(f, &v[0])?.is_empty())
                }
                "string-replace" => {
                    arity(3, 3)?;
                    let (from, to, s) = (
                        string_arg(f, &v[0])?,
                        string_arg(f, &v[1])?,
                        string_arg(f, &v[2])?,
                    );
                    if from.is_empty() {
                        return Err("`string-replace` of an empty string (Emacs fails)".into());
                    }
                    Obj::Str(s.replace(&from, &to))
                }
                "replace-regexp-in-string" => {
                    arity(3, 7)?;
                    let (re, rep, s) = (
                        string_arg(f, &v[0])?,
                        string_arg(f, &v[1])?,
                        string_arg(f, &v[2])?,
                    );
                    if v.len() > 3 || !plain_regexp(&re) || re.is_empty() || rep.contains('\\') {
                        return Err(format!(
                            "`replace-regexp-in-string` is evaluated only with a plain-text \
                             regexp and replacement and no further arguments, not `{re}`"
                        ));
                    }
                    // With `case-fold-search` t, a lower-case replacement of a capitalized
                    // match is capitalized (`replace-match`'s case conversion).
                    let cased = rep.chars().any(char::is_alphabetic)
                        && s.match_indices(&re)
                            .any(|(_, m)| m.chars().any(char::is_uppercase));
                    if cased || re.chars().any(char::is_alphabetic) {
                        return Err(
                            "`replace-regexp-in-string` with letters in the regexp is not \
                             evaluated (Emacs matches them ignoring case and converts the \
                             replacement's case)"
                                .into(),
                        );
                    }
                    Obj::Str(s.replace(&re, &rep))
                }
                "split-string" => {
                    arity(1, 4)?;
                    let s = string_arg(f, &v[0])?;
                    let (parts, omit): (Vec<String>, bool) = match v.get(1) {
                        None | Some(Obj::Nil) => (
                            s.split([' ', '\x0c', '\t', '\n', '\r', '\x0b'])
                                .map(str::to_string)
                                .collect(),
                            true,
                        ),
                        Some(sep) => {
                            let sep = string_arg(f, sep)?;
                            // Letters would match either case (`case-fold-search`).
                            if !plain_regexp(&sep)
                                || sep.is_empty()
                                || sep.chars().any(char::is_alphabetic)
                            {
                                return Err(format!(
                                    "`split-string` is evaluated only with a plain-text \
                                     separator without letters, not `{sep}`"
                                ));
                            }
                            (
                                s.split(sep.as_str()).map(str::to_string).collect(),
                                v.get(2).is_some_and(Obj::truthy),
                            )
                        }
                    };
                    let trim = match v.get(3) {
                        None | Some(Obj::Nil) => None,
                        Some(t) => {
                            let t = string_arg(f, t)?;
                            return Err(format!("`split-string` with TRIM `{t}` is not evaluated"));
                        }
                    };
                    let _: Option<()> = trim;
                    Obj::list(
                        parts
                            .into_iter()
                            .filter(|p| !(omit && p.is_empty()))
                            .map(Obj::Str)
                            .collect(),
                    )
                }
                "string-trim-left" | "string-trim-right" => {
                    arity(1, 1)?;
                    let s = string_arg(f, &v[0])?;
                    let ws = [' ', '\t', '\n', '\r'];
                    Obj::Str(if f.ends_with("left") {
                        s.trim_start_matches(ws).to_string()
                    } else {
                        s.trim_end_matches(ws).to_string()
                    })
                }
                "string<" | "string-lessp" | "string>" | "string-greaterp" => {
                    arity(2, 2)?;
                    let a = string_or_symbol_arg(f, &v[0])?;
                    let b = string_or_symbol_arg(f, &v[1])?;
                    Obj::bool(if f.contains('<') || f.ends_with("lessp") {
                        a < b
                    } else {
                        a > b
                    })
                }
                "string-to-list" => {
                    arity(1, 1)?;
                    Obj::list(seq_items(f, &v[0])?)
                }
                "string" | "char-to-string" => {
                    let mut out = String::new();
                    for c in v {
                        let n = int_arg(f, c)?;
                        match u32::try_from(n).ok().and_then(char::from_u32) {
                            Some(ch) => out.push(ch),
                            None => return Err(format!("`{f}` gets {n}, which is no character")),
                        }
                    }
                    Obj::Str(out)
                }
                "make-string" => {
                    arity(2, 3)?;
                    let n = int_arg(f, &v[0])?;
                    let c = int_arg(f, &v[1])?;
                    let ch = u32::try_from(c)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("`make-string` gets {c}, which is no character"))?;
                    if !(0..=1_000_000).contains(&n) {
                        return Err("`make-string` of that length is not made here".into());
                    }
                    Obj::Str(std::iter::repeat_n(ch, n as usize).collect())
                }
                _ => return Err(String::new()),
            })
        })();
        match r {
            Err(e) if e.is_empty() => None,
            r => Some(r),
        }
    }

    /// Builtins on numbers: arithmetic, comparisons, rounding.
    fn number_builtin(&mut self, f: &str, v: &[Obj]) -> Option<R> {
        let arity = |min: usize, max: usize| check_arity(f, v, min, max);
        let r = (|| -> R {
            Ok(match f {
                "cl-evenp" | "cl-oddp" | "cl-plusp" | "cl-minusp" => {
                    arity(1, 1)?;
                    let n = int_arg(f, &v[0])?;
                    Obj::bool(match f {
                        "cl-evenp" => n % 2 == 0,
                        "cl-oddp" => n % 2 != 0,
                        "cl-plusp" => n > 0,
                        _ => n < 0,
                    })
                }
                "zerop" => {
                    arity(1, 1)?;
                    Obj::bool(float_arg(f, &v[0])? == 0.0)
                }
                "float" => {
                    arity(1, 1)?;
                    Obj::Float(float_arg(f, &v[0])?)
                }
                "truncate" | "floor" | "round" | "ceiling" => {
                    arity(1, 1)?;
                    match &v[0] {
                        Obj::Int(n) => Obj::Int(*n),
                        other => {
                            let x = float_arg(f, other)?;
                            let r = match f {
                                "truncate" => x.trunc(),
                                "floor" => x.floor(),
                                "ceiling" => x.ceil(),
                                // Emacs rounds halves to even.
                                _ => x.round_ties_even(),
                            };
                            if r.is_nan() || r.abs() >= 9.0e15 {
                                return Err(format!("`{f}` of {x} is out of range here"));
                            }
                            Obj::Int(r as i64)
                        }
                    }
                }
                "+" | "*" | "-" | "/" | "%" | "mod" | "max" | "min" | "1+" | "1-" => {
                    self.arith(f, v)?
                }
                "=" | "<" | ">" | "<=" | ">=" | "/=" => {
                    if v.is_empty() {
                        return Err(format!("`{f}` needs arguments"));
                    }
                    let ints: Result<Vec<i64>, String> = v.iter().map(|x| int_arg(f, x)).collect();
                    if let Err(e) = ints {
                        // Floats compare as floats (exact for the integers we meet).
                        let xs: Vec<f64> = v
                            .iter()
                            .map(|x| float_arg(f, x))
                            .collect::<Result<_, _>>()
                            .map_err(|_| e)?;
                        return Ok(Obj::bool(xs.windows(2).all(|w| match f {
                            "=" => w[0] == w[1],
                            "<" => w[0] < w[1],
                            ">" => w[0] > w[1],
                            "<=" => w[0] <= w[1],
                            ">=" => w[0] >= w[1],
                            _ => w[0] != w[1],
                        })));
                    }
                    let ns = ints?;
                    Obj::bool(ns.windows(2).all(|w| match f {
                        "=" => w[0] == w[1],
                        "<" => w[0] < w[1],
                        ">" => w[0] > w[1],
                        "<=" => w[0] <= w[1],
                        ">=" => w[0] >= w[1],
                        _ => w[0] != w[1],
                    }))
                }
                _ => return Err(String::new()),
            })
        })();
        match r {
            Err(e) if e.is_empty() => None,
            r => Some(r),
        }
    }

    /// Type predicates.
    fn predicate_builtin(f: &str, v: &[Obj]) -> Option<R> {
        let r = (|| -> R {
            Ok(match f {
                "stringp" => Obj::bool(matches!(v.first(), Some(Obj::Str(_)))),
                "numberp" | "integerp" | "natnump" => Obj::bool(match v.first() {
                    Some(Obj::Int(n)) => f != "natnump" || *n >= 0,
                    Some(Obj::Float(_)) => f == "numberp",
                    _ => false,
                }),
                "listp" => Obj::bool(matches!(
                    v.first(),
                    Some(Obj::Nil | Obj::List(_) | Obj::Dotted(..))
                )),
                "consp" => Obj::bool(matches!(v.first(), Some(Obj::List(_) | Obj::Dotted(..)))),
                "atom" => Obj::bool(!matches!(v.first(), Some(Obj::List(_) | Obj::Dotted(..)))),
                "symbolp" => Obj::bool(matches!(v.first(), Some(Obj::Nil | Obj::T | Obj::Sym(_)))),
                "floatp" => Obj::bool(matches!(v.first(), Some(Obj::Float(_)))),
                _ => return Err(String::new()),
            })
        })();
        match r {
            Err(e) if e.is_empty() => None,
            r => Some(r),
        }
    }

    /// Printing (into the block's output, when it is collected) and `require` (of a library
    /// the evaluator knows, else refused).
    fn output_builtin(&mut self, f: &str, v: &[Obj]) -> Option<R> {
        let arity = |min: usize, max: usize| check_arity(f, v, min, max);
        let r = (|| -> R {
            Ok(match f {
                "princ" | "prin1" | "print" | "terpri" => {
                    let (obj, stream) = match f {
                        "terpri" => (Obj::T, v.first()),
                        _ => {
                            arity(1, 2)?;
                            (v[0].clone(), v.get(1))
                        }
                    };
                    if !matches!(stream, None | Some(Obj::Nil)) {
                        return Err(format!("`{f}` to a stream other than standard output"));
                    }
                    if !obj.printable() {
                        return Err(format!("`{f}` of a function"));
                    }
                    let text = match f {
                        "princ" => obj.show(false),
                        "prin1" => obj.show(true),
                        "print" => format!("\n{}\n", obj.show(true)),
                        _ => "\n".to_string(),
                    };
                    if let Some(out) = self.output.as_mut() {
                        out.push_str(&text);
                    }
                    obj
                }
                "message" => {
                    // In batch, the message goes to standard error.
                    match v.first() {
                        None => return Err("`message` needs a format".into()),
                        Some(Obj::Nil) => Obj::Nil,
                        Some(_) => format(v)?,
                    }
                }
                "require" => {
                    arity(1, 3)?;
                    match &v[0] {
                        Obj::Sym(s)
                            if matches!(s.as_str(), "cl-lib" | "subr-x" | "seq" | "org" | "ob") =>
                        {
                            v[0].clone()
                        }
                        other => {
                            return Err(format!(
                                "`(require {})` loads a library this tangler does not evaluate",
                                other.show(true)
                            ))
                        }
                    }
                }
                _ => return Err(String::new()),
            })
        })();
        match r {
            Err(e) if e.is_empty() => None,
            r => Some(r),
        }
    }

    fn assoc(&mut self, f: &str, v: &[Obj]) -> R {
        let (key, alist, test) = match f {
            "alist-get" => {
                if v.len() < 2 || v.len() > 5 {
                    return Err("`alist-get` gets a wrong number of arguments".into());
                }
                (&v[0], &v[1], v.get(4))
            }
            "assoc" => {
                if v.len() < 2 || v.len() > 3 {
                    return Err("`assoc` gets a wrong number of arguments".into());
                }
                (&v[0], &v[1], v.get(2))
            }
            _ => {
                if v.len() < 2 || v.len() > 3 {
                    return Err(format!("`{f}` gets a wrong number of arguments"));
                }
                (&v[0], &v[1], None)
            }
        };
        let by_value = matches!(f, "rassoc" | "rassq");
        let mut found = None;
        for el in alist_items(f, alist)? {
            let Ok(k) = (if by_value { cdr(&el) } else { car(&el) }) else {
                continue;
            };
            if !matches!(el, Obj::List(_) | Obj::Dotted(..)) {
                continue;
            }
            let hit = match (f, test) {
                ("assoc" | "rassoc", None) => k == *key,
                ("assoc-string", _) => {
                    let fold = v.get(2).is_some_and(Obj::truthy);
                    let s = |o: &Obj| match o {
                        Obj::Str(s) | Obj::Sym(s) => Some(s.clone()),
                        _ => None,
                    };
                    match (s(&k), s(key)) {
                        (Some(a), Some(b)) if fold && !(a.is_ascii() && b.is_ascii()) => {
                            return Err("`assoc-string` ignoring the case of non-ASCII text".into())
                        }
                        (Some(a), Some(b)) if fold => a.eq_ignore_ascii_case(&b),
                        (Some(a), Some(b)) => a == b,
                        _ => false,
                    }
                }
                (_, None | Some(Obj::Nil)) => eq(f, key, &k)?,
                (_, Some(t)) => self.funcall(t, vec![key.clone(), k.clone()])?.truthy(),
            };
            if hit {
                found = Some(el);
                break;
            }
        }
        Ok(match (f, found) {
            ("alist-get", Some(el)) => cdr(&el)?,
            ("alist-get", None) => v.get(2).cloned().unwrap_or(Obj::Nil),
            (_, Some(el)) => el,
            (_, None) => Obj::Nil,
        })
    }

    fn arith(&mut self, f: &str, v: &[Obj]) -> R {
        if v.iter().any(|x| matches!(x, Obj::Float(_))) {
            let xs: Vec<f64> = v
                .iter()
                .map(|x| float_arg(f, x))
                .collect::<Result<_, _>>()?;
            let x = match (f, xs.split_first()) {
                ("+", _) => xs.iter().sum(),
                ("*", _) => xs.iter().product(),
                ("-", Some((a, []))) => -a,
                ("-", Some((a, rest))) => rest.iter().fold(*a, |a, b| a - b),
                ("/", Some((a, rest))) if !rest.is_empty() => rest.iter().fold(*a, |a, b| a / b),
                ("1+", Some((a, []))) => a + 1.0,
                ("1-", Some((a, []))) => a - 1.0,
                _ => {
                    return Err(format!(
                        "`{f}` with floats is not evaluated by this tangler"
                    ))
                }
            };
            return Ok(Obj::Float(x));
        }
        let ns: Vec<i64> = v.iter().map(|x| int_arg(f, x)).collect::<Result<_, _>>()?;
        let overflow = || format!("`{f}` overflows");
        let n = match f {
            "+" => ns
                .iter()
                .try_fold(0i64, |a, &b| a.checked_add(b))
                .ok_or_else(overflow)?,
            "*" => ns
                .iter()
                .try_fold(1i64, |a, &b| a.checked_mul(b))
                .ok_or_else(overflow)?,
            "-" => match ns.split_first() {
                None => 0,
                Some((a, [])) => a.checked_neg().ok_or_else(overflow)?,
                Some((a, rest)) => rest
                    .iter()
                    .try_fold(*a, |a, &b| a.checked_sub(b))
                    .ok_or_else(overflow)?,
            },
            "/" => match ns.split_first() {
                None => return Err("`/` needs arguments".into()),
                Some((_, [])) => return Err("`/` of one number is not evaluated".into()),
                Some((a, rest)) => {
                    let mut acc = *a;
                    for &b in rest {
                        if b == 0 {
                            return Err("`/` by zero (arith-error)".into());
                        }
                        acc = acc.checked_div(b).ok_or_else(overflow)?;
                    }
                    acc
                }
            },
            "%" | "mod" => {
                let [a, b] = ns[..] else {
                    return Err(format!("`{f}` needs two numbers"));
                };
                if b == 0 {
                    return Err(format!("`{f}` by zero (arith-error)"));
                }
                let r = a % b;
                // `mod` takes the sign of the divisor.
                if f == "mod" && r != 0 && (r < 0) != (b < 0) {
                    r + b
                } else {
                    r
                }
            }
            "max" | "min" => {
                if ns.is_empty() {
                    return Err(format!("`{f}` needs arguments"));
                }
                if f == "max" {
                    *ns.iter().max().expect("not empty")
                } else {
                    *ns.iter().min().expect("not empty")
                }
            }
            "1+" | "1-" => {
                let [a] = ns[..] else {
                    return Err(format!("`{f}` needs one number"));
                };
                if f == "1+" {
                    a.checked_add(1)
                } else {
                    a.checked_sub(1)
                }
                .ok_or_else(overflow)?
            }
            _ => unreachable!("arith is called for arithmetic functions"),
        };
        Ok(Obj::Int(n))
    }
}

#[cfg(test)]
mod tests {
    use super::super::env::OrgEnv;
    use super::super::lisp::read_sexp;
    use super::*;

    fn ev(s: &str) -> R {
        let env = OrgEnv::default();
        let mut c = Ctx::new(&env, "/doc/".into(), "/doc/a.org".into());
        c.eval(&read_sexp(s).unwrap().0)
    }

    fn shown(s: &str) -> String {
        match ev(s) {
            Ok(v) => v.show(true),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn evaluates_what_called_blocks_use() {
        assert_eq!(shown("(let* ((a 1) (b (+ a 1))) (list a b))"), "(1 2)");
        assert_eq!(
            shown("(mapconcat (lambda (x) (upcase x)) '(\"a\" \"b\") \"-\")"),
            "\"A-B\""
        );
        assert_eq!(shown("(mapcar #'1+ '(1 2 3))"), "(2 3 4)");
        assert_eq!(
            shown("(cl-loop for x in '(1 2 3) for i from 10 collect (+ x i))"),
            "(11 13 15)"
        );
        assert_eq!(
            shown("(cl-loop for i from 1 to 3 concat (format \"%02d,\" i))"),
            "\"01,02,03,\""
        );
        assert_eq!(
            shown("(cl-loop for (k v) in '((a 1) (b 2)) when (> v 1) collect k)"),
            "(b)"
        );
        assert_eq!(shown("(alist-get 'b '((a . 1) (b . 2)))"), "2");
        assert_eq!(
            shown("(alist-get \"b\" '((\"a\" . 1) (\"b\" . 2)) nil nil #'equal)"),
            "2"
        );
        assert_eq!(shown("(cdr (assoc \"a\" '((\"a\" . \"x\"))))"), "\"x\"");
        assert_eq!(shown("(nth 1 '(a b c))"), "b");
        assert_eq!(shown("(string-join '(\"a\" \"b\") \", \")"), "\"a, b\"");
        assert_eq!(
            shown("(format \"%-4s|%3d|%S\" \"ab\" 7 \"q\")"),
            "\"ab  |  7|\\\"q\\\"\""
        );
        assert_eq!(
            shown("(let ((acc nil)) (dolist (x '(1 2)) (push x acc)) acc)"),
            "(2 1)"
        );
        assert_eq!(shown("(split-string \" a  b \")"), "(\"a\" \"b\")");
        assert_eq!(shown("(mod -7 3)"), "2");
        assert_eq!(shown("'(a . (b c))"), "(a b c)");
        assert_eq!(shown("(cons 1 2)"), "(1 . 2)");
        assert!(shown("(alist-get \"b\" '((\"b\" . 2)))").contains("object identity"));
        assert!(shown("(setq global 1)").contains("not bound by `let`"));
        assert!(shown("(while t)").contains("`while` is not evaluated"));
        assert!(shown("(mapconcat #'identity '(\"a\"))").contains("wrong-number-of-arguments"));
        assert_eq!(shown("(sort (list 3 1 2) #'<)"), "(1 2 3)");
        assert!(
            shown("(let ((x (list 2 1))) (sort x #'<) x)").contains("changes its list in place")
        );
        assert!(shown("(sort (list 1 1) #'<=)").contains("each before the other"));
        assert_eq!(shown("(number-sequence 5 1 -2)"), "(5 3 1)");
        assert_eq!(shown("(format \"%5.2f|%d\" 3.14159 2.9)"), "\" 3.14|2\"");
        assert_eq!(
            shown("(list 1.0 100.0 1e21 0.1 -0.0)"),
            "(1.0 100.0 1e+21 0.1 -0.0)"
        );
    }
}
