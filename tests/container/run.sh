#!/usr/bin/env bash
# The scanner image end to end (issues #5 and #12), on this machine, with no public registry:
#
# 1. a Debian 12 base image from the debootstrap root filesystem of tests/env (podman import);
# 2. the scanner image built from it by exactly the documented command, from the repo root:
#      podman build --format docker --network host -f container/Containerfile --build-arg BASE_IMAGE=<base> .
#    one layer, labels, no ENTRYPOINT, user 10001:10001, COMPLIANCE_SOURCE=registry;
# 3. the registry source, as the GitLab job runs it on any runner: --user 10001:10001,
#    --cap-drop=all, --security-opt no-new-privileges, no --privileged, variables only (the
#    job's own variables and script from ci-examples/.gitlab-ci.yml, under sh -c, in a
#    project directory), against the local registry that requires authentication: reports,
#    verdicts, findings and exit codes are asserted, and compared with a scan of the same
#    image by the binary on the host; the blob cache must be gone afterwards. Then the
#    example's batch (sharded) job, the same job under a Docker-like seccomp profile and as
#    an arbitrary uid with gid 0, and the Kubernetes example's pod (its securityContext,
#    read-only root filesystem, volumes) as podman options;
# 4. the storage source (.oci-compliance-storage: COMPLIANCE_SOURCE=storage, as root):
#    privileged (same findings as the registry scan, same entries per layer), then the final
#    merge job; unprivileged as root with podman's default profile (works, minus device
#    nodes), a Docker-like seccomp profile and no capabilities (refused with the image's
#    explanation and an operational exit code), and as the image's non-root user (refused:
#    podman must be root; the explanation points to the registry source);
# 5. the scanner image scans itself (exit 0: it passes every check); the console report goes
#    to container/self-scan.txt.
#
#   tests/container/run.sh          (as root; KEEP=1 keeps the work dir and test images)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

t_start=$(date +%s)
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
if ! podman build --format docker --network host -f container/Containerfile --build-arg BASE_IMAGE="$base" \
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
# The job user, by number (Kubernetes' runAsNonRoot can only verify a numeric USER).
user=$(podman image inspect --format '{{.Config.User}}' "$scanner")
check "the scanner image runs as 10001:10001, not root (got $user)" test "$user" = 10001:10001
uid=${user%%:*}
check "the scanner image reads from the registry by default (COMPLIANCE_SOURCE=registry)" \
    grep -qx COMPLIANCE_SOURCE=registry <<<"$(podman image inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$scanner")"

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
# clean: passes every check (a HEALTHCHECK needs the docker format, which can carry one).
printf 'hello\n' >"$work/clean/hello"
cat >"$work/clean/Containerfile" <<'EOF'
FROM scratch
COPY hello /hello
LABEL org.opencontainers.image.vendor=ctr-test
USER 1001:1001
HEALTHCHECK CMD ["/hello"]
CMD ["/hello"]
EOF
for pair in "$app:$work/app" "$clean:$work/clean"; do
    ref=${pair%:*}
    podman build --quiet --format docker -t "$ref" "${pair##*:}" >/dev/null
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

# The reference scan: the binary on the host, same credentials, straight from the registry.
mkdir -p "$work/host"
set +e
NO_COLOR=1 "$bin" scan --source registry --tls-verify false --reports-dir "$work/host" "$app" \
    >"$work/host.log" 2>&1
host_code=$?
set -e
check "host scan of the test image exits 12 (got $host_code)" test "$host_code" = 12
ci fingerprint "$work/host/$app_report" >"$work/host.fp"
host_entries=$(ci entries "$work/host/$app_report")

# --- helpers ----------------------------------------------------------------------------------
example=ci-examples/.gitlab-ci.yml
reports_rel=$(ci job-var "$example" .oci-compliance COMPLIANCE_REPORTS_DIR)
formats=$(ci job-var "$example" .oci-compliance COMPLIANCE_FORMATS)

# What the job container is, printed by the job itself before the example's script (GitLab
# also runs its own preamble first): user, group, effective capabilities.
whoami='echo "job user $(id -u):$(id -g), effective capabilities $(sed -n "s/^CapEff:[[:space:]]*//p" /proc/self/status)"'
no_caps="job user $user, effective capabilities 0000000000000000"

# job NAME EXAMPLE_JOB [podman run options...]: runs the scanner image like GitLab's Docker
# executor runs the example job EXAMPLE_JOB: its variables (extends resolved) and its script
# under sh -c, in the project directory /builds/project (cloned by the runner with umask
# 0000, so writable by any job user: mode 0777 here), CI_NODE_TOTAL=1 as GitLab sets it in
# every job without parallel:. Reports land in $work/NAME/project/reports. Later -e options
# win, so the caller's override the example's (its image references do not exist here).
job() {
    local name=$1 example_job=$2 code t0 v
    shift 2
    local project=$work/$name/project
    mkdir -p "$project"
    chmod 0777 "$project"
    local -a vars=()
    while IFS= read -r v; do
        [[ -n $v ]] && vars+=(-e "$v")
    done < <(ci job-vars "$example" "$example_job")
    local script
    script=$(ci job-script "$example" "$example_job")
    echo "$example_job" >"$work/$name/example-job"
    t0=$(date +%s)
    set +e
    timeout 900 podman run --rm --name "$run-$name" --network host "${vars[@]}" \
        -e COMPLIANCE_TLS_VERIFY=false -e NO_COLOR=1 -e CI=true -e GITLAB_CI=true \
        -e CI_NODE_TOTAL=1 -e CI_PROJECT_DIR=/builds/project \
        -v "$project:/builds/project" -w /builds/project "$@" "$scanner" \
        sh -c "$whoami
$script" >"$work/$name/log" 2>&1
    code=$?
    set -e
    echo "$code" >"$work/$name/code"
    echo "job $name ($example_job): exit $code in $(seconds_since "$t0") s"
}
code_of() { cat "$work/$1/code"; }
reports_of() { echo "$work/$1/project/$reports_rel"; }
log_has() { grep -qF -- "$2" "$work/$1/log" || { echo "  $1 log: $(tail -n 5 "$work/$1/log")" >&2; return 1; }; }
preflight_says() { # TEXT [podman run options]: the image's own diagnosis of a setup
    local text=$1 out
    shift
    out=$(podman run --rm --name "$run-preflight" --network host "$@" "$scanner" \
        oci-compliance-podman --preflight 2>&1 || true)
    grep -qF -- "$text" <<<"$out" || { echo "  preflight said: $out" >&2; return 1; }
}
no_password() { ! grep -qF -- "$OCIC_TEST_REGISTRY_PASSWORD" "$1"; }
# "settings.source image.source" of a report.
sources() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["settings"]["source"], r["image"]["source"])' "$1"; }
error_code() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["error"]["exit_code"])' "$1"; }
# Runs as the given code: 20-25 are the contract's operational failures.
operational() { (($1 >= 20 && $1 <= 25)); }

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
empty_dir() { [[ -z $(ls -A "$1") ]] || { echo "  left in $1: $(ls -A "$1" | head -5 | tr '\n' ' ')" >&2; return 1; }; }

# Docker's default seccomp profile refuses user namespaces (unshare, clone with namespace
# flags) to containers without CAP_SYS_ADMIN: that is GitLab's Docker executor without
# privileged = true, and close to Kubernetes' RuntimeDefault. Emulated from podman's profile
# with Docker's rules for those calls.
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
docker_like=(--security-opt seccomp="$work/docker-like-seccomp.json")
# The job container of a runner that allows nothing: the image's own user, every capability
# dropped, no privilege escalation, not privileged.
restricted=(--user "$user" --cap-drop=all --security-opt no-new-privileges)

# --- 3. the registry source: the GitLab job on any runner -------------------------------------
check "compliance:private-registry reads from the registry (COMPLIANCE_SOURCE)" test \
    "$(ci job-var "$example" compliance:private-registry COMPLIANCE_SOURCE)" = registry
# TMPDIR is a host directory here, to see what the scan leaves in it.
mkdir -p "$work/reg-tmp" && chmod 1777 "$work/reg-tmp"
job reg compliance:private-registry "${restricted[@]}" -v "$work/reg-tmp:/tmp" \
    -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app"
r=$(reports_of reg)
check "registry job exits 12, the policy code (got $(code_of reg))" test "$(code_of reg)" = 12
check "registry job: uid $uid, gid $uid, no capabilities" log_has reg "$no_caps"
check "registry job wrote the JSON report" test -s "$r/$app_report"
check "registry job: settings.source and image.source are registry" test "$(sources "$r/$app_report")" = "registry registry"
check "registry job verdicts" statuses_match "$r/$app_report" "$expected_app"
check "registry job findings equal the host scan's" same_as_host "$r/$app_report"
check "registry job entries per layer equal the host scan's ($host_entries)" test "$(ci entries "$r/$app_report")" = "$host_entries"
# Listed (it ships in layer 2's blob) but not a violation: layer 3 deleted it.
check "deleted setuid file: layer 2, not visible, not a violation" test \
    "$(ci finding "$r/$app_report" suid-files /opt/tool)" = "2 false false"
check "registry job report formats ($formats)" formats_ok "$r"
check "password not in the registry job log" no_password "$work/reg/log"
check "registry job: nothing left in TMPDIR (the blob cache is removed)" empty_dir "$work/reg-tmp"

# The sharded job's script over two images (one shard of one), credentials via CI_REGISTRY_*.
shard_script=$(ci job-script "$example" compliance:sharded)
images_file=$(sed -n 's/.*--images-file \([^ ]*\).*/\1/p' <<<"$shard_script")
mkdir -p "$work/batch/project/$(dirname "$images_file")"
printf '# test list\n%s\n\n%s\n' "$app" "$clean" >"$work/batch/project/$images_file"
job batch compliance:sharded "${restricted[@]}" -e CI_REGISTRY -e CI_REGISTRY_USER -e CI_REGISTRY_PASSWORD \
    -e CI_NODE_INDEX=1 -e CI_NODE_TOTAL=1
r=$(reports_of batch)
check "batch job exits 12, its worst image's code (got $(code_of batch))" test "$(code_of batch)" = 12
check "batch job verdicts, app" statuses_match "$r/$app_report" "$expected_app"
check "batch job: the clean image passes every check" test \
    "$(ci statuses "$r/$clean_report" | grep -vc ' pass$')" = 0
check "batch job summary.json: 2 images, exit codes 12 and 0" test \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["exit_code"], sorted(i["exit_code"] for i in d["images"]))' \
        "$r/summary.json")" = "12 [0, 12]"
check "batch job: one progress line per image" test "$(grep -c '^oci-compliance: \[[12]/2\]' "$work/batch/log")" = 2
check "password not in the batch job log" no_password "$work/batch/log"

# GitLab's Docker executor without privileged = true (Docker's seccomp profile): the
# registry source does not care.
job reg-docker-like compliance:private-registry "${restricted[@]}" "${docker_like[@]}" \
    -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app"
check "registry job, Docker-like seccomp: exits 12 (got $(code_of reg-docker-like))" test "$(code_of reg-docker-like)" = 12
check "registry job, Docker-like seccomp: findings equal the host scan's" \
    same_as_host "$(reports_of reg-docker-like)/$app_report"

# A runner that forces its own uid with group 0 (OpenShift's restricted SCC): a uid with no
# /etc/passwd entry; TMPDIR (/tmp, 1777) and the project directory are still writable.
job any-uid compliance:private-registry --user 1000680000:0 --cap-drop=all \
    --security-opt no-new-privileges -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app"
check "registry job as an arbitrary uid (1000680000:0): exits 12 (got $(code_of any-uid))" test "$(code_of any-uid)" = 12
check "registry job as an arbitrary uid: findings equal the host scan's" \
    same_as_host "$(reports_of any-uid)/$app_report"

# The Kubernetes example's pod, as podman options: its container command and env, the pod's
# and container's securityContext (runAsUser/runAsGroup, no capabilities, no privilege
# escalation, read-only root filesystem, RuntimeDefault seccomp ~ Docker's profile) and its
# volumes (the ConfigMap read-only, the reports volume group-owned by fsGroup as the kubelet
# makes it, an emptyDir at /tmp). The example's image list and shard count are replaced by
# the two test images in one shard.
k8s=ci-examples/k8s-indexed-job.yaml
declare -A sec=()
while IFS='=' read -r k v; do sec[$k]=$v; done < <(ci k8s "$k8s" security)
check "k8s example: runAsNonRoot, runAsUser:runAsGroup = the image's user" test \
    "${sec[runAsNonRoot]:-}/${sec[runAsUser]:-}:${sec[runAsGroup]:-}" = "true/$user"
check "k8s example: not privileged, no privilege escalation, drops ALL capabilities, read-only root" test \
    "${sec[privileged]:-false} ${sec[allowPrivilegeEscalation]:-} ${sec[capabilities.drop]:-} ${sec[readOnlyRootFilesystem]:-}" = \
    "false false ALL true"
check "k8s example: RuntimeDefault seccomp (the restricted Pod Security Standard)" test \
    "${sec[seccompProfile.type]:-}" = RuntimeDefault
kpod=$work/k8s
mkdir -p "$kpod"
printf '%s\n%s\n' "$app" "$clean" >"$kpod/images.txt"
kvols=()
while read -r path kind ro; do
    mkdir -p "$kpod/vol$path"
    case $kind in
        configMap) cp "$kpod/images.txt" "$kpod/vol$path/" ;;
        persistentVolumeClaim) chgrp "${sec[fsGroup]}" "$kpod/vol$path" && chmod 2775 "$kpod/vol$path" ;;
        emptyDir) chmod 0777 "$kpod/vol$path" ;;
    esac
    kvols+=(-v "$kpod/vol$path:$path${ro:+:ro}")
done < <(ci k8s "$k8s" mounts)
kenv=()
while IFS= read -r v; do kenv+=(-e "$v"); done < <(ci k8s "$k8s" env)
t0=$(date +%s)
set +e
timeout 900 podman run --rm --name "$run-k8s" --network host \
    --user "${sec[runAsUser]}:${sec[runAsGroup]}" --group-add "${sec[fsGroup]}" --cap-drop=all \
    --security-opt no-new-privileges --read-only --read-only-tmpfs=false "${docker_like[@]}" \
    "${kvols[@]}" "${kenv[@]}" -e CI_NODE_TOTAL=1 -e JOB_COMPLETION_INDEX=0 \
    -e DOCKER_AUTH_CONFIG -e COMPLIANCE_TLS_VERIFY=false \
    "$scanner" sh -c "$whoami
$(ci k8s "$k8s" command)" >"$kpod/log" 2>&1
k8s_code=$?
set -e
echo "k8s pod: exit $k8s_code in $(seconds_since "$t0") s"
kr=$kpod/vol/reports/shard-1
check "k8s pod (restricted, read-only root): exits 12 (got $k8s_code)" test "$k8s_code" = 12
check "k8s pod: reports of both images in /reports/shard-1" test -s "$kr/$app_report" -a -s "$kr/$clean_report" -a -s "$kr/summary.json"
check "k8s pod: app findings equal the host scan's" same_as_host "$kr/$app_report"
check "k8s pod: nothing left in the /tmp emptyDir" empty_dir "$kpod/vol/tmp"

# --- 4. the storage source: podman in the job container, as root ------------------------------
storage_user=$(ci job-key "$example" .oci-compliance-storage image.docker.user)
check ".oci-compliance-storage: COMPLIANCE_SOURCE=storage, run as root (image:docker:user 0)" test \
    "$(ci job-var "$example" .oci-compliance-storage COMPLIANCE_SOURCE) $storage_user" = "storage 0"

job priv .oci-compliance-storage --privileged --user "$storage_user" \
    -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app"
r=$(reports_of priv)
check "storage, privileged: exits 12, the policy code (got $(code_of priv))" test "$(code_of priv)" = 12
check "storage, privileged: job user root" log_has priv "job user 0:0,"
check "storage, privileged: wrote the JSON report" test -s "$r/$app_report"
check "storage, privileged: settings.source and image.source are storage" test "$(sources "$r/$app_report")" = "storage storage"
check "storage, privileged: verdicts" statuses_match "$r/$app_report" "$expected_app"
check "storage, privileged: findings equal the registry scan's" same_as_host "$r/$app_report"
priv_entries=$(ci entries "$r/$app_report")
check "storage, privileged: entries per layer equal the registry scan's ($priv_entries vs $host_entries)" \
    test "$priv_entries" = "$host_entries"
check "storage, privileged: deleted setuid file: layer 2, not visible, not a violation" test \
    "$(ci finding "$r/$app_report" suid-files /opt/tool)" = "2 false false"
check "storage, privileged: report formats ($formats)" formats_ok "$r"
check "password not in the storage job log" no_password "$work/priv/log"
check "preflight, privileged root: real root" preflight_says 'oci-compliance: privileged' --privileged --user 0

# The final job: `needs:` puts the scan jobs' reports/ in its workspace, then merge. It
# needs no privileges and no network, so it runs here as the image's user with nothing.
merge_script=$(ci job-script "$example" compliance:report)
merge_dir=$(ci job-var "$example" compliance:report COMPLIANCE_REPORTS_DIR)
mkdir -p "$work/merge/reports"
chmod 0777 "$work/merge"
# Both jobs reported the app image under the same file names; the later download wins.
cp "$(reports_of priv)"/* "$work/merge/reports/"
cp -f "$(reports_of batch)"/* "$work/merge/reports/"
set +e
timeout 300 podman run --rm --name "$run-merge" --network none "${restricted[@]}" -e NO_COLOR=1 \
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

# Without --privileged, as root, podman's own default profile (Docker's capability set, a
# seccomp profile that allows user namespaces): podman switches to a user namespace and the
# scan works; c/storage cannot create device nodes there, so the base layer's /dev nodes
# are missing from the walk.
job unpriv .oci-compliance-storage --user "$storage_user" -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app"
r=$(reports_of unpriv)
check "storage, unprivileged root (podman defaults): exits 12 (got $(code_of unpriv))" test "$(code_of unpriv)" = 12
check "storage, unprivileged root (podman defaults): findings equal the registry scan's" \
    same_as_host "$r/$app_report"
devices=$(find "$OCIC_TEST_ROOTFS" \( -type c -o -type b \) | wc -l)
priv_l1=$(awk '{print $1}' <<<"$priv_entries")
unpriv_l1=$(ci entries "$r/$app_report" | awk '{print $1}')
check "storage, unprivileged root: only the $devices device nodes of layer 1 are missing ($priv_l1 vs $unpriv_l1)" \
    test "$((priv_l1 - unpriv_l1))" = "$devices"
check "preflight, unprivileged root: user namespace mode, device nodes caveat" \
    preflight_says 'device nodes in image layers are not stored' --user 0

refusal="podman cannot pull images in this container"
job docker-like .oci-compliance-storage --user "$storage_user" "${docker_like[@]}" \
    -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app"
check "storage, Docker-like seccomp: exits 20 (got $(code_of docker-like))" test "$(code_of docker-like)" = 20
check "storage, Docker-like seccomp: the image's refusal is in the job log" log_has docker-like "$refusal"
check "storage, Docker-like seccomp: the reason" log_has docker-like 'may not create user namespaces'
check "storage, Docker-like seccomp: what the runner needs" log_has docker-like 'privileged = true'
check "storage, Docker-like seccomp: the report records the error" test \
    "$(error_code "$(reports_of docker-like)/$app_report")" = 20

job no-caps .oci-compliance-storage --user "$storage_user" --cap-drop=all \
    -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app"
check "storage, no capabilities: exits 20 (got $(code_of no-caps))" test "$(code_of no-caps)" = 20
check "storage, no capabilities: the image's refusal is in the job log" log_has no-caps "$refusal"
check "storage, no capabilities: names the missing ones" log_has no-caps 'lacks CAP_SETUID CAP_SETGID CAP_SETFCAP'

# The storage source as the image's own non-root user (a runner that ignores
# image:docker:user, or forces a uid): refused with the image's explanation, which points to
# the registry source.
job storage-non-root .oci-compliance-storage "${restricted[@]}" -e DOCKER_AUTH_CONFIG -e COMPLIANCE_IMAGE_FULL_REF="$app"
# 25, not 20: as non-root the scanner first re-executes itself in podman's user namespace.
check "storage, non-root user: exits with an operational code (got $(code_of storage-non-root))" \
    operational "$(code_of storage-non-root)"
check "storage, non-root user: says it must be root" log_has storage-non-root "runs as uid $uid, not root"
check "storage, non-root user: points to the registry source" log_has storage-non-root 'COMPLIANCE_SOURCE=registry'
check "preflight, the image's user: refused" preflight_says "runs as uid $uid, not root"

# --- 5. the scanner image scans itself -------------------------------------------------------
selfref=$reg/ctr-selfscan/oci-compliance:$version
podman tag "$scanner" "$selfref"
podman push --quiet --tls-verify=false --creds "$creds" "$selfref"
podman rmi "$selfref" >/dev/null
mkdir -p "$work/self"
set +e
NO_COLOR=1 "$bin" scan --source registry --tls-verify false --reports-dir "$work/self" "$selfref" \
    >"$work/self.out" 2>"$work/self.err"
self_code=$?
set -e
{
    echo "# oci-compliance $version scanning its own image, as pushed to a registry:"
    echo "#   oci-compliance scan --source registry $selfref    (exit code $self_code)"
    echo "# base: Debian 12 (debootstrap minbase, as BASE_IMAGE); $((size / 1000000)) MB, $layers layer; user $user"
    echo
    cat "$work/self.out"
} >container/self-scan.txt
check "self-scan exits 0 (got $self_code)" test "$self_code" = 0
check "self-scan: every check passes" test \
    "$(ci statuses "$work/self/$(report_name "$selfref")" | grep -v ' pass$' | tr '\n' ' ')" = ""
# And from inside, as a job would scan it: the image's own user, nothing else.
mkdir -p "$work/self-job/reports" && chmod 0777 "$work/self-job/reports"
set +e
podman run --rm --name "$run-self" --network host "${restricted[@]}" -e DOCKER_AUTH_CONFIG \
    -e COMPLIANCE_IMAGE_FULL_REF="$selfref" -e COMPLIANCE_TLS_VERIFY=false \
    -e COMPLIANCE_REPORTS_DIR=/reports -v "$work/self-job/reports:/reports" "$scanner" \
    >"$work/self-job/log" 2>&1
self_job_code=$?
set -e
check "the scanner image scans itself in a job, by its CMD alone: exit 0 (got $self_job_code)" test "$self_job_code" = 0

echo
total_s=$(seconds_since "$t_start")
if ((failures)); then
    echo "tests/container/run.sh: $failures assertion(s) failed in ${total_s} s; logs in $work" >&2
    KEEP=1
    exit 1
fi
echo "tests/container/run.sh: all assertions passed in ${total_s} s (build ${build_s} s, image $((size / 1000000)) MB)"
