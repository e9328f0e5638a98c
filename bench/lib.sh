# What the single-server benchmarks share (sourced, not run): logging, one server started on a
# free loopback port (optionally under valgrind) and stopped by pid, temp dirs removed on exit,
# callgrind's inclusive cost and call count of a function, medians.
#
# The sourcing script sets ROOT (the repository) and BENCH_NAME (the log prefix) first; after
# sourcing it may set MEDIAN_DIGITS (0: the decimals `median` prints), SERVER_ARGS (an array of
# extra server arguments), TMP (the server's dir) and add to TMP_DIRS (removed by cleanup).
#
# Environment (the defaults here):
#   REDIS_SERVER     redis-server (from PATH)
#   VALKEY_SERVER    a second server binary, added to BENCH_SERVERS when set
#   BENCH_SERVERS    the server binaries to measure (default: REDIS_SERVER [VALKEY_SERVER])
#   REDIS_CLI, REDIS_BENCHMARK, VALGRIND, CALLGRIND_ANNOTATE, CALLGRIND_CONTROL   tools
#   START_TIMEOUT (60), STOP_TIMEOUT (120)   bounds in seconds to start and to stop a server
# shellcheck shell=bash

REDIS_SERVER=${REDIS_SERVER:-redis-server}
BENCH_SERVERS=${BENCH_SERVERS:-$REDIS_SERVER}
if [[ -n ${VALKEY_SERVER:-} && " $BENCH_SERVERS " != *" $VALKEY_SERVER "* ]]; then
    BENCH_SERVERS="$BENCH_SERVERS $VALKEY_SERVER"
fi
REDIS_CLI=${REDIS_CLI:-redis-cli}
REDIS_BENCHMARK=${REDIS_BENCHMARK:-redis-benchmark}
VALGRIND=${VALGRIND:-valgrind}
CALLGRIND_ANNOTATE=${CALLGRIND_ANNOTATE:-callgrind_annotate}
CALLGRIND_CONTROL=${CALLGRIND_CONTROL:-callgrind_control}
START_TIMEOUT=${START_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-120}
OUT_DIR=$ROOT/target/bench
MEDIAN_DIGITS=0
SERVER_ARGS=()

log() { printf '[%s] %s\n' "$BENCH_NAME" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# --- cleanup: the server is stopped by pid, temp dirs removed ------------------------------
SERVER_PID=
TMP_DIRS=()
stop_server() {
    if [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    SERVER_PID=
}
cleanup() {
    stop_server
    for d in "${TMP_DIRS[@]}"; do [[ -n $d ]] && rm -rf -- "$d"; done
    TMP_DIRS=()
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM HUP

# SERVERS: the full paths of BENCH_SERVERS (dies on one that is not found).
resolve_servers() {
    local s p
    SERVERS=()
    for s in $BENCH_SERVERS; do
        p=$(command -v "$s") || die "server binary not found: $s"
        SERVERS+=("$p")
    done
}

# --- one server ----------------------------------------------------------------------------
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

cli() { "$REDIS_CLI" -p "$PORT" "$@"; }

# Start `$1` (server binary) with module `$2` (none if empty; `$3`: a tag for messages), under the command
# prefix in the remaining arguments (e.g. valgrind ...), on a free port (retried when another
# process takes it), in $TMP, with SERVER_ARGS. Sets PORT and SERVER_PID; logs to $TMP/server.log.
start_server() {
    local server=$1 module=$2 tag=$3 attempt up= deadline
    shift 3
    for attempt in 1 2 3; do
        PORT=$(free_port) || { log "$tag: no free port"; return 1; }
        "$@" "$server" --port "$PORT" --bind 127.0.0.1 --dir "$TMP" --save '' --appendonly no \
            --daemonize no --logfile '' "${SERVER_ARGS[@]}" ${module:+--loadmodule "$module"} >"$TMP/server.log" 2>&1 &
        SERVER_PID=$!
        deadline=$((SECONDS + START_TIMEOUT))
        while ((SECONDS < deadline)); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            if [[ $(cli PING 2>/dev/null) == PONG ]]; then up=1; break; fi
            sleep 0.2
        done
        [[ -n $up ]] && return 0
        if ! kill -0 "$SERVER_PID" 2>/dev/null && grep -q "Failed listening on port" "$TMP/server.log"; then
            log "$tag: port $PORT was taken (attempt $attempt); trying another"
            wait "$SERVER_PID" 2>/dev/null
            continue
        fi
        break
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        log "$tag: server did not answer PING within ${START_TIMEOUT}s; log:"
    else
        log "$tag: server exited during startup; log:"
    fi
    tail -n 20 "$TMP/server.log" >&2
    return 1
}

# SHUTDOWN NOSAVE (callgrind writes its profile then) and wait for the process to exit.
shutdown_server() {
    local tag=$1 deadline
    cli SHUTDOWN NOSAVE >/dev/null 2>&1
    deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$SERVER_PID" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        log "$tag: server did not exit within ${STOP_TIMEOUT}s after SHUTDOWN NOSAVE"
        return 1
    fi
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}

# --- callgrind -----------------------------------------------------------------------------
# Inclusive Ir of a function in one dump (`$2`: an extended regex for its name). Prints
# "<symbol> <Ir>".
inclusive_ir() {
    "$CALLGRIND_ANNOTATE" --inclusive=yes --threshold=100 "$1" 2>/dev/null | awk -v re="$2" '
        $0 ~ "[: ](" re ")( |$)" {
            ir = $1; gsub(/,/, "", ir)
            if (match($0, re)) sym = substr($0, RSTART, RLENGTH)
            if (ir ~ /^[0-9]+$/) { print sym, ir; exit }
        }'
}

# The module command dispatcher's inclusive Ir in one dump: everything the module does per
# call. Prints "<symbol> <Ir>".
dispatcher_ir() { inclusive_ir "$1" '(Redis|Valkey)ModuleCommandDispatcher'; }

# Calls of function `$2` recorded in dump `$1` (cross-check of INFO commandstats).
calls_of() {
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

# Instructions per request of `redis-benchmark -P 16 -c 50 -n $4 -r 1000 <the rest>` against the
# server under callgrind (PORT, SERVER_PID; started with --callgrind-out-file=$1.%p.out): the
# whole process's (everything the server does for one, network included) and function `$3`'s
# inclusive (the command's own: getCommand, the module dispatcher), echoed as "total command".
# `$2` names the dump, which is removed after.
request_ir() {
    local prefix=$1 name=$2 fn=$3 n=$4 dump total cmd
    shift 4
    "$CALLGRIND_CONTROL" --zero "$SERVER_PID" >/dev/null 2>&1
    "$REDIS_BENCHMARK" -p "$PORT" -P 16 -c 50 -n "$n" -r 1000 "$@" >/dev/null 2>&1
    "$CALLGRIND_CONTROL" --dump="$name" "$SERVER_PID" >/dev/null 2>&1
    dump=$(ls -t "$prefix".*.out.* 2>/dev/null | head -n 1)
    total=$("$CALLGRIND_ANNOTATE" "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1; exit }')
    read -r _ cmd < <(inclusive_ir "$dump" "$fn")
    rm -f "$dump"
    echo "$((total / n)) $((cmd / n))"
}

# 1000 keys of the text $DOC as plain strings (str:…) and 1000 as JSON documents (doc:…), the
# keys redis-benchmark's -r 1000 draws, on the server at PORT.
load_doc_keys() {
    cli --pipe >/dev/null 2>&1 < <(DOC="$DOC" LC_ALL=C awk 'BEGIN { doc = ENVIRON["DOC"]
        for (i = 0; i < 1000; i++) {
            key = sprintf("str:%012d", i); jkey = sprintf("doc:%012d", i)
            printf "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", length(key), key, length(doc), doc
            printf "*4\r\n$8\r\nJSON.SET\r\n$%d\r\n%s\r\n$1\r\n$\r\n$%d\r\n%s\r\n", length(jkey), jkey, length(doc), doc
        } }')
    [[ $(cli DBSIZE) == 2000 ]] || { log "expected 2000 keys"; return 1; }
}

# The median of the arguments, with MEDIAN_DIGITS decimals.
median() { printf '%s\n' "$@" | sort -g | awk -v fmt="%.${MEDIAN_DIGITS}f" '{ v[NR] = $1 } END {
    if (NR == 0) exit; if (NR % 2) printf fmt, v[(NR + 1) / 2]
    else printf fmt, (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# RedisJSON v2.8.19's benchmark documents (tests/benchmarks/datasets/ of its tests tarball; read
# at run time, never copied here), as bench/json-datasets.sh and bench/json-packed.sh use them:
# name | file | the path read (RedisJSON's benchmark definitions' where they have one).
ALL_DATASETS=(pass-100 q4 q2 q1 q3 parser homogeneous yahoo2 yelp q5 issue674)
declare -A D_FILE=(
    [pass-100]=pass-100.json [q4]=api_replies_q4_gmaps_assist.json
    [q2]=api_replies_q2_gmaps_areatraffic.json [q1]=api_replies_q1_google_autocomplete.json
    [q3]=api_replies_q3_gmaps_passiveassist.json [parser]=parser-0000.json
    [homogeneous]=homogeneous_integer_arrays.json [yahoo2]=pass-jsonsl-yahoo2.json
    [yelp]=pass-jsonsl-yelp.json [q5]=api_replies_q5_gmaps_place.json [issue674]=issue674.json
)
declare -A D_PATH=(
    [pass-100]='$.array_of_docs[1].sclr' [q4]='$[2]' [q2]='$[6]' [q1]='$[0][3]' [q3]='$[13]'
    [parser]='$["web-app"].servlet[0]["servlet-name"]' [homogeneous]='$.prime_numbers[3]'
    [yahoo2]='$.ResultSet.totalResultsAvailable' [yelp]='$.message.code' [q5]='$[29]'
    [issue674]='$.childrens[2].uid'
)
