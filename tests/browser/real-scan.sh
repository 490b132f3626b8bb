#!/usr/bin/env bash
# The acceptance-committee report of a real scan, opened in a real browser: builds a
# multi-layer Debian image (debootstrap root filesystem plus an application layer with a
# hostile file name and label), scans it from local storage with --format html, then runs
# check-html.sh on the report (no console errors, no network requests, non-blank
# screenshot, a PDF).
#
#   tests/browser/real-scan.sh       (after tests/env/setup.sh; sources its env file)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck disable=SC1091
source "${OCIC_TEST_STATE:-/var/tmp/oci-compliance-test}/env"
bin=$PWD/target/release/oci-compliance
[[ -x $bin ]] || cargo build --locked --release --quiet

work=$(mktemp -d /var/tmp/ocic-browser.XXXXXX)
image=localhost/ocic-browser-$$:1
ctr=
cleanup() {
    [[ -n $ctr ]] && buildah rm "$ctr" >/dev/null 2>&1
    podman rmi --force "$image" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/app/opt/app"
printf '#!/bin/sh\necho hi\n' >"$work/app/opt/app/run"
chmod 0755 "$work/app/opt/app/run"
: >"$work/app/opt/app/<img src=x onerror=alert(1)>.txt"

ctr=$(buildah from scratch)
buildah copy --quiet "$ctr" "$OCIC_TEST_ROOTFS" / >/dev/null
buildah config --created-by "ADD debian-bookworm-minbase /" "$ctr"
buildah commit --quiet "$ctr" "$image" >/dev/null
buildah rm "$ctr" >/dev/null
ctr=$(buildah from "$image")
buildah copy --quiet "$ctr" "$work/app" / >/dev/null
buildah config --created-by "COPY app /" --user 1001:1001 --entrypoint '["/opt/app/run"]' \
    --label 'org.opencontainers.image.title=<script>alert("label")</script>' "$ctr"
buildah commit --quiet "$ctr" "$image" >/dev/null
buildah rm "$ctr" >/dev/null
ctr=

set +e
"$bin" scan --pull never --format html --reports-dir "$work/reports" "containers-storage:$image" >"$work/scan.log" 2>&1
code=$?
set -e
if [[ $code != 12 ]]; then
    echo "real-scan.sh: expected exit 12 (Debian ships setuid files), got $code" >&2
    cat "$work/scan.log" >&2
    exit 1
fi
html=$(find "$work/reports" -name '*.html' | head -n 1)
[[ -n $html ]] || { echo "real-scan.sh: no HTML report written" >&2; exit 1; }
echo "real-scan.sh: checking $(basename "$html") ($(stat -c %s "$html") bytes) in headless Chromium"
tests/browser/check-html.sh "$html" "$work/browser"
