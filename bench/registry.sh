#!/usr/bin/env bash
# `--source registry` against the two ways it is judged (issue 12, "Performance"), from the
# local authenticated registry, nothing cached (a fresh store, temp dir and layout every run):
#
#   (a) storage: `podman pull` into an EMPTY private store + `scan --source storage --pull never`
#   (b) registry: `scan --source registry` end to end (skopeo fetch + stream every layer blob)
#   (c) floor:    `skopeo copy docker://… oci:DIR` + `gzip -dc BLOB | tar -t` of every layer
#                 blob, layers in parallel (what any scanner that reads registry blobs pays here)
#
# on localhost/bench-debian:1 and localhost/bench-synth-500k:2 (bench/run.sh's images, built
# here if missing) pushed as bench/debian:1 and bench/synth-500k:2; then a batch of 20 small
# images on the bench-debian base, scanned in one run (COMPLIANCE_JOBS=2), against one registry
# scan of bench/debian:1. RUNS alternating rounds each (the order of (a), (b), (c) rotates from
# round to round), after one untimed warm-up round; medians. Targets: (b)/(a) <= 0.3,
# (b)/(c) <= 1.0, peak RSS of (b) < 200 MB, batch <= 1.5x the single scan.
#
# The binary is built from the committed HEAD (git archive into a private tree and target dir),
# not from the shared working tree, which others edit while this runs: the numbers belong to
# the revision printed.
#
# The batch runs COMPLIANCE_JOBS=$BATCH_JOBS (default 4): a job spends most of its time waiting
# for skopeo and the registry, not on a CPU, so more jobs than CPUs is what a user scanning
# many images from a registry should set.
#
#   bench/registry.sh [RUNS] [batch]   (default 5); prints and writes bench/results-registry.txt,
#                                      or with `batch` only the batch, to bench/results-registry-batch.txt
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
ONLY=${2:-}
BATCH_JOBS=${BATCH_JOBS:-4}
[[ $RUNS =~ ^[1-9][0-9]*$ && ( -z $ONLY || $ONLY == batch ) ]] || { echo "usage: $0 [RUNS] [batch]" >&2; exit 2; }
OUT=$PWD/bench/results-registry${ONLY:+-$ONLY}.txt
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

bash tests/env/setup.sh >&2
# shellcheck disable=SC1091
source "${OCIC_TEST_STATE:-/var/tmp/oci-compliance-test}/env"
REG=$OCIC_TEST_REGISTRY
CREDS="$OCIC_TEST_REGISTRY_USER:$OCIC_TEST_REGISTRY_PASSWORD"

log() { printf 'bench: %s\n' "$*" >&2; }
now() { date +%s.%N; }

# --- the binary, from HEAD -----------------------------------------------------

BUILD=${OCIC_BENCH_BUILD:-/var/tmp/ocic-regbench-build}
REV=$(git rev-parse HEAD)
mkdir -p "$BUILD/target"
if [[ $(cat "$BUILD/rev" 2>/dev/null) != "$REV" || ! -x $BUILD/target/release/oci-compliance ]]; then
    log "building oci-compliance at ${REV:0:12} in $BUILD"
    rm -rf "$BUILD/src"
    mkdir "$BUILD/src"
    git archive HEAD | tar -x -C "$BUILD/src"
    # A copied or older fingerprint must not pass for this revision.
    CARGO_TARGET_DIR=$BUILD/target cargo clean --quiet --release -p oci-compliance --manifest-path "$BUILD/src/Cargo.toml" 2>/dev/null || true
    (cd "$BUILD/src" && CARGO_TARGET_DIR=$BUILD/target cargo build --locked --release --quiet)
    echo "$REV" >"$BUILD/rev"
fi
BIN=$BUILD/target/release/oci-compliance

# Short: podman refuses a --runroot longer than 50 bytes.
WORK=$(mktemp -d /var/tmp/ocrb.XXXXXX)
cleanup_store() { # DIR: a private podman store made by one (a) run
    local d=$1
    [[ -d $d ]] || return 0
    if [[ -d $d/root ]]; then
        podman --root "$d/root" --runroot "$d/run" system reset -f >/dev/null 2>&1 || true
        mountpoint -q "$d/root/overlay" 2>/dev/null && umount "$d/root/overlay" 2>/dev/null || true
    fi
    rm -rf "$d"
}
cleanup() {
    local d
    for d in "$WORK"/r*; do cleanup_store "$d"; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- images (bench/run.sh's recipes; cached in the test storage) ----------------

# shellcheck source=bench/images.sh
source bench/images.sh
build_bench_images

# 20 small images on the bench-debian base: one tiny file each, in a layer of its own.
BATCH=()
for i in $(seq 1 20); do
    img=localhost/bench-batch-$i:1
    if ! have "$img"; then
        ((i > 1)) || log "building 20 batch images on localhost/bench-debian:1"
        echo "bench batch image $i" >"$WORK/batch-file"
        ctr=$(buildah from --pull=never localhost/bench-debian:1)
        buildah copy --quiet "$ctr" "$WORK/batch-file" /etc/bench-batch >/dev/null
        buildah config --created-by "COPY bench-batch-$i /etc/bench-batch" "$ctr"
        buildah commit --quiet "$ctr" "$img" >/dev/null
        buildah rm "$ctr" >/dev/null
    fi
    BATCH+=("$REG/bench/batch-$i:1")
done

# --- push (once per run of this script; blobs already there are skipped) -------------

push() { podman push --quiet --tls-verify=false --creds "$CREDS" "$1" "docker://$2" >/dev/null; }
push_all() {
    log "pushing to $REG"
    push localhost/bench-debian:1 "$REG/bench/debian:1"
    push localhost/bench-synth-500k:2 "$REG/bench/synth-500k:2"
    for i in $(seq 1 20); do push "localhost/bench-batch-$i:1" "$REG/bench/batch-$i:1"; done
}
push_all

# The registry is shared with other sessions' tests, whose teardown.sh stops it. A round that
# fails while it is down is run again (in full) once setup.sh has restarted it; the count of
# such rounds is printed. Any other failure stops the benchmark.
REDONE=0
registry_up() { curl -s -o /dev/null --max-time 5 "http://$REG/v2/"; }
ensure_registry() {
    registry_up || { log "registry down: restarting it (tests/env/setup.sh) and pushing again"; bash tests/env/setup.sh >&2; push_all; }
}
# round FUNCTION ARGS...: FUNCTION until it succeeds with the registry up (3 tries).
round() {
    local try
    for try in 1 2 3; do
        ensure_registry
        if "$@"; then return 0; fi
        registry_up && { log "failed with the registry up: stopping"; exit 1; }
        REDONE=$((REDONE + 1))
        log "the registry went away during the round: running it again"
    done
    exit 1
}

# --- the three ways ------------------------------------------------------------

AUTH=$(printf '{"auths":{"%s":{"auth":"%s"}}}' "$REG" "$(printf '%s' "$CREDS" | base64 -w0)")
JOBS=1
fresh() { local d; d=$(mktemp -d "$WORK/r.XXXXXX"); mkdir "$d/tmp" "$d/reports"; echo "$d"; }

# check_scan EXIT_CODE LOG: exit codes 0 and 12-15 are verdicts; anything else means no scan.
check_scan() {
    case $1 in
        0 | 12 | 13 | 14 | 15) ;;
        *) log "scan failed (exit $1):"; tail -5 "$2" >&2; return 1 ;;
    esac
}

# (a) IMAGE: pull into an empty private store, scan it there. The store's removal is not timed.
run_storage() {
    local ref=$1 d rc=0
    d=$(fresh)
    podman --root "$d/root" --runroot "$d/run" pull --quiet --tls-verify=false --creds "$CREDS" \
        "docker://$ref" >/dev/null 2>"$d/log" || { tail -5 "$d/log" >&2; cleanup_store "$d"; return 1; }
    "$BIN" scan --source storage --pull never --root "$d/root" --runroot "$d/run" --color never \
        --reports-dir "$d/reports" "$ref" >/dev/null 2>>"$d/log" || rc=$?
    check_scan "$rc" "$d/log" || { cleanup_store "$d"; return 1; }
    T1=$(now)
    cleanup_store "$d"
}

# (b) IMAGE...: the registry scan, under GNU time (peak RSS into $RSS_FILE).
run_registry() {
    local d rc=0
    d=$(fresh)
    env DOCKER_AUTH_CONFIG="$AUTH" COMPLIANCE_TLS_VERIFY=false TMPDIR="$d/tmp" COMPLIANCE_JOBS="$JOBS" \
        /usr/bin/time -v -o "$d/timev" "$BIN" scan --source registry --color never \
        --reports-dir "$d/reports" "$@" >/dev/null 2>"$d/log" || rc=$?
    check_scan "$rc" "$d/log" || { rm -rf "$d"; return 1; }
    T1=$(now)
    [[ $(find "$d/tmp" -mindepth 1 | wc -l) == 0 ]] || log "warning: the registry scan left files in its TMPDIR"
    RSS_KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$d/timev")
    rm -rf "$d"
}

# (c) IMAGE: skopeo copy to an OCI layout + decompress and list every layer blob in parallel.
run_floor() {
    local ref=$1 d mf line type digest pid
    local -a pids=()
    d=$(fresh)
    skopeo copy --quiet --src-tls-verify=false --src-creds "$CREDS" "docker://$ref" "oci:$d/layout" >/dev/null ||
        { rm -rf "$d"; return 1; }
    mf=$(grep -o '"digest":"sha256:[0-9a-f]*"' "$d/layout/index.json" | head -1 | cut -d'"' -f4)
    while read -r line; do
        type=${line#*\"mediaType\":\"}; type=${type%%\"*}
        digest=${line#*\"digest\":\"sha256:}; digest=${digest%%\"*}
        case $type in
            *layer*+gzip) gzip -dc "$d/layout/blobs/sha256/$digest" | tar -t >/dev/null & ;;
            *layer*+zstd) zstd -dcq "$d/layout/blobs/sha256/$digest" | tar -t >/dev/null & ;;
            *layer*tar) tar -tf "$d/layout/blobs/sha256/$digest" >/dev/null & ;;
            *) continue ;;
        esac
        pids+=($!)
    done < <(grep -o '"mediaType":"[^"]*","digest":"sha256:[0-9a-f]*"' "$d/layout/blobs/sha256/${mf#sha256:}")
    for pid in "${pids[@]}"; do wait "$pid" || { log "decompressing a layer failed"; rm -rf "$d"; return 1; }; done
    T1=$(now)
    FLOOR_LAYERS=${#pids[@]}
    rm -rf "$d"
}

warmup() { run_storage "$1" && run_registry "$1" && run_floor "$1"; }

# abc_round I IMAGE: (a), (b), (c) in an order rotated by I; the times into $WORK/round.
abc_round() {
    local i=$1 ref=$2 k t0
    : >"$WORK/round"
    for k in 0 1 2; do
        case $(((i + k) % 3)) in
            0) t0=$(now); run_storage "$ref" || return 1; echo "a $t0 $T1" >>"$WORK/round" ;;
            1) t0=$(now); run_registry "$ref" || return 1; echo "b $t0 $T1 $RSS_KB" >>"$WORK/round" ;;
            2) t0=$(now); run_floor "$ref" || return 1; echo "c $t0 $T1" >>"$WORK/round" ;;
        esac
    done
}

# measure NAME IMAGE: RUNS rounds of (a), (b), (c), order rotating; one row.
measure() {
    local name=$1 ref=$2 i k t0 layers types
    log "$name: warm-up"
    round warmup "$ref"
    ((FLOOR_LAYERS > 0)) || { log "$name: the floor found no layer blob in the layout"; exit 1; }
    : >"$WORK/times-$name"
    for ((i = 0; i < RUNS; i++)); do
        log "$name: round $((i + 1))/$RUNS"
        round abc_round "$i" "$ref"
        cat "$WORK/round" >>"$WORK/times-$name"
    done
    layers=$(skopeo inspect --raw --tls-verify=false --creds "$CREDS" "docker://$ref" |
        grep -o '"mediaType":"[^"]*layer[^"]*"' | cut -d'"' -f4)
    types=$(sed 's/.*\.//; s/.*+//' <<<"$layers" | sort | uniq -c | awk '{printf "%s%s×%s", sep, $1, $2; sep=","}')
    python3 - "$name" "$WORK/times-$name" "$types" <<'PY' | tee -a "$WORK/table"
import statistics, sys
name, path, types = sys.argv[1], sys.argv[2], sys.argv[3]
rounds = {"a": [], "b": [], "c": []}
rss = []
for line in open(path):
    f = line.split()
    rounds[f[0]].append(float(f[2]) - float(f[1]))
    if f[0] == "b":
        rss.append(int(f[3]))
a, b, c = (statistics.median(rounds[k]) for k in "abc")
ba = statistics.median(y / x for x, y in zip(rounds["a"], rounds["b"]))
bc = statistics.median(y / x for x, y in zip(rounds["c"], rounds["b"]))
print(f"{name:18} {types:>10} {a:>9.3f} {b:>9.3f} {c:>9.3f} {ba:>6.3f}x {bc:>6.2f}x {statistics.median(rss)/1024:>8.1f} {max(rss)/1024:>8.1f}"
      f"   b: {min(rounds['b']):.3f}-{max(rounds['b']):.3f}  c: {min(rounds['c']):.3f}-{max(rounds['c']):.3f}")
PY
}

# timings IMAGE...: one more registry scan with OCI_COMPLIANCE_TIMINGS=1, summarised. Phases are
# seconds since the image's scan began; "layer read" is each layer's own read time.
timings() {
    local d
    d=$(fresh)
    env OCI_COMPLIANCE_TIMINGS=1 DOCKER_AUTH_CONFIG="$AUTH" COMPLIANCE_TLS_VERIFY=false TMPDIR="$d/tmp" COMPLIANCE_JOBS="$JOBS" \
        "$BIN" scan --source registry --color never --reports-dir "$d/reports" "$@" >/dev/null 2>"$d/log" || true
    python3 - "$d/log" "$#" <<'PY'
import re, statistics, sys
ph = {}
for line in open(sys.argv[1]):
    m = re.match(r"oci-compliance: timing (.+): ([0-9.]+)s$", line.strip())
    if m:
        ph.setdefault(m.group(1), []).append(float(m.group(2)))
lr = ph.get("layer read from blob", [])
reads = ", ".join(f"{x:.2f}" for x in lr)
if sys.argv[2] == "1":
    g = lambda k: ph.get(k, [float("nan")])[0]
    print(f"fetch {g('fetch'):.3f}; layer reads {reads} (each); all layers read {g('read layers'):.3f};"
          f" merge {g('merge'):.3f}; rules {g('rules'):.3f}; tree {g('tree'):.3f}")
else:
    f = ph.get("fetch", [])
    print(f"fetch per image: first two {f[0]:.2f}, {f[1]:.2f}; other {len(f) - 2}: median {statistics.median(f[2:]):.2f}"
          f" ({min(f[2:]):.2f}-{max(f[2:]):.2f}); layers read: {len(lr)} ({reads}); per image fetch to report: median"
          f" {statistics.median(ph.get('tree', [0])):.2f}")
PY
    rm -rf "$d"
}

# --- run -----------------------------------------------------------------------------

{
    echo "machine: $(uname -srm); $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)); $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM"
    echo "$(skopeo --version); podman $(podman version --format '{{.Client.Version}}'); $(gzip --version | head -1); $(tar --version | head -1)"
    echo "oci-compliance $("$BIN" --version | awk '{print $2}') at ${REV:0:12} (built from the committed tree, not the shared working tree)"
    echo "registry: docker-registry on $REG (htpasswd, plain HTTP), same machine; $RUNS alternating rounds after one warm-up, medians"
    echo "load average before: $LOAD_BEFORE (1, 5, 15 min; the machine is shared)"
    echo
    echo "a_s:  podman pull into an empty private store + scan --source storage --pull never (store removal not timed)"
    echo "b_s:  scan --source registry end to end (DOCKER_AUTH_CONFIG, COMPLIANCE_TLS_VERIFY=false, fresh TMPDIR)"
    echo "c_s:  floor: skopeo copy docker://… oci:DIR + gzip -dc BLOB | tar -t of every layer blob in parallel"
    echo "b/a, b/c: medians of per-round ratios (targets: b/a <= 0.3, b/c <= 1.0); rss: peak RSS of (b) from"
    echo "      /usr/bin/time -v, the largest single process of the run (the scanner or its skopeo), median and max (target < 200 MB)"
    echo
} | tee "$WORK/head"

printf '%-18s %10s %9s %9s %9s %7s %7s %8s %8s\n' image layers a_s b_s c_s b/a b/c rss_MiB max_MiB | tee "$WORK/table"
if [[ -z $ONLY ]]; then
    measure debian:1 "$REG/bench/debian:1"
    measure synth-500k:2 "$REG/bench/synth-500k:2"
fi

# --- batch of 20 ----------------------------------------------------------------------

one() { t0=$(now); run_registry "$REG/bench/debian:1" || return 1; echo "one $t0 $T1 $RSS_KB" >>"$WORK/round"; }
many() { t0=$(now); JOBS=$BATCH_JOBS run_registry "${BATCH[@]}" || return 1; echo "batch $t0 $T1 $RSS_KB" >>"$WORK/round"; }
# batch_round I: the single scan and the batch, in an order alternating with I.
batch_round() {
    : >"$WORK/round"
    if (($1 % 2 == 0)); then one && many; else many && one; fi
}
log "batch: warm-up"
round batch_round 0
: >"$WORK/batch"
for ((i = 0; i < RUNS; i++)); do
    log "batch: round $((i + 1))/$RUNS"
    round batch_round "$i"
    cat "$WORK/round" >>"$WORK/batch"
done
python3 - "$WORK/batch" "$BATCH_JOBS" <<'PY' | tee -a "$WORK/table"
import statistics, sys
t = {"one": [], "batch": []}
rss = {"one": [], "batch": []}
for line in open(sys.argv[1]):
    k, a, b, r = line.split()
    t[k].append(float(b) - float(a))
    rss[k].append(int(r))
one, batch = statistics.median(t["one"]), statistics.median(t["batch"])
ratio = statistics.median(y / x for x, y in zip(t["one"], t["batch"]))
print()
print(f"batch: 20 images on the bench-debian base (each + one tiny layer), one run, COMPLIANCE_JOBS={sys.argv[2]}: {batch:.3f} s"
      f" ({min(t['batch']):.3f}-{max(t['batch']):.3f}), peak RSS {statistics.median(rss['batch'])/1024:.1f} MiB")
print(f"       one registry scan of bench/debian:1: {one:.3f} s ({min(t['one']):.3f}-{max(t['one']):.3f});"
      f" batch/one {ratio:.2f}x (target <= 1.5)")
PY

# --- where the time goes ----------------------------------------------------------------

ensure_registry
{
    echo
    echo "phase times of one more registry scan each (OCI_COMPLIANCE_TIMINGS=1; seconds since the image's scan began):"
    if [[ -z $ONLY ]]; then
        echo "  debian:1      $(timings "$REG/bench/debian:1")"
        echo "  synth-500k:2  $(timings "$REG/bench/synth-500k:2")"
    fi
    echo "  batch of 20   $(JOBS=$BATCH_JOBS timings "${BATCH[@]}")"
    echo
    echo "rounds run again because the shared registry was stopped mid-round (others' teardown): $REDONE"
    echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$WORK/tail"

cat "$WORK/head" "$WORK/table" "$WORK/tail" >"$OUT"
log "written to $OUT"
