//! The Emacs Lisp reader, as far as header values need it: `read` of strings, integers,
//! symbols, lists and quotes (with `;` comments), and `eval` of the few forms we support.
//! The reader is iterative and depth-limited.
use super::header::Val;

/// Reads an Emacs Lisp string literal at the start of `s`.
pub(super) fn read_lisp_string(s: &str) -> Option<(String, usize)> {
    let mut it = s.chars();
    if it.next() != Some('"') {
        return None;
    }
    let mut out = String::new();
    while let Some(c) = it.next() {
        match c {
            '"' => return Some((out, s.len() - it.as_str().len())),
            '\\' => {
                let e = it.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    'f' => out.push('\x0c'),
                    'e' => out.push('\x1b'),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'v' => out.push('\x0b'),
                    's' => out.push(' '),
                    'd' => out.push('\x7f'),
                    '\n' | ' ' => {}
                    '0'..='7' => {
                        let mut v = e.to_digit(8)?;
                        let mut look = it.clone();
                        for _ in 0..2 {
                            match look.next().and_then(|c| c.to_digit(8)) {
                                Some(d) => {
                                    v = v * 8 + d;
                                    it.next();
                                }
                                None => break,
                            }
                        }
                        out.push(char::from_u32(v)?);
                    }
                    'x' | 'u' | 'U' => {
                        let max = match e {
                            'u' => 4,
                            'U' => 8,
                            _ => usize::MAX,
                        };
                        let mut v = 0u32;
                        let mut k = 0;
                        let mut look = it.clone();
                        while k < max {
                            match look.next().and_then(|c| c.to_digit(16)) {
                                Some(d) => {
                                    v = v.checked_mul(16)?.checked_add(d)?;
                                    it.next();
                                    k += 1;
                                }
                                None => break,
                            }
                        }
                        out.push(char::from_u32(v)?);
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// An integer literal as the Lisp reader reads it. The flag tells whether it is a decimal
/// written with a leading zero (`0444`), which people usually mean as octal.
pub(super) fn read_lisp_int(s: &str) -> Option<(i64, bool)> {
    let radix = |digits: &str, r: u32| i64::from_str_radix(digits, r).ok();
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-') => (-1, &s[1..]),
        Some(b'+') => (1, &s[1..]),
        _ => (1, s),
    };
    if let Some(rest) = s.strip_prefix('#') {
        let (r, digits) = match rest.as_bytes().first()? {
            b'o' | b'O' => (8, &rest[1..]),
            b'x' | b'X' => (16, &rest[1..]),
            b'b' | b'B' => (2, &rest[1..]),
            _ => return None,
        };
        let (sg, d) = match digits.as_bytes().first() {
            Some(b'-') => (-1, &digits[1..]),
            Some(b'+') => (1, &digits[1..]),
            _ => (1, digits),
        };
        if d.is_empty() {
            return None;
        }
        return radix(d, r).map(|v| (sg * v, false));
    }
    let d = body.strip_suffix('.').unwrap_or(body);
    if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let v = radix(d, 10)?;
    Some((sign * v, d.len() > 1 && d.starts_with('0')))
}

/// A float literal as the Lisp reader reads it (`1.5`, `.5`, `1e3`, `1.e3`; `1.` is an
/// integer), without the infinities and NaNs.
pub(super) fn read_lisp_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let lead = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    i += lead;
    let mut trail = 0;
    let mut dot = false;
    if b.get(i) == Some(&b'.') {
        dot = true;
        i += 1;
        trail = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        i += trail;
    }
    let mut exp = false;
    if lead + trail > 0 && matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let digits = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits > 0 {
            exp = true;
            i = j + digits;
        }
    }
    let float = (dot && trail > 0) || exp;
    (float && i == b.len() && lead + trail > 0)
        .then(|| s.parse::<f64>().ok())
        .flatten()
}

/// `float_to_string`: the fewest of 15, 16 or 17 significant digits that read back the same
/// (C's `%.Ng`), with `.0` added when neither a point nor an exponent shows.
pub(super) fn float_to_string(x: f64) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() {
            "-0.0e+NaN"
        } else {
            "0.0e+NaN"
        }
        .into();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-1.0e+INF" } else { "1.0e+INF" }.into();
    }
    let g = |p: usize| -> String {
        if x == 0.0 {
            return if x.is_sign_negative() { "-0" } else { "0" }.into();
        }
        let e = format!("{:.*e}", p - 1, x);
        let (mant, exp) = e.split_once('e').expect("exponent form");
        let exp: i32 = exp.parse().expect("exponent");
        let strip = |m: &str| -> String {
            if m.contains('.') {
                m.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                m.to_string()
            }
        };
        if exp < -4 || exp >= p as i32 {
            let sign = if exp < 0 { '-' } else { '+' };
            format!("{}e{sign}{:02}", strip(mant), exp.abs())
        } else {
            strip(&format!("{:.*}", (p as i32 - 1 - exp) as usize, x))
        }
    };
    let mut s = (15..=17)
        .map(g)
        .find(|s| s.parse::<f64>().ok() == Some(x))
        .unwrap_or_else(|| g(17));
    if !s.contains(['.', 'e']) {
        s.push_str(".0");
    }
    s
}

/// A Lisp expression, as far as we read them.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Sexp {
    Int(i64, bool),
    Float(f64),
    Str(String),
    Sym(String),
    List(Vec<Sexp>),
    Quote(Box<Sexp>),
}

/// Why a Lisp value cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ReadError {
    /// The text ends inside an expression (Emacs: "End of file during parsing"). A `;`
    /// starts a comment that runs to the end of the line, so `(a ;b)` never closes.
    EndOfInput,
    /// Syntax we do not read (`)` out of place, vectors, backquotes, bad string escapes).
    Unsupported,
    /// Lists or quotes nested deeper than [`MAX_LISP_DEPTH`].
    TooDeep,
}

/// How deeply the Lisp reader nests lists and quotes. Emacs 28.2's recursive reader
/// overflows its C stack on deep nesting; none of the values we evaluate nests more than
/// three levels.
pub(super) const MAX_LISP_DEPTH: usize = 1000;

/// Skips white space and `;` comments (to the end of the line), as the Lisp reader does.
pub(super) fn skip_blanks(mut s: &str) -> &str {
    loop {
        s = s.trim_start();
        match s.strip_prefix(';') {
            Some(comment) => s = comment.find('\n').map_or("", |k| &comment[k + 1..]),
            None => return s,
        }
    }
}

/// Reads one expression from the start of `s` (like `read`, ignoring what follows it). The
/// reader is iterative: lists and quotes being read are kept on an explicit stack.
pub(super) fn read_sexp(s: &str) -> Result<(Sexp, &str), ReadError> {
    enum Open {
        List(Vec<Sexp>),
        Quote,
        /// `#'`: `(function X)`.
        Function,
    }
    let mut open: Vec<Open> = Vec::new();
    let mut rest = s;
    loop {
        rest = skip_blanks(rest);
        let first = rest.chars().next().ok_or(ReadError::EndOfInput)?;
        let mut item = match first {
            '(' | '\'' => {
                if open.len() >= MAX_LISP_DEPTH {
                    return Err(ReadError::TooDeep);
                }
                open.push(if first == '(' {
                    Open::List(Vec::new())
                } else {
                    Open::Quote
                });
                rest = &rest[1..];
                continue;
            }
            '#' if rest.starts_with("#'") => {
                if open.len() >= MAX_LISP_DEPTH {
                    return Err(ReadError::TooDeep);
                }
                open.push(Open::Function);
                rest = &rest[2..];
                continue;
            }
            '?' => {
                // A character: `?a`, or `?\\n`-style escapes as in strings.
                let body = &rest[1..];
                let (c, used) = match body.chars().next() {
                    Some('\\') => {
                        let e = body[1..].chars().next().ok_or(ReadError::EndOfInput)?;
                        if !"ntrfeabvsd\\\"'() ".contains(e) {
                            return Err(ReadError::Unsupported);
                        }
                        let (v, _) = read_lisp_string(&format!("\"\\{e}\""))
                            .ok_or(ReadError::Unsupported)?;
                        let c = v.chars().next().unwrap_or(e);
                        (c, 1 + e.len_utf8())
                    }
                    Some(c) if !c.is_whitespace() && !"()\"';".contains(c) => (c, c.len_utf8()),
                    _ => return Err(ReadError::Unsupported),
                };
                rest = &body[used..];
                Sexp::Int(c as i64, false)
            }
            ')' => match open.pop() {
                Some(Open::List(items)) => {
                    rest = &rest[1..];
                    Sexp::List(items)
                }
                _ => return Err(ReadError::Unsupported),
            },
            '"' => {
                let (v, used) = read_lisp_string(rest).ok_or(ReadError::Unsupported)?;
                rest = &rest[used..];
                Sexp::Str(v)
            }
            '[' | ']' | '`' | ',' => return Err(ReadError::Unsupported),
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || "()\"'[]`,;".contains(c))
                    .unwrap_or(rest.len());
                let atom = &rest[..end];
                rest = &rest[end..];
                // Escaped characters in symbols (`a\ b`) are not read.
                if atom.contains('\\') {
                    return Err(ReadError::Unsupported);
                }
                match read_lisp_int(atom) {
                    Some((n, z)) => Sexp::Int(n, z),
                    None => match read_lisp_float(atom) {
                        Some(x) => Sexp::Float(x),
                        None => Sexp::Sym(atom.to_string()),
                    },
                }
            }
        };
        // Hand the finished expression to the innermost open list, closing quotes on the way.
        loop {
            match open.last_mut() {
                None => return Ok((item, rest)),
                Some(Open::Quote) => {
                    open.pop();
                    item = Sexp::Quote(Box::new(item));
                }
                Some(Open::Function) => {
                    open.pop();
                    item = Sexp::List(vec![Sexp::Sym("function".into()), item]);
                }
                Some(Open::List(items)) => {
                    items.push(item);
                    break;
                }
            }
        }
    }
}

/// Evaluates the few Lisp forms we support: integer literals, strings, `nil`,
/// `(identity X)`, `'X` and `(quote X)`. What follows the first expression is ignored, as
/// `(eval (read ...))` does. `Ok(None)`: read, but not something we evaluate.
pub(super) fn eval_lisp(s: &str, decimal_zero: &mut bool) -> Result<Option<Val>, ReadError> {
    fn eval(e: &Sexp, z: &mut bool) -> Option<Val> {
        match e {
            Sexp::Int(n, zero) => {
                *z |= *zero;
                Some(Val::Int(*n))
            }
            Sexp::Str(v) => Some(Val::Str(v.clone())),
            Sexp::Float(_) => None,
            Sexp::Sym(n) if n == "nil" => Some(Val::Nil),
            Sexp::Sym(_) => None,
            Sexp::Quote(q) => match &**q {
                Sexp::Int(..) | Sexp::Str(_) => eval(q, z),
                _ => None,
            },
            Sexp::List(items) => match items.as_slice() {
                [Sexp::Sym(h), x] if h == "identity" => eval(x, z),
                [Sexp::Sym(h), x @ (Sexp::Int(..) | Sexp::Str(_))] if h == "quote" => eval(x, z),
                _ => None,
            },
        }
    }
    let (e, _) = read_sexp(s)?;
    Ok(eval(&e, decimal_zero))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lisp_reader() {
        let read = |s: &str| eval_lisp(s, &mut false);
        assert_eq!(read("(identity #o444) ; mode"), Ok(Some(Val::Int(0o444))));
        assert_eq!(read("'\"x\" rest"), Ok(Some(Val::Str("x".into()))));
        assert_eq!(read("(quote 5)"), Ok(Some(Val::Int(5))));
        assert_eq!(read("(identity ; why\n 7)"), Ok(Some(Val::Int(7))));
        assert_eq!(read("(a b)"), Ok(None));
        assert_eq!(read("(;)"), Err(ReadError::EndOfInput));
        assert_eq!(read("(a ;b)"), Err(ReadError::EndOfInput));
        assert_eq!(read("("), Err(ReadError::EndOfInput));
        assert_eq!(read("')"), Err(ReadError::Unsupported));
        assert_eq!(read("[1]"), Err(ReadError::Unsupported));
        let deep = format!("{}5{}", "(".repeat(1000), ")".repeat(1000));
        assert_eq!(read(&deep), Ok(None));
        let deeper = format!("({deep})");
        assert_eq!(read(&deeper), Err(ReadError::TooDeep));
        assert_eq!(read(&"'".repeat(1001)), Err(ReadError::TooDeep));
    }
}
