//! Identifiers in the rendered book (tangle/src/site): builds the project's book with the real
//! `mdbook`, this build's preprocessor and rust-analyzer's index, and reads it in headless
//! Chromium (tests/browser/cdp.py, with tests/browser/identifiers.js): names in code link into
//! the fragments that define them, hundreds of them; the identifier index lists every `pub`
//! item of `src/`; peek shows a fragment in place; "used in" lands on the reference's line.
//! Without rust-analyzer the book still builds, with plain names and one warning line.
//!
//! Needs `mdbook` 0.5, Chromium, `python3` and rust-analyzer (`rustup component add
//! rust-analyzer`): a missing tool is a failure, not a skip.

use serde_json::Value;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;
use support::tool;

const TANGLE: &str = env!("CARGO_BIN_EXE_tangle");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const TMP: &str = env!("CARGO_TARGET_TMPDIR");

fn root() -> PathBuf {
    Path::new(MANIFEST_DIR).parent().unwrap().to_path_buf()
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(TMP).join("book_identifiers").join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// `mdbook build` of the project's book into `dest` with this build's preprocessor.
fn build(dest: &Path, env: &[(&str, &str)]) -> Output {
    let mdbook = tool(
        "MDBOOK",
        &["mdbook"],
        "install it with `cargo install mdbook --version 0.5.4 --locked`",
    );
    let mut cmd = Command::new(mdbook);
    cmd.arg("build").arg(root()).arg("-d").arg(dest).env(
        "MDBOOK_PREPROCESSOR__TANGLE__COMMAND",
        format!("\"{TANGLE}\" mdbook"),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run mdbook");
    assert!(
        out.status.success(),
        "mdbook build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn browse(site: &Path, pages: &[&str]) -> HashMap<String, Value> {
    let chromium = tool(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
        "install Chromium (Debian: `apt-get install chromium`)",
    );
    let dir = Path::new(MANIFEST_DIR).join("tests/browser");
    let out = Command::new(tool("PYTHON3", &["python3"], "install Python 3"))
        .arg(dir.join("cdp.py"))
        .arg("--chromium")
        .arg(chromium)
        .arg("--root")
        .arg(site)
        .arg("--check")
        .arg(dir.join("identifiers.js"))
        .args(pages)
        .output()
        .expect("run python3 tests/browser/cdp.py");
    assert!(
        out.status.success(),
        "cdp.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("cdp.py prints JSON");
    report["pages"]
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .collect()
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
}

/// Every `pub` item of the tangled sources, by a plain reading of `src/` (no compiler): the
/// name after `pub [(...)] [unsafe|async|const] fn|struct|enum|trait|type|const|static|mod`.
fn pub_items() -> Vec<(String, String)> {
    let mut files = Vec::new();
    for dir in ["src", "src/bin"] {
        for e in fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    let keywords = [
        "fn", "struct", "enum", "trait", "type", "const", "static", "mod",
    ];
    let mut items = Vec::new();
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("pub") else {
                continue;
            };
            let rest = match rest.strip_prefix('(') {
                Some(r) => match r.split_once(')') {
                    Some((_, r)) => r,
                    None => continue,
                },
                None if rest.starts_with(' ') => rest,
                None => continue,
            };
            let mut words = rest
                .split_whitespace()
                .skip_while(|w| matches!(*w, "unsafe" | "async" | "extern" | "\"C\""));
            let mut kw = words.next().unwrap_or_default();
            let mut name = words.next().unwrap_or_default();
            if kw == "const" && name == "fn" {
                // `pub const fn f`.
                kw = "fn";
                name = words.next().unwrap_or_default();
            }
            if keywords.contains(&kw) {
                items.push((ident(name), f.display().to_string()));
            }
        }
    }
    items.retain(|(n, _)| !n.is_empty());
    items.sort();
    items.dedup();
    items
}

fn ident(word: &str) -> String {
    word.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn identifiers_link_in_chromium() {
    tool(
        "RUST_ANALYZER",
        &["rust-analyzer"],
        "install it with `rustup component add rust-analyzer`",
    );
    let dir = scratch("project");
    let site = dir.join("site");
    build(&site, &[]);
    // A second build reads the cached index: rust-analyzer does not run again.
    let again = build(&dir.join("again"), &[]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        !stderr.contains("indexing identifiers") && !stderr.contains("not linked"),
        "the second build indexed again:\n{stderr}"
    );

    let mut pages: Vec<String> = fs::read_dir(&site)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|p| p.ends_with(".html"))
        .filter(|p| {
            !matches!(
                p.as_str(),
                "404.html" | "toc.html" | "print.html" | "index.html"
            )
        })
        .collect();
    pages.sort();
    // A "used in" link of the connection chapter, opened after another page (a new document).
    let connection = fs::read_to_string(site.join("connection.html")).unwrap();
    let at = connection
        .find("#u:")
        .expect("no \"used in\" link lands on a reference");
    // Footers keep their text in an attribute (out of the search index), so the link's
    // quotes there are `&quot;`.
    let rest = &connection[..at];
    let href_start = rest.rfind("href=&quot;").unwrap() + "href=&quot;".len();
    let used_in = format!(
        "{}{}",
        &connection[href_start..at],
        &connection[at..at + connection[at..].find("&quot;").unwrap()]
    );
    let used_in = if used_in.starts_with('#') {
        format!("connection.html{used_in}")
    } else {
        used_in
    };
    let mut list: Vec<&str> = pages.iter().map(String::as_str).collect();
    list.push("print.html");
    list.push("connection.html?peek");
    list.push("main.html");
    list.push(&used_in);
    let report = browse(&site, &list);

    let mut total = 0;
    let mut watched: HashMap<String, usize> = HashMap::new();
    let mut prose = 0;
    for page in &pages {
        let r = &report[page.as_str()];
        assert!(
            arr(&r["errors"]).is_empty(),
            "{page}: console errors: {}",
            r["errors"]
        );
        let r = &r["result"];
        assert_eq!(r["ready"], true, "{page}: tangle.js did not run: {r}");
        total += r["identLinks"].as_u64().unwrap() as usize;
        assert_eq!(
            r["identLinks"], r["withTitle"],
            "{page}: a link without hover text"
        );
        assert_eq!(
            r["identLinks"], r["inHighlighted"],
            "{page}: a link outside highlighted code"
        );
        assert_eq!(
            r["defsLeftInFooters"], 0,
            "{page}: definitions not placed in code"
        );
        for w in arr(&r["watched"]) {
            let l = &w["landing"];
            assert_eq!(l["found"], true, "{page}: {w}: no such anchor");
            assert_eq!(
                l["inBlock"], true,
                "{page}: {w}: the anchor is not in a tangled block"
            );
            if !l["text"].as_str().unwrap().is_empty() {
                assert_eq!(l["text"], w["name"], "{page}: {w}");
            }
            assert!(!w["title"].as_str().unwrap().is_empty(), "{w}");
            *watched
                .entry(w["name"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        for p in arr(&r["prose"]) {
            assert_eq!(p["landing"]["found"], true, "{page}: prose link {p}");
            prose += 1;
        }
    }
    for name in ["Phase", "Message", "Next", "Limits", "on_client_event"] {
        assert!(
            watched.get(name).copied().unwrap_or(0) > 0,
            "no use of `{name}` in code links to its definition: {watched:?}"
        );
    }
    assert!(
        total >= 1000,
        "only {total} identifier links in the book's code"
    );
    assert!(
        prose >= 20,
        "only {prose} inline code spans in the prose link"
    );
    // The print page holds every chapter's links, each to an anchor on the page itself.
    let print = &report["print.html"];
    assert!(arr(&print["errors"]).is_empty(), "{}", print["errors"]);
    assert_eq!(print["result"]["identLinks"], total, "print page");
    assert_eq!(
        print["result"]["offPage"], 0,
        "print page links leave the page"
    );
    let conn = &report["connection.html"]["result"];
    assert!(
        conn["miniIndex"].as_u64().unwrap() > 5,
        "no mini-index: {conn}"
    );
    assert!(
        conn["extLinks"].as_u64().unwrap() > 0,
        "no link to std's docs: {conn}"
    );
    for e in arr(&conn["ext"]) {
        let e = e.as_str().unwrap();
        assert!(
            e.starts_with("https://doc.rust-lang.org/") || e.starts_with("https://docs.rs/"),
            "{e}"
        );
    }

    // Peek: a fragment of another page and one of the same page, in place, then everything
    // they use.
    let peek = &report["connection.html?peek"];
    assert!(arr(&peek["errors"]).is_empty(), "{}", peek["errors"]);
    let peeks = arr(&peek["result"]["peeks"]);
    assert_eq!(peeks.len(), 2, "{peek}");
    for p in peeks {
        assert_eq!(p["opened"], true, "{p}");
        assert_eq!(p["expanded"], "true", "{p}");
        assert_eq!(p["inCode"], true, "{p}");
        assert_eq!(p["holdsFirstLine"], true, "{p}");
        assert!(
            p["stayed"]
                .as_str()
                .unwrap()
                .ends_with("connection.html?peek"),
            "{p}"
        );
        assert!(p["highlighted"].as_u64().unwrap() > 0, "{p}");
        assert_eq!(p["closedAfterExpandAll"], 0, "{p}");
        assert_eq!(p["closedAgain"], true, "{p}");
    }
    assert!(
        peeks.iter().any(|p| p["nested"].as_u64().unwrap() > 0),
        "expand all opened nothing: {peeks:?}"
    );

    // "Used in" lands on the reference's line and marks it.
    let landed = &report[used_in.as_str()];
    assert!(arr(&landed["errors"]).is_empty(), "{}", landed["errors"]);
    let l = &landed["result"]["landed"];
    assert_eq!(l["inCode"], true, "{used_in}: {l}");
    assert_eq!(l["target"], true, "{used_in}: {l}");
    assert_eq!(l["visible"], true, "{used_in}: {l}");
    assert_eq!(l["marked"], true, "{used_in}: {l}");
    assert!(l["ref"].as_str().unwrap().starts_with("<<"), "{l}");

    // The identifier index lists every `pub` item of src/.
    let index = fs::read_to_string(site.join("identifier-index.html")).unwrap();
    let items = pub_items();
    assert!(
        items.len() > 50,
        "only {} pub items found in src/",
        items.len()
    );
    let missing: Vec<&(String, String)> = items
        .iter()
        .filter(|(name, _)| !index.contains(&format!("<code>{name}</code>")))
        .collect();
    assert!(missing.is_empty(), "the identifier index lacks {missing:?}");
    assert!(index.contains("tangle-defined"), "no defining block marked");
    fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn without_rust_analyzer_the_book_builds_with_plain_names_and_one_warning() {
    let dir = scratch("plain");
    let out = build(
        &dir.join("site"),
        &[
            ("RUST_ANALYZER", "/nonexistent/rust-analyzer"),
            ("CARGO_TARGET_DIR", dir.join("target").to_str().unwrap()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("not linked"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("rustup component add rust-analyzer"),
        "{stderr}"
    );
    let page = fs::read_to_string(dir.join("site/connection.html")).unwrap();
    assert!(
        !page.contains("tangle-ids"),
        "identifier data without an index"
    );
    assert!(page.contains("tangle-caption"), "fragments still rendered");
    fs::remove_dir_all(&dir).unwrap();
}
