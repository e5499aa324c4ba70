//! `mdbook-tangle`: the mdBook preprocessor as a binary of its own, and `mdbook-tangle install`,
//! which wires a book to it.
//!
//! mdBook's rule is that `[preprocessor.NAME]` without a `command` runs `mdbook-NAME`: with
//! `mdbook-tangle` on `PATH`, `[preprocessor.tangle]` is all a book needs. mdBook runs
//! `mdbook-tangle supports RENDERER`, then `mdbook-tangle` with `[context, book]` as JSON on
//! standard input ([`crate::mdbook`] renders it).
//!
//! The rendered pages need the tangler's stylesheet and script ([`ASSETS`], compiled into the
//! binary from `tangle/assets/`). [`install`] writes them next to `book.toml`, each with a
//! first line that stamps the version and content hash it was written from, and adds what
//! `book.toml` needs (the preprocessor table, with `before = ["links"]`, and
//! `[output.html] additional-css`/`additional-js`), leaving the rest of the file as it was. At
//! every build, [`stale_assets`] compares the book's copies with the binary's and the
//! preprocessor prints one warning when they are missing or stale.

use crate::diag::Diagnostics;
use serde_json::Value;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What can go wrong in `mdbook-tangle` and `mdbook-tangle install`, typed: the binaries turn
/// it into a message at the edge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The book could not be rendered (its JSON, or the chapters' errors).
    #[error(transparent)]
    Preprocess(#[from] crate::mdbook::Error),
    /// Reading mdBook's JSON from standard input or writing the book back failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The folder given to `install` has no `book.toml`.
    #[error("no book.toml in {dir} (mdbook-tangle install BOOK_DIR wires an mdBook book)")]
    NoBook {
        dir: String,
        #[source]
        source: io::Error,
    },
    /// `book.toml` is not TOML.
    #[error("{}: {error}", path.display())]
    Toml {
        path: PathBuf,
        error: toml_edit::TomlError,
    },
    /// A key of `book.toml` that must be a table is something else.
    #[error("book.toml: `{0}` is not a table")]
    NotTable(&'static str),
    /// A key of `book.toml` that must be an array is something else.
    #[error("book.toml: {0} is not an array")]
    NotArray(String),
    /// An asset in the book that is not the tangler's, or was edited, and no `--force`.
    #[error(
        "{} {why}: not overwritten (move it away, or run again with --force to replace it)",
        path.display()
    )]
    NotOurs { path: PathBuf, why: &'static str },
    /// `--index` without a `SUMMARY.md` to read.
    #[error("--index: cannot read {}", path.display())]
    NoSummary {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file could not be written.
    #[error("cannot write {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl Error {
    /// The chapters' errors, when that is what this is (each at its place, printed as they
    /// are); the error itself otherwise.
    pub fn into_diagnostics(self) -> Result<Diagnostics, Error> {
        match self {
            Error::Preprocess(crate::mdbook::Error::Document(ds)) => Ok(ds),
            e => Err(e),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One file the rendered pages need.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its file name, as `install` writes it next to `book.toml`.
    pub name: &'static str,
    /// The `[output.html]` key that lists it.
    pub key: &'static str,
    /// Its content, as compiled in.
    pub text: &'static str,
}

/// The stylesheet and the script of the rendered fragments.
pub const ASSETS: [Asset; 2] = [
    Asset {
        name: "tangle.css",
        key: "additional-css",
        text: include_str!("../assets/tangle.css"),
    },
    Asset {
        name: "tangle.js",
        key: "additional-js",
        text: include_str!("../assets/tangle.js"),
    },
];

/// This binary's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The opening of the stamp line, `/* mdbook-tangle VERSION assets HASH: ... */`.
const STAMP: &str = "/* mdbook-tangle ";

impl Asset {
    /// The hash that names this content in a stamp (16 hex digits).
    pub fn hash(&self) -> String {
        format!(
            "{:016x}",
            tangle_core::hash::content_hash(self.text.as_bytes())
        )
    }

    /// The file as `install` writes it: the stamp line, then the content.
    pub fn installed(&self) -> String {
        format!(
            "{STAMP}{VERSION} assets {}: written by `mdbook-tangle install`, which rewrites it \
             when the tangler changes */\n{}",
            self.hash(),
            self.text
        )
    }
}

/// A stamp read back from an installed asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stamp {
    pub version: String,
    pub hash: String,
    /// Whether the content after the stamp line still has that hash (not edited since).
    pub untouched: bool,
}

/// The stamp of an installed asset's text, if it has one.
pub fn read_stamp(text: &str) -> Option<Stamp> {
    let (first, body) = text.split_once('\n')?;
    let rest = first.strip_prefix(STAMP)?;
    let mut words = rest.split([' ', ':']);
    let version = words.next()?.to_string();
    if words.next()? != "assets" {
        return None;
    }
    let hash = words.next()?.to_string();
    let untouched = format!("{:016x}", tangle_core::hash::content_hash(body.as_bytes())) == hash;
    Some(Stamp {
        version,
        hash,
        untouched,
    })
}

/// What is wrong with one asset of a book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// `book.toml` does not list it under `[output.html]`.
    Unlisted(&'static str),
    /// Listed, but no such file.
    Missing(PathBuf),
    /// Written by another version of the tangler (or not by `install` at all).
    Stale { path: PathBuf, from: Option<String> },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unlisted(name) => write!(f, "book.toml's [output.html] does not list {name}"),
            Problem::Missing(p) => write!(f, "{} is missing", p.display()),
            Problem::Stale {
                path,
                from: Some(v),
            } => write!(
                f,
                "{} is stale (written by mdbook-tangle {v}, this is {VERSION})",
                path.display()
            ),
            Problem::Stale { path, from: None } => write!(
                f,
                "{} is not the tangler's (no `mdbook-tangle` stamp on its first line)",
                path.display()
            ),
        }
    }
}

/// The problems of the assets of the book at `root` whose configuration (`book.toml` as JSON,
/// mdBook's context `config`) is `config`. An asset is fine when a listed file of its name holds
/// the binary's content exactly (a book that lists the tangler's own `tangle/assets/`) or
/// carries the stamp of that content.
pub fn stale_assets(root: &Path, config: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    for asset in ASSETS {
        let listed: Vec<PathBuf> = config["output"]["html"][asset.key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(PathBuf::from)
            .filter(|p| p.file_name().is_some_and(|n| n == asset.name))
            .collect();
        let Some(path) = listed.first() else {
            problems.push(Problem::Unlisted(asset.name));
            continue;
        };
        let Ok(text) = std::fs::read_to_string(root.join(path)) else {
            problems.push(Problem::Missing(path.clone()));
            continue;
        };
        if text == asset.text {
            continue;
        }
        match read_stamp(&text) {
            Some(stamp) if stamp.hash == asset.hash() => {}
            stamp => problems.push(Problem::Stale {
                path: path.clone(),
                from: stamp.map(|s| s.version),
            }),
        }
    }
    problems
}

/// The one warning for a book's asset problems, if any.
pub fn assets_warning(problems: &[Problem], root: &Path) -> Option<String> {
    if problems.is_empty() {
        return None;
    }
    let what: Vec<String> = problems.iter().map(Problem::to_string).collect();
    let dir = match root.to_str() {
        Some(".") | Some("") | None => String::new(),
        Some(d) if d.contains(' ') => format!(" '{d}'"),
        Some(d) => format!(" {d}"),
    };
    let absent = problems
        .iter()
        .any(|p| matches!(p, Problem::Unlisted(_) | Problem::Missing(_)));
    let effect = if absent {
        "the pages render without the tangler's styles and script (captions run together, \
         <<references>> are not links)"
    } else {
        "the pages render with styles and a script that do not match this preprocessor"
    };
    Some(format!(
        "mdbook-tangle: warning: {}: {effect}; run `mdbook-tangle install{dir}`",
        what.join("; ")
    ))
}

/// `mdbook-tangle supports RENDERER`: whether the preprocessor runs for it.
pub fn supports(renderer: &str) -> ExitCode {
    if crate::mdbook::supports(renderer) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `mdbook-tangle` with mdBook's JSON on standard input: checks the assets (for the HTML
/// renderer) and renders the book to standard output.
pub fn preprocess_stdin() -> Result<ExitCode> {
    use std::io::{Read, Write};
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input)?;
    if let Ok(Value::Array(parts)) = serde_json::from_str::<Value>(&input) {
        if let Some(ctx) = parts.first() {
            if matches!(ctx["renderer"].as_str(), None | Some("html")) {
                let root = PathBuf::from(ctx["root"].as_str().unwrap_or("."));
                let problems = stale_assets(&root, &ctx["config"]);
                let cwd = std::env::current_dir().unwrap_or_default();
                let shown = root.strip_prefix(&cwd).unwrap_or(&root);
                if let Some(w) = assets_warning(&problems, shown) {
                    eprintln!("{w}");
                }
            }
        }
    }
    let book = crate::mdbook::preprocess(&input)?;
    std::io::stdout().write_all(book.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// What [`install`] may do besides the defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also add the fragment index chapter (`fragment-index.md`, listed last in `SUMMARY.md`).
    pub index: bool,
    /// Write the assets over files that are not the tangler's or were edited.
    pub force: bool,
}

/// Wires the book in `dir` to the preprocessor; returns what it did, one line each (nothing
/// when the book was wired already).
pub fn install(dir: &Path, options: Options) -> Result<Vec<String>> {
    let toml_path = dir.join("book.toml");
    let text = std::fs::read_to_string(&toml_path).map_err(|source| Error::NoBook {
        dir: shown(dir),
        source,
    })?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|error| Error::Toml {
        path: toml_path.clone(),
        error,
    })?;
    let mut said = Vec::new();
    wire_preprocessor(&mut doc, &mut said)?;
    let mut writes = Vec::new();
    for asset in ASSETS {
        let path = wire_asset(&mut doc, asset, &mut said)?;
        writes.push((asset, path));
    }
    // Check every asset before writing anything.
    let mut planned = Vec::new();
    for (asset, rel) in writes {
        let path = dir.join(&rel);
        let new = asset.installed();
        match std::fs::read_to_string(&path) {
            Err(_) => planned.push((path, new, format!("wrote {}", rel.display()))),
            Ok(old) if old == new || old == asset.text => {}
            Ok(old) => {
                let stamp = read_stamp(&old);
                let ours = stamp.as_ref().is_some_and(|s| s.untouched);
                if !ours && !options.force {
                    let why = match stamp {
                        Some(_) => "was edited since `mdbook-tangle install` wrote it",
                        None => "was not written by `mdbook-tangle install`",
                    };
                    return Err(Error::NotOurs { path, why });
                }
                let from = stamp.map_or("another file".to_string(), |s| {
                    format!("mdbook-tangle {}", s.version)
                });
                planned.push((path, new, format!("updated {} (was {from})", rel.display())));
            }
        }
    }
    if options.index {
        index_chapter(dir, &doc, &mut planned)?;
    }
    let new_toml = doc.to_string();
    if new_toml != text {
        std::fs::write(&toml_path, new_toml).map_err(|source| Error::Write {
            path: toml_path.clone(),
            source,
        })?;
    } else {
        said.clear();
    }
    for (path, text, what) in planned {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        if let Err(source) = std::fs::write(&path, text) {
            return Err(Error::Write { path, source });
        }
        said.push(what);
    }
    Ok(said)
}

fn shown(dir: &Path) -> String {
    match dir.to_str() {
        Some("") => ".".to_string(),
        _ => dir.display().to_string(),
    }
}

/// `[preprocessor.tangle]` with `before = ["links"]` (so that the positions in messages are
/// those of the chapter files, before `{{#include}}` changes them).
fn wire_preprocessor(doc: &mut toml_edit::DocumentMut, said: &mut Vec<String>) -> Result<()> {
    use toml_edit::{value, Array, Item, Table};
    let pre = doc
        .entry("preprocessor")
        .or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        })
        .as_table_mut()
        .ok_or(Error::NotTable("preprocessor"))?;
    if !pre.contains_key("tangle") {
        let mut t = Table::new();
        t.insert("before", value(Array::from_iter(["links"])));
        pre.insert("tangle", Item::Table(t));
        said.push("book.toml: added [preprocessor.tangle] with before = [\"links\"]".into());
        return Ok(());
    }
    let tangle = pre["tangle"]
        .as_table_like_mut()
        .ok_or(Error::NotTable("preprocessor.tangle"))?;
    match tangle.get_mut("before") {
        None => {
            tangle.insert("before", value(Array::from_iter(["links"])));
            said.push("book.toml: [preprocessor.tangle] before = [\"links\"]".into());
        }
        Some(item) => {
            let before = item
                .as_array_mut()
                .ok_or_else(|| Error::NotArray("preprocessor.tangle.before".into()))?;
            if !before.iter().any(|v| v.as_str() == Some("links")) {
                before.push("links");
                said.push("book.toml: [preprocessor.tangle] before gets \"links\"".into());
            }
        }
    }
    if let Some(command) = tangle.get("command").and_then(|c| c.as_str()) {
        said.push(format!(
            "book.toml: [preprocessor.tangle] keeps command = \"{command}\" (without it, mdBook \
             runs mdbook-tangle)"
        ));
    }
    Ok(())
}

/// Lists `asset` under `[output.html]` (unless a file of its name is listed already); returns
/// where it goes, relative to the book.
fn wire_asset(
    doc: &mut toml_edit::DocumentMut,
    asset: Asset,
    said: &mut Vec<String>,
) -> Result<PathBuf> {
    use toml_edit::{value, Array, Item, Table};
    let output = doc
        .entry("output")
        .or_insert_with(|| {
            let mut t = Table::new();
            t.set_implicit(true);
            Item::Table(t)
        })
        .as_table_mut()
        .ok_or(Error::NotTable("output"))?;
    let html = output
        .entry("html")
        .or_insert_with(|| Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or(Error::NotTable("output.html"))?;
    let list = html
        .entry(asset.key)
        .or_insert_with(|| value(Array::new()))
        .as_array_mut()
        .ok_or_else(|| Error::NotArray(format!("output.html.{}", asset.key)))?;
    let listed = list
        .iter()
        .filter_map(|v| v.as_str())
        .find(|p| Path::new(p).file_name().is_some_and(|n| n == asset.name));
    if let Some(p) = listed {
        return Ok(PathBuf::from(p));
    }
    list.push(asset.name);
    said.push(format!(
        "book.toml: [output.html] {} lists {}",
        asset.key, asset.name
    ));
    Ok(PathBuf::from(asset.name))
}

/// Plans the fragment index chapter: `SRC/fragment-index.md` and its `SUMMARY.md` line.
fn index_chapter(
    dir: &Path,
    doc: &toml_edit::DocumentMut,
    planned: &mut Vec<(PathBuf, String, String)>,
) -> Result<()> {
    let src = doc
        .get("book")
        .and_then(|b| b.get("src"))
        .and_then(|s| s.as_str())
        .unwrap_or("src");
    let src = Path::new(src);
    let summary_path = dir.join(src).join("SUMMARY.md");
    let summary = std::fs::read_to_string(&summary_path).map_err(|source| Error::NoSummary {
        path: summary_path.clone(),
        source,
    })?;
    let chapter = crate::mdbook::INDEX_CHAPTER;
    if !dir.join(src).join(chapter).exists() {
        planned.push((
            dir.join(src).join(chapter),
            "# Fragment index\n\nEvery fragment and every tangled file of the book, with where \
             each is defined and used (written by the tangle preprocessor).\n"
                .to_string(),
            format!("wrote {}", src.join(chapter).display()),
        ));
    }
    if !summary.contains(&format!("({chapter})")) {
        let mut new = summary;
        if !new.ends_with('\n') {
            new.push('\n');
        }
        new.push_str(&format!("- [Fragment index]({chapter})\n"));
        planned.push((
            summary_path,
            new,
            format!(
                "{}: listed {chapter} last",
                src.join("SUMMARY.md").display()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A book folder with `book.toml` holding `toml`, removed at the end.
    struct Book(PathBuf);

    impl Book {
        fn new(name: &str, toml: &str) -> Book {
            let dir =
                std::env::temp_dir().join(format!("tangle-install-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("book.toml"), toml).unwrap();
            Book(dir)
        }
        fn toml(&self) -> String {
            std::fs::read_to_string(self.0.join("book.toml")).unwrap()
        }
    }

    impl Drop for Book {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn stamps_read_back() {
        for asset in ASSETS {
            let stamp = read_stamp(&asset.installed()).unwrap();
            assert_eq!(stamp.version, VERSION);
            assert_eq!(stamp.hash, asset.hash());
            assert!(stamp.untouched);
            let edited = format!("{}/* more */\n", asset.installed());
            assert!(!read_stamp(&edited).unwrap().untouched);
            assert_eq!(read_stamp(asset.text), None);
        }
    }

    #[test]
    fn what_the_book_had_is_kept() {
        let toml = "# My book.\n[book]\ntitle = \"T\" # the title\n\n[preprocessor.tangle]\nlabels = \"<%s>\"\n\n[output.html]\nadditional-css = [\"custom.css\", \"theme/tangle.css\"]\n";
        let book = Book::new("kept", toml);
        let said = install(&book.0, Options::default()).unwrap();
        assert!(said.iter().any(|s| s.contains("before")), "{said:?}");
        assert_eq!(
            book.toml(),
            "# My book.\n[book]\ntitle = \"T\" # the title\n\n[preprocessor.tangle]\nlabels = \"<%s>\"\nbefore = [\"links\"]\n\n[output.html]\nadditional-css = [\"custom.css\", \"theme/tangle.css\"]\nadditional-js = [\"tangle.js\"]\n"
        );
        // The stylesheet goes where the book lists it.
        assert!(book.0.join("theme/tangle.css").is_file());
        assert!(!book.0.join("tangle.css").exists());
        assert!(book.0.join("tangle.js").is_file());
        // Nothing more the second time; the assets are then fresh.
        assert_eq!(
            install(&book.0, Options::default()).unwrap(),
            Vec::<String>::new()
        );
        let config = serde_json::json!({"output": {"html": {
            "additional-css": ["custom.css", "theme/tangle.css"],
            "additional-js": ["tangle.js"],
        }}});
        assert_eq!(stale_assets(&book.0, &config), []);
        assert_eq!(
            stale_assets(&book.0, &serde_json::json!({})),
            [
                Problem::Unlisted("tangle.css"),
                Problem::Unlisted("tangle.js")
            ]
        );
    }

    #[test]
    fn a_file_of_the_same_name_that_is_not_ours_is_refused() {
        let book = Book::new("theirs", "[book]\ntitle = \"T\"\n");
        std::fs::write(book.0.join("tangle.css"), "body { color: red }\n").unwrap();
        let err = install(&book.0, Options::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("was not written by `mdbook-tangle install`"),
            "{err}"
        );
        // Nothing was written, book.toml included.
        assert_eq!(book.toml(), "[book]\ntitle = \"T\"\n");
        assert!(!book.0.join("tangle.js").exists());
        let forced = Options {
            force: true,
            ..Options::default()
        };
        install(&book.0, forced).unwrap();
        let css = std::fs::read_to_string(book.0.join("tangle.css")).unwrap();
        assert_eq!(css, ASSETS[0].installed());
    }

    #[test]
    fn a_malformed_book_toml_is_located() {
        let book = Book::new("malformed", "[book]\ntitle = \n");
        let err = install(&book.0, Options::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("book.toml") && err.contains("line 2"), "{err}");
    }
}
