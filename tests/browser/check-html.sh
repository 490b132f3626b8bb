#!/usr/bin/env bash
# Opens an HTML report in headless Chromium and checks what a reader (and a printer) gets:
#   1. the page loads with JavaScript disabled, makes no network request besides the file
#      itself, and logs no console error, exception or error entry (CSP violations included);
#   2. a screenshot (--screenshot) is not blank;
#   3. --print-to-pdf produces a PDF (header, trailer, size; A4 pages when pdfinfo is there).
#
#   tests/browser/check-html.sh REPORT.html [OUT_DIR]
#
# Needs Debian's chromium (apt-get install -y chromium) and node (no npm packages).
# The screenshot, PDF and browser logs are kept in OUT_DIR (default: a new temp dir).
# Exit status: 0 all checks passed, 1 a check failed, 2 the checks could not run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if (($# < 1 || $# > 2)); then
    echo "usage: $0 REPORT.html [OUT_DIR]" >&2
    exit 2
fi
html=$(realpath -e -- "$1") || { echo "no such file: $1" >&2; exit 2; }
out=${2:-$(mktemp -d /tmp/check-html.XXXXXX)}
mkdir -p "$out"

chromium=${CHROMIUM:-}
if [[ -z $chromium ]]; then
    for c in chromium chromium-browser; do
        if command -v "$c" >/dev/null; then chromium=$(command -v "$c"); break; fi
    done
fi
if [[ -z $chromium ]]; then
    echo "chromium not found: apt-get install -y chromium (or set CHROMIUM)" >&2
    exit 2
fi
command -v node >/dev/null || { echo "node not found" >&2; exit 2; }

url=$(node -e 'console.log(require("url").pathToFileURL(process.argv[1]).href)' "$html")

profiles=()
cleanup() { rm -rf "${profiles[@]}"; }
trap cleanup EXIT
# Headless, as root, and quiet: no sandbox (root), no GPU, and nothing that phones home.
flags() {
    local profile
    profile=$(mktemp -d /tmp/check-html-profile.XXXXXX)
    profiles+=("$profile")
    printf '%s\n' --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --no-default-browser-check \
        --disable-default-apps --disable-extensions --mute-audio "--user-data-dir=$profile"
}

status=0
echo "checking $html with $("$chromium" --version 2>/dev/null | head -n1)"

# 1. Console and network, over the DevTools protocol.
mapfile -t f < <(flags)
node "$HERE/check.mjs" page "$chromium" "$url" "${f[@]}" --enable-logging=stderr --v=0 \
    2>"$out/page.log" | tee "$out/page.txt" || status=$?
grep -E '^(FAIL|could not run)' "$out/page.log" >&2 || true
if ((status == 2)); then cat "$out/page.log" >&2; fi

# 2. Screenshot, not blank.
mapfile -t f < <(flags)
rm -f "$out/screenshot.png"
timeout 90 "$chromium" "${f[@]}" --hide-scrollbars --window-size=1280,2000 \
    --screenshot="$out/screenshot.png" "$url" >"$out/screenshot.log" 2>&1 || true
if [[ -s $out/screenshot.png ]]; then
    node "$HERE/check.mjs" png "$out/screenshot.png" || { s=$?; ((s > status)) && status=$s; }
else
    echo "FAIL: no screenshot was written (see $out/screenshot.log)" >&2
    status=1
fi

# 3. PDF.
mapfile -t f < <(flags)
rm -f "$out/report.pdf"
timeout 90 "$chromium" "${f[@]}" --no-pdf-header-footer --print-to-pdf="$out/report.pdf" "$url" \
    >"$out/pdf.log" 2>&1 || true
if [[ -s $out/report.pdf ]]; then
    size=$(stat -c %s "$out/report.pdf")
    if [[ $(head -c 5 "$out/report.pdf") != "%PDF-" ]]; then
        echo "FAIL: $out/report.pdf does not start with %PDF-" >&2
        status=1
    elif ! tail -c 1024 "$out/report.pdf" | grep -q '%%EOF'; then
        echo "FAIL: $out/report.pdf has no %%EOF trailer" >&2
        status=1
    elif ((size < 10000)); then
        echo "FAIL: $out/report.pdf is only $size bytes" >&2
        status=1
    else
        echo "pdf: $size bytes"
        if command -v pdfinfo >/dev/null; then
            pdfinfo "$out/report.pdf" | grep -E '^(Pages|Page size):' | sed 's/^/pdf: /'
            if ! pdfinfo "$out/report.pdf" | grep -q '^Page size:.*(A4)'; then
                echo "FAIL: the PDF pages are not A4" >&2
                status=1
            fi
        fi
    fi
else
    echo "FAIL: no PDF was written (see $out/pdf.log)" >&2
    status=1
fi

echo "artefacts: $out (page.txt, page.log, screenshot.png, report.pdf)"
if ((status == 0)); then echo "check-html: OK"; else echo "check-html: FAILED ($status)" >&2; fi
exit "$status"
