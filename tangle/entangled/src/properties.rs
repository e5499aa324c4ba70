//! A block's properties, `{.rust #name file=path}` (or, in the basic style, `rust #name
//! file=path`): classes, an id, attributes. Read as Entangled reads them: token by token, each
//! an id, then an attribute, then a class, stopping quietly at the first token that is none.
//! Ids and classes are plain words (`#` or `.` and a letter, then no white space) read by hand;
//! an attribute's patterns, whose key may take any `=` but the last, run only where an `=` can
//! follow the key.

use regex::Regex;
use std::sync::LazyLock;

/// One property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Property {
    /// `#name`.
    Id(String),
    /// `.rust`, or a bare word: `rust`.
    Class(String),
    /// `key=value` or `key="value"` (the text between the quotes, escapes kept).
    Attribute { key: String, value: String },
}

struct Patterns {
    quoted: Regex,
    plain: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let p = |s: &str| Regex::new(&format!(r"\A(?:{s})")).expect("valid pattern");
    Patterns {
        quoted: p(r#"([a-zA-Z]\S*)\s*=\s*"([^"\\]*(?:\\.[^"\\]*)*)""#),
        plain: p(r"([a-zA-Z]\S*)\s*=\s*(\S+)"),
    }
});

/// The properties in `text`, up to the first token that is not one.
pub fn read(text: &str) -> Vec<Property> {
    let p = &*PATTERNS;
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let token = rest.trim_start();
        let (prop, len) = if let Some(len) = word(token.strip_prefix('#')) {
            (Property::Id(token[1..1 + len].to_string()), 1 + len)
        } else if might_be_attribute(token) {
            match p.quoted.captures(token).or_else(|| p.plain.captures(token)) {
                Some(c) => (
                    Property::Attribute {
                        key: c[1].to_string(),
                        value: c[2].to_string(),
                    },
                    c[0].len(),
                ),
                None => match class(token) {
                    Some(c) => c,
                    None => return out,
                },
            }
        } else {
            match class(token) {
                Some(c) => c,
                None => return out,
            }
        };
        out.push(prop);
        rest = &token[len..];
    }
}

/// The length of `[a-zA-Z]\S*` at the start of `text`, if it starts so.
fn word(text: Option<&str>) -> Option<usize> {
    let text = text?;
    if !text.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    Some(text.find(char::is_whitespace).unwrap_or(text.len()))
}

/// `\.?([a-zA-Z]\S*)` at the start of `token`: a class and the length it takes.
fn class(token: &str) -> Option<(Property, usize)> {
    let dot = usize::from(token.starts_with('.'));
    let len = word(Some(&token[dot..]))?;
    Some((
        Property::Class(token[dot..dot + len].to_string()),
        dot + len,
    ))
}

/// Whether an attribute pattern can match at the start of `token`: its key (a letter, then no
/// white space) is followed, after white space at most, by `=`; so `=` is in the token's first
/// word or starts the next. (Only then are the patterns run.)
fn might_be_attribute(token: &str) -> bool {
    if !token.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return false;
    }
    let end = token.find(char::is_whitespace).unwrap_or(token.len());
    token[..end].contains('=') || token[end..].trim_start().starts_with('=')
}

/// The first id.
pub fn id(props: &[Property]) -> Option<&str> {
    props.iter().find_map(|p| match p {
        Property::Id(s) => Some(s.as_str()),
        _ => None,
    })
}

/// The first class: the block's language.
pub fn language(props: &[Property]) -> Option<&str> {
    props.iter().find_map(|p| match p {
        Property::Class(s) => Some(s.as_str()),
        _ => None,
    })
}

/// The value of the first attribute named `key`.
pub fn attribute<'p>(props: &'p [Property], key: &str) -> Option<&'p str> {
    props.iter().find_map(|p| match p {
        Property::Attribute { key: k, value } if k == key => Some(value.as_str()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(k: &str, v: &str) -> Property {
        Property::Attribute {
            key: k.into(),
            value: v.into(),
        }
    }

    /// Entangled's reading, all by patterns (the old code, kept to compare with).
    fn by_patterns(text: &str) -> Vec<Property> {
        static OLD: LazyLock<[Regex; 3]> = LazyLock::new(|| {
            let p = |s: &str| Regex::new(&format!(r"\A(?:{s})")).unwrap();
            [p(r"\s+"), p(r"#([a-zA-Z]\S*)"), p(r"\.?([a-zA-Z]\S*)")]
        });
        let [space, id, class] = &*OLD;
        let mut out = Vec::new();
        let mut rest = text;
        loop {
            let token = space.find(rest).map_or(rest, |m| &rest[m.end()..]);
            let (prop, len) = if let Some(c) = id.captures(token) {
                (Property::Id(c[1].to_string()), c[0].len())
            } else if let Some(c) = PATTERNS
                .quoted
                .captures(token)
                .or_else(|| PATTERNS.plain.captures(token))
            {
                (
                    Property::Attribute {
                        key: c[1].to_string(),
                        value: c[2].to_string(),
                    },
                    c[0].len(),
                )
            } else if let Some(c) = class.captures(token) {
                (Property::Class(c[1].to_string()), c[0].len())
            } else {
                return out;
            };
            out.push(prop);
            rest = &token[len..];
        }
    }

    #[test]
    fn as_the_patterns_read_them() {
        let pieces = [
            "#", ".", "a", "Z", "=", "\"", "\\", " ", "  ", "\t", "{", "1", "é", "file", "x=y",
            "é=", "#a",
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut text = String::new();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let n = (state % 9) as usize;
            for k in 0..n {
                let r = state.rotate_left(7 * k as u32);
                text.push_str(pieces[(r % pieces.len() as u64) as usize]);
            }
            assert_eq!(read(&text), by_patterns(&text), "{text:?}");
        }
    }

    #[test]
    fn tokens() {
        assert_eq!(
            read(".rust #main file=src/main.rs"),
            [
                Property::Class("rust".into()),
                Property::Id("main".into()),
                attr("file", "src/main.rs")
            ]
        );
        assert_eq!(
            read(r#"rust file="a b.rs" mode = 0755"#),
            [
                Property::Class("rust".into()),
                attr("file", "a b.rs"),
                attr("mode", "0755")
            ]
        );
        // The longest key that leaves `=` and a value: as a backtracking matcher finds it.
        assert_eq!(read("a=b=c"), [attr("a=b", "c")]);
        // Reading stops at the first token that is no property.
        assert_eq!(read(".rust {x} #a"), [Property::Class("rust".into())]);
        assert_eq!(read("{python}"), []);
    }
}
