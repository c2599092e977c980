#!/usr/bin/env bash
# Build a minimal Debian bookworm base image (python3 + python3-venv) without any
# image registry: debootstrap a rootfs and `docker import` it.
#
#   scripts/make-base-image.sh            # creates mpc-base:bookworm if it does not exist
#   FORCE=1 scripts/make-base-image.sh    # re-import (from the cached rootfs tarball)
#   REFRESH=1 scripts/make-base-image.sh  # re-run debootstrap, replace cache and image
#
# Environment:
#   BASE_IMAGE       image tag to create                 (default mpc-base:bookworm)
#   DEBIAN_MIRROR    Debian mirror URL                   (default: first deb.* /debian URI
#                                                         found in /etc/apt/sources.list*,
#                                                         else http://deb.debian.org/debian)
#   MPC_CACHE_DIR    where the rootfs tarball is cached  (default ${XDG_CACHE_HOME:-~/.cache}/mpc-runtime)
#
# Needs root, debootstrap and a running Docker engine.
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-mpc-base:bookworm}"
SUITE=bookworm
PACKAGES="python3,python3-venv,ca-certificates"
MPC_CACHE_DIR="${MPC_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/mpc-runtime}"
TARBALL="$MPC_CACHE_DIR/rootfs-$SUITE-$(dpkg --print-architecture 2>/dev/null || echo amd64).tar"

log() { printf '==> [make-base-image] %s\n' "$*"; }
die() { printf 'ERROR [make-base-image]: %s\n' "$*" >&2; exit 1; }

detect_mirror() {
    local uri
    # deb822 (*.sources) "URIs:" lines and one-line "deb URL suite ..." entries.
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | sed -nE 's/^[[:space:]]*URIs:[[:space:]]*([^[:space:]]+).*/\1/p; s/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' \
        | grep -E '/debian/?$' | head -n1 || true)"
    echo "${uri:-http://deb.debian.org/debian}"
}

if [[ -z "${FORCE:-}" && -z "${REFRESH:-}" ]] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "image $BASE_IMAGE already exists - nothing to do (FORCE=1 to re-import)"
    exit 0
fi

[[ $EUID -eq 0 ]] || die "debootstrap needs root"
mkdir -p "$MPC_CACHE_DIR"

if [[ -n "${REFRESH:-}" || ! -s "$TARBALL" ]]; then
    command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install -y debootstrap)"
    MIRROR="${DEBIAN_MIRROR:-$(detect_mirror)}"
    ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/mpc-rootfs.XXXXXX")"
    trap 'rm -rf --one-file-system "$ROOTFS" "$TARBALL.tmp"' EXIT
    log "debootstrap --variant=minbase $SUITE from $MIRROR (+ $PACKAGES) into $ROOTFS"
    start=$SECONDS
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOTFS" "$MIRROR" \
        > "$MPC_CACHE_DIR/debootstrap.log" 2>&1 \
        || { tail -n 40 "$MPC_CACHE_DIR/debootstrap.log" >&2; die "debootstrap failed (log: $MPC_CACHE_DIR/debootstrap.log)"; }
    log "debootstrap done in $((SECONDS - start)) s"
    # Trim: package caches and lists are useless inside an offline image.
    rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/tmp/* \
           "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/*
    chroot "$ROOTFS" /usr/bin/python3 -c "import ensurepip, venv" \
        || die "python3/venv missing in rootfs"
    tar --numeric-owner -C "$ROOTFS" -cf "$TARBALL.tmp" .
    mv "$TARBALL.tmp" "$TARBALL"
    rm -rf --one-file-system "$ROOTFS"
    trap - EXIT
    log "cached rootfs tarball: $TARBALL ($(du -h "$TARBALL" | cut -f1))"
else
    log "using cached rootfs tarball $TARBALL"
fi

start=$SECONDS
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --message "debootstrap $SUITE minbase + $PACKAGES" \
    "$TARBALL" "$BASE_IMAGE" >/dev/null
log "imported $BASE_IMAGE in $((SECONDS - start)) s"
docker run --rm --network none "$BASE_IMAGE" python3 -c 'import sys, venv, ensurepip; print("python", sys.version.split()[0])'
