use super::*;
use std::path::Path;

#[test]
fn header_body_and_errors() {
    let s = parse(&[
        "caption: A `Next`.",
        "alt: one",
        "alt: two",
        "---",
        "┌─┐",
        "└─┘",
        "",
    ])
    .unwrap();
    assert_eq!(s.alt, "one two");
    assert_eq!(s.body, ["┌─┐", "└─┘"]);
    assert!(parse(&["alt: x", "---", "x"])
        .unwrap_err()
        .1
        .contains("caption"));
    assert!(parse(&["caption: x", "---", "x"])
        .unwrap_err()
        .1
        .contains("alt"));
    assert!(parse(&["caption: x", "alt: y", "colour: red"])
        .unwrap_err()
        .1
        .contains("unknown figure header"));
    assert!(parse(&["caption: x", "alt: y", "kind: bytes", "---", "z"]).is_err());
    let html = html(&s, "fig:a", "1.1", None, None).unwrap();
    assert!(
        html.contains("<title id=\"fig:a-title\">A Next.</title>"),
        "{html}"
    );
    assert!(html.contains("<figcaption><a class=\"tangle-fig-number\" href=\"#fig:a\">Figure 1.1</a> A <code>Next</code>.</figcaption>"), "{html}");
    assert!(!html.contains('\n'), "one line of HTML");
}

#[test]
fn a_box_is_four_lines_and_its_text() {
    let body: Vec<String> = ["┌────┐", "│ ab ├──▶", "└────┘"].map(String::from).to_vec();
    let svg = drawing_svg(
        &body,
        Text {
            title: "t",
            desc: "d",
            id: "t",
        },
    );
    // The top and bottom edges are each one horizontal line from centre to centre.
    assert!(svg.contains("M4 9H44"), "{svg}");
    assert!(svg.contains("M4 45H44"), "{svg}");
    // The left side joins the corners' centres.
    assert!(svg.contains("M4 9V45"), "{svg}");
    // The arrow's line runs from ├ to the arrowhead's base, whose tip ends the cell.
    assert!(svg.contains("M44 27H64"), "{svg}");
    assert!(svg.contains("M72 27L64 23L64 31Z"), "{svg}");
    assert!(svg.contains(">ab</text>"), "{svg}");
}

#[test]
fn a_frame_is_laid_out_from_its_bytes() {
    let frame = unescape(r#"\x00\x15{"content-length": 2}hi"#).unwrap();
    let svg = bytes_svg(
        &frame,
        Text {
            title: "t",
            desc: "d",
            id: "t",
        },
    )
    .unwrap();
    let cells: Vec<u8> = svg
        .split("data-byte=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect();
    assert_eq!(cells, frame);
    assert_eq!(svg.matches("tangle-byte tangle-part0").count(), 2);
    assert_eq!(svg.matches("tangle-byte tangle-part2").count(), 2);
    assert!(svg.contains("00 15 = 21"), "{svg}");
    let wrong = unescape(r#"\x00\x15{"content-length": 3}hi"#).unwrap();
    assert!(bytes_svg(
        &wrong,
        Text {
            title: "t",
            desc: "d",
            id: "t"
        }
    )
    .unwrap_err()
    .contains("content-length"));
}
#[test]
fn a_chapter_figure_replaces_its_block_and_a_byte_figure_needs_a_checked_dump() {
    let text = "# A\n\n<!-- check: frame x -->\n```text\n\\x00\\x15{\"content-length\": 2}hi\n```\n\n```figure\nkind: bytes\ncaption: C\nalt: D\n```\n\n> ```figure\n> caption: E\n> alt: F\n> ---\n> ─\n> ```\n";
    let chapter = crate::markdown::parse::parse(Path::new("docs/a.md"), text).unwrap();
    let lines: Vec<&str> = text.split('\n').collect();
    let (figs, errors) =
        chapter_figures(&chapter.blocks, &lines, Some("3"), Path::new("docs/a.md"));
    assert!(errors.is_empty(), "{errors:?}");
    let first = &figs[&7];
    assert!(
        first.starts_with(r#"<figure class="tangle-figure" id="fig:c">"#),
        "{first}"
    );
    assert!(first.contains("Figure 3.1"), "{first}");
    assert_eq!(first.matches("data-byte=").count(), 25);
    assert_eq!(figs[&8], "");
    // Inside a block quote, the figure keeps the quote's marker, and so do its other lines.
    assert!(figs[&13].starts_with("> <figure"), "{}", figs[&13]);
    assert!(figs[&13].contains("Figure 3.2"));
    assert_eq!(figs[&14], ">");
    // Without its marker, the dump is no checked one.
    let unchecked = text.replace("<!-- check: frame x -->\n", "");
    let chapter = crate::markdown::parse::parse(Path::new("docs/a.md"), &unchecked).unwrap();
    let lines: Vec<&str> = unchecked.split('\n').collect();
    let (_, errors) = chapter_figures(&chapter.blocks, &lines, None, Path::new("docs/a.md"));
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0]
            .to_string()
            .starts_with("docs/a.md:8:1: error: the byte dump above a byte figure must be checked"),
        "{}",
        errors[0]
    );
}

#[test]
fn an_svg_file_is_inlined_with_its_text() {
    let file = "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\" width=\"10\">\n<rect/>\n</svg>\n";
    let t = Text {
        title: "T",
        desc: "D",
        id: "fig:c",
    };
    let svg = inline_svg(file, t).unwrap();
    assert!(svg.starts_with(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10" width="10" role="img" aria-labelledby="fig:c-title" aria-describedby="fig:c-desc"><title id="fig:c-title">T</title><desc id="fig:c-desc">D</desc> <rect/> </svg>"#), "{svg}");
    assert!(!svg.contains('\n'));
    assert!(inline_svg("<p>", t).is_err());
}
