//! The compiler's view of a book's Rust outputs: rust-analyzer's SCIP index
//! (`rust-analyzer scip ROOT`), read with the `scip` crate, boiled down to what the site shows
//! and cached under the target folder, keyed by a hash of the outputs, so that a book whose
//! outputs did not change is not indexed again.
//!
//! [`load`] returns the index of the outputs, or a one-line reason why there is none (no
//! rust-analyzer, a failed run, outputs on disk that are not those the chapters tangle to).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cache file's first line; a file that starts otherwise is indexed again.
const FORMAT: &str = "tangle-identifiers 1";

/// What the site needs of a SCIP index: the occurrences in the book's Rust outputs and what is
/// known of the symbols defined there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Index {
    /// Every symbol string that occurs (interned: occurrences and infos refer to it by index).
    pub symbols: Vec<String>,
    pub docs: Vec<Doc>,
}

/// One output file of the index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Doc {
    /// Relative to the project root, `/`-separated (`src/main.rs`).
    pub path: String,
    pub occurrences: Vec<Occurrence>,
    /// What the document says of the symbols it defines (locals left out).
    pub infos: Vec<Info>,
}

/// A symbol's name at a place of a document (one line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// 0-based line.
    pub line: u32,
    /// Byte offsets in the line (UTF-8), end exclusive.
    pub start: u32,
    pub end: u32,
    /// Index in [`Index::symbols`].
    pub symbol: u32,
    /// Whether this is the symbol's definition.
    pub definition: bool,
}

/// A symbol defined in a document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Info {
    /// Index in [`Index::symbols`].
    pub symbol: u32,
    /// SCIP's kind (`Struct`, `Method`, `EnumMember`, ...).
    pub kind: String,
    pub name: String,
    /// The signature as rust-analyzer shows it in a hover (`pub enum Phase`).
    pub signature: String,
    /// The first line of the doc comment.
    pub doc: String,
}

/// Whether a SCIP symbol is local to a function (`local 12`): such symbols are not linked.
pub fn is_local(symbol: &str) -> bool {
    scip::symbol::is_local_symbol(symbol)
}

/// The index of `files` (path relative to `root`, and the bytes the chapters tangle to), from
/// the cache in `cache_dir` when it holds one made from these very bytes, else made by running
/// `rust-analyzer scip` on `root` (and cached). `Err` is a one-line reason for having none.
pub fn load(root: &Path, cache_dir: &Path, files: &[(PathBuf, &[u8])]) -> Result<Index, String> {
    for (path, bytes) in files {
        match std::fs::read(root.join(path)) {
            Ok(disk) if disk == *bytes => {}
            Ok(_) => {
                return Err(format!(
                    "{} is not what the chapters tangle to (run `tangle` first)",
                    path.display()
                ))
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    let key = cache_key(root, files);
    let cache = cache_dir.join(format!("identifiers-{key:016x}.tsv"));
    if let Ok(text) = std::fs::read_to_string(&cache) {
        if let Some(index) = decode(&text) {
            return Ok(index);
        }
    }
    let index = run_rust_analyzer(root, cache_dir, files)?;
    if std::fs::create_dir_all(cache_dir).is_ok() {
        // One index is kept: the others are of outputs that are gone.
        if let Ok(dir) = std::fs::read_dir(cache_dir) {
            for e in dir.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with("identifiers-") && name.ends_with(".tsv") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let tmp = cache.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, encode(&index)).is_ok() && std::fs::rename(&tmp, &cache).is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    Ok(index)
}

/// The hash the cache is keyed by: the files' paths and bytes, and the lock file (the
/// dependencies' versions are in the symbols).
fn cache_key(root: &Path, files: &[(PathBuf, &[u8])]) -> u64 {
    let mut all = Vec::new();
    all.extend_from_slice(FORMAT.as_bytes());
    for (path, bytes) in files {
        all.extend_from_slice(path.to_string_lossy().as_bytes());
        all.push(0);
        all.extend_from_slice(&tangle_core::hash::content_hash(bytes).to_le_bytes());
    }
    if let Ok(lock) = std::fs::read(root.join("Cargo.lock")) {
        all.extend_from_slice(&tangle_core::hash::content_hash(&lock).to_le_bytes());
    }
    tangle_core::hash::content_hash(&all)
}

/// The rust-analyzer to run: `$RUST_ANALYZER`, else `rust-analyzer` on the PATH.
fn rust_analyzer() -> PathBuf {
    std::env::var_os("RUST_ANALYZER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("rust-analyzer"))
}

fn run_rust_analyzer(
    root: &Path,
    cache_dir: &Path,
    files: &[(PathBuf, &[u8])],
) -> Result<Index, String> {
    let ra = rust_analyzer();
    let found = Command::new(&ra)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success());
    if found.is_none() {
        return Err(
            "rust-analyzer was not found (install it with `rustup component add rust-analyzer`)"
                .into(),
        );
    }
    std::fs::create_dir_all(cache_dir)
        .map_err(|e| format!("cannot make {}: {e}", cache_dir.display()))?;
    let out = cache_dir.join(format!("index-{}.scip", std::process::id()));
    eprintln!(
        "tangle preprocessor: indexing identifiers with rust-analyzer (a minute or two; cached in {})",
        cache_dir.display()
    );
    let run = Command::new(&ra)
        .arg("scip")
        .arg(root)
        .arg("--output")
        .arg(&out)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run rust-analyzer: {e}"))?;
    let bytes = std::fs::read(&out);
    let _ = std::fs::remove_file(&out);
    if !run.status.success() {
        let stderr = String::from_utf8_lossy(&run.stderr);
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(format!(
            "`rust-analyzer scip` failed ({}): {}",
            run.status,
            last.unwrap_or("no message")
        ));
    }
    let bytes = bytes.map_err(|e| format!("rust-analyzer wrote no index: {e}"))?;
    read(&bytes, files).map_err(|e| format!("cannot read rust-analyzer's index: {e}"))
}

/// The part of a SCIP index (protobuf bytes) that covers `files`.
pub fn read(bytes: &[u8], files: &[(PathBuf, &[u8])]) -> Result<Index, String> {
    use protobuf::Message as _;
    use scip::types::SymbolRole;
    let index = scip::types::Index::parse_from_bytes(bytes).map_err(|e| e.to_string())?;
    let wanted: HashMap<String, &[u8]> = files
        .iter()
        .map(|(p, b)| (p.to_string_lossy().replace('\\', "/"), *b))
        .collect();
    let mut out = Index::default();
    let mut ids: HashMap<String, u32> = HashMap::new();
    let mut intern = |s: &str, symbols: &mut Vec<String>| -> u32 {
        if let Some(&i) = ids.get(s) {
            return i;
        }
        let i = symbols.len() as u32;
        ids.insert(s.to_string(), i);
        symbols.push(s.to_string());
        i
    };
    for d in &index.documents {
        let Some(text) = wanted.get(&d.relative_path) else {
            continue;
        };
        // Positions are UTF-8 offsets unless the document says UTF-16 or characters.
        let encoding = d.position_encoding.enum_value_or_default();
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        let mut doc = Doc {
            path: d.relative_path.clone(),
            ..Doc::default()
        };
        for o in &d.occurrences {
            if o.symbol.is_empty() || is_local(&o.symbol) {
                continue;
            }
            let (line, start, end) = match o.range.as_slice() {
                [l, s, e] => (*l, *s, *e),
                [l, s, l2, e] if l == l2 => (*l, *s, *e),
                _ => continue,
            };
            let Some(bytes_of_line) = lines.get(line as usize) else {
                continue;
            };
            let Some((start, end)) = to_bytes(bytes_of_line, start, end, encoding) else {
                continue;
            };
            let definition = o.symbol_roles & (SymbolRole::Definition as i32) != 0;
            doc.occurrences.push(Occurrence {
                line: line as u32,
                start,
                end,
                symbol: intern(&o.symbol, &mut out.symbols),
                definition,
            });
        }
        for s in &d.symbols {
            if s.symbol.is_empty() || is_local(&s.symbol) {
                continue;
            }
            let doc_line = s
                .documentation
                .iter()
                .find(|t| !t.trim_start().starts_with("```"))
                .and_then(|t| t.lines().map(str::trim).find(|l| !l.is_empty()))
                .unwrap_or_default();
            doc.infos.push(Info {
                symbol: intern(&s.symbol, &mut out.symbols),
                kind: format!("{:?}", s.kind.enum_value_or_default()),
                name: s.display_name.clone(),
                signature: s.signature_documentation.text.clone(),
                doc: doc_line.to_string(),
            });
        }
        out.docs.push(doc);
    }
    out.docs.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// A SCIP symbol taken apart: its package and its descriptors (name and suffix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub package: String,
    pub version: String,
    pub descriptors: Vec<(String, Suffix)>,
}

/// What a descriptor names (SCIP's suffixes, those rust-analyzer writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suffix {
    Namespace,
    Type,
    Term,
    Method,
    TypeParameter,
    Macro,
    Other,
}

/// A global symbol taken apart; `None` for a local or malformed one.
pub fn parse(symbol: &str) -> Option<Parsed> {
    use scip::types::descriptor::Suffix as S;
    if is_local(symbol) {
        return None;
    }
    let s = scip::symbol::parse_symbol(symbol).ok()?;
    let descriptors = s
        .descriptors
        .iter()
        .map(|d| {
            let suffix = match d.suffix.enum_value_or_default() {
                S::Namespace => Suffix::Namespace,
                S::Type => Suffix::Type,
                S::Term => Suffix::Term,
                S::Method => Suffix::Method,
                S::TypeParameter => Suffix::TypeParameter,
                S::Macro => Suffix::Macro,
                _ => Suffix::Other,
            };
            (d.name.clone(), suffix)
        })
        .collect();
    Some(Parsed {
        package: s.package.name.clone(),
        version: s.package.version.clone(),
        descriptors,
    })
}

impl Parsed {
    /// The module path (`message`, `net::tcp`), `crate` left out.
    pub fn module(&self) -> String {
        self.descriptors
            .iter()
            .take_while(|(_, s)| *s == Suffix::Namespace)
            .map(|(n, _)| n.as_str())
            .filter(|n| *n != "crate")
            .collect::<Vec<_>>()
            .join("::")
    }

    /// The type an associated item belongs to: `Type#member.` belongs to `Type#`;
    /// `impl#[Type]method().` and `impl#[Type][Trait]method().` to `Type#` in the same module.
    pub fn parent_symbol(&self, symbol: &str) -> Option<String> {
        use scip::types::descriptor::Suffix as S;
        let (last, _) = self.descriptors.split_last()?;
        if !matches!(last.1, Suffix::Term | Suffix::Method | Suffix::Type) {
            return None;
        }
        let s = scip::symbol::parse_symbol(symbol).ok()?;
        let n = self.descriptors.len();
        let impl_at = self
            .descriptors
            .iter()
            .position(|(name, suffix)| name == "impl" && *suffix == Suffix::Type);
        let mut parent = s.clone();
        match impl_at {
            Some(k) if k + 1 < n && self.descriptors[k + 1].1 == Suffix::TypeParameter => {
                let ty = &self.descriptors[k + 1].0;
                let ty = ty.split('<').next().unwrap_or(ty).trim();
                let mut d = s.descriptors[k].clone();
                d.name = ty.to_string();
                d.suffix = S::Type.into();
                parent.descriptors.truncate(k);
                parent.descriptors.push(d);
            }
            Some(_) => return None,
            None => {
                if n < 2 || self.descriptors[n - 2].1 != Suffix::Type {
                    return None;
                }
                parent.descriptors.truncate(n - 1);
            }
        }
        Some(scip::symbol::format_symbol(parent))
    }

    /// Where the documentation of a symbol from std or a dependency is, and a title for it:
    /// a module's page, else rustdoc's search for the item (`Type::method`), since the path a
    /// symbol is defined at may pass through private modules that its documentation does not.
    pub fn docs_link(&self) -> Option<(String, String)> {
        let krate = self.package.replace('-', "_");
        let std = super::identifiers::is_std(&self.package);
        let base = if std {
            format!("https://doc.rust-lang.org/{krate}/")
        } else if self.version.is_empty() {
            format!("https://docs.rs/{}/latest/{krate}/", self.package)
        } else {
            format!("https://docs.rs/{}/{}/{krate}/", self.package, self.version)
        };
        let named: Vec<&(String, Suffix)> = self
            .descriptors
            .iter()
            .filter(|(n, s)| *s != Suffix::TypeParameter && !(n == "impl" && *s == Suffix::Type))
            .collect();
        let path: Vec<&str> = named
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| *n != "crate")
            .collect();
        let title = if path.is_empty() {
            krate.clone()
        } else {
            format!("{krate}::{}", path.join("::"))
        };
        if named.iter().all(|(_, s)| *s == Suffix::Namespace) {
            let mut url = base;
            for p in &path {
                url.push_str(p);
                url.push('/');
            }
            url.push_str("index.html");
            return Some((url, format!("{title} (documentation)")));
        }
        let (last, before) = named.split_last()?;
        let query = match before.last() {
            Some((parent, Suffix::Type)) => {
                format!("{parent}::{}", last.0)
            }
            _ => last.0.clone(),
        };
        let base = if std {
            "https://doc.rust-lang.org/std/".to_string()
        } else {
            base
        };
        Some((
            format!("{base}?search={query}"),
            format!("{title} (documentation)"),
        ))
    }
}

/// Byte offsets in `line` of a SCIP range given in `encoding`.
fn to_bytes(
    line: &[u8],
    start: i32,
    end: i32,
    encoding: scip::types::PositionEncoding,
) -> Option<(u32, u32)> {
    use scip::types::PositionEncoding as E;
    if start < 0 || end < start {
        return None;
    }
    let (start, end) = (start as usize, end as usize);
    let text = std::str::from_utf8(line).ok()?;
    let at = |n: usize, units: fn(char) -> usize| -> Option<usize> {
        let mut count = 0;
        for (i, ch) in text.char_indices() {
            if count >= n {
                return (count == n).then_some(i);
            }
            count += units(ch);
        }
        (count == n).then_some(text.len())
    };
    let (s, e) = match encoding {
        E::UTF16CodeUnitOffsetFromLineStart => {
            (at(start, char::len_utf16)?, at(end, char::len_utf16)?)
        }
        E::UTF32CodeUnitOffsetFromLineStart => (at(start, |_| 1)?, at(end, |_| 1)?),
        _ => (start, end),
    };
    (e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e))
        .then_some((s as u32, e as u32))
}

/// Text fields in the cache: tabs, line ends and backslashes escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('t') => out.push('\t'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(c) => out.push(c),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The cache file: `FORMAT`, then `S symbol` lines, then per document a `D path` line followed
/// by its `O line start end symbol definition` and `I symbol kind name signature doc` lines.
pub fn encode(index: &Index) -> String {
    let mut s = String::new();
    s.push_str(FORMAT);
    s.push('\n');
    for sym in &index.symbols {
        writeln!(s, "S\t{}", escape(sym)).ok();
    }
    for d in &index.docs {
        writeln!(s, "D\t{}", escape(&d.path)).ok();
        for o in &d.occurrences {
            writeln!(
                s,
                "O\t{}\t{}\t{}\t{}\t{}",
                o.line,
                o.start,
                o.end,
                o.symbol,
                u8::from(o.definition)
            )
            .ok();
        }
        for i in &d.infos {
            writeln!(
                s,
                "I\t{}\t{}\t{}\t{}\t{}",
                i.symbol,
                escape(&i.kind),
                escape(&i.name),
                escape(&i.signature),
                escape(&i.doc)
            )
            .ok();
        }
    }
    s
}

/// Reads what [`encode`] wrote; `None` for anything else.
pub fn decode(text: &str) -> Option<Index> {
    let mut lines = text.lines();
    if lines.next()? != FORMAT {
        return None;
    }
    let mut index = Index::default();
    for line in lines {
        let mut f = line.split('\t');
        match f.next()? {
            "S" => index.symbols.push(unescape(f.next()?)),
            "D" => index.docs.push(Doc {
                path: unescape(f.next()?),
                ..Doc::default()
            }),
            "O" => {
                let mut n = || f.next().and_then(|x| x.parse::<u32>().ok());
                let o = Occurrence {
                    line: n()?,
                    start: n()?,
                    end: n()?,
                    symbol: n()?,
                    definition: n()? == 1,
                };
                if o.symbol as usize >= index.symbols.len() {
                    return None;
                }
                index.docs.last_mut()?.occurrences.push(o);
            }
            "I" => {
                let symbol = f.next()?.parse::<u32>().ok()?;
                if symbol as usize >= index.symbols.len() {
                    return None;
                }
                let info = Info {
                    symbol,
                    kind: unescape(f.next()?),
                    name: unescape(f.next()?),
                    signature: unescape(f.next()?),
                    doc: unescape(f.next()?),
                };
                index.docs.last_mut()?.infos.push(info);
            }
            _ => return None,
        }
    }
    Some(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_reads_back_what_it_wrote() {
        let index = Index {
            symbols: vec!["rust-analyzer cargo a 0.1.0 Phase#".into(), "x\ty\\".into()],
            docs: vec![Doc {
                path: "src/main.rs".into(),
                occurrences: vec![Occurrence {
                    line: 3,
                    start: 4,
                    end: 9,
                    symbol: 1,
                    definition: true,
                }],
                infos: vec![Info {
                    symbol: 0,
                    kind: "Enum".into(),
                    name: "Phase".into(),
                    signature: "pub enum Phase\n{}".into(),
                    doc: "Where a \\ connection\tstands.".into(),
                }],
            }],
        };
        assert_eq!(decode(&encode(&index)), Some(index));
        assert_eq!(decode("something else\n"), None);
        assert_eq!(decode(&format!("{FORMAT}\nO\t1\t2\t3\t9\t0\n")), None);
    }

    #[test]
    fn ranges_in_other_encodings_become_bytes() {
        use scip::types::PositionEncoding as E;
        let line = "let s = \"🐰\"; x".as_bytes();
        // `x`: characters 13..14, UTF-16 units 14..15, bytes 16..17.
        assert_eq!(
            to_bytes(line, 13, 14, E::UTF32CodeUnitOffsetFromLineStart),
            Some((16, 17))
        );
        assert_eq!(
            to_bytes(line, 14, 15, E::UTF16CodeUnitOffsetFromLineStart),
            Some((16, 17))
        );
        assert_eq!(
            to_bytes(line, 16, 17, E::UTF8CodeUnitOffsetFromLineStart),
            Some((16, 17))
        );
        assert_eq!(
            to_bytes(line, 10, 17, E::UTF8CodeUnitOffsetFromLineStart),
            None
        );
    }
}
