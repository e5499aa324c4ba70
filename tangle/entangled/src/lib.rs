//! Entangled's books: its Markdown dialect (pandoc attributes `{.rust #name file=path}`, or
//! the basic style's `rust #name file=path` and Quarto's `#|` lines), its names and
//! namespaces, its annotation markers, tangled by the shared expander into files identical to
//! Entangled 2.4's.
//!
//! - [`config`] reads `entangled.toml`; [`read`] finds a document's blocks as Entangled does;
//!   [`properties`] reads a fence's attributes.
//! - [`documents`] finds the documents; [`web`] joins their blocks into a web: every block has a
//!   name (its id, else its `file`, else a name no reference can write), blocks of one name are
//!   one fragment, in document order (documents sorted by path); a file is its name's
//!   fragment. With the standard annotation each block's lines stand between
//!   `~/~ begin <<doc#name>>[n]` and `~/~ end` comments in its language's comment syntax,
//!   `[init]` for the first block of a name, else its count among that name's blocks in its
//!   own document. [`Expander`] answers the shared expander: references are whole lines,
//!   `<<name>>`, `<<ns::name>>` naming a namespace. [`site_web`] is the mdBook preprocessor's
//!   view. This module tangles.
//! - [`stitch`] reads those markers back, for `tangle sync`; [`filedb`] reads and updates
//!   Entangled's record of what it wrote, so that the two tools can take turns on one book.
//!
//! The files are Entangled 2.4's, byte for byte (`tests/entangled_differential.rs` runs both on
//! every case of `tests/entangled_corpus/`). Where we differ, on purpose:
//!
//! - entangled-rs' names for settings are read (`source_patterns`, `style = "pandoc"` or
//!   `"entangled-rs"`, `namespace_default = "file"` or `"none"`), where 2.4 ignores or refuses
//!   them; a file with `source_patterns` and no style is entangled-rs' own, read in its fences;
//! - a document that two watch-list patterns find is read once (2.4 reads it twice);
//! - a book Entangled refuses gets a located error and a failing exit (2.4 exits 0, silent);
//! - files are written 0644, or with their `mode` (2.4's temporary files leave 0600), and
//!   `#| mode: 755` is octal as `mode=755` is (2.4 takes the YAML integer as it is);
//! - with both the shebang and SPDX hooks, a shebang line goes first (2.4's order is that of
//!   a Python set, so changes from run to run);
//! - an empty file without markers is written empty (2.4 fails on it);
//! - the runners' hooks (`brei`, `build`, `repl`) are not run: their files under `.entangled/`
//!   and their sessions are not written (a warning says so).

pub mod config;
mod documents;
mod expander;
pub mod filedb;
pub mod properties;
pub mod read;
pub mod stitch;
pub mod web;

pub use documents::documents;
pub use expander::{Expander, Piece};
pub use web::{reference, web, BlockInfo, RefName, Web};

use config::Config;
use std::path::PathBuf;
use tangle_core::diag::{Diagnostic, Diagnostics, Pos};
use tangle_core::output::Output;
use tangle_core::output::Tangled;

/// `new` (an edited or formatted output) with each empty line that stands where `old` (the
/// output as tangled) has a line of white space only given that white space back.
///
/// Entangled indents every line a reference brings, blank lines too, so a blank line in an
/// indented block tangles to the reference's indentation; editors and rustfmt take such
/// trailing white space off. Both mean the same blank line: this keeps them equal.
pub fn keep_blank_prefixes(old: &str, new: &str) -> String {
    use similar::{DiffOp, TextDiff};
    let diff = TextDiff::from_lines(old, new);
    let old_lines: Vec<&str> = diff.old_slices().to_vec();
    let new_lines: Vec<&str> = diff.new_slices().to_vec();
    let mut out = String::with_capacity(new.len());
    for op in diff.ops() {
        match *op {
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                for k in 0..new_len {
                    let n = new_lines[new_index + k];
                    let o = (k < old_len).then(|| old_lines[old_index + k]);
                    match o {
                        Some(o)
                            if n.trim().is_empty()
                                && o.trim().is_empty()
                                && n.ends_with('\n') == o.ends_with('\n') =>
                        {
                            out.push_str(o)
                        }
                        _ => out.push_str(n),
                    }
                }
            }
            _ => {
                for r in op.new_range() {
                    out.push_str(new_lines[r]);
                }
            }
        }
    }
    out
}

/// Tangles the documents: every file the book writes, with its line map if `lines`.
pub fn tangle(
    config: &Config,
    docs: Vec<(PathBuf, String)>,
    lines: bool,
) -> Result<Tangled, Diagnostics> {
    let (count, bytes) = (docs.len(), docs.iter().map(|(_, t)| t.len()).sum());
    let (web, mut warnings) = web(config, docs)?;
    let mut outputs = Vec::with_capacity(web.targets.len());
    let mut errors = Vec::new();
    // Each file on its own, on every core.
    let numbered: Vec<usize> = (0..web.targets.len()).collect();
    let expanded = tangle_core::par::map(bytes, &numbered, |&k| {
        tangle_core::expand::expand_with(&mut Expander::new(&web), Piece::Root(k as u32), lines)
    });
    for (t, result) in web.targets.iter().zip(expanded) {
        match result {
            Ok(m) => {
                let (text, map) = m.into_parts();
                let main = web.fragments[t.fragment].blocks[0] as usize;
                let unit = &web.units[t.block as usize];
                let mode = web.block_info[main].mode;
                outputs.push(Output {
                    path: t.path.clone(),
                    content: text.into_bytes(),
                    mode: mode.unwrap_or(0o644),
                    folders: tangle_core::output::Folders::Make,
                    block: Pos::new(
                        &web.docs[unit.doc as usize],
                        unit.open_line,
                        unit.indent as usize + 1,
                    ),
                    map,
                });
            }
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        errors.dedup_by(|a, b| a.pos == b.pos && a.message == b.message);
        return Err(Diagnostics(errors));
    }
    if count == 0 {
        warnings.push(Diagnostic::warning(
            config.pos(),
            format!(
                "the watch list ({}) finds no document",
                config
                    .watch_list
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    } else if web.units.is_empty() {
        warnings.push(Diagnostic::warning(
            config.pos(),
            format!(
                "no code block in the {} document(s) read: with this style a block opens with a line matching `{}`",
                count,
                config.markers.open.as_str().trim_start_matches(r"\A(?:").trim_end_matches(')')
            ),
        ));
    }
    if !config.not_run.is_empty() {
        warnings.push(Diagnostic::warning(
            config.pos(),
            format!(
                "hooks {} are Entangled's runners, not tangling; `tangle` does not run them",
                config
                    .not_run
                    .iter()
                    .map(|h| format!("`{h}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(Tangled::new(outputs, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tangle_one(config: &str, md: &str) -> Result<Vec<(PathBuf, String)>, Diagnostics> {
        let c = Config::parse(Path::new("entangled.toml"), config, &[]).unwrap();
        let t = tangle(&c, vec![(PathBuf::from("a.md"), md.to_string())], true)?;
        Ok(t.outputs
            .into_iter()
            .map(|o| (o.path, String::from_utf8(o.content).unwrap()))
            .collect())
    }

    const MD: &str = "```{.rust file=x.rs}\nfn main() {\n    <<body>>\n}\n```\n\n```{.rust #body}\nlet a = 1;\n\nlet b = 2;\n```\n\n```{.rust #body}\nlet c = 3;\n```\n";

    #[test]
    fn naked() {
        let out = tangle_one("version=\"2.0\"\nannotation=\"naked\"\n", MD).unwrap();
        assert_eq!(
            out,
            [(
                PathBuf::from("x.rs"),
                "fn main() {\n    let a = 1;\n    \n    let b = 2;\n    let c = 3;\n}\n"
                    .to_string()
            )]
        );
    }

    #[test]
    fn standard() {
        let out = tangle_one("version=\"2.0\"\n", MD).unwrap();
        assert_eq!(
            out[0].1,
            "// ~/~ begin <<a.md#x.rs>>[init]\nfn main() {\n    // ~/~ begin <<a.md#body>>[init]\n    let a = 1;\n    \n    let b = 2;\n    // ~/~ end\n    // ~/~ begin <<a.md#body>>[1]\n    let c = 3;\n    // ~/~ end\n}\n// ~/~ end\n"
        );
    }

    #[test]
    fn errors_are_located() {
        let e = tangle_one(
            "version=\"2.0\"\n",
            "```{.rust file=x.rs}\n  <<nope>>\n```\n",
        )
        .unwrap_err();
        assert_eq!(e.0[0].pos, Some(Pos::new("a.md", 2, 3)), "{e}");
        let e =
            tangle_one("version=\"2.0\"\n", "```{.rust file=x.rs #a}\n<<a>>\n```\n").unwrap_err();
        assert!(e.0[0].message.contains("cycle"), "{e}");
        let e = tangle_one("version=\"2.0\"\n", "```{file=x.rs}\nx\n```\n").unwrap_err();
        assert_eq!(e.0[0].pos, Some(Pos::new("a.md", 1, 1)), "{e}");
    }

    #[test]
    fn an_empty_expansion_leaves_no_line_when_naked() {
        let md = "```{.rust file=x.rs}\nfn f() {\n    <<outer>>\n}\n```\n\n```{.rust #outer}\n  <<nothing>>\n```\n\n```{.rust #nothing}\n```\n";
        let out = tangle_one("version=\"2.0\"\nannotation=\"naked\"\n", md).unwrap();
        assert_eq!(out[0].1, "fn f() {\n}\n");
        let cycle = "```{.rust file=x.rs}\n    <<a>>\n```\n\n```{.rust #a}\n<<b>>\n```\n\n```{.rust #b}\n<<a>>\n```\n";
        let e = tangle_one("version=\"2.0\"\nannotation=\"naked\"\n", cycle).unwrap_err();
        assert!(e.0[0].message.contains("cycle"), "{e}");
    }

    #[test]
    fn blank_prefixes() {
        let old = "fn f() {\n    a;\n    \n    b;\n}\n";
        assert_eq!(
            keep_blank_prefixes(old, "fn f() {\n    a;\n\n    b;\n}\n"),
            old
        );
        assert_eq!(
            keep_blank_prefixes(old, "fn f() {\n    a2;\n\n    b;\n}\n"),
            "fn f() {\n    a2;\n    \n    b;\n}\n"
        );
    }
}
