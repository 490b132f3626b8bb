#!/usr/bin/env bash
# Runs every cargo-fuzz target for a bounded time and fails if any of them crashes.
#
#   fuzz/run.sh [SECONDS]     # per target, default 20
#
# Targets: reference (ImageRef::parse), inspect (podman image inspect JSON, and the checks
# and renderers on it), docker_auth (DOCKER_AUTH_CONFIG JSON; the pure parser, no file is
# read), etc_files (passwd/group/os-release), escape_roundtrip (escape::bytes/unescape),
# render_reports (a report file as merge reads it, rendered in every format, alone and merged),
# tar_layer (a layer blob read into entries under each compression, and read_file on it),
# packages (dpkg/apk/rpm databases and the rpmdb.sqlite reader).
# New inputs go to fuzz/corpus/TARGET (kept between runs, not in git), seeds come from
# fuzz/seeds/TARGET; a crash leaves its input in fuzz/artifacts/TARGET/ and should become
# a regression unit test next to the code.
set -euo pipefail
secs=${1:-20}
if [[ ! $secs =~ ^[0-9]+$ ]] || ((secs < 1)); then
    echo "usage: fuzz/run.sh [SECONDS per target]" >&2
    exit 2
fi
cd "$(dirname "$0")"

if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz/run.sh: installing cargo-fuzz from crates.io" >&2
    cargo install --locked --version 0.13.2 cargo-fuzz
fi
# cargo-fuzz passes -Z flags (sanitizer coverage) that need a nightly compiler; this
# machine has only the stable toolchain and cannot fetch another, and RUSTC_BOOTSTRAP=1
# makes stable accept them.
export RUSTC_BOOTSTRAP=1
# -s none: the fuzzed code is safe Rust (the crate's only unsafe, lgetxattr in the walk,
# is not reached), so AddressSanitizer would find nothing and cost ~10x in speed.
# -a: debug assertions and overflow checks on, so an arithmetic overflow is a crash.
opts=(-s none -a)

cargo fuzz build "${opts[@]}"
mkdir -p logs
failed=()
for t in $(cargo fuzz list); do
    mkdir -p "corpus/$t"
    log=logs/$t.log
    if cargo fuzz run "${opts[@]}" "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -n 1)
        corpus=$(find "corpus/$t" -type f | wc -l)
        echo "fuzz $t: ${runs:-?} executions in ${secs}s, no crash (corpus: $corpus inputs)"
    else
        echo "fuzz $t: CRASH; last lines of $PWD/$log:" >&2
        tail -n 30 "$log" >&2
        failed+=("$t")
    fi
done
if ((${#failed[@]})); then
    echo "fuzz/run.sh: crashes in: ${failed[*]} (inputs under $PWD/artifacts/)" >&2
    exit 1
fi
