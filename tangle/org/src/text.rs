//! The text Org works on: a block's body as Org normalizes it, each line knowing where in
//! the org file it starts. Expansion turns bodies into the shared [`MappedText`], and every
//! later step that Org applies to a body string (indentation removal, `org-trim`, coderef
//! removal, wrapping) edits its [`MappedLine`]s, so the origins survive it.

pub(super) use tangle_core::mapped::MappedLine;

/// A normalized block body: its lines (at least one), each with where it starts.
#[derive(Debug, Clone, Default)]
pub(super) struct Body {
    pub(super) lines: Vec<NormalLine>,
}

/// One line of a normalized body.
#[derive(Debug, Clone, Default)]
pub(super) struct NormalLine {
    pub(super) text: String,
    /// 1-based line in the org file.
    pub(super) line: u32,
    /// Column in the org line minus column in `text` (characters): what normalization
    /// removed before the text (negative when a tab became wider spaces).
    pub(super) shift: i32,
}
