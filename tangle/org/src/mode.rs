//! File modes: `:tangle-mode` as Org 9.5.5 reads it (an integer, usually `(identity
//! #o755)`), and Org 9.6's string forms (`org-babel-interpret-file-mode`), which Org 9.5.5
//! does not know.

use tangle_core::diag::Diagnostic;

use super::header::{Params, Val};
use super::header_eval::Evaluated;
use super::{Tangler, ORG_VERSION};

/// Org 9.6's string forms of `:tangle-mode` (`org-babel-interpret-file-mode`): `o444` (octal),
/// `r--r--r--` (as `ls -l` shows it), or chmod's symbolic form applied to the default 0644
/// (`u=rw,go=r`, `a+x`). A bare `444` is refused, as Org 9.6 refuses it: octal or decimal?
pub fn org96_file_mode(text: &str) -> Result<u32, String> {
    let octal = |d: &str| d.len() == 3 && d.bytes().all(|b| (b'0'..=b'7').contains(&b));
    if let Some(digits) = text
        .strip_prefix("o")
        .map(|d| d.strip_prefix('0').unwrap_or(d))
    {
        if octal(digits) {
            return Ok(u32::from_str_radix(digits, 8).expect("octal digits"));
        }
    }
    if octal(text) {
        return Err("a bare octal mode is ambiguous; write `o444` or `(identity #o444)`".into());
    }
    if text.len() == 9 && text.bytes().all(|b| b"rwx-".contains(&b)) {
        let want = b"rwxrwxrwx";
        return Ok(text
            .bytes()
            .zip(want)
            .fold(0, |m, (got, bit)| (m << 1) | u32::from(got == *bit)))
        .and_then(|m| {
            let expected: String = (0..9)
                .map(|i| {
                    if m & (1 << (8 - i)) != 0 {
                        want[i] as char
                    } else {
                        '-'
                    }
                })
                .collect();
            if expected == text {
                Ok(m)
            } else {
                Err(format!(
                    "`{text}` is not an `ls -l` style mode (expected letters in rwx order)"
                ))
            }
        });
    }
    let mut mode = 0o644u32;
    for clause in text.split(',') {
        let op_at = clause
            .find(['+', '-', '='])
            .ok_or_else(|| format!("`{clause}` has no `+`, `-` or `=`"))?;
        let (who, rest) = clause.split_at(op_at);
        let mut who_mask = 0;
        for c in who.chars() {
            who_mask |= match c {
                'u' => 0o700,
                'g' => 0o070,
                'o' => 0o007,
                'a' => 0o777,
                _ => return Err(format!("`{c}` in `{clause}` is not one of u, g, o, a")),
            };
        }
        if who_mask == 0 {
            who_mask = 0o777;
        }
        let (op, perms) = rest.split_at(1);
        let mut bits = 0;
        for c in perms.chars() {
            bits |= match c {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                _ => return Err(format!("`{c}` in `{clause}` is not one of r, w, x")),
            };
        }
        let bits = bits & who_mask;
        mode = match op {
            "+" => mode | bits,
            "-" => mode & !bits,
            _ => (mode & !who_mask) | bits,
        };
    }
    Ok(mode)
}

impl Tangler<'_> {
    /// The block's `:tangle-mode`: an integer as Emacs evaluates it (with a warning for a
    /// decimal literal that was probably meant as octal), or an Org 9.6 string (with a
    /// warning that Org 9.5.5 fails on it).
    pub(super) fn tangle_mode(&mut self, params: &Params) -> Result<Option<u32>, Diagnostic> {
        let Some(Evaluated {
            val,
            line,
            decimal_zero,
            raw,
        }) = self.eval_param(params, ":tangle-mode")?
        else {
            return Ok(None);
        };
        match val {
            Val::Int(n) => {
                if decimal_zero {
                    let lit = raw
                        .trim_start_matches(['(', '\''])
                        .trim_start_matches("identity")
                        .trim_matches(|c: char| c.is_whitespace() || c == ')');
                    let digits = lit.trim_start_matches('0');
                    let suggestion = if raw.starts_with('(') {
                        format!("(identity #o{digits})")
                    } else {
                        format!("(identity #o{digits})` (a bare `#o{digits}` is read as a string")
                    };
                    self.warn(
                        line,
                        1,
                        format!(
                            "`{raw}` is decimal {n} (mode {:04o}); did you mean `{suggestion}`?",
                            n & 0o7777
                        ),
                    );
                }
                Ok(Some(n as u32))
            }
            Val::Str(s) => match org96_file_mode(&s) {
                Ok(m) => {
                    self.warn(
                        line,
                        1,
                        format!(
                            "`:tangle-mode {s}` is Org 9.6 syntax (mode {m:04o}); Org \
                             {ORG_VERSION} fails on it after writing the file"
                        ),
                    );
                    Ok(Some(m))
                }
                Err(why) => Err(self.diag(line, 1, format!("`:tangle-mode {s}`: {why}"))),
            },
            // `nil`: eval_param refuses values we cannot represent.
            _ => Ok(None),
        }
    }
}
