//! The rendered book: builds books with the real `mdbook` and the `tangle mdbook` preprocessor,
//! checks every internal link of the built site, and opens pages in real headless Chromium
//! (through `tests/browser/cdp.py`, Python standard library only) to check the DOM after
//! mdBook's scripts and `tangle.js` ran: captions, highlighted code with linked references,
//! coderef labels, the print page, search, and no console errors.
//!
//! Needs `mdbook` 0.5 (PATH or ~/.cargo/bin, or `$MDBOOK`), Chromium (`$CHROMIUM`, or
//! `chromium`/`chromium-browser`/`google-chrome` on PATH) and `python3`: a missing tool is a
//! failure, not a skip. Screenshots are left in `target/tmp/book_render/*.png`.

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod support;
use support::{tool, Scratch};

const TANGLE: &str = env!("CARGO_BIN_EXE_tangle");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const TMP: &str = env!("CARGO_TARGET_TMPDIR");

fn mdbook() -> PathBuf {
    tool(
        "MDBOOK",
        &["mdbook"],
        "install it with `cargo install mdbook --version 0.5.4 --locked`",
    )
}

fn chromium() -> PathBuf {
    tool(
        "CHROMIUM",
        &[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ],
        "install Chromium (Debian: `apt-get install chromium`)",
    )
}

fn python() -> PathBuf {
    tool(
        "PYTHON3",
        &["python3"],
        "install Python 3 (standard library only)",
    )
}

/// The preprocessor command for tests: this build's binary, not the release wrapper.
fn preprocessor_command() -> String {
    format!("\"{TANGLE}\" mdbook")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(TMP).join("book_render").join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The `tangle` binary must answer mdBook's `supports` question.
fn preflight() {
    let status = Command::new(TANGLE)
        .args(["mdbook", "supports", "html"])
        .status()
        .expect("run tangle");
    assert!(
        status.success(),
        "`tangle mdbook supports html` failed: the binary does not wire `tangle::mdbook`"
    );
}

/// Runs `mdbook build ROOT -d DEST` with the test preprocessor.
fn mdbook_build(root: &Path, dest: &Path) -> Output {
    preflight();
    Command::new(mdbook())
        .arg("build")
        .arg(root)
        .arg("-d")
        .arg(dest)
        .env(
            "MDBOOK_PREPROCESSOR__TANGLE__COMMAND",
            preprocessor_command(),
        )
        .output()
        .expect("run mdbook")
}

fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The fixture book, copied with the assets it references, built into `dest`.
fn build_fixture(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let root = dir.join("src-book");
    copy_dir(&Path::new(MANIFEST_DIR).join("tests/fixtures/book"), &root);
    copy_dir(
        &Path::new(MANIFEST_DIR).join("assets"),
        &root.join("tangle/assets"),
    );
    let site = dir.join("site");
    assert_success(
        &mdbook_build(&root, &site),
        "mdbook build of the fixture book",
    );
    (root, site)
}

// ---------------------------------------------------------------------------------------------
// Static link check

fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for quote in ['"', '\''] {
        let pat = format!(" {attr}={quote}");
        let mut rest = html;
        while let Some(i) = rest.find(&pat) {
            let after = &rest[i + pat.len()..];
            let Some(j) = after.find(quote) else { break };
            out.push(&after[..j]);
            rest = &after[j..];
        }
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Normalises `a/b/../c` (no `..` past the root: returns None).
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

fn html_files(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            html_files(&p, base, out);
        } else if p.extension().is_some_and(|x| x == "html") {
            out.push(
                p.strip_prefix(base)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/"),
            );
        }
    }
}

/// Every internal `href` and `src` of every page resolves: the file exists and, for an
/// `#anchor`, the target page has that id. Returns the number of links checked.
fn check_links(site: &Path) -> usize {
    let mut pages = Vec::new();
    html_files(site, site, &mut pages);
    pages.sort();
    let mut ids: HashMap<String, HashSet<String>> = HashMap::new();
    let mut texts = HashMap::new();
    for p in &pages {
        let text = fs::read_to_string(site.join(p)).unwrap();
        let mut set: HashSet<String> = attr_values(&text, "id").into_iter().map(unescape).collect();
        set.extend(attr_values(&text, "name").into_iter().map(unescape));
        ids.insert(p.clone(), set);
        texts.insert(p.clone(), text);
    }
    let mut broken = Vec::new();
    let mut checked = 0;
    for p in &pages {
        let text = &texts[p];
        let root_based = text.contains("<base href=\"/\"");
        let dir = if root_based {
            ""
        } else {
            p.rsplit_once('/').map_or("", |(d, _)| d)
        };
        let mut links: Vec<&str> = attr_values(text, "href");
        links.extend(attr_values(text, "src"));
        for raw in links {
            let link = unescape(raw);
            let is_external = link.split_once(':').is_some_and(|(scheme, _)| {
                !scheme.is_empty()
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            }) || link.starts_with("//");
            if is_external || link.contains("{{") {
                continue;
            }
            checked += 1;
            let (path, anchor) = link
                .split_once('#')
                .map_or((link.as_str(), None), |(a, b)| (a, Some(b)));
            let path = path.split('?').next().unwrap_or("");
            let target = if path.is_empty() {
                Some(p.clone())
            } else if let Some(abs) = path.strip_prefix('/') {
                normalize(&percent_decode(abs))
            } else {
                normalize(&format!("{dir}/{}", percent_decode(path)))
            };
            let Some(mut target) = target else {
                broken.push(format!("{p}: {link} (leaves the site)"));
                continue;
            };
            if target.is_empty() || site.join(&target).is_dir() {
                target = format!(
                    "{}index.html",
                    if target.is_empty() {
                        String::new()
                    } else {
                        format!("{target}/")
                    }
                );
            }
            if !site.join(&target).is_file() {
                broken.push(format!("{p}: {link} (no file {target})"));
                continue;
            }
            if let Some(anchor) = anchor.filter(|a| !a.is_empty()) {
                let anchor = percent_decode(anchor);
                match ids.get(&target) {
                    Some(set) if set.contains(&anchor) => {}
                    Some(_) => broken.push(format!("{p}: {link} (no id `{anchor}` in {target})")),
                    None => broken.push(format!("{p}: {link} (anchor into a non-HTML file)")),
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "{} broken internal links:\n{}",
        broken.len(),
        broken.join("\n")
    );
    checked
}

// ---------------------------------------------------------------------------------------------
// Chromium

/// Opens `pages` of the built `site` in headless Chromium; returns page → {result, errors}.
fn browse(site: &Path, pages: &[&str], screenshots: &[(&str, &Path)]) -> HashMap<String, Value> {
    browse_with(site, pages, screenshots, "check.js", &[])
}

/// Like [`browse`], with another check script of `tests/browser/` and more flags for cdp.py.
fn browse_with(
    site: &Path,
    pages: &[&str],
    screenshots: &[(&str, &Path)],
    check: &str,
    flags: &[&str],
) -> HashMap<String, Value> {
    let browser_dir = Path::new(MANIFEST_DIR).join("tests/browser");
    let mut cmd = Command::new(python());
    cmd.arg(browser_dir.join("cdp.py"))
        .arg("--chromium")
        .arg(chromium())
        .arg("--root")
        .arg(site)
        .arg("--check")
        .arg(browser_dir.join(check))
        .args(flags);
    for (page, png) in screenshots {
        cmd.arg("--screenshot")
            .arg(format!("{page}={}", png.display()));
    }
    cmd.args(pages);
    // Chromium's profile and the files it makes in the temporary folder go to a scratch
    // folder removed when this returns, also when a check below fails.
    let tmp = Scratch::new("chromium");
    cmd.env("TMPDIR", tmp.path());
    let out = cmd.output().expect("run python3 tests/browser/cdp.py");
    assert_success(&out, "headless Chromium (tests/browser/cdp.py)");
    let report: Value = serde_json::from_slice(&out.stdout).expect("cdp.py prints JSON");
    let map = report["pages"].as_object().expect("pages").clone();
    map.into_iter().collect()
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
}

/// Checks that hold on every page: scripts ran without errors, every tangled block is
/// highlighted and has no playground, every reference link sits in highlighted code and
/// reaches an existing target, every cross reference resolves, labels are in place.
fn check_page(page: &str, report: &Value) {
    let errors = arr(&report["errors"]);
    assert!(errors.is_empty(), "{page}: console errors: {errors:#?}");
    let r = &report["result"];
    assert!(
        r.get("check_failed").is_none(),
        "{page}: check.js failed: {r}"
    );
    assert_eq!(r["ready"], true, "{page}: tangle.js did not run");
    for b in arr(&r["blocks"]) {
        assert_eq!(
            b["pre"], true,
            "{page}: caption {} is not followed by a code block",
            b["id"]
        );
        assert_eq!(b["hljs"], true, "{page}: block {} not highlighted", b["id"]);
        assert_eq!(
            b["playground"], false,
            "{page}: block {} has a playground",
            b["id"]
        );
    }
    for x in arr(&r["refs"]) {
        assert_eq!(
            x["ok"], true,
            "{page}: reference link to a missing target: {x}"
        );
        assert_eq!(
            x["inHighlightedCode"], true,
            "{page}: reference outside highlighted code: {x}"
        );
        let text = x["text"].as_str().unwrap();
        assert!(
            text.starts_with("<<") && text.ends_with(">>"),
            "{page}: {x}"
        );
    }
    for x in arr(&r["xrefs"]) {
        assert_eq!(x["ok"], true, "{page}: broken cross reference {x}");
    }
    for l in arr(&r["labels"]) {
        assert_eq!(
            l["inCode"], true,
            "{page}: label not moved into its code line: {l}"
        );
        assert_ne!(l["shown"], false, "{page}: label still hidden: {l}");
    }
    assert_eq!(
        r["leftoverLabelText"], false,
        "{page}: coderef label text left in code"
    );
}

fn count(r: &Value, key: &str) -> usize {
    arr(&r["result"][key]).len()
}

#[test]
fn fixture_book_renders_in_chromium() {
    let (_, site) = build_fixture("fixture");
    let checked = check_links(&site);
    assert!(checked > 50, "only {checked} links checked");

    let shots = Path::new(TMP).join("book_render");
    let shot = shots.join("fixture-handling.png");
    let pages = [
        "index.html",
        "server.html",
        "part/handling.html",
        "fragment-index.html",
        "print.html",
        "index.html?search=listener",
    ];
    let report = browse(
        &site,
        &pages,
        &[
            ("part/handling.html", &shot),
            ("server.html", &shots.join("fixture-server.png")),
        ],
    );
    for page in pages {
        check_page(page, &report[page]);
    }
    assert!(
        fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "no screenshot at {}",
        shot.display()
    );

    // The illustration keeps mdBook's default: a runnable playground.
    assert_eq!(report["index.html"]["result"]["playgrounds"], 1);

    let server = &report["server.html"]["result"];
    let captions: Vec<(&str, &str)> = arr(&server["captions"])
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["dfn"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        captions,
        [
            ("file:src/main.rs", ""),
            ("f:bind-the-listener", "«bind the listener»"),
            ("f:imports", "«imports»")
        ]
    );
    let refs: Vec<(&str, &str)> = arr(&server["refs"])
        .iter()
        .map(|x| (x["text"].as_str().unwrap(), x["href"].as_str().unwrap()))
        .collect();
    assert_eq!(
        refs,
        [
            ("<<imports>>", "#f:imports"),
            ("<<bind the listener>>", "#f:bind-the-listener"),
            (
                "<<match the request>>",
                "part/handling.html#f:match-the-request"
            ),
        ]
    );
    let root = &arr(&server["blocks"])[0];
    assert!(
        root["spans"].as_u64().unwrap() >= 5,
        "highlighting spans missing: {root}"
    );
    assert_eq!(root["refs"], 3);
    assert!(!root["text"].as_str().unwrap().contains("(ref:"), "{root}");
    assert_eq!(arr(&server["labels"])[0]["id"], "l:bind");
    assert_eq!(arr(&server["labelRefs"]), &[Value::from("#l:bind")]);

    let handling = &report["part/handling.html"]["result"];
    assert_eq!(count(&report["part/handling.html"], "captions"), 5);
    let cont = &arr(&handling["captions"])[1];
    assert_eq!(cont["id"], "f:match-the-request:2");
    assert!(cont["text"].as_str().unwrap().contains("+≡"), "{cont}");
    assert!(
        arr(&handling["labelRefs"]).contains(&Value::from("../server.html#l:bind")),
        "{handling}"
    );

    // A block in a block quote: caption, code and footer inside the one quote, which goes on.
    let html = fs::read_to_string(site.join("part/handling.html")).unwrap();
    let quote = &html[html.find("<blockquote>").unwrap()..];
    let quote = &quote[..quote.find("</blockquote>").unwrap()];
    let order: Vec<usize> = [
        "A quoted aside",
        r#"id="f:imports:3""#,
        "<pre><code",
        "tangle-footer",
        "The quote goes on",
    ]
    .iter()
    .map(|s| {
        quote
            .find(s)
            .unwrap_or_else(|| panic!("{s} not in the quote: {quote}"))
    })
    .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{quote}");
    assert_eq!(html.matches("<blockquote>").count(), 1, "{html}");

    // The print page holds every block; its links stay on the page.
    let print = &report["print.html"];
    assert_eq!(count(print, "captions"), 8);
    assert_eq!(count(print, "refs"), 4);
    assert_eq!(count(print, "labels"), 2);
    for x in arr(&print["result"]["refs"])
        .iter()
        .chain(arr(&print["result"]["xrefs"]))
    {
        assert!(
            x["href"].as_str().unwrap().starts_with('#'),
            "print page link leaves the page: {x}"
        );
    }

    // The index lists every fragment and file.
    let index = fs::read_to_string(site.join("fragment-index.html")).unwrap();
    for name in [
        "«bind the listener»",
        "«imports»",
        "«match the request»",
        "«serve one client»",
        ">src/main.rs<",
    ] {
        assert!(index.contains(name), "fragment index lacks {name}");
    }
    assert!(count(&report["fragment-index.html"], "xrefs") >= 10);

    // Search still works.
    let hits = arr(&report["index.html?search=listener"]["result"]["searchResults"]);
    assert!(
        hits.iter()
            .any(|h| h.as_str().unwrap().starts_with("server.html")),
        "search results: {hits:?}"
    );
}

#[test]
fn project_book_renders_in_chromium() {
    let root = Path::new(MANIFEST_DIR).parent().unwrap();
    assert!(
        root.join("book.toml").is_file(),
        "no book.toml at {}",
        root.display()
    );
    // What book.toml names must exist in a fresh clone (the assets), and mdBook must find the
    // preprocessor by its name, `mdbook-tangle`, as in any book `mdbook-tangle install` wires.
    let toml = fs::read_to_string(root.join("book.toml")).unwrap();
    for needed in ["tangle/assets/tangle.js", "tangle/assets/tangle.css"] {
        assert!(toml.contains(needed), "book.toml does not mention {needed}");
        assert!(root.join(needed).is_file(), "{needed} is missing");
    }
    assert!(
        toml.contains("[preprocessor.tangle]") && !toml.contains("command ="),
        "book.toml should wire the preprocessor by name alone:\n{toml}"
    );
    let site = scratch("project").join("site");
    let out = mdbook_build(root, &site);
    assert_success(&out, "mdbook build of the project's book");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("mdbook-tangle: warning"),
        "the book's own assets are reported stale:\n{stderr}"
    );
    check_links(&site);

    let mut pages = Vec::new();
    html_files(&site, &site, &mut pages);
    pages.retain(|p| !matches!(p.as_str(), "404.html" | "toc.html"));
    pages.sort();
    // The first tangled block of the book gets its picture taken (its page scrolled to it).
    let marker = r#"<div class="tangle-caption" id=""#;
    let first = pages
        .iter()
        .filter(|p| !matches!(p.as_str(), "print.html" | "index.html"))
        .find_map(|p| {
            let html = fs::read_to_string(site.join(p)).unwrap();
            let rest = &html[html.find(marker)? + marker.len()..];
            Some(format!("{p}#{}", &rest[..rest.find('"')?]))
        })
        .expect("the project's book renders no tangled block at all");
    let shot = Path::new(TMP)
        .join("book_render")
        .join("project-chapter.png");
    let mut page_refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    page_refs.push(&first);
    let report = browse(&site, &page_refs, &[(first.as_str(), &shot)]);
    check_page(&first, &report[&first]);
    page_refs.pop();
    let (mut captions, mut spans) = (0, 0);
    for page in &page_refs {
        check_page(page, &report[*page]);
        // index.html is mdBook's copy of the first chapter.
        if !matches!(*page, "print.html" | "index.html") {
            captions += count(&report[*page], "captions");
            let blocks = arr(&report[*page]["result"]["blocks"]);
            spans += blocks
                .iter()
                .map(|b| b["spans"].as_u64().unwrap())
                .sum::<u64>();
        }
    }
    assert!(captions > 0);
    assert!(spans > 0, "no highlighting in any tangled block");
    let print = &report["print.html"]["result"];
    for x in arr(&print["refs"]).iter().chain(arr(&print["xrefs"])) {
        let href = x["href"].as_str().unwrap();
        assert!(
            href.starts_with('#'),
            "print page link leaves the page: {x}"
        );
    }
    assert_eq!(
        count(&report["print.html"], "captions"),
        captions,
        "the print page lacks blocks"
    );
    if site.join("fragment-index.html").is_file() {
        let index = fs::read_to_string(site.join("fragment-index.html")).unwrap();
        assert!(
            index.contains("tangle-index"),
            "the fragment index chapter was not generated"
        );
    }
}

#[test]
fn document_errors_fail_the_build_with_locations() {
    let dir = scratch("errors");
    let root = dir.join("book");
    fs::create_dir_all(root.join("src")).unwrap();
    fs::write(
        root.join("book.toml"),
        "[book]\ntitle = \"bad\"\n[preprocessor.tangle]\ncommand = \"tangle mdbook\"\n",
    )
    .unwrap();
    fs::write(
        root.join("src/SUMMARY.md"),
        "# Summary\n\n- [Bad](bad.md)\n",
    )
    .unwrap();
    fs::write(
        root.join("src/bad.md"),
        "# Bad\n\n```rust file=x.rs\n    <<missing>>\n```\n\nSee (ref:nowhere).\n",
    )
    .unwrap();
    let out = mdbook_build(&root, &dir.join("site"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the build succeeded despite errors:\n{stderr}"
    );
    assert!(
        stderr.contains("src/bad.md:4:5: error: undefined reference «missing»"),
        "{stderr}"
    );
}

#[test]
fn mdbook_test_does_not_compile_fragments() {
    let (root, _) = build_fixture("mdbook-test");
    let out = Command::new(mdbook())
        .arg("test")
        .arg(&root)
        .env(
            "MDBOOK_PREPROCESSOR__TANGLE__COMMAND",
            preprocessor_command(),
        )
        .output()
        .expect("run mdbook test");
    assert_success(&out, "mdbook test of the fixture book");
}

/// The project's book as a reader sees it at 1400 px, in each of mdBook's five themes: no code
/// block wider than its box (and no block of rustfmt's 100 columns wrapped), captions, footers,
/// references and figure captions at a contrast of at least 4.5:1 (WCAG, from the computed
/// styles over the effective background), references the colour their rule gives whether
/// visited or not, no console error with the network closed (no page asks the playground),
/// at least five figures each with a caption and a text alternative, the frame's byte
/// layout drawn from the dump the book shows, and no footer text in what a search shows.
#[test]
fn project_book_fits_and_reads_in_every_theme() {
    let root = Path::new(MANIFEST_DIR).parent().unwrap();
    let site = scratch("finish").join("site");
    assert_success(
        &mdbook_build(root, &site),
        "mdbook build of the project's book",
    );
    let mut pages = Vec::new();
    html_files(&site, &site, &mut pages);
    pages.retain(|p| !matches!(p.as_str(), "404.html" | "toc.html"));
    pages.sort();
    let search = "index.html?search=Message";
    let mut page_refs: Vec<&str> = pages.iter().map(String::as_str).collect();
    page_refs.push(search);
    let shot = Path::new(TMP).join("book_render").join("figure-life.png");
    let report = browse_with(
        &site,
        &page_refs,
        &[("connection.html", &shot)],
        "finish.js",
        &["--width", "1400", "--no-playground-stub"],
    );
    let themes = ["light", "rust", "coal", "navy", "ayu"];
    let mut measured: HashMap<&str, usize> = HashMap::new();
    let mut figures = Vec::new();
    for page in &page_refs {
        let rep = &report[*page];
        let errors = arr(&rep["errors"]);
        assert!(errors.is_empty(), "{page}: console errors: {errors:#?}");
        let r = &rep["result"];
        assert!(
            r.get("check_failed").is_none(),
            "{page}: finish.js failed: {r}"
        );
        assert_eq!(r["ready"], true, "{page}: tangle.js did not run");
        assert!(
            arr(&r["overflow"]).is_empty(),
            "{page}: code wider than its box at 1400 px: {:#?}",
            r["overflow"]
        );
        assert!(
            arr(&r["wrappedAt100"]).is_empty(),
            "{page}: code of at most 100 columns does not fit unwrapped at 1400 px: {:#?}",
            r["wrappedAt100"]
        );
        assert_eq!(r["playgrounds"], 0, "{page}: a playground block");
        assert!(
            arr(&r["lowContrast"]).is_empty(),
            "{page}: contrast below 4.5: {:#?}",
            r["lowContrast"]
        );
        for theme in themes {
            let per = &r["contrast"][theme];
            assert!(
                per.is_object(),
                "{page}: theme {theme} could not be chosen: {per}"
            );
            for (kind, m) in per.as_object().unwrap() {
                let n = m["count"].as_u64().unwrap() as usize;
                *measured.entry(theme).or_default() += n;
                if n > 0 {
                    let min = m["min"].as_f64().unwrap();
                    assert!(min >= 4.5, "{page}: {kind} in {theme}: contrast {min}");
                }
            }
        }
        for c in arr(&r["refColours"]) {
            assert_eq!(
                c["link"], c["inherited"],
                "{page}: a reference in link colour: {c}"
            );
        }
        if !matches!(*page, "print.html" | "index.html") {
            figures.extend(
                arr(&r["figures"])
                    .iter()
                    .map(|f| (page.to_string(), f.clone())),
            );
        }
    }
    for theme in themes {
        assert!(
            measured[theme] > 1000,
            "only {} texts measured in {theme}",
            measured[theme]
        );
    }

    // Figures: at least five, each with its caption and a text alternative.
    assert!(
        figures.len() >= 5,
        "only {} figures: {figures:#?}",
        figures.len()
    );
    for (page, f) in &figures {
        let caption = f["caption"].as_str().unwrap();
        assert!(caption.starts_with("Figure "), "{page}: {f}");
        assert!(caption.len() > "Figure 1.1 ".len() + 10, "{page}: {f}");
        assert_eq!(f["role"], "img", "{page}: {f}");
        assert!(!f["title"].as_str().unwrap().is_empty(), "{page}: {f}");
        assert!(
            f["desc"].as_str().unwrap().len() >= 80,
            "{page}: short text alternative: {f}"
        );
        assert_eq!(f["fits"], true, "{page}: figure wider than the column: {f}");
        assert!(f["width"].as_f64().unwrap() > 100.0, "{page}: {f}");
    }
    for id in [
        "fig:load-rates",
        "fig:connection-life",
        "fig:event-loop-round",
        "fig:frame-bytes",
        "fig:error-bad-header",
    ] {
        assert!(figures.iter().any(|(_, f)| f["id"] == id), "no figure {id}");
    }
    // The byte layout is drawn from the request the protocol chapter shows, which
    // tests/book_examples.rs compares with what the client sends: cell for byte.
    let protocol = fs::read_to_string(root.join("docs/protocol.md")).unwrap();
    let at = protocol
        .find("<!-- check: frame client-search-morpheus -->")
        .unwrap();
    let dump = protocol[at..].lines().nth(2).unwrap();
    let bytes = tangle::figure::unescape(dump).unwrap();
    assert_eq!(bytes.len(), 146, "{dump}");
    let (_, layout) = figures
        .iter()
        .find(|(_, f)| f["id"] == "fig:frame-bytes")
        .unwrap();
    let cells: Vec<u8> = arr(&layout["cells"])
        .iter()
        .map(|c| c.as_u64().unwrap() as u8)
        .collect();
    assert_eq!(cells, bytes);

    // Performance's chart and its table come from the same run: each one-loop median the
    // table gives is the one a bar of the chart shows.
    let chapter = fs::read_to_string(root.join("docs/performance.md")).unwrap();
    let chart = fs::read_to_string(root.join("docs/load-rates.svg")).unwrap();
    for mode in ["one-shot", "keep-alive"] {
        let row = chapter
            .lines()
            .find(|l| l.starts_with(&format!("| {mode} requests/s | ")))
            .unwrap_or_else(|| panic!("no {mode} row in Performance's table"));
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        for (who, cell) in [("server", cells[2]), ("floor", cells[3])] {
            let median = cell.split_whitespace().next().unwrap();
            let title = format!("{who}, {mode}, 1 loop: median {median} requests/s");
            assert!(chart.contains(&title), "the chart has no bar `{title}`");
        }
    }
    // The instructions chart and its table come from the same count, too.
    let chart = fs::read_to_string(root.join("docs/instructions.svg")).unwrap();
    let mut counts = HashMap::new();
    for who in ["server", "plain build", "floor"] {
        let row = chapter
            .lines()
            .find(|l| l.starts_with(&format!("| {who} | ")))
            .unwrap_or_else(|| panic!("no {who} row in Performance's instructions table"));
        let count = row.split('|').map(str::trim).nth(2).unwrap();
        let title = format!("{who}: {count} instructions per request");
        assert!(chart.contains(&title), "the chart has no bar `{title}`");
        counts.insert(who, count.replace(',', "").parse::<f64>().unwrap());
    }
    // What the chapter says of them: fewer than the floor, about half of the plain build's.
    assert!(counts["server"] < counts["floor"], "{counts:?}");
    let half = counts["server"] / counts["plain build"];
    assert!((0.4..=0.6).contains(&half), "not about half: {counts:?}");
    assert!(
        figures.iter().any(|(_, f)| f["id"] == "fig:instructions"),
        "no instructions figure"
    );

    // A search shows chapters' text, never a footer's ("Defined in 7h. Used in ...").
    let hits = arr(&report[search]["result"]["search"]);
    assert!(hits.len() >= 3, "search for Message: {hits:#?}");
    // A footer says "Defined in 8c." then "Used in «...» 8a." (a tag: a chapter number, a
    // letter); prose that speaks of footers does not.
    let footer_text = |text: &str| {
        text.match_indices("Defined in ")
            .any(|(i, m)| text[i + m.len()..].starts_with(|c: char| c.is_ascii_digit()))
            || text.contains("Used in «")
            || text.contains("Used in src/")
    };
    for h in hits {
        let text = h["text"].as_str().unwrap();
        assert!(!footer_text(text), "footer text in a search result: {text}");
    }
    let mut index = String::new();
    for e in fs::read_dir(&site).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("searchindex") {
            index.push_str(&fs::read_to_string(&p).unwrap());
        }
    }
    assert!(index.contains("Message"), "no search index found");
    assert!(!footer_text(&index), "footer text in the search index");
    assert!(
        fs::metadata(&shot)
            .map(|m| m.len() > 10_000)
            .unwrap_or(false),
        "no screenshot at {}",
        shot.display()
    );
    fs::remove_dir_all(scratch("finish")).ok();
}
