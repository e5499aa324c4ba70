//! What a tangle produces: files in memory, each with the map from its lines back to the document.

use std::path::PathBuf;

/// Where one line of a tangled file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Index into [`SourceMap::files`].
    pub file: u32,
    /// 1-based line in the source document.
    pub line: u32,
    /// Output column minus source column (characters): the indentation that expansion added,
    /// less what was stripped from the block (for example a list item's indentation).
    pub col_shift: i32,
    /// Index into [`SourceMap::fragments`]: the fragment whose body holds this line.
    pub fragment: u32,
}

/// For each line of a tangled file, where it came from (`None` for generated lines such as
/// the header).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    pub files: Vec<PathBuf>,
    pub fragments: Vec<String>,
    /// The origin of each line's main content (for an expanded reference, the fragment's line).
    pub lines: Vec<Option<Origin>>,
    /// For lines assembled from several places (text around a reference, a repeated prefix),
    /// every piece, sorted by line then column. Lines with one piece are not listed.
    pub segments: Vec<Segment>,
}

/// A piece of an output line: from output column `col` on, the text comes from `origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// 0-based output line.
    pub line: u32,
    /// 1-based output column where the piece starts.
    pub col: u32,
    pub origin: Origin,
}

/// One tangled file, complete in memory before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Target path, relative to the project root (Markdown) or to the org file's folder (org).
    pub path: PathBuf,
    /// The exact bytes to write.
    pub content: Vec<u8>,
    /// Unix permission bits for the file.
    pub mode: u32,
    /// Whether missing parent folders may be created.
    pub mkdirp: bool,
    pub map: SourceMap,
}

/// A place in a document that a tangled line and column map back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<'a> {
    pub path: &'a std::path::Path,
    pub line: usize,
    /// 1-based column in the document (at least 1).
    pub col: usize,
    pub fragment: &'a str,
}

impl SourceMap {
    /// Maps 1-based `line` and `col` of the tangled file back to the document; `None` for a
    /// generated line or a line past the end.
    pub fn locate(&self, line: usize, col: usize) -> Option<Located<'_>> {
        let index = line.checked_sub(1)?;
        let main = self.lines.get(index)?.as_ref()?;
        let first = self.segments.partition_point(|s| (s.line as usize) < index);
        let o = self.segments[first..]
            .iter()
            .take_while(|s| s.line as usize == index)
            .filter(|s| s.col as usize <= col.max(1))
            .last()
            .map_or(main, |s| &s.origin);
        Some(Located {
            path: &self.files[o.file as usize],
            line: o.line as usize,
            col: (col as i64 - o.col_shift as i64).max(1) as usize,
            fragment: &self.fragments[o.fragment as usize],
        })
    }
}
