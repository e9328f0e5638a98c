#!/usr/bin/env bash
# Cluster management benchmark: wall time of the cluster module (A) against
# `redis-cli --cluster` (B), in the same run, on fresh loopback clusters.
#
# Per server binary and round, each tool gets its own 7 fresh cluster nodes
# (--cluster-node-timeout 1000 --repl-diskless-sync-delay 0; A's commands run
# on a separate standalone server with cluster.so) and times:
#   create     6 nodes, 3 masters + 3 replicas, until every node reports
#              cluster_state:ok and every replica's link is up
#   reshard    1000 slots (~10k keys) from the first master to the second
#   rebalance  onto a 7th, empty master (USE-EMPTY-MASTERS): 4096 slots, ~40k keys
#   import     IMPORT_KEYS (20000) keys of a fresh standalone server moved into the cluster
# with 10 keys in every slot (163840 keys). redis-cli's reshard/rebalance are
# timed until they return (they do not wait for the nodes to agree; ours do).
# After each step the script waits (untimed) for the nodes to agree, then
# checks `redis-cli --cluster check` and the key count.
# Prints a Markdown table of medians and ratios; writes target/bench/cluster.md.
#
# Environment:
#   REDIS_SERVER     server binary (default: redis-server)
#   VALKEY_SERVER    if set, also measured
#   BENCH_SERVERS    space-separated server binaries (default: $REDIS_SERVER [+ $VALKEY_SERVER])
#   CLUSTER_SO       module (default: $ROOT/target/modules/cluster.so)
#   ROUNDS           rounds per server (default: 3)
#   KEYS_PER_SLOT    default 10
#   IMPORT_KEYS      default 20000
#   REDIS_CLI        default redis-cli
#   SYNC_DELAY       the nodes' repl-diskless-sync-delay: 0 (default) or "server" (the
#                    server's own default, 5 s: what a user who changed nothing has)
#   STEPS            "all" (default) or "create" (only create is timed)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REDIS_SERVER=${REDIS_SERVER:-redis-server}
BENCH_SERVERS=${BENCH_SERVERS:-$REDIS_SERVER}
if [[ -n ${VALKEY_SERVER:-} && -x ${VALKEY_SERVER:-} && " $BENCH_SERVERS " != *" $VALKEY_SERVER "* ]]; then
    BENCH_SERVERS="$BENCH_SERVERS $VALKEY_SERVER"
fi
CLUSTER_SO=${CLUSTER_SO:-$ROOT/target/modules/cluster.so}
ROUNDS=${ROUNDS:-3}
KEYS_PER_SLOT=${KEYS_PER_SLOT:-10}
IMPORT_KEYS=${IMPORT_KEYS:-20000}
REDIS_CLI=${REDIS_CLI:-redis-cli}
SYNC_DELAY=${SYNC_DELAY:-0}
STEPS=${STEPS:-all}
OUT_DIR=$ROOT/target/bench
REPORT=$OUT_DIR/cluster.md
[[ $STEPS == all ]] || REPORT=$OUT_DIR/cluster-$STEPS-delay-$SYNC_DELAY.md

log() { printf '[cluster] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 2; }

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
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

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
        dir=$(mktemp -d "${TMPDIR:-/tmp}/rs-rm-bench-cluster.XXXXXX")
        DIRS+=("$dir")
        "$server" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
            --daemonize no --logfile server.log "$@" >/dev/null 2>&1 &
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

# every node cluster_state:ok and every replica linked
all_ok() {
    local p
    for p in "${NODE_PORTS[@]:0:6}"; do
        [[ $(ask "$p" CLUSTER INFO) == *cluster_state:ok* ]] || return 1
    done
    for p in "${NODE_PORTS[@]:3:3}"; do
        [[ $(ask "$p" INFO replication) == *master_link_status:up* ]] || return 1
    done
}

# untimed: redis-cli --cluster check clean (the nodes agree), within 30 s
wait_check_ok() {
    local out
    for _ in $(seq 300); do
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

total_keys() {
    local sum=0 p n
    for p in "${NODE_PORTS[@]:0:3}" "${NODE_PORTS[6]}"; do
        if cli -p "$p" role | head -1 | grep -q master; then
            n=$(cli -p "$p" dbsize)
            sum=$((sum + n))
        fi
    done
    echo "$sum"
}

myid() { cli -p "$1" cluster myid; }

# one round for one tool: prints "create reshard rebalance" in ms
round() { # server tool (runs in a subshell: its servers are stopped when it exits)
    trap cleanup EXIT
    local server=$1 tool=$2 p t0 t1 create reshard rebalance mgr=
    NODE_PORTS=()
    for _ in 1 2 3 4 5 6 7; do
        start_node "$server" "${node_args[@]}"
        NODE_PORTS+=("$NEW_PORT")
    done
    if [[ $tool == module ]]; then
        start_node "$server" --loadmodule "$CLUSTER_SO"
        mgr=$NEW_PORT
    fi
    local addrs=()
    for p in "${NODE_PORTS[@]:0:6}"; do addrs+=("127.0.0.1:$p"); done
    local seed=127.0.0.1:${NODE_PORTS[0]} new=127.0.0.1:${NODE_PORTS[6]}
    # Masters refuse cluster_state:ok for 2 s after they start (both tools alike).
    sleep 2.5

    t0=$(now_ms)
    if [[ $tool == module ]]; then
        out=$(cli -p "$mgr" cluster.create "${addrs[@]}" replicas 1)
        [[ $out == *"[OK] All 6 nodes agree"* ]] || die "CLUSTER.CREATE: $out"
    else
        cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >/dev/null ||
            die "redis-cli --cluster create failed"
    fi
    until all_ok; do sleep 0.01; done
    t1=$(now_ms)
    create=$((t1 - t0))
    wait_check_ok create || die "create left the cluster broken"
    if [[ $STEPS == create ]]; then
        cleanup
        echo "$create - - -"
        return 0
    fi

    written=$(python3 "$ROOT/bench/cluster_populate.py" "$REDIS_CLI" "${NODE_PORTS[0]}" "$KEYS_PER_SLOT") ||
        die "populate failed"

    local from to
    from=$(myid "${NODE_PORTS[0]}") to=$(myid "${NODE_PORTS[1]}")
    t0=$(now_ms)
    if [[ $tool == module ]]; then
        out=$(cli -p "$mgr" cluster.reshard "$seed" from "$from" to "$to" slots 1000)
        [[ $out == *"moved 1000 slots"* ]] || die "CLUSTER.RESHARD: $out"
    else
        cli --cluster reshard "$seed" --cluster-from "$from" --cluster-to "$to" \
            --cluster-slots 1000 --cluster-yes >/dev/null || die "redis-cli reshard failed"
    fi
    t1=$(now_ms)
    reshard=$((t1 - t0))
    wait_check_ok reshard || die "reshard left the cluster broken"
    [[ $(total_keys) == "$written" ]] || die "keys after reshard: $(total_keys) != $written"

    if [[ $tool == module ]]; then
        out=$(cli -p "$mgr" cluster.addnode "$new" "$seed")
        [[ $out == "[OK]"* ]] || die "CLUSTER.ADDNODE: $out"
    else
        cli --cluster add-node "$new" "$seed" >/dev/null || die "redis-cli add-node failed"
    fi
    # untimed: the new master must be ok before it can take keys
    for _ in $(seq 300); do
        cli -p "${NODE_PORTS[6]}" cluster info | grep -q 'cluster_state:ok' && break
        sleep 0.05
    done
    wait_check_ok addnode || die "add-node left the cluster broken"

    t0=$(now_ms)
    if [[ $tool == module ]]; then
        out=$(cli -p "$mgr" cluster.rebalance "$seed" use-empty-masters)
        [[ $out == *"moved 4096 slots"* ]] || die "CLUSTER.REBALANCE: $out"
    else
        cli --cluster rebalance "$seed" --cluster-use-empty-masters >/dev/null ||
            die "redis-cli rebalance failed"
    fi
    t1=$(now_ms)
    rebalance=$((t1 - t0))
    wait_check_ok rebalance || die "rebalance left the cluster broken"
    [[ $(total_keys) == "$written" ]] || die "keys after rebalance: $(total_keys) != $written"
    [[ $(cli -p "${NODE_PORTS[6]}" dbsize) -gt 0 ]] || die "the new master got no keys"

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
        out=$(cli -p "$mgr" cluster.import "$seed" from "127.0.0.1:$src")
        [[ $out == "[OK] $IMPORT_KEYS keys moved"* ]] || die "CLUSTER.IMPORT: $out"
    else
        cli --cluster import "$seed" --cluster-from "127.0.0.1:$src" >/dev/null ||
            die "redis-cli import failed"
    fi
    t1=$(now_ms)
    import=$((t1 - t0))
    wait_check_ok import || die "import left the cluster broken"
    [[ $(cli -p "$src" dbsize) == 0 ]] || die "keys left on the import source"
    [[ $(total_keys) == $((written + IMPORT_KEYS)) ]] ||
        die "keys after import: $(total_keys) != $((written + IMPORT_KEYS))"

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

{
    echo "## Cluster management: cluster module vs redis-cli --cluster"
    echo
    echo "Wall time in ms, median of $ROUNDS rounds (fresh clusters each round, $KEYS_PER_SLOT keys per slot, repl-diskless-sync-delay $SYNC_DELAY)."
    echo "Ratio = module / redis-cli (lower is better). Targets: create <= 0.25, reshard <= 0.5, rebalance <= 0.3 (import: none, $IMPORT_KEYS keys)."
    echo
    echo "| server | step | module (ms) | redis-cli (ms) | ratio | target | rounds (module; redis-cli) |"
    echo "|---|---|---:|---:|---:|---:|---|"
} >"$REPORT.tmp"

for server in $BENCH_SERVERS; do
    label=$(server_label "$server")
    declare -a mc=() mr=() mb=() mi=() cc=() cr=() cb=() ci=()
    for r in $(seq "$ROUNDS"); do
        log "$label round $r: module"
        read -r a b c d < <(round "$server" module) || die "module round failed"
        mc+=("$a") mr+=("$b") mb+=("$c") mi+=("$d")
        log "$label round $r: redis-cli"
        read -r a b c d < <(round "$server" cli) || die "redis-cli round failed"
        cc+=("$a") cr+=("$b") cb+=("$c") ci+=("$d")
        log "module: ${mc[-1]} ${mr[-1]} ${mb[-1]} ${mi[-1]}; redis-cli: $a $b $c $d (create reshard rebalance import, ms)"
    done
    steps=(create reshard rebalance import)
    [[ $STEPS == all ]] || steps=("$STEPS")
    for step in "${steps[@]}"; do
        case $step in
        create) m=("${mc[@]}") c=("${cc[@]}") target=0.25 ;;
        reshard) m=("${mr[@]}") c=("${cr[@]}") target=0.5 ;;
        rebalance) m=("${mb[@]}") c=("${cb[@]}") target=0.3 ;;
        import) m=("${mi[@]}") c=("${ci[@]}") target=- ;;
        esac
        mm=$(median "${m[@]}") cm=$(median "${c[@]}")
        ratio=$(awk -v a="$mm" -v b="$cm" 'BEGIN {printf "%.2f", a / b}')
        echo "| $label | $step | $mm | $cm | $ratio | $target | ${m[*]}; ${c[*]} |" >>"$REPORT.tmp"
    done
done
mv "$REPORT.tmp" "$REPORT"
cat "$REPORT"
