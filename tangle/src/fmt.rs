//! `tangle fmt`: rustfmt over the Rust outputs, in memory, with the project's own `rustfmt.toml`
//! and edition; what it changes is carried into the documents by [`crate::sync`]. The outputs
//! never need to be written first, and formatting never fights the line maps: it is one more
//! edit that sync carries back line by line.

use crate::diag::{Diagnostic, Diagnostics, Pos};
use crate::output::Tangled;
use crate::paths::normalize;
use crate::project::Project;
use crate::settings::toml_str;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How rustfmt is run for a project: its edition and configuration file.
#[derive(Debug, Clone)]
pub struct Rustfmt {
    pub edition: String,
    pub config: Option<PathBuf>,
}

impl Rustfmt {
    /// The edition of the project's `Cargo.toml` (`[package]`, else `[workspace.package]`,
    /// else 2021) and its `rustfmt.toml` or `.rustfmt.toml`, if any.
    pub fn for_project(root: &Path) -> Rustfmt {
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
        let edition = toml_str(&manifest, &["package", "edition"])
            .or_else(|| toml_str(&manifest, &["workspace", "package", "edition"]))
            .unwrap_or_else(|| "2021".into());
        let config = ["rustfmt.toml", ".rustfmt.toml"]
            .iter()
            .map(|n| root.join(n))
            .find(|p| p.is_file());
        Rustfmt { edition, config }
    }

    /// `text` as rustfmt formats it. Errors: rustfmt missing, or unable to parse the code.
    pub fn format(&self, path: &Path, text: &[u8], blame: &Pos) -> Result<Vec<u8>, Diagnostic> {
        let mut cmd = Command::new(std::env::var_os("RUSTFMT").unwrap_or_else(|| "rustfmt".into()));
        cmd.args(["--edition", &self.edition, "--emit", "stdout", "--quiet"]);
        if let Some(config) = &self.config {
            cmd.arg("--config-path").arg(config);
        }
        let fail = |why: String| {
            Diagnostic::error(
                blame.clone(),
                format!("rustfmt cannot format `{}`: {why}", path.display()),
            )
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| fail(format!("cannot run rustfmt ({e})")))?;
        let mut stdin = child.stdin.take().expect("piped");
        let input = text.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().map_err(|e| fail(e.to_string()))?;
        let _ = writer.join();
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            return Err(fail(
                err.trim().replace("<stdin>", &path.display().to_string()),
            ));
        }
        Ok(out.stdout)
    }
}

/// The Rust outputs of `tangled` that rustfmt would change, with their formatted text.
pub fn unformatted(
    project: &Project,
    tangled: &Tangled,
) -> Result<BTreeMap<PathBuf, String>, Diagnostics> {
    let rustfmt = Rustfmt::for_project(&project.root);
    let mut changed = BTreeMap::new();
    let mut errors = Vec::new();
    for o in &tangled.outputs {
        if o.path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        match rustfmt.format(&o.path, &o.content, &o.block) {
            Ok(formatted) if formatted == o.content => {}
            Ok(formatted) => {
                let mut text = String::from_utf8_lossy(&formatted).into_owned();
                // Entangled indents blank lines, rustfmt empties them: the same lines.
                text = project.normalise_edit(&String::from_utf8_lossy(&o.content), &text);
                if text.as_bytes() == o.content.as_slice() {
                    continue;
                }
                changed.insert(normalize(&o.path), text);
            }
            Err(d) => errors.push(d),
        }
    }
    if errors.is_empty() {
        Ok(changed)
    } else {
        Err(Diagnostics(errors))
    }
}

/// For `tangle fmt --check`: each place rustfmt would change, at its document line, with the
/// change as a unified diff of the output.
pub fn report(tangled: &Tangled, formatted: &BTreeMap<PathBuf, String>) -> Vec<String> {
    let mut out = Vec::new();
    for o in &tangled.outputs {
        let Some(new) = formatted.get(&normalize(&o.path)) else {
            continue;
        };
        let old = String::from_utf8_lossy(&o.content);
        let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_str());
        for hunk in diff.unified_diff().context_radius(1).iter_hunks() {
            let first = hunk
                .ops()
                .iter()
                .find(|op| op.tag() != similar::DiffTag::Equal)
                .map_or(0, |op| op.old_range().start);
            let here = match o.locate(first + 1, None).ok() {
                Some(at) => format!(
                    "{}:{}: «{}» is not formatted as rustfmt would ({}:{})",
                    at.path.display(),
                    at.line,
                    at.fragment,
                    o.path.display(),
                    first + 1
                ),
                None => format!(
                    "{}:{}: not formatted as rustfmt would",
                    o.path.display(),
                    first + 1
                ),
            };
            out.push(format!("{here}\n{hunk}"));
        }
    }
    out
}
