//! Identifiers in the rendered book, from the compiler's view ([`super::scip`]): every name in a
//! tangled block's code mapped through the outputs' line maps to its chapter, block, line and
//! column, and what the site shows of it.
//!
//! The code blocks are highlighted in the browser (mdBook's highlight.js), so the links cannot
//! be written into the code here: like the `<<name>>` references, they travel as hidden data
//! that `tangle/assets/tangle.js` turns into links once highlighting has run, by offsets in the
//! code's text (which highlighting does not change), wrapping the highlighted text in place:
//!
//! - after each block, `span.tangle-ids` lists its names (`line.col.len.sym;...`, columns in
//!   UTF-16 units as JavaScript counts them, `sym` an entry of the page's table), and one
//!   `span.tangle-def` per definition, which carries the definition's anchor id (`i:PATH`);
//! - at the end of the page, `div.tangle-syms` holds one hidden link per name the page uses:
//!   to the anchor of its definition in the book, or to the documentation of std or of a
//!   dependency; its title is the signature and the first line of the doc comment. Real links
//!   (not data), so that mdBook rewrites them for the print page as it does every link.
//!
//! Inline code in the prose that names a book item (`Phase`, `Message::new`, `run()`) becomes a
//! link to its definition; each chapter ends with what it defines and what it uses from other
//! chapters; the identifier index chapter lists every item, members under their types.

//!
//! In parts: [`resolve`] reads the items the book defines and resolves a symbol used in the
//! code to its definition (or to documentation outside the book), [`place`] places the
//! compiler's occurrences in the chapters' blocks, [`prose`] resolves inline code in the prose
//! to its definition, and [`render`] writes the links, the pages' hidden data and the index.

use crate::markdown::model::BlockRef;
use std::collections::HashMap;

mod place;
mod prose;
mod render;
mod resolve;
#[cfg(test)]
mod tests;

/// The file name of the generated identifier index chapter.
pub const INDEX_CHAPTER: &str = "identifier-index.md";

/// A name's place in the rendered book: a line of a tangled block, and the column and length
/// in UTF-16 units (as JavaScript measures the code's text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Place {
    pub chapter: usize,
    pub block: usize,
    pub line: usize,
    pub col: usize,
    pub len: usize,
}

impl Place {
    pub fn block_ref(&self) -> BlockRef {
        BlockRef {
            chapter: self.chapter,
            block: self.block,
        }
    }
}

/// What a name in code leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    /// An item the book defines.
    Item(usize),
    /// Documentation outside the book (std, a dependency).
    External(usize),
}

/// A name in a block's code.
#[derive(Debug, Clone, Copy)]
struct Occ {
    line: usize,
    col: usize,
    len: usize,
    target: Target,
    /// This is the item's definition (it gets the anchor).
    definition: bool,
}

/// Something the book's code defines: a type, a function, a field, a variant...
#[derive(Debug, Clone)]
pub struct Item {
    pub name: String,
    /// SCIP's kind (`Struct`, `Method`, ...).
    pub kind: String,
    pub signature: String,
    pub doc: String,
    /// The module path inside its crate (`message`), empty at the crate's root.
    pub module: String,
    /// The type (or trait) it is a member of.
    pub parent: Option<usize>,
    /// `Type::name` for a member, else `name`.
    pub path: String,
    /// Where it is defined (None: not in any tangled block).
    pub def: Option<Place>,
    /// Anchor id of the definition.
    pub id: String,
    /// The tangled blocks whose code uses it, in book order.
    pub uses: Vec<BlockRef>,
    /// The output file it is defined in.
    pub file: String,
}

/// A name from outside the book, and where its documentation is.
#[derive(Debug, Clone)]
struct External {
    url: String,
    title: String,
}

/// The identifiers of a book, placed in its blocks.
#[derive(Debug, Default)]
pub struct Identifiers {
    pub items: Vec<Item>,
    externals: Vec<External>,
    /// Names in each tangled block's code, by (chapter, block).
    blocks: HashMap<(usize, usize), Vec<Occ>>,
    /// For each chapter, the targets its code uses, in order of first use (the page's table).
    tables: Vec<Vec<Target>>,
    table_index: Vec<HashMap<Target, usize>>,
    /// Items by name and by `Parent::name` / `module::name`, for inline code in the prose.
    by_name: HashMap<String, Vec<usize>>,
    by_path: HashMap<String, Vec<usize>>,
}

/// How the renderer links to pages and blocks.
pub struct Links<'a> {
    /// The page of each chapter (`part/ch.html`).
    pub html: &'a [String],
    /// A link from page `from` to a tangled block, showing its tag.
    pub tag_link: Box<dyn Fn(usize, BlockRef) -> String + 'a>,
}

/// The crates whose documentation lives at doc.rust-lang.org.
const STD: [&str; 4] = ["std", "core", "alloc", "proc_macro"];

impl Identifiers {
    /// The number of names linked in code (uses and definitions).
    pub fn links(&self) -> usize {
        self.blocks.values().map(Vec::len).sum()
    }
}

/// Escapes for HTML; line ends too, so that an attribute never ends the raw HTML block that
/// Markdown reads it in (a blank line would).
fn esc(s: &str) -> String {
    super::html::esc(s).replace('\r', "").replace('\n', "&#10;")
}

/// Whether docs for a crate live at doc.rust-lang.org.
pub(super) fn is_std(krate: &str) -> bool {
    STD.contains(&krate)
}
