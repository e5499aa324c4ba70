//! The floor of the bench's web rows (`cargo bench -p tangle-cli`): the least any tangler must do
//! to tangle a web from scratch, as a whole process, so that process start-up counts on both
//! sides of the comparison.
//!
//! `floor OUT_DIR CHAPTER... -- REL=LEN...` reads every chapter completely, then writes every
//! output `OUT_DIR/REL` from scratch (making its folders) with `LEN` bytes copied out of the
//! chapters read (the bytes a tangler writes come from its chapters; their values do not change
//! the cost). It parses nothing and syncs nothing to disk. It prints the bytes read and written.
//!
//! The bench builds and runs it from the target folder; it is no part of the tangler.

use std::fs;
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args_os().skip(1);
    let out = PathBuf::from(
        args.next()
            .expect("usage: floor OUT_DIR CHAPTER... -- REL=LEN..."),
    );
    let mut chapters = Vec::new();
    let mut outputs = Vec::new();
    let mut after = false;
    for a in args {
        if a == "--" {
            after = true;
        } else if after {
            let a = a.into_string().expect("REL=LEN is UTF-8");
            let (rel, len) = a.rsplit_once('=').expect("REL=LEN");
            outputs.push((PathBuf::from(rel), len.parse::<usize>().expect("a length")));
        } else {
            chapters.push(PathBuf::from(a));
        }
    }
    let texts: Vec<Vec<u8>> = chapters
        .iter()
        .map(|c| fs::read(c).unwrap_or_else(|e| panic!("cannot read {}: {e}", c.display())))
        .collect();
    let read: usize = texts.iter().map(Vec::len).sum();
    // Where the next output's bytes are copied from: a chapter and an offset in it.
    let (mut chapter, mut offset) = (0, 0);
    let mut written = 0;
    for (rel, len) in &outputs {
        let mut content = Vec::with_capacity(*len);
        while content.len() < *len {
            let text = texts
                .get(chapter)
                .expect("the outputs are larger than the chapters");
            let take = (*len - content.len()).min(text.len() - offset);
            content.extend_from_slice(&text[offset..offset + take]);
            offset += take;
            if offset == text.len() {
                (chapter, offset) = (chapter + 1, 0);
            }
        }
        let to = out.join(rel);
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).unwrap();
        }
        fs::write(&to, &content).unwrap_or_else(|e| panic!("cannot write {}: {e}", to.display()));
        written += content.len();
    }
    println!("read {read} wrote {written}");
}
