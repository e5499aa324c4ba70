//! Property tests of `tangle sync` on generated books: random changed, inserted and deleted
//! lines in fragments used once are carried back, and the chapters then tangle to the edited
//! bytes; an edit to one copy of a fragment used twice is refused, the same edit to both is
//! carried.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use tangle::project::Project;
use tangle::sync;

mod support;
use support::Rng;

/// A book of `fragments` fragments (3 to 5 lines each), some nested in others, each used once;
/// `twice` names one that is used twice as well.
fn book(dir: &Path, rng: &mut Rng, fragments: usize, twice: bool) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("docs")).unwrap();
    fs::write(dir.join("book.toml"), "[book]\nsrc = \"docs\"\n").unwrap();
    fs::write(dir.join("docs/SUMMARY.md"), "- [A](a.md)\n").unwrap();
    let mut md = String::from("# A\n\n```rust file=src/r.rs\nfn main() {\n");
    // Fragment k is used by the root or by an earlier fragment, at some indentation.
    let mut users: Vec<Vec<(usize, String)>> = vec![Vec::new(); fragments + 1];
    for k in 0..fragments {
        let by = if k == 0 { 0 } else { rng.below(k + 1) };
        let indent = " ".repeat(4 * rng.below(3));
        users[by].push((k, indent));
    }
    for (k, indent) in &users[0] {
        md.push_str(&format!("    {indent}<<f{k}>>\n"));
    }
    if twice {
        md.push_str("    <<f0>>\n");
    }
    md.push_str("}\n```\n\n");
    for k in 0..fragments {
        md.push_str(&format!("Fragment {k}.\n\n```rust name=f{k}\n"));
        for l in 0..3 + rng.below(3) {
            md.push_str(&format!("let v{k}_{l} = {l};\n"));
        }
        for (child, indent) in &users[k + 1] {
            md.push_str(&format!("{indent}<<f{child}>>\n"));
        }
        md.push_str("```\n\n");
    }
    fs::write(dir.join("docs/a.md"), md).unwrap();
}

/// Random edits of the lines that fragments' own lines became (never a reference's).
fn edit(text: &str, rng: &mut Rng, edits: usize) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for n in 0..edits {
        let candidates: Vec<usize> = (1..lines.len())
            .filter(|&i| lines[i].trim_start().starts_with("let v"))
            .collect();
        if candidates.len() < 2 {
            break;
        }
        let i = candidates[rng.below(candidates.len())];
        let indent: String = lines[i].chars().take_while(|c| *c == ' ').collect();
        match rng.below(3) {
            0 => lines[i] = format!("{indent}let e{n} = {n};"),
            1 => lines.insert(i + 1, format!("{indent}let i{n} = {n};")),
            _ => {
                // Keep every fragment's own first line, so that none becomes empty.
                let name = lines[i].trim_start();
                if !name.contains("_0 ") {
                    lines.remove(i);
                }
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn project(dir: &Path) -> Project {
    Project::find(dir).unwrap().expect("a book")
}

#[test]
fn random_edits_of_fragments_used_once_come_back_exactly() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sync-props-once");
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for case in 0..150 {
        let n = 2 + rng.below(6);
        book(&dir, &mut rng, n, false);
        let p = project(&dir);
        let fresh = p.tangle().unwrap();
        let out = &fresh.outputs[0];
        let old = String::from_utf8(out.content.clone()).unwrap();
        let edits = 1 + rng.below(4);
        let new = edit(&old, &mut rng, edits);
        let edited: BTreeMap<PathBuf, String> = [(out.path.clone(), new.clone())].into();
        let plan = sync::plan(&p, &fresh, &edited)
            .unwrap_or_else(|e| panic!("case {case}: refused:\n{e}\n--- old\n{old}--- new\n{new}"));
        let again = p.tangle_with(&plan.texts).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&again.outputs[0].content),
            new,
            "case {case}"
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn one_copy_of_a_fragment_used_twice_is_refused_both_alike_are_carried() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sync-props-twice");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..60 {
        let n = 1 + rng.below(4);
        book(&dir, &mut rng, n, true);
        let p = project(&dir);
        let fresh = p.tangle().unwrap();
        let out = &fresh.outputs[0];
        let old = String::from_utf8(out.content.clone()).unwrap();
        let line = format!("let v0_{} = ", rng.below(3));
        let first = old.find(&line).unwrap();
        let changed = format!("let w{case} = ");
        let one = format!("{}{}{}", &old[..first], changed, &old[first + line.len()..]);
        let both = old.replace(&line, &changed);
        let edited: BTreeMap<PathBuf, String> = [(out.path.clone(), one)].into();
        assert!(
            sync::plan(&p, &fresh, &edited).is_err(),
            "case {case}: an edit of one copy was carried"
        );
        let edited: BTreeMap<PathBuf, String> = [(out.path.clone(), both.clone())].into();
        let plan = sync::plan(&p, &fresh, &edited)
            .unwrap_or_else(|e| panic!("case {case}: both copies alike refused:\n{e}"));
        let again = p.tangle_with(&plan.texts).unwrap();
        assert_eq!(String::from_utf8_lossy(&again.outputs[0].content), both);
    }
    let _ = fs::remove_dir_all(&dir);
}

/// A book of one root whose fragments (each used once, some nested at an indentation) hold
/// calls: `g(N);` on one line, or split as rustfmt splits a long call, `g(` / `    N,` / `);`.
fn calls_book(dir: &Path, rng: &mut Rng, fragments: usize) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir.join("docs")).unwrap();
    fs::write(dir.join("book.toml"), "[book]\nsrc = \"docs\"\n").unwrap();
    fs::write(dir.join("docs/SUMMARY.md"), "- [A](a.md)\n").unwrap();
    let mut md = String::from("# A\n\n```rust file=src/r.rs\nfn main() {\n");
    let mut users: Vec<Vec<(usize, String)>> = vec![Vec::new(); fragments + 1];
    for k in 0..fragments {
        let by = if k == 0 { 0 } else { rng.below(k + 1) };
        users[by].push((k, " ".repeat(4 * rng.below(2))));
    }
    let mut n = 0;
    let mut calls = |md: &mut String, rng: &mut Rng, indent: &str| {
        for _ in 0..1 + rng.below(4) {
            n += 1;
            if rng.below(3) == 0 {
                md.push_str(&format!("{indent}g(\n{indent}    {n},\n{indent});\n"));
            } else {
                md.push_str(&format!("{indent}g({n});\n"));
            }
        }
    };
    calls(&mut md, rng, "    ");
    for (k, indent) in &users[0] {
        md.push_str(&format!("    {indent}<<f{k}>>\n"));
        calls(&mut md, rng, "    ");
    }
    md.push_str("}\n```\n\n");
    for k in 0..fragments {
        md.push_str(&format!("Fragment {k}.\n\n```rust name=f{k}\n"));
        calls(&mut md, rng, "");
        for (child, indent) in &users[k + 1] {
            md.push_str(&format!("{indent}<<f{child}>>\n"));
            calls(&mut md, rng, "");
        }
        md.push_str("```\n\n");
    }
    fs::write(dir.join("docs/a.md"), md).unwrap();
}

/// Random splits of `g(N);` lines into `g(` / `    N,` / `);` and joins of such triples into
/// one line, at the line's own indentation.
fn split_and_join(text: &str, rng: &mut Rng, edits: usize) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..edits {
        let singles: Vec<usize> = (0..lines.len())
            .filter(|&i| lines[i].trim_start().starts_with("g(") && lines[i].ends_with(");"))
            .collect();
        let triples: Vec<usize> = (0..lines.len().saturating_sub(2))
            .filter(|&i| lines[i].trim_start() == "g(" && lines[i + 2].trim_start() == ");")
            .collect();
        let split = triples.is_empty() || (!singles.is_empty() && rng.below(2) == 0);
        if split {
            let Some(&i) = singles.get(rng.below(singles.len().max(1))) else {
                break;
            };
            let indent: String = lines[i].chars().take_while(|c| *c == ' ').collect();
            let arg = lines[i].trim_start()["g(".len()..]
                .trim_end_matches(");")
                .to_string();
            lines.splice(
                i..=i,
                [
                    format!("{indent}g("),
                    format!("{indent}    {arg},"),
                    format!("{indent});"),
                ],
            );
        } else {
            let i = triples[rng.below(triples.len())];
            let indent: String = lines[i].chars().take_while(|c| *c == ' ').collect();
            let arg = lines[i + 1].trim().trim_end_matches(',').to_string();
            lines.splice(i..=i + 2, [format!("{indent}g({arg});")]);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[test]
fn a_line_split_before_a_like_line_comes_back() {
    // The case of the issue: `g(1);` split into three lines just before a line that is
    // also `g(`: the diff may pair the new `g(` with the old one below.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sync-props-split-one");
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("docs")).unwrap();
    fs::write(dir.join("book.toml"), "[book]\nsrc = \"docs\"\n").unwrap();
    fs::write(dir.join("docs/SUMMARY.md"), "- [A](a.md)\n").unwrap();
    let md = "# A\n\n```rust file=src/r.rs\nfn main() {\n    <<calls>>\n}\n```\n\n\
              ```rust name=calls\ng(1);\ng(\n    2,\n);\n```\n";
    fs::write(dir.join("docs/a.md"), md).unwrap();
    let p = project(&dir);
    let fresh = p.tangle().unwrap();
    let out = &fresh.outputs[0];
    let old = String::from_utf8(out.content.clone()).unwrap();
    let new = old.replace("    g(1);\n", "    g(\n        1,\n    );\n");
    let edited: BTreeMap<PathBuf, String> = [(out.path.clone(), new.clone())].into();
    let plan = sync::plan(&p, &fresh, &edited)
        .unwrap_or_else(|e| panic!("refused:\n{e}\n--- old\n{old}--- new\n{new}"));
    let again = p.tangle_with(&plan.texts).unwrap();
    assert_eq!(String::from_utf8_lossy(&again.outputs[0].content), new);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn random_splits_and_joins_of_lines_come_back_exactly() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sync-props-split");
    // 300 cases; 9,000 more over six other seeds passed when this was written.
    let mut rng = Rng(0x853c_49e6_748f_ea9b);
    for case in 0..300 {
        let n = 1 + rng.below(5);
        calls_book(&dir, &mut rng, n);
        let p = project(&dir);
        let fresh = p.tangle().unwrap();
        let out = &fresh.outputs[0];
        let old = String::from_utf8(out.content.clone()).unwrap();
        let edits = 1 + rng.below(4);
        let new = split_and_join(&old, &mut rng, edits);
        let edited: BTreeMap<PathBuf, String> = [(out.path.clone(), new.clone())].into();
        let plan = sync::plan(&p, &fresh, &edited).unwrap_or_else(|e| {
            let chapter = fs::read_to_string(dir.join("docs/a.md")).unwrap();
            panic!("case {case}: refused:\n{e}\n--- old\n{old}--- new\n{new}--- chapter\n{chapter}")
        });
        let again = p.tangle_with(&plan.texts).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&again.outputs[0].content),
            new,
            "case {case}"
        );
    }
    let _ = fs::remove_dir_all(&dir);
}
