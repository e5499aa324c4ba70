//! `tangle-markdown`: our Markdown dialect, an mdBook book's chapters with named fragments.
//!
//! - [`book`]: `book.toml` and the chapter order of `SUMMARY.md`.
//! - [`parse`]: one chapter's code blocks, names and references.
//! - [`model`]: the web of fragments and roots built from the chapters.
//! - [`expand`]: the dialect the core expander reads the web through.
//! - [`pipeline`]: chapters in, complete outputs (headers, line maps) out.

pub mod book;
pub mod expand;
pub mod model;
pub mod parse;
pub mod pipeline;
