//! `tangle cargo fix` and `tangle cargo clippy --fix`: the compiler's machine-applicable
//! suggestions, applied to the tangled files in memory and carried into the documents by
//! [`crate::sync`]. Cargo itself never writes a file: it only reports, as `cargo check` or
//! `cargo clippy` would, and the outputs stay exactly what the documents tangle to.

use super::error::{Error, Result};
use super::message::{Compiled, Line};
use crate::output::Output;
use crate::paths::normalize;
use cargo_metadata::diagnostic::{Applicability, Diagnostic};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Options of `cargo fix` / `clippy --fix` that mean nothing once cargo only reports.
const FIX_ONLY: &[&str] = &[
    "--fix",
    "--allow-dirty",
    "--allow-staged",
    "--allow-no-vcs",
    "--broken-code",
];

/// The index of the subcommand in `args` (the first word that is not an option).
fn subcommand(args: &[OsString]) -> Option<usize> {
    args.iter().position(|a| {
        let a = a.to_string_lossy();
        !a.starts_with('-') && !a.starts_with('+')
    })
}

/// Whether `args` ask cargo to apply fixes: `fix`, or `clippy` with `--fix`.
pub fn is_fix(args: &[OsString]) -> bool {
    let Some(sub) = subcommand(args) else {
        return false;
    };
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    match args[sub].to_string_lossy().as_ref() {
        "fix" => true,
        "clippy" => args[sub..end].iter().any(|a| a == "--fix"),
        _ => false,
    }
}

/// The arguments that make cargo report what the fix would apply, without applying it: `fix`
/// becomes `check`, the fix-only options go, JSON messages come on.
pub fn report_args(args: &[OsString]) -> Vec<OsString> {
    let sub = subcommand(args);
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let mut out = Vec::with_capacity(args.len() + 1);
    for (i, a) in args.iter().enumerate() {
        if Some(i) == sub && a == "fix" {
            out.push(OsString::from("check"));
        } else if i < end && FIX_ONLY.contains(&a.to_string_lossy().as_ref()) {
            continue;
        } else {
            out.push(a.clone());
        }
        if Some(i) == sub {
            out.push(OsString::from("--message-format=json"));
        }
    }
    out
}

/// Runs cargo in `root` with `args` (from [`report_args`]): its exit code and every compiler
/// message it printed. Cargo's own standard error passes through.
pub fn messages(root: &Path, args: &[OsString]) -> Result<(i32, Vec<Compiled>)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut child = Command::new(&cargo)
        .args(args)
        .current_dir(root)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|source| Error::Spawn {
            program: cargo.to_string_lossy().into_owned(),
            source,
        })?;
    let mut found = Vec::new();
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(Error::Copy)?;
        if let Line::Diagnostic { compiled, .. } = Line::parse(line.as_bytes()) {
            found.push(compiled);
        }
    }
    let status = child.wait().map_err(Error::Wait)?;
    Ok((status.code().unwrap_or(101), found))
}

/// One replacement in an output: bytes `start..end` become `text`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Replacement {
    start: usize,
    end: usize,
    text: String,
}

/// Every machine-applicable suggestion of `diag` and its children: the file and the edit.
fn suggestions(diag: &Diagnostic, out: &mut Vec<(String, Replacement)>) {
    for span in &diag.spans {
        let applicable = span.suggestion_applicability == Some(Applicability::MachineApplicable);
        if let (true, Some(text)) = (applicable, &span.suggested_replacement) {
            out.push((
                span.file_name.clone(),
                Replacement {
                    start: span.byte_start as usize,
                    end: span.byte_end as usize,
                    text: text.clone(),
                },
            ));
        }
    }
    for child in &diag.children {
        suggestions(child, out);
    }
}

/// The outputs (by path) with every machine-applicable suggestion in `messages` applied, and
/// how many were applied. Overlapping suggestions after the first are left out, as rustfix
/// leaves them; the same suggestion reported twice (for two targets) counts once.
pub fn apply(
    messages: &[Compiled],
    root: &Path,
    outputs: &[Output],
) -> (BTreeMap<PathBuf, String>, usize) {
    let mut found = Vec::new();
    for msg in messages {
        suggestions(&msg.diagnostic, &mut found);
    }
    let root = normalize(&std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf()));
    let mut per_output: BTreeMap<usize, Vec<Replacement>> = BTreeMap::new();
    for (file, r) in found {
        let full = normalize(&root.join(&file));
        if let Some(k) = outputs
            .iter()
            .position(|o| normalize(&root.join(&o.path)) == full)
        {
            per_output.entry(k).or_default().push(r);
        }
    }
    let mut edited = BTreeMap::new();
    let mut applied = 0;
    for (k, mut rs) in per_output {
        rs.sort();
        rs.dedup();
        let content = &outputs[k].content;
        let mut text = Vec::with_capacity(content.len());
        let mut at = 0;
        for r in rs {
            if r.start < at || r.end > content.len() || r.start > r.end {
                continue; // overlaps an earlier one, or points past the file
            }
            text.extend_from_slice(&content[at..r.start]);
            text.extend_from_slice(r.text.as_bytes());
            at = r.end;
            applied += 1;
        }
        text.extend_from_slice(&content[at..]);
        edited.insert(
            normalize(&outputs[k].path),
            String::from_utf8_lossy(&text).into_owned(),
        );
    }
    (edited, applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn fix_requests_become_reports() {
        assert!(is_fix(&os(&["fix", "--allow-dirty"])));
        assert!(is_fix(&os(&["clippy", "--fix", "--", "-D", "warnings"])));
        assert!(!is_fix(&os(&["clippy", "--", "--fix"])));
        assert!(!is_fix(&os(&["build"])));
        assert_eq!(
            report_args(&os(&["+nightly", "fix", "--allow-dirty", "--workspace"])),
            os(&["+nightly", "check", "--message-format=json", "--workspace"])
        );
        assert_eq!(
            report_args(&os(&["clippy", "--fix", "--", "-D", "warnings"])),
            os(&["clippy", "--message-format=json", "--", "-D", "warnings"])
        );
    }
}
