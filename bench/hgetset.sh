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
# The server list, tools, OUT_DIR; log/die, start_server/shutdown_server/cleanup (on exit),
# callgrind helpers, median.
BENCH_NAME=hgetset
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
HASHEX_SO=${HASHEX_SO:-$ROOT/target/modules/hashex.so}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-20000}
KEYSPACE=${KEYSPACE:-1000}
TARGET=${TARGET:-1.02}
MEDIAN_DIGITS=2 # instructions per call, as the report prints them
CC=${CC:-gcc}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}

C_SO=$OUT_DIR/hgetset_c.so
REPORT=$OUT_DIR/hgetset.md

# --- preflight -----------------------------------------------------------------------------
for tool in "$REDIS_CLI" "$REDIS_BENCHMARK" "$VALGRIND" "$CALLGRIND_ANNOTATE" "$CC"; do
    command -v "$tool" >/dev/null || die "required tool not found: $tool"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ $REQUESTS =~ ^[1-9][0-9]*$ ]] || die "REQUESTS must be a positive integer"
[[ -f $HASHEX_SO ]] || die "Rust module not found: $HASHEX_SO (build it, or set HASHEX_SO)"
HASHEX_SO=$(cd "$(dirname "$HASHEX_SO")" && pwd)/$(basename "$HASHEX_SO")

resolve_servers

mkdir -p "$OUT_DIR"
log "building $C_SO"
(cd "$ROOT" && "$CC" -O2 -fPIC -shared -I vendor -o target/bench/hgetset_c.so bench/ref/hgetset.c) \
    || die "failed to build the C reference module"

# --- measure -------------------------------------------------------------------------------
# One measurement. Sets RESULT to instructions per call (2 decimals), or returns non-zero.
measure() {
    local server=$1 module=$2 tag=$3 tmp port out info calls failed sym_ir sym ir cg_calls
    RESULT=
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/hgetset-bench.XXXXXX") || return 1
    TMP_DIRS+=("$tmp")
    out=$tmp/callgrind.out
    TMP=$tmp
    start_server "$server" "$module" "$tag" "$VALGRIND" --tool=callgrind --callgrind-out-file="$out" ||
        return 1
    port=$PORT

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

    shutdown_server "$tag" || return 1

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
    cg_calls=$(calls_of "$out" "$sym")
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
