//! The book: `book.toml` and the chapter order of `SUMMARY.md`.

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::source;
use std::path::{Path, PathBuf};

/// Org's default coderef label format, also ours.
pub const DEFAULT_LABELS: &str = "(ref:%s)";

/// What the tangler needs to know of an mdBook book.
#[derive(Debug, Clone)]
pub struct Book {
    /// The project root: the folder holding `book.toml`.
    pub root: PathBuf,
    /// The chapters' folder, relative to the root (`[book] src`, default `src`).
    pub src: PathBuf,
    /// Chapters in book order, relative to the root.
    pub chapters: Vec<PathBuf>,
    /// Coderef label format (`[preprocessor.tangle] labels`).
    pub labels: String,
}

impl Book {
    /// Finds `book.toml` in `start` or a parent folder.
    pub fn find_root(start: &Path) -> Option<PathBuf> {
        start
            .ancestors()
            .find(|d| d.join("book.toml").is_file())
            .map(Path::to_path_buf)
    }

    /// Loads the book rooted at `root`.
    pub fn load(root: &Path) -> Result<Book, Diagnostics> {
        let toml_path = root.join("book.toml");
        let text = source::read(&toml_path)?;
        let src = toml_string(&text, "book", "src").unwrap_or_else(|| "src".into());
        let labels = toml_string(&text, "preprocessor.tangle", "labels")
            .unwrap_or_else(|| DEFAULT_LABELS.into());
        if !labels.contains("%s") {
            return Err(Diagnostic::error(
                Pos::new(&toml_path, 1, 1),
                format!("labels format `{labels}` must contain %s"),
            )
            .into());
        }
        let src = PathBuf::from(src);
        let summary = src.join("SUMMARY.md");
        let text = source::read(&root.join(&summary)).map_err(|mut d| {
            d.pos.path = summary.clone();
            d
        })?;
        let chapters = summary_links(&text)
            .into_iter()
            .map(|p| src.join(p))
            .collect();
        Ok(Book {
            root: root.to_path_buf(),
            src,
            chapters,
            labels,
        })
    }
}

/// The chapter files that `SUMMARY.md` links to, in order (drafts and external links skipped,
/// each file once).
pub fn summary_links(summary: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for line in summary.lines() {
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(j) = after.find(')') else { break };
            let target = after[..j].trim();
            let target = target.split('#').next().unwrap_or("");
            if !target.is_empty() && !target.contains("://") {
                let p = PathBuf::from(target.trim_start_matches("./"));
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            rest = &after[j..];
        }
    }
    out
}

/// Reads a string value `key = "..."` from a `[table]` of a simple TOML file.
fn toml_string(text: &str, table: &str, key: &str) -> Option<String> {
    let mut in_table = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_table = name.trim() == table;
            continue;
        }
        if !in_table {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() != key {
            continue;
        }
        let v = v.trim();
        let quote = v.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let end = v[1..].find(quote)? + 1;
        return Some(v[1..end].replace("\\\\", "\\").replace("\\\"", "\""));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_order() {
        let s = "# Summary\n\n[Intro](intro.md)\n\n- [Main](main.md)\n  - [Sub](./main/sub.md#x)\n- [Draft]()\n- [Web](https://x.org/a.md)\n";
        assert_eq!(
            summary_links(s),
            vec![
                PathBuf::from("intro.md"),
                "main.md".into(),
                "main/sub.md".into()
            ]
        );
    }

    #[test]
    fn toml_values() {
        let t =
            "[book]\ntitle = \"x\"\nsrc = \"docs\"\n[preprocessor.tangle]\nlabels = '[{(<%s>)}]'\n";
        assert_eq!(toml_string(t, "book", "src").as_deref(), Some("docs"));
        assert_eq!(
            toml_string(t, "preprocessor.tangle", "labels").as_deref(),
            Some("[{(<%s>)}]")
        );
        assert_eq!(toml_string(t, "book", "labels"), None);
    }
}
