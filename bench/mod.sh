#!/usr/bin/env bash
# MOD benchmark: does the server keep answering while MOD.GET downloads?
#
# For each server: publish target/modules/json.so (the largest module, ~10 MB) into a
# throttled local HTTP registry (`registry serve --rate`), start the server with mod.so, and
# measure PING latency with redis-benchmark (one client, --csv percentiles) twice: idle, and
# while MOD.GET downloads the artifact (checked to be still downloading when the PINGs end).
# Writes a Markdown table to target/bench/mod.md. Target: PING p99 < 5 ms during the download.
#
# Environment:
#   REDIS_SERVER, VALKEY_SERVER   server binaries (Valkey measured if set)
#   RATE        bytes per second the registry serves (default 1000000: ~10 s for json.so)
#   REQUESTS    PINGs per measurement (default 20000)
#   REDIS_CLI, REDIS_BENCHMARK    tool overrides
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVERS=("${REDIS_SERVER:-redis-server}")
[[ -n ${VALKEY_SERVER:-} ]] && SERVERS+=("$VALKEY_SERVER")
RATE=${RATE:-1000000}
REQUESTS=${REQUESTS:-20000}
REDIS_CLI=${REDIS_CLI:-redis-cli}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
OUT_DIR=$ROOT/target/bench
REPORT=$OUT_DIR/mod.md

log() { printf '[mod] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rs-rm-bench-mod.XXXXXX")
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    rm -rf -- "$WORK"
}
trap cleanup EXIT

for so in mod json; do
    [[ -f $ROOT/target/modules/$so.so ]] || die "target/modules/$so.so missing: run 'cargo make modules'"
done
(cd "$ROOT" && cargo build --quiet -p modreg --features publish --bin registry) || die "cannot build the registry tool"
TOOL=$ROOT/target/debug/registry
mkdir -p "$WORK/modules" "$OUT_DIR"
cp "$ROOT/target/modules/json.so" "$WORK/modules/"
"$TOOL" publish --modules "$WORK/modules" --out "$WORK/reg" --key "$WORK/key" --pub "$WORK/key.pub" \
    --namespace bench >/dev/null || die "registry publish failed"
SIZE=$(stat -c %s "$ROOT/target/modules/json.so")

exec {HTTP_IN}> >(exec "$TOOL" serve "$WORK/reg" --rate "$RATE" >"$WORK/port")
PIDS+=($!)
for _ in $(seq 50); do [[ -s $WORK/port ]] && break; sleep 0.1; done
URL=http://127.0.0.1:$(cat "$WORK/port")

# "p50 p99 max" of PING latency in ms, one client.
pings() {
    "$REDIS_BENCHMARK" -p "$1" -c 1 -n "$REQUESTS" -t ping --csv 2>/dev/null |
        awk -F, '/PING_MBULK/ { gsub(/"/, ""); print $5, $7, $8 }'
}

rows=()
for server in "${SERVERS[@]}"; do
    name=$("$server" --version | head -n 1 | awk '{print $1, $3}')
    port=$((20000 + RANDOM % 20000))
    mkdir -p "$WORK/$port"
    "$server" --port "$port" --bind 127.0.0.1 --dir "$WORK/$port" --save '' --appendonly no \
        --logfile server.log --loadmodule "$ROOT/target/modules/mod.so" registry "$URL" \
        trusted-key "$WORK/key.pub" home "$WORK/$port/home" &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 100); do [[ $("$REDIS_CLI" -p "$port" ping 2>/dev/null) == PONG ]] && break; sleep 0.1; done
    read -r idle50 idle99 idlemax < <(pings "$port")
    "$REDIS_CLI" -p "$port" mod.get bench/json >"$WORK/$port/get.out" 2>&1 &
    getter=$!
    until "$REDIS_CLI" -p "$port" mod.list | grep -q downloading; do sleep 0.05; done
    read -r busy50 busy99 busymax < <(pings "$port")
    still=no
    "$REDIS_CLI" -p "$port" mod.list | grep -q downloading && still=yes
    wait "$getter"
    grep -q "bench/json/" "$WORK/$port/get.out" || die "MOD.GET failed on $name: $(cat "$WORK/$port/get.out")"
    verdict=$(awk -v p="$busy99" 'BEGIN { print (p < 5 ? "yes" : "NO") }')
    rows+=("| $name | $idle50 / $idle99 / $idlemax | $busy50 / $busy99 / $busymax | $still | $verdict |")
    log "$name: idle p99 $idle99 ms, during download p99 $busy99 ms (still downloading after: $still)"
    "$REDIS_CLI" -p "$port" shutdown nosave >/dev/null 2>&1
    wait "$pid" 2>/dev/null
done

{
    printf '## MOD.GET: PING latency during a throttled download\n\n'
    printf 'json.so (%s bytes) served at %s bytes/s by `registry serve`; %s PINGs, one client\n' "$SIZE" "$RATE" "$REQUESTS"
    printf '(redis-benchmark -c 1 -t ping --csv, the PING_MBULK row), idle and while MOD.GET downloads. Milliseconds.\n\n'
    printf '| server | idle p50 / p99 / max | during download p50 / p99 / max | download still running at the end | p99 < 5 ms |\n'
    printf '|---|---|---|---|---|\n'
    printf '%s\n' "${rows[@]}"
    printf '\nReproduce: `bash bench/mod.sh` (part of `cargo make bench`).\n'
} | tee "$REPORT"
exec {HTTP_IN}>&-
