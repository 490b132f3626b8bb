#!/usr/bin/env bash
# `parallel: N` sharding covers every image exactly once, with the real binary:
#
# - for many list sizes and N, the N shares printed by
#     CI_NODE_INDEX=i CI_NODE_TOTAL=N oci-compliance scan --images-file F --list-images
#   are disjoint and their union is the list (comments, blank lines, digests, ports included);
# - a share may be empty (N larger than the list) and then exits 0; a bad index exits 24;
# - a GitLab job without `parallel:` (CI_NODE_TOTAL=1, no CI_NODE_INDEX) scans the whole list;
# - the examples as written: the GitLab job `compliance:sharded` (its script and its
#   `parallel:`) over ci-examples/images.txt, and the Kubernetes Indexed Job (its shell
#   command, env and `completions`, JOB_COMPLETION_INDEX 0..completions-1) over its ConfigMap.
#
# Needs no podman and no registry: --list-images stops before any podman call.
#
#   tests/container/sharding.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

if ! python3 -c 'import yaml' 2>/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-yaml
fi
cargo build --locked --release --quiet
bin=$root/target/release/oci-compliance

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failures=0
cases=0
bad() { printf 'FAIL %s\n' "$*" >&2; failures=$((failures + 1)); }

# A list of N distinct references of every shape the tool accepts, with the noise a real
# file has (comments, blank lines, blanks, CRLF); the references alone go to FILE.refs.
make_list() { # SIZE FILE
    local n=$1 f=$2 i ref
    : >"$f"
    : >"$f.refs"
    echo "# generated list of $n images" >>"$f"
    for ((i = 1; i <= n; i++)); do
        case $((i % 5)) in
            0) ref="registry.example.com:5000/team-$((i % 7))/svc-$i:1.$i" ;;
            1) ref="docker.io/library/img-$i:$i.0" ;;
            2) ref="registry.example.com/ns/app-$i@sha256:$(printf '%064x' "$i")" ;;
            3) ref="quay.example.org/x/y/z-$i:v$i" ;;
            4) ref="localhost/local-$i:2024-$i" ;;
        esac
        echo "$ref" >>"$f.refs"
        if ((i % 4 == 0)); then echo >>"$f"; fi
        if ((i % 6 == 0)); then echo "# comment before $i" >>"$f"; fi
        case $((i % 7)) in
            1) printf '  %s\t\n' "$ref" >>"$f" ;;     # indentation, trailing blanks
            2) printf '%s\r\n' "$ref" >>"$f" ;;       # a file edited on Windows
            3) printf '%s # owner: team %s\n' "$ref" "$i" >>"$f" ;;
            *) echo "$ref" >>"$f" ;;
        esac
    done
}

# Runs every share 1..N and checks they partition the list. SHARE_CMD is a function that
# prints share i of N.
check_partition() { # LABEL REFS_FILE N SHARE_CMD
    local label=$1 refs=$2 n=$3 cmd=$4 i code
    : >"$work/union"
    for ((i = 1; i <= n; i++)); do
        set +e
        "$cmd" "$i" "$n" >"$work/share" 2>"$work/share.err"
        code=$?
        set -e
        if ((code != 0)); then
            bad "$label: share $i/$n exited $code: $(cat "$work/share.err")"
            return
        fi
        cat "$work/share" >>"$work/union"
    done
    cases=$((cases + 1))
    local dups
    dups=$(sort "$work/union" | uniq -d)
    [[ -z $dups ]] || bad "$label: scanned twice: $(head -3 <<<"$dups" | tr '\n' ' ')"
    diff <(sort "$refs") <(sort -u "$work/union") >"$work/diff" ||
        bad "$label: shares do not cover the list: $(grep -c '^<' "$work/diff") missing, $(grep -c '^>' "$work/diff") extra"
}

list_share() { CI_NODE_INDEX=$1 CI_NODE_TOTAL=$2 "$bin" scan --images-file "$work/list" --list-images; }

for size in 0 1 2 3 5 8 13 50 101 257; do
    make_list "$size" "$work/list"
    for n in 1 2 3 4 5 7 10 16 50; do
        # An empty list is "no image given" (22), not a sharding case. N=50 only where it
        # matters: with small lists, N=16 already leaves most shares empty.
        if ((size == 0 || (n == 50 && size < 13))); then continue; fi
        check_partition "size $size, N=$n" "$work/list.refs" "$n" list_share
    done
done

# GitLab sets CI_NODE_TOTAL=1, and no CI_NODE_INDEX, in every job without `parallel:`: such a
# job scanning an images file must scan the whole list.
make_list 5 "$work/list"
set +e
out=$(env -u CI_NODE_INDEX CI_NODE_TOTAL=1 "$bin" scan --images-file "$work/list" --list-images 2>&1)
code=$?
set -e
if ((code != 0)) || ! diff -q <(sort "$work/list.refs") <(sort <<<"$out") >/dev/null; then
    bad "a job without parallel: (CI_NODE_TOTAL=1, CI_NODE_INDEX unset) should list all 5 images (got $code: $out)"
fi
cases=$((cases + 1))

# Edges: an empty share succeeds; a bad index is a configuration error.
make_list 2 "$work/list"
set +e
out=$(CI_NODE_INDEX=5 CI_NODE_TOTAL=5 "$bin" scan --images-file "$work/list" --list-images 2>&1)
code=$?
set -e
if ((code != 0)) || grep -v '^oci-compliance:' <<<"$out" | grep -q .; then
    bad "an empty share should list nothing and exit 0 (got $code: $out)"
fi
for idx in 0 6 -1 x; do
    set +e
    CI_NODE_INDEX=$idx CI_NODE_TOTAL=5 "$bin" scan --images-file "$work/list" --list-images >/dev/null 2>&1
    code=$?
    set -e
    [[ $code == 24 ]] || bad "CI_NODE_INDEX=$idx of 5 should exit 24 (got $code)"
done
cases=$((cases + 1))

# --- the GitLab example, as written ---------------------------------------------------------
# `oci-compliance` on PATH is a shim that adds --list-images to whatever the job runs.
mkdir -p "$work/shim"
cat >"$work/shim/oci-compliance" <<EOF
#!/bin/sh
exec "$bin" "\$@" --list-images
EOF
chmod +x "$work/shim/oci-compliance"

example=ci-examples/.gitlab-ci.yml
gl_script=$(python3 tests/container/ci.py job-script "$example" compliance:sharded)
gl_n=$(python3 tests/container/ci.py job-parallel "$example" compliance:sharded)
gl_file=$(sed -n 's/.*--images-file \([^ ]*\).*/\1/p' <<<"$gl_script")
[[ -n $gl_file && -f $gl_file ]] || bad "compliance:sharded must scan --images-file FILE, a file of the repository"
sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$gl_file" >"$work/gl.refs"
gitlab_share() { # runs the job's own script from the repository root, as GitLab does
    CI_NODE_INDEX=$1 CI_NODE_TOTAL=$2 PATH="$work/shim:$PATH" sh -ec "$gl_script"
}
check_partition "GitLab compliance:sharded (parallel: $gl_n, $gl_file)" "$work/gl.refs" "$gl_n" gitlab_share

# --- the Kubernetes example, as written ------------------------------------------------------
k8s=ci-examples/k8s-indexed-job.yaml
[[ $(python3 tests/container/ci.py k8s "$k8s" mode) == Indexed ]] || bad "$k8s: completionMode must be Indexed"
k_n=$(python3 tests/container/ci.py k8s "$k8s" completions)
k_cmd=$(python3 tests/container/ci.py k8s "$k8s" command)
python3 tests/container/ci.py k8s "$k8s" images >"$work/k8s-images.txt"
sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$work/k8s-images.txt" >"$work/k8s.refs"
mapfile -t k_env < <(python3 tests/container/ci.py k8s "$k8s" env)
[[ " ${k_env[*]} " == *" CI_NODE_TOTAL=$k_n "* ]] || bad "$k8s: CI_NODE_TOTAL must equal completions ($k_n)"
k8s_share() { # share i (1-based here) is pod JOB_COMPLETION_INDEX=i-1; paths moved into $work
    env -i PATH="$work/shim:$PATH" "${k_env[@]}" JOB_COMPLETION_INDEX=$(($1 - 1)) \
        COMPLIANCE_IMAGES_FILE="$work/k8s-images.txt" REPORTS_ROOT="$work/k8s-reports" \
        sh -c "$k_cmd"
}
check_partition "Kubernetes Indexed Job (completions: $k_n)" "$work/k8s.refs" "$k_n" k8s_share

if ((failures)); then
    echo "tests/container/sharding.sh: $failures failure(s) in $cases cases" >&2
    exit 1
fi
echo "tests/container/sharding.sh: $cases cases, every image in exactly one share"
