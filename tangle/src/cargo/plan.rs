//! Cargo's arguments for `tangle cargo`: JSON messages asked for, the user's colour and
//! `--message-format=short` honoured.

use super::error::{Error, Result};
use std::ffi::OsString;

/// Cargo subcommands that accept `--message-format`; others run unchanged.
const JSON_SUBCOMMANDS: &[&str] = &[
    "build", "b", "check", "c", "clippy", "test", "t", "bench", "run", "r", "rustc", "doc", "d",
    "rustdoc", "fix",
];

/// Global cargo options (before the subcommand) that take a value as the next argument.
const GLOBAL_VALUE_OPTIONS: &[&str] = &["--color", "--config", "-Z", "-C", "--explain"];

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
                        f => return Err(Error::MessageFormat(f.to_string())),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    fn planned(s: &[&str], color: bool) -> Vec<String> {
        plan(&args(s), || color)
            .unwrap()
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn message_format_goes_before_the_separator() {
        assert_eq!(
            planned(&["build"], false),
            ["build", "--message-format=json"]
        );
        assert_eq!(
            planned(&["test", "-p", "x", "--", "--nocapture"], true),
            [
                "test",
                "-p",
                "x",
                "--message-format=json-diagnostic-rendered-ansi",
                "--",
                "--nocapture"
            ]
        );
        assert_eq!(
            planned(&["+nightly", "-Z", "x", "clippy", "--color=never"], true),
            [
                "+nightly",
                "-Z",
                "x",
                "clippy",
                "--color=never",
                "--message-format=json"
            ]
        );
        assert_eq!(
            planned(&["fmt", "--", "--check"], false),
            ["fmt", "--", "--check"]
        );
        let p = plan(&args(&["build", "--message-format", "short"]), || false).unwrap();
        assert!(p.short && p.json);
        assert_eq!(p.args, args(&["build", "--message-format=json"]));
        assert!(plan(&args(&["build", "--message-format=json"]), || false).is_err());
        // After `--`, nothing is touched.
        assert_eq!(
            planned(&["run", "--", "--message-format=json"], false),
            [
                "run",
                "--message-format=json",
                "--",
                "--message-format=json"
            ]
        );
    }
}
