//! A block's properties, `{.rust #name file=path}` (or, in the basic style, `rust #name
//! file=path`): classes, an id, attributes. Read as Entangled reads them: token by token, each
//! an id, then an attribute, then a class, stopping quietly at the first token that is none.

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
    space: Regex,
    id: Regex,
    quoted: Regex,
    plain: Regex,
    class: Regex,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(|| {
    let p = |s: &str| Regex::new(&format!(r"\A(?:{s})")).expect("valid pattern");
    Patterns {
        space: p(r"\s+"),
        id: p(r"#([a-zA-Z]\S*)"),
        quoted: p(r#"([a-zA-Z]\S*)\s*=\s*"([^"\\]*(?:\\.[^"\\]*)*)""#),
        plain: p(r"([a-zA-Z]\S*)\s*=\s*(\S+)"),
        class: p(r"\.?([a-zA-Z]\S*)"),
    }
});

/// The properties in `text`, up to the first token that is not one.
pub fn read(text: &str) -> Vec<Property> {
    let p = &*PATTERNS;
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        let token = match p.space.find(rest) {
            Some(m) => &rest[m.end()..],
            None => rest,
        };
        let (prop, len) = if let Some(c) = p.id.captures(token) {
            (Property::Id(c[1].to_string()), c[0].len())
        } else if let Some(c) = p.quoted.captures(token).or_else(|| p.plain.captures(token)) {
            (
                Property::Attribute {
                    key: c[1].to_string(),
                    value: c[2].to_string(),
                },
                c[0].len(),
            )
        } else if let Some(c) = p.class.captures(token) {
            (Property::Class(c[1].to_string()), c[0].len())
        } else {
            return out;
        };
        out.push(prop);
        rest = &token[len..];
    }
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
