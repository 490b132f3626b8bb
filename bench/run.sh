#!/usr/bin/env bash
# Scan speed against the floor any scanner must pay: one `podman image inspect` plus one
# `find LAYER_DIRS -printf ''` pass over the same layer directories.
#
# Builds its own images (cached in the test storage between runs):
#   bench-debian      debootstrap Debian + gcc, g++, openssh-client, as several layers
#   bench-synth-N     synthetic images of 100k, 250k and 500k entries (2, 5, 10 layers of 50k)
#   bench-synth-flat  250k entries in one layer (a squashed image: one walk shared by threads)
# then times, alternating, `oci-compliance scan --pull never` (every check, default reports)
# against the floor, RUNS times each, and prints the median ratio, peak memory (GNU time -v)
# and entries per second.
#
#   bench/run.sh [RUNS]      (default 7)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-7}

bash tests/env/setup.sh >&2
# shellcheck disable=SC1091
source "${OCIC_TEST_STATE:-/var/tmp/oci-compliance-test}/env"
cargo build --locked --release --quiet
BIN=$PWD/target/release/oci-compliance
WORK=$(mktemp -d /var/tmp/ocic-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

log() { printf 'bench: %s\n' "$*" >&2; }

# --- images ------------------------------------------------------------------

# shellcheck source=bench/images.sh
source bench/images.sh
build_bench_images flat

# --- measurement -------------------------------------------------------------

layer_dirs() {
    # LowerDir is absent for a single-layer image (the template then prints "<no value>").
    podman image inspect --format '{{.GraphDriver.Data.UpperDir}}{{with .GraphDriver.Data.LowerDir}}:{{.}}{{end}}' "$1" |
        tr ':' '\n' | grep -v '^$'
}

floor() {
    local img=$1
    podman image inspect "$img" >/dev/null
    # shellcheck disable=SC2046
    find $(layer_dirs "$img") -printf ''
}

# The same walk with one lstat per entry (what reading mode bits costs), for reference:
# GNU find skips the stat entirely for -printf '', reading only directory entries.
stat_floor() {
    local img=$1
    podman image inspect "$img" >/dev/null
    # shellcheck disable=SC2046
    find $(layer_dirs "$img") -printf '%m' >/dev/null
}

# scan IMAGE [FLAG...]
scan() {
    "$BIN" scan --pull never --color never --reports-dir "$WORK/reports" "${@:2}" "containers-storage:$1" \
        >/dev/null 2>&1 || true
}

now() { date +%s.%N; }

measure() {
    local img=$1 entries t0 t1 i
    # shellcheck disable=SC2046
    entries=$(find $(layer_dirs "$img") | wc -l)
    floor "$img"; scan "$img"   # warm the page cache for both
    : >"$WORK/times"
    for ((i = 0; i < RUNS; i++)); do
        t0=$(now); floor "$img"; t1=$(now); echo "floor $t0 $t1" >>"$WORK/times"
        t0=$(now); scan "$img"; t1=$(now); echo "scan $t0 $t1" >>"$WORK/times"
        t0=$(now); stat_floor "$img"; t1=$(now); echo "stat $t0 $t1" >>"$WORK/times"
        t0=$(now); podman image inspect "$img" >/dev/null; t1=$(now); echo "inspect $t0 $t1" >>"$WORK/times"
    done
    local layers
    layers=$(layer_dirs "$img" | wc -l)
    /usr/bin/time -v -o "$WORK/timev" "$BIN" scan --pull never --color never --reports-dir "$WORK/reports" \
        "containers-storage:$img" >/dev/null 2>&1 || true
    local rss
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/timev")
    python3 - "$img" "$entries" "$rss" "$WORK/times" "$layers" "$(nproc)" <<'PY'
import statistics, sys
img, entries, rss, path, layers, cpus = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
t = {"floor": [], "scan": [], "stat": [], "inspect": []}
for line in open(path):
    kind, a, b = line.split()
    t[kind].append(float(b) - float(a))
f, s, st, ins = (statistics.median(t[k]) for k in ("floor", "scan", "stat", "inspect"))
ratios = [b / a for a, b in zip(t["floor"], t["scan"])]
sratios = [b / a for a, b in zip(t["stat"], t["scan"])]
bound = ins + (st - ins) / cpus
print(f"{img:30} {layers:>3} {entries:>9,} {f:>8.3f} {s:>8.3f} {statistics.median(ratios):>6.2f}x {st:>8.3f} {statistics.median(sratios):>6.2f}x {bound:>8.3f} {bound / f:>6.2f}x {rss/1024:>8.1f} {entries/s:>11,.0f}")
PY
}

echo "machine: $(uname -srm); $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
echo "podman $(podman version --format '{{.Client.Version}}'); storage driver $(podman info --format '{{.Store.GraphDriverName}}'); $RUNS alternating runs each, medians"
echo "oci-compliance $("$BIN" --version | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
echo
echo "floor_s: podman image inspect + find LAYER_DIRS -printf ''   (reads directories, stats nothing)"
echo "stat_s:  podman image inspect + find LAYER_DIRS -printf '%m'  (one lstat per entry, as any mode check needs)"
echo "scan_s:  oci-compliance scan --pull never (every check, console + JSON report); ratios are medians of per-run ratios"
echo "bound_s: inspect + (stat_s - inspect) / $(nproc) CPUs: the lstat walk alone, spread perfectly over every CPU -"
echo "         no scanner that reads mode bits can beat it here; bound/floor is the least ratio possible"
echo
printf '%-30s %3s %9s %8s %8s %7s %8s %7s %8s %7s %8s %11s\n' image lyr entries floor_s scan_s ratio stat_s ratio bound_s b/floor rss_MiB entries/s
for img in localhost/bench-debian:1 localhost/bench-synth-100k:2 localhost/bench-synth-250k:2 localhost/bench-synth-500k:2 \
    localhost/bench-synth-flat:2; do
    measure "$img"
done

# --- name lists --------------------------------------------------------------
# Matching tool and compiler names must not cost more with longer lists: the same scan with
# 10,000 extra names in each of the three lists, alternating with the default lists, on a
# small and a large image. A per-entry cost would grow with the image; reading the policy
# and recording the lists in the report does not.
echo
python3 - "$WORK/lists.toml" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for key in ("extra_privilege_tools", "extra_remote_access_tools", "extra_compilers"):
        names = ", ".join(f'"{key[6:9]}tool{i}"' for i in range(10000))
        f.write(f"{key} = [{names}]\n")
PY
for lists_img in localhost/bench-debian:1 localhost/bench-synth-500k:2; do
    : >"$WORK/lists"
    for ((i = 0; i < RUNS; i++)); do
        t0=$(now); scan "$lists_img"; t1=$(now)
        scan "$lists_img" --policy "$WORK/lists.toml"
        t2=$(now)
        echo "$t0 $t1 $t2" >>"$WORK/lists"
    done
    python3 - "$WORK/lists" "$lists_img" <<'PY'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
default = statistics.median(b - a for a, b, _ in rows)
big = statistics.median(c - b for _, b, c in rows)
print(f"name lists, {sys.argv[2]:30} default {default:.3f} s; 30,000 extra names {big:.3f} s; difference {big - default:+.3f} s")
PY
done
