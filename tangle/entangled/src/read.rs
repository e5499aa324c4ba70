//! Reading one document as Entangled 2.4 does: line by line, not as CommonMark. A YAML header
//! at the very top is text; a `~~~markdown` ... `~~~` region is text; a line matching the open
//! marker starts a block that ends at the next line matching the close marker with the same
//! indentation. Every line of the block must carry that indentation (or be blank), and it is
//! taken off. Entangled finds blocks this way, so a book keeps its meaning when it changes
//! tools; the mdBook site may still render a fence differently (inside an HTML comment, say).
//!
//! Line breaks are read as Entangled's Python reads them: `\r\n` and a lone `\r` end a line.

use super::config::{Config, Hook};
use super::properties::{self, Property};
use std::path::{Path, PathBuf};
use tangle_core::diag::{Diagnostic, Pos};

/// A line of a block: its 1-based document line and where its text (without the fence's
/// indentation) is in the document's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    pub n: u32,
    pub start: u32,
    pub end: u32,
}

impl Line {
    /// The line's text, in `text` (its document's).
    pub fn of<'t>(&self, text: &'t str) -> &'t str {
        &text[self.start as usize..self.end as usize]
    }

    /// Its 1-based document line.
    pub fn n(&self) -> usize {
        self.n as usize
    }
}

/// One code block of a document, its hooks applied.
#[derive(Debug, Clone)]
pub struct Block {
    pub properties: Vec<Property>,
    /// The opening fence's indentation, taken off every line.
    pub indent: String,
    /// 1-based lines of the opening and closing fences.
    pub open_line: usize,
    pub close_line: usize,
    /// Lines of the block after the hooks took theirs (each without its line break), and the
    /// 1-based document line of each.
    pub header: Vec<Line>,
    pub source: Vec<Line>,
    /// The document lines that kept their text whole: blank lines with less white space than
    /// the fence's indentation (whose indentation was not taken off).
    pub verbatim: Vec<usize>,
}

/// A document: its path (relative to the root) and its blocks in order.
#[derive(Debug, Clone)]
pub struct Document {
    pub path: PathBuf,
    /// The text as read, when reading changed it (line breaks made `\n`); else the blocks'
    /// lines are in the text given ([`Document::text`]).
    pub normalized: Option<String>,
    pub blocks: Vec<Block>,
    pub warnings: Vec<Diagnostic>,
    /// The settings this document was read with, when its YAML header's `entangled` key
    /// changed the book's.
    pub config: Option<Config>,
}

/// `text` with its line breaks as Python's text files read them.
pub fn normalize_newlines(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n").into()
    } else {
        text.into()
    }
}

/// The lines of `text` (without line breaks); a last line without one counts.
fn lines(text: &str) -> Vec<&str> {
    let mut v = Vec::with_capacity(text.len() / 32);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', text.as_bytes()) {
        v.push(&text[start..end]);
        start = end + 1;
    }
    if start < text.len() {
        v.push(&text[start..]);
    }
    v
}

fn err(path: &Path, line: usize, col: usize, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(Pos::new(path, line, col), message.into())
}

/// Reads the document `path` holding `text`.
pub fn read(config: &Config, path: &Path, text: &str) -> Result<Document, Diagnostic> {
    let normalized = match normalize_newlines(text) {
        std::borrow::Cow::Owned(t) => Some(t),
        std::borrow::Cow::Borrowed(_) => None,
    };
    let found = read_blocks(config, path, normalized.as_deref().unwrap_or(text))?;
    Ok(Document {
        path: path.to_path_buf(),
        normalized,
        blocks: found.blocks,
        warnings: found.warnings,
        config: found.config,
    })
}

/// What reading a document's lines finds.
struct Reading {
    blocks: Vec<Block>,
    warnings: Vec<Diagnostic>,
    /// The settings of its YAML header, if it has an `entangled` key.
    config: Option<Config>,
}

impl Document {
    /// The text the blocks' lines are in, given `original`, the text that was read.
    pub fn text<'t>(&'t self, original: &'t str) -> &'t str {
        self.normalized.as_deref().unwrap_or(original)
    }
}

/// The blocks of `text` (the document `path`), warnings, and the settings of its YAML header.
fn read_blocks(config: &Config, path: &Path, text: &str) -> Result<Reading, Diagnostic> {
    let lines = lines(text);
    let offset = |l: &str| l.as_ptr() as usize - text.as_ptr() as usize;
    let mut blocks = Vec::new();
    let mut warnings = Vec::new();
    let mut i = 0;
    let mut own: Option<Config> = None;
    // A YAML header: from a first line starting `---` to the next line starting `---`.
    if lines
        .first()
        .is_some_and(|l| l.trim_end().starts_with("---"))
    {
        let end = (1..lines.len())
            .find(|&k| lines[k].trim_end().starts_with("---"))
            .ok_or_else(|| {
                err(
                    path,
                    1,
                    1,
                    "the YAML header that starts here never ends (no closing `---` line)",
                )
            })?;
        if let Some(update) = header_settings(config, path, &lines[1..end])? {
            own = Some(update);
        }
        i = end + 1;
    }
    let config = own.as_ref().unwrap_or(config);
    let m = &config.markers;
    // The lines a marker can be on: with the built-in patterns, those holding a backtick or a
    // tilde, found with one search through the text; else every line.
    let candidates: Vec<usize> = if m.fence_hint.is_some() && m.ignore_hint.is_some() {
        let mut found = Vec::new();
        let mut line = 0;
        for at in memchr::memchr2_iter(b'`', b'~', text.as_bytes()) {
            while line + 1 < lines.len() && offset(lines[line + 1]) <= at {
                line += 1;
            }
            if found.last() != Some(&line) {
                found.push(line);
            }
        }
        found
    } else {
        (0..lines.len()).collect()
    };
    // The candidate lines from line `from` on.
    let from = |from: usize| {
        let k = candidates.partition_point(|&c| c < from);
        candidates[k..].iter().copied()
    };
    while let Some(next) = from(i).next() {
        i = next;
        let line = lines[i].trim_end();
        if m.may_ignore(line) && m.begin_ignore.is_match(line) {
            let end = from(i + 1)
                .find(|&k| m.may_ignore(lines[k]) && m.end_ignore.is_match(lines[k].trim_end()))
                .ok_or_else(|| {
                    err(
                        path,
                        i + 1,
                        1,
                        "this `~~~markdown` region never ends (no closing `~~~` line)",
                    )
                })?;
            i = end + 1;
            continue;
        }
        let Some((indent, props)) = m.may_fence(line).then(|| m.open_match(line)).flatten() else {
            i += 1;
            continue;
        };
        let indent = indent.to_string();
        let mut close = None;
        for k in from(i + 1) {
            let l = lines[k];
            let Some(ci) = m
                .may_fence(l)
                .then(|| m.close_match(l.trim_end()))
                .flatten()
            else {
                continue;
            };
            if ci.chars().count() < indent.chars().count() {
                return Err(err(
                    path,
                    k + 1,
                    1,
                    format!(
                        "this closing fence is indented less than the block it closes (opened at line {})",
                        i + 1
                    ),
                ));
            }
            if ci == indent {
                close = Some(k);
                break;
            }
        }
        let close = close.ok_or_else(|| {
            err(
                path,
                i + 1,
                1,
                "this code block never ends (no closing fence with its indentation)",
            )
        })?;
        let mut source = Vec::with_capacity(close - i - 1);
        let mut verbatim = Vec::new();
        for (k, l) in lines.iter().enumerate().take(close).skip(i + 1) {
            let body = match l.strip_prefix(indent.as_str()) {
                Some(rest) => rest,
                None if l.trim().is_empty() => {
                    verbatim.push(k + 1);
                    l
                }
                None => {
                    return Err(err(
                        path,
                        k + 1,
                        1,
                        format!(
                            "this line is indented less than its code block's fence (line {}); every line of the block needs the fence's indentation",
                            i + 1
                        ),
                    ))
                }
            };
            let start = offset(body);
            source.push(Line {
                n: (k + 1) as u32,
                start: start as u32,
                end: (start + body.len()) as u32,
            });
        }
        let mut block = Block {
            properties: properties::read(props),
            indent,
            open_line: i + 1,
            close_line: close + 1,
            header: Vec::new(),
            source,
            verbatim,
        };
        run_hooks(config, path, text, &mut block, &mut warnings)?;
        blocks.push(block);
        i = close + 1;
    }
    let config = own.clone();
    Ok(Reading {
        blocks,
        warnings,
        config,
    })
}

/// The settings of a YAML header (its lines, without the `---` lines) that has an `entangled`
/// key, on top of `config`. A header that is not YAML, or not a mapping, is an error, as in
/// Entangled.
fn header_settings(
    config: &Config,
    path: &Path,
    lines: &[&str],
) -> Result<Option<Config>, Diagnostic> {
    use yaml_rust2::{Yaml, YamlLoader};
    let docs = YamlLoader::load_from_str(&lines.join("\n")).map_err(|e| {
        err(
            path,
            e.marker().line() + 1,
            e.marker().col() + 1,
            format!("the YAML header is not YAML: {}", e.info()),
        )
    })?;
    let yaml = docs.into_iter().next().unwrap_or(Yaml::Null);
    let map = match yaml {
        Yaml::Hash(map) => map,
        Yaml::Null => return Ok(None),
        _ => {
            return Err(err(
                path,
                1,
                1,
                "the YAML header must be a mapping (Entangled reads its `entangled` key)",
            ))
        }
    };
    let Some(settings) = map.get(&Yaml::String("entangled".into())) else {
        return Ok(None);
    };
    let at = lines
        .iter()
        .position(|l| l.starts_with("entangled:"))
        .map_or(2, |k| k + 2);
    let Yaml::Hash(settings) = settings else {
        return Err(err(
            path,
            at,
            1,
            "`entangled` in the YAML header must be a mapping of settings",
        ));
    };
    let mut toml = String::new();
    for (k, v) in settings {
        let Yaml::String(key) = k else { continue };
        let Some(value) = toml_value(v) else {
            return Err(err(
                path,
                at,
                1,
                format!("`entangled.{key}` in the YAML header is no setting this tangler reads"),
            ));
        };
        toml.push_str(&format!("{key} = {value}\n"));
    }
    config.updated(path, &toml, &[]).map(Some).map_err(|e| {
        err(
            path,
            at,
            1,
            format!("in the YAML header's `entangled` settings: {}", e.message),
        )
    })
}

/// A YAML value written as a TOML one (strings, numbers, booleans, lists, mappings).
fn toml_value(v: &yaml_rust2::Yaml) -> Option<String> {
    use yaml_rust2::Yaml;
    Some(match v {
        Yaml::String(s) => serde_json::to_string(s).ok()?,
        Yaml::Integer(n) => n.to_string(),
        Yaml::Real(r) => r.clone(),
        Yaml::Boolean(b) => b.to_string(),
        Yaml::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(toml_value)
                .collect::<Option<Vec<_>>>()?
                .join(", ")
        ),
        Yaml::Hash(map) => {
            let mut parts = Vec::new();
            for (k, v) in map {
                let Yaml::String(k) = k else { return None };
                parts.push(format!(
                    "{} = {}",
                    serde_json::to_string(k).ok()?,
                    toml_value(v)?
                ));
            }
            format!("{{ {} }}", parts.join(", "))
        }
        _ => return None,
    })
}

/// The hooks that edit a block as it is read, in Entangled's order.
fn run_hooks(
    config: &Config,
    path: &Path,
    text: &str,
    block: &mut Block,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    for hook in &config.hooks {
        let first = block.source.first().map(|l| l.of(text));
        match hook {
            Hook::QuartoAttributes => quarto_attributes(config, path, text, block, warnings)?,
            Hook::Shebang => {
                if first.is_some_and(|l| l.starts_with("#!")) {
                    block.header.push(block.source.remove(0));
                }
            }
            Hook::SpdxLicense => {
                if first.is_some_and(|l| l.contains("SPDX-License-Identifier")) {
                    block.header.push(block.source.remove(0));
                }
            }
        }
    }
    Ok(())
}

/// Quarto's `#| key: value` lines at the top of a block (comment syntax of its language):
/// read as YAML, they add an id, classes and attributes, and leave the block.
fn quarto_attributes(
    config: &Config,
    path: &Path,
    text: &str,
    block: &mut Block,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    let Some(comment) =
        properties::language(&block.properties).and_then(|l| config.languages.get(l))
    else {
        return Ok(());
    };
    let open = comment.open.as_str();
    let yaml_line = |l: &str| -> Option<String> {
        let rest = l.strip_prefix(open)?.trim_start();
        rest.strip_prefix('|').map(str::to_string)
    };
    let mut header = Vec::new();
    let mut body_start = 0;
    for (k, l) in block.source.iter().enumerate() {
        match yaml_line(l.of(text)) {
            Some(y) => header.push(y),
            None => {
                body_start = k;
                break;
            }
        }
    }
    // As Entangled does: when every line is an attribute line, none leaves the block (but the
    // attributes are still read).
    let at = block.source.first().map_or(block.open_line, Line::n);
    let docs = yaml_rust2::YamlLoader::load_from_str(&header.join("\n")).map_err(|e| {
        err(
            path,
            at,
            1,
            format!("the `#|` attribute lines are not YAML: {e}"),
        )
    })?;
    let Some(yaml) = docs.into_iter().next() else {
        return Ok(());
    };
    use yaml_rust2::Yaml;
    let Yaml::Hash(map) = yaml else {
        if !matches!(yaml, Yaml::Null) {
            warnings.push(Diagnostic::warning(
                Pos::new(path, at, 1),
                "the `#|` attribute lines are not a mapping; ignored (as Entangled does)",
            ));
        }
        return Ok(());
    };
    let mut props = Vec::new();
    for (k, v) in &map {
        let key = match k {
            Yaml::String(s) => s.clone(),
            other => scalar(other).unwrap_or_default(),
        };
        match key.as_str() {
            "id" => match v {
                Yaml::String(s) => props.push(Property::Id(s.clone())),
                _ => {
                    warnings.push(Diagnostic::warning(
                        Pos::new(path, at, 1),
                        "the `#| id:` is not a string; the attribute lines are ignored (as Entangled does)",
                    ));
                    return Ok(());
                }
            },
            "classes" => {
                if let Yaml::Array(items) = v {
                    for c in items {
                        match c {
                            Yaml::String(s) => props.push(Property::Class(s.clone())),
                            _ => {
                                warnings.push(Diagnostic::warning(
                                    Pos::new(path, at, 1),
                                    "the `#| classes:` are not all strings; the attribute lines are ignored (as Entangled does)",
                                ));
                                return Ok(());
                            }
                        }
                    }
                }
            }
            // `file` names a path and `mode` permissions; any other attribute may hold any
            // YAML value (a list, nothing), which tangling never reads.
            "file" | "mode" => {
                let Some(value) = scalar(v) else {
                    return Err(err(
                        path,
                        at,
                        1,
                        format!("the `#| {key}:` attribute must be a single value"),
                    ));
                };
                props.push(Property::Attribute { key, value });
            }
            _ => {
                let value = scalar(v).unwrap_or_default();
                props.push(Property::Attribute { key, value });
            }
        }
    }
    block.source.drain(..body_start);
    block.properties.extend(props);
    Ok(())
}

/// A YAML scalar as text.
fn scalar(v: &yaml_rust2::Yaml) -> Option<String> {
    use yaml_rust2::Yaml;
    match v {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(n) => Some(n.to_string()),
        Yaml::Boolean(b) => Some(if *b { "True".into() } else { "False".into() }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines' numbers and texts, in document `d` read from `original`.
    fn texts<'d>(d: &'d Document, original: &'d str, lines: &[Line]) -> Vec<(usize, &'d str)> {
        lines
            .iter()
            .map(|l| (l.n(), l.of(d.text(original))))
            .collect()
    }

    fn doc(text: &str) -> Result<Document, Diagnostic> {
        read(&Config::default(), Path::new("a.md"), text)
    }

    #[test]
    fn blocks_by_lines() {
        let text = "---\ntitle: x\n---\n# T\n\n``` {.rust #a}\nfn a() {}\n```\n\n~~~markdown\n```{.rust #b}\nx\n```\n~~~\n  ```{.rust file=x.rs}\n  #!/bin/sh\n\n  <<a>>\n    ```\n  ```\n";
        let d = doc(text).unwrap();
        assert_eq!(d.blocks.len(), 2);
        assert!(d.config.is_none());
        let b = &d.blocks[0];
        assert_eq!((b.open_line, b.close_line), (6, 8));
        assert_eq!(texts(&d, text, &b.source), [(7, "fn a() {}")]);
        let b = &d.blocks[1];
        assert_eq!(b.indent, "  ");
        assert_eq!(texts(&d, text, &b.header), [(16, "#!/bin/sh")]);
        assert_eq!(
            texts(&d, text, &b.source),
            [(17, ""), (18, "<<a>>"), (19, "  ```")]
        );
    }

    #[test]
    fn errors() {
        let e = doc("```{.rust}\nx\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("a.md", 1, 1)));
        let e = doc("  ```{.rust}\n  x\n y\n  ```\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("a.md", 3, 1)));
        let e = doc("  ```{.rust}\n  x\n```\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("a.md", 3, 1)));
    }

    #[test]
    fn yaml_header_settings() {
        let d = doc("---\ntitle: x\nentangled:\n  version: \"2.4\"\n  style: basic\n  namespace: ns\n---\n```rust #a\nx\n```\n").unwrap();
        assert_eq!(
            d.blocks.len(),
            1,
            "the basic style reads a fence without braces"
        );
        let c = d.config.unwrap();
        assert_eq!(
            c.namespace,
            super::super::config::Namespace::Fixed(vec!["ns".into()])
        );
        let e = doc("---\n- a list\n---\n").unwrap_err();
        assert!(e.message.contains("mapping"), "{e}");
        let e = doc("---\nentangled:\n  annotation: fancy\n---\n").unwrap_err();
        assert_eq!(e.pos, Some(Pos::new("a.md", 2, 1)), "{e}");
    }

    #[test]
    fn quarto_attributes_hold_any_yaml() {
        let c = Config::parse(Path::new("entangled.toml"), "style = \"basic\"\n", &[]).unwrap();
        let text = "```python\n#| id: a\n#| file: a.py\n#| creates: [x, y]\n#| requires: #b\nprint(1)\n```\n";
        let d = read(&c, Path::new("a.md"), text).unwrap();
        let b = &d.blocks[0];
        assert_eq!(properties::id(&b.properties), Some("a"));
        assert_eq!(properties::attribute(&b.properties, "file"), Some("a.py"));
        assert_eq!(texts(&d, text, &b.source), [(6, "print(1)")]);
        let e = read(
            &c,
            Path::new("a.md"),
            "```python\n#| file: [a, b]\nx\n```\n",
        )
        .unwrap_err();
        assert!(e.message.contains("`#| file:`"), "{e}");
    }

    #[test]
    fn crlf() {
        let text = "```{.rust #a}\r\nx\r\n```\r\n";
        let d = doc(text).unwrap();
        assert_eq!(texts(&d, text, &d.blocks[0].source), [(2, "x")]);
    }
}
