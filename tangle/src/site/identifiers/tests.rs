use super::*;
use crate::site::scip::{self, Doc, Index, Info, Occurrence};
use std::path::PathBuf;

const CHAPTER: &str = "# A\n\n1. The root:\n\n   ```rust file=src/main.rs\n   fn main() { let s = \"🐰\"; <<use it>> }\n   <<the phase>>\n   ```\n\nThe `Phase` and `Phase::A`, not `Other` nor [`Phase`](x).\n\n```rust name=\"use it\"\nlet p = Phase::A;\n```\n\n```rust name=\"the phase\"\nenum Phase { A }\n```\n";

/// An index as rust-analyzer would write it for `src/main.rs`: every `Phase` and `A`.
fn index_of(text: &str) -> Index {
    let symbols = vec![
        "rust-analyzer cargo a 0.1.0 Phase#".to_string(),
        "rust-analyzer cargo a 0.1.0 Phase#A#".to_string(),
        "rust-analyzer cargo std https://github.com/rust-lang/rust/library/std main().".to_string(),
    ];
    let mut occurrences = Vec::new();
    for (l, line) in text.lines().enumerate() {
        for (name, symbol) in [("Phase", 0), ("A", 1)] {
            let mut from = 0;
            while let Some(i) = line[from..].find(name) {
                let start = from + i;
                let end = start + name.len();
                let word = |k: Option<char>| k.is_some_and(|c| c.is_alphanumeric());
                if !word(line[..start].chars().last()) && !word(line[end..].chars().next()) {
                    occurrences.push(Occurrence {
                        line: l as u32,
                        start: start as u32,
                        end: end as u32,
                        symbol,
                        definition: line.starts_with("enum"),
                    });
                }
                from = end;
            }
        }
    }
    let info = |symbol, kind: &str, name: &str, sig: &str| Info {
        symbol,
        kind: kind.into(),
        name: name.into(),
        signature: sig.into(),
        doc: "Where it stands.".into(),
    };
    Index {
        symbols,
        docs: vec![Doc {
            path: "src/main.rs".into(),
            occurrences,
            infos: vec![
                info(0, "Enum", "Phase", "enum Phase"),
                info(1, "EnumMember", "A", "A"),
            ],
        }],
    }
}

#[test]
fn names_are_placed_in_their_blocks_and_linked() {
    let pages = [(PathBuf::from("docs/a.md"), CHAPTER.to_string())];
    let tangle = crate::markdown::pipeline::tangle_markdown(&pages, "(ref:%s)").unwrap();
    let out = &tangle.tangled.outputs[0];
    let text = String::from_utf8(out.content.clone()).unwrap();
    let ids = Identifiers::build(&tangle.web, &tangle.tangled.outputs, &index_of(&text));
    let phase = ids.items.iter().position(|i| i.name == "Phase").unwrap();
    let a = ids.items.iter().position(|i| i.name == "A").unwrap();
    assert_eq!(ids.items[a].parent, Some(phase));
    assert_eq!(ids.items[a].path, "Phase::A");
    assert_eq!(ids.items[phase].id, "i:Phase");
    assert_eq!(ids.items[a].id, "i:Phase::A");
    // The definitions: `enum Phase { A }` is the block 2 of the chapter, line 0.
    let def = ids.items[phase].def.unwrap();
    assert_eq!((def.block, def.line, def.col, def.len), (2, 0, 5, 5));
    assert_eq!(ids.items[a].def.unwrap().col, 13);
    // The use, in «use it»: block 1, line 0, `Phase` at 8 and `A` at 15.
    assert_eq!(
        ids.items[phase].uses,
        vec![BlockRef {
            chapter: 0,
            block: 1
        }]
    );
    assert_eq!(
        ids.footer(0, 1),
        r#"<span class="tangle-ids" hidden data-page="0" data-ids="0.8.5.0;0.15.1.1"></span>"#
    );
    let defs = ids.footer(0, 2);
    assert!(defs.contains(r#"id="i:Phase" data-line="0" data-col="5" data-len="5" title="enum Phase&#10;Where it stands.""#), "{defs}");
    assert_eq!(ids.links(), 4);
    let html = ["a.html".to_string()];
    let links = Links {
        html: &html,
        tag_link: Box::new(|_, to| format!("[{}]", to.block)),
    };
    let end = ids.page_end(0, &links);
    assert!(end.contains(r##"<a class="tangle-ident" data-s="0" href="#i:Phase" title="enum Phase&#10;Where it stands."></a>"##), "{end}");
    assert!(end.contains("Defined in this chapter:"), "{end}");
    // Inline code: a type by its name, a member by its path; not an unknown name.
    assert!(ids
        .inline_code(0, "Phase", &links)
        .unwrap()
        .contains(r##"href="#i:Phase""##));
    assert!(ids
        .inline_code(0, "Phase::A", &links)
        .unwrap()
        .contains(r##"href="#i:Phase::A""##));
    assert_eq!(ids.inline_code(0, "Other", &links), None);
    let index = ids.index(0, &links);
    assert!(
        index.contains("<code>Phase</code></a> <span class=\"tangle-kind\">enum</span>"),
        "{index}"
    );
    assert!(
        index.contains("<ul><li><a class=\"tangle-ident\" href=\"#i:Phase::A\""),
        "{index}"
    );
}

#[test]
fn docs_of_std_and_dependencies() {
    let p = scip::parse("rust-analyzer cargo std https://github.com/rust-lang/rust/library/std collections/hash/map/HashMap#insert().").unwrap();
    assert_eq!(
        p.docs_link().unwrap().0,
        "https://doc.rust-lang.org/std/?search=HashMap::insert"
    );
    let p = scip::parse("rust-analyzer cargo mio 1.2.5 net/").unwrap();
    assert_eq!(
        p.docs_link().unwrap().0,
        "https://docs.rs/mio/1.2.5/mio/net/index.html"
    );
    let p = scip::parse("rust-analyzer cargo env-logger 0.11.0 Builder#").unwrap();
    assert_eq!(
        p.docs_link().unwrap().0,
        "https://docs.rs/env-logger/0.11.0/env_logger/?search=Builder"
    );
    let p = scip::parse("rust-analyzer cargo a 0.1.0 impl#[`Clipped<'_>`][Display]fmt().").unwrap();
    assert_eq!(
        p.parent_symbol("rust-analyzer cargo a 0.1.0 impl#[`Clipped<'_>`][Display]fmt().")
            .as_deref(),
        Some("rust-analyzer cargo a 0.1.0 Clipped#")
    );
}
