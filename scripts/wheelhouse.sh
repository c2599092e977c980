#!/usr/bin/env bash
# Build a wheelhouse (the mpc-runtime wheel + all runtime dependencies) on the host,
# so Docker images can be built without network access:
#   pip install --no-index --find-links <wheelhouse> mpc-runtime
#
#   scripts/wheelhouse.sh [OUT_DIR]      # default OUT_DIR: <repo>/.e2e/wheelhouse
#
# Environment:
#   PYTHON   interpreter whose pip is used (default: the active venv, else <repo>/.venv, else python3).
#            Must be CPython 3.11 on linux/amd64 (glibc) to match the bookworm / python:3.11-slim images.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$REPO/.e2e/wheelhouse}"

if [[ -z "${PYTHON:-}" ]]; then
    if [[ -n "${VIRTUAL_ENV:-}" && -x "$VIRTUAL_ENV/bin/python" ]]; then PYTHON="$VIRTUAL_ENV/bin/python"
    elif [[ -x "$REPO/.venv/bin/python" ]]; then PYTHON="$REPO/.venv/bin/python"
    else PYTHON=python3
    fi
fi

log() { printf '==> [wheelhouse] %s\n' "$*"; }

pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[[ "$pyver" == "3.11" ]] || log "WARNING: $PYTHON is Python $pyver; the images run Python 3.11 - binary wheels may not match"

mkdir -p "$OUT"
# Drop the previous project wheel so the image always gets the current source tree.
rm -f "$OUT"/mpc_runtime-*.whl
start=$SECONDS
# Build from a scratch copy of the working tree: setuptools' build/ dir would otherwise
# litter the repo and can carry deleted modules into the wheel.
SRC="$(mktemp -d "${TMPDIR:-/tmp}/mpc-wheel-src.XXXXXX")"
trap 'rm -rf "$SRC"' EXIT
tar -C "$REPO" --exclude=./.git --exclude=./.venv --exclude=./.e2e --exclude=./build \
    --exclude=./dist --exclude=./certs --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$SRC" -xf -
resolves_offline() { # is the wheelhouse self-contained? (resolve mpc-runtime from it alone)
    "$PYTHON" -m pip install --quiet --disable-pip-version-check --dry-run --ignore-installed \
        --no-index --find-links "$OUT" mpc-runtime "$@"
}
log "pip wheel --no-deps $REPO -> $OUT (using $PYTHON)"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check --no-deps --wheel-dir "$OUT" "$SRC"
# Dependencies: reuse the wheels already there (fast re-runs, stable versions); go to the
# index only when something is missing (first run, or a dependency added to pyproject.toml).
# REFRESH=1 re-resolves everything from the index.
if [[ -n "${REFRESH:-}" ]] || ! resolves_offline 2>/dev/null; then
    log "fetching dependency wheels from the package index"
    "$PYTHON" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$OUT" "$SRC"
    resolves_offline
else
    log "dependency wheels already present"
fi
log "done in $((SECONDS - start)) s: $(ls "$OUT" | wc -l) wheels, $(du -sh "$OUT" | cut -f1)"
