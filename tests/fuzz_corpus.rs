//! Replays, on the stable toolchain, every input the `message` fuzz target keeps
//! (`fuzz/corpus/message/` and the crash reproducers in `fuzz/regressions/message/`) through
//! the very driver and checks the fuzz target runs: `fuzz/check/message.rs`, included here as
//! it is there.

#[path = "../fuzz/check/message.rs"]
mod check;

use std::path::Path;

#[test]
fn message_corpus_and_regressions_pass_the_fuzz_checks() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(fuzz.join(kind).join("message")) else {
            continue;
        };
        files.extend(dir.map(|e| e.unwrap().path()).filter(|p| p.is_file()));
    }
    files.sort();
    assert!(!files.is_empty(), "no inputs kept for message");
    let failed: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let data = std::fs::read(path).unwrap();
            std::panic::catch_unwind(|| check::check_message(&data))
                .err()
                .map(|_| path.display().to_string())
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} message inputs break the checks:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

/// The driver really talks to the server: a search is answered from the table, a keep-alive
/// pipeline gets both its replies, and a refused request gets its error and the close.
#[test]
fn the_driver_gets_real_replies() {
    let search =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/message/search"))
            .unwrap();
    let replies = check::replies_for_test(&search);
    assert_eq!(replies.len(), 1);
    assert!(
        replies[0].contains("In the caves beneath the Misty Mountains."),
        "{replies:?}"
    );
    let pipeline = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/message/keep-alive-pipeline"),
    )
    .unwrap();
    let replies = check::replies_for_test(&pipeline);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(replies[0].contains("white rabbit"), "{replies:?}");
    assert!(replies[1].contains("Misty Mountains"), "{replies:?}");
    let refused = check::replies_for_test(b"\x00\x00\x04nope");
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("\"error\""), "{refused:?}");
}

/// The TLS arms are real: a search sent inside TLS (bit 5 of the first byte) gets its reply
/// through a handshake and rustls on both sides, a keep-alive pipeline both replies; raw bytes
/// on the TLS port (bit 6) end the connection without a reply frame.
#[test]
fn the_driver_speaks_tls() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/message");
    let read = |name: &str| std::fs::read(corpus.join(name)).unwrap();
    let search = read("search-over-tls");
    assert_eq!(check::plan(&search).wire, check::Wire::Tls);
    let replies = check::replies_for_test(&search);
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert!(replies[0].contains("Misty Mountains"), "{replies:?}");
    let pipeline = read("keep-alive-pipeline-over-tls");
    let replies = check::replies_for_test(&pipeline);
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert!(replies[1].contains("Misty Mountains"), "{replies:?}");
    let chunked = read("one-byte-chunks-over-tls");
    assert_eq!(check::replies_for_test(&chunked).len(), 1);
    let raw = read("plain-text-on-tls");
    assert_eq!(check::plan(&raw).wire, check::Wire::RawTls);
    assert!(check::replies_for_test(&raw).is_empty());
}

/// The frame checks are not vacuous: a cut frame, a frame after a closing reply, a header
/// without the protocol's keys are all caught.
#[test]
fn the_checks_catch_bad_frames() {
    let header = br#"{"byteorder": "little", "content-type": "binary/custom-server-binary-type", "content-encoding": "binary", "content-length": 2}"#;
    let good = &[&(header.len() as u16).to_be_bytes()[..], header, b"ab"].concat()[..];
    check::check_replies(good);
    for bad in [
        &good[..good.len() - 1],
        &[good, good].concat()[..],
        &b"\x00\x02{}"[..],
        &b"\x00"[..],
    ] {
        let caught = std::panic::catch_unwind(|| check::check_replies(bad));
        assert!(caught.is_err(), "{:?} passed", String::from_utf8_lossy(bad));
    }
}
