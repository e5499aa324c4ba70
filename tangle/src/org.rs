//! Org-mode tangling, byte-for-byte compatible with `org-babel-tangle-file` of Org 9.5.5
//! (as shipped with Emacs 28.2), with the babel languages python, shell, C and emacs-lisp
//! loaded and the default settings (`org-src-preserve-indentation` nil,
//! `org-babel-noweb-error-all-langs` nil, `org-babel-tangle-use-relative-file-links` t).
//!
//! [`tangle_org`] is pure: it gets the document text and returns the files Emacs would write,
//! with their contents, modes and whether parent folders may be created.
//!
//! Emulated precisely (see `tests/org_differential.rs`, which compares with real Emacs):
//!
//! * blocks: `#+begin_src LANG [switches] [header args]` ... `#+end_src` (case-insensitive),
//!   affiliated `#+name:` / `#+header:` lines (the top-most `#+header:` line wins, as in Org),
//!   the body un-escaped (`,*` and `,#+`), its common indentation removed (tabs count 8
//!   columns; `org-do-remove-indentation` caps what it removes at `point-max`, which matters
//!   for short, deeply indented bodies), `-i` respected for included blocks, blocks under
//!   `COMMENT` or `:ARCHIVE:` headlines skipped;
//! * header arguments: Org's defaults, the `header-args` and `header-args:LANG` properties
//!   (`#+property:` lines, property drawers with inheritance and `+` accumulation exactly as
//!   `org-entry-get-with-inheritance` does it, including its reading of the drawer of a
//!   headline on line 1 as the document's own), the block line, `#+header:` lines; values read
//!   like `org-babel-read` (numbers, `"strings"`, and the Lisp forms `(identity X)`, `'X`,
//!   integer literals `#o`/`#x`/`#b`/decimal; other Lisp is an error);
//! * `:tangle yes|no|FILE` (`yes` is the org file's base name plus the extension from
//!   `org-babel-tangle-lang-exts`: python `.py`, emacs-lisp/elisp `.el`, and otherwise the
//!   language name itself, so `shell` gives `.shell`, `sh` `.sh`, `bash` `.bash`, `C` `.C`),
//!   `:padline`, `:shebang` (and its default mode 0755), `:tangle-mode` (the mode of the first
//!   block of a file that has one, as Emacs' `set-file-modes` calls leave it), `:mkdirp`,
//!   `:prologue` / `:epilogue`, `:no-expand`, C's `:includes` / `:defines` / `:namespaces` /
//!   `:main` wrapping, emacs-lisp's body expansion;
//! * `:comments link` / `yes` (and `both` / `org` when no text precedes the block) for python,
//!   sh/bash/shell, C and emacs-lisp blocks: the `[[file:...::search][name]]` comments that
//!   `org-store-link` and `comment-region` produce;
//! * noweb: `:noweb yes|tangle|no-export|strip-export` for the tangled block, and
//!   `yes|no-export|strip-export|eval` for included blocks (Org expands included blocks in the
//!   `:eval` context, so `:noweb tangle` blocks are included unexpanded); references resolved
//!   by the first block whose `#+name:` matches (case-insensitively), else the blocks with that
//!   `:noweb-ref`, joined with each block's `:noweb-sep` (default newline); the text before a
//!   reference is repeated before every line of its expansion; an unresolved reference expands
//!   to nothing (a warning is returned). Org 9.5.5's reference regexp is reproduced exactly,
//!   including its quirk that a one-character name followed by another reference on the same
//!   line reads as one reference (`<<a>> x <<b>>` is `<<a>> x <<b>>` named `a>> x <<b`; a
//!   warning is returned). `:noweb-prefix` is an Org 9.6 argument: ignored, with a warning;
//! * coderefs: with `-r`, labels (`(ref:x)` or the `-l "fmt"` format) and the white space
//!   before them are removed from the tangled code.
//!
//! Reported as errors (Emacs would do something we cannot or should not reproduce):
//! unterminated blocks (Emacs silently ignores them and the blocks they swallow), reference
//! cycles (Emacs recurses until `max-lisp-eval-depth`), `:comments noweb`, `:comments` for
//! other languages or with text before the block, `:var`, references that Emacs would
//! evaluate (`<<name(args)>>`) or resolve to headlines (`:ID:` / `:CUSTOM_ID:`),
//! `#+setupfile:`, unsupported Lisp values, C++/D blocks, carriage returns.
//!
//! Org 9.6's `:tangle-mode` strings (`o444`, `rw-r--r--`, `u=rw,go=r`) get the mode Org 9.6
//! gives them, with a warning that Org 9.5.5 fails on them (after writing the file).
//!
//! Target paths are returned exactly as Emacs would resolve them relative to the org file's
//! folder: `..` components and absolute paths are kept (the writer decides whether to allow
//! them), `~` is not expanded. Files that Emacs does not chmod get mode 0644 (Emacs creates
//! them with `0666 & ~umask`; a umask of 022 is assumed).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::output::{Origin, Output, Segment, SourceMap};

/// The result of tangling one org document.
#[derive(Debug, Clone)]
pub struct OrgTangle {
    /// The files, in the order Emacs writes them.
    pub outputs: Vec<Output>,
    pub warnings: Vec<Diagnostic>,
}

/// The Org version whose behaviour [`tangle_org`] reproduces.
pub const ORG_VERSION: &str = "9.5.5";

/// Tangles an org document as `org-babel-tangle-file` (Org 9.5.5) would. `path` is used for
/// diagnostics and for `:tangle yes` file names; no file is read or written.
pub fn tangle_org(path: &Path, text: &str) -> Result<OrgTangle, Diagnostics> {
    let mut t = Tangler::new(path, text);
    t.parse();
    if t.errors.is_empty() {
        t.tangle();
    }
    if t.errors.is_empty() {
        Ok(OrgTangle {
            outputs: std::mem::take(&mut t.outputs),
            warnings: t.warnings,
        })
    } else {
        Err(Diagnostics(t.errors))
    }
}

// ---------------------------------------------------------------------------------------------
// Document model

#[derive(Debug, Clone)]
struct Block {
    /// 1-based line of `#+begin_src`.
    line: usize,
    /// Column (1-based) of `#+begin_src`.
    col: usize,
    lang: Option<String>,
    switches: String,
    params: Option<String>,
    /// `#+header:` lines, in the order Org merges them (bottom-most first).
    headers: Vec<(String, usize)>,
    /// Names given by `#+name:` lines in the keyword lines right above the block.
    names: Vec<String>,
    /// The body lines (un-escaped), with their 1-based line and the number of characters
    /// removed by un-escaping.
    body: Vec<BodyLine>,
    commented: bool,
    archived: bool,
    /// The innermost headline above the block (index into `Tangler::headings`).
    heading: Option<usize>,
    /// The block's `#+name:` as org-element sees it (affiliated keywords), if exactly one.
    elem_name: Option<String>,
    /// How many affiliated NAME keywords the block has.
    elem_names: usize,
    /// 1-based index of the block among the Babel blocks under the same headline.
    counter: usize,
    /// Whether the text between the previous Babel block (or the headline's stars) and the
    /// block is blank (what `:comments org` would insert).
    prose_blank: bool,
    /// The `#+begin_src` line.
    begin_text: String,
}

/// A headline: its parent and its property drawer.
#[derive(Debug, Clone)]
struct Heading {
    parent: Option<usize>,
    /// Node properties: (lower-case name, value, 1-based line).
    props: Vec<(String, String, usize)>,
    /// The title as `org-heading-components` gives it.
    title: String,
    level: usize,
    /// 1-based line of the headline.
    line: usize,
}

/// The node properties of a property drawer starting at `lines[k]` (`org-property-drawer-re`:
/// only property lines between `:PROPERTIES:` and `:END:`), and the index of its `:END:` line.
#[allow(clippy::type_complexity)]
fn property_drawer(lines: &[&str], k: usize) -> Option<(Vec<(String, String, usize)>, usize)> {
    if k >= lines.len() || !eq_fold(trim_st(lines[k]), ":PROPERTIES:") {
        return None;
    }
    let mut props = Vec::new();
    for (j, l) in lines.iter().enumerate().skip(k + 1) {
        if eq_fold(trim_st(l), ":END:") {
            return Some((props, j));
        }
        let (name, value) = node_property(l)?;
        props.push((name.to_lowercase(), value.to_string(), j + 1));
    }
    None
}

#[derive(Debug, Clone)]
struct BodyLine {
    text: String,
    line: usize,
    removed: usize,
}

/// A header-argument value as written, with where it was written.
#[derive(Debug, Clone)]
struct Cell {
    raw: Option<String>,
    line: usize,
}

/// A header-argument value after `org-babel-read`.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Nil,
    Str(String),
    Int(i64),
    /// Something we cannot represent (a float, a list, unsupported Lisp): the raw text.
    Other(String),
    /// Lisp that cannot be read: the raw text and why.
    Unreadable(String, ReadError),
}

type Params = Vec<(String, Cell)>;

/// Where a piece of text starts in the org file: line, 0-based character column, fragment.
type SrcAt = Option<(u32, usize, u32)>;

/// A normalized block body: its lines with where each starts.
type BodyText = Vec<(String, SrcAt)>;

fn param<'a>(params: &'a Params, key: &str) -> Option<&'a Cell> {
    params.iter().rev().find(|(k, _)| k == key).map(|(_, c)| c)
}

// ---------------------------------------------------------------------------------------------
// Text with a line map

#[derive(Debug, Clone, Copy, PartialEq)]
struct Src {
    line: u32,
    shift: i32,
    frag: u32,
}

#[derive(Debug, Clone, Default)]
struct MLine {
    text: String,
    /// The length of `text` in characters.
    chars: usize,
    origin: Option<Src>,
    /// Whether `text` holds anything but blanks.
    content: bool,
    /// Pieces of the line with a known origin: (0-based output column, origin), in order.
    segs: Vec<(usize, Src)>,
}

impl MLine {
    fn add_seg(&mut self, col: usize, src: Src) {
        if self.segs.last().map(|s| s.1) != Some(src) {
            self.segs.push((col, src));
        }
    }

    /// Records that `removed` characters were deleted at the start of the line.
    fn shift_left(&mut self, removed: usize) {
        if let Some(o) = &mut self.origin {
            o.shift -= removed as i32;
        }
        for (c, o) in &mut self.segs {
            *c = c.saturating_sub(removed);
            o.shift -= removed as i32;
        }
    }

    /// Records that the line was cut to `len` characters.
    fn truncate_segs(&mut self, len: usize) {
        while self.segs.len() > 1 && self.segs.last().is_some_and(|s| s.0 >= len) {
            self.segs.pop();
        }
    }
}

/// Text as lines (joined by `\n`), each with where it came from.
#[derive(Debug, Clone)]
struct MText {
    lines: Vec<MLine>,
}

impl MText {
    fn new() -> MText {
        MText {
            lines: vec![MLine::default()],
        }
    }

    fn from_str(s: &str) -> MText {
        let mut m = MText::new();
        m.push_str(s, None);
        m
    }

    /// Appends `s`; `src` is the origin of the first character of `s` (line, column as
    /// 0-based character index in the org line, fragment).
    fn push_str(&mut self, s: &str, src: Option<(u32, usize, u32)>) {
        let mut first = true;
        for piece in s.split('\n') {
            if !first {
                self.lines.push(MLine::default());
            }
            let last = self.lines.last_mut().expect("non-empty");
            if first {
                if let Some((line, col, frag)) = src {
                    if !piece.is_empty() {
                        let out_col = last.chars;
                        let here = Src {
                            line,
                            shift: (out_col as i64 - col as i64) as i32,
                            frag,
                        };
                        if last.origin.is_none() || !last.content {
                            last.origin = Some(here);
                        }
                        last.add_seg(out_col, here);
                    }
                }
            }
            if !piece.is_empty() {
                last.text.push_str(piece);
                last.chars += piece.chars().count();
                if !last.content && piece.chars().any(|c| c != ' ' && c != '\t') {
                    last.content = true;
                }
            }
            first = false;
        }
    }

    fn text(&self) -> String {
        let mut s = String::new();
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                s.push('\n');
            }
            s.push_str(&l.text);
        }
        s
    }

    /// Appends another text, merging its first line into our last.
    fn append(&mut self, other: MText) {
        let mut it = other.lines.into_iter();
        if let Some(first) = it.next() {
            let last = self.lines.last_mut().expect("non-empty");
            let add = last.chars;
            if let Some(o) = first.origin {
                if last.origin.is_none() || !last.content {
                    last.origin = Some(Src {
                        shift: o.shift + add as i32,
                        ..o
                    });
                }
            }
            for (c, o) in first.segs {
                last.add_seg(
                    c + add,
                    Src {
                        shift: o.shift + add as i32,
                        ..o
                    },
                );
            }
            last.text.push_str(&first.text);
            last.chars += first.chars;
            last.content |= first.content;
        }
        self.lines.extend(it);
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers reproducing Emacs functions

fn is_blank_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// `org-string-nw-p`.
fn string_nw(s: &str) -> bool {
    s.chars().any(|c| !is_blank_char(c))
}

fn eq_fold(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Strips an ASCII prefix, ignoring case.
fn strip_prefix_fold<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.is_char_boundary(prefix.len())
        && s[..prefix.len()].eq_ignore_ascii_case(prefix)
    {
        Some(&s[prefix.len()..])
    } else {
        None
    }
}

fn trim_st(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// Lines `^\*+ `: headlines.
fn headline_level(line: &str) -> Option<usize> {
    let stars = line.bytes().take_while(|&b| b == b'*').count();
    if stars > 0 && line.as_bytes().get(stars) == Some(&b' ') {
        Some(stars)
    } else {
        None
    }
}

/// The title of a headline as `org-heading-components` returns it: without the stars, the
/// TODO keyword, the priority cookie and the tags.
fn heading_title(line: &str, level: usize) -> String {
    let mut rest = line[level..].trim_start_matches(' ');
    for kw in ["TODO", "DONE"] {
        if let Some(r) = rest.strip_prefix(kw) {
            if r.is_empty() || r.starts_with(' ') {
                rest = r.trim_start_matches(' ');
                break;
            }
        }
    }
    if rest.starts_with("[#") {
        let mut cs = rest[2..].char_indices();
        if let (Some(_), Some((k, ']'))) = (cs.next(), cs.next()) {
            let after = &rest[2 + k + 1..];
            if after.is_empty() || after.starts_with(' ') {
                rest = after.trim_start_matches(' ');
            }
        }
    }
    let t = rest.trim_end_matches([' ', '\t']);
    if t.ends_with(':') {
        if let Some(sp) = t.rfind([' ', '\t']) {
            let tags = &t[sp + 1..];
            if is_tag_string(tags) {
                return t[..sp].trim_end_matches([' ', '\t']).to_string();
            }
        } else if is_tag_string(t) {
            return String::new();
        }
    }
    t.to_string()
}

/// `org-link--normalize-string`: statistics cookies and runs of blanks become one space, the
/// result is trimmed; with `context`, surrounding parentheses and leading `#`/`*` go too.
fn normalize_link_string(s: &str, context: bool) -> String {
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
fn org_link_escape(link: &str) -> String {
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

/// Whether a headline is commented (`COMMENT`) and whether it has the `ARCHIVE` tag.
fn headline_flags(line: &str, level: usize) -> (bool, bool) {
    let mut rest = line[level..].trim_start_matches(' ');
    for kw in ["TODO", "DONE"] {
        if let Some(r) = rest.strip_prefix(kw) {
            if r.is_empty() || r.starts_with(' ') {
                rest = r.trim_start_matches(' ');
                break;
            }
        }
    }
    if rest.starts_with("[#") && rest.len() >= 4 {
        let mut cs = rest[2..].chars();
        cs.next();
        if cs.next() == Some(']') {
            let n = 2 + rest[2..].chars().next().map_or(0, char::len_utf8) + 1;
            rest = rest[n..].trim_start_matches(' ');
        }
    }
    let commented = rest
        .strip_prefix("COMMENT")
        .is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']));
    let t = line.trim_end_matches([' ', '\t']);
    let mut archived = false;
    if t.ends_with(':') {
        if let Some(sp) = t.rfind([' ', '\t']) {
            let tags = &t[sp + 1..];
            if is_tag_string(tags) {
                archived = tags.split(':').any(|x| x == "ARCHIVE");
            }
        }
    }
    (commented, archived)
}

/// Whether `s` is a headline's tag string, such as `:work:ARCHIVE:`.
fn is_tag_string(s: &str) -> bool {
    s.len() > 2
        && s.starts_with(':')
        && s.chars()
            .all(|c| c.is_alphanumeric() || "_@#%:".contains(c))
}

/// `org-trim`.
fn org_trim(m: &mut MText) {
    // Trailing [ \t\n\r]+.
    loop {
        let last = m.lines.last_mut().expect("non-empty");
        let t = last.text.trim_end_matches(is_blank_char).len();
        last.text.truncate(t);
        last.chars = last.text.chars().count();
        if last.text.is_empty() && m.lines.len() > 1 {
            m.lines.pop();
        } else {
            break;
        }
    }
    // Leading [ \t\n\r]+.
    let skip = m
        .lines
        .iter()
        .position(|l| l.text.chars().any(|c| !is_blank_char(c)))
        .unwrap_or(m.lines.len() - 1);
    m.lines.drain(..skip);
    let first = &mut m.lines[0];
    let t = first.text.trim_start_matches(is_blank_char);
    let kept = t.chars().count();
    let removed = first.chars - kept;
    first.text = t.to_string();
    first.chars = kept;
    first.shift_left(removed);
    let last = m.lines.last_mut().expect("non-empty");
    let len = last.chars;
    last.truncate_segs(len);
}

/// Columns of the leading `[ \t]` of a line (tab width 8), and their length in bytes.
fn indentation(s: &str) -> (usize, usize) {
    let mut col = 0;
    let mut n = 0;
    for b in s.bytes() {
        match b {
            b' ' => col += 1,
            b'\t' => col = (col / 8 + 1) * 8,
            _ => break,
        }
        n += 1;
    }
    (col, n)
}

/// `org-remove-indentation` on each line (joined by newlines).
fn remove_indentation(m: &mut MText) {
    let mut min: Option<usize> = None;
    for l in &m.lines {
        let (col, n) = indentation(&l.text);
        match l.text[n..].chars().next() {
            Some(c) if !c.is_whitespace() => {
                if col == 0 {
                    return;
                }
                min = Some(min.map_or(col, |m: usize| m.min(col)));
            }
            _ => {}
        }
    }
    // `org-do-remove-indentation` starts its minimum at `point-max`, so a short text keeps
    // part of a large indentation.
    let point_max = m
        .lines
        .iter()
        .map(|l| l.text.chars().count() + 1)
        .sum::<usize>();
    let n = min.map_or(point_max, |m| m.min(point_max));
    let mut out = Vec::with_capacity(m.lines.len());
    for l in &m.lines {
        let (col, nb) = indentation(&l.text);
        if nb == l.text.len() {
            let mut l2 = l.clone();
            l2.text.clear();
            l2.chars = 0;
            out.push(l2);
            continue;
        }
        if col < n {
            return;
        }
        let target = col - n;
        // Keep the indentation up to column TARGET, converting a straddling tab to spaces.
        let mut kept = String::new();
        let mut c = 0;
        for b in l.text[..nb].bytes() {
            if c >= target {
                break;
            }
            if b == b' ' {
                kept.push(' ');
                c += 1;
            } else {
                let next = (c / 8 + 1) * 8;
                if next <= target {
                    kept.push('\t');
                    c = next;
                } else {
                    kept.extend(std::iter::repeat(' ').take(target - c));
                    c = target;
                }
            }
        }
        let removed = nb as i32 - kept.chars().count() as i32;
        let mut l2 = l.clone();
        l2.text = format!("{kept}{}", &l.text[nb..]);
        l2.chars = (l.chars as i32 - removed) as usize;
        l2.shift_left(removed.max(0) as usize);
        out.push(l2);
    }
    m.lines = out;
}

/// Reads an Emacs Lisp string literal at the start of `s`.
fn read_lisp_string(s: &str) -> Option<(String, usize)> {
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
fn read_lisp_int(s: &str) -> Option<(i64, bool)> {
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

/// A Lisp expression, as far as we read them.
enum Sexp {
    Int(i64, bool),
    Str(String),
    Sym(String),
    List(Vec<Sexp>),
    Quote(Box<Sexp>),
}

/// Why a Lisp value cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadError {
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
const MAX_LISP_DEPTH: usize = 1000;

/// Skips white space and `;` comments (to the end of the line), as the Lisp reader does.
fn skip_blanks(mut s: &str) -> &str {
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
fn read_sexp(s: &str) -> Result<(Sexp, &str), ReadError> {
    enum Open {
        List(Vec<Sexp>),
        Quote,
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
                match read_lisp_int(atom) {
                    Some((n, z)) => Sexp::Int(n, z),
                    None => Sexp::Sym(atom.to_string()),
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
fn eval_lisp(s: &str, decimal_zero: &mut bool) -> Result<Option<Val>, ReadError> {
    fn eval(e: &Sexp, z: &mut bool) -> Option<Val> {
        match e {
            Sexp::Int(n, zero) => {
                *z |= *zero;
                Some(Val::Int(*n))
            }
            Sexp::Str(v) => Some(Val::Str(v.clone())),
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

/// `s`, cut to its first 60 characters (with an ellipsis) for quoting in messages.
fn abbreviate(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((k, _)) => format!("{}…", &s[..k]),
        None => s.to_string(),
    }
}

/// `org-babel-read`. `light` leaves Lisp unevaluated, as `org-babel-get-src-block-info` does
/// with LIGHT non-nil. The flag reports a decimal literal with a leading zero.
fn read_val(raw: Option<&str>, light: bool) -> (Val, bool) {
    let Some(s) = raw else {
        return (Val::Nil, false);
    };
    if !string_nw(s) {
        return (Val::Str(s.to_string()), false);
    }
    // org-babel--string-to-number.
    let t = s.trim_matches(is_blank_char);
    if !t.chars().any(char::is_whitespace)
        && s.chars().all(|c| c.is_ascii_digit() || "e.+ -".contains(c))
    {
        if let Some((v, z)) = read_lisp_int(t) {
            return (Val::Int(v), z);
        }
        if t.parse::<f64>().is_ok() {
            return (Val::Other(s.to_string()), false);
        }
    }
    if s.starts_with(['(', '\'', '`', '[']) || s == "*this*" {
        if light {
            return (Val::Str(s.to_string()), false);
        }
        let mut z = false;
        return match eval_lisp(s, &mut z) {
            Ok(Some(v)) => (v, z),
            Ok(None) => (Val::Other(s.to_string()), false),
            Err(e) => (Val::Unreadable(s.to_string(), e), false),
        };
    }
    if s.starts_with('"') {
        return match read_lisp_string(s) {
            Some((v, _)) => (Val::Str(v), false),
            None => (Val::Other(s.to_string()), false),
        };
    }
    (Val::Str(s.to_string()), false)
}

/// For each `(` or `[` of `chars`, the index just past its balanced partner, if it has one.
/// The partner is found as `org-babel-balanced-split` scans: over brackets only, each `)` or
/// `]` closing the innermost opening when that is its kind, and being skipped otherwise. A
/// scan that starts at an opening sees the same innermost openings as one pass over the
/// whole text that started earlier, so a single pass answers for every opening.
fn bracket_partners(chars: &[char]) -> Vec<Option<usize>> {
    let mut partner = vec![None; chars.len()];
    let mut open: Vec<usize> = Vec::new();
    for (k, &c) in chars.iter().enumerate() {
        match c {
            '(' | '[' => open.push(k),
            ')' | ']' => {
                let opening = if c == ')' { '(' } else { '[' };
                if open.last().is_some_and(|&o| chars[o] == opening) {
                    let o = open.pop().expect("just checked");
                    partner[o] = Some(k + 1);
                }
            }
            _ => {}
        }
    }
    partner
}

/// `org-babel-balanced-split` with ALTS `((32 9) . 58)`.
fn balanced_split(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let partner = bracket_partners(&chars);
    let mut result = Vec::new();
    let mut partial: Vec<char> = Vec::new();
    // Where the search for a closing quote found none: no later quote has one either.
    let mut no_closing_quote = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let before = if i > 0 { Some(chars[i - 1]) } else { None };
        if matches!(before, Some(' ' | '\t')) && c == ':' {
            partial.pop();
            if !partial.is_empty() {
                result.push(partial.iter().collect());
                partial.clear();
            }
            i += 1;
        } else if c == '(' || c == '[' {
            match partner[i] {
                Some(j) => {
                    partial.extend_from_slice(&chars[i..j]);
                    i = j;
                }
                None => {
                    partial.push(c);
                    i += 1;
                }
            }
        } else if c == '"' && before != Some('\\') {
            // re-search-forward "[^\\]\"" from the quote itself.
            let found = if no_closing_quote {
                None
            } else {
                (i..chars.len() - 1)
                    .find(|&k| chars[k] != '\\' && chars[k + 1] == '"')
                    .map(|k| k + 2)
            };
            match found {
                Some(end) => {
                    partial.extend_from_slice(&chars[i..end]);
                    i = end;
                }
                None => {
                    no_closing_quote = true;
                    partial.push('"');
                    i += 1;
                }
            }
        } else {
            partial.push(c);
            i += 1;
        }
    }
    if !partial.is_empty() {
        result.push(partial.iter().collect());
    }
    result
}

/// `org-babel-parse-header-arguments` (without evaluation: values stay raw).
fn parse_header_args(s: &str, line: usize) -> Params {
    let mut out = Vec::new();
    if !string_nw(s) {
        return out;
    }
    let raw = balanced_split(s);
    for (i, arg) in raw.into_iter().enumerate() {
        let arg = if i == 0 { arg } else { format!(":{arg}") };
        let ws = |c: char| matches!(c, ' ' | '\x0c' | '\t' | '\n' | '\r' | '\x0b');
        // "\\([^ \f\t\n\r\v]+\\)[ \f\t\n\r\v]+\\([^ \f\t\n\r\v]+.*\\)"
        let mut parsed = None;
        let mut start = 0;
        while start < arg.len() {
            let rest = &arg[start..];
            let kstart = match rest.find(|c: char| !ws(c)) {
                Some(k) => start + k,
                None => break,
            };
            let kend = arg[kstart..].find(ws).map_or(arg.len(), |k| kstart + k);
            let vstart = arg[kend..].find(|c: char| !ws(c)).map(|k| kend + k);
            match vstart {
                Some(v) if kend < arg.len() && !arg[v..].starts_with('\n') => {
                    let val = &arg[v..];
                    let val = val.split('\n').next().unwrap_or("");
                    parsed = Some((arg[kstart..kend].to_string(), chomp(val).to_string()));
                    break;
                }
                _ => start = kend,
            }
        }
        match parsed {
            Some((k, v)) => out.push((k, Cell { raw: Some(v), line })),
            None => out.push((chomp(&arg).to_string(), Cell { raw: None, line })),
        }
    }
    out
}

/// `org-babel-chomp`.
fn chomp(s: &str) -> &str {
    s.trim_end_matches([' ', '\x0c', '\t', '\n', '\r', '\x0b'])
}

/// The org-element parse of a `#+begin_src` line (after `#+begin_src`): language, switches,
/// parameters.
fn parse_begin_line(rest: &str) -> (Option<String>, String, Option<String>) {
    let b = rest.as_bytes();
    let mut i = 0;
    let mut lang = None;
    let spaces = |i: usize| b[i..].iter().take_while(|&&c| c == b' ').count();
    let sp = spaces(0);
    if sp > 0 {
        let end = rest[sp..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |k| sp + k);
        if end > sp {
            lang = Some(rest[sp..end].to_string());
            i = end;
        }
    }
    let sw_start = i;
    loop {
        let sp = spaces(i);
        if sp == 0 {
            break;
        }
        let j = i + sp;
        let r = &rest[j..];
        if let Some(after) = r.strip_prefix("-l \"") {
            // `.+"`: greedy, to the last quote of the line with at least one char before it.
            let open = j + 3;
            if let Some(q) = after.rfind('"') {
                if q >= 1 {
                    i = open + 1 + q + 1;
                    continue;
                }
            }
        }
        if r.len() >= 2 && r.as_bytes()[0] == b'-' && matches!(r.as_bytes()[1], b'i' | b'k' | b'r')
        {
            i = j + 2;
            continue;
        }
        if r.len() >= 2 && matches!(r.as_bytes()[0], b'-' | b'+') && r.as_bytes()[1] == b'n' {
            let mut k = j + 2;
            let s2 = spaces(k);
            let digits = b[k + s2..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count();
            if digits > 0 {
                k += s2 + digits;
            }
            i = k;
            continue;
        }
        break;
    }
    let switches = rest[sw_start..i].to_string();
    let params = &rest[i..];
    let params = if string_nw(params) {
        Some(params.trim_matches(is_blank_char).to_string())
    } else {
        None
    };
    let switches = if string_nw(&switches) {
        switches.trim_matches(is_blank_char).to_string()
    } else {
        String::new()
    };
    (lang, switches, params)
}

/// Whether a line is `^[ \t]*#\+KEY` (case-insensitive), returning what follows KEY.
fn keyword_rest<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let t = line.trim_start_matches([' ', '\t']);
    let t = t.strip_prefix("#+")?;
    strip_prefix_fold(t, key)
}

fn is_begin_src(line: &str) -> Option<&str> {
    let rest = keyword_rest(line, "begin_src")?;
    if rest.is_empty() || rest.starts_with(char::is_whitespace) {
        Some(rest)
    } else {
        None
    }
}

fn is_end(line: &str, name: &str) -> bool {
    keyword_rest(line, &format!("end_{name}"))
        .is_some_and(|r| r.chars().all(|c| c == ' ' || c == '\t'))
}

/// Affiliated keywords that may stand above a block.
fn affiliated_key(line: &str) -> Option<(String, &str)> {
    let t = line.trim_start_matches([' ', '\t']).strip_prefix("#+")?;
    let colon = t.find(':')?;
    let key = &t[..colon];
    let key_base = key.split('[').next().unwrap_or(key).to_ascii_uppercase();
    let ok = matches!(
        key_base.as_str(),
        "CAPTION"
            | "HEADER"
            | "HEADERS"
            | "NAME"
            | "PLOT"
            | "RESULTS"
            | "DATA"
            | "LABEL"
            | "RESNAME"
            | "RESULT"
            | "SOURCE"
            | "SRCNAME"
            | "TBLNAME"
    ) || (key_base.starts_with("ATTR_") && !key.contains('['));
    if ok && !key.contains(char::is_whitespace) {
        Some((key_base, &t[colon + 1..]))
    } else {
        None
    }
}

/// A node property line `:NAME: value` (`org-re-property` with ALLOW-NULL): name and value
/// (trailing blanks removed).
fn node_property(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start_matches([' ', '\t']).strip_prefix(':')?;
    // The name ends at the first colon followed by a blank or the end of the line.
    let colon = t.char_indices().find(|&(k, c)| {
        c == ':'
            && t[k + 1..]
                .chars()
                .next()
                .map_or(true, |n| n == ' ' || n == '\t')
    })?;
    let name = &t[..colon.0];
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    Some((name, trim_st(&t[colon.0 + 1..])))
}

/// `^[ \t]*#\+\S-+:` — the keyword lines Babel's named-block regexp lets stand between
/// `#+name:` and `#+begin_src`.
fn is_keyword_line(line: &str) -> bool {
    let Some(t) = line.trim_start_matches([' ', '\t']).strip_prefix("#+") else {
        return false;
    };
    let word_end = t.find(char::is_whitespace).unwrap_or(t.len());
    t[..word_end].find(':').is_some_and(|k| k > 0)
}

// ---------------------------------------------------------------------------------------------
// The noweb reference regexp of Org 9.5.5:
//   \(.*?\)\(<<\([^ \t\n]\(?:.*?[^ \t\n]\)?\)>>\)

/// One reference match on a line, as byte offsets: match start, `<<`, id start/end, match end.
struct RefMatch {
    mb: usize,
    lt: usize,
    id: (usize, usize),
    me: usize,
}

/// The first match of the reference regexp in `line` at or after byte `start`, as Emacs'
/// backtracking matcher finds it: the lazy `\\(.*?\\)` tries each `<<` in turn, and for each
/// the optional group first (the shortest name ending in a non-blank before a `>>`), then a
/// one-character name. The search for the optional group's `>>` can only move forward from
/// one `<<` to the next, and once it finds none, no later `<<` has one: it runs at most once,
/// so the search is linear.
fn find_ref(line: &str, start: usize) -> Option<RefMatch> {
    let b = line.as_bytes();
    let nonws = |c: u8| !matches!(c, b' ' | b'\t' | b'\n');
    // `>>` at `q` after a non-blank: where a name of two or more characters can end.
    let closes = |q: usize| b[q] == b'>' && b[q + 1] == b'>' && nonws(b[q - 1]);
    let mut longer_names = true;
    let mut lt = start;
    while lt + 1 < b.len() {
        if b[lt] == b'<' && b[lt + 1] == b'<' && lt + 2 < b.len() && nonws(b[lt + 2]) {
            let a = lt + 2;
            let c0_len = line[a..].chars().next().map_or(1, char::len_utf8);
            let after = a + c0_len;
            if longer_names {
                match (after + 1..b.len().saturating_sub(1)).find(|&q| closes(q)) {
                    Some(q) => {
                        return Some(RefMatch {
                            mb: start,
                            lt,
                            id: (a, q),
                            me: q + 2,
                        })
                    }
                    None => longer_names = false,
                }
            }
            if b.len() >= after + 2 && b[after] == b'>' && b[after + 1] == b'>' {
                return Some(RefMatch {
                    mb: start,
                    lt,
                    id: (a, after),
                    me: after + 2,
                });
            }
        }
        lt += 1;
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Coderefs

/// Matches `fmt` (with `%s` as a label) followed by `[ \t]*` and the end of `s`, from the
/// start of `s`. Literal parts compare case-insensitively, as `case-fold-search` is on.
fn coderef_tail(s: &[char], parts: &[Vec<char>]) -> bool {
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
    let label_first = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if s.is_empty() || !label_first(s[0]) {
        return false;
    }
    let mut n = 1;
    while n < s.len() && (label_first(s[n]) || s[n] == ' ') {
        n += 1;
    }
    while n >= 1 {
        if coderef_tail(&s[n..], &parts[1..]) {
            return true;
        }
        n -= 1;
    }
    false
}

/// Removes coderef labels (and the blanks before them) at line ends.
fn remove_coderefs(m: &mut MText, fmt: &str) {
    let parts: Vec<Vec<char>> = fmt.split("%s").map(|p| p.chars().collect()).collect();
    for l in &mut m.lines {
        let chars: Vec<char> = l.text.chars().collect();
        for s in 0..=chars.len() {
            if coderef_tail(&chars[s..], &parts) {
                let mut p = s;
                while p > 0 && (chars[p - 1] == ' ' || chars[p - 1] == '\t') {
                    p -= 1;
                }
                l.text = chars[..p].iter().collect();
                l.chars = p;
                l.truncate_segs(p);
                l.content = l.text.chars().any(|c| c != ' ' && c != '\t');
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The tangler

/// How many steps of a long reference cycle an error shows at its start and at its end.
const CYCLE_SHOWN: usize = 4;

/// How a reference resolves.
#[derive(Debug, Clone)]
enum Resolution {
    Blocks(Vec<usize>),
    Unresolved,
}

enum Task {
    /// Continue the body of block `b` at line `line`, byte `off` (character `chars`);
    /// `expand` tells whether references are expanded.
    Body {
        b: usize,
        line: usize,
        off: usize,
        chars: usize,
        expand: bool,
    },
    /// Include block `b` as a reference (expanded if its `:noweb` allows it in `:eval`).
    Child {
        b: usize,
        via: (usize, usize),
    },
    Text(String),
    PopPrefix,
    PopPath,
}

struct Tangler<'a> {
    path: &'a Path,
    text: &'a str,
    blocks: Vec<Block>,
    /// `#+property:` values: lower-case name -> (value, line).
    props: HashMap<String, (String, usize)>,
    /// Values of `:ID:` / `:CUSTOM_ID:` properties.
    ids: Vec<String>,
    errors: Vec<Diagnostic>,
    warnings: Vec<Diagnostic>,
    /// The warnings given so far (each is given once): line, column, message.
    warned: HashSet<(usize, usize, String)>,
    outputs: Vec<Output>,
    resolutions: HashMap<String, Resolution>,
    headings: Vec<Heading>,
    /// The property drawer before the first headline.
    top_props: Vec<(String, String, usize)>,
    /// Lower-case `#+name:` -> first block; `:noweb-ref` -> blocks.
    #[allow(clippy::type_complexity)]
    name_index: Option<(HashMap<String, usize>, HashMap<String, Vec<usize>>)>,
    light_params: Vec<Option<Params>>,
}

impl<'a> Tangler<'a> {
    fn new(path: &'a Path, text: &'a str) -> Self {
        Tangler {
            path,
            text,
            blocks: Vec::new(),
            props: HashMap::new(),
            ids: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            warned: HashSet::new(),
            outputs: Vec::new(),
            resolutions: HashMap::new(),
            headings: Vec::new(),
            top_props: Vec::new(),
            name_index: None,
            light_params: Vec::new(),
        }
    }

    fn pos(&self, line: usize, col: usize) -> Pos {
        Pos::new(self.path, line, col)
    }

    fn error(&mut self, line: usize, col: usize, msg: impl Into<String>) {
        let d = Diagnostic::error(self.pos(line, col), msg);
        self.errors.push(d);
    }

    fn warn(&mut self, line: usize, col: usize, msg: impl Into<String>) {
        let msg = msg.into();
        if self.warned.insert((line, col, msg.clone())) {
            self.warnings
                .push(Diagnostic::warning(self.pos(line, col), msg));
        }
    }

    // -- parsing ------------------------------------------------------------------------------

    fn parse(&mut self) {
        if let Some(i) = self.text.find('\r') {
            let line = self.text[..i].matches('\n').count() + 1;
            self.error(
                line,
                1,
                "carriage returns are not supported in org documents (convert the file to \
                 Unix line endings)",
            );
            return;
        }
        let lines: Vec<&str> = self.text.split('\n').collect();
        // The last "line" after a final newline is not a line.
        let n = if self.text.ends_with('\n') {
            lines.len() - 1
        } else {
            lines.len()
        };
        // A property drawer before the first headline, after comment lines at the top.
        if n > 0 && headline_level(lines[0]).is_none() {
            let mut k = 0;
            while k < n && {
                let t = lines[k].trim_start_matches([' ', '\t']);
                t == "#" || t.starts_with("# ")
            } {
                k += 1;
            }
            if let Some((props, _)) = property_drawer(&lines[..n], k) {
                self.top_props = props;
            }
        }
        // (level, commented, archived, index into self.headings)
        let mut heads: Vec<(usize, bool, bool, usize)> = Vec::new();
        // Whether there is text since the last headline's stars or Babel block end.
        let mut region_nonblank = false;
        let mut counters: HashMap<Option<usize>, usize> = HashMap::new();
        let mut i = 0;
        while i < n {
            let line = lines[i];
            if let Some(level) = headline_level(line) {
                let (c, a) = headline_flags(line, level);
                while heads.last().is_some_and(|h| h.0 >= level) {
                    heads.pop();
                }
                let (pc, pa) = heads.last().map_or((false, false), |h| (h.1, h.2));
                let parent = heads.last().map(|h| h.3);
                let title = heading_title(line, level);
                region_nonblank = string_nw(&line[level + 1..]);
                // The property drawer: right after the headline or its planning line.
                let mut props = Vec::new();
                let mut k = i + 1;
                if k < n {
                    let t = lines[k].trim_start_matches([' ', '\t']);
                    if ["SCHEDULED:", "DEADLINE:", "CLOSED:"]
                        .iter()
                        .any(|p| t.starts_with(p))
                    {
                        k += 1;
                    }
                }
                if let Some((drawer, end)) = property_drawer(&lines[..n], k) {
                    props = drawer;
                    {
                        for (key, val, _) in &props {
                            if key == "id" || key == "custom_id" {
                                self.ids.push(val.clone());
                            }
                        }
                        self.headings.push(Heading {
                            parent,
                            props,
                            title,
                            level,
                            line: i + 1,
                        });
                        heads.push((level, pc || c, pa || a, self.headings.len() - 1));
                        region_nonblank = true;
                        i = end + 1;
                        continue;
                    }
                }
                self.headings.push(Heading {
                    parent,
                    props,
                    title,
                    level,
                    line: i + 1,
                });
                heads.push((level, pc || c, pa || a, self.headings.len() - 1));
                i += 1;
                continue;
            }
            if let Some(rest) = is_begin_src(line) {
                let mut end = None;
                for (j, l) in lines.iter().enumerate().take(n).skip(i + 1) {
                    if headline_level(l).is_some() {
                        break;
                    }
                    if is_end(l, "src") {
                        end = Some(j);
                        break;
                    }
                }
                let col = line.len() - line.trim_start_matches([' ', '\t']).len() + 1;
                let Some(end) = end else {
                    self.error(
                        i + 1,
                        col,
                        "unterminated `#+begin_src` (no `#+end_src` before the next headline \
                         or the end of the file; Emacs would silently skip this block and the \
                         blocks it swallows)",
                    );
                    i += 1;
                    continue;
                };
                if rest.starts_with('\t') {
                    self.error(
                        i + 1,
                        col,
                        "a tab right after `#+begin_src` is not supported (Org reads no language)",
                    );
                }
                let (lang, switches, params) = parse_begin_line(rest);
                // Affiliated keywords and names above the block.
                let mut headers = Vec::new();
                let mut elem_names = Vec::new();
                let mut k = i;
                while k > 0 {
                    match affiliated_key(lines[k - 1]) {
                        Some((key, val)) => {
                            if key == "HEADER" || key == "HEADERS" {
                                headers.push((trim_st(val).to_string(), k));
                            }
                            if matches!(
                                key.as_str(),
                                "NAME"
                                    | "DATA"
                                    | "LABEL"
                                    | "RESNAME"
                                    | "SOURCE"
                                    | "SRCNAME"
                                    | "TBLNAME"
                            ) {
                                elem_names.push(trim_st(val).to_string());
                            }
                            k -= 1;
                        }
                        None => break,
                    }
                }
                let mut names = Vec::new();
                let mut k = i;
                while k > 0 && is_keyword_line(lines[k - 1]) {
                    if let Some(v) = keyword_rest(lines[k - 1], "name:") {
                        names.push(trim_st(v).to_string());
                    }
                    k -= 1;
                }
                names.reverse();
                let mut body = Vec::new();
                for (j, l) in lines.iter().enumerate().take(end).skip(i + 1) {
                    // org-unescape-code-in-string: "^[ \t]*,*\\(,\\)\\(?:\\*\\|#\\+\\)".
                    let t = l.trim_start_matches([' ', '\t']);
                    let ind = l.len() - t.len();
                    let commas = t.bytes().take_while(|&c| c == b',').count();
                    let after = &t[commas..];
                    if commas > 0 && (after.starts_with('*') || after.starts_with("#+")) {
                        let mut s = l[..ind + commas - 1].to_string();
                        s.push_str(after);
                        body.push(BodyLine {
                            text: s,
                            line: j + 1,
                            removed: 1,
                        });
                    } else {
                        body.push(BodyLine {
                            text: l.to_string(),
                            line: j + 1,
                            removed: 0,
                        });
                    }
                }
                let (commented, archived) = heads.last().map_or((false, false), |h| (h.1, h.2));
                let heading = heads.last().map(|h| h.3);
                let counter = if lang.is_some() {
                    let c = counters.entry(heading).or_insert(0);
                    *c += 1;
                    *c
                } else {
                    0
                };
                let prose_blank = !region_nonblank;
                region_nonblank = lang.is_none();
                self.blocks.push(Block {
                    line: i + 1,
                    col,
                    lang,
                    switches,
                    params,
                    headers,
                    names,
                    body,
                    commented,
                    archived,
                    heading,
                    elem_name: elem_names.first().cloned(),
                    elem_names: elem_names.len(),
                    counter,
                    prose_blank,
                    begin_text: line.to_string(),
                });
                i = end + 1;
                continue;
            }
            // Other lesser blocks hide their contents.
            let t = line.trim_start_matches([' ', '\t']);
            if let Some(r) = strip_prefix_fold(t, "#+begin_") {
                let name: String = r.chars().take_while(|c| !c.is_whitespace()).collect();
                let lname = name.to_ascii_lowercase();
                if matches!(lname.as_str(), "example" | "export" | "comment" | "verse") {
                    let mut end = None;
                    for (j, l) in lines.iter().enumerate().take(n).skip(i + 1) {
                        if headline_level(l).is_some() {
                            break;
                        }
                        if is_end(l, &lname) {
                            end = Some(j);
                            break;
                        }
                    }
                    if let Some(end) = end {
                        region_nonblank = true;
                        i = end + 1;
                        continue;
                    }
                }
            }
            if string_nw(line) {
                region_nonblank = true;
            }
            if keyword_rest(line, "setupfile:").is_some() {
                self.error(
                    i + 1,
                    1,
                    "`#+setupfile:` is not supported (Org would read header arguments from \
                     another file)",
                );
            }
            if let Some(v) = keyword_rest(line, "property:") {
                let v = v.trim_matches(is_blank_char);
                let (key, val) = match v.find(char::is_whitespace) {
                    Some(k) => (&v[..k], v[k..].trim_start_matches([' ', '\t'])),
                    None => (v, ""),
                };
                let mut key = key.to_lowercase();
                let appending = key.ends_with('+');
                if appending {
                    key.pop();
                }
                match self.props.get_mut(&key) {
                    Some(old) if appending => {
                        old.0 = format!("{} {}", old.0, val);
                        old.1 = i + 1;
                    }
                    _ => {
                        self.props.insert(key, (val.to_string(), i + 1));
                    }
                }
            }
            if heads.is_empty() && t.starts_with(':') {
                let lower = t.to_lowercase();
                for key in [":id:", ":custom_id:"] {
                    if lower.starts_with(key) {
                        self.ids.push(trim_st(&t[key.len()..]).to_string());
                    }
                }
            }
            i += 1;
        }
        self.light_params = vec![None; self.blocks.len()];
    }

    // -- parameters ---------------------------------------------------------------------------

    /// `org-entry-get` with inheritance (`org-entry-get-with-inheritance`): the headline's
    /// `PROP` and `PROP+` values, then its ancestors' as long as no plain `PROP` was found,
    /// then the `#+property:` value. Returns the value and the line of its last part.
    fn entry_get(&self, heading: Option<usize>, prop: &str) -> Option<(String, usize)> {
        let prop = prop.to_lowercase();
        let plus = format!("{prop}+");
        let mut value: Option<String> = None;
        let mut line = 0;
        let not_nil = |v: Option<String>| v.filter(|v| v != "nil");
        // `Some(None)` is point-min: the headline on the first line, else the drawer before
        // the first headline (`org-up-heading-or-point-min`).
        let mut h: Option<Option<usize>> = Some(heading);
        let first_is_heading = self.headings.first().is_some_and(|f| f.line == 1);
        while let Some(entry) = h {
            let props = match entry {
                Some(hi) => &self.headings[hi].props,
                None if first_is_heading => &self.headings[0].props,
                None => &self.top_props,
            };
            let base = props.iter().find(|p| p.0 == prop);
            let pluses: Vec<&(String, String, usize)> =
                props.iter().filter(|p| p.0 == plus).collect();
            let base_val = base.and_then(|p| not_nil(Some(p.1.clone())));
            if base_val.is_some() || !pluses.is_empty() {
                let mut parts: Vec<&str> = Vec::new();
                if let Some(b) = &base_val {
                    parts.push(b);
                }
                parts.extend(pluses.iter().map(|p| p.1.as_str()));
                let here = parts.join(" ");
                if line == 0 {
                    line = pluses
                        .last()
                        .map(|p| p.2)
                        .or(base.map(|p| p.2))
                        .unwrap_or(0);
                }
                value = Some(match value {
                    Some(v) => format!("{here} {v}"),
                    None => here,
                });
            }
            if base_val.is_some() {
                return not_nil(value).map(|v| (v, line));
            }
            h = match entry {
                Some(hi) if self.headings[hi].level > 1 => self.headings[hi].parent.map(Some),
                Some(hi) if self.headings[hi].line != 1 => Some(None),
                _ => None,
            };
        }
        if let Some((g, gline)) = self.props.get(&prop) {
            if g != "nil" {
                if line == 0 {
                    line = *gline;
                }
                value = Some(match value {
                    Some(v) => format!("{g} {v}"),
                    None => g.clone(),
                });
            }
        }
        not_nil(value).map(|v| (v, line))
    }

    /// The merged header arguments of block `b` (raw values, later entries override).
    fn params_of(&self, b: usize) -> Params {
        let block = &self.blocks[b];
        let mut params: Params = Vec::new();
        let l = block.line;
        for (k, v) in [
            (":session", "none"),
            (":results", "replace"),
            (":exports", "code"),
            (":cache", "no"),
            (":noweb", "no"),
            (":hlines", "no"),
            (":tangle", "no"),
        ] {
            params.push((
                k.to_string(),
                Cell {
                    raw: Some(v.to_string()),
                    line: 0,
                },
            ));
        }
        let lang = block.lang.clone().unwrap_or_default();
        if lang == "emacs-lisp" || lang == "elisp" {
            params.push((
                ":lexical".to_string(),
                Cell {
                    raw: Some("no".to_string()),
                    line: 0,
                },
            ));
        }
        if let Some((v, line)) = self.entry_get(block.heading, "header-args") {
            params.extend(parse_header_args(&v, line));
        }
        if let Some((v, line)) = self.entry_get(block.heading, &format!("header-args:{lang}")) {
            params.extend(parse_header_args(&v, line));
        }
        if let Some(p) = &block.params {
            params.extend(parse_header_args(p, l));
        }
        for (h, line) in &block.headers {
            params.extend(parse_header_args(h, *line));
        }
        params
    }

    fn light(&mut self, b: usize) -> &Params {
        if self.light_params[b].is_none() {
            self.light_params[b] = Some(self.params_of(b));
        }
        self.light_params[b].as_ref().expect("just set")
    }

    fn light_val(&mut self, b: usize, key: &str) -> Val {
        let raw = param(self.light(b), key).and_then(|c| c.raw.clone());
        read_val(raw.as_deref(), true).0
    }

    /// `org-babel-noweb-p` in the `:eval` context, with light (unevaluated) parameters.
    fn noweb_eval(&mut self, b: usize) -> bool {
        match self.light_val(b, ":noweb") {
            Val::Str(s) => s
                .split_whitespace()
                .any(|v| matches!(v, "yes" | "no-export" | "strip-export" | "eval")),
            _ => false,
        }
    }

    fn babel_visible(&self, b: usize) -> bool {
        self.blocks[b].lang.is_some()
    }

    fn block_name(&self, b: usize) -> String {
        let block = &self.blocks[b];
        match block.names.first() {
            Some(n) => format!("`{n}`"),
            None => format!("the block at line {}", block.line),
        }
    }

    // -- references ---------------------------------------------------------------------------

    fn resolve(&mut self, id: &str) -> Resolution {
        if let Some(r) = self.resolutions.get(id) {
            return r.clone();
        }
        if self.name_index.is_none() {
            let mut names: HashMap<String, usize> = HashMap::new();
            let mut refs: HashMap<String, Vec<usize>> = HashMap::new();
            for b in 0..self.blocks.len() {
                if !self.babel_visible(b) {
                    continue;
                }
                for n in &self.blocks[b].names {
                    names.entry(n.to_lowercase()).or_insert(b);
                }
                if self.blocks[b].commented {
                    continue;
                }
                if let Val::Str(r) = self.light_val(b, ":noweb-ref") {
                    refs.entry(r).or_default().push(b);
                }
            }
            self.name_index = Some((names, refs));
        }
        let (names, refs) = self.name_index.as_ref().expect("just built");
        // The first block whose name matches, case-insensitively (`case-fold-search`); the
        // lower-case index is exact for the names Org documents use.
        let named = names
            .get(&id.to_lowercase())
            .copied()
            .filter(|&b| self.blocks[b].names.iter().any(|n| eq_fold(n, id)));
        let r = match named {
            Some(b) if !self.blocks[b].commented => Resolution::Blocks(vec![b]),
            _ => match refs.get(id) {
                Some(v) => Resolution::Blocks(v.clone()),
                None => Resolution::Unresolved,
            },
        };
        self.resolutions.insert(id.to_string(), r.clone());
        r
    }

    /// The body of block `b` as Org normalizes it: final newline dropped, common indentation
    /// removed unless `-i`.
    fn normalized_body(&self, b: usize) -> BodyText {
        let block = &self.blocks[b];
        let mut m = MText { lines: Vec::new() };
        for bl in &block.body {
            let content = bl.text.chars().any(|c| c != ' ' && c != '\t');
            m.lines.push(MLine {
                text: bl.text.clone(),
                chars: bl.text.chars().count(),
                origin: Some(Src {
                    line: bl.line as u32,
                    shift: -(bl.removed as i32),
                    frag: b as u32,
                }),
                content,
                segs: Vec::new(),
            });
        }
        if m.lines.is_empty() {
            m.lines.push(MLine::default());
        }
        let preserve = {
            let s = &block.switches;
            s.match_indices("-i").any(|(k, _)| {
                s[k + 2..]
                    .chars()
                    .next()
                    .map_or(true, |c| !(c.is_alphanumeric() || c == '_'))
            })
        };
        if !preserve {
            remove_indentation(&mut m);
        }
        m.lines
            .into_iter()
            .map(|l| {
                let o = l.origin.map(|o| {
                    // Column (0-based, characters) in the org line of the line's first char.
                    let col = (-o.shift).max(0) as usize;
                    (o.line, col, o.frag)
                });
                (l.text, o)
            })
            .collect()
    }

    /// Expands the body of tangled block `root` (noweb references expanded when `expand`).
    fn expand_root(&mut self, root: usize, expand: bool) -> Option<MText> {
        let mut out = MText::new();
        let mut prefix = String::new();
        let mut prefix_lens: Vec<usize> = Vec::new();
        let mut path: Vec<(usize, (usize, usize))> = Vec::new();
        let mut on_path = vec![false; self.blocks.len()];
        let mut bodies: HashMap<usize, Rc<BodyText>> = HashMap::new();
        let mut stack = vec![Task::Body {
            b: root,
            line: 0,
            off: 0,
            chars: 0,
            expand,
        }];
        on_path[root] = expand;
        if expand {
            path.push((root, (0, 0)));
        }
        // Emits text, repeating the prefixes after every line break.
        fn emit(
            out: &mut MText,
            prefix: &str,
            depth: usize,
            s: &str,
            src: Option<(u32, usize, u32)>,
        ) {
            if depth == 0 || !s.contains(['\n', '\r']) {
                out.push_str(s, src);
                return;
            }
            let mut first = true;
            for piece in s.split(['\n', '\r']) {
                if !first {
                    out.push_str("\n", None);
                    out.push_str(prefix, None);
                }
                out.push_str(piece, if first { src } else { None });
                first = false;
            }
        }
        while let Some(task) = stack.pop() {
            match task {
                Task::Text(s) => emit(&mut out, &prefix, prefix_lens.len(), &s, None),
                Task::PopPrefix => {
                    let l = prefix_lens.pop().expect("balanced");
                    prefix.truncate(l);
                }
                Task::PopPath => {
                    let (b, _) = path.pop().expect("balanced");
                    on_path[b] = false;
                }
                Task::Child { b, via } => {
                    let expand = self.noweb_eval(b);
                    if expand {
                        if on_path[b] {
                            self.cycle_error(&path, b, via);
                            return None;
                        }
                        on_path[b] = true;
                        path.push((b, via));
                        stack.push(Task::PopPath);
                    }
                    stack.push(Task::Body {
                        b,
                        line: 0,
                        off: 0,
                        chars: 0,
                        expand,
                    });
                }
                Task::Body {
                    b,
                    line,
                    off,
                    chars,
                    expand,
                } => {
                    let body = Rc::clone(
                        bodies
                            .entry(b)
                            .or_insert_with(|| Rc::new(self.normalized_body(b))),
                    );
                    let (text, src) = &body[line];
                    let src = *src;
                    let nlines = body.len();
                    let at = src.map(|(l, c, f)| (l, c + chars, f));
                    let m = if expand { find_ref(text, off) } else { None };
                    match m {
                        None => {
                            emit(&mut out, &prefix, prefix_lens.len(), &text[off..], at);
                            if line + 1 < nlines {
                                emit(&mut out, &prefix, prefix_lens.len(), "\n", None);
                                stack.push(Task::Body {
                                    b,
                                    line: line + 1,
                                    off: 0,
                                    chars: 0,
                                    expand,
                                });
                            }
                        }
                        Some(m) => {
                            emit(&mut out, &prefix, prefix_lens.len(), &text[off..m.lt], at);
                            let id = text[m.id.0..m.id.1].to_string();
                            let before = text[off..m.lt].chars().count();
                            let ref_pos = match src {
                                Some((l, c, _)) => (l as usize, c + chars + before + 1),
                                None => (self.blocks[b].line, 1),
                            };
                            stack.push(Task::Body {
                                b,
                                line,
                                off: m.me,
                                chars: chars + before + text[m.lt..m.me].chars().count(),
                                expand,
                            });
                            stack.push(Task::PopPrefix);
                            prefix_lens.push(prefix.len());
                            prefix.push_str(&text[m.mb..m.lt]);
                            if id.contains(">>") && id.contains("<<") {
                                self.warn(
                                    ref_pos.0,
                                    ref_pos.1,
                                    format!(
                                        "Org 9.5.5 reads this line's references as the single \
                                         reference `<<{id}>>` (its noweb regexp spans `>>` … \
                                         `<<` on one line); put each reference on its own line"
                                    ),
                                );
                            }
                            if let Some(p) = id.find('(') {
                                if id[p..].contains(')') {
                                    self.error(
                                        ref_pos.0,
                                        ref_pos.1,
                                        format!(
                                            "`<<{id}>>` asks Org to evaluate a block; \
                                             evaluation is not supported"
                                        ),
                                    );
                                    return None;
                                }
                            }
                            if self.ids.iter().any(|x| x == &id) {
                                self.error(
                                    ref_pos.0,
                                    ref_pos.1,
                                    format!(
                                        "`<<{id}>>` names a headline `:ID:`/`:CUSTOM_ID:`; Org \
                                         would insert the headline's text, which is not \
                                         supported"
                                    ),
                                );
                                return None;
                            }
                            match self.resolve(&id) {
                                Resolution::Unresolved => self.warn(
                                    ref_pos.0,
                                    ref_pos.1,
                                    format!(
                                        "unresolved reference `<<{id}>>`: no block is named \
                                         `{id}` or has `:noweb-ref {id}`; Org expands it to \
                                         nothing"
                                    ),
                                ),
                                Resolution::Blocks(bs) => {
                                    let mut tasks = Vec::new();
                                    let last = bs.len() - 1;
                                    for (k, &cb) in bs.iter().enumerate() {
                                        tasks.push(Task::Child {
                                            b: cb,
                                            via: ref_pos,
                                        });
                                        if k < last {
                                            let sep = match self.light_val(cb, ":noweb-sep") {
                                                Val::Nil => "\n".to_string(),
                                                Val::Str(s) => s,
                                                _ => {
                                                    let l = self.blocks[cb].line;
                                                    self.error(
                                                        l,
                                                        1,
                                                        "`:noweb-sep` must be a string",
                                                    );
                                                    return None;
                                                }
                                            };
                                            tasks.push(Task::Text(sep));
                                        }
                                    }
                                    stack.extend(tasks.into_iter().rev());
                                }
                            }
                        }
                    }
                }
            }
        }
        Some(out)
    }

    /// The error for block `b`, included again at `via` while it is being expanded: the
    /// chain of inclusions from `b` back to itself. A long chain shows its first and last
    /// [`CYCLE_SHOWN`] steps and how many were left out.
    fn cycle_error(&mut self, path: &[(usize, (usize, usize))], b: usize, via: (usize, usize)) {
        let start = path.iter().position(|p| p.0 == b).unwrap_or(0);
        let cycle = &path[start..];
        let long = cycle.len() > 2 * CYCLE_SHOWN + 1;
        let shown = |k: usize| !long || k < CYCLE_SHOWN || k >= cycle.len() - CYCLE_SHOWN;
        let mut chain = Vec::new();
        for (k, p) in cycle.iter().enumerate() {
            if shown(k) {
                chain.push(self.block_name(p.0));
            } else if k == CYCLE_SHOWN {
                chain.push(format!("… {} more …", cycle.len() - 2 * CYCLE_SHOWN));
            }
        }
        chain.push(self.block_name(b));
        let block = &self.blocks[b];
        let what = if long {
            format!("reference cycle of {} blocks", cycle.len())
        } else {
            "reference cycle".to_string()
        };
        let mut d = Diagnostic::error(
            self.pos(block.line, block.col),
            format!(
                "{what}: {} (Emacs would recurse until `max-lisp-eval-depth`)",
                chain.join(" -> ")
            ),
        );
        // Step k: block k - 1 of the cycle includes block k (the last step closes it).
        let steps = cycle.len();
        for k in (1..=steps).filter(|&k| shown(k - 1)) {
            let (to, at) = if k < steps {
                (cycle[k].0, cycle[k].1)
            } else {
                (b, via)
            };
            let from = self.block_name(cycle[k - 1].0);
            let name = self.block_name(to);
            d = d.with_note(self.pos(at.0, at.1), format!("{from} includes {name} here"));
        }
        self.errors.push(d);
    }

    // -- tangling -----------------------------------------------------------------------------

    /// Reads a used parameter of a tangled block, evaluating Lisp as Emacs would.
    fn eval_param(&mut self, params: &Params, key: &str) -> Option<(Val, usize)> {
        let cell = param(params, key)?.clone();
        let (v, zero) = read_val(cell.raw.as_deref(), false);
        let line = if cell.line == 0 { 1 } else { cell.line };
        match &v {
            Val::Other(raw) => self.error(
                line,
                1,
                format!(
                    "cannot evaluate `{key} {}`: only strings, integers and `(identity N)` are \
                     supported",
                    abbreviate(raw)
                ),
            ),
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
                self.error(
                    line,
                    1,
                    format!("cannot read `{key} {}`: {why}", abbreviate(raw)),
                );
            }
            _ => {}
        }
        if zero && key == ":tangle-mode" {
            if let Val::Int(n) = v {
                let raw = cell.raw.clone().unwrap_or_default();
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
        }
        Some((v, line))
    }

    fn str_param(&mut self, params: &Params, key: &str) -> Option<Option<String>> {
        match self.eval_param(params, key) {
            None | Some((Val::Nil, _)) => Some(None),
            Some((Val::Str(s), _)) => Some(Some(s)),
            Some((Val::Int(n), line)) => {
                self.error(
                    line,
                    1,
                    format!("`{key} {n}`: Org expects a string here and would fail"),
                );
                None
            }
            Some((Val::Other(_) | Val::Unreadable(..), _)) => None,
        }
    }

    fn tangle(&mut self) {
        // Groups of (file name, [(block, lang)]), in order of first appearance.
        let mut groups: Vec<(String, Vec<(usize, TangledBlock)>)> = Vec::new();
        let org_name = self
            .path
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        for b in 0..self.blocks.len() {
            if !self.babel_visible(b) || self.blocks[b].commented || self.blocks[b].archived {
                continue;
            }
            if self.light_val(b, ":tangle") == Val::Str("no".to_string()) {
                continue;
            }
            let Some(tb) = self.tangle_block(b) else {
                continue;
            };
            let lang = self.blocks[b].lang.clone().unwrap_or_default();
            // org-babel-effective-tangled-filename.
            let file = match &tb.tangle {
                Some(t) if t == "yes" => {
                    let ext = match lang.as_str() {
                        "python" => "py",
                        "emacs-lisp" | "elisp" => "el",
                        "C++" => "cpp",
                        "D" => "d",
                        other => other,
                    };
                    Some(format!("{}.{ext}", file_name_sans_extension(&org_name)))
                }
                Some(t) if t == "no" || t.is_empty() => None,
                Some(t) => Some(t.clone()),
                None => None,
            };
            let Some(file) = file else { continue };
            match groups.iter_mut().find(|g| g.0 == file) {
                Some(g) => g.1.push((b, tb)),
                None => groups.push((file, vec![(b, tb)])),
            }
        }
        if !self.errors.is_empty() {
            return;
        }
        for (file, blocks) in groups {
            let first = &self.blocks[blocks[0].0];
            let block_pos = self.pos(first.line, first.col);
            let mut m = MText::new();
            let mut empty = true;
            let mut she_banged = false;
            let mut mode: Option<u32> = None;
            let mut make_dir = false;
            let has_dir = file.contains('/');
            for (_, tb) in blocks {
                let tmode = tb.mode.or(if tb.shebang.is_some() {
                    Some(0o755)
                } else {
                    None
                });
                if mode.is_none() {
                    mode = tmode;
                }
                if tb.mkdirp && has_dir {
                    make_dir = true;
                }
                if tb.padline && !empty {
                    m.push_str("\n", None);
                }
                if let Some(sb) = &tb.shebang {
                    if !she_banged {
                        m.push_str(sb, None);
                        m.push_str("\n", None);
                        she_banged = true;
                    }
                }
                if let Some((begin, _)) = &tb.comment {
                    m.push_str(begin, None);
                    m.push_str("\n", None);
                }
                m.append(tb.body);
                m.push_str("\n", None);
                if let Some((_, end)) = &tb.comment {
                    m.push_str(end, None);
                    m.push_str("\n", None);
                }
                empty = false;
            }
            let content = m.text();
            let mut fragments: Vec<String> = Vec::new();
            let mut frag_index: HashMap<u32, u32> = HashMap::new();
            let mut lines = Vec::new();
            let mut segments = Vec::new();
            let nlines =
                m.lines.len() - usize::from(m.lines.last().is_some_and(|l| l.text.is_empty()));
            let mut origin = |o: Src| {
                let fragment = *frag_index.entry(o.frag).or_insert_with(|| {
                    fragments.push(self.fragment_name(o.frag as usize));
                    (fragments.len() - 1) as u32
                });
                Origin {
                    file: 0,
                    line: o.line,
                    col_shift: o.shift,
                    fragment,
                }
            };
            for (i, l) in m.lines[..nlines].iter().enumerate() {
                lines.push(l.origin.map(&mut origin));
                if l.segs.len() > 1 && l.origin.is_some() {
                    for &(col, o) in &l.segs {
                        segments.push(Segment {
                            line: i as u32,
                            col: col as u32 + 1,
                            origin: origin(o),
                        });
                    }
                }
            }
            let path = PathBuf::from(&file);
            let out = Output {
                path: path.clone(),
                content: content.into_bytes(),
                mode: mode.map_or(0o644, |m| m & 0o7777),
                mkdirp: make_dir,
                block: block_pos,
                map: SourceMap {
                    files: vec![self.path.to_path_buf()],
                    fragments,
                    lines,
                    segments,
                },
            };
            // Emacs writes files with the same name as often as they appear; the last wins.
            let norm = normalize(&path);
            if let Some(k) = self.outputs.iter().position(|o| normalize(&o.path) == norm) {
                self.warn(
                    1,
                    1,
                    format!(
                        "`{}` and `{}` are the same file; Emacs writes it twice and the second \
                         wins",
                        self.outputs[k].path.display(),
                        path.display()
                    ),
                );
                self.outputs.remove(k);
            }
            self.outputs.push(out);
        }
    }

    fn fragment_name(&self, b: usize) -> String {
        let block = &self.blocks[b];
        match block.names.first() {
            Some(n) => n.clone(),
            None => format!("{}:{}", self.path.display(), block.line),
        }
    }

    /// `org-babel-tangle-single-block`: the target and the final body of a tangled block.
    fn tangle_block(&mut self, b: usize) -> Option<TangledBlock> {
        let params = self.params_of(b);
        let block_line = self.blocks[b].line;
        let lang = self.blocks[b].lang.clone().unwrap_or_default();
        let errors_before = self.errors.len();
        if param(&params, ":var").is_some() {
            self.error(
                block_line,
                1,
                "`:var` is not supported when tangling org files",
            );
            return None;
        }
        if matches!(lang.as_str(), "C++" | "cpp" | "D") {
            self.error(
                block_line,
                1,
                format!("tangling `{lang}` blocks is not supported (Org wraps them specially)"),
            );
            return None;
        }
        let comments = self.str_param(&params, ":comments")?;
        let comments_line = param(&params, ":comments").map_or(block_line, |c| c.line.max(1));
        let link_comments = match comments.as_deref() {
            Some("link" | "yes") => true,
            Some(c @ ("both" | "org")) if self.blocks[b].prose_blank => c == "both",
            Some(c @ ("both" | "org")) => {
                self.error(
                    comments_line,
                    1,
                    format!(
                        "`:comments {c}` is unsupported when text precedes the block (Org \
                         would copy the text, including any `#+name:` line, into a comment); \
                         use `:comments link`"
                    ),
                );
                return None;
            }
            Some("noweb") => {
                self.error(
                    comments_line,
                    1,
                    "`:comments noweb` is unsupported (Org writes absolute paths into it)",
                );
                return None;
            }
            _ => false,
        };
        if let Some(c) = param(&params, ":noweb-prefix") {
            let line = c.line.max(1);
            self.warn(
                line,
                1,
                "`:noweb-prefix` is ignored by Org 9.5.5 (it is an Org 9.6 feature); the \
                 prefix is repeated",
            );
        }
        let tangle = self.str_param(&params, ":tangle")?;
        let noweb = self.str_param(&params, ":noweb")?.unwrap_or_default();
        let expand = noweb
            .split_whitespace()
            .any(|v| matches!(v, "yes" | "tangle" | "no-export" | "strip-export"));
        let shebang = self
            .str_param(&params, ":shebang")?
            .filter(|s| !s.is_empty());
        let padline = self.str_param(&params, ":padline")?.as_deref() != Some("no");
        let mkdirp = match self.eval_param(&params, ":mkdirp") {
            None | Some((Val::Nil, _)) => false,
            Some((Val::Str(s), _)) => s != "no",
            Some((_, line)) => {
                self.error(line, 1, "`:mkdirp` must be `yes` or `no`");
                return None;
            }
        };
        let mode = match self.eval_param(&params, ":tangle-mode") {
            None | Some((Val::Nil, _)) => None,
            Some((Val::Int(n), _)) => Some(n as u32),
            Some((Val::Str(s), line)) => match org96_file_mode(&s) {
                Ok(m) => {
                    self.warn(
                        line,
                        1,
                        format!(
                            "`:tangle-mode {s}` is Org 9.6 syntax (mode {m:04o}); Org {ORG_VERSION} \
                             fails on it after writing the file"
                        ),
                    );
                    Some(m)
                }
                Err(why) => {
                    self.error(line, 1, format!("`:tangle-mode {s}`: {why}"));
                    return None;
                }
            },
            Some((Val::Other(_) | Val::Unreadable(..), _)) => return None,
        };
        let no_expand = param(&params, ":no-expand").is_some();
        let prologue = self.str_param(&params, ":prologue")?;
        let epilogue = self.str_param(&params, ":epilogue")?;
        let c_opts = if lang == "C" && !no_expand {
            Some((
                self.str_param(&params, ":includes")?,
                self.str_param(&params, ":defines")?,
                self.str_param(&params, ":namespaces")?,
                self.str_param(&params, ":main")?,
            ))
        } else {
            None
        };
        if self.errors.len() > errors_before {
            return None;
        }
        let body = self.expand_root(b, expand)?;
        // Language-specific expansion.
        let mut body = if no_expand {
            body
        } else if let Some((includes, defines, namespaces, main)) = c_opts {
            let inc: Vec<String> = includes
                .unwrap_or_default()
                .split_whitespace()
                .map(|i| {
                    if i.starts_with('<') {
                        format!("#include {i}")
                    } else {
                        format!("#include \"{i}\"")
                    }
                })
                .collect();
            let mut defs = Vec::new();
            let d = defines.unwrap_or_default();
            let words: Vec<&str> = d.split_whitespace().collect();
            for pair in words.chunks(2) {
                if pair.len() == 2 {
                    defs.push(format!("#define {} {}", pair[0], pair[1]));
                }
            }
            let ns: Vec<String> = namespaces
                .unwrap_or_default()
                .split_whitespace()
                .map(|n| format!("using namespace {n};"))
                .collect();
            let mut m = MText::from_str(&inc.join("\n"));
            m.push_str("\n", None);
            m.push_str(&defs.join("\n"), None);
            m.push_str("\n", None);
            m.push_str(&ns.join("\n"), None);
            m.push_str("\n\n\n\n\n", None);
            if main.as_deref() != Some("no") && !has_c_main(&body.text()) {
                m.push_str("int main() {\n", None);
                m.append(body);
                m.push_str("\nreturn 0;\n}\n", None);
            } else {
                m.append(body);
            }
            m.push_str("\n\n", None);
            m
        } else if lang == "emacs-lisp" || lang == "elisp" {
            // `elisp` is an alias (`org-babel-make-language-alias`) of `emacs-lisp`.
            let mut body = body;
            body.push_str("\n", None);
            body
        } else {
            let mut m = MText::new();
            let mut first = true;
            if let Some(p) = prologue {
                m.push_str(&p, None);
                first = false;
            }
            if !first {
                m.push_str("\n", None);
            }
            m.append(body);
            if let Some(e) = epilogue {
                m.push_str("\n", None);
                m.push_str(&e, None);
            }
            m
        };
        let switches = &self.blocks[b].switches;
        if switches.contains("-r") {
            let fmt = label_format(switches).unwrap_or_else(|| "(ref:%s)".to_string());
            remove_coderefs(&mut body, &fmt);
        }
        remove_indentation(&mut body);
        org_trim(&mut body);
        let comment = if link_comments {
            Some(self.link_comments(b, tangle.as_deref().unwrap_or(""), comments_line)?)
        } else {
            None
        };
        Some(TangledBlock {
            tangle,
            body,
            shebang,
            padline,
            mkdirp,
            mode,
            comment,
        })
    }

    /// The comment lines `:comments link` puts around a block's body, as
    /// `org-babel-spec-to-string` writes them (link made by `org-store-link`, made relative to
    /// the target's folder, commented with the language's major mode).
    fn link_comments(&mut self, b: usize, tangle: &str, line: usize) -> Option<(String, String)> {
        let block = &self.blocks[b];
        let lang = block.lang.clone().unwrap_or_default();
        let (start, end) = match lang.as_str() {
            "python" | "sh" | "bash" | "shell" => ("# ", ""),
            "C" => ("/* ", " */"),
            "emacs-lisp" | "elisp" => (";; ", ""),
            _ => {
                self.error(
                    line,
                    1,
                    format!("`:comments link` is only supported for python, sh, bash, shell, C and emacs-lisp blocks, not `{lang}`"),
                );
                return None;
            }
        };
        let unsupported = |t: &mut Self, why: &str| {
            t.error(
                line,
                1,
                format!("`:comments link` is unsupported here: {why}"),
            );
            None
        };
        let lines: Vec<&str> = self.text.split('\n').collect();
        let prev = if block.line >= 2 {
            lines[block.line - 2]
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
                .find(|p| p.0 == "custom_id")
                .map(|p| p.1.clone())
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
        Some((
            format!("{start}{begin}{end}"),
            format!("{start}{finish}{end}"),
        ))
    }
}

struct TangledBlock {
    tangle: Option<String>,
    body: MText,
    shebang: Option<String>,
    padline: bool,
    mkdirp: bool,
    mode: Option<u32>,
    /// The comment lines before and after the body (`:comments link`).
    comment: Option<(String, String)>,
}

/// `-l +"\([^"\n]+\)"` in the switches.
fn label_format(switches: &str) -> Option<String> {
    let mut from = 0;
    while let Some(k) = switches[from..].find("-l") {
        let s = from + k + 2;
        let rest = &switches[s..];
        let t = rest.trim_start_matches(' ');
        if t.len() < rest.len() {
            if let Some(inner) = t.strip_prefix('"') {
                if let Some(end) = inner.find('"') {
                    if end > 0 {
                        return Some(inner[..end].to_string());
                    }
                }
            }
        }
        from = s;
    }
    None
}

/// `^[ \t]*[intvod]+[ \t\n\r]*main[ \t]*(.*)` (case-insensitive), as in
/// `org-babel-C-ensure-main-wrap`.
fn has_c_main(body: &str) -> bool {
    let b: Vec<char> = body.chars().collect();
    let lower = |c: char| c.to_ascii_lowercase();
    for start in 0..b.len() {
        if start > 0 && b[start - 1] != '\n' {
            continue;
        }
        let mut i = start;
        while i < b.len() && (b[i] == ' ' || b[i] == '\t') {
            i += 1;
        }
        let t0 = i;
        while i < b.len() && "intvod".contains(lower(b[i])) {
            i += 1;
        }
        if i == t0 {
            continue;
        }
        while i < b.len() && matches!(b[i], ' ' | '\t' | '\n' | '\r') {
            i += 1;
        }
        let word: String = b[i..(i + 4).min(b.len())]
            .iter()
            .map(|&c| lower(c))
            .collect();
        if word != "main" {
            continue;
        }
        i += 4;
        while i < b.len() && (b[i] == ' ' || b[i] == '\t') {
            i += 1;
        }
        if i < b.len() && b[i] == '(' {
            let rest: String = b[i + 1..].iter().take_while(|&&c| c != '\n').collect();
            if rest.contains(')') {
                return true;
            }
        }
    }
    false
}

/// `file-name-sans-extension`.
fn file_name_sans_extension(name: &str) -> &str {
    match name.rfind('.') {
        Some(k) if k > 0 => &name[..k],
        _ => name,
    }
}

/// Removes `.` components, for comparing target names.
fn normalize(p: &Path) -> PathBuf {
    p.components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect()
}

// ---------------------------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;

    fn tangle(text: &str) -> Result<OrgTangle, Diagnostics> {
        tangle_org(Path::new("doc.org"), text)
    }

    fn file<'a>(t: &'a OrgTangle, name: &str) -> &'a Output {
        t.outputs
            .iter()
            .find(|o| o.path == Path::new(name))
            .unwrap_or_else(|| panic!("no output {name}: {:?}", t.outputs))
    }

    #[test]
    fn unterminated_block_is_an_error() {
        let e = tangle("* A\n#+begin_src python :tangle a.py\nx = 1\n* B\n").unwrap_err();
        assert_eq!(e.0.len(), 1);
        let s = e.to_string();
        assert!(
            s.starts_with("doc.org:2:1: error: unterminated `#+begin_src`"),
            "{s}"
        );
    }

    #[test]
    fn cycle_reports_the_chain() {
        let doc = "#+property: header-args :noweb yes\n\
                   #+name: a\n#+begin_src sh\n<<b>>\n#+end_src\n\
                   #+name: b\n#+begin_src sh\n  <<a>>\n#+end_src\n\
                   #+begin_src sh :tangle out.sh\n<<a>>\n#+end_src\n";
        let e = tangle(doc).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("reference cycle: `a` -> `b` -> `a`"), "{s}");
        assert!(
            s.contains("doc.org:8:3: note: `b` includes `a` here"),
            "{s}"
        );
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let n = 10_000;
        let mut doc = String::from("#+property: header-args :noweb yes\n");
        for i in 0..n {
            doc.push_str(&format!(
                "#+name: l{i}\n#+begin_src sh\n<<l{}>>\n#+end_src\n",
                i + 1
            ));
        }
        doc.push_str(&format!(
            "#+name: l{n}\n#+begin_src sh\necho deep\n#+end_src\n"
        ));
        doc.push_str("#+begin_src sh :tangle deep.sh\n<<l0>>\n#+end_src\n");
        let t = tangle(&doc).unwrap();
        assert_eq!(file(&t, "deep.sh").content, b"echo deep\n");
        assert_eq!(
            file(&t, "deep.sh").map.lines[0].as_ref().unwrap().line,
            (n * 4 + 4) as u32
        );
    }

    #[test]
    fn decimal_0444_warns() {
        let doc = "#+property: header-args :tangle-mode (identity 0444)\n\
                   #+begin_src python :tangle x.py\nprint(1)\n#+end_src\n";
        let t = tangle(doc).unwrap();
        let o = file(&t, "x.py");
        assert_eq!(o.mode, 0o674);
        assert_eq!(o.content, b"print(1)\n");
        assert_eq!(t.warnings.len(), 1);
        assert_eq!(
            t.warnings[0].to_string(),
            "doc.org:1:1: warning: `(identity 0444)` is decimal 444 (mode 0674); did you mean \
             `(identity #o444)`?"
        );
    }

    #[test]
    fn prefix_and_map() {
        let doc = "#+name: body\n#+begin_src python\nx = 1\ny = 2\n#+end_src\n\
                   #+begin_src python :tangle a.py :noweb yes\ndef f():\n    <<body>>\n#+end_src\n";
        let t = tangle(doc).unwrap();
        let o = file(&t, "a.py");
        assert_eq!(o.content, b"def f():\n    x = 1\n    y = 2\n");
        let l: Vec<_> = o
            .map
            .lines
            .iter()
            .map(|l| l.as_ref().map(|o| (o.line, o.col_shift)))
            .collect();
        assert_eq!(l, vec![Some((7, 0)), Some((3, 4)), Some((4, 4))]);
    }

    #[test]
    fn segments_for_mixed_lines() {
        let doc = "#+name: v\n#+begin_src python\n  42\n#+end_src\n\
                   #+begin_src python :tangle a.py :noweb yes\nx = <<v>> + 1\n#+end_src\n";
        let t = tangle(doc).unwrap();
        let o = file(&t, "a.py");
        assert_eq!(o.content, b"x = 42 + 1\n");
        let at = |col| {
            let l = o.map.locate(1, col).unwrap();
            (l.line, l.col, l.fragment.to_string())
        };
        assert_eq!(at(1), (6, 1, "doc.org:5".to_string()));
        assert_eq!(at(5), (3, 3, "v".to_string()));
        assert_eq!(at(6), (3, 4, "v".to_string()));
        assert_eq!(at(8), (6, 11, "doc.org:5".to_string()));
    }

    #[test]
    fn unsupported_features_are_errors() {
        let msg = |doc: &str| tangle(doc).unwrap_err().to_string();
        let m = msg("#+begin_src python :tangle a.py :comments noweb\nx\n#+end_src\n");
        assert!(
            m.contains("doc.org:1:1: error: `:comments noweb` is unsupported"),
            "{m}"
        );
        let m = msg("* H\n#+begin_src text :tangle a.txt :comments link\nx\n#+end_src\n");
        assert!(m.contains("only supported for python"), "{m}");

        let m = msg("#+begin_src python :tangle a.py\r\nx\r\n#+end_src\r\n");
        assert!(m.contains("carriage returns"), "{m}");
        let m = msg("#+begin_src python :tangle a.py :noweb yes\n<<f(x=1)>>\n#+end_src\n");
        assert!(
            m.contains("doc.org:2:1: error: `<<f(x=1)>>` asks Org to evaluate"),
            "{m}"
        );
        let m = msg("#+begin_src python :tangle (concat \"a\" \"b\")\nx\n#+end_src\n");
        assert!(m.contains("cannot evaluate `:tangle (concat"), "{m}");
    }

    #[test]
    fn unresolved_reference_warns_and_expands_to_nothing() {
        let doc = "#+begin_src sh :tangle a.sh :noweb yes\necho <<nope>>!\n#+end_src\n";
        let t = tangle(doc).unwrap();
        assert_eq!(file(&t, "a.sh").content, b"echo !\n");
        assert_eq!(t.warnings.len(), 1);
        assert!(t.warnings[0]
            .to_string()
            .starts_with("doc.org:2:6: warning: unresolved reference `<<nope>>`"));
    }

    #[test]
    fn org_9_5_reference_quirk() {
        assert_eq!(find_ref("P<<a>>S <<b>>T", 0).map(|m| m.id), Some((3, 11)));
        assert_eq!(find_ref("<<a>>", 0).map(|m| m.id), Some((2, 3)));
        assert_eq!(find_ref("x << 2 >> 3", 0).map(|m| m.id), None);
    }

    #[test]
    fn coderefs() {
        let doc = "#+begin_src python -r -l \"[{(<%s>)}]\" :tangle a.py\nx = 1  [{(<one>)}]\ny = 2 (ref:two)\n#+end_src\n";
        let t = tangle(doc).unwrap();
        assert_eq!(file(&t, "a.py").content, b"x = 1\ny = 2 (ref:two)\n");
    }

    #[test]
    fn header_values() {
        assert_eq!(read_val(Some("(identity #o444)"), false).0, Val::Int(0o444));
        assert_eq!(read_val(Some("\"a\\nb\""), true).0, Val::Str("a\nb".into()));
        assert_eq!(read_val(Some("0444"), false), (Val::Int(444), true));
        let p = parse_header_args(":tangle yes :shebang \"#!/bin/sh -e\" :x (a :b)", 1);
        let kv: Vec<_> = p
            .iter()
            .map(|(k, c)| (k.as_str(), c.raw.as_deref()))
            .collect();
        assert_eq!(
            kv,
            vec![
                (":tangle", Some("yes")),
                (":shebang", Some("\"#!/bin/sh -e\"")),
                (":x", Some("(a :b)"))
            ]
        );
    }

    #[test]
    fn org_9_6_tangle_modes() {
        assert_eq!(org96_file_mode("o444"), Ok(0o444));
        assert_eq!(org96_file_mode("o0755"), Ok(0o755));
        assert_eq!(org96_file_mode("r--r--r--"), Ok(0o444));
        assert_eq!(org96_file_mode("rwxr-x---"), Ok(0o750));
        assert_eq!(org96_file_mode("u=rw,go=r"), Ok(0o644));
        assert_eq!(org96_file_mode("a=r"), Ok(0o444));
        assert_eq!(org96_file_mode("u+x"), Ok(0o744));
        assert_eq!(org96_file_mode("go-r"), Ok(0o600));
        assert!(org96_file_mode("444").is_err());
        assert!(org96_file_mode("r-wr--r--").is_err());
        assert!(org96_file_mode("u=q").is_err());
        let t =
            tangle("#+begin_src python :tangle a.py :tangle-mode o444\nx\n#+end_src\n").unwrap();
        assert_eq!(t.outputs[0].mode, 0o444);
        assert!(
            t.warnings[0].message.contains("Org 9.6 syntax (mode 0444)"),
            "{:?}",
            t.warnings
        );
    }

    // The definitions, as first written (quadratic), for comparison with the linear versions.

    /// `org-babel-balanced-split` with ALTS `((32 9) . 58)`.
    fn naive_balanced_split(s: &str) -> Vec<String> {
        let chars: Vec<char> = s.chars().collect();
        let mut result = Vec::new();
        let mut partial: Vec<char> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let before = if i > 0 { Some(chars[i - 1]) } else { None };
            if matches!(before, Some(' ' | '\t')) && c == ':' {
                partial.pop();
                if !partial.is_empty() {
                    result.push(partial.iter().collect());
                    partial.clear();
                }
                i += 1;
            } else if c == '(' || c == '[' {
                let origin = i;
                let mut openings = vec![c];
                let mut j = i + 1;
                while !openings.is_empty() {
                    match chars[j..]
                        .iter()
                        .position(|&x| matches!(x, '[' | ']' | '(' | ')'))
                    {
                        None => break,
                        Some(k) => {
                            let ch = chars[j + k];
                            j += k + 1;
                            match ch {
                                '[' | '(' => openings.push(ch),
                                ']' => {
                                    if openings.last() == Some(&'[') {
                                        openings.pop();
                                    }
                                }
                                _ => {
                                    if openings.last() == Some(&'(') {
                                        openings.pop();
                                    }
                                }
                            }
                        }
                    }
                }
                if openings.is_empty() {
                    partial.extend_from_slice(&chars[origin..j]);
                    i = j;
                } else {
                    partial.push(c);
                    i = origin + 1;
                }
            } else if c == '"' && before != Some('\\') {
                // re-search-forward "[^\\]\"" from the quote itself.
                let mut found = None;
                let mut k = i;
                while k + 1 < chars.len() {
                    if chars[k] != '\\' && chars[k + 1] == '"' {
                        found = Some(k + 2);
                        break;
                    }
                    k += 1;
                }
                match found {
                    Some(end) => {
                        partial.extend_from_slice(&chars[i..end]);
                        i = end;
                    }
                    None => {
                        partial.push('"');
                        i += 1;
                    }
                }
            } else {
                partial.push(c);
                i += 1;
            }
        }
        if !partial.is_empty() {
            result.push(partial.iter().collect());
        }
        result
    }

    fn naive_find_ref(line: &str, start: usize) -> Option<RefMatch> {
        let b = line.as_bytes();
        let nonws = |c: u8| !matches!(c, b' ' | b'\t' | b'\n');
        let mut lt = start;
        while lt + 1 < b.len() {
            if b[lt] == b'<' && b[lt + 1] == b'<' && lt + 2 < b.len() && nonws(b[lt + 2]) {
                let a = lt + 2;
                let c0_len = line[a..].chars().next().map_or(1, char::len_utf8);
                let after = a + c0_len;
                // The optional group is greedy: try the shortest non-empty group first.
                let mut q = after + 1;
                while q + 1 < b.len() {
                    if b[q] == b'>'
                        && b[q + 1] == b'>'
                        && nonws(b[q - 1])
                        && line.is_char_boundary(q)
                    {
                        return Some(RefMatch {
                            mb: start,
                            lt,
                            id: (a, q),
                            me: q + 2,
                        });
                    }
                    q += 1;
                }
                if b.len() >= after + 2 && b[after] == b'>' && b[after + 1] == b'>' {
                    return Some(RefMatch {
                        mb: start,
                        lt,
                        id: (a, after),
                        me: after + 2,
                    });
                }
            }
            lt += 1;
        }
        None
    }

    /// A small deterministic generator of strings over `alphabet`.
    fn random_strings(alphabet: &[&str], count: usize, max_len: u64) -> Vec<String> {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        (0..count)
            .map(|_| {
                let len = next() % max_len;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn balanced_split_agrees_with_its_definition() {
        let alphabet = ["(", ")", "[", "]", "\"", "\\", " ", "\t", ":", "a", "é"];
        for s in random_strings(&alphabet, 50_000, 16) {
            assert_eq!(balanced_split(&s), naive_balanced_split(&s), "{s:?}");
        }
    }

    #[test]
    fn find_ref_agrees_with_its_definition() {
        let alphabet = ["<", ">", "<<", ">>", " ", "\t", "a", "é"];
        for s in random_strings(&alphabet, 50_000, 14) {
            let mut from = 0;
            loop {
                let fast = find_ref(&s, from).map(|m| (m.mb, m.lt, m.id, m.me));
                let slow = naive_find_ref(&s, from).map(|m| (m.mb, m.lt, m.id, m.me));
                assert_eq!(fast, slow, "{s:?} from {from}");
                match fast {
                    Some((.., me)) => from = me,
                    None => break,
                }
            }
        }
    }

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
