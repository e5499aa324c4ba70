//! Hostile inputs: documents built to make a reader loop, recurse, scan quadratically or
//! report unboundedly. Each must give its answer (or a located error) promptly; the sizes
//! are chosen so that the old quadratic or recursive code took minutes, ran out of memory
//! or overflowed its stack, while linear code takes milliseconds. No test measures time: a
//! regression shows up as a hang or a crash of the test.

use std::path::{Path, PathBuf};
use tangle::markdown::pipeline::tangle_chapters;
use tangle::org::tangle_org;

fn org_error(doc: &str) -> String {
    match tangle_org(Path::new("doc.org"), doc) {
        Ok(t) => panic!("expected an error, got {:?}", t.outputs),
        Err(e) => e.to_string(),
    }
}

fn org_output(doc: &str, name: &str) -> Vec<u8> {
    let t = tangle_org(Path::new("doc.org"), doc).unwrap_or_else(|e| panic!("{e}"));
    let o = t.outputs.iter().find(|o| o.path == Path::new(name));
    o.unwrap_or_else(|| panic!("no {name}")).content.clone()
}

fn markdown(md: String) -> Result<tangle::Tangled, tangle::Diagnostics> {
    tangle_chapters(&[(PathBuf::from("doc.md"), md)], "(ref:%s)")
}

fn block(header: &str) -> String {
    format!("#+begin_src sh {header}\nx\n#+end_src\n")
}

#[test]
fn a_semicolon_in_a_lisp_list_is_a_comment_that_never_closes_it() {
    // The reader used to stop at `;` without consuming it and loop, allocating until abort.
    for value in ["(;)", "(a ;b)", "(;", "'(;x)", "(identity 5 ;)"] {
        let e = org_error(&block(&format!(":tangle {value}")));
        assert!(
            e.starts_with("doc.org:1:1: error: cannot read `:tangle "),
            "{value}: {e}"
        );
        assert!(e.contains("End of file during parsing"), "{value}: {e}");
    }
    // After a complete expression, a comment is ignored, as `read` ignores it.
    let doc = "#+begin_src sh :tangle a.sh :tangle-mode (identity #o600) ;note\nx\n#+end_src\n";
    let t = tangle_org(Path::new("doc.org"), doc).unwrap();
    assert_eq!(t.outputs[0].mode, 0o600);
}

#[test]
fn deeply_nested_lisp_is_refused_without_recursion() {
    let parens = format!(":tangle {}{}", "(".repeat(40_000), ")".repeat(40_000));
    let quotes = format!(":tangle {}5", "'".repeat(60_000));
    for header in [parens, quotes] {
        let e = org_error(&block(&header));
        assert!(e.starts_with("doc.org:1:1: error: cannot read"), "{e}");
        assert!(e.contains("nested more than 1000 levels"), "{e}");
        assert!(e.len() < 400, "the value is abbreviated: {e}");
    }
}

#[test]
fn unbalanced_openings_in_header_arguments_split_in_linear_time() {
    // Each `(` used to scan to the end of the line for its partner: 29 s for 100,000.
    let doc = block(&format!(":tangle a.sh :foo {}", "(".repeat(200_000)));
    assert_eq!(org_output(&doc, "a.sh"), b"x\n");
    let doc = block(&format!(":foo {}]) :tangle b.sh", "[(".repeat(100_000)));
    assert_eq!(org_output(&doc, "b.sh"), b"x\n");
}

#[test]
fn org_reference_openers_without_closers_scan_in_linear_time() {
    // `find_ref` tried every `<<` against every later `>>`: 2.3 s for 33,333.
    let doc = format!(
        "#+begin_src sh :tangle a.sh :noweb yes\n{}\n#+end_src\n",
        "<<x".repeat(300_000)
    );
    assert_eq!(
        org_output(&doc, "a.sh"),
        format!("{}\n", "<<x".repeat(300_000)).as_bytes()
    );
}

#[test]
fn many_org_references_on_one_line() {
    let n = 100_000;
    let doc = format!(
        "#+name: ab\n#+begin_src sh\nv\n#+end_src\n\
         #+begin_src sh :tangle a.sh :noweb yes\n{}\n#+end_src\n",
        "<<ab>>é".repeat(n)
    );
    let t = tangle_org(Path::new("doc.org"), &doc).unwrap();
    let o = &t.outputs[0];
    assert_eq!(o.content, format!("{}\n", "vé".repeat(n)).into_bytes());
    // The last `é` is at output column 2n and comes from column 7n of line 6.
    let l = o.map.locate(1, 2 * n).unwrap();
    assert_eq!((l.line, l.col), (6, 7 * n));
}

#[test]
fn markdown_reference_openers_scan_in_linear_time() {
    // `find_reference` searched for `>>` from every `<<`: minutes for 500,000.
    let md = format!(
        "```text file=a.txt\n{}a>>\n```\n```text name=a\nA\n```\n",
        "<<".repeat(500_000)
    );
    let out = markdown(md).unwrap();
    let text = String::from_utf8(out.outputs[0].content.clone()).unwrap();
    assert_eq!(text, format!("{}A\n", "<<".repeat(499_999)));
}

#[test]
fn many_markdown_references_on_one_line() {
    let n = 100_000;
    let md = format!(
        "```text file=a.txt\n{}\n```\n```text name=a\nv\n```\n",
        "<<a>>é".repeat(n)
    );
    let out = markdown(md).unwrap();
    let o = &out.outputs[0];
    assert_eq!(o.content, format!("{}\n", "vé".repeat(n)).into_bytes());
    let l = o.map.locate(1, 2 * n).unwrap();
    assert_eq!((l.line, l.col), (2, 6 * n));
}

/// Checks that a cycle error names the cycle's length, its first and last steps and how many
/// it leaves out, in a few lines.
fn assert_bounded_cycle(e: &str, len: usize, first: &str, last: &str) {
    assert!(e.lines().count() <= 10, "{} lines", e.lines().count());
    let head = e.lines().next().unwrap();
    assert!(head.contains(&format!("cycle of {len} ")), "{head}");
    assert!(head.contains(&format!("… {} more …", len - 8)), "{head}");
    assert!(head.contains(first) && head.contains(last), "{head}");
}

#[test]
fn a_long_markdown_cycle_is_reported_in_a_few_lines() {
    let n = 100_000;
    let mut md = String::from("```text file=c.txt\n<<f0>>\n```\n");
    for i in 0..n {
        md.push_str(&format!("```text name=f{i}\n<<f{}>>\n```\n", (i + 1) % n));
    }
    let e = markdown(md).unwrap_err().to_string();
    assert_bounded_cycle(&e, n, "«f0» → «f1» → «f2» → «f3» → …", "«f99999» → «f0»");
    assert!(
        e.contains("doc.md:299999:1: note: «f99999» is referenced here"),
        "{e}"
    );
}

#[test]
fn a_long_org_cycle_is_reported_in_a_few_lines() {
    let n = 20_000;
    let mut doc = String::from("#+property: header-args :noweb yes\n");
    for i in 0..n {
        doc.push_str(&format!(
            "#+name: f{i}\n#+begin_src sh\n<<f{}>>\n#+end_src\n",
            (i + 1) % n
        ));
    }
    doc.push_str("#+begin_src sh :tangle c.sh\n<<f0>>\n#+end_src\n");
    let e = org_error(&doc);
    assert_bounded_cycle(
        &e,
        n,
        "`f0` -> `f1` -> `f2` -> `f3` -> …",
        "`f19999` -> `f0`",
    );
    assert!(
        e.contains("doc.org:80000:1: note: `f19999` includes `f0` here"),
        "{e}"
    );
}

#[test]
fn many_org_blocks_in_one_file_and_one_noweb_ref_assemble_in_linear_time() {
    // Each block's body is appended to its file's mapped text; re-reading the text so far
    // per block was quadratic.
    let n = 40_000;
    let mut doc = String::from("#+property: header-args :noweb yes\n");
    for i in 0..n {
        doc.push_str(&format!(
            "#+begin_src sh :tangle one.sh\necho {i}\n#+end_src\n"
        ));
    }
    for i in 0..n {
        doc.push_str(&format!(
            "#+begin_src sh :noweb-ref part\necho part {i}\n#+end_src\n"
        ));
    }
    doc.push_str("#+begin_src sh :tangle parts.sh\n  <<part>>\n#+end_src\n");
    let one = org_output(&doc, "one.sh");
    assert_eq!(one.iter().filter(|&&b| b == b'\n').count(), 2 * n - 1);
    let parts = String::from_utf8(org_output(&doc, "parts.sh")).unwrap();
    assert_eq!(parts.lines().count(), n);
    assert_eq!(parts.lines().last(), Some(&*format!("echo part {}", n - 1)));
}
