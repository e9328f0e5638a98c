#!/usr/bin/env bash
# The floor of issue 14's memory target for a stored JSON form smaller than its text (a probe:
# the json module's representation is not changed). `crates/jsondoc/examples/packed_probe.rs`
# encodes jsondoc's canonical compact text into a packed binary form and prints it back byte
# for byte; this script measures, for bench/json-doc.json and RedisJSON's 11 benchmark
# datasets:
#
# 1. sizes: canonical text and packed form (every document's round trip is checked first);
# 2. speed (callgrind, one probe process per document and round, medians of ROUNDS): each
#    measured function of the probe runs N times, instructions per call = its inclusive Ir / N:
#    copy (the text into a new Vec: what a stored text costs a GET), print (packed → text into
#    a Vec of the text's length), floor (the text cut into as many equal pieces as the document
#    has values and keys, each behind a length byte, printed back: one read and one copy per
#    token, the least a printer deciding per value or key does), set (jsondoc's `Document::from_json_str`, the SET fast path
#    `canon_fast`), encode (text → packed), and the walk of the document's path (jsondoc's
#    `Document::find` on the stored text against the packed walker);
# 3. memory floor: `used_memory` delta per key of MEMORY_KEYS plain strings as long as the
#    packed form, and as long as the text (reference), each on a fresh server (no module
#    calls; keys named as bench/json.sh's); a packed document costs at least the first + the
#    16-byte module value;
# 4. a plain GET and today's JSON.GET of the text under callgrind (the whole server process's
#    Ir per request of `redis-benchmark -P 16 -c 50`, as bench/json-throughput.sh runs them),
#    so the print's cost can be read as a share of a request.
#
# The datasets are extracted from the RedisJSON tests tarball into a temp dir (removed on exit).
# Writes a Markdown report to target/bench/json-packed.md.
#
# Environment:
#   REDIS_SERVER, VALKEY_SERVER, BENCH_SERVERS   servers of the memory measure (bench/lib.sh)
#   GET_SERVER       the server of step 4 (default: REDIS_SERVER)
#   JSON_SO          our module for step 4 (default: target/modules/json.so; step 4 skipped if absent)
#   REDISJSON_TESTS  the tests tarball (as bench/json-datasets.sh)
#   ROUNDS (3), MEMORY_KEYS (20000), GET_REQUESTS (100000)
#   REJSON_BYTES     "version:B/key ...": RedisJSON's B/key of bench/json-doc.json per server
#                    version, for the ratio (default: BENCHMARKS.md's JSON table, main at ba909ca)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=json-packed
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
COMPAT=${RS_RM_COMPAT:-/work/shared/compat}
REDISJSON_TESTS=${REDISJSON_TESTS:-$COMPAT/redisjson-2.8.19-tests.tar.gz}
JSON_SO=${JSON_SO:-$ROOT/target/modules/json.so}
GET_SERVER=${GET_SERVER:-$REDIS_SERVER}
ROUNDS=${ROUNDS:-3}
MEMORY_KEYS=${MEMORY_KEYS:-20000}
GET_REQUESTS=${GET_REQUESTS:-100000}
REJSON_BYTES=${REJSON_BYTES:-"7.0.15:2472 7.4.1:2456 9.1.2:2614"}
declare -A REJSON
for pair in $REJSON_BYTES; do REJSON[${pair%%:*}]=${pair#*:}; done
REPORT=$OUT_DIR/json-packed.md
PROBE=${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/packed_probe

# The bench document and RedisJSON's datasets (ALL_DATASETS, D_FILE, D_PATH: bench/lib.sh).
DOCS=(json-doc "${ALL_DATASETS[@]}")
D_PATH[json-doc]='$.friends[1].name'

for tool in "$REDIS_CLI" "$REDIS_BENCHMARK" "$VALGRIND" "$CALLGRIND_ANNOTATE" "$CALLGRIND_CONTROL" tar awk; do
    command -v "$tool" >/dev/null || die "required tool not found: $tool"
done
for n in ROUNDS MEMORY_KEYS GET_REQUESTS; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n must be a positive integer"
done
[[ -f $REDISJSON_TESTS ]] || die "RedisJSON tests tarball not found: $REDISJSON_TESTS (set REDISJSON_TESTS)"
resolve_servers
mkdir -p "$OUT_DIR"

log "building the probe"
(cd "$ROOT" && cargo build --release --quiet -p jsondoc --example packed_probe) || die "probe build failed"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/json-packed.XXXXXX") || die "mktemp failed"
TMP_DIRS+=("$WORK")
tar -xzf "$REDISJSON_TESTS" -C "$WORK" --strip-components=4 --wildcards \
    '*/tests/benchmarks/datasets/*.json' || die "extracting the datasets failed"
D_FILE[json-doc]=$ROOT/bench/json-doc.json
for d in "${DOCS[@]}"; do [[ $d == json-doc ]] || D_FILE[$d]=$WORK/${D_FILE[$d]}; done

# --- 1. sizes (and the round trip of every document) ---------------------------------------
declare -A TEXT PACKED DICT TOKENS N
for d in "${DOCS[@]}"; do
    read -r _ TEXT[$d] PACKED[$d] DICT[$d] TOKENS[$d] < <("$PROBE" sizes "${D_FILE[$d]}") ||
        die "$d: round trip failed"
    # Calls per measured function: about 2 MB of text, 20..1000.
    n=$((2000000 / TEXT[$d])); ((n > 1000)) && n=1000; ((n < 20)) && n=20
    N[$d]=$n
    log "$d: text ${TEXT[$d]} B, packed ${PACKED[$d]} B (${DICT[$d]} keys in the dictionary, ${TOKENS[$d]} values and keys), round trip exact"
done

# --- 2. speed ---------------------------------------------------------------------------------
FUNCS=(copy print floor set_text encode walk_text walk_packed)
declare -A IR
for ((round = 1; round <= ROUNDS; round++)); do
    for d in "${DOCS[@]}"; do
        out=$WORK/cg.$d.$round
        "$VALGRIND" --tool=callgrind --callgrind-out-file="$out" \
            "$PROBE" measure "${N[$d]}" "${D_FILE[$d]}" "${D_PATH[$d]}" >/dev/null 2>"$WORK/vg.log" ||
            { tail -n 5 "$WORK/vg.log" >&2; die "$d: probe failed under callgrind"; }
        for f in "${FUNCS[@]}"; do
            read -r _ ir < <(inclusive_ir "$out" "packed_probe::m_$f")
            [[ $ir =~ ^[0-9]+$ ]] || die "$d: no cost for m_$f"
            IR[$d,$f]+="$((ir / N[$d])) "
        done
        rm -f "$out"
    done
    log "round $round: json-doc copy ${IR[json-doc,copy]}print ${IR[json-doc,print]}walk ${IR[json-doc,walk_text]}/ ${IR[json-doc,walk_packed]}"
done
declare -A MED
for d in "${DOCS[@]}"; do
    for f in "${FUNCS[@]}"; do
        # shellcheck disable=SC2086
        MED[$d,$f]=$(median ${IR[$d,$f]})
    done
done

# --- 3. memory floor: plain strings of the packed length and of the text length -------------
# A fresh server without module (the strings' cost is all there is to measure), on a free
# port (retried when another process takes it).
start_plain() { TMP=$WORK start_server "$1" "" "strings"; }
# used_memory delta per key of MEMORY_KEYS strings of $2 bytes (keys as bench/json.sh's).
string_bytes() {
    local server=$1 len=$2 before after
    start_plain "$server" || return 1
    used() { cli INFO memory | tr -d '\r' | sed -n 's/^used_memory:\([0-9]*\)$/\1/p'; }
    before=$(used)
    LC_ALL=C awk -v n="$MEMORY_KEYS" -v len="$len" 'BEGIN {
        v = sprintf("%*s", len, ""); gsub(/ /, "x", v)
        for (i = 0; i < n; i++) {
            key = sprintf("str:%012d", i)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(key), key, len, v
        }
    }' | cli --pipe >"$WORK/pipe.log" 2>&1
    grep -q "errors: 0, replies: $MEMORY_KEYS" "$WORK/pipe.log" || { tail -n 3 "$WORK/pipe.log" >&2; return 1; }
    after=$(used)
    shutdown_server "string $len" || return 1
    echo $(((after - before) / MEMORY_KEYS))
}
declare -A MEM LABEL
for s in "${SERVERS[@]}"; do
    LABEL[$s]=$(server_label "$s")
    for len in "${PACKED[json-doc]}" "${TEXT[json-doc]}"; do
        MEM[$s,$len]=$(string_bytes "$s" "$len") || die "${LABEL[$s]}: memory of $len-byte strings failed"
    done
    log "${LABEL[$s]}: strings of ${PACKED[json-doc]} B: ${MEM[$s,${PACKED[json-doc]}]} B/key, of ${TEXT[json-doc]} B: ${MEM[$s,${TEXT[json-doc]}]} B/key"
done

# --- 4. a GET and today's JSON.GET under callgrind ---------------------------------------------
GET_PLAIN= GET_CMD= GET_JSON= GET_JSON_CMD=
if [[ -f $JSON_SO ]]; then
    JSON_SO=$(cd "$(dirname "$JSON_SO")" && pwd)/$(basename "$JSON_SO")
    GET_SERVER=$(command -v "$GET_SERVER") || die "server not found: $GET_SERVER"
    TMP=$WORK
    SERVER_ARGS=()
    DOC=$(tr -d '\n' <"$ROOT/bench/json-doc.json")
    start_server "$GET_SERVER" "$JSON_SO" get "$VALGRIND" --tool=callgrind \
        --callgrind-out-file="$WORK/get.%p.out" || die "GET server failed to start"
    load_doc_keys || die "GET server: loading the keys failed"
    # Per request: the whole process's Ir and the command's own (bench/lib.sh's request_ir).
    per_request() { request_ir "$WORK/get" "$1" "$2" "$GET_REQUESTS" "${@:3}"; }
    g=() gc=() j=() jc=()
    for ((round = 1; round <= ROUNDS; round++)); do
        read -r a b < <(per_request get getCommand GET 'str:__rand_int__')
        g+=("$a") gc+=("$b")
        read -r a b < <(per_request jget '(Redis|Valkey)ModuleCommandDispatcher' JSON.GET 'doc:__rand_int__')
        j+=("$a") jc+=("$b")
    done
    GET_PLAIN=$(median "${g[@]}") GET_CMD=$(median "${gc[@]}")
    GET_JSON=$(median "${j[@]}") GET_JSON_CMD=$(median "${jc[@]}")
    log "per request (whole server, -P 16 -c 50): GET ${g[*]} (getCommand ${gc[*]}), JSON.GET ${j[*]} (dispatcher ${jc[*]})"
    shutdown_server get || true
else
    log "no $JSON_SO: step 4 skipped (bash tools/build-modules.sh builds it)"
fi

# --- report -------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
    echo "# Packed JSON form: sizes, print/walk/encode cost, memory floor (bench/json-packed.sh)"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), ROUNDS=$ROUNDS (medians), probe: crates/jsondoc/examples/packed_probe.rs"
    echo
    echo "| document | text B | packed B | packed/text | dict keys | values + keys | copy | print | print/copy | floor | floor/copy | set (canon_fast) | encode | path | walk text | walk packed |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|"
    for d in "${DOCS[@]}"; do
        echo "| $d | ${TEXT[$d]} | ${PACKED[$d]} | $(ratio "${PACKED[$d]}" "${TEXT[$d]}") | ${DICT[$d]} | ${TOKENS[$d]} | ${MED[$d,copy]} | ${MED[$d,print]} | $(ratio "${MED[$d,print]}" "${MED[$d,copy]}") | ${MED[$d,floor]} | $(ratio "${MED[$d,floor]}" "${MED[$d,copy]}") | ${MED[$d,set_text]} | ${MED[$d,encode]} | \`${D_PATH[$d]}\` | ${MED[$d,walk_text]} | ${MED[$d,walk_packed]} |"
    done
    echo
    echo "Memory floor of bench/json-doc.json (${TEXT[json-doc]} B text, ${PACKED[json-doc]} B packed), $MEMORY_KEYS plain strings, used_memory delta per key:"
    echo
    echo "| server | string of ${PACKED[json-doc]} B | floor = + 16 (module value) | RedisJSON B/key | floor / RedisJSON | string of ${TEXT[json-doc]} B (the text) | floor / text string |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for s in "${SERVERS[@]}"; do
        p=${MEM[$s,${PACKED[json-doc]}]} t=${MEM[$s,${TEXT[json-doc]}]}
        rj=${REJSON[${LABEL[$s]##* }]:-}
        floor=$((p + 16))
        echo "| ${LABEL[$s]} | $p | $floor | ${rj:-?} | ${rj:+$(ratio "$floor" "$rj")} | $t | $(ratio "$floor" "$t") |"
    done
    if [[ -n $GET_PLAIN ]]; then
        p=${MED[json-doc,print]} c=${MED[json-doc,copy]}
        echo
        echo "Per request on $(server_label "$GET_SERVER") (whole server process under callgrind, \`redis-benchmark -P 16 -c 50 -n $GET_REQUESTS -r 1000\`, medians):"
        echo
        echo "| request | whole server / request | the command (getCommand / module dispatcher) |"
        echo "|---|---:|---:|"
        echo "| GET of the text | $GET_PLAIN | $GET_CMD |"
        echo "| JSON.GET, text stored (today) | $GET_JSON ($(ratio "$GET_JSON" "$GET_PLAIN")× GET) | $GET_JSON_CMD |"
        echo "| JSON.GET, packed stored: + print − copy | $((GET_JSON + p - c)) ($(ratio "$((GET_JSON + p - c))" "$GET_PLAIN")× GET) | $((GET_JSON_CMD + p - c)) |"
        echo "| JSON.GET, packed stored: + print (the reply still copies) | $((GET_JSON + p)) ($(ratio "$((GET_JSON + p))" "$GET_PLAIN")× GET) | $((GET_JSON_CMD + p)) |"
    fi
} >"$REPORT"
cat "$REPORT"
log "report: $REPORT ($((SECONDS)) s)"
