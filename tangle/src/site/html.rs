//! Small text helpers of the site: tags' letters, ids, relative links and HTML escaping.

use std::collections::HashSet;

/// `a`, `b`, ..., `z`, `aa`, `ab`, ...
pub(super) fn letters(mut n: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (n % 26) as u8);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// An id-safe form of `text`: lowercase ASCII letters and digits, runs of anything else
/// become `-`; with `path`, `.`, `_` and `/` are kept too.
pub(super) fn slug(text: &str, path: bool) -> String {
    let mut s = String::with_capacity(text.len());
    for ch in text.chars() {
        let ch = ch.to_ascii_lowercase();
        if ch.is_ascii_alphanumeric() || (path && matches!(ch, '.' | '_' | '/')) {
            s.push(ch);
        } else if !s.ends_with('-') {
            s.push('-');
        }
    }
    s.trim_matches('-').to_string()
}

/// `base`, or `base-2`, `base-3`, ... : the first one not taken (and takes it).
pub(super) fn unique(base: &str, taken: &mut HashSet<String>) -> String {
    let mut id = base.to_string();
    let mut n = 1;
    while taken.contains(&id) {
        n += 1;
        id = format!("{base}-{n}");
    }
    taken.insert(id.clone());
    id
}

/// The relative URL of page `to` seen from page `from` (both relative to the book root,
/// `/`-separated); empty when they are the same page.
pub(crate) fn rel_href(from: &str, to: &str) -> String {
    if from == to {
        return String::new();
    }
    let from_dirs: Vec<&str> = from.split('/').collect();
    let from_dirs = &from_dirs[..from_dirs.len() - 1];
    let to_parts: Vec<&str> = to.split('/').collect();
    let common = from_dirs
        .iter()
        .zip(&to_parts[..to_parts.len() - 1])
        .take_while(|(a, b)| a == b)
        .count();
    let mut s = "../".repeat(from_dirs.len() - common);
    s.push_str(&to_parts[common..].join("/"));
    let mut enc = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            ' ' => enc.push_str("%20"),
            '"' => enc.push_str("%22"),
            '#' => enc.push_str("%23"),
            '%' => enc.push_str("%25"),
            '?' => enc.push_str("%3F"),
            c => enc.push(c),
        }
    }
    enc
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
