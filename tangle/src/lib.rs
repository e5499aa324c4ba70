//! `tangle`: a literate-programming tangler for Markdown books and org-mode documents.
//!
//! - [`markdown`] and [`book`] read a book's chapters; [`org`] reads org documents.
//! - [`model`] is the web of named fragments and roots, [`expand`] the reference expander
//!   that both readers share (their differences are a [`dialect`]; it writes [`mapped`]
//!   text), [`tangle`] the Markdown pipeline that joins them; [`coderef`] reads coderef
//!   labels for both readers.
//! - [`write`] puts outputs on disk atomically, or compares them with the disk.
//! - [`cargo`] maps rustc's diagnostics back into the chapters; [`mdbook`] is the mdBook
//!   preprocessor that renders fragments as a literate program.
//!
//! The `tangle` binary is a thin command-line front end over this library.

pub mod book;
pub mod cargo;
pub mod coderef;
pub mod commit;
pub mod diag;
pub mod dialect;
pub mod entangled;
pub mod expand;
pub mod fmt;
pub mod mapped;
pub mod markdown;
pub mod mdbook;
pub mod model;
pub mod org;
pub mod output;
pub mod par;
pub mod paths;
pub mod project;
pub mod source;
pub mod sync;
pub mod tangle;
pub mod write;

pub use diag::{Diagnostic, Diagnostics, Pos, Severity};
pub use output::{Origin, Output, SourceMap};
