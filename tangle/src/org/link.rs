//! `:comments link`: the `[[file:...::search][name]]` comments that
//! `org-babel-tangle-single-block` writes around a body, with the link `org-store-link` makes
//! (`org-link--normalize-string`, `org-link-escape`) made relative to the target's folder.

use super::*;

/// `org-link--normalize-string`: statistics cookies and runs of blanks become one space, the
/// result is trimmed; with `context`, surrounding parentheses and leading `#`/`*` go too.
pub(super) fn normalize_link_string(s: &str, context: bool) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '[' {
            let mut j = i + 1;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let mut end = None;
            if j < chars.len() && chars[j] == '%' {
                end = Some(j + 1);
            } else if j < chars.len() && chars[j] == '/' {
                let mut k = j + 1;
                while k < chars.len() && chars[k].is_ascii_digit() {
                    k += 1;
                }
                end = Some(k);
            }
            if let Some(e) = end {
                if e < chars.len() && chars[e] == ']' {
                    out.push(' ');
                    i = e + 1;
                    continue;
                }
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    let mut collapsed = String::new();
    let mut blank = false;
    for c in out.chars() {
        if c == ' ' || c == '\t' {
            if !blank {
                collapsed.push(' ');
            }
            blank = true;
        } else {
            collapsed.push(c);
            blank = false;
        }
    }
    let mut s = collapsed.trim_matches(is_blank_char).to_string();
    if context {
        loop {
            if s.starts_with('(') && s.ends_with(')') && s.len() >= 2 {
                s = s[1..s.len() - 1].trim_matches(is_blank_char).to_string();
            } else if s.starts_with(['#', '*']) {
                s = s
                    .trim_start_matches(['#', '*'])
                    .trim_start_matches([' ', '\t'])
                    .to_string();
            } else {
                break;
            }
        }
    }
    s
}

/// `org-link-escape`: backslash-escapes brackets (doubling the backslashes before them and
/// at the end).
pub(super) fn org_link_escape(link: &str) -> String {
    let mut out = String::new();
    let mut run = 0;
    for c in link.chars() {
        match c {
            '\\' => run += 1,
            '[' | ']' => {
                out.extend(std::iter::repeat('\\').take(2 * run + 1));
                out.push(c);
                run = 0;
            }
            _ => {
                out.extend(std::iter::repeat('\\').take(run));
                out.push(c);
                run = 0;
            }
        }
    }
    out.extend(std::iter::repeat('\\').take(2 * run));
    out
}

/// The comment lines `:comments link` writes before and after a block's body.
pub(super) struct LinkComments {
    pub(super) begin: String,
    pub(super) end: String,
}

impl Tangler<'_> {
    /// The comment lines `:comments link` puts around a block's body, as
    /// `org-babel-spec-to-string` writes them (link made by `org-store-link`, made relative to
    /// the target's folder, commented with the language's major mode).
    pub(super) fn link_comments(
        &self,
        b: usize,
        tangle: &str,
        line: usize,
    ) -> Result<LinkComments, Diagnostic> {
        let block = &self.blocks[b];
        let lang = block.lang.clone().unwrap_or_default();
        let (start, end) = match lang.as_str() {
            "python" | "sh" | "bash" | "shell" => ("# ", ""),
            "C" => ("/* ", " */"),
            "emacs-lisp" | "elisp" => (";; ", ""),
            _ => {
                return Err(self.diag(
                    line,
                    1,
                    format!("`:comments link` is only supported for python, sh, bash, shell, C and emacs-lisp blocks, not `{lang}`"),
                ));
            }
        };
        let unsupported = |t: &Self, why: &str| {
            Err(t.diag(
                line,
                1,
                format!("`:comments link` is unsupported here: {why}"),
            ))
        };
        let prev = if block.line >= 2 {
            self.lines[block.line - 2]
        } else {
            ""
        };
        if block.begin_text.contains("<<") || prev.contains("<<") {
            return unsupported(self, "a `<<target>>` next to the block changes Org's link");
        }
        if block.elem_names > 1 {
            return unsupported(self, "the block has several names");
        }
        let heading = block.heading.map(|h| &self.headings[h]);
        let custom_id = heading.and_then(|h| {
            h.props
                .iter()
                .find(|p| p.name == "custom_id")
                .map(|p| p.value.clone())
                .filter(|v| v != "nil")
        });
        let search = if let Some(id) = custom_id {
            format!("#{id}")
        } else if let Some(n) = &block.elem_name {
            n.clone()
        } else if let Some(h) = heading {
            let title = h
                .title
                .strip_prefix("COMMENT")
                .map_or(h.title.as_str(), |r| {
                    if r.starts_with([' ', '\t']) {
                        r.trim_start_matches([' ', '\t'])
                    } else {
                        &h.title
                    }
                });
            format!("*{}", normalize_link_string(title, false))
        } else {
            normalize_link_string(&block.begin_text, true)
        };
        if search.contains("/.") || search.contains("//") || search.ends_with('/') {
            return unsupported(self, "the link's search string looks like a path");
        }
        let org_name = self
            .path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dir = tangle.rfind('/').map(|k| &tangle[..=k]);
        let mut up = String::new();
        if let Some(dir) = dir {
            if dir.starts_with(['/', '~']) {
                return unsupported(self, "the target is an absolute path");
            }
            for c in dir.split('/').filter(|c| !c.is_empty() && *c != ".") {
                if c == ".." {
                    return unsupported(self, "the target is outside the org file's folder");
                }
                up.push_str("../");
            }
        }
        let link = if string_nw(&search) {
            format!("file:{up}{org_name}::{search}")
        } else {
            format!("file:{up}{org_name}")
        };
        let link = org_link_escape(&link);
        let source_name = match &block.elem_name {
            Some(n) => n.clone(),
            None => format!(
                "{}:{}",
                heading
                    .map(|h| h.title.as_str())
                    .filter(|t| !t.is_empty())
                    .unwrap_or("No heading"),
                block.counter
            ),
        };
        // org-fill-template replaces the keys shortest first: file, link, start-line,
        // source-name.
        let fill = |template: &str| {
            let mut t = template.to_string();
            for (k, v) in [
                ("%file", org_name.clone()),
                ("%link", link.clone()),
                ("%start-line", (block.line + 1).to_string()),
                ("%source-name", source_name.clone()),
            ] {
                t = t.replace(k, &v);
            }
            t
        };
        let begin = fill("[[%link][%source-name]]");
        let finish = fill("%source-name ends here");
        Ok(LinkComments {
            begin: format!("{start}{begin}{end}"),
            end: format!("{start}{finish}{end}"),
        })
    }
}
