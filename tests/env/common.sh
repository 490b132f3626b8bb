# shellcheck shell=bash
# Shared by setup.sh and teardown.sh so both always agree on where the test
# state lives and which registry process is "ours". Sourced, not executed.

OCIC_TEST_STATE=${OCIC_TEST_STATE:-/var/tmp/oci-compliance-test}
OCIC_TEST_REGISTRY_PORT=${OCIC_TEST_REGISTRY_PORT:-5055}

# The path is pasted verbatim into TOML, YAML and shell files; refusing odd
# characters is cheaper than quoting it correctly for all three.
if [[ ! $OCIC_TEST_STATE =~ ^/[A-Za-z0-9._/-]+$ || $OCIC_TEST_STATE == / ]]; then
    echo "OCIC_TEST_STATE must be an absolute path of [A-Za-z0-9._/-]: '$OCIC_TEST_STATE'" >&2
    exit 1
fi
OCIC_TEST_STATE=${OCIC_TEST_STATE%/}
if [[ ! $OCIC_TEST_REGISTRY_PORT =~ ^[0-9]+$ ]]; then
    echo "OCIC_TEST_REGISTRY_PORT must be a number: '$OCIC_TEST_REGISTRY_PORT'" >&2
    exit 1
fi

STATE=$OCIC_TEST_STATE
PORT=$OCIC_TEST_REGISTRY_PORT
REG_USER=ocic
GRAPHROOT=$STATE/storage
# Everything podman expects to lose at reboot (runroot, libpod tmp_dir) lives
# here, so setup.sh can emulate a tmpfs by wiping it when the boot id changes.
RUN_DIR=$STATE/run
REG_DIR=$STATE/registry
REG_CONFIG=$REG_DIR/config.yml
REG_PIDFILE=$REG_DIR/registry.pid
REG_LOG=$REG_DIR/registry.log
ROOTFS=$STATE/rootfs/debian-minbase

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

# Prints the pid of the registry we started, if it is still that process: a
# pid file alone is not enough because pids get reused after a crash/reboot.
registry_pid() {
    local pid
    pid=$(cat "$REG_PIDFILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"serve $REG_CONFIG"* ]] || return 1
    echo "$pid"
}

stop_registry() {
    local pid i
    pid=$(registry_pid) || { rm -f "$REG_PIDFILE"; return 0; }
    log "stopping registry (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        [[ -e /proc/$pid ]] || break
        sleep 0.2
    done
    if [[ -e /proc/$pid ]]; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$REG_PIDFILE"
}

# Unmounts every mount point at or below $1, deepest first. Needed because
# c/storage bind-mounts <graphroot>/overlay onto itself (and leaves it behind
# when a podman call fails), containers keep layer/shm mounts, and an
# interrupted debootstrap leaves /proc, /sys and /dev binds in its target;
# rm -rf over any of those is either useless or dangerous.
unmount_under() {
    local root=$1 pass mp
    local -a mps
    for ((pass = 0; pass < 10; pass++)); do
        # mountinfo field 5 is the mount point; our paths never need unescaping.
        mapfile -t mps < <(awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' \
            /proc/self/mountinfo | sort -r)
        ((${#mps[@]})) || return 0
        for mp in "${mps[@]}"; do
            umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || true
        done
    done
    log "warning: could not unmount everything under $root"
    return 1
}
