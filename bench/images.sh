# shellcheck shell=bash
# The benchmark images, shared by bench/run.sh and bench/registry.sh: built once, cached in the
# test storage. Sourced; needs log, WORK and OCIC_TEST_ROOTFS.
#   bench-debian:1        debootstrap Debian + gcc, g++, openssh-client, as four layers
#   bench-synth-N:2       100k, 250k, 500k synthetic entries in 2, 5, 10 layers of 50,000
#   bench-synth-flat:2    250k entries in one layer (only with build_bench_images flat)

have() { podman image exists "$1"; }

build_bench_images() {
    if ! have localhost/bench-debian:1; then
        log "building bench-debian (debootstrap base + apt-get install gcc g++ openssh-client)"
        ctr=$(buildah from scratch)
        buildah copy --quiet "$ctr" "$OCIC_TEST_ROOTFS" / >/dev/null
        buildah config --created-by "ADD debian-bookworm-minbase /" --cmd /bin/bash "$ctr"
        buildah commit --quiet "$ctr" localhost/bench-debian-base:1 >/dev/null
        buildah rm "$ctr" >/dev/null
        mkdir -p "$WORK/ctx"
        cat >"$WORK/ctx/Containerfile" <<'CF'
FROM localhost/bench-debian-base:1
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gcc g++ >/dev/null
RUN DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-client >/dev/null && rm -rf /var/lib/apt/lists/*
RUN useradd -u 1001 -m app
USER app
CF
        podman build --quiet --network host -t localhost/bench-debian:1 -f "$WORK/ctx/Containerfile" "$WORK/ctx" >/dev/null
    fi

    if ! have localhost/bench-synth-500k:2; then
        log "building synthetic images (10 layers of 50,000 entries, one commit per layer)"
        from=scratch
        for i in 1 2 3 4 5 6 7 8 9 10; do
            rm -rf "$WORK/layer"
            python3 bench/mktree.py "$WORK/layer" 50000 "$i"
            ctr=$(buildah from --pull=never "$from")
            buildah copy --quiet "$ctr" "$WORK/layer" / >/dev/null
            buildah config --created-by "COPY layer-$i /" "$ctr"
            from=localhost/bench-synth-layer$i:2
            buildah commit --quiet "$ctr" "$from" >/dev/null
            buildah rm "$ctr" >/dev/null
            case $i in
                2) buildah tag "$from" localhost/bench-synth-100k:2 ;;
                5) buildah tag "$from" localhost/bench-synth-250k:2 ;;
                10) buildah tag "$from" localhost/bench-synth-500k:2 ;;
            esac
        done
        rm -rf "$WORK/layer"
    fi

    if [[ ${1:-} == flat ]]; then
        if ! have localhost/bench-synth-flat:2; then
            log "building the one-layer synthetic image (250,000 entries)"
            rm -rf "$WORK/layer"
            python3 bench/mktree.py "$WORK/layer" 250000 11
            ctr=$(buildah from scratch)
            buildah copy --quiet "$ctr" "$WORK/layer" / >/dev/null
            buildah config --created-by "COPY squashed /" "$ctr"
            buildah commit --quiet "$ctr" localhost/bench-synth-flat:2 >/dev/null
            buildah rm "$ctr" >/dev/null
            rm -rf "$WORK/layer"
        fi
    fi
}
