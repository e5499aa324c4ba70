//! The org dialect's line maps through the shared expander: random org documents full of
//! noweb references (prefixes, several references on a line, unresolved ones, `:noweb-ref`
//! groups, `-i`, blank lines, tabs, blocks included unexpanded) pass the checks the fuzz
//! targets run on every output (`fuzz/check/tangle.rs`): every mapped piece of a tangled line
//! holds its origin's text.
//!
//! Separators with text on a code line (`:noweb-sep " ; "`) are left out: their text is made
//! by the tangler and has no place in the document that a piece could point at. So are tabs:
//! a tab that indentation removal widens after an unresolved reference at a line's start is
//! mapped right, but the check anchors a piece at its source line's first non-blank
//! character, which lies in the reference before the piece.

#[path = "../../fuzz/check/tangle.rs"]
mod check;

mod support;
use support::Rng;

const NAMES: [&str; 5] = ["a", "bb", "cc", "dd", "ee"];

fn line(rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(4) {
        let k = rng.below(20);
        if k < 7 {
            s.push_str(&format!("<<{}>>", rng.pick(&NAMES)));
        } else if k < 8 {
            s.push_str("<<zz>>");
        } else if k < 11 {
            s.push_str(rng.pick(&["  ", " "]));
        } else {
            s.push_str(rng.pick(&["x", "foo ", "# ", "y=1", "(", "<<", ">>", "é"]));
        }
    }
    s
}

fn document(rng: &mut Rng) -> String {
    let noweb = rng.pick(&["yes", "yes", "no", "tangle"]);
    let mut doc = format!("#+property: header-args :noweb {noweb}\n");
    for _ in 0..1 + rng.below(7) {
        let mut header = String::new();
        match rng.below(10) {
            0..=4 => doc.push_str(&format!("#+name: {}\n", rng.pick(&NAMES))),
            5..=7 => header.push_str(&format!(" :noweb-ref {}", rng.pick(&NAMES))),
            _ => {}
        }
        if rng.below(10) < 3 {
            header.push_str(rng.pick(&[" :noweb-sep \"\\n\\n\"", " :noweb-sep \"\\n\""]));
        }
        if rng.below(10) < 2 {
            let v = rng.pick(&["no", "yes", "eval", "tangle", "strip-export"]);
            header.push_str(&format!(" :noweb {v}"));
        }
        let switches = rng.pick(&["", "", " -i"]);
        doc.push_str(&format!("#+begin_src sh{switches}{header}\n"));
        let indent = rng.pick(&["", "  ", "    "]);
        for _ in 0..rng.below(5) {
            let l = line(rng);
            if !l.is_empty() {
                doc.push_str(indent);
            }
            doc.push_str(&l);
            doc.push('\n');
        }
        doc.push_str("#+end_src\n");
    }
    for t in 0..1 + rng.below(2) {
        let extra = rng.pick(&["", " :noweb yes", " :padline no"]);
        doc.push_str(&format!("#+begin_src sh :tangle out{t}.sh{extra}\n"));
        for _ in 0..1 + rng.below(4) {
            let pre = rng.pick(&["", "  ", "pre "]);
            doc.push_str(&format!("{pre}{}\n", line(rng)));
        }
        doc.push_str("#+end_src\n");
    }
    doc
}

#[test]
fn random_org_documents_map_every_piece_to_its_text() {
    for seed in 1..=3000u64 {
        let mut rng = Rng::new(seed);
        let doc = document(&mut rng);
        let ok = std::panic::catch_unwind(|| check::check_org(doc.as_bytes()));
        assert!(ok.is_ok(), "seed {seed}, document:\n{doc}");
    }
}
