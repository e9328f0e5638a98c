#!/usr/bin/env bash
# End-to-end JSON throughput: requests per second of `redis-benchmark -P 16 -c 50` for
# JSON.SET / JSON.GET of bench/json-doc.json with our json.so (A) and RedisJSON 2.8's rejson.so
# (B), and plain SET / GET of the same text on the same server process (the reference: the
# issue wants JSON.GET of a whole document within 10% of GET).
#
# Per server and round, A and B alternate; each gets a fresh server (no valgrind), KEYSPACE
# documents and strings are stored first, then SET, GET, JSON.SET, JSON.GET run in that order
# (`-n REQUESTS -r KEYSPACE`, so the writes overwrite existing keys). Wall-clock rates depend on
# the machine and its load: compare numbers of one run only. Medians of ROUNDS rounds; the
# plain SET/GET figures are the medians over both modules' servers.
#
# Writes a Markdown report to target/bench/json-throughput.md.
#
# Environment: REDIS_SERVER, VALKEY_SERVER, BENCH_SERVERS, JSON_SO, REJSON_SO as bench/json.sh;
#   ROUNDS (5), REQUESTS (200000), KEYSPACE (1000), PIPELINE (16), CLIENTS (50),
#   REDIS_CLI, REDIS_BENCHMARK
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The server list, tools, OUT_DIR; log/die, start_server/shutdown_server/cleanup (on exit),
# callgrind helpers, median.
BENCH_NAME=json-throughput
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
JSON_SO=${JSON_SO:-$ROOT/target/modules/json.so}
REJSON_SO=${REJSON_SO:-$ROOT/target/bench/rejson/0.1.8/rejson.so}
ROUNDS=${ROUNDS:-5}
REQUESTS=${REQUESTS:-200000}
KEYSPACE=${KEYSPACE:-1000}
PIPELINE=${PIPELINE:-16}
CLIENTS=${CLIENTS:-50}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
REPORT=$OUT_DIR/json-throughput.md
DOC_FILE=$ROOT/bench/json-doc.json

for tool in "$REDIS_CLI" "$REDIS_BENCHMARK" awk; do
    command -v "$tool" >/dev/null || die "required tool not found: $tool"
done
for n in ROUNDS REQUESTS KEYSPACE PIPELINE CLIENTS; do
    [[ ${!n} =~ ^[1-9][0-9]*$ ]] || die "$n must be a positive integer"
done
[[ -f $JSON_SO ]] || die "our module not found: $JSON_SO"
[[ -f $REJSON_SO ]] || die "rejson.so not found: $REJSON_SO (bash bench/json.sh fetches it, or set REJSON_SO)"
JSON_SO=$(cd "$(dirname "$JSON_SO")" && pwd)/$(basename "$JSON_SO")
REJSON_SO=$(cd "$(dirname "$REJSON_SO")" && pwd)/$(basename "$REJSON_SO")
DOC=$(tr -d '\n' <"$DOC_FILE")
resolve_servers
mkdir -p "$OUT_DIR"

# Requests per second of one redis-benchmark run (the command in the arguments).
rate() {
    timeout "$BENCH_TIMEOUT" "$REDIS_BENCHMARK" -p "$PORT" -P "$PIPELINE" -c "$CLIENTS" -n "$REQUESTS" \
        -r "$KEYSPACE" -q "$@" 2>&1 | tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1
}

OPS=(set get jset jget)
declare -A VALS
ERRORS=0
START=$SECONDS
for si in "${!SERVERS[@]}"; do
    for ((r = 1; r <= ROUNDS; r++)); do
        for m in A B; do
            so=$JSON_SO; [[ $m == B ]] && so=$REJSON_SO
            TMP=$(mktemp -d "${TMPDIR:-/tmp}/json-throughput.XXXXXX")
            TMP_DIRS+=("$TMP")
            if ! start_server "${SERVERS[$si]}" "$so" "$(basename "${SERVERS[$si]}") $m round $r"; then ERRORS=$((ERRORS + 1)); cleanup; continue; fi
            # Every key exists before the timed runs (no run measures creation).
            rate -P 1 -c 10 -n "$((KEYSPACE * 20))" SET 'str:__rand_int__' "$DOC" >/dev/null
            rate -P 1 -c 10 -n "$((KEYSPACE * 20))" JSON.SET 'doc:__rand_int__' '$' "$DOC" >/dev/null
            declare -A got=(
                [set]=$(rate SET 'str:__rand_int__' "$DOC")
                [get]=$(rate GET 'str:__rand_int__')
                [jset]=$(rate JSON.SET 'doc:__rand_int__' '$' "$DOC")
                [jget]=$(rate JSON.GET 'doc:__rand_int__')
            )
            # The same reply size (JSON.GET prints the canonical form: `1.3e2` as `130.0`).
            jlen=$("$REDIS_CLI" -p "$PORT" JSON.GET 'doc:000000000001' | wc -c)
            slen=$("$REDIS_CLI" -p "$PORT" GET 'str:000000000001' | wc -c)
            ((jlen > slen - 16 && jlen < slen + 16)) ||
                log "warning: ${SERVERS[$si]} $m: JSON.GET answers $jlen bytes, GET $slen"
            for op in "${OPS[@]}"; do
                if [[ -z ${got[$op]} ]]; then log "$m round $r: $op not measured"; ERRORS=$((ERRORS + 1)); got[$op]=n/a; fi
                key=$op; [[ $op == j* ]] && key=$op$m
                VALS[$si,$key]+="${got[$op]} "
            done
            log "$(basename "${SERVERS[$si]}") $m round $r: SET ${got[set]} GET ${got[get]} JSON.SET ${got[jset]} JSON.GET ${got[jget]}"
            cleanup
        done
    done
done

med() { local v; read -ra v <<<"${VALS[$1]}"; [[ " ${v[*]} " == *" n/a "* ]] && echo n/a || median "${v[@]}"; }
{
    echo "### JSON throughput: \`redis-benchmark -P $PIPELINE -c $CLIENTS\`, requests per second"
    echo
    echo "Document \`bench/json-doc.json\` (1035 B) over $KEYSPACE keys, $REQUESTS requests per run," \
        "medians of $ROUNDS rounds (A and B alternating, each on a fresh server; SET/GET: both" \
        "modules' servers). $(date -u +%Y-%m-%d), \`bash bench/json-throughput.sh\`."
    echo
    echo "| server | SET | GET | JSON.SET A | JSON.SET B | JSON.GET A | JSON.GET B | JSON.GET A / GET | JSON.GET B / GET |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    for si in "${!SERVERS[@]}"; do
        s=${SERVERS[$si]}
        label=$(basename "$s")" "$("$s" --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
        set_m=$(med "$si,set"); get_m=$(med "$si,get")
        ja=$(med "$si,jgetA"); jb=$(med "$si,jgetB")
        ratio() { [[ $1 == n/a || $2 == n/a ]] && echo n/a || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
        echo "| $label | $set_m | $get_m | $(med "$si,jsetA") | $(med "$si,jsetB") | $ja | $jb | $(ratio "$ja" "$get_m") | $(ratio "$jb" "$get_m") |"
    done
    echo
    for si in "${!SERVERS[@]}"; do
        for k in set get jsetA jsetB jgetA jgetB; do echo "- $(basename "${SERVERS[$si]}") $k: ${VALS[$si,$k]% }"; done
    done
} | tee "$REPORT"
log "report written to $REPORT; took $((SECONDS - START))s"
((ERRORS == 0)) || exit 1
