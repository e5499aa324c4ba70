//! Figures: ```` ```figure ```` blocks of a chapter, drawn as inline SVG by the mdBook
//! preprocessor ([`crate::mdbook`]) at build time, with no script and no network.
//!
//! A figure block starts with header lines, then `---`, then what it draws:
//!
//! ````text
//! ```figure
//! id: connection-life
//! caption: The connection's life.
//! alt: A state machine: Reading goes to Writing when a request is complete, ...
//! ---
//! ┌─────────┐ request complete ┌─────────┐
//! │ Reading ├─────────────────▶│ Writing │
//! └─────────┘                  └─────────┘
//! ```
//! ````
//!
//! - `caption:` (required) is shown under the figure, numbered (`Figure 7.1`);
//! - `alt:` (required, may be repeated to continue) is the text alternative: the SVG's
//!   `<desc>`, read by screen readers in place of the drawing;
//! - `id:` gives the anchor (`fig:ID`), else the caption's first words do;
//! - `kind: drawing` (the default) draws the body: box-drawing characters (`─│┌┐└┘├┤┬┴┼`,
//!   rounded `╭╮╰╯`, dashed `┄┆`) become lines, `▶◀▲▼` arrowheads, the rest text, each
//!   character in its cell, so the drawing in the chapter reads as it is drawn;
//! - `kind: bytes` draws a byte layout of the frame in the block right above the figure,
//!   which must be a byte dump checked by a test (`<!-- check: frame NAME -->` before it,
//!   `tests/book_examples.rs`): protoheader, JSON header and content, each byte in a cell.
//!   The figure has no body: it is drawn from those checked bytes, never from a copy.
//!
//! In parts: [`parse`](mod@parse) reads the block, [`drawing`] draws lines, arrows and text,
//! [`bytes`] lays out a frame's bytes, [`svg`] writes and inlines the SVG, and [`chapter`]
//! finds a chapter's figures and puts each in place of its block.

mod bytes;
mod chapter;
mod drawing;
mod parse;
mod svg;
#[cfg(test)]
mod tests;

pub use bytes::{bytes_svg, unescape};
pub use chapter::{chapter_figures, slug};
pub use drawing::drawing_svg;
pub use parse::parse;
pub use svg::inline_svg;
use svg::{esc, inline_code};

/// The info string's language that makes a block a figure.
pub const LANG: &str = "figure";
/// What a figure draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Drawing,
    Bytes,
    /// An SVG file beside the chapter (`src:`), such as a chart a script draws from a
    /// benchmark's results, inlined so that the theme's colours apply to it.
    Svg(String),
}

/// A figure block, read.
#[derive(Debug, Clone)]
pub struct Spec {
    pub id: Option<String>,
    pub caption: String,
    pub alt: String,
    pub kind: Kind,
    pub body: Vec<String>,
}
/// The figure as one line of HTML (a `<figure>` holding an inline SVG and its caption), to
/// stand in the chapter's Markdown as one HTML block. `number` is shown before the caption
/// (`7.1`); `bytes` are the dump above the figure, for `kind: bytes`.
pub fn html(
    spec: &Spec,
    anchor: &str,
    number: &str,
    bytes: Option<&[u8]>,
    file: Option<&str>,
) -> Result<String, String> {
    let text = Text {
        title: &spec.caption,
        desc: &spec.alt,
        id: anchor,
    };
    let svg = match &spec.kind {
        Kind::Drawing => drawing_svg(&spec.body, text),
        Kind::Bytes => {
            let bytes = bytes.ok_or("a byte figure must follow a byte dump checked by a test (`<!-- check: frame NAME -->` before it)")?;
            bytes_svg(bytes, text)?
        }
        Kind::Svg(src) => inline_svg(file.ok_or(format!("no SVG read from `{src}`"))?, text)?,
    };
    Ok(format!(
        r##"<figure class="tangle-figure" id="{}">{svg}<figcaption><a class="tangle-fig-number" href="#{}">Figure {}</a> {}</figcaption></figure>"##,
        esc(anchor),
        esc(anchor),
        esc(number),
        inline_code(&spec.caption)
    ))
}

/// A figure's text: its accessible name (the caption), its description (the text
/// alternative), and the id its SVG's `<title>` and `<desc>` are named after.
#[derive(Debug, Clone, Copy)]
pub struct Text<'a> {
    pub title: &'a str,
    pub desc: &'a str,
    pub id: &'a str,
}
