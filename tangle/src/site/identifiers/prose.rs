//! Inline code in the prose resolved to the definition of the book item it names.

use super::{esc, Identifiers, Links};

impl Identifiers {
    /// A link for inline code `text` in the prose of chapter `c`, when it names a book item
    /// without doubt: a type, function, trait, constant... by its name, a member or a module's
    /// item by its path (`Next::Close`, `message::Message`), a method as `name()` when only
    /// one has that name. A bare variant or module name is left alone: `Read`, `request` and
    /// `error` say other things in prose as often.
    pub fn inline_code(&self, c: usize, text: &str, links: &Links) -> Option<String> {
        let bare = text.strip_suffix("()").unwrap_or(text);
        let call = bare.len() != text.len();
        if bare.is_empty()
            || !bare
                .chars()
                .all(|ch| ch.is_alphanumeric() || ch == '_' || ch == ':')
        {
            return None;
        }
        let found: Vec<usize> = if bare.contains("::") {
            // `libmessage::Message`: the crate's name first.
            let in_crate = bare.split_once("::").map_or(bare, |(_, rest)| rest);
            self.by_path
                .get(bare)
                .or_else(|| self.by_path.get(in_crate))
                .cloned()
                .unwrap_or_default()
        } else {
            self.by_name
                .get(bare)
                .map(|l| {
                    l.iter()
                        .copied()
                        .filter(|&i| {
                            let item = &self.items[i];
                            (item.parent.is_none() && item.kind != "Module")
                                || (call && item.kind.contains("Method"))
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let pick = match found.as_slice() {
            [one] => *one,
            [] => return None,
            many => {
                // The same name in several crates (the server's and the client's `Cli`): the
                // one this chapter defines, else the one with the most uses.
                let here: Vec<usize> = many
                    .iter()
                    .copied()
                    .filter(|&i| self.items[i].def.is_some_and(|d| d.chapter == c))
                    .collect();
                match here.as_slice() {
                    [one] => *one,
                    _ => return None,
                }
            }
        };
        Some(format!(
            r#"<a class="tangle-ident tangle-prose" href="{}" title="{}"><code>{}</code></a>"#,
            esc(&self.item_href(c, pick, links)),
            esc(&self.item_title(pick)),
            esc(text)
        ))
    }
}
