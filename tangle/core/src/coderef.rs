//! Coderef labels at the end of code lines (`(ref:name)`, or a block's own format with `%s`
//! for the name): one matcher for both readers.
//!
//! The readers agree on what a label is — the format with its `%s` replaced by a name of
//! ASCII letters, digits, `-`, `_` and inner spaces (not starting with a space), then only
//! blanks to the end of the line — and on what is tangled: the line cut before the label and
//! the blanks before it. They differ where Org's regexp (`org-src-coderef-regexp`, searched
//! with `case-fold-search` on) differs from our Markdown's reading, so the difference is a
//! [`LabelRules`] choice:
//!
//! - Org compares the format's literal text ignoring case, replaces *every* `%s` of the
//!   format, and takes the leftmost place where the whole pattern matches, backtracking over
//!   the name's length;
//! - Markdown compares exactly, knows one `%s`, and reads the label from the last opening of
//!   the format on the line (linear, with no backtracking): a line such as `rr` in the format
//!   `r%s` has a label for Org (`r` + `r`) and none for Markdown (whose last `r` has an
//!   empty name).

/// Which reader's reading of labels applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelRules {
    Markdown,
    Org,
}

/// A label found at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label<'a> {
    /// Byte length of the line's code: the line without the label and the blanks before it.
    pub keep: usize,
    /// The label's name (Markdown); for Org, the label as written (a format may hold several
    /// names).
    pub name: &'a str,
}

/// The label at the end of `line` in format `fmt`, read by `rules`.
pub fn find_label<'a>(line: &'a str, fmt: &str, rules: LabelRules) -> Option<Label<'a>> {
    match rules {
        LabelRules::Markdown => markdown_label(line, fmt),
        LabelRules::Org => org_label(line, fmt),
    }
}

fn name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

/// Whether `name` may name a label: ASCII letters, digits, `-`, `_` and inner spaces, not
/// starting with a space. Every reader of labels (and the site's renderer) asks this.
#[inline]
pub fn is_label_name(name: &str) -> bool {
    name.starts_with(name_char) && name.chars().all(|c| name_char(c) || c == ' ')
}

fn markdown_label<'a>(line: &'a str, fmt: &str) -> Option<Label<'a>> {
    MarkdownFormat::new(fmt)?.find(line)
}

/// A label format read by Markdown's rules, split once at its `%s`, to look for labels on
/// many lines.
#[derive(Debug, Clone, Copy)]
pub struct MarkdownFormat<'f> {
    before: &'f str,
    after: &'f str,
}

impl<'f> MarkdownFormat<'f> {
    /// The format `fmt`; `None` if it has no `%s` (then no line has a label).
    pub fn new(fmt: &'f str) -> Option<MarkdownFormat<'f>> {
        let hole = fmt.as_bytes().windows(2).position(|w| w == b"%s")?;
        Some(MarkdownFormat {
            before: &fmt[..hole],
            after: &fmt[hole + 2..],
        })
    }

    /// The text before the name: every line with a label holds it.
    pub fn opening(&self) -> &'f str {
        self.before
    }

    /// The label at the end of `line`: [`find_label`] with [`LabelRules::Markdown`].
    pub fn find<'a>(&self, line: &'a str) -> Option<Label<'a>> {
        // Most lines carry no label: rule them out before any search.
        let body = line.trim_end_matches([' ', '\t']);
        let body = body.strip_suffix(self.after)?;
        let open = memchr::memmem::rfind(body.as_bytes(), self.before.as_bytes())?;
        let name = &body[open + self.before.len()..];
        if !is_label_name(name) {
            return None;
        }
        let keep = line[..open].trim_end_matches([' ', '\t']).len();
        Some(Label { keep, name })
    }
}

fn org_label<'a>(line: &'a str, fmt: &str) -> Option<Label<'a>> {
    let parts: Vec<Vec<char>> = fmt.split("%s").map(|p| p.chars().collect()).collect();
    let chars: Vec<(usize, char)> = line.char_indices().collect();
    let plain: Vec<char> = chars.iter().map(|&(_, c)| c).collect();
    let byte = |k: usize| chars.get(k).map_or(line.len(), |&(b, _)| b);
    for s in 0..=plain.len() {
        if org_tail(&plain[s..], &parts) {
            let mut p = s;
            while p > 0 && (plain[p - 1] == ' ' || plain[p - 1] == '\t') {
                p -= 1;
            }
            return Some(Label {
                keep: byte(p),
                name: line[byte(s)..].trim_end_matches([' ', '\t']),
            });
        }
    }
    None
}

/// Whether `parts` (the format split at `%s`) with names between them, then `[ \t]*`, match
/// all of `s`. Literal parts compare case-insensitively, as `case-fold-search` is on.
fn org_tail(s: &[char], parts: &[Vec<char>]) -> bool {
    let lit = &parts[0];
    if s.len() < lit.len() {
        return false;
    }
    for (a, b) in s.iter().zip(lit.iter()) {
        if !a.to_lowercase().eq(b.to_lowercase()) {
            return false;
        }
    }
    let s = &s[lit.len()..];
    if parts.len() == 1 {
        return s.iter().all(|&c| c == ' ' || c == '\t');
    }
    if s.is_empty() || !name_char(s[0]) {
        return false;
    }
    let mut n = 1;
    while n < s.len() && (name_char(s[n]) || s[n] == ' ') {
        n += 1;
    }
    while n >= 1 {
        if org_tail(&s[n..], &parts[1..]) {
            return true;
        }
        n -= 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(line: &str, fmt: &str) -> Option<(usize, &'static str)> {
        find_label(line, fmt, LabelRules::Markdown)
            .map(|l| (l.keep, &*Box::leak(l.name.to_string().into_boxed_str())))
    }

    #[test]
    fn markdown_labels() {
        assert_eq!(md("let x = 1; (ref:one)", "(ref:%s)"), Some((10, "one")));
        assert_eq!(
            md("a  [{(<my label>)}]  ", "[{(<%s>)}]"),
            Some((1, "my label"))
        );
        assert_eq!(md("f(x) (ref:)", "(ref:%s)"), None);
        assert_eq!(md("no label", "(ref:%s)"), None);
        assert_eq!(md("x (REF:a)", "(ref:%s)"), None);
    }

    #[test]
    fn org_labels() {
        let keep = |line, fmt| find_label(line, fmt, LabelRules::Org).map(|l| l.keep);
        assert_eq!(keep("x = 1  [{(<one>)}]", "[{(<%s>)}]"), Some(5));
        assert_eq!(keep("x (REF:a) \t", "(ref:%s)"), Some(1));
        assert_eq!(keep("é (ref:a)", "(ref:%s)"), Some(2));
        assert_eq!(keep("a <x|y>", "<%s|%s>"), Some(1));
        assert_eq!(keep("f(x) (ref:)", "(ref:%s)"), None);
    }

    #[test]
    fn the_rules_differ_where_documented() {
        assert_eq!(md("rr", "r%s"), None);
        assert_eq!(
            find_label("rr", "r%s", LabelRules::Org).map(|l| l.keep),
            Some(0)
        );
    }
}
