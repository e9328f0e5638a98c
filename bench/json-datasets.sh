#!/usr/bin/env bash
# JSON on RedisJSON's own benchmark documents: our json.so (A) against RedisJSON 2.8's
# rejson.so (B), per document: JSON.SET of the whole document, JSON.GET of the whole document,
# one typical path read, and memory per key.
#
# The documents are `tests/benchmarks/datasets/*.json` of the RedisJSON v2.8.19 tests tarball
# (RSALv2/SSPLv1, never copied into this repository): the script extracts them at run time
# into target/bench/datasets/. Speed is measured as in bench/json.sh: per server, module and
# round one server runs under callgrind; every workload runs between `callgrind_control --zero`
# and `--dump`; instructions per call = inclusive Ir of the module command dispatcher / calls,
# cross-checked against INFO commandstats. JSON.SET sends the file as it is (as RedisJSON's
# memtier definitions do with `-x`), through `redis-cli --pipe` (a 633 KB file does not fit in
# one argv word of redis-benchmark); the reads run `redis-benchmark -c 1`. Calls per workload
# scale with the size (about BYTES_PER_PHASE bytes, between 20 and REQUESTS calls).
# Memory: a server without valgrind; used_memory before and after storing the document under
# many keys, divided by the keys; the compact text as plain strings for reference.
#
# Writes a Markdown report to target/bench/json-datasets.md. Exit status: 0 when everything
# was measured, non-zero when something could not be measured.
#
# Environment:
#   REDIS_SERVER, VALKEY_SERVER, BENCH_SERVERS, JSON_SO, REJSON_SO   as bench/json.sh
#   REDISJSON_TESTS  the tests tarball (default: /work/shared/compat/redisjson-2.8.19-tests.tar.gz,
#                    or $RS_RM_COMPAT/redisjson-2.8.19-tests.tar.gz)
#   ROUNDS (3), REQUESTS (2000, calls per workload at most), BYTES_PER_PHASE (1000000),
#   MEMORY_BYTES (16000000: keys of the memory measure = this / document size, 100..20000)
#   DATASETS         space-separated subset of the dataset names below (default: all)
#   KEEP_PROFILES    if 1, keep the callgrind dumps in target/bench/profiles/
#   REDIS_CLI, REDIS_BENCHMARK, VALGRIND, CALLGRIND_ANNOTATE, CALLGRIND_CONTROL, PYTHON
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The server list, tools, OUT_DIR; log/die, start_server/shutdown_server/cleanup (on exit),
# callgrind helpers, median.
BENCH_NAME=json-datasets
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
JSON_SO=${JSON_SO:-$ROOT/target/modules/json.so}
REJSON_SO=${REJSON_SO:-$ROOT/target/bench/rejson/0.1.8/rejson.so}
COMPAT=${RS_RM_COMPAT:-/work/shared/compat}
REDISJSON_TESTS=${REDISJSON_TESTS:-$COMPAT/redisjson-2.8.19-tests.tar.gz}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-2000}
BYTES_PER_PHASE=${BYTES_PER_PHASE:-1000000}
MEMORY_BYTES=${MEMORY_BYTES:-16000000}
PYTHON=${PYTHON:-python3}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-900}

REPORT=$OUT_DIR/json-datasets.md
DATA_DIR=$OUT_DIR/datasets

# The documents: ALL_DATASETS, D_FILE and D_PATH (bench/lib.sh).
read -ra DATASETS <<<"${DATASETS:-${ALL_DATASETS[*]}}"

# A whole data set file goes in one argument (redis-cli --pipe).
SERVER_ARGS=(--proto-max-bulk-len 64mb)

# --- preflight -----------------------------------------------------------------------------
for tool in "$REDIS_CLI" "$REDIS_BENCHMARK" "$VALGRIND" "$CALLGRIND_ANNOTATE" \
    "$CALLGRIND_CONTROL" "$PYTHON" awk tar; do
    command -v "$tool" >/dev/null || die "required tool not found: $tool"
done
for n in ROUNDS REQUESTS BYTES_PER_PHASE MEMORY_BYTES; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n must be a positive integer"
done
for d in "${DATASETS[@]}"; do [[ -n ${D_FILE[$d]:-} ]] || die "unknown dataset: $d"; done
[[ -f $JSON_SO ]] || die "our module not found: $JSON_SO (bash tools/build-modules.sh, or set JSON_SO)"
[[ -f $REJSON_SO ]] || die "rejson.so not found: $REJSON_SO (bash bench/json.sh fetches it, or set REJSON_SO)"
JSON_SO=$(cd "$(dirname "$JSON_SO")" && pwd)/$(basename "$JSON_SO")
REJSON_SO=$(cd "$(dirname "$REJSON_SO")" && pwd)/$(basename "$REJSON_SO")
resolve_servers

# The datasets, extracted at run time (never part of the repository).
mkdir -p "$DATA_DIR"
missing=0
for d in "${DATASETS[@]}"; do [[ -f $DATA_DIR/${D_FILE[$d]} ]] || missing=1; done
if ((missing)); then
    [[ -f $REDISJSON_TESTS ]] || die "RedisJSON tests tarball not found: $REDISJSON_TESTS (set REDISJSON_TESTS)"
    tar -xzf "$REDISJSON_TESTS" -C "$DATA_DIR" --strip-components=4 --wildcards \
        '*/tests/benchmarks/datasets/*.json' || die "extracting the datasets from $REDISJSON_TESTS failed"
fi
# Per dataset: file size, compact size, calls per workload, keys, memory keys; the compact
# text (plain-string reference) and the RESP of the loads, written once.
declare -A D_SIZE D_COMPACT D_CALLS D_KEYS D_MEMKEYS
for d in "${DATASETS[@]}"; do
    f=$DATA_DIR/${D_FILE[$d]}
    [[ -f $f ]] || die "dataset not found: $f"
    D_SIZE[$d]=$(wc -c <"$f")
    "$PYTHON" - "$f" "$f.compact" <<'PY' || die "$f: not JSON"
import json, sys
with open(sys.argv[1], "rb") as f:
    doc = json.loads(f.read())
with open(sys.argv[2], "wb") as out:
    out.write(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode())
PY
    D_COMPACT[$d]=$(wc -c <"$f.compact")
    calls=$((BYTES_PER_PHASE / D_SIZE[$d]))
    ((calls < 20)) && calls=20
    ((calls > REQUESTS)) && calls=$REQUESTS
    D_CALLS[$d]=$calls
    keys=$((calls < 1000 ? calls : 1000))
    D_KEYS[$d]=$keys
    mk=$((MEMORY_BYTES / D_SIZE[$d]))
    ((mk < 100)) && mk=100
    ((mk > 20000)) && mk=20000
    D_MEMKEYS[$d]=$mk
done

# RESP of `JSON.SET <prefix><i % keys> $ <file>` (or `SET` with plain=1) for i in 0..n-1, keys
# named as redis-benchmark's __rand_int__ (12 digits).
resp() { # file prefix n keys plain out
    "$PYTHON" - "$@" <<'PY'
import sys
path, prefix, n, keys, plain, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1", sys.argv[6]
doc = open(path, "rb").read()
def bulk(b): return b"$%d\r\n%s\r\n" % (len(b), b)
with open(out, "wb") as f:
    for i in range(n):
        key = b"%s%012d" % (prefix.encode(), i % keys)
        if plain:
            f.write(b"*3\r\n" + bulk(b"SET") + bulk(key) + bulk(doc))
        else:
            f.write(b"*4\r\n" + bulk(b"JSON.SET") + bulk(key) + bulk(b"$") + bulk(doc))
PY
}

# --- helpers -------------------------------------------------------------------------------
# Send a RESP file with redis-cli --pipe; fails unless every one of $2 replies was OK.
pipe_file() {
    cli --pipe <"$1" >"$TMP/pipe.log" 2>&1
    grep -q "errors: 0, replies: $2" "$TMP/pipe.log" || { tail -n 5 "$TMP/pipe.log" >&2; return 1; }
}

# --- speed ---------------------------------------------------------------------------------
PHASES=(set get path)
declare -A R PATH_REPLY
DUMPS=0
# Run one workload (the command in the remaining words) between zero and dump; sets R[$d,$phase].
run_phase() {
    local d=$1 phase=$2 tag=$3 cmd=$4 n=$5 info calls failed sym_ir sym ir cg dump
    shift 5
    cli CONFIG RESETSTAT >/dev/null
    "$CALLGRIND_CONTROL" --zero "$SERVER_PID" >/dev/null 2>&1 || { log "$tag: callgrind_control failed"; return 1; }
    if [[ $phase == set ]]; then
        pipe_file "$TMP/set-$d.resp" "$n" || { log "$tag: $d set failed"; return 1; }
    elif ! timeout "$BENCH_TIMEOUT" "$REDIS_BENCHMARK" -p "$PORT" -c 1 -n "$n" -r "${D_KEYS[$d]}" -q \
        "$@" >"$TMP/bench.log" 2>&1; then
        log "$tag: $d $phase: redis-benchmark failed"; tail -c 2000 "$TMP/bench.log" >&2; return 1
    fi
    "$CALLGRIND_CONTROL" --dump="$d-$phase" "$SERVER_PID" >/dev/null 2>&1 || { log "$tag: callgrind_control failed"; return 1; }
    DUMPS=$((DUMPS + 1))
    dump=$TMP/callgrind.out.$DUMPS
    [[ -s $dump ]] || { log "$tag: $d $phase: no callgrind dump $dump"; return 1; }
    info=$(cli INFO commandstats 2>/dev/null | tr -d '\r')
    calls=$(sed -n "s/^cmdstat_${cmd}:calls=\([0-9]*\).*/\1/p" <<<"$info")
    failed=$(sed -n "s/^cmdstat_${cmd}:.*failed_calls=\([0-9]*\).*/\1/p" <<<"$info")
    [[ $calls == "$n" ]] || { log "$tag: $d $phase: expected $n calls, INFO says ${calls:-none}"; return 1; }
    [[ -z $failed || $failed == 0 ]] || { log "$tag: $d $phase: $failed calls failed"; return 1; }
    sym_ir=$(dispatcher_ir "$dump")
    [[ -n $sym_ir ]] || { log "$tag: $d $phase: no dispatcher in the profile"; return 1; }
    read -r sym ir <<<"$sym_ir"
    cg=$(calls_of "$dump" "$sym")
    [[ $cg == "$calls" ]] || { log "$tag: $d $phase: callgrind counted $cg calls, INFO $calls"; return 1; }
    R[$d,$phase]=$(awk -v ir="$ir" -v n="$calls" 'BEGIN { printf "%.0f", ir / n }')
    if [[ ${KEEP_PROFILES:-0} == 1 ]]; then
        mkdir -p "$OUT_DIR/profiles"
        cp -- "$dump" "$OUT_DIR/profiles/json-datasets-${tag// /-}-$d-$phase.callgrind"
    fi
}

measure_speed() {
    local server=$1 module=$2 tag=$3 m=$4 d key reply
    R=()
    DUMPS=0
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/json-datasets.XXXXXX") || return 1
    TMP_DIRS+=("$TMP")
    for d in "${DATASETS[@]}"; do
        resp "$DATA_DIR/${D_FILE[$d]}" "$d:" "${D_KEYS[$d]}" "${D_KEYS[$d]}" 0 "$TMP/load-$d.resp"
        resp "$DATA_DIR/${D_FILE[$d]}" "$d:" "${D_CALLS[$d]}" "${D_KEYS[$d]}" 0 "$TMP/set-$d.resp"
    done
    start_server "$server" "$module" "$tag" "$VALGRIND" --tool=callgrind \
        --callgrind-out-file="$TMP/callgrind.out" || return 1
    for d in "${DATASETS[@]}"; do
        pipe_file "$TMP/load-$d.resp" "${D_KEYS[$d]}" || { log "$tag: loading $d failed"; return 1; }
        key=$(printf '%s:%012d' "$d" 0)
        # Both modules must answer the path read alike (the same work).
        reply=$(cli JSON.GET "$key" "${D_PATH[$d]}" 2>&1)
        if [[ $m == A ]]; then PATH_REPLY[$d]=$reply
        elif [[ $reply != "${PATH_REPLY[$d]:-}" ]]; then
            log "$tag: $d: path ${D_PATH[$d]} answers $reply, A answered ${PATH_REPLY[$d]:-nothing}"; return 1
        fi
        [[ $reply == '['* && $reply != '[]' ]] || { log "$tag: $d: path ${D_PATH[$d]} answers $reply"; return 1; }
        run_phase "$d" set "$tag" json.set "${D_CALLS[$d]}" || return 1
        run_phase "$d" get "$tag" json.get "${D_CALLS[$d]}" JSON.GET "$d:__rand_int__" || return 1
        run_phase "$d" path "$tag" json.get "${D_CALLS[$d]}" JSON.GET "$d:__rand_int__" "${D_PATH[$d]}" || return 1
    done
    log "$tag: $(for d in "${DATASETS[@]}"; do printf '%s=%s/%s/%s ' "$d" "${R[$d,set]}" "${R[$d,get]}" "${R[$d,path]}"; done)"
    shutdown_server "$tag"
}

# --- memory --------------------------------------------------------------------------------
declare -A MEM STRING_MEM
measure_memory() {
    local server=$1 module=$2 tag=$3 with_string=$4 d before after n
    MEM=()
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/json-datasets.XXXXXX") || return 1
    TMP_DIRS+=("$TMP")
    start_server "$server" "$module" "$tag" env || return 1
    used() { cli INFO memory | tr -d '\r' | sed -n 's/^used_memory:\([0-9]*\)$/\1/p'; }
    for d in "${DATASETS[@]}"; do
        n=${D_MEMKEYS[$d]}
        resp "$DATA_DIR/${D_FILE[$d]}" "m$d:" "$n" "$n" 0 "$TMP/mem.resp"
        cli FLUSHALL SYNC >/dev/null
        before=$(used)
        pipe_file "$TMP/mem.resp" "$n" || { log "$tag: $d memory load failed"; return 1; }
        after=$(used)
        [[ $(cli DBSIZE) == "$n" ]] || { log "$tag: $d: expected $n keys"; return 1; }
        MEM[$d]=$(( (after - before) / n ))
        if [[ $with_string == 1 ]]; then
            resp "$DATA_DIR/${D_FILE[$d]}.compact" "s$d:" "$n" "$n" 1 "$TMP/mem.resp"
            cli FLUSHALL SYNC >/dev/null
            before=$(used)
            pipe_file "$TMP/mem.resp" "$n" || { log "$tag: $d string load failed"; return 1; }
            after=$(used)
            STRING_MEM[$SI,$d]=$(( (after - before) / n ))
        fi
        rm -f "$TMP/mem.resp"
    done
    log "$tag: memory $(for d in "${DATASETS[@]}"; do printf '%s=%s ' "$d" "${MEM[$d]}"; done)"
    shutdown_server "$tag"
}

# --- run -----------------------------------------------------------------------------------
START=$SECONDS
ERRORS=0
declare -A VALS
MODS=(A B)
declare -A MOD_PATH=([A]=$JSON_SO [B]=$REJSON_SO)
for SI in "${!SERVERS[@]}"; do
    srv=${SERVERS[$SI]}
    for ((r = 1; r <= ROUNDS; r++)); do
        for m in "${MODS[@]}"; do
            tag="$(basename "$srv") $m round $r"
            if measure_speed "$srv" "${MOD_PATH[$m]}" "$tag" "$m"; then
                for d in "${DATASETS[@]}"; do for p in "${PHASES[@]}"; do VALS[$SI,$m,$d,$p]+="${R[$d,$p]} "; done; done
            else
                for d in "${DATASETS[@]}"; do for p in "${PHASES[@]}"; do VALS[$SI,$m,$d,$p]+="n/a "; done; done
                ERRORS=$((ERRORS + 1))
            fi
            cleanup
            # Memory is deterministic enough for one measure per module and server.
            if ((r == 1)); then
                if measure_memory "$srv" "${MOD_PATH[$m]}" "$tag" "$([[ $m == A ]] && echo 1 || echo 0)"; then
                    for d in "${DATASETS[@]}"; do VALS[$SI,$m,$d,mem]=${MEM[$d]}; done
                else
                    for d in "${DATASETS[@]}"; do VALS[$SI,$m,$d,mem]=n/a; done
                    ERRORS=$((ERRORS + 1))
                fi
                cleanup
            fi
        done
    done
done

# --- report --------------------------------------------------------------------------------
med_of() {
    local vals nums=() v
    read -ra vals <<<"${VALS[$1]}"
    for v in "${vals[@]}"; do [[ $v != n/a ]] && nums+=("$v"); done
    if ((${#nums[@]} == ${#vals[@]} && ${#nums[@]} > 0)); then median "${nums[@]}"; else echo n/a; fi
}
cell() { # a b -> "a / b (r)"
    if [[ $1 == n/a || $2 == n/a ]]; then echo "$1 / $2"
    else awk -v a="$1" -v b="$2" 'BEGIN { printf "%d / %d (**%.2f**)", a, b, a / b }'; fi
}
{
    echo "### JSON on RedisJSON's benchmark documents: json.so (A) vs rejson.so 2.8 (B)"
    echo
    echo "Instructions per call (callgrind inclusive Ir of the module command dispatcher / calls," \
        "medians of $ROUNDS rounds) and memory per key (\`used_memory\` delta / keys), each cell" \
        "A / B (A/B). Documents: RedisJSON v2.8.19 \`tests/benchmarks/datasets/\`, extracted at run" \
        "time. SET sends the file as it is; size = file / compact bytes. String = the compact" \
        "text as a plain string (B/key). $(date -u +%Y-%m-%d), \`bash bench/json-datasets.sh\`."
    for SI in "${!SERVERS[@]}"; do
        echo
        echo "$(server_label "${SERVERS[$SI]}"):"
        echo
        echo "| document | size | calls | JSON.SET \`\$\` | JSON.GET | path | path read | memory | string |"
        echo "|---|---:|---:|---:|---:|---|---:|---:|---:|"
        for d in "${DATASETS[@]}"; do
            printf '| %s | %s / %s | %s | %s | %s | `%s` | %s | %s | %s |\n' "$d" "${D_SIZE[$d]}" "${D_COMPACT[$d]}" \
                "${D_CALLS[$d]}" \
                "$(cell "$(med_of "$SI,A,$d,set")" "$(med_of "$SI,B,$d,set")")" \
                "$(cell "$(med_of "$SI,A,$d,get")" "$(med_of "$SI,B,$d,get")")" \
                "${D_PATH[$d]}" \
                "$(cell "$(med_of "$SI,A,$d,path")" "$(med_of "$SI,B,$d,path")")" \
                "$(cell "${VALS[$SI,A,$d,mem]}" "${VALS[$SI,B,$d,mem]}")" \
                "${STRING_MEM[$SI,$d]:-n/a}"
        done
    done
} | tee "$REPORT"
log "report written to $REPORT; took $((SECONDS - START))s"
((ERRORS == 0)) || { log "$ERRORS measurement(s) failed"; exit 1; }
exit 0
