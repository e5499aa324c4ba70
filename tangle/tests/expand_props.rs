//! Properties of the shared expander: random fragment graphs expand exactly as a naive
//! recursive reference expander says, deep legal nesting works, line maps point at real
//! lines, and webs that the Markdown and org dialects read alike tangle alike.

use std::collections::HashMap;
use std::path::PathBuf;
use tangle::markdown::expand::expand_root_text;
use tangle::markdown::pipeline::{tangle_chapters, tangle_markdown};

mod support;
use support::Rng;

/// A random acyclic web: fragment `i` may only reference fragments `j > i`; fragment 0 is
/// the root. Each fragment has one to three parts.
fn random_web(rng: &mut Rng) -> Vec<Vec<Vec<String>>> {
    let n = 1 + rng.below(8);
    let texts = [
        "let x = 1;",
        "",
        "    ",
        "foo(",
        ");",
        "// note",
        "a",
        "  b  ",
        "ü → ✓",
    ];
    (0..n)
        .map(|i| {
            (0..1 + rng.below(3))
                .map(|_| {
                    (0..rng.below(5))
                        .map(|_| {
                            let mut line = String::new();
                            for _ in 0..rng.below(3) {
                                line.push_str(rng.pick(&texts));
                                if i + 1 < n && rng.below(2) == 0 {
                                    let j = i + 1 + rng.below(n - i - 1);
                                    line.push_str(&format!("<<f{j}>>"));
                                }
                            }
                            line
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The specification, written as plainly as possible: expand a line by splitting at its first
/// reference; the text before is repeated before every expansion line, the text after is
/// appended to the last one and scanned again. Each line carries whether its own content
/// (what follows the repeated prefix) is empty: such a blank line of an expansion is written
/// without trailing whitespace.
fn naive_line(web: &HashMap<String, Vec<String>>, line: &str) -> Vec<(String, bool)> {
    let Some(start) = find(line) else {
        return vec![(line.to_string(), false)];
    };
    let end = start + line[start..].find(">>").unwrap() + 2;
    let (before, name, after) = (&line[..start], &line[start + 2..end - 2], &line[end..]);
    let body: Vec<(String, bool)> = web[name]
        .iter()
        .flat_map(|l| {
            if l.is_empty() {
                vec![(String::new(), true)]
            } else {
                naive_line(web, l)
            }
        })
        .collect();
    if body.is_empty() {
        return if after.is_empty() {
            vec![(before.to_string(), true)]
        } else {
            naive_line(web, &format!("{before}{after}"))
        };
    }
    let mut out: Vec<(String, bool)> = body[..body.len() - 1]
        .iter()
        .map(|(l, blank)| (format!("{before}{l}"), *blank))
        .collect();
    let (last, blank) = body.last().unwrap();
    if after.is_empty() {
        out.push((format!("{before}{last}"), *blank));
    } else {
        // Expansions hold no markers, so scanning the joined line again only finds `after`'s.
        out.extend(naive_line(web, &format!("{before}{last}{after}")));
    }
    out
}

fn finish(lines: Vec<(String, bool)>) -> String {
    lines
        .into_iter()
        .map(|(l, blank)| {
            if blank {
                format!("{}\n", l.trim_end())
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

fn find(line: &str) -> Option<usize> {
    let s = line.find("<<f")?;
    line[s..].find(">>").map(|_| s)
}

fn to_chapter(web: &[Vec<Vec<String>>]) -> String {
    let mut md = String::new();
    for (i, parts) in web.iter().enumerate() {
        for (k, part) in parts.iter().enumerate() {
            let attr = match (i, k) {
                (0, 0) => "file=out.txt".to_string(),
                (0, _) => continue,
                (_, 0) => format!("name=f{i}"),
                _ => format!("name+=f{i}"),
            };
            md.push_str(&format!("```text {attr}\n"));
            for line in part {
                md.push_str(line);
                md.push('\n');
            }
            md.push_str("```\n\n");
        }
    }
    md
}

#[test]
fn random_webs_match_the_naive_expander() {
    for seed in 1..=2000u64 {
        let mut rng = Rng::new(seed);
        let web = random_web(&mut rng);
        let md = to_chapter(&web);
        let table: HashMap<String, Vec<String>> = web
            .iter()
            .enumerate()
            .map(|(i, parts)| (format!("f{i}"), parts.iter().flatten().cloned().collect()))
            .collect();
        let root: Vec<(String, bool)> = web[0][0]
            .iter()
            .flat_map(|l| naive_line(&table, l))
            .collect();
        let lines = root.len();
        let expected = finish(root);
        let tangled = tangle_chapters(&[(PathBuf::from("p.md"), md.clone())], "(ref:%s)")
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{md}"));
        let text = String::from_utf8(tangled.outputs[0].content.clone()).unwrap();
        // The .txt extension has no comment syntax, so there is no header.
        assert_eq!(text, expected, "seed {seed}, document:\n{md}");
        assert_eq!(
            tangled.outputs[0].map.lines.len(),
            lines,
            "seed {seed}: one map entry per line"
        );
        // Expanding for the text alone (as `tangle` does to write files) gives the same text.
        let web = tangle_markdown(&[(PathBuf::from("p.md"), md.clone())], "(ref:%s)")
            .unwrap()
            .web;
        let text_only = expand_root_text(&web, 0).unwrap().text;
        assert_eq!(
            text_only, expected,
            "seed {seed}, text only, document:\n{md}"
        );
    }
}

#[test]
fn ten_thousand_levels_of_nesting() {
    const DEPTH: usize = 10_000;
    let mut md = String::from("```text file=deep.txt\n<<level 1>>\n```\n");
    for i in 1..DEPTH {
        md.push_str(&format!(
            "```text name=\"level {i}\"\nline {i}\n<<level {}>>\n```\n",
            i + 1
        ));
    }
    md.push_str(&format!("```text name=\"level {DEPTH}\"\nbottom\n```\n"));
    // Run on a thread with a deliberately small stack: depth must not consume it.
    let out = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || tangle_chapters(&[(PathBuf::from("deep.md"), md)], "(ref:%s)"))
        .unwrap()
        .join()
        .expect("no stack overflow")
        .unwrap();
    let text = String::from_utf8(out.outputs[0].content.clone()).unwrap();
    assert_eq!(text.lines().count(), DEPTH);
    assert_eq!(text.lines().last(), Some("bottom"));
    assert_eq!(text.lines().nth(4999), Some("line 5000"));
}

#[test]
fn a_deep_cycle_is_reported_with_its_chain() {
    let md = "```text file=c.txt\n<<a>>\n```\n```text name=a\n<<b>>\n```\n```text name=b\nx <<c>>\n```\n```text name=c\n<<a>>\n```\n";
    let err = tangle_chapters(&[(PathBuf::from("c.md"), md.into())], "(ref:%s)").unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("c.md:11:1: error: reference cycle: «a» → «b» → «c» → «a»"),
        "{text}"
    );
    assert!(
        text.contains("c.md:8:3: note: «c» is referenced here"),
        "{text}"
    );
}

#[test]
fn line_maps_point_at_the_source_text() {
    let md = "# T\n\n```rust file=src/x.rs\nfn main() {\n    <<body>>\n}\n```\n\n- item\n\n  ```rust name=body\n  let v = call(<<arg>>, 2);\n  ```\n```rust name=arg\n40 + 2\n```\n";
    let out = tangle_chapters(&[(PathBuf::from("x.md"), md.into())], "(ref:%s)").unwrap();
    let o = &out.outputs[0];
    let text = String::from_utf8(o.content.clone()).unwrap();
    let line3 = text.lines().nth(2).unwrap();
    assert_eq!(line3, "    let v = call(40 + 2, 2);");
    // `let` (output col 5) is in «body» at x.md:12, col 3 (inside the list item).
    let at = |col: usize| {
        let l = o.map.locate(3, col).unwrap();
        (l.line, l.col, l.fragment.to_string())
    };
    assert_eq!(at(5), (12, 3, "body".into()));
    assert_eq!(at(18), (15, 1, "arg".into()));
    assert_eq!(
        at(24),
        (12, 23, "body".into()),
        "text after the reference maps back to its own line"
    );
    assert!(o.map.locate(1, 1).is_none(), "the header has no origin");
}

/// A random acyclic web that both dialects read alike: one reference per line (named
/// `fragN`, so Org's one-character quirk cannot apply), no blank lines, every part starting
/// with unindented code (so Org's indentation removal and trimming change nothing).
fn agreeing_web(rng: &mut Rng) -> Vec<Vec<Vec<String>>> {
    let n = 1 + rng.below(7);
    (0..n)
        .map(|i| {
            let parts = if i == 0 { 1 } else { 1 + rng.below(2) };
            (0..parts)
                .map(|k| {
                    let mut lines = vec![format!("part{i}_{k} = {}", rng.below(100))];
                    for _ in 0..rng.below(4) {
                        if i + 1 < n && rng.below(2) == 0 {
                            let j = i + 1 + rng.below(n - i - 1);
                            let indent = rng.pick(&["", "  ", "    ", "\t"]);
                            let pre = rng.pick(&["", "call(", "x = ", "é "]);
                            let post = rng.pick(&["", ");", " + 1", " é"]);
                            lines.push(format!("{indent}{pre}<<frag{j}>>{post}"));
                        } else {
                            let indent = rng.pick(&["", "  ", "\t"]);
                            lines.push(format!("{indent}code {}", rng.below(1000)));
                        }
                    }
                    lines
                })
                .collect()
        })
        .collect()
}

#[test]
fn webs_written_in_both_syntaxes_tangle_alike() {
    for seed in 1..=1000u64 {
        let mut rng = Rng::new(seed);
        let web = agreeing_web(&mut rng);
        let mut md = String::new();
        let mut org = String::from("#+property: header-args :noweb yes\n");
        for (i, parts) in web.iter().enumerate() {
            for (k, part) in parts.iter().enumerate() {
                let (md_attr, org_attr) = match (i, k) {
                    (0, _) => ("file=out.txt".to_string(), ":tangle out.txt".to_string()),
                    (_, 0) => (format!("name=frag{i}"), format!(":noweb-ref frag{i}")),
                    _ => (format!("name+=frag{i}"), format!(":noweb-ref frag{i}")),
                };
                md.push_str(&format!("```text {md_attr}\n"));
                org.push_str(&format!("#+begin_src text {org_attr}\n"));
                for line in part {
                    md.push_str(&format!("{line}\n"));
                    org.push_str(&format!("{line}\n"));
                }
                md.push_str("```\n\n");
                org.push_str("#+end_src\n\n");
            }
        }
        let from_md = tangle_chapters(&[(PathBuf::from("p.md"), md.clone())], "(ref:%s)")
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{md}"));
        let from_org = tangle::org::tangle_org(std::path::Path::new("p.org"), &org)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{org}"));
        assert_eq!(
            String::from_utf8_lossy(&from_org.outputs[0].content),
            String::from_utf8_lossy(&from_md.outputs[0].content),
            "seed {seed}, documents:\n{md}\n{org}"
        );
        let lines = |o: &tangle::Output| {
            o.map
                .lines
                .iter()
                .map(|l| l.as_ref().map(|o| o.col_shift))
                .collect::<Vec<_>>()
        };
        // Lines of several pieces holding text (Org's trimming drops an empty piece at the
        // end of the body).
        let pieces = |o: &tangle::Output| {
            let text = String::from_utf8_lossy(&o.content).into_owned();
            let widths: Vec<usize> = text.lines().map(|l| l.chars().count()).collect();
            let mut by_line: Vec<Vec<(u32, i32)>> = vec![Vec::new(); widths.len()];
            for s in &o.map.segments {
                if s.col as usize <= widths[s.line as usize] {
                    by_line[s.line as usize].push((s.col, s.origin.col_shift));
                }
            }
            by_line
                .into_iter()
                .enumerate()
                .filter(|(_, p)| p.len() > 1)
                .collect::<Vec<_>>()
        };
        // The same columns shift the same way (the documents' line numbers differ).
        assert_eq!(
            lines(&from_org.outputs[0]),
            lines(&from_md.outputs[0]),
            "seed {seed}, documents:\n{md}\n{org}"
        );
        assert_eq!(
            pieces(&from_org.outputs[0]),
            pieces(&from_md.outputs[0]),
            "seed {seed}, documents:\n{md}\n{org}"
        );
    }
}
