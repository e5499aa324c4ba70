//! The rendered book: the mdBook preprocessor that shows the web of fragments in the HTML book,
//! and what it adds from the compiler's view.
//!
//! - [`preprocess`]: mdBook's protocol (JSON in and out, the settings in `book.toml`), and
//!   [`preprocess::Error`], why a book cannot be rendered; re-exported as [`crate::mdbook`].
//! - `page`: a chapter's page (ids and tags of every block, prose labels and code spans);
//!   `block`: a tangled block's caption and footer; `fragment_index`: the generated index
//!   chapter; `html`: ids, relative links and escaping.
//! - [`scip`] reads rust-analyzer's index, [`identifiers`] places and renders it.
//! - Figures drawn from the chapters' text are [`crate::figure`]'s.

mod block;
mod fragment_index;
pub(crate) mod html;
pub mod identifiers;
mod page;
pub mod preprocess;
pub mod scip;
#[cfg(test)]
mod tests;

use crate::markdown::model::Web;
use crate::output::Output;
use std::path::{Path, PathBuf};

/// The identifiers of the book in `root` (a Cargo project) whose web and outputs these are:
/// its Rust outputs indexed by rust-analyzer (or read from the cache). `None`, silently, for a
/// book that tangles no Rust or is no Cargo project; `None` with one warning line on stderr
/// when the index cannot be had (rust-analyzer missing, outputs not tangled yet, ...): the
/// site is then built with plain identifiers.
pub fn identifiers_of(
    root: &Path,
    web: &Web,
    outputs: &[Output],
) -> Option<identifiers::Identifiers> {
    if !root.join("Cargo.toml").is_file() {
        return None;
    }
    let files: Vec<(PathBuf, &[u8])> = outputs
        .iter()
        .filter(|o| o.path.extension().is_some_and(|e| e == "rs"))
        .map(|o| (o.path.clone(), o.content.as_slice()))
        .collect();
    if files.is_empty() {
        return None;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|t| if t.is_absolute() { t } else { root.join(t) })
        .unwrap_or_else(|| root.join("target"));
    match scip::load(root, &target.join("tangle"), &files) {
        Ok(index) => Some(identifiers::Identifiers::build(web, outputs, &index)),
        Err(why) => {
            eprintln!("warning: identifiers in the book are not linked: {why}");
            None
        }
    }
}
