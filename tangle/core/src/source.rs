//! Reading documents: every failure becomes a located diagnostic.

use crate::diag::{Diagnostic, Pos};
use std::path::Path;

/// Reads a document as UTF-8 text. Errors: unreadable file, or bytes that are not UTF-8
/// (located at the first bad byte).
pub fn read(path: &Path) -> Result<String, Diagnostic> {
    let bytes = std::fs::read(path)
        .map_err(|e| Diagnostic::error(Pos::new(path, 1, 1), format!("cannot read file: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let good = std::str::from_utf8(good).expect("valid prefix");
        let line = good.matches('\n').count() + 1;
        let col = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Diagnostic::error(Pos::new(path, line, col), "the file is not valid UTF-8")
    })
}

/// The position of byte `offset` of `text` (line and character column).
pub fn offset_pos(path: &Path, text: &str, offset: usize) -> Pos {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Pos::new(
        path,
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}
