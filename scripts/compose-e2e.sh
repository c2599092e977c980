#!/usr/bin/env bash
# End-to-end proof of the docker-compose deployment (party_configs/compose-3.toml): a
# second-price auction (a comparison job) among three parties in containers on an internal
# network with mutual TLS, run twice: with preprocessing = "ot" (no dealer anywhere) and with a
# separate dealer service (compose profile "dealer"); only the analyst learns winner and price.
# Then docker-compose.contributors.yml: a load generator service of VOTERS (default 1000)
# contributors, INVALID (default 10) of them cheating, votes through the coordinator to the three
# compute parties; the analyst must print numpy's tally of the valid ballots and the counts.
#
#   sudo CI=true scripts/compose-e2e.sh        # no stdin, no registry, no PyPI needed in containers
#
# What it does (every step prints a "==> [n/10]" line with timings):
#    1. installs docker.io docker-compose debootstrap with apt-get if missing (root only)
#    2. uses a running Docker engine, or starts dockerd itself (stopped again, by pid, at exit)
#    3. scripts/make-base-image.sh  -> $BASE_IMAGE (mpc-base:bookworm; rootfs cached under
#       ${XDG_CACHE_HOME:-~/.cache}/mpc-runtime, so re-imports take ~2 s)
#    4. scripts/wheelhouse.sh       -> .e2e/wheelhouse (kept: gitignored, reused as a cache)
#    5. `mpc certs` into a temp dir (the CA key never leaves it; it is never mounted)
#    6. docker build (BASE_IMAGE=$BASE_IMAGE) -> mpc-runtime:e2e-<run id>
#    7-9. for each mode (ot, then dealer): compose up -d with a unique project name, wait
#       (<= E2E_TIMEOUT s) for the analyst to exit, then <= E2E_GRACE s for the rest; checks:
#       every service exits 0, the analyst prints "$EXPECT_PRICE" and "$EXPECT_WINNER", no
#       other service prints a "result" line or any bid; compose down
#   10. teardown (also on failure/interrupt): compose down (containers + network), the app
#       image and the dangling build-stage image, the temp cert dir, the base image if this
#       run created it (KEEP_BASE_IMAGE=1 keeps it), and the dockerd this run started.
#       Kept on purpose: installed apt packages, the rootfs tarball cache, .e2e/wheelhouse,
#       and the services' logs in .e2e/last-run-logs/ (after step 9).
#
# Environment (all optional):
#   BASE_IMAGE         build base                            (default mpc-base:bookworm)
#   PARTY1_INPUT ...   the bids                              (defaults 101723 303151 202939:
#                      distinctive, so the leak check below cannot match ports or timestamps)
#   E2E_TIMEOUT        seconds to wait for the analyst       (default 180)
#   E2E_GRACE          seconds to wait for the others after  (default 30)
#   E2E_COMPOSE_OVERRIDE  extra compose files, colon-separated (debugging)
#   KEEP_BASE_IMAGE=1  keep $BASE_IMAGE even if this run created it
#   E2E_KEEP=1         skip teardown of containers/images/certs (debugging; dockerd still stopped)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
export DEBIAN_FRONTEND=noninteractive

RUN_ID="$(date +%Y%m%d%H%M%S)-$$"
PROJECT="mpc-e2e-${RUN_ID//[^a-z0-9]/}"
APP_IMAGE="mpc-runtime:e2e-$RUN_ID"
BASE_IMAGE="${BASE_IMAGE:-mpc-base:bookworm}"
E2E_TIMEOUT="${E2E_TIMEOUT:-180}"
E2E_GRACE="${E2E_GRACE:-30}"
CONTAINER_UID=10001 # the Dockerfile's default MPC_UID
export PARTY1_INPUT="${PARTY1_INPUT:-101723}"
export PARTY2_INPUT="${PARTY2_INPUT:-303151}"
export PARTY3_INPUT="${PARTY3_INPUT:-202939}"
read -r WINNER PRICE < <(python3 -c "
b = [int(x) for x in '$PARTY1_INPUT $PARTY2_INPUT $PARTY3_INPUT'.split()]
w = max(range(3), key=lambda i: (b[i], -i)); print(w + 1, sorted(b)[-2])")
EXPECT_PRICE="result price = $PRICE"
EXPECT_WINNER="result winner = $WINNER"
EXPECT_RESULT="$EXPECT_PRICE / $EXPECT_WINNER"
SERVICES=()

WORK=""
DOCKERD_PID=""
BASE_EXISTED=1
COMPOSE=()
COMPOSE_UP=0
APP_BUILT=0
T0=$SECONDS
T_STEP=$SECONDS
STEP_NAME=""
TIMINGS=()

step() {
    local now=$SECONDS
    [[ -n "$STEP_NAME" ]] && TIMINGS+=("$(printf '%4d s  [%s]' $((now - T_STEP)) "$STEP_NAME")")
    STEP_NAME="$1 ${2%% (*}"
    T_STEP=$now
    printf '\n==> [%s] %s  (t=%ds)\n' "$1" "$2" $((now - T0))
}
log() { printf '    %s\n' "$*"; }
fail() { printf '\nE2E FAILED: %s\n' "$*" >&2; exit 1; }

declare -A CIDS=() # filled once after `up`: `docker-compose ps` (v1) takes ~1 s per call
service_cid() {
    if [[ -n "${CIDS[$1]:-}" ]]; then printf '%s\n' "${CIDS[$1]}"
    else "${COMPOSE[@]}" ps -q "$1" 2>/dev/null | head -n1
    fi
}

dump_logs() {
    local svc cid
    for svc in "${SERVICES[@]}"; do
        cid="$(service_cid "$svc")"
        [[ -n "$cid" ]] || { printf '\n----- %s: no container -----\n' "$svc" >&2; continue; }
        printf '\n----- %s (%s) -----\n' "$svc" \
            "$(docker inspect -f '{{.State.Status}} exit={{.State.ExitCode}}' "$cid" 2>/dev/null)" >&2
        docker logs --tail 200 "$cid" 2>&1 | sed 's/^/    /' >&2 || true
    done
}

stop_dockerd() {
    [[ -n "$DOCKERD_PID" ]] || return 0
    log "stopping the dockerd this run started (pid $DOCKERD_PID)"
    kill -TERM "$DOCKERD_PID" 2>/dev/null || true
    local i
    for ((i = 0; i < 60; i++)); do
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.5
    done
    if kill -0 "$DOCKERD_PID" 2>/dev/null; then
        log "dockerd did not stop in 30 s; sending SIGKILL to pid $DOCKERD_PID"
        kill -KILL "$DOCKERD_PID" 2>/dev/null || true
    fi
    wait "$DOCKERD_PID" 2>/dev/null || true
    DOCKERD_PID=""
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if ((rc != 0)) && ((COMPOSE_UP)); then
        printf '\n==> container logs (failure, rc=%d)\n' "$rc" >&2
        dump_logs
    fi
    step 10/10 "teardown: removing what this run created"
    if [[ -n "${E2E_KEEP:-}" ]]; then
        log "E2E_KEEP set: leaving project $PROJECT, image $APP_IMAGE and $WORK in place"
    else
        if ((COMPOSE_UP)); then
            "${COMPOSE[@]}" down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 \
                || log "warning: compose down failed"
            log "compose project $PROJECT: containers and network removed"
        fi
        if ((APP_BUILT)); then
            docker image rm -f "$APP_IMAGE" >/dev/null 2>&1 && log "image $APP_IMAGE removed"
            docker image prune -f --filter label=org.mpc-runtime.stage=build >/dev/null 2>&1
            log "dangling build-stage images pruned"
        fi
        if ((!BASE_EXISTED)) && [[ -z "${KEEP_BASE_IMAGE:-}" ]]; then
            docker image rm "$BASE_IMAGE" >/dev/null 2>&1 \
                && log "base image $BASE_IMAGE removed (created by this run; rootfs cache kept)"
        fi
        [[ -n "$WORK" ]] && rm -rf "$WORK" && log "temp dir $WORK removed"
    fi
    stop_dockerd
    TIMINGS+=("$(printf '%4d s  [%s]' $((SECONDS - T_STEP)) "$STEP_NAME")")
    printf '\n==> step timings\n'
    printf '    %s\n' "${TIMINGS[@]}"
    if ((rc == 0)); then
        printf '\nE2E PASSED in %d s (ot, dealer, contributors): analyst printed "%s"\n' $((SECONDS - T0)) "$EXPECT_RESULT"
    else
        printf '\nE2E FAILED (rc=%d) after %d s\n' "$rc" $((SECONDS - T0)) >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------
step 1/10 "host packages (docker.io docker-compose debootstrap)"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker >/dev/null || missing+=(docker.io)
{ docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; } || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
    [[ $EUID -eq 0 ]] || fail "missing ${missing[*]} and not root: apt-get install -y ${missing[*]}"
    log "installing: ${missing[*]}"
    apt-get update -qq </dev/null
    apt-get install -y -qq --no-install-recommends docker.io docker-compose debootstrap </dev/null >/dev/null
else
    log "all present"
fi
if docker compose version >/dev/null 2>&1; then COMPOSE_BIN=(docker compose); else COMPOSE_BIN=(docker-compose); fi
log "$(docker --version)"
log "compose: ${COMPOSE_BIN[*]} ($("${COMPOSE_BIN[@]}" version --short 2>/dev/null || "${COMPOSE_BIN[@]}" version | head -n1))"

# ---------------------------------------------------------------------------------------
step 2/10 "Docker engine"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/mpc-e2e.XXXXXX")"
if docker info >/dev/null 2>&1; then
    log "using the running engine ($(docker version -f '{{.Server.Version}}'))"
else
    [[ $EUID -eq 0 ]] || fail "no Docker engine answers and not root (cannot start dockerd)"
    log "no engine answers; starting dockerd (log: $WORK/dockerd.log)"
    dockerd >"$WORK/dockerd.log" 2>&1 </dev/null &
    DOCKERD_PID=$!
    for ((i = 0; i < 120; i++)); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -n 30 "$WORK/dockerd.log" >&2; fail "dockerd exited"; }
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { tail -n 30 "$WORK/dockerd.log" >&2; fail "dockerd did not answer in 60 s"; }
    log "dockerd pid $DOCKERD_PID up ($(docker version -f '{{.Server.Version}}'))"
fi

# ---------------------------------------------------------------------------------------
step 3/10 "base image $BASE_IMAGE"
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || BASE_EXISTED=0
if [[ "$BASE_IMAGE" == mpc-base:* ]]; then
    BASE_IMAGE="$BASE_IMAGE" "$REPO/scripts/make-base-image.sh"
else
    ((BASE_EXISTED)) || fail "base image $BASE_IMAGE not present (no registry to pull from)"
    log "using existing $BASE_IMAGE"
fi

# ---------------------------------------------------------------------------------------
step 4/10 "wheelhouse"
"$REPO/scripts/wheelhouse.sh" "$REPO/.e2e/wheelhouse"

# ---------------------------------------------------------------------------------------
step 5/10 "certificates (mpc certs) in a temp dir"
if [[ -n "${VIRTUAL_ENV:-}" && -x "$VIRTUAL_ENV/bin/mpc" ]]; then MPC=("$VIRTUAL_ENV/bin/mpc")
elif command -v mpc >/dev/null; then MPC=(mpc)
elif [[ -x "$REPO/.venv/bin/mpc" ]]; then MPC=("$REPO/.venv/bin/mpc")
else MPC=(env "PYTHONPATH=$REPO${PYTHONPATH:+:$PYTHONPATH}" python3 -m mpc_runtime.cli.main)
fi
CERT_DIR="$WORK/certs"
sed -E "s|^cert_dir[[:space:]]*=.*|cert_dir = \"$CERT_DIR\"|" party_configs/compose-3.toml >"$WORK/compose-3.host.toml"
grep -q "^cert_dir = \"$CERT_DIR\"" "$WORK/compose-3.host.toml" || fail "cannot rewrite cert_dir in compose-3.toml"
"${MPC[@]}" certs --config "$WORK/compose-3.host.toml" </dev/null >"$WORK/certs.log" 2>&1 \
    || { cat "$WORK/certs.log" >&2; fail "mpc certs failed (${MPC[*]})"; }
log "$(grep -c '^created' "$WORK/certs.log") files created with: ${MPC[*]} certs"
[[ -f "$CERT_DIR/ca.pem" ]] || fail "mpc certs did not produce ca.pem"
for f in coordinator dealer party-1 party-2 party-3 recipient-analyst; do
    [[ -f "$CERT_DIR/$f.pem" && -f "$CERT_DIR/$f.key" ]] || fail "mpc certs did not produce $f.pem/$f.key"
done
if [[ $EUID -eq 0 ]]; then
    # Keys stay 0600; the containers run as uid $CONTAINER_UID, so they must own them.
    chown "$CONTAINER_UID:$CONTAINER_UID" "$CERT_DIR"/*.key
    chown root:root "$CERT_DIR/ca.key" # the CA key is never mounted anyway
    export MPC_USER="$CONTAINER_UID:$CONTAINER_UID"
else
    export MPC_USER="$(id -u):$(id -g)" # run the containers as the owner of the keys
fi
export CERT_DIR
log "certs in $CERT_DIR (services run as $MPC_USER)"

# ---------------------------------------------------------------------------------------
step 6/10 "docker build $APP_IMAGE (BASE_IMAGE=$BASE_IMAGE)"
for f in party_configs/compose-3.toml jobs/compose-auction-ot.toml jobs/compose-auction-dealer.toml; do
    [[ -f "$f" ]] || fail "$f is missing (the image copies party_configs/ and jobs/)"
done
APP_BUILT=1
DOCKER_BUILDKIT=0 docker build --force-rm --quiet \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg WHEELHOUSE=.e2e/wheelhouse \
    --label org.mpc-runtime.e2e="$RUN_ID" -t "$APP_IMAGE" "$REPO" </dev/null >"$WORK/build.log" 2>&1 \
    || { cat "$WORK/build.log" >&2; fail "docker build failed"; }
log "built $APP_IMAGE: $(docker image inspect -f '{{.Size}}' "$APP_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

# ---------------------------------------------------------------------------------------
contrib_job() { # the vote job for docker-compose.contributors.yml, with freshly issued tokens
    export JOB_DIR="$WORK/contrib-job" VOTERS="${VOTERS:-1000}" INVALID="${INVALID:-10}"
    mkdir -p "$JOB_DIR"
    "${MPC[@]}" tokens --count "$VOTERS" --out "$JOB_DIR" </dev/null >"$WORK/tokens.log" 2>&1 \
        || { cat "$WORK/tokens.log" >&2; fail "mpc tokens failed"; }
    local digest
    digest="$(sed -n 's/^eligible_digest = "\(.*\)"$/\1/p' "$WORK/tokens.log")"
    [[ -n "$digest" ]] || fail "mpc tokens printed no eligible_digest"
    cat >"$JOB_DIR/vote.toml" <<TOML
job_id = "compose-vote"
program = "protocols.contributions:aggregate_job"
preprocessing = "ot"

[[outputs]]
name = "total"
recipients = ["recipient:analyst"]
[[outputs]]
name = "counts"
recipients = ["recipient:analyst"]

[contributions]
input = "ballot"
shape = [4]
min = 0
max = 1
checks = ["one_hot"]
eligible_file = "/job/eligible.txt"
eligible_digest = "$digest"
max_count = $VOTERS
deadline = 600
batch = 500
TOML
    chmod 0644 "$JOB_DIR/vote.toml" "$JOB_DIR/eligible.txt"
    if [[ $EUID -eq 0 ]]; then chown "$CONTAINER_UID:$CONTAINER_UID" "$JOB_DIR/tokens.txt"; fi
    log "issued $VOTERS tokens; job $JOB_DIR/vote.toml pins eligible_digest ${digest:0:12}"
}

run_mode() { # $1 = ot | dealer | contributors
    local mode="$1" cid status code svc deadline analyst
    export MPC_IMAGE="$APP_IMAGE" MPC_JOB="/app/jobs/compose-auction-$mode.toml"
    COMPOSE=("${COMPOSE_BIN[@]}" -p "$PROJECT-$mode" -f "$REPO/docker-compose.yml")
    SERVICES=(coordinator party1 party2 party3 analyst)
    if [[ "$mode" == contributors ]]; then
        step "7/10 ($mode)" "compose up: a vote of ${VOTERS:-1000} contributors (project $PROJECT-$mode)"
        contrib_job
        COMPOSE=("${COMPOSE_BIN[@]}" -p "$PROJECT-$mode" -f "$REPO/docker-compose.contributors.yml")
        SERVICES+=(contributors)
    else
        step "7/10 ($mode)" "compose up: auction with preprocessing = $mode (project $PROJECT-$mode)"
    fi
    if [[ "$mode" == dealer ]]; then COMPOSE+=(--profile dealer); SERVICES+=(dealer); fi
    if [[ -n "${E2E_COMPOSE_OVERRIDE:-}" ]]; then
        IFS=: read -r -a extra <<<"$E2E_COMPOSE_OVERRIDE"
        for f in "${extra[@]}"; do COMPOSE+=(-f "$f"); done
    fi
    unset COMPOSE_FILE COMPOSE_PROJECT_NAME
    "${COMPOSE[@]}" config -q
    COMPOSE_UP=1
    CIDS=()
    "${COMPOSE[@]}" up -d --no-build </dev/null >"$WORK/up-$mode.log" 2>&1 \
        || { cat "$WORK/up-$mode.log" >&2; fail "compose up failed ($mode)"; }
    sed 's/^/    /' "$WORK/up-$mode.log"
    for svc in "${SERVICES[@]}"; do CIDS[$svc]="$(service_cid "$svc")"; done

    step "8/10 ($mode)" "waiting for the analyst to exit (<= ${E2E_TIMEOUT} s)"
    analyst="$(service_cid analyst)"
    [[ -n "$analyst" ]] || fail "no analyst container ($mode)"
    deadline=$((SECONDS + E2E_TIMEOUT))
    until [[ "$(docker inspect -f '{{.State.Status}}' "$analyst")" == exited ]]; do
        ((SECONDS < deadline)) || fail "analyst still running after ${E2E_TIMEOUT} s ($mode)"
        sleep 1
    done
    log "analyst exited with code $(docker inspect -f '{{.State.ExitCode}}' "$analyst")"
    deadline=$((SECONDS + E2E_GRACE))
    for svc in "${SERVICES[@]}"; do
        cid="$(service_cid "$svc")"
        while [[ "$(docker inspect -f '{{.State.Status}}' "$cid")" != exited ]] && ((SECONDS < deadline)); do
            sleep 1
        done
    done

    step "9/10 ($mode)" "checks"
    mkdir -p "$WORK/logs-$mode"
    local problems=()
    for svc in "${SERVICES[@]}"; do
        cid="$(service_cid "$svc")"
        docker logs "$cid" >"$WORK/logs-$mode/$svc.log" 2>&1
        status="$(docker inspect -f '{{.State.Status}}' "$cid")"
        code="$(docker inspect -f '{{.State.ExitCode}}' "$cid")"
        log "$(printf '%-12s %-8s exit=%-3s %5d log lines' "$svc" "$status" "$code" "$(wc -l <"$WORK/logs-$mode/$svc.log")")"
        if [[ "$status" != exited || "$code" != 0 ]]; then problems+=("$svc: $status, exit $code"); fi
        [[ "$svc" == analyst ]] && continue
        if [[ "$mode" == contributors ]]; then
            [[ "$svc" == contributors ]] && continue # the load generator prints its own summary
            if grep -qiE '^[[:space:]]*result\b' "$WORK/logs-$mode/$svc.log"; then problems+=("$svc printed a result line"); fi
            continue
        fi
        # Nothing but the analyst may print a result or any bid (the price is a bid).
        for v in "$PARTY1_INPUT" "$PARTY2_INPUT" "$PARTY3_INPUT"; do
            if grep -qw -- "$v" "$WORK/logs-$mode/$svc.log"; then problems+=("$svc log contains a bid ($v)"); fi
        done
        if grep -qiE '^[[:space:]]*result\b' "$WORK/logs-$mode/$svc.log"; then problems+=("$svc printed a result line"); fi
    done
    local wants=("$EXPECT_PRICE" "$EXPECT_WINNER")
    if [[ "$mode" == contributors ]]; then
        local summary
        summary="$(grep -E '^\{' "$WORK/logs-$mode/contributors.log" | tail -n1)"
        [[ -n "$summary" ]] || problems+=("the load generator printed no summary")
        wants=("result total = $(python3 -c "import json,sys; print(json.loads(sys.argv[1])['expected_sum'])" "$summary")"
               "result counts = [$((VOTERS - INVALID)), $INVALID, 0, 0]")
    fi
    for want in "${wants[@]}"; do
        if grep -qxF -- "$want" <(tr -d '\r' <"$WORK/logs-$mode/analyst.log"); then
            log "analyst printed: $want"
        else
            problems+=("analyst did not print the line '$want'")
        fi
    done
    if [[ "$mode" == ot ]] && grep -q dealer "$WORK/logs-$mode/coordinator.log"; then
        problems+=("the ot run involved a dealer")
    fi
    rm -rf "$REPO/.e2e/last-run-logs-$mode" && cp -r "$WORK/logs-$mode" "$REPO/.e2e/last-run-logs-$mode"
    if ((${#problems[@]})); then
        printf '    PROBLEM: %s\n' "${problems[@]}" >&2
        fail "${#problems[@]} check(s) failed ($mode)"
    fi
    log "all checks passed ($mode); logs kept in .e2e/last-run-logs-$mode/ (gitignored)"
    "${COMPOSE[@]}" down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || log "warning: compose down failed"
    COMPOSE_UP=0
}

run_mode ot
run_mode dealer
run_mode contributors
# cleanup (trap) runs step 10: teardown.
