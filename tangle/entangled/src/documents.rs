//! Which documents an Entangled book reads: the files its watch list's patterns find (Python's
//! `Path.glob`), less those its ignore list matches (`PurePath.match`), in Python's order.

use super::config::Config;
use std::path::{Path, PathBuf};

/// The documents an Entangled book reads from `root`: the files its watch list's patterns
/// find, less those its ignore list matches, sorted as Python sorts paths (part by part).
pub fn documents(root: &Path, config: &Config) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = Vec::new();
    for pattern in &config.watch_list {
        glob(root, pattern, &mut found);
    }
    found.retain(|p| !config.ignore_list.iter().any(|pat| path_match(p, pat)));
    found.sort_by(|a, b| a.components().cmp(b.components()));
    found.dedup();
    found
}

/// A glob's one part (`*`, `?`, `[...]`) as a regular expression.
fn part_regex(part: &str) -> regex::Regex {
    let mut re = String::from(r"\A(?s:");
    let mut chars = part.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut class = String::new();
                let mut closed = false;
                let mut first = true;
                while let Some(&d) = chars.peek() {
                    chars.next();
                    if d == ']' && !first {
                        closed = true;
                        break;
                    }
                    if first && d == '!' {
                        class.push('^');
                    } else if d == '\\' || d == '[' || d == '^' && !first {
                        class.push('\\');
                        class.push(d);
                    } else {
                        class.push(d);
                    }
                    first = false;
                }
                if closed {
                    re.push('[');
                    re.push_str(&class);
                    re.push(']');
                } else {
                    re.push_str(&regex::escape("["));
                    re.push_str(&regex::escape(&class));
                }
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(r")\z");
    regex::Regex::new(&re).unwrap_or_else(|_| regex::Regex::new(r"\A\z").expect("valid"))
}

/// Every file below `root` that `pattern` (Python's `Path.glob`: `**` any depth of folders)
/// finds, relative to `root`.
fn glob(root: &Path, pattern: &str, found: &mut Vec<PathBuf>) {
    let parts: Vec<&str> = pattern
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    let mut here = vec![PathBuf::new()];
    for (k, part) in parts.iter().enumerate() {
        let last = k + 1 == parts.len();
        let mut next = Vec::new();
        if *part == "**" {
            for dir in here {
                let mut stack = vec![dir];
                while let Some(d) = stack.pop() {
                    if let Ok(entries) = std::fs::read_dir(root.join(&d)) {
                        for e in entries.flatten() {
                            if e.path().is_dir() {
                                stack.push(d.join(e.file_name()));
                            }
                        }
                    }
                    next.push(d);
                }
            }
            if last {
                // `a/**` names folders only.
                return;
            }
        } else {
            let re = part_regex(part);
            let literal = !part.contains(['*', '?', '[']);
            for dir in here {
                if literal {
                    let p = dir.join(part);
                    if root.join(&p).exists() {
                        next.push(p);
                    }
                    continue;
                }
                if let Ok(entries) = std::fs::read_dir(root.join(&dir)) {
                    for e in entries.flatten() {
                        let name = e.file_name();
                        if re.is_match(&name.to_string_lossy()) {
                            next.push(dir.join(name));
                        }
                    }
                }
            }
        }
        here = next;
    }
    found.extend(here.into_iter().filter(|p| root.join(p).is_file()));
}

/// Python's `PurePath.match`: a relative pattern matches the path's last parts.
fn path_match(path: &Path, pattern: &str) -> bool {
    let pats: Vec<&str> = pattern.split('/').filter(|p| !p.is_empty()).collect();
    let parts: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if pats.is_empty() || pats.len() > parts.len() {
        return false;
    }
    let from = if pattern.starts_with('/') {
        if pats.len() != parts.len() {
            return false;
        }
        0
    } else {
        parts.len() - pats.len()
    };
    pats.iter()
        .zip(&parts[from..])
        .all(|(p, s)| part_regex(p).is_match(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(path_match(Path::new("docs/a/b.md"), "a/*.md"));
        assert!(!path_match(Path::new("docs/a/b.md"), "docs/*.md"));
        assert!(part_regex("[!a]*.md").is_match("b.md"));
        assert!(!part_regex("[!a]*.md").is_match("a.md"));
    }
}
