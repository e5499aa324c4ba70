//! `tangle cargo ARGS...`: runs `cargo ARGS` with JSON diagnostics and prints every compiler
//! message the way rustc does, except that each span in a tangled file is shown at its place in
//! the Markdown chapter it came from:
//!
//! ```text
//! error[E0308]: mismatched types
//!    --> docs/main.md:120:22 (src/main.rs:45:26, in «accept every pending connection»)
//!     |
//! 120 |     let n: usize = "many";
//!     |            -----   ^^^^^^ expected `usize`, found `&str`
//!     |            |
//!     |            expected due to this
//! ```
//!
//! [`render`] (and [`Mapper::render`]) is the pure part: one diagnostic in, text out. [`run`]
//! drives cargo, streams its standard output and prints what it renders on standard error.

use crate::output::Output;
use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

mod error;
pub mod fix;
mod layout;
pub mod message;
mod place;
mod plan;
mod render;
pub use error::{Error, Result};
use layout::{paint, BOLD, WARNING};
use message::{Compiled, Line, TargetKey};
pub use plan::{plan, Plan};
pub use render::{render, Mapper};

/// Runs `cargo ARGS` in `root` and prints its diagnostics with spans in `outputs` mapped back to
/// the document. Cargo's own standard error passes through, and so does every standard output
/// line that is not one of cargo's JSON messages (test results, a `cargo run` program's output).
/// Returns cargo's exit code.
pub fn run(root: &Path, outputs: &[Output], args: &[OsString]) -> Result<i32> {
    let plan = plan(args, default_color)?;
    run_plan(
        root,
        outputs,
        &plan,
        &mut io::stdout(),
        &mut io::stderr(),
        Stdio::inherit(),
    )
}

/// [`run`] with the arguments worked out already, writing cargo's standard output (less its
/// JSON messages) to `out` and the diagnostics to `err`. Cargo's own standard error (its
/// `Compiling` and `error: could not compile` lines) goes to `cargo_stderr`: [`run`] inherits
/// it, a test gives it a file. When `plan.json` is false cargo's standard output is inherited.
pub fn run_plan(
    root: &Path,
    outputs: &[Output],
    plan: &Plan,
    out: &mut dyn Write,
    err: &mut dyn Write,
    cargo_stderr: Stdio,
) -> Result<i32> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut child = Command::new(&cargo)
        .args(&plan.args)
        .current_dir(root)
        .stdin(Stdio::inherit())
        .stdout(if plan.json {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .stderr(cargo_stderr)
        .spawn()
        .map_err(|source| Error::Spawn {
            program: cargo.to_string_lossy().into_owned(),
            source,
        })?;
    let mapper = Mapper::new(root, outputs).color(plan.color);
    let mut summary = Summary::default();
    if let Some(stdout) = child.stdout.take() {
        let result = pump(stdout, out, |line| {
            let text = match Line::parse(line) {
                Line::Diagnostic { key, compiled } => {
                    summary.note(key, &compiled, &mapper, plan.short)
                }
                Line::Built(key) => summary.finished(&key, plan.color),
                Line::Unread(text) => Some(text),
                Line::Other => None,
                Line::NotCargo => return false,
            };
            if let Some(text) = text {
                let _ = err.write_all(text.as_bytes());
                let _ = err.flush();
            }
            true
        });
        if let Err(e) = result {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Copy(e));
        }
    }
    let status = child.wait().map_err(Error::Wait)?;
    let _ = err.write_all(summary.rest(plan.color).as_bytes());
    let _ = err.flush();
    Ok(exit_code(status))
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    101
}

/// Whether diagnostics go to a colour terminal when neither `--color` nor `CARGO_TERM_COLOR`
/// says.
fn default_color() -> bool {
    match std::env::var("CARGO_TERM_COLOR").as_deref() {
        Ok("always") => true,
        Ok("never") => false,
        _ => std::env::var_os("NO_COLOR").is_none() && io::stderr().is_terminal(),
    }
}

/// Copies `input` to `out`, except lines starting with `{`, which go to `on_json` (without the
/// line ending) and are copied only if it returns `false`. Other lines are copied as soon as
/// their bytes arrive, so a prompt without a newline shows at once.
pub fn pump(
    mut input: impl Read,
    out: &mut dyn Write,
    mut on_json: impl FnMut(&[u8]) -> bool,
) -> io::Result<()> {
    #[derive(PartialEq)]
    enum At {
        LineStart,
        Json,
        Text,
    }
    let mut at = At::LineStart;
    let mut json = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut finish = |json: &mut Vec<u8>, out: &mut dyn Write| -> io::Result<()> {
        let line = json.strip_suffix(b"\n").unwrap_or(json);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !on_json(line) {
            out.write_all(json)?;
        }
        json.clear();
        Ok(())
    };
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut chunk = &buf[..n];
        while !chunk.is_empty() {
            if at == At::LineStart {
                at = if chunk[0] == b'{' { At::Json } else { At::Text };
            }
            let end = chunk.iter().position(|&b| b == b'\n').map(|p| p + 1);
            let (part, rest) = chunk.split_at(end.unwrap_or(chunk.len()));
            match at {
                At::Json => json.extend_from_slice(part),
                _ => out.write_all(part)?,
            }
            if end.is_some() {
                if at == At::Json {
                    finish(&mut json, out)?;
                }
                at = At::LineStart;
            }
            chunk = rest;
        }
        out.flush()?;
    }
    if !json.is_empty() {
        finish(&mut json, out)?;
        out.flush()?;
    }
    Ok(())
}

/// Counts warnings per compiled target, drops duplicate diagnostics (cargo drops duplicate
/// warnings; an error repeated for a second target is dropped too) and prints cargo's
/// `generated N warnings` line, which cargo leaves out in JSON mode.
#[derive(Default)]
struct Summary {
    seen: HashSet<String>,
    counts: BTreeMap<TargetKey, Counts>,
}

/// What one target's compilation said so far.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    warnings: usize,
    errors: usize,
    /// Warnings said twice, counted once.
    duplicates: usize,
}

impl Summary {
    /// Renders a compiler message, or `None` for a duplicate.
    fn note(
        &mut self,
        key: TargetKey,
        compiled: &Compiled,
        mapper: &Mapper<'_>,
        short: bool,
    ) -> Option<String> {
        use cargo_metadata::diagnostic::DiagnosticLevel;
        let diag = &compiled.diagnostic;
        let counts = self.counts.entry(key).or_default();
        let fingerprint = match &diag.rendered {
            Some(r) => r.clone(),
            None => serde_json::to_string(diag).unwrap_or_default(),
        };
        let fresh = self.seen.insert(fingerprint);
        match diag.level {
            DiagnosticLevel::Warning if fresh => counts.warnings += 1,
            DiagnosticLevel::Warning => counts.duplicates += 1,
            DiagnosticLevel::Error | DiagnosticLevel::Ice => counts.errors += 1,
            _ => {}
        }
        // A file compiled for two targets (a library and its tests under `--all-targets`)
        // gives each of its diagnostics twice: the second copy tells nothing new.
        if !fresh {
            return None;
        }
        Some(if short {
            mapper.render_short_compiled(compiled)
        } else {
            mapper.render_compiled(compiled)
        })
    }

    /// The summary line for a target that has just been built.
    fn finished(&mut self, key: &TargetKey, color: bool) -> Option<String> {
        let counts = self.counts.remove(key)?;
        (counts.errors == 0 && counts.warnings > 0).then(|| warnings_line(key, counts, color))
    }

    /// Summary lines for targets not reported yet (those that failed are reported by cargo).
    fn rest(&mut self, color: bool) -> String {
        let mut s = String::new();
        for (key, counts) in std::mem::take(&mut self.counts) {
            if counts.errors == 0 && counts.warnings > 0 {
                s.push_str(&warnings_line(&key, counts, color));
            }
        }
        s
    }
}

fn warnings_line(key: &TargetKey, counts: Counts, color: bool) -> String {
    let label = paint(color, WARNING, "warning");
    let n = counts.warnings;
    let plural = if n == 1 { "" } else { "s" };
    let dups = match counts.duplicates {
        0 => String::new(),
        1 => " (1 duplicate)".to_string(),
        d => format!(" ({d} duplicates)"),
    };
    format!(
        "{label}{}: `{}` ({}) generated {n} warning{plural}{dups}\n",
        paint(color, BOLD, ""),
        key.package,
        key.target
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn pump_separates_json_lines() {
        let input = b"{\"reason\":\"x\"}\nplain {\nmore\n{not json\n{\"reason\":\"y\"}".to_vec();
        let mut out = Vec::new();
        let mut seen = Vec::new();
        pump(&input[..], &mut out, |l| {
            seen.push(String::from_utf8_lossy(l).into_owned());
            serde_json::from_slice::<Value>(l).is_ok()
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "plain {\nmore\n{not json\n"
        );
        assert_eq!(
            seen,
            ["{\"reason\":\"x\"}", "{not json", "{\"reason\":\"y\"}"]
        );
    }
}
