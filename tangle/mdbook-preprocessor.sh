#!/bin/sh
# The mdBook preprocessor command of book.toml: runs `tangle mdbook "$@"`, first building the
# release binary when it is missing or older than the tangler's sources. The check uses shell
# builtins only (no fork), so it costs about a millisecond, where `cargo run` would cost a cargo
# start-up per call (mdBook calls the preprocessor twice per build: `supports html`, then the run).
set -eu
case $0 in
*/*) root=${0%/*}/.. ;;
*) root=.. ;;
esac
bin=${CARGO_TARGET_DIR:-$root/target}/release/tangle
stale=
if [ -x "$bin" ]; then
    # The tangler's crates: the CLI in tangle/, the core and the dialects in tangle/*/.
    for f in "$root"/tangle/src "$root"/tangle/src/*.rs "$root"/tangle/src/*/*.rs \
        "$root"/tangle/*/src "$root"/tangle/*/src/*.rs "$root"/tangle/*/src/*/*.rs \
        "$root"/tangle/Cargo.toml "$root"/tangle/*/Cargo.toml "$root"/Cargo.toml "$root"/Cargo.lock; do
        if [ -e "$f" ] && [ "$f" -nt "$bin" ]; then
            stale=1
            break
        fi
    done
else
    stale=1
fi
if [ -n "$stale" ]; then
    # mdBook shows nothing while a preprocessor works: say why the first render waits.
    echo "tangle preprocessor: building the tangler (cargo build --release -p tangle; about a minute the first time)" >&2
    cargo build --release --manifest-path "$root/Cargo.toml" -p tangle --bin tangle >&2
    touch "$bin" # up to date now, even if cargo had nothing to rebuild
fi
exec "$bin" mdbook "$@"
