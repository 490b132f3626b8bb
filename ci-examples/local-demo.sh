#!/usr/bin/env bash
# The main job, end to end on this machine: what the GitLab job does, against a local
# registry that requires authentication.
#
# 1. sets up podman, a local htpasswd-protected registry on 127.0.0.1 and a Debian root
#    filesystem (tests/env/setup.sh; no public registry is needed);
# 2. builds a realistic multi-layer Debian image with buildah and pushes it;
# 3. removes it from local storage and scans it exactly as the CI job would: credentials only
#    through DOCKER_AUTH_CONFIG, reports into ./reports.
#
# Exits with the scan's exit code (12 = a Critical check failed, which this Debian image
# does: it ships setuid binaries and su). The HTML report is the one for the committee.
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/env/setup.sh
# shellcheck disable=SC1091
source "${OCIC_TEST_STATE:-/var/tmp/oci-compliance-test}/env"
cargo build --locked --release --quiet
bin=$PWD/target/release/oci-compliance

image=$OCIC_TEST_REGISTRY/demo/debian-app:1.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A Debian base layer, then the application's layers on top.
ctr=$(buildah from scratch)
buildah copy --quiet "$ctr" "$OCIC_TEST_ROOTFS" / >/dev/null
buildah config --created-by "ADD debian-bookworm-minbase /" "$ctr"
buildah commit --quiet "$ctr" localhost/demo/base:1 >/dev/null
buildah rm "$ctr" >/dev/null

ctr=$(buildah from localhost/demo/base:1)
mkdir -p "$work/app"
printf '#!/bin/sh\necho hello\n' >"$work/app/server"
chmod 0755 "$work/app/server"
buildah copy --quiet "$ctr" "$work/app" /app >/dev/null
buildah config --created-by "COPY app /app" \
    --user 1001:1001 --entrypoint '["/app/server"]' --port 8080 \
    --label org.opencontainers.image.vendor=Demo --label org.opencontainers.image.version=1.0 "$ctr"
buildah commit --quiet "$ctr" "$image" >/dev/null
buildah rm "$ctr" >/dev/null

podman push --quiet --tls-verify=false \
    --creds "$OCIC_TEST_REGISTRY_USER:$OCIC_TEST_REGISTRY_PASSWORD" "$image"
podman rmi --force "$image" localhost/demo/base:1 >/dev/null

# The job's environment: only variables, as in GitLab CI.
auth=$(printf '%s' "$OCIC_TEST_REGISTRY_USER:$OCIC_TEST_REGISTRY_PASSWORD" | base64 -w0)
export DOCKER_AUTH_CONFIG="{\"auths\":{\"$OCIC_TEST_REGISTRY\":{\"auth\":\"$auth\"}}}"
export COMPLIANCE_IMAGE_FULL_REF=$image
export COMPLIANCE_TLS_VERIFY=false
export COMPLIANCE_REPORTS_DIR=$PWD/reports
export COMPLIANCE_FORMATS=html,markdown,junit,codequality,sarif

set +e
"$bin" scan
code=$?
set -e
echo
echo "exit code: $code; reports:"
ls -l "$COMPLIANCE_REPORTS_DIR"
exit "$code"
