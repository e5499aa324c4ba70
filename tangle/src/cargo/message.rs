//! Cargo's JSON messages, typed with `cargo_metadata`'s [`Message`] and [`Diagnostic`], and the
//! few facts about a diagnostic the other modules ask for.

use cargo_metadata::diagnostic::{Diagnostic, DiagnosticLevel, DiagnosticSpan};
use cargo_metadata::{CompilerMessage, Message, Target, TargetKind};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One diagnostic of rustc's, and the folder of the package it was compiled for (file names
/// in its spans may be relative to that folder).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub diagnostic: Diagnostic,
    pub package_dir: Option<PathBuf>,
}

impl Compiled {
    /// A cargo `compiler-message`, or rustc's diagnostic object itself; `None` if `json` is
    /// neither.
    pub fn from_json(json: &Value) -> Option<Compiled> {
        let diagnostic = match json.get("message").filter(|m| m.is_object()) {
            Some(d) => Diagnostic::deserialize(d).ok()?,
            None => Diagnostic::deserialize(json).ok()?,
        };
        Some(Compiled {
            diagnostic,
            package_dir: package_dir(json),
        })
    }
}

/// The folder of the package a cargo message is about (`manifest_path`'s, which
/// `cargo_metadata`'s `CompilerMessage` leaves out).
fn package_dir(json: &Value) -> Option<PathBuf> {
    let manifest = json.get("manifest_path")?.as_str()?;
    Some(Path::new(manifest).parent()?.to_path_buf())
}

use serde::Deserialize as _;

/// One line of cargo's standard output in JSON mode, as the driver sorts it.
pub enum Line {
    /// A diagnostic, for the target `key` names.
    Diagnostic { key: TargetKey, compiled: Compiled },
    /// A target was built.
    Built(TargetKey),
    /// A compiler message these types cannot read (a level added after them): rustc's own
    /// rendering of it, unmapped.
    Unread(String),
    /// Another of cargo's messages (build scripts run, the build finished).
    Other,
    /// Not one of cargo's messages: printed as it is.
    NotCargo,
}

impl Line {
    pub fn parse(line: &[u8]) -> Line {
        let Ok(json) = serde_json::from_slice::<Value>(line) else {
            return Line::NotCargo;
        };
        if json.get("reason").and_then(Value::as_str).is_none() {
            return Line::NotCargo;
        }
        match Message::deserialize(&json) {
            Ok(Message::CompilerMessage(CompilerMessage {
                package_id,
                target,
                message,
                ..
            })) => Line::Diagnostic {
                key: TargetKey::new(&package_id.repr, &target),
                compiled: Compiled {
                    diagnostic: message,
                    package_dir: package_dir(&json),
                },
            },
            Ok(Message::CompilerArtifact(a)) => {
                Line::Built(TargetKey::new(&a.package_id.repr, &a.target))
            }
            _ if json["reason"] == "compiler-message" => Line::unread(&json),
            _ => Line::Other,
        }
    }

    fn unread(json: &Value) -> Line {
        match json.pointer("/message/rendered").and_then(Value::as_str) {
            Some(text) => Line::Unread(text.to_string()),
            None => Line::Other,
        }
    }
}

/// A compiled target as cargo names it in its `generated N warnings` line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TargetKey {
    pub package: String,
    /// `lib`, `bin "server"`, `build script`, …
    pub target: String,
}

impl TargetKey {
    /// From a package id (either of cargo's formats) and a target.
    pub fn new(package_id: &str, target: &Target) -> TargetKey {
        let package = if let Some((name, _)) = package_id.split_once(' ') {
            name.to_string() // old format: `name version (source)`
        } else {
            let (url, frag) = package_id.split_once('#').unwrap_or((package_id, ""));
            match frag.split_once('@') {
                Some((name, _)) => name.to_string(),
                None => url.rsplit('/').next().unwrap_or(url).to_string(),
            }
        };
        let name = &target.name;
        let target = match target.kind.first() {
            Some(TargetKind::Bin) => format!("bin \"{name}\""),
            Some(TargetKind::Test) => format!("test \"{name}\""),
            Some(TargetKind::Bench) => format!("bench \"{name}\""),
            Some(TargetKind::Example) => format!("example \"{name}\""),
            Some(TargetKind::CustomBuild) => "build script".to_string(),
            _ => "lib".to_string(),
        };
        TargetKey { package, target }
    }
}

/// The level as rustc writes it (`error`, `warning`, `note`, …).
pub fn level_name(level: &DiagnosticLevel) -> &'static str {
    match level {
        DiagnosticLevel::Ice => "error: internal compiler error",
        DiagnosticLevel::Error => "error",
        DiagnosticLevel::Warning => "warning",
        DiagnosticLevel::FailureNote => "failure-note",
        DiagnosticLevel::Note => "note",
        DiagnosticLevel::Help => "help",
        _ => "error",
    }
}

/// The error code (`E0308`); lint names, which rustc also puts there, are not shown.
pub fn error_code(diag: &Diagnostic) -> Option<&str> {
    let code = diag.code.as_ref()?.code.as_str();
    let digits = code.strip_prefix('E')?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// The source text rustc gives for the first (or last) line of a span.
pub fn span_text(span: &DiagnosticSpan, last: bool) -> Option<&str> {
    let line = if last {
        span.text.last()?
    } else {
        span.text.first()?
    };
    Some(&line.text)
}

/// The macro invocation `span` was expanded from, and the macro's name.
pub fn expanded_from(span: &DiagnosticSpan) -> Option<(&DiagnosticSpan, &str)> {
    let e = span.expansion.as_deref()?;
    Some((&e.span, &e.macro_decl_name))
}

/// Whether span `outer` covers span `inner` (same file, byte range inside).
pub fn contains(outer: &DiagnosticSpan, inner: &DiagnosticSpan) -> bool {
    outer.file_name == inner.file_name
        && outer.byte_start <= inner.byte_start
        && inner.byte_end <= outer.byte_end
}

/// Calls `f` on every span of `diag` and its children, and on the spans they were expanded from.
pub fn visit_spans(diag: &Diagnostic, f: &mut impl FnMut(&DiagnosticSpan)) {
    fn span(s: &DiagnosticSpan, f: &mut impl FnMut(&DiagnosticSpan)) {
        f(s);
        if let Some((call, _)) = expanded_from(s) {
            span(call, f);
        }
    }
    for s in &diag.spans {
        span(s, f);
    }
    for c in &diag.children {
        visit_spans(c, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(package_id: &str, kind: &str, level: &str) -> String {
        serde_json::json!({
            "reason": "compiler-message",
            "package_id": package_id,
            "manifest_path": "/w/sel/Cargo.toml",
            "target": {"kind": [kind], "crate_types": [kind], "name": "server",
                       "src_path": "/w/sel/src/main.rs", "edition": "2021"},
            "message": {"message": "unused variable", "code": {"code": "unused_variables"},
                        "level": level, "spans": [], "children": [], "rendered": null}
        })
        .to_string()
    }

    fn key(package_id: &str, kind: &str) -> TargetKey {
        match Line::parse(message(package_id, kind, "warning").as_bytes()) {
            Line::Diagnostic { key, compiled } => {
                assert_eq!(compiled.package_dir.as_deref(), Some(Path::new("/w/sel")));
                key
            }
            _ => panic!("not a diagnostic"),
        }
    }

    #[test]
    fn targets_are_named_as_cargo_names_them() {
        let k = key("path+file:///w/sel#0.1.0", "bin");
        assert_eq!(
            (k.package.as_str(), k.target.as_str()),
            ("sel", "bin \"server\"")
        );
        assert_eq!(key("path+file:///w/dir#name@0.1.0", "lib").package, "name");
        assert_eq!(key("name 0.1.0 (path+file:///w)", "lib").target, "lib");
        assert_eq!(
            key("name 0.1.0 (path+file:///w)", "custom-build").target,
            "build script"
        );
    }

    #[test]
    fn lines_are_sorted_by_what_they_are() {
        assert!(matches!(Line::parse(b"Compiling x"), Line::NotCargo));
        assert!(matches!(
            Line::parse(b"{\"no\": \"reason\"}"),
            Line::NotCargo
        ));
        assert!(matches!(
            Line::parse(b"{\"reason\": \"build-finished\", \"success\": true}"),
            Line::Other
        ));
        assert!(matches!(
            Line::parse(b"{\"reason\": \"something-new\"}"),
            Line::Other
        ));
        // A level these types do not know: rustc's rendering, as it is.
        let odd = message("path+file:///w/sel#0.1.0", "bin", "loud")
            .replace("\"rendered\":null", "\"rendered\":\"loud: x\\n\"");
        assert!(matches!(Line::parse(odd.as_bytes()), Line::Unread(t) if t == "loud: x\n"));
    }

    #[test]
    fn codes_are_error_codes_only() {
        let c = |code: &str| {
            let d = serde_json::json!({"message": "m", "code": {"code": code}, "level": "error",
                                       "spans": [], "children": [], "rendered": null});
            let c = Compiled::from_json(&d).unwrap();
            error_code(&c.diagnostic).map(str::to_string)
        };
        assert_eq!(c("E0308").as_deref(), Some("E0308"));
        assert_eq!(c("unused_variables"), None);
        assert_eq!(c("E"), None);
    }
}
