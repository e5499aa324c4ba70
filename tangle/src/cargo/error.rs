//! What can go wrong in `tangle cargo`, typed: the CLI turns it into a message at the edge.

use std::io;

/// An error of `tangle cargo`. A diagnostic cargo prints is never one: those are rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Cargo could not be started.
    #[error("cannot run `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// Reading cargo's standard output, or copying it on, failed.
    #[error("copying cargo's output")]
    Copy(#[source] io::Error),
    /// Cargo was started but waiting for it failed.
    #[error("waiting for cargo")]
    Wait(#[source] io::Error),
    /// The user asked for a `--message-format` meant for programs.
    #[error(
        "`tangle cargo` prints the diagnostics itself and cannot pass on \
         `--message-format={0}`; run cargo directly for that"
    )]
    MessageFormat(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
