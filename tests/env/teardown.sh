#!/usr/bin/env bash
# Undoes what setup.sh left running: the registry process and any mounts under
# the test state (a failed podman call on fresh storage leaves
# <graphroot>/overlay bind-mounted; leftover containers keep layer mounts).
#
#   tests/env/teardown.sh               stop + unmount, keep all data
#   tests/env/teardown.sh --purge       also delete images, registry data and
#                                       configs (keeps the rootfs cache, which
#                                       costs minutes of debootstrap to rebuild,
#                                       and the downloaded .debs)
#   tests/env/teardown.sh --purge-all   delete the whole state dir
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/env/common.sh
source "$HERE/common.sh"

mode=keep
case ${1:-} in
    "") ;;
    --purge) mode=purge ;;
    --purge-all) mode=purge-all ;;
    *)
        echo "usage: $0 [--purge|--purge-all]" >&2
        exit 2
        ;;
esac

if ((EUID != 0)); then
    echo "teardown.sh must run as root" >&2
    exit 1
fi

[[ -d $STATE ]] || exit 0

# Wait for a concurrent setup.sh instead of pulling the rug from under it.
exec 9>"$STATE/.lock"
flock 9

stop_registry

# Containers left by tests (podman create/run, buildah from) pin layer mounts;
# removing them is cheaper than reasoning about which mounts are safe to drop.
# Uses the test config only, never the host's storage.
if [[ -f $STATE/storage.conf && -f $STATE/containers.conf ]]; then
    export CONTAINERS_CONF=$STATE/containers.conf
    export CONTAINERS_STORAGE_CONF=$STATE/storage.conf
    export CONTAINERS_REGISTRIES_CONF=$STATE/registries.conf
    if command -v podman >/dev/null; then
        podman rm --all --force --time 0 >/dev/null 2>&1 9>&- || true
    fi
    if command -v buildah >/dev/null; then
        buildah rm --all >/dev/null 2>&1 9>&- || true
    fi
fi

# The podman calls above may themselves have re-mounted <graphroot>/overlay.
unmount_under "$STATE"

case $mode in
    purge)
        log "purging $STATE (keeping $ROOTFS and $STATE/debs)"
        find "$STATE" -mindepth 1 -maxdepth 1 ! -name rootfs ! -name debs ! -name .lock \
            -exec rm -rf --one-file-system {} +
        # Half-built trees from an interrupted debootstrap are not a cache.
        rm -rf --one-file-system "${ROOTFS%/*}"/.debian-minbase.tmp.*
        ;;
    purge-all)
        log "removing $STATE"
        rm -rf --one-file-system "$STATE"
        ;;
esac
