#!/usr/bin/env bash
# HGETSET benchmark: instructions per call inside the server's module dispatcher.
#
# For each server binary and each module -- (A) the Rust module hashex.so and (B) the C
# reference bench/ref/hgetset.c -- run the server under callgrind, drive a fixed HGETSET
# workload with redis-benchmark, and divide the inclusive Ir of
# RedisModuleCommandDispatcher (ValkeyModuleCommandDispatcher on Valkey) by the number of
# calls reported by INFO commandstats. Prints a Markdown table and the A/B ratio of the
# medians against the 1.02 target; also writes it to target/bench/hgetset.md.
#
# Exit status: 0 when everything was measured (whether or not the ratio meets the target),
# non-zero when something could not be measured.
#
# Environment:
#   REDIS_SERVER     server binary (default: redis-server)
#   VALKEY_SERVER    if set, also measured (appended to BENCH_SERVERS when not listed there)
#   BENCH_SERVERS    space-separated server binaries (default: $REDIS_SERVER)
#   HASHEX_SO        Rust module (default: $ROOT/target/modules/hashex.so)
#   ROUNDS           rounds per server and module (default: 3)
#   REQUESTS         HGETSET calls per round (default: 20000)
#   KEYSPACE         redis-benchmark -r (default: 1000)
#   TARGET           ratio target (default: 1.02)
#   KEEP_PROFILES    if 1, keep the callgrind files in target/bench/profiles/ for a breakdown
#                    (callgrind_annotate --tree=calling --inclusive=yes FILE)
#   REDIS_CLI, REDIS_BENCHMARK, VALGRIND, CALLGRIND_ANNOTATE, CC   tool overrides
#   START_TIMEOUT, BENCH_TIMEOUT, STOP_TIMEOUT   bounds in seconds (60, 900, 120)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REDIS_SERVER=${REDIS_SERVER:-redis-server}
BENCH_SERVERS=${BENCH_SERVERS:-$REDIS_SERVER}
if [[ -n ${VALKEY_SERVER:-} && " $BENCH_SERVERS " != *" $VALKEY_SERVER "* ]]; then
    BENCH_SERVERS="$BENCH_SERVERS $VALKEY_SERVER"
fi
HASHEX_SO=${HASHEX_SO:-$ROOT/target/modules/hashex.so}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-20000}
KEYSPACE=${KEYSPACE:-1000}
TARGET=${TARGET:-1.02}
REDIS_CLI=${REDIS_CLI:-redis-cli}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
VALGRIND=${VALGRIND:-valgrind}
CALLGRIND_ANNOTATE=${CALLGRIND_ANNOTATE:-callgrind_annotate}
CC=${CC:-gcc}
START_TIMEOUT=${START_TIMEOUT:-60}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}
STOP_TIMEOUT=${STOP_TIMEOUT:-120}

OUT_DIR=$ROOT/target/bench
C_SO=$OUT_DIR/hgetset_c.so
REPORT=$OUT_DIR/hgetset.md

log() { printf '[hgetset] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

# --- cleanup: servers are stopped by pid, temp dirs removed -------------------------------
SERVER_PID=
TMP_DIRS=()
cleanup() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    SERVER_PID=
    for d in "${TMP_DIRS[@]}"; do [[ -n $d ]] && rm -rf -- "$d"; done
    TMP_DIRS=()
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# --- preflight -----------------------------------------------------------------------------
for tool in "$REDIS_CLI" "$REDIS_BENCHMARK" "$VALGRIND" "$CALLGRIND_ANNOTATE" "$CC"; do
    command -v "$tool" >/dev/null || die "required tool not found: $tool"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $REQUESTS =~ ^[1-9][0-9]*$ ]] || die "REQUESTS must be a positive integer"
[[ -f $HASHEX_SO ]] || die "Rust module not found: $HASHEX_SO (build it, or set HASHEX_SO)"
HASHEX_SO=$(cd "$(dirname "$HASHEX_SO")" && pwd)/$(basename "$HASHEX_SO")

SERVERS=()
for s in $BENCH_SERVERS; do
    p=$(command -v "$s") || die "server binary not found: $s"
    SERVERS+=("$p")
done

mkdir -p "$OUT_DIR"
log "building $C_SO"
(cd "$ROOT" && "$CC" -O2 -fPIC -shared -I vendor -o target/bench/hgetset_c.so bench/ref/hgetset.c) \
    || die "failed to build the C reference module"

# --- helpers -------------------------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 40000))
        port_in_use "$p" || { echo "$p"; return 0; }
    done
    return 1
}

server_label() {
    local v name
    name=$(basename "$1")
    v=$("$1" --version 2>/dev/null | sed -n 's/.* v=\([^ ]*\).*/\1/p')
    echo "$name${v:+ $v}"
}

# Inclusive Ir of the dispatcher, from callgrind_annotate. Prints "<symbol> <Ir>".
dispatcher_ir() {
    "$CALLGRIND_ANNOTATE" --inclusive=yes --threshold=100 "$1" 2>/dev/null | awk '
        /[: ](Redis|Valkey)ModuleCommandDispatcher( |$)/ {
            ir = $1; gsub(/,/, "", ir)
            if (match($0, /(Redis|Valkey)ModuleCommandDispatcher/)) sym = substr($0, RSTART, RLENGTH)
            if (ir ~ /^[0-9]+$/) { print sym, ir; exit }
        }'
}

# Number of calls to the dispatcher recorded by callgrind itself (cross-check of INFO).
dispatcher_calls() {
    awk -v sym="$2" '
        # (id) name definitions for fn=/cfn= compress names; map both ways.
        function name_of(s,   id, rest) {
            if (match(s, /^\([0-9]+\)/)) {
                id = substr(s, 2, RLENGTH - 2); rest = substr(s, RLENGTH + 1); sub(/^ /, "", rest)
                if (rest != "") names[id] = rest
                return names[id]
            }
            return s
        }
        /^cfn=/ { cur = name_of(substr($0, 5)); next }
        /^fn=/  { name_of(substr($0, 4)); cur = ""; next }
        /^calls=/ { if (cur == sym) { split(substr($0, 7), a, " "); n += a[1] } next }
        END { print n + 0 }' "$1"
}

# One measurement. Sets RESULT to instructions per call (2 decimals), or returns non-zero.
measure() {
    local server=$1 module=$2 tag=$3 tmp port out info calls failed sym_ir sym ir cg_calls
    RESULT=
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/hgetset-bench.XXXXXX") || return 1
    TMP_DIRS+=("$tmp")
    out=$tmp/callgrind.out
    local attempt up=
    # A port found free can be taken by another process before the server binds it: retry.
    for attempt in 1 2 3; do
        port=$(free_port) || { log "$tag: no free port"; return 1; }
        "$VALGRIND" --tool=callgrind --callgrind-out-file="$out" \
            "$server" --port "$port" --bind 127.0.0.1 --dir "$tmp" --save '' --appendonly no \
            --daemonize no --logfile '' --loadmodule "$module" >"$tmp/server.log" 2>&1 &
        SERVER_PID=$!

        local deadline=$((SECONDS + START_TIMEOUT))
        while ((SECONDS < deadline)); do
            if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
            if [[ $("$REDIS_CLI" -p "$port" PING 2>/dev/null) == PONG ]]; then up=1; break; fi
            sleep 0.2
        done
        [[ -n $up ]] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null && grep -q "Failed listening on port" "$tmp/server.log"; then
            log "$tag: port $port was taken (attempt $attempt); trying another"
            wait "$SERVER_PID" 2>/dev/null
            continue
        fi
        break
    done
    if [[ -z $up ]]; then
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            log "$tag: server did not answer PING within ${START_TIMEOUT}s; log:"
        else
            log "$tag: server exited during startup; log:"
        fi
        tail -n 20 "$tmp/server.log" >&2
        return 1
    fi

    # Options must precede the command: everything after it is sent as arguments.
    if ! timeout "$BENCH_TIMEOUT" "$REDIS_BENCHMARK" -p "$port" -c 1 -n "$REQUESTS" -r "$KEYSPACE" -q \
        hgetset 'h:__rand_int__' f '__rand_int__' >"$tmp/bench.log" 2>&1; then
        log "$tag: redis-benchmark failed or timed out; output:"
        tail -c 2000 "$tmp/bench.log" >&2
        return 1
    fi

    info=$("$REDIS_CLI" -p "$port" INFO commandstats 2>/dev/null | tr -d '\r')
    calls=$(sed -n 's/^cmdstat_hgetset:calls=\([0-9]*\).*/\1/p' <<<"$info")
    failed=$(sed -n 's/^cmdstat_hgetset:.*failed_calls=\([0-9]*\).*/\1/p' <<<"$info")

    "$REDIS_CLI" -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1
    deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        log "$tag: server did not exit within ${STOP_TIMEOUT}s after SHUTDOWN NOSAVE"
        return 1
    fi
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=

    if [[ -z $calls || $calls -eq 0 ]]; then
        log "$tag: no cmdstat_hgetset calls in INFO commandstats"; return 1
    fi
    if [[ -n $failed && $failed -ne 0 ]]; then
        log "$tag: $failed of $calls HGETSET calls failed"; return 1
    fi
    if [[ $calls -ne $REQUESTS ]]; then
        log "$tag: expected $REQUESTS calls, INFO says $calls"; return 1
    fi
    [[ -s $out ]] || { log "$tag: callgrind wrote no output"; return 1; }

    sym_ir=$(dispatcher_ir "$out")
    if [[ -z $sym_ir ]]; then
        log "$tag: no (Redis|Valkey)ModuleCommandDispatcher in callgrind_annotate output (stripped binary?)"
        return 1
    fi
    read -r sym ir <<<"$sym_ir"
    cg_calls=$(dispatcher_calls "$out" "$sym")
    if [[ $cg_calls -ne $calls ]]; then
        log "$tag: callgrind counted $cg_calls calls to $sym, INFO counted $calls"; return 1
    fi
    RESULT=$(awk -v ir="$ir" -v n="$calls" 'BEGIN { printf "%.2f", ir / n }')
    log "$tag: $sym Ir=$ir calls=$calls -> $RESULT instr/call"
    if [[ ${KEEP_PROFILES:-0} == 1 ]]; then
        mkdir -p "$OUT_DIR/profiles"
        cp -- "$out" "$OUT_DIR/profiles/${tag// /-}.callgrind"
    fi
    rm -rf -- "$tmp"
    return 0
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) exit; if (NR % 2) printf "%.2f", v[(NR + 1) / 2]
    else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- run -----------------------------------------------------------------------------------
START=$SECONDS
ERRORS=0
declare -A VALS
MODS=(A B)
declare -A MOD_PATH=([A]=$HASHEX_SO [B]=$C_SO)
declare -A MOD_NAME=([A]="A: Rust $(basename "$HASHEX_SO")" [B]="B: C $(basename "$C_SO")")

for si in "${!SERVERS[@]}"; do
    srv=${SERVERS[$si]}
    for ((r = 1; r <= ROUNDS; r++)); do
        for m in "${MODS[@]}"; do
            tag="$(basename "$srv") $m round $r"
            if measure "$srv" "${MOD_PATH[$m]}" "$tag"; then
                VALS[$si,$m]+="$RESULT "
            else
                VALS[$si,$m]+="n/a "
                ERRORS=$((ERRORS + 1))
            fi
            cleanup   # stop any leftover server, remove this round's temp dir
        done
    done
done

# --- report --------------------------------------------------------------------------------
{
    echo "### HGETSET: instructions per call in the module dispatcher"
    echo
    echo "callgrind inclusive Ir of \`RedisModuleCommandDispatcher\` / calls;" \
        "\`redis-benchmark -c 1 -n $REQUESTS -r $KEYSPACE hgetset h:__rand_int__ f __rand_int__\`;" \
        "$ROUNDS rounds, A/B alternating; $(date -u +%Y-%m-%d)."
    echo
    hdr="| server | module |"; sep="|---|---|"
    for ((r = 1; r <= ROUNDS; r++)); do hdr+=" round $r |"; sep+="---:|"; done
    echo "$hdr median |"
    echo "$sep---:|"
    declare -A MED
    for si in "${!SERVERS[@]}"; do
        label=$(server_label "${SERVERS[$si]}")
        for m in "${MODS[@]}"; do
            read -ra vals <<<"${VALS[$si,$m]}"
            nums=()
            for v in "${vals[@]}"; do [[ $v != n/a ]] && nums+=("$v"); done
            med=n/a
            ((${#nums[@]} == ${#vals[@]} && ${#nums[@]} > 0)) && med=$(median "${nums[@]}")
            MED[$si,$m]=$med
            row="| $label | ${MOD_NAME[$m]} |"
            for v in "${vals[@]}"; do row+=" $v |"; done
            echo "$row **$med** |"
        done
    done
    echo
    for si in "${!SERVERS[@]}"; do
        label=$(server_label "${SERVERS[$si]}")
        a=${MED[$si,A]} b=${MED[$si,B]}
        if [[ $a == n/a || $b == n/a ]]; then
            echo "- $label: A/B = n/a — **NOT MEASURED**"
        else
            awk -v a="$a" -v b="$b" -v t="$TARGET" -v l="$label" 'BEGIN {
                r = a / b; printf "- %s: A/B = %.4f (target ≤ %s) — **%s**\n", l, r, t, (r <= t + 0 ? "PASS" : "FAIL") }'
        fi
    done
} | tee "$REPORT"

log "report written to $REPORT; took $((SECONDS - START))s"
if ((ERRORS > 0)); then
    log "$ERRORS measurement(s) failed"
    exit 1
fi
exit 0
