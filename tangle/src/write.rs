//! The writer: puts complete outputs on disk atomically, touching only what changed.
//!
//! Every target is checked before the first byte is written. Each file is replaced through a
//! temporary file and a rename (which also works over read-only files); a file whose content
//! is unchanged is left alone, so its modification time stays. A manifest remembers what the
//! last run wrote, so that outputs no root produces any more can be removed, and only those.

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::output::Output;
use crate::tangle::{check_target, HEADER_MARK};
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Name of the manifest, in the project root.
pub const MANIFEST: &str = ".tangled";

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub written: Vec<PathBuf>,
    pub unchanged: Vec<PathBuf>,
    pub removed: Vec<PathBuf>,
}

/// Where outputs go and how far they may reach.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The folder that output paths are relative to.
    pub base: &'a Path,
    /// Whether outputs must stay inside `base` (Markdown books), or may go anywhere (org, as Emacs).
    pub confine: bool,
    /// Whether to keep a manifest in `base` and remove stale outputs.
    pub manifest: bool,
}

/// The manifest's text for a set of outputs.
pub fn manifest_text(outputs: &[Output]) -> String {
    let mut paths: Vec<String> = outputs
        .iter()
        .map(|o| o.path.display().to_string())
        .collect();
    paths.sort();
    let mut text = String::from(
        "# Files written by `tangle`; stale ones listed here are removed on the next run.\n",
    );
    for p in paths {
        text.push_str(&p);
        text.push('\n');
    }
    text
}

fn manifest_entries(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(PathBuf::from)
        .collect()
}

/// Checks that `rel` stays inside `base` even through symbolic links that already exist.
fn confined(base: &Path, rel: &Path) -> Result<(), String> {
    check_target(rel).map_err(str::to_string)?;
    let base =
        fs::canonicalize(base).map_err(|e| format!("cannot resolve {}: {e}", base.display()))?;
    let full = base.join(rel);
    let existing = full
        .ancestors()
        .find(|p| fs::symlink_metadata(p).is_ok())
        .unwrap_or(&base);
    match fs::canonicalize(existing) {
        Ok(real) if real.starts_with(&base) => Ok(()),
        Ok(real) => Err(format!(
            "the target leaves the project through a symbolic link (to {})",
            real.display()
        )),
        Err(e) => Err(format!("a symbolic link on the way is broken: {e}")),
    }
}

/// Checks every target, then writes the outputs that changed, then removes stale outputs.
/// `origin` names the position to blame for a bad target.
pub fn write_all(
    target: Target<'_>,
    outputs: &[Output],
    origin: &dyn Fn(&Output) -> Pos,
) -> Result<Report, Diagnostics> {
    let mut errors = Vec::new();
    for o in outputs {
        let full = target.base.join(&o.path);
        let problem = if target.confine {
            confined(target.base, &o.path).err()
        } else {
            None
        };
        let problem =
            problem.or_else(|| full.is_dir().then(|| "the target is a folder".to_string()));
        let problem = problem.or_else(|| {
            let parent = full.parent()?;
            (!o.mkdirp && !parent.as_os_str().is_empty() && !parent.is_dir()).then(|| {
                format!(
                    "folder {} does not exist (add `:mkdirp yes`)",
                    parent.display()
                )
            })
        });
        if let Some(why) = problem {
            errors.push(Diagnostic::error(
                origin(o),
                format!("cannot write `{}`: {why}", o.path.display()),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Diagnostics(errors));
    }
    let mut report = Report::default();
    let io_err = |o: &Output, e: std::io::Error| {
        Diagnostics::from(Diagnostic::error(
            origin(o),
            format!("cannot write `{}`: {e}", o.path.display()),
        ))
    };
    for o in outputs {
        let full = target.base.join(&o.path);
        if fs::read(&full).is_ok_and(|old| old == o.content) {
            let meta = fs::metadata(&full).map_err(|e| io_err(o, e))?;
            if meta.permissions().mode() & 0o7777 != o.mode {
                fs::set_permissions(&full, fs::Permissions::from_mode(o.mode))
                    .map_err(|e| io_err(o, e))?;
            }
            report.unchanged.push(o.path.clone());
            continue;
        }
        replace(&full, &o.content, o.mode).map_err(|e| io_err(o, e))?;
        report.written.push(o.path.clone());
    }
    if target.manifest {
        let path = target.base.join(MANIFEST);
        let old = fs::read_to_string(&path).unwrap_or_default();
        for stale in manifest_entries(&old) {
            if outputs.iter().any(|o| o.path == stale) || check_target(&stale).is_err() {
                continue;
            }
            let full = target.base.join(&stale);
            let ours = fs::read_to_string(&full)
                .is_ok_and(|t| t.lines().next().is_some_and(|l| l.contains(HEADER_MARK)));
            if ours && fs::remove_file(&full).is_ok() {
                report.removed.push(stale);
            }
        }
        let new = manifest_text(outputs);
        if new != old {
            replace(&path, new.as_bytes(), 0o644).map_err(|e| {
                Diagnostics::from(Diagnostic::error(
                    Pos::new(&path, 1, 1),
                    format!("cannot write the manifest: {e}"),
                ))
            })?;
        }
    }
    Ok(report)
}

/// Replaces `path` with `content` through a temporary file in the same folder and a rename.
pub fn replace(path: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.tangle-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(content)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// One output that differs from the disk, with a unified diff (disk → tangled).
#[derive(Debug, Clone)]
pub struct Difference {
    pub path: PathBuf,
    pub diff: String,
}

/// Compares outputs (and the manifest, when kept) with the files on disk.
pub fn check_all(target: Target<'_>, outputs: &[Output]) -> Vec<Difference> {
    let mut diffs = Vec::new();
    let mut compare = |rel: &Path, new: &[u8]| {
        let full = target.base.join(rel);
        let old = fs::read(&full).unwrap_or_default();
        if old != new {
            let old = String::from_utf8_lossy(&old);
            let new = String::from_utf8_lossy(new);
            let a = format!("a/{}", rel.display());
            let b = format!("b/{}", rel.display());
            let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
                .unified_diff()
                .context_radius(3)
                .header(&a, &b)
                .to_string();
            let diff = if diff.is_empty() {
                format!("{}: differs (no line-level change shown)\n", rel.display())
            } else {
                diff
            };
            diffs.push(Difference {
                path: rel.to_path_buf(),
                diff,
            });
        }
    };
    for o in outputs {
        compare(&o.path, &o.content);
    }
    if target.manifest {
        compare(Path::new(MANIFEST), manifest_text(outputs).as_bytes());
    }
    diffs
}
