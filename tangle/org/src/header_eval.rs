//! The Tangler's side of header arguments: the values a tangle uses, read and, where they are
//! Lisp, evaluated at the block being tangled as Emacs would; resolving which arguments a
//! block has is [`header`](super::header)'s, on the scanned document.

use super::header::{param, read_val, Params, Val};
use super::lisp::{read_sexp, ReadError, Sexp, MAX_LISP_DEPTH};
use super::{abbreviate, on_big_stack, Tangler};
use tangle_core::diag::Diagnostic;

/// A used parameter after evaluation (never [`Val::Other`] or [`Val::Unreadable`]), and the
/// line it was written on.
#[derive(Debug, Clone)]
pub(super) struct Evaluated {
    pub(super) val: Val,
    pub(super) line: usize,
    /// Whether the value holds a decimal literal with a leading zero (`0444`).
    pub(super) decimal_zero: bool,
    /// The value as written.
    pub(super) raw: String,
}

/// Symbols whose forms call function values, which may recurse.
const RECURSIVE: &[&str] = &[
    "lambda",
    "function",
    "funcall",
    "apply",
    "mapcar",
    "mapc",
    "mapconcat",
    "mapcan",
    "seq-map",
    "seq-filter",
    "seq-remove",
    "sort",
    "seq-sort",
    "cl-remove-if",
    "cl-remove-if-not",
    "cl-loop",
    "loop",
    "alist-get",
    "assoc",
    "dolist",
    "dotimes",
];

/// Whether evaluating `e` stays shallow on the stack: forms nested at most 32 deep, with no
/// function values (lambdas, `funcall`, mapping) that could recurse.
fn shallow(e: &Sexp, depth: usize) -> bool {
    match e {
        _ if depth > 32 => false,
        Sexp::List(items) => items.iter().all(|i| match i {
            Sexp::Sym(s) => !RECURSIVE.contains(&s.as_str()),
            other => shallow(other, depth + 1),
        }),
        Sexp::Quote(q) => shallow(q, depth + 1),
        _ => true,
    }
}

impl Tangler<'_> {
    pub(super) fn light(&mut self, b: usize) -> &Params {
        if self.light_params[b].is_none() {
            self.light_params[b] = Some(self.doc.params_of(b));
        }
        self.light_params[b].as_ref().expect("just set")
    }

    pub(super) fn light_val(&mut self, b: usize, key: &str) -> Val {
        let raw = param(self.light(b), key).and_then(|c| c.raw.clone());
        read_val(raw.as_deref(), true).0
    }

    /// `org-babel-noweb-p` in the `:eval` context, with light (unevaluated) parameters.
    pub(super) fn noweb_eval(&mut self, b: usize) -> bool {
        match self.light_val(b, ":noweb") {
            Val::Str(s) => s
                .split_whitespace()
                .any(|v| matches!(v, "yes" | "no-export" | "strip-export" | "eval")),
            _ => false,
        }
    }

    /// Reads a used parameter of a tangled block, evaluating Lisp as Emacs would.
    /// Reads a used parameter of a tangled block, evaluating Lisp as Emacs would: `None` when
    /// the block does not have it, an error for a value we cannot read or evaluate.
    pub(super) fn eval_param(
        &mut self,
        params: &Params,
        key: &str,
    ) -> Result<Option<Evaluated>, Diagnostic> {
        let Some(cell) = param(params, key).cloned() else {
            return Ok(None);
        };
        let (mut v, zero) = read_val(cell.raw.as_deref(), false);
        let line = if cell.line == 0 { 1 } else { cell.line };
        if let Val::Other(raw) = &v {
            if raw.starts_with(['(', '\'']) {
                v = match self.eval_lisp_value(raw) {
                    Ok(v) => v,
                    Err(why) => {
                        return Err(self.diag(
                            line,
                            1,
                            format!("cannot evaluate `{key} {}`: {why}", abbreviate(raw)),
                        ))
                    }
                };
            }
        }
        match &v {
            Val::Other(raw) => {
                return Err(self.diag(
                    line,
                    1,
                    format!(
                    "cannot evaluate `{key} {}`: only strings, integers and `(identity N)` are \
                     supported",
                    abbreviate(raw)
                ),
                ))
            }
            Val::Unreadable(raw, why) => {
                let why = match why {
                    ReadError::EndOfInput if raw.contains(';') => {
                        "the text ends inside a list (`;` starts a comment that runs to the end \
                         of the line); Emacs fails with \"End of file during parsing\""
                            .to_string()
                    }
                    ReadError::EndOfInput => "the text ends inside a list or string; Emacs \
                                              fails with \"End of file during parsing\""
                        .to_string(),
                    ReadError::TooDeep => format!(
                        "lists or quotes nested more than {MAX_LISP_DEPTH} levels deep (Emacs \
                         28.2 overflows its stack)"
                    ),
                    ReadError::Unsupported => {
                        "only strings, integers and `(identity N)` are supported".to_string()
                    }
                };
                return Err(self.diag(
                    line,
                    1,
                    format!("cannot read `{key} {}`: {why}", abbreviate(raw)),
                ));
            }
            _ => {}
        }
        Ok(Some(Evaluated {
            val: v,
            line,
            decimal_zero: zero,
            raw: cell.raw.unwrap_or_default(),
        }))
    }

    /// Evaluates a Lisp header value with [`eval`](super::eval), at the block being tangled.
    fn eval_lisp_value(&self, raw: &str) -> Result<Val, String> {
        let (form, _) = read_sexp(raw).map_err(|_| "it cannot be read".to_string())?;
        // Small forms without functions of their own run here; others on a deep stack.
        let value = if shallow(&form, 0) {
            self.lisp_ctx(self.eval_block).eval(&form)?
        } else {
            on_big_stack(|| self.lisp_ctx(self.eval_block).eval(&form))?
        };
        match value {
            super::eval::Obj::Nil => Ok(Val::Nil),
            super::eval::Obj::Str(s) => Ok(Val::Str(s)),
            super::eval::Obj::Int(n) => Ok(Val::Int(n)),
            other => Err(format!(
                "it evaluates to `{}`, which is neither a string nor a number",
                other.show(true)
            )),
        }
    }

    /// A parameter that Org uses as a string: `None` when absent or `nil`.
    pub(super) fn str_param(
        &mut self,
        params: &Params,
        key: &str,
    ) -> Result<Option<String>, Diagnostic> {
        match self.eval_param(params, key)? {
            None => Ok(None),
            Some(Evaluated {
                val: Val::Str(s), ..
            }) => Ok(Some(s)),
            Some(Evaluated {
                val: Val::Int(n),
                line,
                ..
            }) => Err(self.diag(
                line,
                1,
                format!("`{key} {n}`: Org expects a string here and would fail"),
            )),
            // `nil`: eval_param refuses values we cannot represent.
            Some(_) => Ok(None),
        }
    }
}
