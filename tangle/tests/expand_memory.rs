//! The Markdown expander's memory stays proportional to what it produces: frames share one
//! prefix buffer instead of each copying its caller's prefix (which made nesting quadratic).
//!
//! A counting allocator measures the peak of bytes allocated while tangling. This file holds
//! a single test, so no other test allocates concurrently.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
            PEAK.fetch_max(live, Ordering::SeqCst);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn deep_nesting_allocates_in_proportion_to_the_output() {
    // Every level continues its caller's line after ten characters: the output is one line
    // of 50,000 characters, but each level's prefix is its caller's line so far. Copying it
    // per level allocated about 12 * DEPTH^2 bytes (300 MB here).
    const DEPTH: usize = 5_000;
    let mut md = String::from("```text file=deep.txt\n<<level 1>>\n```\n");
    for i in 1..DEPTH {
        md.push_str(&format!(
            "```text name=\"level {i}\"\n0123456789<<level {}>>\n```\n",
            i + 1
        ));
    }
    md.push_str(&format!("```text name=\"level {DEPTH}\"\nbottom\n```\n"));
    let chapters = [(PathBuf::from("deep.md"), md)];
    let before = LIVE.load(Ordering::SeqCst);
    PEAK.store(before, Ordering::SeqCst);
    let out = tangle::markdown::pipeline::tangle_chapters(&chapters, "(ref:%s)").unwrap();
    let peak = PEAK.load(Ordering::SeqCst) - before;
    let o = &out.outputs[0];
    assert_eq!(o.content.len(), 10 * (DEPTH - 1) + "bottom\n".len());
    assert_eq!(o.map.segments.len(), DEPTH + 1);
    // The document's model is about 2 MB; the output and its map well under 1 MB.
    assert!(peak < 16 << 20, "peak allocation {peak} bytes");
}
