//! The hash of a file's content that the manifest records and the writer compares by.

/// A stable 64-bit hash of a file's content (FNV-1a), as the manifest records it.
pub fn content_hash(bytes: &[u8]) -> u64 {
    fnv_continue(FNV_OFFSET, bytes)
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// One byte of FNV-1a.
fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
}

/// FNV-1a from state `h` over `bytes`.
fn fnv_continue(h: u64, bytes: &[u8]) -> u64 {
    // Eight bytes per round: the same hash, without a loop test per byte.
    let mut chunks = bytes.chunks_exact(8);
    let mut h = h;
    for c in &mut chunks {
        h = c.iter().fold(h, |h, &b| fnv_step(h, b));
    }
    chunks.remainder().iter().fold(h, |h, &b| fnv_step(h, b))
}

/// [`content_hash`] of each of `contents`. Each hash is a chain of multiplications, each
/// waiting for the one before; four hashes advance side by side so that the processor
/// overlaps their chains, and groups of four are hashed on every core. The same values as
/// one by one.
pub fn content_hashes(contents: &[&[u8]]) -> Vec<u64> {
    let groups: Vec<&[&[u8]]> = contents.chunks(4).collect();
    let bytes = contents.iter().map(|c| c.len()).sum();
    crate::par::map(bytes, &groups, |group| hash_group(group))
        .into_iter()
        .flatten()
        .collect()
}

/// [`content_hash`] of each of up to four contents, side by side.
fn hash_group(group: &[&[u8]]) -> Vec<u64> {
    let [a, b, c, d] = group else {
        return group.iter().map(|c| content_hash(c)).collect();
    };
    let common = a.len().min(b.len()).min(c.len()).min(d.len());
    let mut h = [FNV_OFFSET; 4];
    for (((&x, &y), &z), &w) in a[..common]
        .iter()
        .zip(&b[..common])
        .zip(&c[..common])
        .zip(&d[..common])
    {
        h = [
            fnv_step(h[0], x),
            fnv_step(h[1], y),
            fnv_step(h[2], z),
            fnv_step(h[3], w),
        ];
    }
    h.into_iter()
        .zip([a, b, c, d])
        .map(|(h, bytes)| fnv_continue(h, &bytes[common..]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_by_side_hashes_are_the_one_by_one_hashes() {
        assert_eq!(content_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(content_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        let texts: Vec<Vec<u8>> = (0..11)
            .map(|k| {
                (0..k * 37 + (k % 3) * 5)
                    .map(|i| (i * 7 + k) as u8)
                    .collect()
            })
            .collect();
        for n in 0..texts.len() {
            let some: Vec<&[u8]> = texts[..n].iter().map(Vec::as_slice).collect();
            let one_by_one: Vec<u64> = some.iter().map(|t| content_hash(t)).collect();
            assert_eq!(content_hashes(&some), one_by_one);
        }
    }
}
