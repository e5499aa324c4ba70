//! Diagnostics: every problem in a document is reported as `path:line:col: message`.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a source document. Lines and columns are 1-based; columns count characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pos {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
}

impl Pos {
    pub fn new(path: impl AsRef<Path>, line: usize, col: usize) -> Pos {
        Pos {
            path: path.as_ref().to_path_buf(),
            line,
            col,
        }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.path.display(), self.line, self.col)
    }
}

/// How serious a diagnostic is: errors abort the tangle, warnings are printed and tangling goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

/// One problem, located at `pos` when it has a place (a problem of the whole run has none),
/// with notes (for example the chain of references that forms a cycle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub pos: Option<Pos>,
    pub message: String,
    pub notes: Vec<Note>,
}

/// A note under a diagnostic, pointing at another place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub pos: Pos,
    pub message: String,
}

impl Diagnostic {
    pub fn error(pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            pos: Some(pos),
            ..Diagnostic::unplaced(message)
        }
    }

    /// An error about no one place (printed `error: message`).
    pub fn unplaced(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            pos: None,
            message: message.into(),
            notes: Vec::new(),
        }
    }

    pub fn warning(pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(pos, message)
        }
    }

    /// Names `path` as the file of its place (a path read under another name is reported
    /// under the one the user knows).
    pub fn set_path(&mut self, path: impl AsRef<Path>) {
        if let Some(pos) = &mut self.pos {
            pos.path = path.as_ref().to_path_buf();
        }
    }

    /// Adds a note pointing at another place, printed under the message.
    pub fn with_note(mut self, pos: Pos, note: impl Into<String>) -> Diagnostic {
        self.notes.push(Note {
            pos,
            message: note.into(),
        });
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if let Some(pos) = &self.pos {
            write!(f, "{pos}: ")?;
        }
        write!(f, "{kind}: {}", self.message)?;
        for Note { pos, message } in &self.notes {
            write!(f, "\n{pos}: note: {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// The errors of one tangle run. Non-empty whenever tangling failed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Diagnostics {
        Diagnostics(vec![d])
    }
}
