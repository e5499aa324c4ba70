//! Scanning the document: headlines (`org-heading-components`, the `COMMENT` keyword and
//! `ARCHIVE` tag), property drawers (`org-property-drawer-re`), `#+property:` and other
//! keywords, and source blocks as `org-element-src-block-parser` reads them (language,
//! switches, parameters, affiliated `#+name:` / `#+header:` keywords, the escaped body).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{
    eq_fold, is_blank_char, string_nw, strip_prefix_fold, trim_st, Diags, Document, OrgEnv,
    PropertyValue,
};

/// A headline whose subtree the scan is in.
struct OpenHeadline {
    level: usize,
    /// Whether it or a headline above it is `COMMENT` / `:ARCHIVE:`.
    commented: bool,
    archived: bool,
    /// Index into `Document::headings`.
    heading: usize,
}

#[derive(Debug, Clone)]
pub(super) struct Block {
    /// 1-based line of `#+begin_src`.
    pub(super) line: usize,
    /// Column (1-based) of `#+begin_src`.
    pub(super) col: usize,
    pub(super) lang: Option<String>,
    pub(super) switches: String,
    pub(super) params: Option<String>,
    /// `#+header:` lines, in the order Org merges them (bottom-most first).
    pub(super) headers: Vec<(String, usize)>,
    /// Names given by `#+name:` lines in the keyword lines right above the block.
    pub(super) names: Vec<String>,
    /// The body lines (un-escaped), with their 1-based line and the number of characters
    /// removed by un-escaping.
    pub(super) body: Vec<BodyLine>,
    pub(super) commented: bool,
    pub(super) archived: bool,
    /// The innermost headline above the block (index into `Document::headings`).
    pub(super) heading: Option<usize>,
    /// The block's `#+name:` as org-element sees it (affiliated keywords), if exactly one.
    pub(super) elem_name: Option<String>,
    /// How many affiliated NAME keywords the block has.
    pub(super) elem_names: usize,
    /// 1-based index of the block among the Babel blocks under the same headline.
    pub(super) counter: usize,
    /// The `#+begin_src` line.
    pub(super) begin_text: String,
}

/// A headline: its parent and its property drawer.
#[derive(Debug, Clone)]
pub(super) struct Heading {
    pub(super) parent: Option<usize>,
    /// Node properties: (lower-case name, value, 1-based line).
    pub(super) props: Vec<Property>,
    /// The title as `org-heading-components` gives it.
    pub(super) title: String,
    pub(super) level: usize,
    /// 1-based line of the headline.
    pub(super) line: usize,
    /// The headline's own tags.
    pub(super) tags: Vec<String>,
}

/// The node properties of a property drawer starting at `lines[k]` (`org-property-drawer-re`:
/// only property lines between `:PROPERTIES:` and `:END:`), and the index of its `:END:` line.
pub(super) fn property_drawer(lines: &[&str], k: usize) -> Option<Drawer> {
    if k >= lines.len() || !eq_fold(trim_st(lines[k]), ":PROPERTIES:") {
        return None;
    }
    let mut props = Vec::new();
    for (j, l) in lines.iter().enumerate().skip(k + 1) {
        if eq_fold(trim_st(l), ":END:") {
            return Some(Drawer { props, end: j });
        }
        let (name, value) = node_property(l)?;
        props.push(Property {
            name: name.to_lowercase(),
            value: value.to_string(),
            line: j + 1,
        });
    }
    None
}

/// A property drawer: its node properties and the index of its `:END:` line.
#[derive(Debug, Clone)]
pub(super) struct Drawer {
    pub(super) props: Vec<Property>,
    pub(super) end: usize,
}

/// A node property of a property drawer.
#[derive(Debug, Clone)]
pub(super) struct Property {
    /// The name, in lower case.
    pub(super) name: String,
    pub(super) value: String,
    /// 1-based line.
    pub(super) line: usize,
}

#[derive(Debug, Clone)]
pub(super) struct BodyLine {
    pub(super) text: String,
    pub(super) line: usize,
    pub(super) removed: usize,
}

/// Lines `^\*+ `: headlines.
pub(super) fn headline_level(line: &str) -> Option<usize> {
    let stars = line.bytes().take_while(|&b| b == b'*').count();
    if stars > 0 && line.as_bytes().get(stars) == Some(&b' ') {
        Some(stars)
    } else {
        None
    }
}

/// The title of a headline as `org-heading-components` returns it: without the stars, the
/// TODO keyword, the priority cookie and the tags.
pub(super) fn heading_title(line: &str, level: usize) -> String {
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

/// Whether a headline is commented (`COMMENT`) and whether it has the `ARCHIVE` tag.
/// The tags at the end of a headline (`:a:b:`).
pub(super) fn headline_tags(line: &str) -> Vec<String> {
    let t = line.trim_end_matches([' ', '\t']);
    if t.ends_with(':') {
        if let Some(sp) = t.rfind([' ', '\t']) {
            let tags = &t[sp + 1..];
            if is_tag_string(tags) {
                return tags
                    .split(':')
                    .filter(|x| !x.is_empty())
                    .map(str::to_string)
                    .collect();
            }
        }
    }
    Vec::new()
}

/// Whether a headline is `COMMENT` and whether it is tagged `:ARCHIVE:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HeadlineFlags {
    pub(super) commented: bool,
    pub(super) archived: bool,
}

pub(super) fn headline_flags(line: &str, level: usize) -> HeadlineFlags {
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
    HeadlineFlags {
        commented,
        archived,
    }
}

/// Whether `s` is a headline's tag string, such as `:work:ARCHIVE:`.
pub(super) fn is_tag_string(s: &str) -> bool {
    s.len() > 2
        && s.starts_with(':')
        && s.chars()
            .all(|c| c.is_alphanumeric() || "_@#%:".contains(c))
}

/// What a `#+begin_src` line holds after `#+begin_src`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BeginLine {
    pub(super) lang: Option<String>,
    /// The switches (`-n`, `-r`, `-l "fmt"`, ...), blank-trimmed; empty if none.
    pub(super) switches: String,
    /// The header arguments, blank-trimmed, if any.
    pub(super) params: Option<String>,
}

/// The org-element parse of a `#+begin_src` line (after `#+begin_src`): language, switches,
/// parameters.
pub(super) fn parse_begin_line(rest: &str) -> BeginLine {
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
    BeginLine {
        lang,
        switches,
        params,
    }
}

/// Whether a line is `^[ \t]*#\+KEY` (case-insensitive), returning what follows KEY.
pub(super) fn keyword_rest<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let t = line.trim_start_matches([' ', '\t']);
    let t = t.strip_prefix("#+")?;
    strip_prefix_fold(t, key)
}

pub(super) fn is_begin_src(line: &str) -> Option<&str> {
    let rest = keyword_rest(line, "begin_src")?;
    if rest.is_empty() || rest.starts_with(char::is_whitespace) {
        Some(rest)
    } else {
        None
    }
}

pub(super) fn is_end(line: &str, name: &str) -> bool {
    keyword_rest(line, &format!("end_{name}"))
        .is_some_and(|r| r.chars().all(|c| c == ' ' || c == '\t'))
}

/// Affiliated keywords that may stand above a block.
pub(super) fn affiliated_key(line: &str) -> Option<(String, &str)> {
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
pub(super) fn node_property(line: &str) -> Option<(&str, &str)> {
    let t = line.trim_start_matches([' ', '\t']).strip_prefix(':')?;
    // The name ends at the first colon followed by a blank or the end of the line.
    let colon = t.char_indices().find(|&(k, c)| {
        c == ':'
            && t[k + 1..]
                .chars()
                .next()
                .is_none_or(|n| n == ' ' || n == '\t')
    })?;
    let name = &t[..colon.0];
    if name.is_empty() || name.contains(char::is_whitespace) {
        return None;
    }
    Some((name, trim_st(&t[colon.0 + 1..])))
}

/// `^[ \t]*#\+\S-+:` — the keyword lines Babel's named-block regexp lets stand between
/// `#+name:` and `#+begin_src`.
pub(super) fn is_keyword_line(line: &str) -> bool {
    let Some(t) = line.trim_start_matches([' ', '\t']).strip_prefix("#+") else {
        return false;
    };
    let word_end = t.find(char::is_whitespace).unwrap_or(t.len());
    t[..word_end].find(':').is_some_and(|k| k > 0)
}

/// The scan of a document: what it finds and what it reports.
struct Scanner<'a> {
    doc: Document<'a>,
    diags: Diags<'a>,
}

/// Scans `text` (the document at `path`, on the machine `env` describes): the document
/// and the errors and warnings of the scan.
pub(super) fn scan<'a>(
    path: &'a Path,
    text: &'a str,
    env: &'a OrgEnv,
) -> (Document<'a>, Diags<'a>) {
    let mut s = Scanner {
        doc: Document {
            path,
            env,
            text,
            lines: text.split('\n').collect(),
            blocks: Vec::new(),
            props: HashMap::new(),
            ids: Vec::new(),
            headings: Vec::new(),
            top_props: Vec::new(),
            file_tags: Vec::new(),
        },
        diags: Diags::new(path),
    };
    s.parse();
    (s.doc, s.diags)
}

/// The affiliated keywords above the block whose `#+begin_src` is `lines[i]`: its
/// `#+header:` lines (bottom-most first) and the names org-element gives it.
struct Affiliated {
    headers: Vec<(String, usize)>,
    elem_names: Vec<String>,
}

fn affiliated_keywords(lines: &[&str], i: usize) -> Affiliated {
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
                    "NAME" | "DATA" | "LABEL" | "RESNAME" | "SOURCE" | "SRCNAME" | "TBLNAME"
                ) {
                    elem_names.push(trim_st(val).to_string());
                }
                k -= 1;
            }
            None => break,
        }
    }
    Affiliated {
        headers,
        elem_names,
    }
}

/// The `#+name:` values among the keyword lines right above `lines[i]`, top-most first.
fn block_names(lines: &[&str], i: usize) -> Vec<String> {
    let mut names = Vec::new();
    let mut k = i;
    while k > 0 && is_keyword_line(lines[k - 1]) {
        if let Some(v) = keyword_rest(lines[k - 1], "name:") {
            names.push(trim_st(v).to_string());
        }
        k -= 1;
    }
    names.reverse();
    names
}

/// The body lines of a block from `lines[i]` to `lines[end]`, un-escaped (`,*` and `,#+`).
fn unescaped_body(lines: &[&str], i: usize, end: usize) -> Vec<BodyLine> {
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
    body
}

/// The index of the `#+end_src` that closes the block begun at `lines[i]`, when one comes
/// before the next headline.
fn end_of_src(lines: &[&str], i: usize) -> Option<usize> {
    lines
        .iter()
        .enumerate()
        .skip(i + 1)
        .take_while(|(_, l)| headline_level(l).is_none())
        .find(|(_, l)| is_end(l, "src"))
        .map(|(j, _)| j)
}

/// The next number of a block with a language under `heading` (`None`: before the first
/// headline), counted from 1 under each: the `:comments link` lines name a block without a
/// name `HEADING:N`.
fn number_in_heading(
    counters: &mut HashMap<Option<usize>, usize>,
    heading: Option<usize>,
) -> usize {
    let c = counters.entry(heading).or_insert(0);
    *c += 1;
    *c
}

impl Scanner<'_> {
    /// `#+filetags:` (`org-set-regexps-and-options`).
    fn filetags(&mut self, v: &str) {
        self.doc.file_tags.extend(
            v.split(':')
                .map(|x| x.trim_matches(is_blank_char))
                .filter(|x| !x.is_empty())
                .map(str::to_string),
        );
    }

    /// A `#+property:` keyword, which sets (or with `NAME+`, extends) a property of the whole
    /// document.
    fn property_keyword(&mut self, v: &str, line: usize) {
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
        match self.doc.props.get_mut(&key) {
            Some(old) if appending => {
                old.value = format!("{} {}", old.value, val);
                old.line = line;
            }
            _ => {
                self.doc.props.insert(
                    key,
                    PropertyValue {
                        value: val.to_string(),
                        line,
                    },
                );
            }
        }
    }

    /// `#+setupfile: FILE` (`org--collect-keywords-1`): the `#+property:`, `#+filetags:`
    /// and `#+setupfile:` keywords of a local file, read where the keyword stands (`line`),
    /// relative to `dir`; a file already being read is skipped, a missing one is ignored
    /// (with a warning), as Org does.
    fn setupfile(&mut self, value: &str, dir: &Path, line: usize, seen: &mut Vec<PathBuf>) {
        let v = value.trim_matches(is_blank_char);
        if v.is_empty() {
            return;
        }
        let name = v
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(v);
        let lower = name.to_ascii_lowercase();
        if ["http://", "https://", "ftp://", "file://"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            self.diags.error(
                line,
                1,
                format!(
                    "`#+setupfile: {name}` is a URL: Emacs would download it; this tangler \
                     reads only local setup files"
                ),
            );
            return;
        }
        let expanded = match self.doc.env.expand_tilde(name) {
            Ok(n) => n,
            Err(why) => {
                self.diags
                    .error(line, 1, format!("`#+setupfile: {name}`: {why}"));
                return;
            }
        };
        let file = tangle_core::paths::normalize(&dir.join(expanded));
        if seen.contains(&file) {
            return;
        }
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) => {
                self.diags.warn(
                    line,
                    1,
                    format!("`#+setupfile: {name}` cannot be read ({e}); Emacs ignores it too"),
                );
                return;
            }
        };
        seen.push(file.clone());
        let sub_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut in_block: Option<String> = None;
        for l in text.lines() {
            let t = l.trim_start_matches([' ', '\t']);
            if let Some(name) = &in_block {
                if strip_prefix_fold(t, &format!("#+end_{name}")).is_some() {
                    in_block = None;
                }
                continue;
            }
            if let Some(r) = strip_prefix_fold(t, "#+begin_") {
                let name: String = r.chars().take_while(|c| !c.is_whitespace()).collect();
                in_block = Some(name.to_ascii_lowercase());
                continue;
            }
            if let Some(v) = keyword_rest(l, "setupfile:") {
                self.setupfile(v, &sub_dir, line, seen);
            } else if let Some(v) = keyword_rest(l, "filetags:") {
                self.filetags(v);
            } else if let Some(v) = keyword_rest(l, "property:") {
                self.property_keyword(v, line);
            }
        }
    }

    /// The headline on `lines[i]` (of `level` stars) and its property drawer, recorded and
    /// opened in `heads`; the index of the line after them.
    fn headline(
        &mut self,
        lines: &[&str],
        i: usize,
        level: usize,
        heads: &mut Vec<OpenHeadline>,
    ) -> usize {
        let n = lines.len();
        let line = lines[i];
        let HeadlineFlags {
            commented: c,
            archived: a,
        } = headline_flags(line, level);
        while heads.last().is_some_and(|h| h.level >= level) {
            heads.pop();
        }
        let (pc, pa) = heads
            .last()
            .map_or((false, false), |h| (h.commented, h.archived));
        let parent = heads.last().map(|h| h.heading);
        let title = heading_title(line, level);
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
        // After the headline, or after its property drawer.
        let mut next = i + 1;
        if let Some(Drawer { props: drawer, end }) = property_drawer(&lines[..n], k) {
            props = drawer;
            for p in &props {
                if p.name == "id" || p.name == "custom_id" {
                    self.doc.ids.push(p.value.clone());
                }
            }
            next = end + 1;
        }
        self.doc.headings.push(Heading {
            parent,
            props,
            title,
            level,
            line: i + 1,
            tags: headline_tags(line),
        });
        heads.push(OpenHeadline {
            level,
            commented: pc || c,
            archived: pa || a,
            heading: self.doc.headings.len() - 1,
        });
        next
    }

    /// The index of the `#+end_src` closing the block begun at `lines[i]` (`rest` after the
    /// keyword, its text at column `col`); `None` when there is none (reported). A tab right
    /// after the keyword is reported too.
    fn checked_end(&mut self, lines: &[&str], i: usize, rest: &str, col: usize) -> Option<usize> {
        let Some(end) = end_of_src(lines, i) else {
            self.diags.error(
                i + 1,
                col,
                "unterminated `#+begin_src` (no `#+end_src` before the next headline \
                 or the end of the file; Emacs would silently skip this block and the \
                 blocks it swallows)",
            );
            return None;
        };
        if rest.starts_with('\t') {
            self.diags.error(
                i + 1,
                col,
                "a tab right after `#+begin_src` is not supported (Org reads no language)",
            );
        }
        Some(end)
    }

    /// The source block whose `#+begin_src` is `lines[i]` (`rest` after the keyword), under
    /// the headlines `heads`: its affiliated keywords, switches, parameters and un-escaped
    /// body; the index of the line after its `#+end_src` (after the line itself when it is
    /// unterminated, reported).
    fn src_block(
        &mut self,
        lines: &[&str],
        i: usize,
        rest: &str,
        heads: &[OpenHeadline],
        counters: &mut HashMap<Option<usize>, usize>,
    ) -> usize {
        let line = lines[i];
        let col = line.len() - line.trim_start_matches([' ', '\t']).len() + 1;
        let Some(end) = self.checked_end(lines, i, rest, col) else {
            return i + 1;
        };
        let BeginLine {
            lang,
            switches,
            params,
        } = parse_begin_line(rest);
        // Affiliated keywords and names above the block.
        let Affiliated {
            headers,
            elem_names,
        } = affiliated_keywords(lines, i);
        let names = block_names(lines, i);
        let body = unescaped_body(lines, i, end);
        let (commented, archived) = heads
            .last()
            .map_or((false, false), |h| (h.commented, h.archived));
        let heading = heads.last().map(|h| h.heading);
        let counter = if lang.is_some() {
            number_in_heading(counters, heading)
        } else {
            0
        };
        self.doc.blocks.push(Block {
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
            begin_text: line.to_string(),
        });
        end + 1
    }

    pub(super) fn parse(&mut self) {
        // A carriage return before a line feed (or in a file without line feeds) makes Emacs
        // decode the file with DOS (or Mac) line endings; other carriage returns are text.
        let eol_cr = self.doc.text.find("\r\n").or_else(|| {
            if self.doc.text.contains('\n') {
                None
            } else {
                self.doc.text.find('\r')
            }
        });
        if let Some(i) = eol_cr {
            let line = self.doc.text[..i].matches('\n').count() + 1;
            self.diags.error(
                line,
                1,
                "carriage returns at line ends are not supported in org documents (Emacs \
                 reads the file with DOS or Mac line endings; convert it to Unix line endings)",
            );
            return;
        }
        let lines: Vec<&str> = self.doc.text.split('\n').collect();
        // The last "line" after a final newline is not a line.
        let n = if self.doc.text.ends_with('\n') {
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
            if let Some(drawer) = property_drawer(&lines[..n], k) {
                self.doc.top_props = drawer.props;
            }
        }
        let mut heads: Vec<OpenHeadline> = Vec::new();
        let mut counters: HashMap<Option<usize>, usize> = HashMap::new();
        let mut i = 0;
        while i < n {
            let line = lines[i];
            if let Some(level) = headline_level(line) {
                i = self.headline(&lines[..n], i, level, &mut heads);
                continue;
            }
            if let Some(rest) = is_begin_src(line) {
                i = self.src_block(&lines[..n], i, rest, &heads, &mut counters);
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
                        i = end + 1;
                        continue;
                    }
                }
            }
            if let Some(v) = keyword_rest(line, "setupfile:") {
                let dir = self
                    .doc
                    .env
                    .cwd
                    .join(self.doc.path.parent().unwrap_or(Path::new("")));
                let mut seen = Vec::new();
                self.setupfile(v, &dir, i + 1, &mut seen);
            }
            if let Some(v) = keyword_rest(line, "filetags:") {
                self.filetags(v);
            }
            if let Some(v) = keyword_rest(line, "property:") {
                self.property_keyword(v, i + 1);
            }
            if heads.is_empty() && t.starts_with(':') {
                let lower = t.to_lowercase();
                for key in [":id:", ":custom_id:"] {
                    if lower.starts_with(key) {
                        self.doc.ids.push(trim_st(&t[key.len()..]).to_string());
                    }
                }
            }
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OrgEnv;

    /// The scan of `text`, as `doc.org`, and the errors it reported.
    fn scanned(text: &str, check: impl FnOnce(&Scanner)) {
        let env = OrgEnv::from_process();
        let (doc, diags) = scan(Path::new("doc.org"), text, &env);
        check(&Scanner { doc, diags });
    }

    #[test]
    fn begin_lines_split_into_language_switches_and_parameters() {
        assert_eq!(
            parse_begin_line(" python -n 10 -r :tangle x.py :var a=1 "),
            BeginLine {
                lang: Some("python".into()),
                switches: "-n 10 -r".into(),
                params: Some(":tangle x.py :var a=1".into()),
            }
        );
        assert_eq!(
            parse_begin_line(" C -l \"(r:%s)\" :main no"),
            BeginLine {
                lang: Some("C".into()),
                switches: "-l \"(r:%s)\"".into(),
                params: Some(":main no".into()),
            }
        );
        assert_eq!(
            parse_begin_line(""),
            BeginLine {
                lang: None,
                switches: String::new(),
                params: None,
            }
        );
        assert_eq!(is_begin_src("  #+BEGIN_SRC sh"), Some(" sh"));
        assert_eq!(is_begin_src("#+begin_srcx"), None);
        assert!(is_end("  #+END_SRC  ", "src"));
        assert!(!is_end("#+end_src x", "src"));
    }

    #[test]
    fn headlines_give_their_level_title_and_flags() {
        assert_eq!(headline_level("** A"), Some(2));
        assert_eq!(headline_level("*bold* text"), None);
        assert_eq!(headline_level("*"), None);
        let line = "** TODO [#A] COMMENT Title :work:ARCHIVE:";
        assert_eq!(
            headline_flags(line, 2),
            HeadlineFlags {
                commented: true,
                archived: true,
            }
        );
        assert_eq!(headline_tags(line), ["work", "ARCHIVE"]);
        assert_eq!(
            headline_flags("* COMMENTARY :ARCHIVED:", 1),
            HeadlineFlags {
                commented: false,
                archived: false,
            }
        );
        assert_eq!(heading_title("* DONE Tidy up :x:", 1), "Tidy up");
    }

    #[test]
    fn property_drawers_hold_only_property_lines() {
        let lines = [
            "* A",
            "  :PROPERTIES:",
            "  :header-args: :tangle a.sh",
            "  :ID:  x1  ",
            "  :END:",
        ];
        let d = property_drawer(&lines, 1).expect("a drawer");
        assert_eq!(d.end, 4);
        let props: Vec<_> = d
            .props
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str(), p.line))
            .collect();
        assert_eq!(props, [("header-args", ":tangle a.sh", 3), ("id", "x1", 4)]);
        // A line that is no property, or no `:END:`, makes no drawer.
        assert!(property_drawer(&[":PROPERTIES:", "text", ":END:"], 0).is_none());
        assert!(property_drawer(&[":PROPERTIES:", ":a: b"], 0).is_none());
        assert_eq!(node_property(":a+: b c "), Some(("a+", "b c")));
        assert_eq!(node_property(":a b: c"), None);
    }

    #[test]
    fn affiliated_keywords_and_keyword_lines() {
        assert_eq!(
            affiliated_key("#+header: :tangle x"),
            Some(("HEADER".to_string(), " :tangle x"))
        );
        assert_eq!(
            affiliated_key("#+attr_html: :width 3"),
            Some(("ATTR_HTML".to_string(), " :width 3"))
        );
        assert_eq!(affiliated_key("#+title: T"), None);
        assert!(is_keyword_line("#+title: T"));
        assert!(!is_keyword_line("#+begin_src sh"));
    }

    #[test]
    fn the_scan_reads_blocks_with_their_names_headers_and_headline() {
        let doc = "#+property: header-args :padline no\n\
                   * A\n\
                   :PROPERTIES:\n\
                   :CUSTOM_ID: top\n\
                   :END:\n\
                   #+name: first\n\
                   #+header: :tangle a.sh\n\
                   #+header: :mkdirp yes\n\
                   #+begin_src sh -r :noweb yes\n\
                   ,* not a headline\n\
                   echo hi\n\
                   #+end_src\n\
                   ** COMMENT B\n\
                   #+begin_src python\n\
                   x = 1\n\
                   #+end_src\n";
        scanned(doc, |t| {
            assert!(t.diags.errors.is_empty(), "{:?}", t.diags.errors);
            assert_eq!(t.doc.props["header-args"].value, ":padline no");
            assert_eq!(t.doc.props["header-args"].line, 1);
            assert_eq!(t.doc.ids, ["top"]);
            assert_eq!(t.doc.headings.len(), 2);
            assert_eq!(t.doc.headings[1].parent, Some(0));
            // `org-heading-components` keeps the COMMENT keyword in the title.
            assert_eq!(t.doc.headings[1].title, "COMMENT B");
            assert_eq!(t.doc.blocks.len(), 2);
            let a = &t.doc.blocks[0];
            assert_eq!((a.line, a.col), (9, 1));
            assert_eq!(a.lang.as_deref(), Some("sh"));
            assert_eq!(a.switches, "-r");
            assert_eq!(a.params.as_deref(), Some(":noweb yes"));
            assert_eq!(a.names, ["first"]);
            assert_eq!(a.elem_name.as_deref(), Some("first"));
            // The bottom-most `#+header:` line first, as Org merges them.
            assert_eq!(
                a.headers,
                [
                    (":mkdirp yes".to_string(), 8),
                    (":tangle a.sh".to_string(), 7)
                ]
            );
            let body: Vec<_> = a
                .body
                .iter()
                .map(|l| (l.text.as_str(), l.line, l.removed))
                .collect();
            assert_eq!(body, [("* not a headline", 10, 1), ("echo hi", 11, 0)]);
            assert_eq!(a.heading, Some(0));
            assert!(!a.commented);
            let b = &t.doc.blocks[1];
            assert_eq!(b.heading, Some(1));
            assert!(b.commented);
            assert_eq!(b.counter, 1);
        });
    }

    #[test]
    fn an_unterminated_block_is_reported_at_its_begin_line() {
        scanned("* A\n#+begin_src sh\necho\n* B\n", |t| {
            assert_eq!(t.diags.errors.len(), 1, "{:?}", t.diags.errors);
            assert!(
                t.diags.errors[0]
                    .to_string()
                    .starts_with("doc.org:2:1: error: unterminated"),
                "{}",
                t.diags.errors[0]
            );
        });
    }
}
