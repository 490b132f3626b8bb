#!/usr/bin/env bash
# The whole test suite, from a fresh Debian machine: installs what the tests need (podman,
# buildah, a local authenticated registry, a debootstrap Debian root filesystem), runs every
# test, then stops the registry it started.
#
#   tests/run.sh            # everything
#   tests/run.sh --lib      # extra arguments go to `cargo test`
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "tests/run.sh: cargo not found; install a Rust toolchain (https://rustup.rs) first" >&2
    exit 1
fi

bash tests/env/setup.sh
# shellcheck disable=SC1091
source "${OCIC_TEST_STATE:-/var/tmp/oci-compliance-test}/env"

# Stop the registry on every exit path, so nothing outlives the run.
trap 'bash tests/env/teardown.sh >/dev/null 2>&1 || true' EXIT

cargo build --locked --release
log=$(mktemp)
trap 'rm -f "$log"; bash tests/env/teardown.sh >/dev/null 2>&1 || true' EXIT
cargo test --locked --release "$@" 2>&1 | tee "$log"
# Every fuzz target for a bounded time (cargo-fuzz on stable with RUSTC_BOOTSTRAP).
bash fuzz/run.sh 15
# The HTML report of a real scan, in a real (headless) browser.
bash tests/browser/real-scan.sh
# The scanner image: built as documented, run as the GitLab jobs run it; sharding.
bash tests/container/sharding.sh
bash tests/container/run.sh

# One closing line for the whole suite: the cargo tests plus the four script checks above
# (fuzzing, browser, sharding, scanner image), each of which exits non-zero on a failure.
awk '/^test result:/ { p += $4; f += $6 } END { printf "suite: %d passed, %d failed\n", p + 4, f }' "$log"
