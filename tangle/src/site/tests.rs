//! The renderer's unit tests: mdBook's JSON in, the pages' Markdown out.

use super::html::{letters, rel_href, slug};
use super::page::{closing_ticks, prose_code};
use super::preprocess::{html_path, render, supports, Error};
use crate::diag::Diagnostic;
use serde_json::{json, Value};
use std::path::PathBuf;

fn chapter(name: &str, path: &str, number: Option<Vec<u32>>, content: &str) -> Value {
    json!({"Chapter": {"name": name, "content": content, "number": number, "sub_items": [],
        "path": path, "source_path": path, "parent_names": []}})
}

fn run(key: &str, items: Vec<Value>) -> Result<(Value, Vec<Diagnostic>), Error> {
    let ctx = json!({"root": "/b", "config": {"book": {"src": "docs"}}, "renderer": "html", "mdbook_version": "0.5.4"});
    let input = json!([ctx, {key: items}]).to_string();
    let r = render(&input)?;
    Ok((
        serde_json::from_str(&r.book).expect("the rendered book is JSON"),
        r.warnings,
    ))
}

fn content(book: &Value, pointer: &str) -> String {
    book.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

const A: &str = "# A\n\n```rust file=src/main.rs\nfn main() { <<body>> } (ref:main)\n```\n\nSee (ref:main) and `(ref:not)`.\n";
const B: &str = "# B\n\n1. step\n\n   ```rust name=body\n   let x = 1;\n   ```\n\n~~~rust name+=body\nlet y = <<more>>;\n~~~\n\n```rust name=more\n2\n```\n";

#[test]
fn renders_captions_footers_and_links_across_chapters() {
    let mut a = chapter("A", "a.md", Some(vec![1]), A);
    a["Chapter"]["sub_items"] = json!([chapter("B", "part/b.md", Some(vec![1, 1]), B)]);
    let (book, warnings) = run(
        "items",
        vec![a, json!("Separator"), json!({"PartTitle": "P"})],
    )
    .unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let a = content(&book, "/items/0/Chapter/content");
    let b = content(&book, "/items/0/Chapter/sub_items/0/Chapter/content");
    assert!(
        a.contains(r#"<div class="tangle-caption" id="file:src/main.rs">"#),
        "{a}"
    );
    assert!(
        a.contains("```rust,ignore,tangle\nfn main() { <<body>> } (ref:main)\n```"),
        "{a}"
    );
    assert!(
        a.contains(r#"data-name="body" data-tag="1.1a" href="part/b.html#f:body""#),
        "{a}"
    );
    assert!(a.contains(r#"id="l:main" data-line="0""#), "{a}");
    assert!(
        a.contains(r##"See <a class="tangle-label-ref" href="#l:main""##),
        "{a}"
    );
    assert!(a.contains("`(ref:not)`"), "{a}");
    // The fence in the list item keeps its indentation, and so do caption and footer.
    assert!(
        b.contains("\n   <div class=\"tangle-caption\" id=\"f:body\">"),
        "{b}"
    );
    assert!(
        b.contains(
            "\n   ```rust,ignore,tangle\n   let x = 1;\n   ```\n\n   <div class=\"tangle-footer\">"
        ),
        "{b}"
    );
    assert!(b.contains("<dfn class=\"tangle-name\">«body»</dfn>"), "{b}");
    assert!(b.contains(r#"id="f:body:2""#), "{b}");
    assert!(b.contains("~~~rust,ignore,tangle\n"), "{b}");
    // "Used in" lands on the reference's line: its anchor is in the using block's footer.
    assert!(b.contains(r#"href=&quot;../a.html#u:body&quot;"#), "{b}");
    assert!(
        a.contains(r#"<span class="tangle-use" hidden id="u:body" data-name="body">"#),
        "{a}"
    );
    // The footer's text is an attribute (out of the search index), shown by tangle.js.
    assert!(
        b.contains(r#"<span class="tangle-footer-text" data-text="Defined in "#),
        "{b}"
    );
    assert!(b.contains("1.1b ▸"), "{b}");
}

#[test]
fn old_sections_key_and_index_chapter() {
    let idx = chapter("Index", "fragment-index.md", None, "# Fragment index\n");
    let (book, _) = run(
        "sections",
        vec![
            chapter("A", "a.md", Some(vec![1]), A),
            chapter("B", "b.md", Some(vec![2]), B),
            idx,
        ],
    )
    .unwrap();
    let index = content(&book, "/sections/2/Chapter/content");
    assert!(
        index.starts_with("# Fragment index\n\n## Fragments\n"),
        "{index}"
    );
    assert!(
        index.contains(r#"<a class="tangle-name" href="b.html#f:body">«body»</a>"#),
        "{index}"
    );
    assert!(
        index.contains(r#"<a class="tangle-file" href="a.html#file:src/main.rs">src/main.rs</a>"#),
        "{index}"
    );
    assert!(index.contains("<code>0444</code>"), "{index}");
}

#[test]
fn errors_are_located() {
    let bad = "# A\n\n```rust file=x.rs\n  <<nope>>\n```\n\n(ref:gone)\n";
    let err = run("items", vec![chapter("A", "a.md", None, bad)])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "docs/a.md:4:3: error: undefined reference «nope»");
    let bad = "```rust file=x.rs\nx\n```\n\n(ref:gone)\n";
    let err = run("items", vec![chapter("A", "a.md", None, bad)])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("docs/a.md:5:1: error: undefined coderef label `gone`"),
        "{err}"
    );
    let cyc = "```rust file=x.rs\n<<a>>\n```\n```rust name=a\n<<a>>\n```\n";
    let err = run("items", vec![chapter("A", "a.md", None, cyc)])
        .unwrap_err()
        .to_string();
    assert!(err.contains("reference cycle"), "{err}");
}

#[test]
fn unused_fragments_warn() {
    let (_, warnings) = run(
        "items",
        vec![chapter("A", "a.md", None, "```rust name=lonely\nx\n```\n")],
    )
    .unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].to_string().contains("never used"));
}

/// The tangle captions, code blocks and footers of `md` as mdBook's parser reads it, each
/// with the containers around it, and the number of block quotes and lists.
fn structure(md: &str) -> (Vec<(&'static str, Vec<&'static str>)>, usize, usize) {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let options = Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES;
    let (mut found, mut stack, mut quotes, mut lists) = (Vec::new(), Vec::new(), 0, 0);
    for event in Parser::new_ext(md, options) {
        match event {
            Event::Start(Tag::BlockQuote(_)) => {
                quotes += 1;
                stack.push("quote");
            }
            Event::Start(Tag::List(_)) => lists += 1,
            Event::Start(Tag::Item) => stack.push("item"),
            Event::End(TagEnd::BlockQuote(_) | TagEnd::Item) => {
                stack.pop();
            }
            Event::Start(Tag::CodeBlock(_)) => found.push(("code", stack.clone())),
            Event::Html(h) if h.contains("tangle-caption") => {
                found.push(("caption", stack.clone()))
            }
            Event::Html(h) if h.contains("tangle-footer") => found.push(("footer", stack.clone())),
            _ => {}
        }
    }
    (found, quotes, lists)
}

#[test]
fn fragment_inside_a_block_quote_stays_in_it() {
    let q = "# Q\n\n> A quote:\n>\n> ```rust file=q.rs\n> fn main() { <<x>> }\n>```\n>\n>```rust name=x\n>1\n> ```\n> and more of the quote.\n\n<!--\n```rust name=hidden\n```\n-->\n";
    let (book, warnings) = run("items", vec![chapter("Q", "q.md", Some(vec![1]), q)]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let out = content(&book, "/items/0/Chapter/content");
    assert!(
        out.contains("> <div class=\"tangle-caption\" id=\"file:q.rs\">"),
        "{out}"
    );
    assert!(
        out.contains("</div>\n>\n> ```rust,ignore,tangle\n> fn main() { <<x>> }\n>```\n>\n> <div class=\"tangle-footer\">"),
        "{out}"
    );
    assert!(out.contains(">```rust,ignore,tangle\n>1\n> ```\n"), "{out}");
    let (found, quotes, _) = structure(&out);
    let quote = vec!["quote"];
    assert_eq!(
        found,
        vec![
            ("caption", quote.clone()),
            ("code", quote.clone()),
            ("footer", quote.clone()),
            ("caption", quote.clone()),
            ("code", quote.clone()),
            ("footer", quote.clone()),
        ],
        "{out}"
    );
    assert_eq!(quotes, 1, "the quote goes on around the blocks:\n{out}");
    // A fence in an HTML comment is no block: no caption, the comment unchanged.
    assert!(!out.contains("f:hidden"), "{out}");
    assert!(
        out.ends_with("<!--\n```rust name=hidden\n```\n-->\n"),
        "{out}"
    );
}

#[test]
fn fragment_inside_a_list_item_stays_in_it() {
    let l = "# L\n\n1. ```rust file=l.rs\n   <<x>>\n   ```\n2. Then:\n\n   ```rust name=x\n   x\n   ```\n\n   done.\n3. Third.\n";
    let (book, warnings) = run("items", vec![chapter("L", "l.md", Some(vec![1]), l)]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let out = content(&book, "/items/0/Chapter/content");
    // The caption takes the fence's place after the list marker; the fence follows it.
    assert!(
        out.contains("\n1. <div class=\"tangle-caption\" id=\"file:l.rs\">"),
        "{out}"
    );
    assert!(
        out.contains("</div>\n\n   ```rust,ignore,tangle\n   <<x>>\n   ```\n\n   <div class=\"tangle-footer\">"),
        "{out}"
    );
    let (found, _, lists) = structure(&out);
    let item = vec!["item"];
    assert_eq!(
        found,
        vec![
            ("caption", item.clone()),
            ("code", item.clone()),
            ("footer", item.clone()),
            ("caption", item.clone()),
            ("code", item.clone()),
            ("footer", item.clone()),
        ],
        "{out}"
    );
    assert_eq!(lists, 1, "one list, its items around the blocks:\n{out}");
}

#[test]
fn the_preprocessor_warns_as_tangle_does() {
    let text = "```rust file=a.rs\n<<used>>\n```\n\n```rust name=used\nx\n```\n\npara\n\n        ```rust name=indented\n";
    let (_, warnings) = run("items", vec![chapter("A", "a.md", None, text)]).unwrap();
    let tangled = crate::markdown::pipeline::tangle_chapters(
        &[(PathBuf::from("docs/a.md"), text.into())],
        "(ref:%s)",
    )
    .unwrap();
    assert_eq!(warnings, tangled.warnings);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].message.contains("indented too far"));
}

#[test]
fn inline_code_that_may_become_an_identifier_link() {
    fn at(line: &str) -> Option<&str> {
        let i = line.find('`').unwrap();
        let end = closing_ticks(line, i + 1, 1).unwrap();
        prose_code(line, i, 1, end)
    }
    assert_eq!(at("The `Phase` enum."), Some("Phase"));
    assert_eq!(at("> In a quote, `Next::Close`."), Some("Next::Close"));
    // Not in a heading, not inside a link's text.
    assert_eq!(at("## The `Phase` enum"), None);
    assert_eq!(at("See [the `Phase` enum](x.html)."), None);
    assert_eq!(at("[a](b) and `Phase`"), Some("Phase"));
}

#[test]
fn helpers() {
    assert_eq!(rel_href("a.html", "a.html"), "");
    assert_eq!(rel_href("x/a.html", "b.html"), "../b.html");
    assert_eq!(rel_href("x/a.html", "x/y/b c.html"), "y/b%20c.html");
    assert_eq!(html_path("dir/README.md"), "dir/index.html");
    assert_eq!(letters(0), "a");
    assert_eq!(letters(26), "aa");
    assert_eq!(
        slug("Accept every «pending» connection!", false),
        "accept-every-pending-connection"
    );
    assert_eq!(slug("src/Main.rs", true), "src/main.rs");
    assert!(supports("html") && supports("test") && !supports("epub"));
}
