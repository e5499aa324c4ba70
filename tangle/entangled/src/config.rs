//! An Entangled book's settings: `entangled.toml`, or `[tool.entangled]` in `pyproject.toml`,
//! read as Entangled 2.4 reads them, with the names entangled-rs uses for the same settings.
//!
//! Only what changes the tangled files is kept: how fences are recognised (`style`,
//! `markers`), which documents are read (`watch_list`, also called `source_patterns`, and
//! `ignore_list`), comment syntax per language (`languages`), how outputs are annotated
//! (`annotation`), how names are scoped (`namespace_default`, `namespace`) and the hooks that
//! edit blocks as they are read (`hooks`: `shebang`, `spdx_license`, `quarto_attributes`).

use regex::Regex;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use tangle_core::diag::{Diagnostic, Pos};
use tangle_core::settings::lookup;
use tangle_core::source::offset_pos;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// How tangled files are annotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Annotation {
    /// The code alone.
    Naked,
    /// Each block's code between `~/~ begin <<doc#name>>[n]` and `~/~ end` comments
    /// (`supplemented` writes the same).
    Standard,
}

/// Where names live when a block does not say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Namespace {
    /// One namespace for the whole book.
    Global,
    /// Each document its own (named after its path).
    Private,
    /// The namespace `namespace = "a::b"` names, for every document.
    Fixed(Vec<String>),
}

/// A language's comment syntax, for the annotation markers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub open: String,
    pub close: Option<String>,
}

/// The patterns that find blocks: lines matched from their start after trailing white space is
/// taken off. `open` and `close` have an `indent` group, `open` a `properties` group.
#[derive(Debug, Clone)]
pub struct Markers {
    pub open: Regex,
    pub close: Regex,
    pub begin_ignore: Regex,
    pub end_ignore: Regex,
    /// Text that every line the open and close patterns match holds (the built-in patterns'
    /// backticks), so that other lines skip them; `None` for patterns of the book's own.
    pub fence_hint: Option<&'static str>,
    /// Which built-in open pattern `open` is (matched by hand, see [`Markers::open_match`]);
    /// `None` for patterns of the book's own.
    pub builtin: Option<Builtin>,
    /// The same for the ignore patterns.
    pub ignore_hint: Option<&'static str>,
}

/// The built-in fence patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// `{.rust #id}` after the backticks.
    Default,
    /// Anything after them: `rust #id file=path`.
    Basic,
}

impl Markers {
    /// The indentation and properties of an opening fence (`line` without trailing white
    /// space), as the open pattern's groups give them.
    pub fn open_match<'l>(&self, line: &'l str) -> Option<(&'l str, &'l str)> {
        let Some(builtin) = self.builtin else {
            let c = self.open.captures(line)?;
            let group = |name| c.name(name).map_or("", |g| g.as_str());
            return Some((group("indent"), group("properties")));
        };
        // By hand, as the patterns read: white space, three backticks, then per style.
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let rest = body.strip_prefix("```")?;
        match builtin {
            Builtin::Basic => Some((indent, rest)),
            Builtin::Default => {
                let inner = rest.trim_start().strip_prefix('{')?;
                let close = inner.find(['{', '}'])?;
                let after = &inner[close..];
                (after.starts_with('}') && after[1..].trim_start().is_empty())
                    .then_some((indent, &inner[..close]))
            }
        }
    }

    /// The indentation of a closing fence (`line` without trailing white space).
    pub fn close_match<'l>(&self, line: &'l str) -> Option<&'l str> {
        if self.builtin.is_none() {
            let c = self.close.captures(line)?;
            return Some(c.name("indent").map_or("", |g| g.as_str()));
        }
        let body = line.trim_start();
        let rest = body.strip_prefix("```")?;
        rest.trim_start()
            .is_empty()
            .then_some(&line[..line.len() - body.len()])
    }

    /// Whether `line` may match the open or close pattern.
    pub fn may_fence(&self, line: &str) -> bool {
        self.fence_hint.is_none_or(|h| holds(line, h))
    }

    /// Whether `line` may match an ignore pattern.
    pub fn may_ignore(&self, line: &str) -> bool {
        self.ignore_hint.is_none_or(|h| holds(line, h))
    }
}

/// Whether `line` holds `hint` (a short ASCII run such as three backticks): its first byte
/// found by memchr, the rest compared there.
fn holds(line: &str, hint: &str) -> bool {
    let (b, h) = (line.as_bytes(), hint.as_bytes());
    let mut at = 0;
    while let Some(k) = memchr::memchr(h[0], &b[at..]) {
        if b[at + k..].starts_with(h) {
            return true;
        }
        at += k + 1;
    }
    false
}

/// A hook that edits blocks as they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Hook {
    /// `#| key: value` lines at the top of a block are its attributes (runs first).
    QuartoAttributes,
    /// A first line starting `#!` goes before the begin marker.
    Shebang,
    /// A first line holding `SPDX-License-Identifier` goes before the begin marker.
    SpdxLicense,
}

/// The settings that shape the tangled files.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file read, relative to the project root (for messages); `None`: no settings file.
    pub path: Option<PathBuf>,
    pub markers: Markers,
    /// Language identifier (a block's first class) → its comment syntax.
    pub languages: HashMap<String, Comment>,
    pub watch_list: Vec<String>,
    pub ignore_list: Vec<String>,
    pub annotation: Annotation,
    pub namespace: Namespace,
    /// In the order they run.
    pub hooks: Vec<Hook>,
    /// Hooks Entangled runs that do not tangle (`build`, `brei`, `repl`): named in a warning.
    pub not_run: Vec<String>,
    /// Every hook named, for later updates.
    hook_names: BTreeSet<String>,
}

const DEFAULT_OPEN: &str = r"^(?P<indent>\s*)```\s*\{(?P<properties>[^{}]*)\}\s*$";
const BASIC_OPEN: &str = r"^(?P<indent>\s*)```(?P<properties>.*)$";
const CLOSE: &str = r"^(?P<indent>\s*)```\s*$";
const BEGIN_IGNORE: &str = r"^\s*\~\~\~markdown\s*$";
const END_IGNORE: &str = r"^\s*\~\~\~\s*$";

/// Entangled's languages and their comments.
const LANGUAGES: &[(&[&str], &str, Option<&str>)] = &[
    (&["awk", "gawk", "mawk", "nawk"], "#", None),
    (&["sh", "bash"], "#", None),
    (&["c", "cpp", "c++"], "//", None),
    (&["python"], "#", None),
    (&["rust"], "//", None),
    (&["haskell"], "--", None),
    (&["ocaml", "ml"], "(*", Some("*)")),
    (
        &["scheme", "r5rs", "r6rs", "r7rs", "racket", "clojure"],
        ";",
        None,
    ),
    (&["julia"], "#", None),
    (&["java"], "//", None),
    (&["pure", "purs", "purescript"], "--", None),
    (&["css"], "/*", Some("*/")),
    (&["lua"], "--", None),
    (&["make", "makefile"], "#", None),
    (&["gnuplot"], "#", None),
    (&["toml"], "#", None),
    (&["yaml"], "#", None),
    (&["fsharp"], "//", None),
    (&["javascript", "js", "ecma"], "//", None),
    (&["go", "golang"], "//", None),
    (&["r", "rlang"], "#", None),
    (&["nix"], "#", None),
];

/// A pattern as Entangled applies it: matched at the start of the line.
fn anchored(pattern: &str) -> Result<Regex, regex::Error> {
    Regex::new(&format!(r"\A(?:{pattern})"))
}

impl Markers {
    fn of(open: &str) -> Markers {
        let fixed = |p: &str| anchored(p).expect("the built-in patterns are valid");
        Markers {
            builtin: Some(if open == DEFAULT_OPEN {
                Builtin::Default
            } else {
                Builtin::Basic
            }),
            open: fixed(open),
            close: fixed(CLOSE),
            begin_ignore: fixed(BEGIN_IGNORE),
            end_ignore: fixed(END_IGNORE),
            fence_hint: Some("```"),
            ignore_hint: Some("~~~"),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        let mut languages = HashMap::new();
        for (ids, open, close) in LANGUAGES {
            for id in *ids {
                languages.insert(
                    id.to_string(),
                    Comment {
                        open: open.to_string(),
                        close: close.map(str::to_string),
                    },
                );
            }
        }
        Config {
            path: None,
            markers: Markers::of(DEFAULT_OPEN),
            languages,
            watch_list: vec!["**/*.md".into()],
            ignore_list: Vec::new(),
            annotation: Annotation::Standard,
            namespace: Namespace::Global,
            hooks: vec![Hook::Shebang],
            not_run: Vec::new(),
            hook_names: ["shebang".to_string()].into(),
        }
    }
}

/// Where a project's Entangled settings are: `entangled.toml`, else a `pyproject.toml` with a
/// `[tool.entangled]` table (as Entangled looks, in that order).
pub fn settings_file(dir: &Path) -> Option<PathBuf> {
    let own = dir.join("entangled.toml");
    if own.is_file() {
        return Some(own);
    }
    let py = dir.join("pyproject.toml");
    let text = std::fs::read_to_string(&py).ok()?;
    let table = DeTable::parse(&text).ok()?;
    let tool = lookup(table.get_ref(), "tool")?;
    match tool.get_ref() {
        DeValue::Table(t) if lookup(t, "entangled").is_some() => Some(py),
        _ => None,
    }
}

/// A settings file being read: its text and path for located messages.
struct Reader<'t> {
    path: &'t Path,
    text: &'t str,
}

type Value<'i> = Spanned<DeValue<'i>>;

impl Reader<'_> {
    fn error(&self, at: usize, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(offset_pos(self.path, self.text, at), message.into())
    }

    fn string(&self, key: &str, v: &Value<'_>) -> Result<String, Diagnostic> {
        match v.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            other => Err(self.error(
                v.span().start,
                format!("`{key}` must be a string, not {}", other.type_str()),
            )),
        }
    }

    fn strings(&self, key: &str, v: &Value<'_>) -> Result<Vec<String>, Diagnostic> {
        match v.get_ref() {
            DeValue::Array(items) => items.iter().map(|i| self.string(key, i)).collect(),
            other => Err(self.error(
                v.span().start,
                format!(
                    "`{key}` must be a list of strings, not {}",
                    other.type_str()
                ),
            )),
        }
    }

    fn pattern(&self, key: &str, v: &Value<'_>) -> Result<Regex, Diagnostic> {
        let p = self.string(key, v)?;
        anchored(&p).map_err(|e| {
            self.error(
                v.span().start,
                format!("`{key}` is not a pattern this tangler reads: {e}"),
            )
        })
    }

    fn table<'a, 'i>(&self, key: &str, v: &'a Value<'i>) -> Result<&'a DeTable<'i>, Diagnostic> {
        match v.get_ref() {
            DeValue::Table(t) => Ok(t),
            other => Err(self.error(
                v.span().start,
                format!("`{key}` must be a table, not {}", other.type_str()),
            )),
        }
    }
}

impl Config {
    /// The settings in `file` (its path relative to `root` is used in messages).
    pub fn load(root: &Path, file: &Path) -> Result<Config, Diagnostic> {
        let rel = file.strip_prefix(root).unwrap_or(file);
        let text = tangle_core::source::read(file).map_err(|mut d| {
            d.set_path(rel);
            d
        })?;
        let section: &[&str] = if rel.file_name().is_some_and(|n| n == "pyproject.toml") {
            &["tool", "entangled"]
        } else {
            &[]
        };
        Config::parse(rel, &text, section)
    }

    /// The settings in `text` (the file `path`), in the table at `section`.
    pub fn parse(path: &Path, text: &str, section: &[&str]) -> Result<Config, Diagnostic> {
        let mut c = Config::default().updated(path, text, section)?;
        c.path = Some(path.to_path_buf());
        Ok(c)
    }

    /// These settings with those in `text` (TOML, read from `path`, in the table at `section`)
    /// on top, as Entangled merges them: lists and values replace, `languages` add, `hooks`
    /// add (`~name` takes one away), `style` first fills in its markers and hooks.
    pub fn updated(&self, path: &Path, text: &str, section: &[&str]) -> Result<Config, Diagnostic> {
        let r = Reader { path, text };
        let table = DeTable::parse(text).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            r.error(at, format!("invalid TOML: {}", e.message().trim_end()))
        })?;
        let mut here = table.get_ref();
        for key in section {
            match lookup(here, key) {
                Some(v) => here = r.table(key, v)?,
                None => return Ok(self.clone()),
            }
        }
        let mut c = self.clone();
        let mut hooks = self.hook_names.clone();
        // `style` first: it fills in markers and hooks that the other keys then override. A
        // file written for entangled-rs (it says `source_patterns`, not `watch_list`) without a
        // style means entangled-rs' own: fences without braces.
        if lookup(here, "style").is_none() && lookup(here, "source_patterns").is_some() {
            c.markers = Markers::of(BASIC_OPEN);
        }
        if let Some(v) = lookup(here, "style") {
            match r.string("style", v)?.as_str() {
                "default" | "pandoc" => {
                    c.markers = Markers::of(DEFAULT_OPEN);
                    hooks.insert("shebang".into());
                }
                "basic" | "entangled-rs" => {
                    c.markers = Markers::of(BASIC_OPEN);
                    for h in ["quarto_attributes", "spdx_license", "shebang", "repl", "brei"] {
                        hooks.insert(h.into());
                    }
                }
                other => {
                    return Err(r.error(
                        v.span().start,
                        format!("unknown style `{other}` (Entangled's are `default` and `basic`; `pandoc` and `entangled-rs` are read as those)"),
                    ))
                }
            }
        }
        for (key, v) in here.iter() {
            let key = key.get_ref().as_ref();
            match key {
                "version" | "style" => {}
                "watch_list" | "source_patterns" => c.watch_list = r.strings(key, v)?,
                "ignore_list" => c.ignore_list = r.strings(key, v)?,
                "annotation" => {
                    c.annotation = match r.string(key, v)?.as_str() {
                        "naked" => Annotation::Naked,
                        "standard" | "supplemented" => Annotation::Standard,
                        other => {
                            return Err(r.error(
                                v.span().start,
                                format!("unknown annotation `{other}` (expected `standard`, `naked` or `supplemented`)"),
                            ))
                        }
                    }
                }
                "namespace_default" => {
                    let ns = match r.string(key, v)?.as_str() {
                        "global" | "none" => Namespace::Global,
                        "private" | "file" => Namespace::Private,
                        other => {
                            return Err(r.error(
                                v.span().start,
                                format!("unknown namespace_default `{other}` (expected `global` or `private`)"),
                            ))
                        }
                    };
                    if !matches!(c.namespace, Namespace::Fixed(_)) {
                        c.namespace = ns;
                    }
                }
                "namespace" => {
                    c.namespace = Namespace::Fixed(
                        r.string(key, v)?.split("::").map(str::to_string).collect(),
                    )
                }
                "markers" => {
                    let t = r.table(key, v)?;
                    let get = |k: &str| lookup(t, k);
                    let (Some(open), Some(close)) = (get("open"), get("close")) else {
                        return Err(r.error(v.span().start, "`markers` needs `open` and `close`"));
                    };
                    let own_ignore = get("begin_ignore").is_some() || get("end_ignore").is_some();
                    c.markers = Markers {
                        open: r.pattern("markers.open", open)?,
                        close: r.pattern("markers.close", close)?,
                        begin_ignore: match get("begin_ignore") {
                            Some(p) => r.pattern("markers.begin_ignore", p)?,
                            None => anchored(BEGIN_IGNORE).expect("valid"),
                        },
                        end_ignore: match get("end_ignore") {
                            Some(p) => r.pattern("markers.end_ignore", p)?,
                            None => anchored(END_IGNORE).expect("valid"),
                        },
                        fence_hint: None,
                        builtin: None,
                        ignore_hint: (!own_ignore).then_some("~~~"),
                    };
                    for (name, group) in [(&c.markers.open, "indent"), (&c.markers.close, "indent")]
                    {
                        if !name.capture_names().any(|n| n == Some(group)) {
                            return Err(r.error(
                                v.span().start,
                                "`markers.open` and `markers.close` need an `indent` group",
                            ));
                        }
                    }
                    if !c.markers.open.capture_names().any(|n| n == Some("properties")) {
                        return Err(r.error(
                            v.span().start,
                            "`markers.open` needs a `properties` group",
                        ));
                    }
                }
                "languages" => {
                    let DeValue::Array(items) = v.get_ref() else {
                        return Err(r.error(v.span().start, "`languages` must be a list of tables"));
                    };
                    for item in items {
                        let t = r.table("languages", item)?;
                        let ids = match lookup(t, "identifiers") {
                            Some(ids) => r.strings("identifiers", ids)?,
                            None => {
                                return Err(r.error(item.span().start, "a language needs `identifiers`"))
                            }
                        };
                        let comment = match lookup(t, "comment") {
                            Some(cm) => {
                                let ct = r.table("comment", cm)?;
                                let Some(open) = lookup(ct, "open") else {
                                    return Err(r.error(cm.span().start, "a comment needs `open`"));
                                };
                                Comment {
                                    open: r.string("comment.open", open)?,
                                    close: lookup(ct, "close")
                                        .map(|c| r.string("comment.close", c))
                                        .transpose()?,
                                }
                            }
                            None => {
                                return Err(r.error(item.span().start, "a language needs `comment`"))
                            }
                        };
                        for id in ids {
                            c.languages.insert(id, comment.clone());
                        }
                    }
                }
                "hooks" => {
                    for h in r.strings(key, v)? {
                        match h.strip_prefix('~') {
                            Some(off) => {
                                hooks.remove(off);
                            }
                            None => {
                                hooks.insert(h);
                            }
                        }
                    }
                }
                // Settings of Entangled's own runners and of hooks; nothing here tangles.
                _ => {}
            }
        }
        c.hooks.clear();
        c.not_run.clear();
        for h in &hooks {
            match h.as_str() {
                "quarto_attributes" => c.hooks.push(Hook::QuartoAttributes),
                "shebang" => c.hooks.push(Hook::Shebang),
                "spdx_license" => c.hooks.push(Hook::SpdxLicense),
                other => c.not_run.push(other.to_string()),
            }
        }
        c.hooks.sort();
        c.hook_names = hooks;
        Ok(c)
    }

    /// Where a message about the settings themselves goes.
    pub fn pos(&self) -> Pos {
        Pos::new(
            self.path.clone().unwrap_or_else(|| "entangled.toml".into()),
            1,
            1,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::parse(Path::new("entangled.toml"), "version = \"2.0\"\n", &[]).unwrap();
        assert_eq!(c.annotation, Annotation::Standard);
        assert_eq!(c.watch_list, ["**/*.md"]);
        assert_eq!(c.hooks, [Hook::Shebang]);
        assert_eq!(c.languages["rust"].open, "//");
        let c = Config::parse(
            Path::new("entangled.toml"),
            "version = \"2.4\"\nstyle = \"basic\"\nannotation = \"naked\"\nhooks = [\"~shebang\"]\n\
             source_patterns = [\"docs/*.md\"]\nnamespace_default = \"file\"\n\
             [[languages]]\nname = \"X\"\nidentifiers = [\"x\"]\ncomment = { open = \"/*\", close = \"*/\" }\n",
            &[],
        )
        .unwrap();
        assert_eq!(c.annotation, Annotation::Naked);
        assert_eq!(c.hooks, [Hook::QuartoAttributes, Hook::SpdxLicense]);
        assert_eq!(c.not_run, ["brei", "repl"]);
        assert_eq!(c.watch_list, ["docs/*.md"]);
        assert_eq!(c.namespace, Namespace::Private);
        let rs = Config::parse(
            Path::new("entangled.toml"),
            "source_patterns = [\"*.md\"]\n",
            &[],
        )
        .unwrap();
        assert!(
            rs.markers.open.is_match("```rust #a file=b"),
            "entangled-rs' file without a style: its own fences"
        );
        assert_eq!(c.languages["x"].close.as_deref(), Some("*/"));
        assert!(c.markers.open.is_match("```rust #a file=b"));
    }

    /// The built-in patterns matched by hand read lines as the patterns themselves do.
    #[test]
    fn fences_by_hand_as_by_pattern() {
        let pieces = [
            "```", "`", " ", "\t", "{", "}", ".rust", "#a", "x", "\u{a0}", "~",
        ];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for m in [Markers::of(DEFAULT_OPEN), Markers::of(BASIC_OPEN)] {
            for _ in 0..20_000 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let mut line = String::new();
                for k in 0..(state % 8) {
                    let r = state.rotate_left(9 * k as u32);
                    line.push_str(pieces[(r % pieces.len() as u64) as usize]);
                }
                let line = line.trim_end();
                let by_pattern = m.open.captures(line).map(|c| {
                    (
                        c.name("indent").unwrap().as_str(),
                        c.name("properties").unwrap().as_str(),
                    )
                });
                assert_eq!(m.open_match(line), by_pattern, "{line:?}");
                let close = m
                    .close
                    .captures(line)
                    .map(|c| c.name("indent").unwrap().as_str());
                assert_eq!(m.close_match(line), close, "{line:?}");
            }
        }
    }

    #[test]
    fn errors_are_located() {
        let e = Config::parse(
            Path::new("entangled.toml"),
            "version = \"2.0\"\nannotation = \"fancy\"\n",
            &[],
        )
        .unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("entangled.toml", 2, 14)), "{e}");
        let e = Config::parse(
            Path::new("pyproject.toml"),
            "[tool.entangled]\nwatch_list = 3\n",
            &["tool", "entangled"],
        )
        .unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("pyproject.toml", 2, 14)), "{e}");
    }
}
