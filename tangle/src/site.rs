//! What the rendered book adds to the fragments that [`crate::mdbook`] renders: identifiers from
//! the compiler's view ([`scip`] reads rust-analyzer's index, [`identifiers`] places and renders
//! it).

pub mod identifiers;
pub mod scip;

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
