#!/usr/bin/env bash
# Tests for CLUSTER.MONITOR / CLUSTER.EVENTS of the cluster module: argument errors on a
# standalone server, then a watcher of a six-node cluster (1 s node timeout) that sees a
# killed replica fail. Run alone with defaults (redis-server from PATH) or via run-all.sh.

# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2317 # helpers are invoked via wait_for/capture
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE=$MODULES_DIR/cluster.so
require_file "$MODULE" "build the cluster module first, or set MODULES_DIR"

start_server --loadmodule "$MODULE"
MANAGER_PORT=$PORT MANAGER_PID=$SERVER_PID MANAGER_DIR=$SERVER_DIR

test_case "CLUSTER.MONITOR on a standalone server"
assert_reply "(error) ERR 127.0.0.1:$MANAGER_PORT is not in cluster mode" cluster.monitor
assert_reply "(error) ERR INTERVAL must be between 10 and 60000 ms, got '0'" \
    cluster.monitor 127.0.0.1:1 interval 0
assert_reply "(error) ERR no watcher for 127.0.0.1:1" cluster.monitor stop 127.0.0.1:1
assert_reply '"no watchers\n"' cluster.monitor list
assert_reply '"no events\n"' cluster.events
assert_reply '"[]"' cluster.events count 5 json
assert_reply "(error) ERR COUNT needs a number" cluster.events count

# Six cluster nodes joined by redis-cli: masters on the first three.
NODE_PORTS=()
NODE_PIDS=()
for _ in 1 2 3 4 5 6; do
    start_server --cluster-enabled yes --cluster-config-file nodes.conf \
        --cluster-node-timeout 1000 --repl-diskless-sync-delay 0
    NODE_PORTS+=("$PORT")
    NODE_PIDS+=("$SERVER_PID")
done
ADDRS=()
for p in "${NODE_PORTS[@]}"; do ADDRS+=("127.0.0.1:$p"); done
"$REDIS_CLI" --cluster create "${ADDRS[@]}" --cluster-replicas 1 --cluster-yes \
    </dev/null >/dev/null 2>&1 || abort_file "redis-cli --cluster create failed"
all_ok() {
    local p
    for p in "${NODE_PORTS[@]}"; do
        PORT=$p r cluster info | grep -q 'cluster_state:ok' || return 1
        [[ $(PORT=$p r cluster nodes | grep -vc handshake) == 6 ]] || return 1
    done
}
wait_for 30 all_ok || abort_file "the cluster did not settle"
# The manager is the current server again (for the reports of failed cases too).
PORT=$MANAGER_PORT SERVER_PID=$MANAGER_PID SERVER_DIR=$MANAGER_DIR
SEED=127.0.0.1:${NODE_PORTS[0]}

test_case "a watcher of a six-node cluster"
assert_regex "^\"watching $SEED every 100 ms: 6 nodes \\(3 masters, 3 replicas\\), 6 reachable, 0 pfail, 0 fail, 16384 slots covered, cluster_state ok, current_epoch [0-9]+\\\\n\"$" \
    cluster.monitor "$SEED" interval 100
assert_match "\"already watching $SEED every 100 ms: * polls, last at *, * events | 6 nodes *\"" \
    cluster.monitor "$SEED"
assert_match "\"$SEED every 100 ms: * polls, last at *, 1 events | 6 nodes *\"" \
    cluster.monitor list
assert_match '"#1 * watch_started - '"$SEED"' 6 nodes (3 masters, 3 replicas), *"' \
    cluster.events

test_case "a killed replica is unreachable, pfail, then fail; coverage stays"
# The last node is a replica (redis-cli puts masters first).
VICTIM=${NODE_PORTS[5]}
VICTIM_ID=$(PORT=$VICTIM r cluster myid | tr -d '"')
kill -KILL "${NODE_PIDS[5]}"
wait "${NODE_PIDS[5]}" 2>/dev/null
victim_failed() { r cluster.events | grep -q "node_fail $VICTIM_ID 127.0.0.1:$VICTIM "; }
wait_for 30 victim_failed || fail "no node_fail for the killed replica: $(r cluster.events)"
assert_match "\"#4 * node_fail $VICTIM_ID 127.0.0.1:$VICTIM flagged fail by the cluster (* node(s))*\"" \
    cluster.events count 1
kinds=$("$REDIS_CLI" -p "$PORT" --raw cluster.events | awk 'NF {print $3}' | tr '\n' ' ')
assert_equal "watch_started node_unreachable node_pfail node_fail " "$kinds" "event kinds"
assert_match "*cluster_slots_covered:16384*" info cluster_monitor
assert_match "*cluster_nodes_fail:1*" info cluster_monitor
assert_reply "\"stopped $SEED\\n\"" cluster.monitor stop all

finish
