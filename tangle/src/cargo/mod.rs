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
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;

pub mod fix;
mod render;
use render::{paint, BOLD, WARNING};
pub use render::{render, Mapper};

/// Cargo subcommands that accept `--message-format`; others run unchanged.
const JSON_SUBCOMMANDS: &[&str] = &[
    "build", "b", "check", "c", "clippy", "test", "t", "bench", "run", "r", "rustc", "doc", "d",
    "rustdoc", "fix",
];

/// Global cargo options (before the subcommand) that take a value as the next argument.
const GLOBAL_VALUE_OPTIONS: &[&str] = &["--color", "--config", "-Z", "-C", "--explain"];

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
        .with_context(|| format!("cannot run `{}`", cargo.to_string_lossy()))?;
    let mapper = Mapper::new(root, outputs).color(plan.color);
    let mut summary = Summary::default();
    if let Some(stdout) = child.stdout.take() {
        let result = pump(stdout, out, |line| {
            let Ok(msg) = serde_json::from_slice::<Value>(line) else {
                return false;
            };
            let text = match msg.get("reason").and_then(Value::as_str) {
                Some("compiler-message") => summary.note(&msg, &mapper, plan.short),
                Some("compiler-artifact") => summary.finished(&msg, plan.color),
                Some(_) => None,
                None => return false,
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
            return Err(e).context("copying cargo's output");
        }
    }
    let status = child.wait().context("waiting for cargo")?;
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

/// How cargo is run: its arguments, whether it speaks JSON to us, how diagnostics are printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub args: Vec<OsString>,
    /// Whether `--message-format` was added (otherwise cargo runs unchanged).
    pub json: bool,
    pub color: bool,
    /// One line per diagnostic (the user asked for `--message-format=short`).
    pub short: bool,
}

/// Works out cargo's arguments: adds `--message-format=json-diagnostic-rendered-ansi` (colour)
/// or `--message-format=json` after the subcommand, before any `--`. A `--message-format` of
/// the user's is taken out (`short` is honoured); JSON formats are refused, since this command
/// exists to print diagnostics for people. `auto_color` decides colour unless `--color` does.
pub fn plan(args: &[OsString], auto_color: impl FnOnce() -> bool) -> Result<Plan> {
    let sep = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let mut sub = None;
    let mut i = 0;
    while i < sep {
        let a = args[i].to_string_lossy();
        if i == 0 && a.starts_with('+') {
            i += 1;
            continue;
        }
        if GLOBAL_VALUE_OPTIONS.contains(&a.as_ref()) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') {
            sub = Some(i);
            break;
        }
        i += 1;
    }
    let mut color = None;
    let mut short = false;
    let mut out: Vec<OsString> = Vec::with_capacity(args.len() + 1);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if i >= sep {
            out.push(a.clone());
            i += 1;
            continue;
        }
        let s = a.to_string_lossy();
        let (name, inline) = match s.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (s.to_string(), None),
        };
        let value = |i: usize| {
            inline
                .clone()
                .or_else(|| args.get(i + 1).map(|v| v.to_string_lossy().into_owned()))
        };
        let width = if inline.is_some() { 1 } else { 2 };
        match name.as_str() {
            "--color" => {
                color = value(i);
                out.extend(args[i..(i + width).min(args.len())].iter().cloned());
                i += width;
            }
            "--message-format" if sub.is_some_and(|s| s < i) => {
                let v = value(i).unwrap_or_default();
                for f in v.split(',') {
                    match f.trim() {
                        "short" => short = true,
                        "human" | "" => {}
                        f => bail!(
                            "`tangle cargo` prints the diagnostics itself and cannot pass on \
                             `--message-format={f}`; run cargo directly for that"
                        ),
                    }
                }
                i += width;
            }
            _ => {
                out.push(a.clone());
                i += 1;
            }
        }
    }
    let color = match color.as_deref() {
        Some("always") => true,
        Some("never") => false,
        _ => auto_color(),
    };
    let json = sub.is_some_and(|s| JSON_SUBCOMMANDS.contains(&args[s].to_string_lossy().as_ref()));
    if json {
        let at = out.iter().position(|a| a == "--").unwrap_or(out.len());
        let format = if color && !short {
            "json-diagnostic-rendered-ansi"
        } else {
            "json"
        };
        out.insert(at, OsString::from(format!("--message-format={format}")));
    }
    Ok(Plan {
        args: out,
        json,
        color,
        short,
    })
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
    /// (package, target description) → (warnings, errors, duplicates).
    counts: BTreeMap<(String, String), (usize, usize, usize)>,
}

impl Summary {
    /// Renders a `compiler-message`, or `None` for a duplicate.
    fn note(&mut self, msg: &Value, mapper: &Mapper<'_>, short: bool) -> Option<String> {
        let diag = msg.get("message")?;
        let key = target_key(msg);
        let level = diag.get("level").and_then(Value::as_str).unwrap_or("");
        let entry = self.counts.entry(key).or_default();
        let fingerprint = match diag.get("rendered").and_then(Value::as_str) {
            Some(r) => r.to_string(),
            None => diag.to_string(),
        };
        let fresh = self.seen.insert(fingerprint);
        match level {
            "warning" if fresh => entry.0 += 1,
            "warning" => entry.2 += 1,
            "error" | "error: internal compiler error" => entry.1 += 1,
            _ => {}
        }
        // A file compiled for two targets (a library and its tests under `--all-targets`)
        // gives each of its diagnostics twice: the second copy tells nothing new.
        if !fresh {
            return None;
        }
        Some(if short {
            mapper.render_short(msg)
        } else {
            mapper.render(msg)
        })
    }

    /// The summary line for a target that has just been built.
    fn finished(&mut self, msg: &Value, color: bool) -> Option<String> {
        let key = target_key(msg);
        let (w, e, d) = self.counts.remove(&key)?;
        (e == 0 && w > 0).then(|| warnings_line(&key, w, d, color))
    }

    /// Summary lines for targets not reported yet (those that failed are reported by cargo).
    fn rest(&mut self, color: bool) -> String {
        let mut s = String::new();
        for (key, (w, e, d)) in std::mem::take(&mut self.counts) {
            if e == 0 && w > 0 {
                s.push_str(&warnings_line(&key, w, d, color));
            }
        }
        s
    }
}

fn warnings_line(
    (package, target): &(String, String),
    n: usize,
    dups: usize,
    color: bool,
) -> String {
    let label = paint(color, WARNING, "warning");
    let plural = if n == 1 { "" } else { "s" };
    let dups = match dups {
        0 => String::new(),
        1 => " (1 duplicate)".to_string(),
        d => format!(" ({d} duplicates)"),
    };
    format!(
        "{label}{}: `{package}` ({target}) generated {n} warning{plural}{dups}\n",
        paint(color, BOLD, "")
    )
}

/// The package name and cargo's description of the target (`lib`, `bin "server"`, …).
fn target_key(msg: &Value) -> (String, String) {
    let id = msg.get("package_id").and_then(Value::as_str).unwrap_or("");
    let package = if let Some((name, _)) = id.split_once(' ') {
        name.to_string() // old format: `name version (source)`
    } else {
        let (url, frag) = id.split_once('#').unwrap_or((id, ""));
        match frag.split_once('@') {
            Some((name, _)) => name.to_string(),
            None => url.rsplit('/').next().unwrap_or(url).to_string(),
        }
    };
    let target = msg.get("target");
    let name = target
        .and_then(|t| t.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = target
        .and_then(|t| t.get("kind"))
        .and_then(|k| k.get(0))
        .and_then(Value::as_str)
        .unwrap_or("lib");
    let desc = match kind {
        "bin" | "test" | "bench" | "example" => format!("{kind} \"{name}\""),
        "custom-build" => "build script".to_string(),
        _ => "lib".to_string(),
    };
    (package, desc)
}
