#!/usr/bin/env bash
# What extra print work per JSON.GET costs in throughput, measured with the real json module
# (the packed form itself is only a probe, bench/json-packed.sh). Today's JSON.GET has two
# paths that do more than reply the stored text, with the same document and a reply of about
# the same size:
#
#   jcopy   `JSON.GET key INDENT "" NEWLINE "" SPACE ""`: options parsed, the compact text
#           copied into a Vec, then replied (a copy more than plain JSON.GET);
#   jspace  `JSON.GET key SPACE " "`: the stored text walked token by token and re-printed
#           with a space after each colon (a printer over every value and key; the reply is
#           longer by one byte per key);
#
# next to plain GET and plain JSON.GET of the same text. Per server:
# 1. under callgrind: the whole server's Ir per request and the module dispatcher's (or
#    getCommand's) Ir per request of `redis-benchmark -P 16 -c 50 -n GET_REQUESTS -r 1000`;
# 2. without valgrind: requests per second of `redis-benchmark -P 16 -c 50 -n REQUESTS -r 1000`
#    (as bench/json-throughput.sh), the four requests in turn in each of ROUNDS rounds, a
#    fresh server per round; medians. Wall-clock rates on a shared machine: noisy.
# Writes target/bench/json-packed-proxy.md.
#
# Environment: REDIS_SERVER, VALKEY_SERVER, BENCH_SERVERS (bench/lib.sh), JSON_SO
#   (target/modules/json.so), ROUNDS (3), REQUESTS (200000), GET_REQUESTS (50000)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_NAME=json-packed-proxy
# shellcheck source=lib.sh
source "$ROOT/bench/lib.sh"
JSON_SO=${JSON_SO:-$ROOT/target/modules/json.so}
ROUNDS=${ROUNDS:-3}
REQUESTS=${REQUESTS:-200000}
GET_REQUESTS=${GET_REQUESTS:-50000}
REPORT=$OUT_DIR/json-packed-proxy.md
for tool in "$REDIS_CLI" "$REDIS_BENCHMARK" "$VALGRIND" "$CALLGRIND_ANNOTATE" "$CALLGRIND_CONTROL" awk; do
    command -v "$tool" >/dev/null || die "required tool not found: $tool"
done
[[ -f $JSON_SO ]] || die "our module not found: $JSON_SO (bash tools/build-modules.sh)"
JSON_SO=$(cd "$(dirname "$JSON_SO")" && pwd)/$(basename "$JSON_SO")
DOC=$(tr -d '\n' <"$ROOT/bench/json-doc.json")
resolve_servers
mkdir -p "$OUT_DIR"

REQS=(get jget jcopy jspace)
declare -A NAME=([get]="GET" [jget]="JSON.GET" [jcopy]='JSON.GET INDENT "" NEWLINE "" SPACE ""' [jspace]='JSON.GET SPACE " "')
# The redis-benchmark arguments of each request.
args_of() {
    case $1 in
        get) ARGS=(GET 'str:__rand_int__') ;;
        jget) ARGS=(JSON.GET 'doc:__rand_int__') ;;
        jcopy) ARGS=(JSON.GET 'doc:__rand_int__' INDENT '' NEWLINE '' SPACE '') ;;
        jspace) ARGS=(JSON.GET 'doc:__rand_int__' SPACE ' ') ;;
    esac
}

declare -A IR CMD RATE LEN LABEL
WORK=$(mktemp -d "${TMPDIR:-/tmp}/json-packed-proxy.XXXXXX") || die "mktemp failed"
TMP_DIRS+=("$WORK")
TMP=$WORK
for s in "${SERVERS[@]}"; do
    LABEL[$s]=$(server_label "$s")
    # --- 1. instructions per request --------------------------------------------------------
    start_server "$s" "$JSON_SO" callgrind "$VALGRIND" --tool=callgrind \
        --callgrind-out-file="$WORK/cg.%p.out" || die "${LABEL[$s]}: callgrind server failed"
    load_doc_keys || die "${LABEL[$s]}: loading failed"
    for r in "${REQS[@]}"; do
        args_of "$r"
        LEN[$s,$r]=$(cli "${ARGS[@]/__rand_int__/000000000001}" | wc -c)
        fn='(Redis|Valkey)ModuleCommandDispatcher'; [[ $r == get ]] && fn=getCommand
        read -r "IR[$s,$r]" "CMD[$s,$r]" < <(request_ir "$WORK/cg" "$r" "$fn" "$GET_REQUESTS" "${ARGS[@]}")
        log "${LABEL[$s]} ${NAME[$r]}: ${IR[$s,$r]} Ir/request (command ${CMD[$s,$r]}), reply ${LEN[$s,$r]} B"
    done
    shutdown_server callgrind || true
    # --- 2. requests per second ---------------------------------------------------------------
    for ((round = 1; round <= ROUNDS; round++)); do
        start_server "$s" "$JSON_SO" "rate $round" || die "${LABEL[$s]}: server failed"
        load_doc_keys || die "${LABEL[$s]}: loading failed"
        line=
        for r in "${REQS[@]}"; do
            args_of "$r"
            v=$("$REDIS_BENCHMARK" -p "$PORT" -P 16 -c 50 -n "$REQUESTS" -r 1000 -q "${ARGS[@]}" 2>&1 |
                tr '\r' '\n' | sed -n 's/.*: \([0-9.]*\) requests per second.*/\1/p' | tail -n 1)
            [[ -n $v ]] || die "${LABEL[$s]} ${NAME[$r]}: no rate"
            RATE[$s,$r]+="$v " line+=" $r $v"
        done
        log "${LABEL[$s]} round $round:$line"
        shutdown_server "rate $round" || true
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
    echo "# JSON.GET with extra print work: instructions and throughput (bench/json-packed-proxy.sh)"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'); callgrind: -P 16 -c 50 -n $GET_REQUESTS -r 1000; rates: -P 16 -c 50 -n $REQUESTS -r 1000, medians of $ROUNDS rounds (a fresh server each, the four requests in turn)"
    for s in "${SERVERS[@]}"; do
        echo
        echo "${LABEL[$s]}:"
        echo
        echo "| request | reply B | whole server Ir / request | command Ir / request | extra vs JSON.GET | requests/s (rounds) | rate / GET (medians) | median of the rounds' rate / GET |"
        echo "|---|---:|---:|---:|---:|---:|---:|---:|"
        # shellcheck disable=SC2086
        g=$(median ${RATE[$s,get]})
        for r in "${REQS[@]}"; do
            # shellcheck disable=SC2086
            m=$(median ${RATE[$s,$r]})
            extra=; [[ $r == j* ]] && extra=$((IR[$s,$r] - IR[$s,jget]))
            # Each round's rate over the same round's GET (same server, minutes apart).
            read -ra mine <<<"${RATE[$s,$r]}"
            read -ra gets <<<"${RATE[$s,get]}"
            per=()
            for i in "${!mine[@]}"; do per+=("$(ratio "${mine[$i]}" "${gets[$i]}")"); done
            per_m=$(MEDIAN_DIGITS=2 median "${per[@]}")
            echo "| \`${NAME[$r]}\` | $((LEN[$s,$r] - 1)) | ${IR[$s,$r]} ($(ratio "${IR[$s,$r]}" "${IR[$s,get]}")× GET) | ${CMD[$s,$r]} | $extra | $m (${RATE[$s,$r]% }) | $(ratio "$m" "$g") | $per_m (${per[*]}) |"
        done
    done
} >"$REPORT"
cat "$REPORT"
log "report: $REPORT ($SECONDS s)"
