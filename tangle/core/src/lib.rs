//! `tangle-core`: what every dialect of the tangler shares, and nothing of any one dialect.
//!
//! - [`diag`]: positions and located diagnostics; [`source`] reads documents into text.
//! - [`output`]: a tangled file in memory with its line map; [`mapped`]: text built with one.
//! - [`dialect`]: what the expander asks of a dialect; [`expand`]: the expander itself.
//! - [`coderef`]: coderef labels (org's `(ref:name)`), read the same way by every dialect.
//! - [`write`]: the one rule outputs are written by, and the manifest; [`commit`]: staged,
//!   checked, journaled replacement of files on disk.
//! - [`hash`]: the content hash the manifest records; [`paths`], [`par`], [`settings`]:
//!   paths inside a project, parallel maps, TOML values; [`suggest`]: "did you mean".

pub mod coderef;
pub mod commit;
pub mod diag;
pub mod dialect;
pub mod expand;
pub mod hash;
pub mod mapped;
pub mod output;
pub mod par;
pub mod paths;
pub mod settings;
pub mod source;
pub mod suggest;
pub mod write;

pub use diag::{Diagnostic, Diagnostics, Pos, Severity};
pub use output::{Origin, Output, SourceMap, Tangled};
