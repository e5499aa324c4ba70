//! SVG output: the opening of a figure's SVG with its accessible name and description, and an
//! SVG file inlined. Text is escaped as the site's pages escape it (`site::html::esc`).

use super::Text;
pub(super) use crate::site::html::esc;
use std::fmt::Write as _;

/// The opening of an SVG with its accessible name and description.
pub(super) fn svg_open(out: &mut String, class: &str, w: f64, h: f64, text: Text) {
    let (title_id, desc_id) = (format!("{}-title", text.id), format!("{}-desc", text.id));
    let (title_id, desc_id, title, desc) = (&title_id, &desc_id, text.title, text.desc);
    write!(
        out,
        r#"<svg class="{class}" xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {w} {h}" width="{w}" height="{h}" aria-labelledby="{}" aria-describedby="{}"><title id="{}">{}</title><desc id="{}">{}</desc>"#,
        esc(title_id),
        esc(desc_id),
        esc(title_id),
        esc(&strip_ticks(title)),
        esc(desc_id),
        esc(&strip_ticks(desc)),
    )
    .ok();
}

/// An SVG file's drawing, inline: without an XML declaration or comments before it, its
/// `<svg>` given the figure's role, name and description.
pub fn inline_svg(file: &str, text: Text) -> Result<String, String> {
    let start = file
        .find("<svg")
        .ok_or("the file holds no `<svg` element")?;
    let body = &file[start..];
    let open_end = body.find('>').ok_or("the `<svg` element is not closed")?;
    let mut open = String::new();
    svg_open(&mut open, "tangle-file-svg", 0.0, 0.0, text);
    // The accessible attributes and the <title>/<desc> that svg_open writes, after the file's
    // own opening tag (less its `>`), whose viewBox and size are kept.
    let attrs_at = open.find(" role=").unwrap_or(0);
    let attrs = &open[attrs_at..];
    let attrs = attrs
        .split_once(" viewBox=")
        .map_or(attrs.to_string(), |(a, rest)| {
            let after = rest.find(" aria-labelledby=").map_or("", |i| &rest[i..]);
            format!("{a}{after}")
        });
    let own = body[..open_end].trim_end_matches('/');
    Ok(format!(
        "{own}{attrs}{}",
        body[open_end + 1..].replace(['\n', '\r'], " ")
    ))
}

/// Text with `code spans` as `<code>`, the rest escaped.
pub(super) fn inline_code(text: &str) -> String {
    let mut out = String::new();
    for (k, piece) in text.split('`').enumerate() {
        if k % 2 == 1 {
            write!(out, "<code>{}</code>", esc(piece)).ok();
        } else {
            out.push_str(&esc(piece));
        }
    }
    out
}

fn strip_ticks(text: &str) -> String {
    text.replace('`', "")
}
