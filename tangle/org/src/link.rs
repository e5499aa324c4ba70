//! `:comments link`: the `[[file:...::search][name]]` comments that
//! `org-babel-tangle-single-block` writes around a body, with the link `org-store-link` makes
//! (`org-link--normalize-string`, `org-link-escape`) made relative to the target's folder.

use super::body::remove_indentation;
use super::text::MappedLine;
use std::path::Path;
use tangle_core::diag::Diagnostic;

use super::{is_blank_char, string_nw, Tangler};

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
                out.extend(std::iter::repeat_n('\\', 2 * run + 1));
                out.push(c);
                run = 0;
            }
            _ => {
                out.extend(std::iter::repeat_n('\\', run));
                out.push(c);
                run = 0;
            }
        }
    }
    out.extend(std::iter::repeat_n('\\', 2 * run));
    out
}

/// `file-relative-name` of `name` (relative to the absolute, normalized folder `base`) from
/// the folder `from`: `name` expanded as `expand-file-name` does (`//` and `.` dropped, `..`
/// cancelling the component before it), then reached from `from` with `../`.
fn file_relative_name(base: &Path, name: &str, from: &Path) -> String {
    let mut full: Vec<String> = base
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                full.pop();
            }
            c => full.push(c.to_string()),
        }
    }
    let from: Vec<String> = from
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(n) => Some(n.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    let common = full.iter().zip(&from).take_while(|(a, b)| a == b).count();
    let mut out = "../".repeat(from.len() - common);
    out.push_str(&full[common..].join("/"));
    if name.ends_with('/') && !out.ends_with('/') {
        out.push('/');
    }
    out
}

/// What Emacs 28 does with `comment-region` in the major mode of a language
/// (`org-src-get-lang-mode`), measured with Emacs 28.2 itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CommentSyntax {
    /// Each non-blank line gets this prefix and suffix (`comment-start`, `comment-add`,
    /// `comment-padding`, `comment-end`).
    Comment(&'static str, &'static str),
    /// The mode has no comment syntax: Emacs asks for one on standard input (and fails in
    /// batch).
    NoComments,
    /// Emacs 28 has no such mode: the tangled file keeps the previous block's mode.
    NoMode,
}

/// The languages whose comment syntax is known (from `emacs -Q` 28.2, `comment-region` of a
/// line in each mode).
const COMMENT_SYNTAX: &[(&str, &str, &str)] = &[
    ("python", "# ", ""),
    ("sh", "# ", ""),
    ("bash", "# ", ""),
    ("shell", "# ", ""),
    ("screen", "# ", ""),
    ("shell-script", "# ", ""),
    ("C", "/* ", " */"),
    ("c", "/* ", " */"),
    ("emacs-lisp", ";; ", ""),
    ("elisp", ";; ", ""),
    ("lisp", ";; ", ""),
    ("lisp-interaction", ";; ", ""),
    ("scheme", ";; ", ""),
    ("asm", ";; ", ""),
    ("conf", "# ", ""),
    ("conf-unix", "# ", ""),
    ("conf-space", "# ", ""),
    ("conf-xdefaults", "! ", ""),
    ("js", "// ", ""),
    ("javascript", "// ", ""),
    ("java", "// ", ""),
    ("objc", "// ", ""),
    ("idl", "// ", ""),
    ("verilog", "// ", ""),
    ("scss", "// ", ""),
    ("css", "/* ", " */"),
    ("sql", "-- ", ""),
    ("sqlite", "-- ", ""),
    ("vhdl", "-- ", ""),
    ("ruby", "# ", ""),
    ("perl", "# ", ""),
    ("cperl", "# ", ""),
    ("tcl", "# ", ""),
    ("awk", "# ", ""),
    ("m4", "# ", ""),
    ("makefile", "# ", ""),
    ("org", "# ", ""),
    ("latex", "%% ", ""),
    ("LaTeX", "%% ", ""),
    ("tex", "%% ", ""),
    ("prolog", "%% ", ""),
    ("ps", "% ", ""),
    ("octave", "## ", ""),
    ("html", "<!-- ", " -->"),
    ("xml", "<!-- ", " -->"),
    ("nxml", "<!-- ", " -->"),
    ("pascal", "{ ", " }"),
    ("f90", "! ", ""),
    ("dcl", "! ", ""),
    ("simula", "! ", " ;"),
    ("mixal", "* ", ""),
    ("bibtex", "@Comment ", ""),
];

/// Languages with a mode but no comment syntax in Emacs 28.
const NO_COMMENTS: &[&str] = &["dot", "text", "fundamental", "calc"];

/// Languages Emacs 28 has no major mode for (`org-src-get-lang-mode` names a function that
/// does not exist).
const NO_MODE: &[&str] = &[
    "zsh",
    "fish",
    "clojure",
    "json",
    "lua",
    "toml",
    "yaml",
    "haskell",
    "rust",
    "go",
    "make",
    "sed",
    "ocaml",
    "matlab",
    "R",
    "julia",
    "gitconfig",
    "systemd",
    "nix",
    "vim",
    "ini",
    "desktop",
    "xdefaults",
    "dockerfile",
    "erlang",
    "elixir",
    "scala",
    "kotlin",
    "typescript",
    "php",
    "plantuml",
    "gnuplot",
    "nasm",
    "mermaid",
    "markdown",
    "csharp",
    "less",
    "powershell",
    "cmake",
    "ada",
    "python3",
    "ipython",
    "jupyter-python",
    "ksh",
    "csh",
    "tcsh",
    "mksh",
    "dash",
    "rc",
    "es",
    "posix",
];

/// The comment syntax of `lang`'s major mode; `None`: not known to this tangler.
pub(super) fn comment_syntax(lang: &str) -> Option<CommentSyntax> {
    if let Some((_, p, s)) = COMMENT_SYNTAX.iter().find(|(l, _, _)| *l == lang) {
        return Some(CommentSyntax::Comment(p, s));
    }
    if NO_COMMENTS.contains(&lang) {
        return Some(CommentSyntax::NoComments);
    }
    NO_MODE.contains(&lang).then_some(CommentSyntax::NoMode)
}

/// `comment-region` (style `indent`) of `text` with `prefix` and `suffix`, followed by the
/// newline `org-babel-spec-to-string` adds: blank lines stay as they are.
pub(super) fn comment_region(text: &str, prefix: &str, suffix: &str) -> Option<String> {
    let lines: Vec<&str> = text.split('\n').collect();
    let indent = |l: &str| l.len() - l.trim_start_matches([' ', '\t']).len();
    let nonblank = || {
        lines
            .iter()
            .filter(|l| !l.trim_matches([' ', '\t']).is_empty())
    };
    // The comment starts at the smallest indentation; only a text starting at column 0 is
    // reproduced.
    if nonblank().any(|l| indent(l) == 0) || nonblank().next().is_none() {
        let mut out = String::new();
        for (k, l) in lines.iter().enumerate() {
            if k > 0 {
                out.push('\n');
            }
            if l.trim_matches([' ', '\t']).is_empty() {
                out.push_str(l);
            } else {
                out.push_str(prefix);
                out.push_str(l);
                out.push_str(suffix);
            }
        }
        out.push('\n');
        Some(out)
    } else {
        None
    }
}

/// The comment lines `:comments link` writes before and after a block's body.
pub(super) struct LinkComments {
    pub(super) begin: String,
    pub(super) end: String,
}

impl Tangler<'_> {
    /// The Org text `:comments org` / `both` copies before a block
    /// (`org-babel-tangle-single-block`): from the end of the headline's stars or of the
    /// previous block's `#+end_src`, whichever is later, to the `#+begin_src` line (so with
    /// its affiliated keywords), with its common indentation removed
    /// (`org-remove-indentation`).
    pub(super) fn org_comment_text(&self, b: usize) -> String {
        let block = &self.doc.blocks[b];
        let begin = block.line - 1;
        let mut start = (0usize, 0usize);
        if let Some(h) = block.heading {
            let h = &self.doc.headings[h];
            start = (
                h.line - 1,
                (h.level + 1).min(self.doc.lines[h.line - 1].len()),
            );
        }
        if let Some(prev) = self.doc.blocks[..b].iter().rev().find(|p| p.lang.is_some()) {
            let end = prev.line + prev.body.len();
            if end < begin {
                let l = self.doc.lines[end];
                let at = l.len() - l.trim_start_matches([' ', '\t']).len() + "#+end_src".len();
                start = start.max((end, at.min(l.len())));
            }
        }
        let mut text = String::from(&self.doc.lines[start.0][start.1..]);
        for l in &self.doc.lines[start.0 + 1..begin] {
            text.push('\n');
            text.push_str(l);
        }
        text.push('\n');
        let mut lines: Vec<MappedLine> = text
            .split('\n')
            .map(|t| MappedLine {
                text: t.to_string(),
                ..MappedLine::default()
            })
            .collect();
        remove_indentation(&mut lines);
        lines
            .into_iter()
            .map(|l| l.text)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The comment lines `:comments link` puts around a block's body, as
    /// `org-babel-spec-to-string` writes them (link made by `org-store-link`, made relative to
    /// the target's folder, commented with the language's major mode).
    pub(super) fn link_comments(
        &self,
        b: usize,
        tangle: &str,
        line: usize,
    ) -> Result<LinkComments, Diagnostic> {
        let block = &self.doc.blocks[b];
        let unsupported = |t: &Self, why: &str| {
            Err(t.diag(
                line,
                1,
                format!("`:comments link` is unsupported here: {why}"),
            ))
        };
        let prev = if block.line >= 2 {
            self.doc.lines[block.line - 2]
        } else {
            ""
        };
        if block.begin_text.contains("<<") || prev.contains("<<") {
            return unsupported(self, "a `<<target>>` next to the block changes Org's link");
        }
        if block.elem_names > 1 {
            return unsupported(self, "the block has several names");
        }
        let heading = block.heading.map(|h| &self.doc.headings[h]);
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
        let org_name = self
            .doc
            .path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        // `file-relative-name` of `FILE::SEARCH` (a search string with `/` reads as folders)
        // from the target's folder, both expanded against the org file's folder.
        let raw = if string_nw(&search) {
            format!("{org_name}::{search}")
        } else {
            org_name.clone()
        };
        let doc_dir = tangle_core::paths::normalize(
            &self
                .doc
                .env
                .cwd
                .join(self.doc.path.parent().unwrap_or(Path::new(""))),
        );
        let target_dir = match tangle.rfind('/') {
            Some(k) => {
                let dir = self
                    .doc
                    .env
                    .expand_tilde(&tangle[..=k])
                    .map_err(|why| self.diag(line, 1, why))?;
                tangle_core::paths::normalize(&doc_dir.join(dir))
            }
            None => doc_dir.clone(),
        };
        let link = format!("file:{}", file_relative_name(&doc_dir, &raw, &target_dir));
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
        Ok(LinkComments { begin, end: finish })
    }
}
