//! Independent pieces of work (chapters to read and parse, roots to expand, outputs to hash)
//! spread over the machine's cores, with results in the order of the work: whatever the
//! threads do, the outcome (and every message) is the same as one after the other.
//!
//! Starting a thread costs about as much as reading a few hundred kilobytes of Markdown, so
//! work on less text than [`PARALLEL_FROM`] bytes stays on one thread.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The number of threads to use for `items` pieces of work: one per core, at most one per piece.
fn threads(items: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(items).max(1)
}

/// The least text (bytes) worth more than one thread.
pub const PARALLEL_FROM: usize = 1 << 20;

/// `f` applied to each of `items`, the results in order; `bytes`: how much text the work
/// reads in all (one thread below [`PARALLEL_FROM`]). Each thread (this one and one more per
/// further core) takes the next piece not yet taken, so that uneven pieces even out.
pub fn map<T: Sync, R: Send>(bytes: usize, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = if bytes < PARALLEL_FROM {
        1
    } else {
        threads(items.len())
    };
    if threads < 2 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let mut results: Vec<Option<R>> = std::iter::repeat_with(|| None).take(items.len()).collect();
    std::thread::scope(|s| {
        let others: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut place = |done: Vec<(usize, R)>| {
            for (i, r) in done {
                results[i] = Some(r);
            }
        };
        place(work());
        for t in others {
            match t.join() {
                Ok(done) => place(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every piece of work is done"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{map, PARALLEL_FROM};

    #[test]
    fn results_keep_the_order_of_the_work() {
        let items: Vec<u64> = (0..1000).collect();
        let squares = map(PARALLEL_FROM, &items, |&x| {
            if x % 7 == 0 {
                std::thread::yield_now();
            }
            x * x
        });
        assert_eq!(squares, items.iter().map(|x| x * x).collect::<Vec<_>>());
        assert!(map(PARALLEL_FROM, &[] as &[u8], |&x| x).is_empty());
        assert_eq!(map(PARALLEL_FROM, &[5], |&x| x + 1), vec![6]);
        assert_eq!(map(0, &items, |&x| x + 1)[999], 1000);
    }
}
