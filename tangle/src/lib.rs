//! `tangle`: a literate-programming tangler for Markdown books, org-mode documents and
//! Entangled's Markdown. This crate is the top of the tangler's crates (see ARCHITECTURE.md):
//!
//! - [`project`]: what a folder holds (which dialect, which documents), tangled as one.
//! - [`sync`] carries edits of the outputs back into the documents; [`fmt`] formats the Rust
//!   outputs in place, through the same path.
//! - [`cargo`] maps rustc's diagnostics back into the documents; [`site`] renders the book:
//!   [`mdbook`] (its [`site::preprocess`]) is the mdBook preprocessor that renders fragments
//!   as a literate program; [`install`] is the `mdbook-tangle` binary's side of it (wiring a
//!   book, checking its assets).
//!
//! The generic layer is [`tangle_core`] (re-exported here module by module); each dialect is
//! its own crate: [`markdown`], [`org`], [`entangled`]. The `tangle` binary is a thin
//! command-line front end over this library.

pub mod cargo;
pub mod figure;
pub mod fmt;
pub mod install;
pub mod project;
pub mod site;
pub mod sync;

/// The mdBook preprocessor's entry points ([`site::preprocess`], by the name mdBook knows).
pub use site::preprocess as mdbook;

pub use tangle_core::{
    coderef, commit, diag, dialect, expand, mapped, output, par, paths, settings, source, suggest,
    write,
};
pub use tangle_entangled as entangled;
pub use tangle_markdown as markdown;
pub use tangle_org as org;

pub use diag::{Diagnostic, Diagnostics, Pos, Severity};
pub use output::{Origin, Output, SourceMap, Tangled};
