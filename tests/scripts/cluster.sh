#!/usr/bin/env bash
# Tests for the cluster module: a manager (standalone server with cluster.so) creates a
# 3-master cluster of loopback nodes, checks, calls, reshards, and fixes an open slot.
# Run alone with defaults (redis-server from PATH) or via run-all.sh.

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE=$MODULES_DIR/cluster.so
require_file "$MODULE" "build the cluster module first, or set MODULES_DIR"

NODE_ARGS=(--cluster-enabled yes --cluster-config-file nodes.conf
    --cluster-node-timeout 1000 --repl-diskless-sync-delay 0)
NODES=()
for _ in 1 2 3; do
    start_server "${NODE_ARGS[@]}"
    NODES+=("$PORT")
done
A=127.0.0.1:${NODES[0]} B=127.0.0.1:${NODES[1]} C=127.0.0.1:${NODES[2]}
start_server --loadmodule "$MODULE"
MANAGER=$PORT
BACKUP=$SERVER_DIR/backup

# The whole redis-cli --cluster check must be clean: agreement, no open slot, coverage.
cluster_check_ok() {
    local out
    out=$("$REDIS_CLI" --cluster check "$A" 2>&1)
    if [[ $out != *"[OK] All nodes agree about slots configuration."* ||
        $out != *"[OK] All 16384 slots covered."* || $out == *"[ERR]"* ||
        $out == *"[WARNING]"* ]]; then
        fail "redis-cli --cluster check $A: $out"
    fi
}

# The manager's reply as --raw prints it, matched against a bash glob.
assert_raw_match() {
    local glob=$1
    shift
    capture "$REDIS_CLI" -p "$MANAGER" --raw "$@"
    # shellcheck disable=SC2053 # the glob is meant to match
    [[ $OUT == $glob ]] || fail "$(printf '%s\n  expected to match: %s\n  actual: %s' "$*" "$glob" "$OUT")"
}

test_case "bad arguments are refused before any job starts"
assert_reply '(error) ERR a cluster needs at least 3 masters: 3 nodes with 1 replicas each give 1' \
    cluster.create "$A" "$B" "$C" replicas 1
assert_reply "(error) ERR invalid address 'nowhere' (expected host:port)" \
    cluster.create "$A" "$B" nowhere
assert_reply "(error) ERR REPLICAS needs a number" cluster.create "$A" "$B" "$C" replicas
assert_reply '(error) ERR a cluster needs at least 3 masters: 3 nodes with 18446744073709551615 replicas each give 0' \
    cluster.create "$A" "$B" "$C" replicas 18446744073709551615
assert_reply "(error) ERR 127.0.0.1:$MANAGER is not in cluster mode" cluster.check
assert_reply "(error) ERR unexpected argument 'extra'" cluster.check "$A" extra
assert_reply "(error) ERR usage: CLUSTER.CALL host:port command [args...]" cluster.call "$A" json
assert_reply "(error) ERR unexpected argument 'nope'" cluster.jobs nope
assert_reply "(error) ERR the backup directory must be an absolute path, got 'backups'" \
    cluster.backup "$A" backups
assert_reply "(error) ERR the backup directory '/nonexistent/backups' does not exist or is not a directory" \
    cluster.backup "$A" /nonexistent/backups
assert_reply "(error) ERR usage: CLUSTER.BACKUP host:port dir [JSON]" cluster.backup "$A" / extra
assert_match '(error) *wrong number of arguments*' cluster.reshard "$A" from "$A"
assert_reply "(error) ERR the timeout must be a number of milliseconds from 100 to 86400000, got 'soon'" \
    cluster.settimeout "$A" soon
assert_reply "(error) ERR usage: CLUSTER.SETTIMEOUT host:port milliseconds" cluster.settimeout "$A" 100 200
assert_reply "(error) ERR unexpected argument 'move': CLUSTER.IMPORT host:port FROM host:port [COPY] [REPLACE]" \
    cluster.import "$A" from "$B" move
assert_reply "(error) ERR FROM needs an address: CLUSTER.IMPORT host:port FROM host:port [COPY] [REPLACE]" \
    cluster.import "$A" copy from

test_case "CLUSTER.CREATE replies once every node is ok"
assert_raw_match "M: * $A slots:\\[0-5460\\] (5461 slots)*\\[OK\\] All 3 nodes agree, cluster_state:ok, 0 replicas linked, in * ms."$'\n' \
    cluster.create "$A" "$B" "$C"
for port in "${NODES[@]}"; do
    PORT=$port assert_reply '"cluster_state:ok"' eval \
        "return string.match(redis.call('cluster','info'), 'cluster_state:%a+')" 0
done
cluster_check_ok

test_case "CLUSTER.CHECK and CLUSTER.INFO"
assert_raw_match '{"ok":true,"agree":true,"errors":\[\],"warnings":\[\],"open_slots":\[\],"uncovered_slots":0,*' cluster.check "$A" json
assert_raw_match "*$A (*...) -> 0 keys | 546? slots | 0 slaves.*\\[OK\\] 0 keys in 3 masters."$'\n''0.00 keys per slot on average.*' \
    cluster.info "$A"

test_case "CLUSTER.CALL runs on every node"
IFS=$'\n' read -r -d '' -a sorted < <(printf '127.0.0.1:%s: PONG\n' "${NODES[@]}" | sort && printf '\0')
capture "$REDIS_CLI" -p "$MANAGER" --raw cluster.call "$A" ping
assert_equal "$(printf '%s\n' "${sorted[@]}")"$'\n' "$OUT" "CLUSTER.CALL PING"
capture "$REDIS_CLI" -p "$MANAGER" --raw cluster.call "$A" json dbsize
expected=$(printf '"%s":0\n' "$A" "$B" "$C" | sort | paste -sd, -)
assert_equal "{$expected}" "$OUT" "CLUSTER.CALL JSON DBSIZE"

test_case "CLUSTER.RESHARD moves slots with their keys"
for i in $(seq 1 50); do
    "$REDIS_CLI" -c -p "${NODES[0]}" set "key:$i" "$i" >/dev/null
done
assert_raw_match '{"ok":true,"slots_moved":100,"keys_moved":*,"elapsed_ms":*,"agreement_ms":*,"target":"*"}' \
    cluster.reshard "$A" from "$A" to "$B" slots 100 json
cluster_check_ok
capture "$REDIS_CLI" -p "$MANAGER" --raw cluster.info "$A" json
[[ $OUT == *'"keys":50,'* ]] || fail "50 keys expected after the reshard: $OUT"
assert_match '*reshard \[done\]*slots_moved=100*' cluster.jobs

test_case "one slot-moving job at a time"
"$REDIS_CLI" -p "$MANAGER" cluster.reshard "$B" from "$B" to "$A" slots 3000 >/dev/null &
first=$!
for _ in $(seq 200); do
    capture "$REDIS_CLI" -p "$MANAGER" cluster.jobs
    [[ $OUT == *'reshard [running]'* ]] && break
    sleep 0.005
done
assert_match '(error) ERR job #* (CLUSTER.RESHARD) is changing the cluster; wait for it to end (CLUSTER.JOBS)' \
    cluster.reshard "$A" from "$A" to "$C" slots 10
wait "$first"
cluster_check_ok
capture "$REDIS_CLI" -p "$MANAGER" --raw cluster.info "$A" json
[[ $OUT == *'"keys":50,'* ]] || fail "50 keys expected after the reshard: $OUT"

test_case "CLUSTER.FIX closes an open slot"
B_ID=$("$REDIS_CLI" -p "${NODES[1]}" cluster myid)
PORT=${NODES[2]} assert_reply 'OK' cluster setslot 16000 migrating "$B_ID"
assert_raw_match '{"ok":false,"agree":true,"errors":\["Open slots: 16000"\],"warnings":\["Node '"$C"' has slot 16000 migrating to '"$B_ID"'"\],"open_slots":\[16000\],*' \
    cluster.check "$A" json
assert_raw_match ">>> slot 16000: closed, keys gathered on its owner $C (0 keys moved)"$'\n''*\[OK\] All 16384 slots covered.'$'\n' \
    cluster.fix "$A"
cluster_check_ok
assert_raw_match '{"ok":true,"agree":true,"errors":\[\],"warnings":\[\],"open_slots":\[\],*' cluster.check "$A" json
capture "$REDIS_CLI" -p "$MANAGER" --raw cluster.info "$A" json
[[ $OUT == *'"keys":50,'* ]] || fail "50 keys expected after the fix: $OUT"

test_case "CLUSTER.BACKUP writes a snapshot of every master and nodes.json"
mkdir "$BACKUP"
assert_raw_match "*M: * $A * keys -> $BACKUP/redis-node-127.0.0.1-${NODES[0]}-*.rdb (* bytes)*\\[OK\\] Backup of 3 masters written to $BACKUP in * ms."$'\n' \
    cluster.backup "$A" "$BACKUP"
assert_equal 4 "$(find "$BACKUP" -type f -perm 600 | wc -l)" "4 files of mode 0600 in $BACKUP"
[[ $(head -c 5 "$BACKUP"/redis-node-127.0.0.1-"${NODES[1]}"-*.rdb) == REDIS ]] ||
    [[ $(head -c 6 "$BACKUP"/redis-node-127.0.0.1-"${NODES[1]}"-*.rdb) == VALKEY ]] ||
    fail "the snapshot of $B is not an RDB file"

finish
