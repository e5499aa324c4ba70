//! Paths as the tangler compares and prints them: one lexical normalizer for every module.

use std::path::{Component, Path, PathBuf};

/// `path` without `.` components and with each `..` cancelling the normal component before it,
/// as Emacs' `expand-file-name` does, without looking at the disk (symbolic links are not
/// followed). A leading `..` that has nothing to cancel is kept.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let cancels = matches!(out.components().next_back(), Some(Component::Normal(_)));
                if cancels {
                    out.pop();
                } else if !matches!(out.components().next_back(), Some(Component::RootDir)) {
                    out.push("..");
                }
            }
            c => out.push(c.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Whether two paths name the same file once normalized (`./a/b` is `a/x/../b`).
pub fn same(a: &Path, b: &Path) -> bool {
    normalize(a) == normalize(b)
}

/// `path` as seen from `base`, both normalized: inside `base` a plain relative path, beside it
/// one that climbs with `..`; `path` itself when the two cannot be related (one absolute, the
/// other not, or `base` climbing out of where it starts).
pub fn relative_to(path: &Path, base: &Path) -> PathBuf {
    let path = normalize(path);
    let base = normalize(base);
    if path.is_absolute() != base.is_absolute()
        || base.components().any(|c| c == Component::ParentDir)
    {
        return path;
    }
    let base = if base == Path::new(".") {
        PathBuf::new()
    } else {
        base
    };
    let shared = path
        .components()
        .zip(base.components())
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in base.components().skip(shared) {
        out.push("..");
    }
    for c in path.components().skip(shared) {
        out.push(c.as_os_str());
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// A target must stay inside the project: relative, without `..`.
pub fn check_target(path: &Path) -> Result<(), &'static str> {
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => {
                return Err("the target must be a relative path inside the project")
            }
            Component::ParentDir => return Err("the target must not leave the project (`..`)"),
            Component::CurDir | Component::Normal(_) => {}
        }
    }
    if path.file_name().is_none() {
        return Err("the target names no file");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_normal_forms() {
        for (given, want) in [
            ("././exwm", "exwm"),
            ("a/./b/../c", "a/c"),
            ("../x", "../x"),
            ("a/../../x", "../x"),
            ("/../x", "/x"),
            ("/a/b/../c", "/a/c"),
            (".", "."),
            ("a/..", "."),
        ] {
            assert_eq!(normalize(Path::new(given)), PathBuf::from(want), "{given}");
        }
        assert!(same(Path::new("./src/x.rs"), Path::new("src/y/../x.rs")));
        assert_eq!(
            relative_to(Path::new("/p/./q/r.rs"), Path::new("/p")),
            PathBuf::from("q/r.rs")
        );
        assert_eq!(
            relative_to(Path::new("/elsewhere/r.rs"), Path::new("/p")),
            PathBuf::from("../elsewhere/r.rs")
        );
        assert_eq!(
            relative_to(Path::new("/p/r.org"), Path::new("/p/src")),
            PathBuf::from("../r.org")
        );
        assert_eq!(
            relative_to(Path::new("a/b"), Path::new(".")),
            PathBuf::from("a/b")
        );
        assert_eq!(
            relative_to(Path::new("a/b"), Path::new("/p")),
            PathBuf::from("a/b")
        );
    }
}
