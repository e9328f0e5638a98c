#!/usr/bin/env bash
# Cluster management benchmark: wall time of the cluster module (A) against
# `redis-cli --cluster` (B), in the same run, on fresh loopback clusters, at several sizes.
#
# Per server binary, size M (masters, each with one replica) and round, each tool gets its own
# 2M+1 fresh cluster nodes (--cluster-node-timeout 1000 --repl-diskless-sync-delay 0, no
# persistence, small maxmemory; A's commands run on a separate standalone server with
# cluster.so); the tools alternate (module, redis-cli, module, ...). Timed:
#   create     2M nodes, M masters + M replicas, until every node reports
#              cluster_state:ok and every replica's link is up
#   reshard    RESHARD_SLOTS (1000) slots FROM ALL masters to the first master (~10k keys)
#   rebalance  onto an extra, empty master (USE-EMPTY-MASTERS): 16384/(M+1) slots
#   import     IMPORT_KEYS (20000) keys of a fresh standalone server moved into the cluster
#              (only at the first size; STEPS)
# with KEYS_PER_SLOT (10) keys in every slot (163840 keys). redis-cli's reshard/rebalance are
# timed until they return (they do not wait for the nodes to agree; ours do).
# After each step the script waits (untimed) for the nodes to agree, then
# checks `redis-cli --cluster check` and the key count.
# The create step ends when bench/cluster_ok.py, started (untimed) before the step and told
# to go when the tool returns, sees every node ok.
# Prints a Markdown table of medians and ratios, and the module's CREATE step by step
# (bench/cluster_phases.py); writes target/bench/cluster.md, and the module's own JSON replies
# and job counters (phases, us_* per slot-moving step) to target/bench/cluster-profile.log.
# A round that fails (a tool's error, a check after a step) runs once more on fresh nodes; the
# report lists it, and redis-cli's last lines are logged.
# Every server runs in its own temp dir on a free port and is killed by pid when its round
# ends, when the script exits, fails or is interrupted (trap). A step that hangs is cut by
# STEP_TIMEOUT (s). About 17 min with the defaults (Redis 7.0.15, 3 rounds, 2 busy cores;
# redis-cli takes 35-75 s per round at 25+25).
#
# Environment:
#   REDIS_SERVER     server binary (default: redis-server)
#   SOURCE_SERVER    a source-built server, also measured (default: redis 7.4.1 from
#                    ../shared/servers via tools/servers.sh, cached; `none` leaves it out)
#   VALKEY_SERVER    if set, also measured
#   BENCH_SERVERS    space-separated server binaries (default: $REDIS_SERVER [$SOURCE_SERVER]
#                    [+ $VALKEY_SERVER]); when set, SOURCE_SERVER is not added
#   SIZES            masters per cluster, space-separated (default: "3 10 25")
#   CLUSTER_SO       module (default: $ROOT/target/modules/cluster.so)
#   ROUNDS           rounds per server and size (default: 3)
#   KEYS_PER_SLOT    default 10
#   RESHARD_SLOTS    default 1000
#   IMPORT_KEYS      default 20000
#   REDIS_CLI        one redis-cli for every server (default: the one in each server's bin
#                    dir, else redis-cli from PATH; the report names the one each server used)
#   BENCH_TMPDIR     where the nodes' dirs go (default: /dev/shm if writable, else $TMPDIR or /tmp)
#   STEP_TIMEOUT     seconds a timed step may take (default: 300)
#   SYNC_DELAY       the nodes' repl-diskless-sync-delay: 0 (default) or "server" (the
#                    server's own default, 5 s: what a user who changed nothing has)
#   TOOLS            "module cli" (default); one of them alone to try a tool (no ratios)
#   STEPS            "all" (default: create reshard rebalance, and import at the first
#                    size) or "create" (only create is timed)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REDIS_SERVER=${REDIS_SERVER:-redis-server}
# Without BENCH_SERVERS: Redis, a source-built Redis (SOURCE_SERVER, as bench/run.sh: 7.4.1
# built once by tools/servers.sh into its cache outside the tree; `none` leaves it out) and
# Valkey. `cargo make bench` passes its own BENCH_SERVERS, which already holds the source build.
if [[ -z ${BENCH_SERVERS:-} ]]; then
    BENCH_SERVERS=$REDIS_SERVER
    SOURCE_TARBALL=${SOURCE_TARBALL:-$ROOT/../shared/servers/redis-7.4.1.tar.gz}
    if [[ -z ${SOURCE_SERVER:-} && -f $SOURCE_TARBALL ]]; then
        SOURCE_SERVER=$(bash "$ROOT/tools/servers.sh" build "$SOURCE_TARBALL" | tail -n 1)
    fi
    if [[ -n ${SOURCE_SERVER:-} && $SOURCE_SERVER != none ]]; then
        BENCH_SERVERS="$BENCH_SERVERS $SOURCE_SERVER"
    fi
fi
if [[ -n ${VALKEY_SERVER:-} && -x ${VALKEY_SERVER:-} && " $BENCH_SERVERS " != *" $VALKEY_SERVER "* ]]; then
    BENCH_SERVERS="$BENCH_SERVERS $VALKEY_SERVER"
fi
CLUSTER_SO=${CLUSTER_SO:-$ROOT/target/modules/cluster.so}
ROUNDS=${ROUNDS:-3}
SIZES=${SIZES:-3 10 25}
KEYS_PER_SLOT=${KEYS_PER_SLOT:-10}
RESHARD_SLOTS=${RESHARD_SLOTS:-1000}
STEP_TIMEOUT=${STEP_TIMEOUT:-300}
IMPORT_KEYS=${IMPORT_KEYS:-20000}
# redis-cli: REDIS_CLI if set, else the one next to each server binary (a source build has its
# own), else redis-cli from PATH (Valkey's build here has no cli; valkey-cli is taken if present).
CLI_OVERRIDE=${REDIS_CLI:-}
REDIS_CLI=${REDIS_CLI:-redis-cli}
SYNC_DELAY=${SYNC_DELAY:-0}
STEPS=${STEPS:-all}
# The nodes' dirs: on tmpfs where there is one. Every config change makes a node rewrite and
# often fsync nodes.conf; on this machine's shared disk an fsync takes ~10 ms, and 50 nodes
# doing it at once measured the disk (and the other jobs on it), not either tool.
if [[ -z ${BENCH_TMPDIR:-} ]]; then
    BENCH_TMPDIR=${TMPDIR:-/tmp}
    [[ -d /dev/shm && -w /dev/shm ]] && BENCH_TMPDIR=/dev/shm
fi
TOOLS=${TOOLS:-module cli}
OUT_DIR=$ROOT/target/bench
REPORT=$OUT_DIR/cluster.md
PROFILE=$OUT_DIR/cluster-profile.log
[[ $STEPS == all ]] || REPORT=$OUT_DIR/cluster-$STEPS-delay-$SYNC_DELAY.md
[[ $STEPS == all ]] || PROFILE=$OUT_DIR/cluster-$STEPS-delay-$SYNC_DELAY-profile.log

log() { printf '[cluster] %s\n' "$*" >&2; }
die() {
    log "error: $*"
    # HOLD_ON_FAIL=1: keep a failed round's nodes up for a look (the pid to stop is logged)
    [[ -n ${HOLD_ON_FAIL:-} && -n ${NODE_PORTS:-} ]] && log "holding ${NODE_PORTS[*]} (pid $BASHPID)" && sleep 600
    exit 2
}

[[ -f $CLUSTER_SO ]] || die "no $CLUSTER_SO (run tools/build-modules.sh)"
command -v python3 >/dev/null || die "python3 is needed to write the keys"
mkdir -p "$OUT_DIR"

PIDS=()
DIRS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
    PIDS=()
    for d in "${DIRS[@]}"; do rm -rf -- "$d"; done
    DIRS=()
}
ROUND_PID=
trap cleanup EXIT
# The running round (a subshell) stops its own servers when it exits.
trap '[[ -n $ROUND_PID ]] && kill -TERM "$ROUND_PID" 2>/dev/null && wait "$ROUND_PID"; cleanup; exit 130' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() { # a port whose bus port (+10000) is free too
    local p
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 25000))
        port_in_use "$p" || port_in_use $((p + 10000)) || { echo "$p"; return 0; }
    done
    return 1
}
now_ms() { date +%s%3N; }
cli() { "$REDIS_CLI" "$@" </dev/null; }

start_node() { # server [extra...] -> starts on a free port (NEW_PORT), waits for PING
    local server=$1 dir port pid
    shift
    for _attempt in 1 2 3 4 5; do
        port=$(free_port) || die "no free port"
        dir=$(mktemp -d "$BENCH_TMPDIR/rs-rm-bench-cluster.XXXXXX")
        DIRS+=("$dir")
        "$server" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
             --maxmemory 64mb --daemonize no --logfile server.log "$@" >/dev/null 2>&1 &
        pid=$!
        PIDS+=("$pid")
        for _ in $(seq 100); do
            if [[ $(cli -p "$port" ping 2>/dev/null) == PONG ]]; then
                NEW_PORT=$port
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break # lost a race for the port: try another
            sleep 0.05
        done
    done
    die "$server did not start"
}

node_args=(--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 1000)
[[ $SYNC_DELAY == server ]] || node_args+=(--repl-diskless-sync-delay "$SYNC_DELAY")

# The text of an inline command's bulk reply, through bash's /dev/tcp: no process is started,
# so polling costs the timed step almost nothing (9 redis-cli runs per poll cost ~50 ms).
ask() { # port command...
    local len reply
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    shift
    printf '%s\r\n' "$*" >&3
    read -r -t 2 len <&3 || { exec 3>&-; return 1; }
    len=${len#\$}
    len=${len%$'\r'}
    read -r -t 2 -N "$len" reply <&3
    exec 3>&-
    printf '%s' "$reply"
}

# untimed: redis-cli --cluster check clean (the nodes agree), within 60 s
wait_check_ok() {
    local out
    for _ in $(seq 600); do
        out=$(cli --cluster check "127.0.0.1:${NODE_PORTS[0]}" 2>&1)
        if [[ $out == *"[OK] All nodes agree"* && $out == *"[OK] All 16384 slots covered."* &&
            $out != *"[ERR]"* && $out != *"[WARNING]"* ]]; then
            return 0
        fi
        sleep 0.1
    done
    log "check failed after $1:"$'\n'"$out"
    return 1
}

total_keys() { # the keys on every master
    local sum=0 p
    for p in "${NODE_PORTS[@]}"; do
        if [[ $(ask "$p" INFO replication) == *role:master* ]]; then
            sum=$((sum + $(cli -p "$p" dbsize)))
        fi
    done
    echo "$sum"
}

myid() { cli -p "$1" cluster myid; }

# A timed command, cut after STEP_TIMEOUT s (a hung step fails the round instead of the run).
timed() { timeout "$STEP_TIMEOUT" "$@" </dev/null; }

# A timed `redis-cli --cluster` step; its output is kept and its tail logged when it fails.
cli_step() { # subcommand args...
    timed "$REDIS_CLI" --cluster "$@" >"$OUT_DIR/cluster-cli-step.log" 2>&1 && return 0
    log "redis-cli --cluster $1 failed; its last lines:"$'\n'"$(tail -n 8 "$OUT_DIR/cluster-cli-step.log")"
    return 1
}

# The module's reply (JSON) and its job counters, for the profile log.
profile() { # step reply [port: its server time per command too]
    [[ -n ${3:-} ]] && printf '  %s: %s\n' "$3" "$(cli -p "$3" info commandstats | grep -E 'cluster|migrate|restore' | tr -d '\r' | tr '\n' ' ')" >>"$PROFILE"
    printf '%s masters=%s %s %s\n  reply: %s\n  job: %s\n' "$LABEL" "$MASTERS" "$ROUND_NO" "$1" \
        "$2" "$(cli -p "$MGR" cluster.jobs json | python3 -c '
import json, sys
jobs = json.load(sys.stdin)
jobs = jobs.get("jobs", []) if isinstance(jobs, dict) else jobs
print(json.dumps(max(jobs, key=lambda j: j["id"]) if jobs else None))' 2>/dev/null)" >>"$PROFILE"
}

# one round for one tool at MASTERS masters: prints "create reshard rebalance import" in ms
round() { # server tool (runs in a subshell: its servers are stopped when it exits)
    trap cleanup EXIT
    trap 'cleanup; exit 130' INT TERM
    local server=$1 tool=$2 p t0 t1 create reshard rebalance import=- out
    NODE_PORTS=()
    for _ in $(seq $((NODES + 1))); do
        start_node "$server" "${node_args[@]}"
        NODE_PORTS+=("$NEW_PORT")
    done
    if [[ $tool == module ]]; then
        start_node "$server" --loadmodule "$CLUSTER_SO"
        MGR=$NEW_PORT
    fi
    local addrs=()
    for p in "${NODE_PORTS[@]:0:NODES}"; do addrs+=("127.0.0.1:$p"); done
    local seed=127.0.0.1:${NODE_PORTS[0]} new=127.0.0.1:${NODE_PORTS[NODES]}
    # Masters refuse cluster_state:ok for 2 s after they start (both tools alike).
    sleep 2.5

    # The ok check runs in one Python process started (untimed) before the step: told to go
    # when the tool returns, it prints the time the nodes were ok (bench/cluster_ok.py).
    local ready
    coproc OK_CHECK { python3 "$ROOT/bench/cluster_ok.py" "$STEP_TIMEOUT" "$MASTERS" "${NODE_PORTS[@]:0:NODES}"; }
    PIDS+=("$OK_CHECK_PID")
    read -r ready <&"${OK_CHECK[0]}" && [[ $ready == ready ]] || die "the ok check did not start"
    t0=$(now_ms)
    if [[ $tool == module ]]; then
        out=$(timed "$REDIS_CLI" -p "$MGR" cluster.create "${addrs[@]}" replicas 1 json)
        [[ $out == *'"ok":true'* ]] || { profile create "$out"; die "CLUSTER.CREATE: $out"; }
    else
        cli_step create "${addrs[@]}" --cluster-replicas 1 --cluster-yes ||
            die "redis-cli --cluster create failed"
    fi
    echo go >&"${OK_CHECK[1]}"
    read -r t1 <&"${OK_CHECK[0]}" && [[ $t1 =~ ^[0-9]+$ ]] || die "create: the nodes are not ok"
    create=$((t1 - t0))
    [[ $tool == module ]] && profile create "$out"
    wait_check_ok create || die "create left the cluster broken"
    if [[ $STEPS == create ]]; then
        cleanup
        echo "$create - - -"
        return 0
    fi

    written=$(python3 "$ROOT/bench/cluster_populate.py" "$REDIS_CLI" "${NODE_PORTS[0]}" "$KEYS_PER_SLOT") ||
        die "populate failed"

    local to
    to=$(myid "${NODE_PORTS[0]}")
    t0=$(now_ms)
    if [[ $tool == module ]]; then
        out=$(timed "$REDIS_CLI" -p "$MGR" cluster.reshard "$seed" from all to "$to" slots "$RESHARD_SLOTS" json)
        [[ $out == *"\"slots_moved\":$RESHARD_SLOTS"[,}]* ]] || { profile reshard "$out"; die "CLUSTER.RESHARD: $out"; }
    else
        cli_step reshard "$seed" --cluster-from all --cluster-to "$to" \
            --cluster-slots "$RESHARD_SLOTS" --cluster-yes || die "redis-cli reshard failed"
    fi
    t1=$(now_ms)
    reshard=$((t1 - t0))
    [[ $tool == module ]] && profile reshard "$out" "${NODE_PORTS[0]}"
    wait_check_ok reshard || die "reshard left the cluster broken"
    [[ $(total_keys) == "$written" ]] || die "keys after reshard: $(total_keys) != $written"

    if [[ $tool == module ]]; then
        out=$(timed "$REDIS_CLI" -p "$MGR" cluster.addnode "$new" "$seed")
        [[ $out == "[OK]"* ]] || die "CLUSTER.ADDNODE: $out"
    else
        cli_step add-node "$new" "$seed" || die "redis-cli add-node failed"
    fi
    # untimed: the new master must be ok before it can take keys
    for _ in $(seq 300); do
        [[ $(ask "${NODE_PORTS[NODES]}" CLUSTER INFO) == *cluster_state:ok* ]] && break
        sleep 0.05
    done
    # untimed: every node must know the new one. redis-cli's add-node returns after one MEET, and
    # its rebalance failed with `ERR Unknown node <new id>` on a source that had not heard of it
    # yet (once, 7.4.1 at 10+10); `--cluster check` compares slots, not the node lists.
    local newid
    newid=$(myid "${NODE_PORTS[NODES]}")
    for p in "${NODE_PORTS[@]:0:NODES}"; do
        for _ in $(seq 300); do
            [[ $(ask "$p" CLUSTER NODES) == *"$newid"* ]] && break
            sleep 0.05
        done
    done
    wait_check_ok addnode || die "add-node left the cluster broken"

    t0=$(now_ms)
    if [[ $tool == module ]]; then
        out=$(timed "$REDIS_CLI" -p "$MGR" cluster.rebalance "$seed" use-empty-masters json)
        [[ $out == *'"ok":true'* ]] || { profile rebalance "$out"; die "CLUSTER.REBALANCE: $out"; }
    else
        cli_step rebalance "$seed" --cluster-use-empty-masters ||
            die "redis-cli rebalance failed"
    fi
    t1=$(now_ms)
    rebalance=$((t1 - t0))
    [[ $tool == module ]] && profile rebalance "$out" "${NODE_PORTS[NODES]}"
    wait_check_ok rebalance || die "rebalance left the cluster broken"
    [[ $(total_keys) == "$written" ]] || die "keys after rebalance: $(total_keys) != $written"
    [[ $(cli -p "${NODE_PORTS[NODES]}" dbsize) -gt 0 ]] || die "the new master got no keys"

    if [[ $WITH_IMPORT == 1 ]]; then
        # import: IMPORT_KEYS keys of a standalone server moved into the cluster
        start_node "$server"
        local src=$NEW_PORT
        python3 -c 'import sys
for i in range(int(sys.argv[1])):
    k, v = f"imp:{i}", str(i)
    sys.stdout.write(f"*3\r\n$3\r\nSET\r\n${len(k)}\r\n{k}\r\n${len(v)}\r\n{v}\r\n")' "$IMPORT_KEYS" |
            "$REDIS_CLI" -p "$src" --pipe >/dev/null || die "writing the import source failed"
        t0=$(now_ms)
        if [[ $tool == module ]]; then
            out=$(timed "$REDIS_CLI" -p "$MGR" cluster.import "$seed" from "127.0.0.1:$src")
            [[ $out == "[OK] $IMPORT_KEYS keys moved"* ]] || die "CLUSTER.IMPORT: $out"
        else
            cli_step import "$seed" --cluster-from "127.0.0.1:$src" ||
                die "redis-cli import failed"
        fi
        t1=$(now_ms)
        import=$((t1 - t0))
        wait_check_ok import || die "import left the cluster broken"
        [[ $(cli -p "$src" dbsize) == 0 ]] || die "keys left on the import source"
        [[ $(total_keys) == $((written + IMPORT_KEYS)) ]] ||
            die "keys after import: $(total_keys) != $((written + IMPORT_KEYS))"
    fi

    cleanup
    echo "$create $reshard $rebalance $import"
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }

server_label() {
    local v name
    name=$(basename "$1")
    v=$("$1" --version 2>/dev/null | sed -n 's/.* v=\([^ ]*\).*/\1/p')
    echo "$name${v:+ $v}"
}

# The redis-cli that measures (and drives) server `$1`: see CLI_OVERRIDE above.
cli_for() {
    local bin dir c
    if [[ -n $CLI_OVERRIDE ]]; then echo "$CLI_OVERRIDE"; return; fi
    bin=$(command -v "$1") || die "server binary not found: $1"
    dir=$(dirname "$(readlink -f "$bin")")
    for c in redis-cli valkey-cli; do
        [[ -x $dir/$c ]] && { echo "$dir/$c"; return; }
    done
    command -v redis-cli || die "no redis-cli"
}
cli_label() { # "redis-cli 7.4.1 (/path)"
    local v
    v=$("$1" --version 2>/dev/null | awk '{print $2}')
    echo "$(basename "$1") $v ($1)"
}

TARGET=0.25
{
    echo "## Cluster management: cluster module vs redis-cli --cluster"
    echo
    echo "Wall time in ms, median of $ROUNDS rounds (fresh clusters each round, tools alternating, $KEYS_PER_SLOT keys per slot, repl-diskless-sync-delay $SYNC_DELAY)."
    echo "masters = M masters + M replicas; reshard = $RESHARD_SLOTS slots from all masters to one; rebalance = onto one more, empty master."
    echo "Ratio = module / redis-cli (lower is better); target <= $TARGET at every size (import: none, $IMPORT_KEYS keys)."
    echo
    echo "| server | masters | step | module (ms) | redis-cli (ms) | ratio | vs $TARGET | rounds (module; redis-cli) | load before |"
    echo "|---|---:|---|---:|---:|---:|---|---|---|"
} >"$REPORT.tmp"
: >"$PROFILE"

# One round of one tool (sets a b c d). A round that fails (a tool's error, a broken cluster
# after a step) is run once more on fresh nodes and counted in the report; a second failure
# ends the run.
RETRIED=()
run_round() { # server tool
    local attempt
    for attempt in 1 2; do
        exec 4< <(round "$1" "$2")
        ROUND_PID=$!
        read -r a b c d <&4 && return 0
        wait "$ROUND_PID" 2>/dev/null
        RETRIED+=("$LABEL $MASTERS+$MASTERS $ROUND_NO $2")
        log "$2 round failed (attempt $attempt)"
    done
    die "$2 round failed twice"
}

STARTED=$(now_ms)
CLI_USED=()
first_size=${SIZES%% *}
for server in $BENCH_SERVERS; do
    LABEL=$(server_label "$server")
    REDIS_CLI=$(cli_for "$server")
    CLI_USED+=("$LABEL: $(cli_label "$REDIS_CLI")")
    for MASTERS in $SIZES; do
        LOAD_BEFORE=$(cut -d' ' -f1 /proc/loadavg)
        ((MASTERS >= 3)) || die "a size below 3 masters: $MASTERS"
        NODES=$((2 * MASTERS))
        WITH_IMPORT=0
        [[ $STEPS == all && $MASTERS == "$first_size" ]] && WITH_IMPORT=1
        declare -a mc=() mr=() mb=() mi=() cc=() cr=() cb=() ci=()
        for r in $(seq "$ROUNDS"); do
            ROUND_NO=round-$r
            log "$LABEL $MASTERS+$MASTERS round $r: module"
            a=- b=- c=- d=-
            [[ $TOOLS == *module* ]] && run_round "$server" module
            mc+=("$a") mr+=("$b") mb+=("$c") mi+=("$d")
            log "$LABEL $MASTERS+$MASTERS round $r: redis-cli"
            a=- b=- c=- d=-
            [[ $TOOLS == *cli* ]] && run_round "$server" cli
            cc+=("$a") cr+=("$b") cb+=("$c") ci+=("$d")
            log "module: ${mc[-1]} ${mr[-1]} ${mb[-1]} ${mi[-1]}; redis-cli: $a $b $c $d (create reshard rebalance import, ms; $((($(now_ms) - STARTED) / 1000)) s so far)"
        done
        steps=(create reshard rebalance)
        [[ $WITH_IMPORT == 1 ]] && steps+=(import)
        [[ $STEPS == all ]] || steps=("$STEPS")
        for step in "${steps[@]}"; do
            target=$TARGET
            case $step in
            create) m=("${mc[@]}") c=("${cc[@]}") ;;
            reshard) m=("${mr[@]}") c=("${cr[@]}") ;;
            rebalance) m=("${mb[@]}") c=("${cb[@]}") ;;
            import) m=("${mi[@]}") c=("${ci[@]}") target=- ;;
            esac
            mm=$(median "${m[@]}") cm=$(median "${c[@]}")
            ratio=$(awk -v a="$mm" -v b="$cm" 'BEGIN {printf "%.2f", a / b}')
            verdict=-
            [[ $target == - ]] || verdict=$(awk -v r="$ratio" -v t="$target" 'BEGIN {print (r <= t ? "PASS" : "FAIL")}')
            echo "| $LABEL | $MASTERS | $step | $mm | $cm | $ratio | $verdict | ${m[*]}; ${c[*]} | $LOAD_BEFORE |" >>"$REPORT.tmp"
        done
    done
done
if [[ $TOOLS == *module* ]]; then
    {
        echo
        echo "The module's steps: CREATE's each step's own ms (its reply's phases_ms), RESHARD's and REBALANCE's"
        echo "phases (CLUSTER.JOBS us_* counters: wall ms per phase over all batches; agreement_ms, elapsed_ms), medians of the rounds."
        echo
        python3 "$ROOT/bench/cluster_phases.py" "$PROFILE"
    } >>"$REPORT.tmp"
fi
{
    echo
    echo "redis-cli per server (\`--cluster\` for B; also the untimed checks):"
    printf -- '- %s\n' "${CLI_USED[@]}"
    ((${#RETRIED[@]} == 0)) || echo $'\n'"Rounds run again after a failure (see the log): ${RETRIED[*]}."
    echo
    echo "Run time: $((($(now_ms) - STARTED) / 1000)) s ($(date -u '+%Y-%m-%d %H:%M UTC')), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
} >>"$REPORT.tmp"
mv "$REPORT.tmp" "$REPORT"
cat "$REPORT"
