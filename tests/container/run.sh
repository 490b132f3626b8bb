#!/usr/bin/env bash
# The scanner image end to end (issue #5), on this machine, with no public registry:
#
# 1. a Debian 12 base image from the debootstrap root filesystem of tests/env (podman import);
# 2. the scanner image built from it by exactly the documented command, from the repo root:
#      podman build --network host -f container/Containerfile --build-arg BASE_IMAGE=<base> .
# 3. the image run as the GitLab job runs it (podman run --privileged, variables only, the
#    job script of ci-examples/.gitlab-ci.yml under sh -c) against the local registry that
#    requires authentication: reports, verdicts, findings and exit codes are asserted, and
#    compared with a scan of the same image by the binary on the host; then the example's
#    batch (sharded) job and its final merge job;
# 4. the same without --privileged: podman's default profile (works, minus device nodes),
#    a Docker-like seccomp profile, no capabilities, a non-root user (all refused with the
#    image's explanation and an operational exit code);
# 5. the scanner image scans itself; the console report goes to container/self-scan.txt.
#
#   tests/container/run.sh          (as root; KEEP=1 keeps the work dir and test images)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

bash tests/env/setup.sh
# shellcheck disable=SC1091
source "${OCIC_TEST_STATE:-/var/tmp/oci-compliance-test}/env"

# The CI examples are YAML; parse them for real rather than with grep.
if ! python3 -c 'import yaml' 2>/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-yaml
fi
ci() { python3 "$root/tests/container/ci.py" "$@"; }

failures=0
ok() { printf 'ok   %s\n' "$*"; }
bad() { printf 'FAIL %s\n' "$*" >&2; failures=$((failures + 1)); }
check() { # DESCRIPTION COMMAND... : records a failure instead of stopping, to report them all
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}
seconds_since() { echo "$(($(date +%s) - $1))"; }

# Everything this run creates is named ctr-<pid>, so parallel runs and other tests on the
# shared store never collide, and cleanup removes exactly what we made.
run=ctr-$$
reg=$OCIC_TEST_REGISTRY
base=localhost/ctr-debian-base:12
scanner=localhost/ctr-oci-compliance:test
app=$reg/$run/app:1.0
clean=$reg/$run/clean:1.0
work=$(mktemp -d /var/tmp/ctr-container-test.XXXXXX)
chmod 0755 "$work"
creds="$OCIC_TEST_REGISTRY_USER:$OCIC_TEST_REGISTRY_PASSWORD"
selfref=

cleanup() {
    local c
    for c in $(podman ps -a --filter "name=^$run-" --format '{{.Names}}' 2>/dev/null); do
        podman rm -f -t 0 "$c" >/dev/null 2>&1 || true
    done
    if [[ ${KEEP:-0} != 1 ]]; then
        podman rmi -f "$app" "$clean" "${selfref:-}" >/dev/null 2>&1 || true
        rm -rf "$work"
    else
        echo "kept: $work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cargo build --locked --release --quiet
bin=$root/target/release/oci-compliance
version=$("$bin" --version | awk '{print $2}')

# --- 1. the base image ---------------------------------------------------------------------
# Re-importing would give a new image ID each run and defeat podman build's layer cache,
# so the base is imported once (CTR_REBUILD_BASE=1 forces it).
if [[ ${CTR_REBUILD_BASE:-0} == 1 ]] || ! podman image exists "$base"; then
    t0=$(date +%s)
    tar --numeric-owner --xattrs --xattrs-include='*' -C "$OCIC_TEST_ROOTFS" -c . |
        podman import --quiet - "$base" >/dev/null
    echo "imported $base from $OCIC_TEST_ROOTFS in $(seconds_since "$t0") s"
fi

# --- 2. the scanner image, by exactly the documented command --------------------------------
old_id=$(podman image inspect --format '{{.Id}}' "$scanner" 2>/dev/null || true)
t0=$(date +%s)
if ! podman build --network host -f container/Containerfile --build-arg BASE_IMAGE="$base" \
    -t "$scanner" . >"$work/build.log" 2>&1; then
    tail -n 30 "$work/build.log" >&2
    echo "podman build failed (log above)" >&2
    exit 1
fi
build_s=$(seconds_since "$t0")
new_id=$(podman image inspect --format '{{.Id}}' "$scanner")
# The previous build's image is now untagged; remove it so reruns do not pile up 150 MB each.
if [[ -n $old_id && $old_id != "$new_id" ]]; then
    podman rmi "$old_id" >/dev/null 2>&1 || true
fi
size=$(podman image inspect --format '{{.Size}}' "$scanner")
layers=$(podman image inspect --format '{{len .RootFS.Layers}}' "$scanner")
echo "built $scanner in ${build_s} s: $((size / 1000000)) MB, $layers layer(s)"
check "the scanner image is one layer" test "$layers" = 1
# The Containerfile's VERSION default must follow Cargo.toml's version.
check "the version label is the binary's version ($version)" test \
    "$(podman image inspect --format '{{index .Config.Labels "org.opencontainers.image.version"}}' "$scanner")" = "$version"
check "the scanner image has no ENTRYPOINT and CMD oci-compliance scan" test \
    "$(podman image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$scanner")" = \
    'null ["oci-compliance","scan"]'

# --- test images in the authenticated registry ---------------------------------------------
# app: Debian with a setuid file added in layer 2 and deleted in layer 3 (a finding that is
# shipped but not visible), an opaque directory, ssh's port, a non-root user.
mkdir -p "$work/app" "$work/clean"
cat >"$work/app/Containerfile" <<EOF
FROM $base
RUN printf x >/opt/tool && chmod 4755 /opt/tool && mkdir -p /srv/data && touch /srv/data/old
RUN rm /opt/tool && rm -rf /srv/data && mkdir /srv/data && touch /srv/data/new
LABEL org.opencontainers.image.vendor=ctr-test org.opencontainers.image.version=1.0
EXPOSE 22/tcp 8080/tcp
USER 1001:1001
CMD ["/bin/sh"]
EOF
# clean: passes every check.
printf 'hello\n' >"$work/clean/hello"
cat >"$work/clean/Containerfile" <<'EOF'
FROM scratch
COPY hello /hello
LABEL org.opencontainers.image.vendor=ctr-test
USER 1001:1001
CMD ["/hello"]
EOF
for pair in "$app:$work/app" "$clean:$work/clean"; do
    ref=${pair%:*}
    podman build --quiet -t "$ref" "${pair##*:}" >/dev/null
    podman push --quiet --tls-verify=false --creds "$creds" "$ref"
    podman rmi "$ref" >/dev/null
done

# Credentials exactly as a GitLab user gives them. Passed to podman run by name (-e VAR),
# so they never appear in an argument vector.
auth=$(printf '%s' "$creds" | base64 -w0)
export DOCKER_AUTH_CONFIG="{\"auths\":{\"$reg\":{\"auth\":\"$auth\"}}}"
export CI_REGISTRY=$reg CI_REGISTRY_USER=$OCIC_TEST_REGISTRY_USER
export CI_REGISTRY_PASSWORD=$OCIC_TEST_REGISTRY_PASSWORD

# The reference of a report file: every character other than A-Za-z0-9.- becomes _.
report_name() { printf '%s.json' "$(printf '%s' "$1" | sed 's/[^A-Za-z0-9.-]/_/g')"; }
app_report=$(report_name "$app")
clean_report=$(report_name "$clean")

# The reference scan: the binary on the host, same credentials, the host's kernel overlay.
mkdir -p "$work/host"
set +e
NO_COLOR=1 "$bin" scan --pull always --tls-verify false --reports-dir "$work/host" "$app" \
    >"$work/host.log" 2>&1
host_code=$?
set -e
check "host scan of the test image exits 12 (got $host_code)" test "$host_code" = 12
ci fingerprint "$work/host/$app_report" >"$work/host.fp"

# --- 3. the GitLab job, privileged ---------------------------------------------------------
example=ci-examples/.gitlab-ci.yml
one_script=$(ci job-script "$example" compliance:private-registry)
formats=$(ci job-var "$example" compliance:private-registry COMPLIANCE_FORMATS)
echo "job script of compliance:private-registry: $one_script"

# job NAME SCRIPT [podman run options...]: runs the scanner image like the GitLab runner
# does (the job script under sh -c, configuration by variables, CI_NODE_TOTAL=1 as GitLab
# sets it in every job without parallel:), reports in a host dir. Later -e options win.
job() {
    local name=$1 script=$2 code
    shift 2
    mkdir -p "$work/$name/reports"
    local t0
    t0=$(date +%s)
    set +e
    timeout 900 podman run --rm --name "$run-$name" --network host \
        -e COMPLIANCE_TLS_VERIFY=false -e COMPLIANCE_REPORTS_DIR=/builds/reports \
        -e COMPLIANCE_FORMATS="$formats" -e NO_COLOR=1 -e CI=true -e GITLAB_CI=true \
        -e CI_NODE_TOTAL=1 \
        -v "$work/$name/reports:/builds/reports" "$@" "$scanner" sh -c "$script" \
        >"$work/$name/log" 2>&1
    code=$?
    set -e
    echo "$code" >"$work/$name/code"
    echo "job $name: exit $code in $(seconds_since "$t0") s"
}
code_of() { cat "$work/$1/code"; }
log_has() { grep -qF -- "$2" "$work/$1/log"; }
preflight_says() { # TEXT [podman run options]: the image's own diagnosis of a setup
    local text=$1 out
    shift
    out=$(podman run --rm --name "$run-preflight" --network host "$@" "$scanner" \
        oci-compliance-podman --preflight 2>&1 || true)
    grep -qF -- "$text" <<<"$out" || { echo "  preflight said: $out" >&2; return 1; }
}
no_password() { ! grep -qF -- "$OCIC_TEST_REGISTRY_PASSWORD" "$1"; }

expected_app="latest-tag pass
admin-ports-exposed fail
root-user pass
root-group pass
labels-missing pass
too-many-layers fail
startup-command-missing pass
suid-files fail
sgid-files fail
privilege-tools fail
remote-access-tools pass
compilers pass
base-os pass"
# Every expected id with its status (checks added later do not break this).
statuses_match() { # REPORT EXPECTED
    local got
    got=$(ci statuses "$1") || return 1
    while read -r id st; do
        grep -qx "$id $st" <<<"$got" || { echo "  $id: expected $st, got: $(grep "^$id " <<<"$got")" >&2; return 1; }
    done <<<"$2"
}
same_as_host() { ci fingerprint "$1" | diff -u "$work/host.fp" - >&2; }
# JUnit and HTML exist once the formats feature is in the binary; until then only JSON.
formats_ok() {
    local dir=$1
    if "$bin" scan --help | grep -q -- '--format'; then
        compgen -G "$dir/*.xml" >/dev/null && compgen -G "$dir/*.html" >/dev/null || return 1
        local x
        for x in "$dir"/*.xml; do
            python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$x" || return 1
        done
    fi
    return 0
}

job priv "$one_script" --privileged -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app"
check "privileged job exits 12, the policy code (got $(code_of priv))" test "$(code_of priv)" = 12
check "privileged job wrote the JSON report" test -s "$work/priv/reports/$app_report"
check "privileged job verdicts" statuses_match "$work/priv/reports/$app_report" "$expected_app"
check "privileged job findings equal the host scan's" same_as_host "$work/priv/reports/$app_report"
# Listed (it ships in layer 2's blob) but not a violation: layer 3 deleted it.
check "deleted setuid file: layer 2, not visible, not a violation" test \
    "$(ci finding "$work/priv/reports/$app_report" suid-files /opt/tool)" = "2 false false"
check "privileged job report formats ($formats)" formats_ok "$work/priv/reports"
check "password not in the job log" no_password "$work/priv/log"
check "preflight, privileged: real root" preflight_says 'oci-compliance: privileged' --privileged

# The sharded job's script over two images (one shard of one), credentials via CI_REGISTRY_*.
shard_script=$(ci job-script "$example" compliance:sharded)
images_file=$(sed -n 's/.*--images-file \([^ ]*\).*/\1/p' <<<"$shard_script")
mkdir -p "$work/project/$(dirname "$images_file")"
printf '# test list\n%s\n\n%s\n' "$app" "$clean" >"$work/project/$images_file"
job batch "$shard_script" --privileged -e CI_REGISTRY -e CI_REGISTRY_USER -e CI_REGISTRY_PASSWORD \
    -e CI_NODE_INDEX=1 -e CI_NODE_TOTAL=1 -v "$work/project:/builds/project:ro" -w /builds/project
check "batch job exits 12, its worst image's code (got $(code_of batch))" test "$(code_of batch)" = 12
check "batch job verdicts, app" statuses_match "$work/batch/reports/$app_report" "$expected_app"
check "batch job: the clean image passes every check" test \
    "$(ci statuses "$work/batch/reports/$clean_report" | grep -vc ' pass$')" = 0
check "batch job summary.json: 2 images, exit codes 12 and 0" test \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["exit_code"], sorted(i["exit_code"] for i in d["images"]))' \
        "$work/batch/reports/summary.json")" = "12 [0, 12]"
check "batch job: one progress line per image" test "$(grep -c '^oci-compliance: \[[12]/2\]' "$work/batch/log")" = 2

# The final job: `needs:` puts the scan jobs' reports/ in its workspace, then merge. It
# needs no privileges (no podman), so it runs here as an unprivileged container.
merge_script=$(ci job-script "$example" compliance:report)
merge_dir=$(ci job-var "$example" compliance:report COMPLIANCE_REPORTS_DIR)
mkdir -p "$work/merge/reports"
# Both jobs reported the app image under the same file names; the later download wins.
cp "$work"/priv/reports/* "$work/merge/reports/"
cp -f "$work"/batch/reports/* "$work/merge/reports/"
set +e
timeout 300 podman run --rm --name "$run-merge" --network none -e NO_COLOR=1 \
    -e COMPLIANCE_REPORTS_DIR="$merge_dir" -v "$work/merge:/builds/project" -w /builds/project \
    "$scanner" sh -c "$merge_script" >"$work/merge/log" 2>&1
merge_code=$?
set -e
echo "job merge: exit $merge_code ($merge_script)"
check "merge job exits 12, the worst image's code (got $merge_code)" test "$merge_code" = 12
for f in merged.json merged.html merged.md merged.junit.xml; do
    check "merge job wrote $merge_dir/$f" test -s "$work/merge/$merge_dir/$f"
done
check "merge job: merged.junit.xml parses" \
    python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$work/merge/$merge_dir/merged.junit.xml"

# --- 4. without --privileged ----------------------------------------------------------------
# podman's own default profile (Docker's capability set, a seccomp profile that allows user
# namespaces): podman switches to a user namespace and the scan works; c/storage cannot
# create device nodes there, so the base layer's /dev nodes are missing from the walk.
job unpriv "$one_script" -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app"
check "unprivileged (podman defaults) exits 12 (got $(code_of unpriv))" test "$(code_of unpriv)" = 12
check "unprivileged (podman defaults) findings equal the host scan's" \
    same_as_host "$work/unpriv/reports/$app_report"
devices=$(find "$OCIC_TEST_ROOTFS" \( -type c -o -type b \) | wc -l)
host_l1=$(ci entries "$work/host/$app_report" | awk '{print $1}')
unpriv_l1=$(ci entries "$work/unpriv/reports/$app_report" | awk '{print $1}')
check "unprivileged: only the $devices device nodes of layer 1 are missing ($host_l1 vs $unpriv_l1)" \
    test "$((host_l1 - unpriv_l1))" = "$devices"
check "preflight, unprivileged: user namespace mode, device nodes caveat" \
    preflight_says 'device nodes in image layers are not stored' 

# Docker's default seccomp profile refuses user namespaces (unshare, clone with namespace
# flags) to containers without CAP_SYS_ADMIN: that is GitLab's Docker executor without
# privileged = true. Emulated from podman's profile with Docker's rules for those calls.
python3 - /usr/share/containers/seccomp.json "$work/docker-like-seccomp.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
ns = {"unshare", "clone", "clone3", "setns", "mount", "umount2"}
for s in p["syscalls"]:
    if s["action"] == "SCMP_ACT_ALLOW" and not s.get("includes") and not s.get("args"):
        s["names"] = [n for n in s["names"] if n not in ns]
p["syscalls"] += [
    # clone without CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (Docker's mask)
    {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
     "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
    {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
    {"names": ["unshare", "setns", "mount", "umount2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
]
json.dump(p, open(sys.argv[2], "w"))
PY
refusal="podman cannot pull images in this container"
job docker-like "$one_script" -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app" \
    --security-opt seccomp="$work/docker-like-seccomp.json"
check "Docker-like seccomp exits 20 (got $(code_of docker-like))" test "$(code_of docker-like)" = 20
check "Docker-like seccomp: the image's refusal is in the job log" log_has docker-like "$refusal"
check "Docker-like seccomp: the reason" log_has docker-like 'may not create user namespaces'
check "Docker-like seccomp: what the runner needs" log_has docker-like 'privileged = true' 
check "Docker-like seccomp: the report records the error" test \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["exit_code"])' \
        "$work/docker-like/reports/$app_report")" = 20

job no-caps "$one_script" -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app" --cap-drop=all
check "no capabilities exits 20 (got $(code_of no-caps))" test "$(code_of no-caps)" = 20
check "no capabilities: the image's refusal is in the job log" log_has no-caps "$refusal"
check "no capabilities: names the missing ones" log_has no-caps 'lacks CAP_SETUID CAP_SETGID CAP_SETFCAP' 

# A non-root job user (a runner that forces a uid, OpenShift's restricted SCC, ...). The
# reports dir is made writable so that the podman refusal, not exit 23, is what is tested.
mkdir -p "$work/non-root/reports" && chmod 0777 "$work/non-root/reports"
job non-root "$one_script" -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app" --user 1000:1000
# 25, not 20: as non-root the scanner first re-executes itself in podman's user namespace.
operational() { (($1 >= 20 && $1 <= 25)); }
check "non-root user exits with an operational code (got $(code_of non-root))" operational "$(code_of non-root)"
check "non-root user: says it must be root" log_has non-root 'runs as uid 1000, not root' 

# --- 5. the scanner image scans itself -------------------------------------------------------
selfref=$reg/ctr-selfscan/oci-compliance:$version
podman tag "$scanner" "$selfref"
podman push --quiet --tls-verify=false --creds "$creds" "$selfref"
podman rmi "$selfref" >/dev/null
mkdir -p "$work/self"
set +e
NO_COLOR=1 "$bin" scan --pull always --tls-verify false --reports-dir "$work/self" "$selfref" \
    >"$work/self.out" 2>"$work/self.err"
self_code=$?
set -e
{
    echo "# oci-compliance $version scanning its own image, as pushed to a registry:"
    echo "#   oci-compliance scan $selfref    (exit code $self_code)"
    echo "# base: Debian 12 (debootstrap minbase, as BASE_IMAGE); $((size / 1000000)) MB, $layers layer"
    echo
    cat "$work/self.out"
} >container/self-scan.txt
check "self-scan exits 12 (got $self_code)" test "$self_code" = 12
check "self-scan: only root-user and root-group fail" test \
    "$(ci statuses "$work/self/$(report_name "$selfref")" | grep -v ' pass$' | tr '\n' ' ')" = \
    "root-user fail root-group fail "

echo
if ((failures)); then
    echo "tests/container/run.sh: $failures assertion(s) failed; logs in $work" >&2
    KEEP=1
    exit 1
fi
echo "tests/container/run.sh: all assertions passed (build ${build_s} s, image $((size / 1000000)) MB)"
