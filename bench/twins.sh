#!/usr/bin/env bash
# The SDK against C twins: instructions per call of five commands written with rs-rm
# (bench/twins, A) and their best-practice C twins (bench/ref/twins.c, B).
#
# Per server binary, module and round (A and B alternate), one server runs under callgrind
# with the module loaded; keys are set up, then each workload runs between
# `callgrind_control --zero` and `--dump`, so each dump holds one workload. Its cost is the
# inclusive Ir of RedisModuleCommandDispatcher (ValkeyModuleCommandDispatcher on Valkey) /
# calls (checked against INFO commandstats and callgrind's own call count). For TWIN.BLOCK the
# reply callback runs later, from the server's moduleHandleBlockedClients: its inclusive Ir is
# added (the callback, the reply, freeing the value, unblocking the client).
# Prints a Markdown table and writes it to target/bench/twins.md.
#
# Exit status: 0 when everything was measured (whether or not the targets are met), non-zero
# when something could not be measured.
#
# Environment:
#   REDIS_SERVER, VALKEY_SERVER, BENCH_SERVERS   servers, as in bench/hgetset.sh
#   TWINS_SO         Rust module (default: target/bench/twins.so, built here unless set)
#   TWINS_C_SO       C module (default: target/bench/twins_c.so, built here)
#   ROUNDS (3), REQUESTS (20000), BLOCK_REQUESTS (5000), KEYSPACE (1000), TARGET (1.02)
#   KEEP_PROFILES    if 1, keep the dumps in target/bench/profiles/twins-*.callgrind
#   REDIS_CLI, REDIS_BENCHMARK, VALGRIND, CALLGRIND_ANNOTATE, CALLGRIND_CONTROL, CC
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The server list, tools, OUT_DIR; log/die, start_server/shutdown_server/cleanup (on exit),
# callgrind helpers, median.
BENCH_NAME=twins
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-20000}
BLOCK_REQUESTS=${BLOCK_REQUESTS:-5000}
KEYSPACE=${KEYSPACE:-1000}
TARGET=${TARGET:-1.02}
MEDIAN_DIGITS=1 # instructions per call, as the report prints them
CC=${CC:-gcc}
REPORT=$OUT_DIR/twins.md

for tool in "$REDIS_CLI" "$REDIS_BENCHMARK" "$VALGRIND" "$CALLGRIND_ANNOTATE" "$CALLGRIND_CONTROL" "$CC"; do
    command -v "$tool" >/dev/null || die "required tool not found: $tool"
done
resolve_servers

mkdir -p "$OUT_DIR"
if [[ -z ${TWINS_SO:-} ]]; then
    log "building target/bench/twins.so (cargo build --release -p twins)"
    (cd "$ROOT" && cargo build --release --quiet -p twins) || die "failed to build bench/twins"
    cp -f "$ROOT/target/release/libtwins.so" "$OUT_DIR/twins.so.tmp" && mv -f "$OUT_DIR/twins.so.tmp" "$OUT_DIR/twins.so"
    TWINS_SO=$OUT_DIR/twins.so
fi
if [[ -z ${TWINS_C_SO:-} ]]; then
    log "building target/bench/twins_c.so"
    (cd "$ROOT" && "$CC" -O2 -fPIC -shared -pthread -I vendor -o target/bench/twins_c.so bench/ref/twins.c) \
        || die "failed to build the C twins"
    TWINS_C_SO=$OUT_DIR/twins_c.so
fi
[[ -f $TWINS_SO && -f $TWINS_C_SO ]] || die "module not found"
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
TWINS_SO=$(abs "$TWINS_SO") TWINS_C_SO=$(abs "$TWINS_C_SO")

# RESP for `redis-cli --pipe`: $1 command words with KEY (zero-padded like __rand_int__).
pipe_keys() { # prefix value-command...
    awk -v n="$KEYSPACE" -v prefix="$1" -v cmd="$2" -v val="$3" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = sprintf("%s%012d", prefix, i)
            printf "*3\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(cmd), cmd, length(k), k, length(val), val
        }
    }' | cli --pipe >/dev/null 2>&1
}

PHASES=(mget3 range100 incr typeget block)
declare -A P_LABEL=(
    [mget3]='`TWIN.MGET3 k1 k2 k3` (3 string keys)'
    [range100]='`TWIN.RANGE100` (100 bulk strings)'
    [incr]='`TWIN.INCR key` (`RedisModule_Call("INCR")`)'
    [typeget]='`TWIN.TYPEGET key` (custom data type)'
    [block]='`TWIN.BLOCK` (block, thread unblocks, reply callback)'
)
phase_args() {
    case $1 in
        mget3) PA=(twin.mget3 's:__rand_int__' 's:__rand_int__' 's:__rand_int__') ;;
        range100) PA=(twin.range100) ;;
        incr) PA=(twin.incr 'c:__rand_int__') ;;
        typeget) PA=(twin.typeget 't:__rand_int__') ;;
        block) PA=(twin.block) ;;
    esac
}

declare -A R
measure() {
    local server=$1 module=$2 tag=$3 tmp out phase n info calls failed sym_ir sym ir cg_calls dump dumps=0 extra
    R=()
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/twins-bench.XXXXXX") || return 1
    TMP_DIRS+=("$tmp")
    out=$tmp/callgrind.out
    TMP=$tmp
    start_server "$server" "$module" "$tag" "$VALGRIND" --tool=callgrind --callgrind-out-file="$out" ||
        return 1

    pipe_keys s: SET 'value:0123456789' && pipe_keys t: TWIN.TYPESET 12345 \
        || { log "$tag: setup failed"; return 1; }
    [[ $(cli DBSIZE) == $((2 * KEYSPACE)) ]] || { log "$tag: setup: DBSIZE $(cli DBSIZE)"; return 1; }
    for phase in "${PHASES[@]}"; do
        phase_args "$phase"
        n=$REQUESTS; [[ $phase == block ]] && n=$BLOCK_REQUESTS
        cli CONFIG RESETSTAT >/dev/null
        "$CALLGRIND_CONTROL" --zero "$SERVER_PID" >/dev/null 2>&1 || { log "$tag: callgrind_control failed"; return 1; }
        if ! timeout 900 "$REDIS_BENCHMARK" -p "$PORT" -c 1 -n "$n" -r "$KEYSPACE" -q \
            "${PA[@]}" >"$tmp/bench.log" 2>&1; then
            log "$tag: $phase: redis-benchmark failed"; tail -c 2000 "$tmp/bench.log" >&2; return 1
        fi
        "$CALLGRIND_CONTROL" --dump="$phase" "$SERVER_PID" >/dev/null 2>&1 || { log "$tag: callgrind_control failed"; return 1; }
        dumps=$((dumps + 1))
        dump=$out.$dumps
        [[ -s $dump ]] || { log "$tag: $phase: no dump"; return 1; }
        info=$(cli INFO commandstats 2>/dev/null | tr -d '\r')
        calls=$(sed -n "s/^cmdstat_${PA[0]}:calls=\([0-9]*\).*/\1/p" <<<"$info")
        failed=$(sed -n "s/^cmdstat_${PA[0]}:.*failed_calls=\([0-9]*\).*/\1/p" <<<"$info")
        if [[ $calls != "$n" ]]; then log "$tag: $phase: expected $n calls, INFO says ${calls:-none}"; return 1; fi
        if [[ -n $failed && $failed -ne 0 ]]; then log "$tag: $phase: $failed calls failed"; return 1; fi
        sym_ir=$(inclusive_ir "$dump" '(Redis|Valkey)ModuleCommandDispatcher')
        [[ -n $sym_ir ]] || { log "$tag: $phase: no dispatcher in the profile"; return 1; }
        read -r sym ir <<<"$sym_ir"
        cg_calls=$(calls_of "$dump" "$sym")
        [[ $cg_calls -eq $calls ]] || { log "$tag: $phase: callgrind $cg_calls calls, INFO $calls"; return 1; }
        if [[ $phase == block ]]; then
            extra=$(inclusive_ir "$dump" 'moduleHandleBlockedClients')
            [[ -n $extra ]] || { log "$tag: block: no moduleHandleBlockedClients in the profile"; return 1; }
            ir=$((ir + ${extra#* }))
        fi
        R[$phase]=$(awk -v ir="$ir" -v n="$calls" 'BEGIN { printf "%.1f", ir / n }')
        if [[ ${KEEP_PROFILES:-0} == 1 ]]; then
            mkdir -p "$OUT_DIR/profiles"
            cp -- "$dump" "$OUT_DIR/profiles/twins-${tag// /-}-$phase.callgrind"
        fi
    done
    log "$tag: $(for p in "${PHASES[@]}"; do printf '%s=%s ' "$p" "${R[$p]}"; done)"
    shutdown_server "$tag"
}

START=$SECONDS
ERRORS=0
declare -A VALS
declare -A MOD_PATH=([A]=$TWINS_SO [B]=$TWINS_C_SO)
for si in "${!SERVERS[@]}"; do
    for ((r = 1; r <= ROUNDS; r++)); do
        for m in A B; do
            tag="$(basename "${SERVERS[$si]}") $m round $r"
            if measure "${SERVERS[$si]}" "${MOD_PATH[$m]}" "$tag"; then
                for p in "${PHASES[@]}"; do VALS[$si,$m,$p]+="${R[$p]} "; done
            else
                for p in "${PHASES[@]}"; do VALS[$si,$m,$p]+="n/a "; done
                ERRORS=$((ERRORS + 1))
            fi
            cleanup
        done
    done
done

{
    echo "### The SDK against C twins: instructions per call"
    echo
    echo "callgrind inclusive Ir of \`RedisModuleCommandDispatcher\` (\`ValkeyModuleCommandDispatcher\`) / calls;" \
        "for TWIN.BLOCK plus the inclusive Ir of \`moduleHandleBlockedClients\` (the reply callback)." \
        "A: Rust \`bench/twins\`, B: C \`bench/ref/twins.c\`. \`redis-benchmark -c 1 -n $REQUESTS -r $KEYSPACE\`" \
        "($BLOCK_REQUESTS for TWIN.BLOCK), $KEYSPACE keys of each kind set up first; $ROUNDS rounds, A/B alternating," \
        "medians; $(date -u +%Y-%m-%d)."
    echo
    echo "| server | command | A: Rust (rounds) | B: C (rounds) | A median | B median | A/B | ≤ $TARGET |"
    echo "|---|---|---|---|---:|---:|---:|---|"
    for si in "${!SERVERS[@]}"; do
        label=$(server_label "${SERVERS[$si]}")
        for p in "${PHASES[@]}"; do
            row="| $label | ${P_LABEL[$p]} |"
            declare -A MED=()
            for m in A B; do
                read -ra vals <<<"${VALS[$si,$m,$p]}"
                nums=()
                for v in "${vals[@]}"; do [[ $v != n/a ]] && nums+=("$v"); done
                MED[$m]=n/a
                ((${#nums[@]} == ${#vals[@]} && ${#nums[@]} > 0)) && MED[$m]=$(median "${nums[@]}")
                row+=" ${vals[*]} |"
            done
            if [[ ${MED[A]} == n/a || ${MED[B]} == n/a ]]; then
                row+=" ${MED[A]} | ${MED[B]} | n/a | **NOT MEASURED** |"
            else
                row+=$(awk -v a="${MED[A]}" -v b="${MED[B]}" -v t="$TARGET" 'BEGIN {
                    r = a / b; printf " %s | %s | %.4f | **%s** |", a, b, r, (r <= t + 0 ? "PASS" : "FAIL") }')
            fi
            echo "$row"
        done
    done
} | tee "$REPORT"

log "report written to $REPORT; took $((SECONDS - START))s"
((ERRORS == 0)) || { log "$ERRORS measurement(s) failed"; exit 1; }
exit 0
