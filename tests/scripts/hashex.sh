#!/usr/bin/env bash
# Tests for the hashex module: HGETSET key field value -> old value or nil.
# Run alone with defaults (redis-server from PATH) or via run-all.sh.

# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2317 # helpers are invoked via wait_for/capture
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE=$MODULES_DIR/hashex.so
require_file "$MODULE" "build the hashex module first, or set MODULES_DIR"

# Also the master in the replication case; without the delay the first
# full sync waits 5s for more replicas to join.
start_server --loadmodule "$MODULE" --repl-diskless-sync-delay 0
MASTER_PORT=$PORT

test_case "seed transcript"
assert_reply '(integer) 1' hset a a 1
assert_reply '"1"' hgetset a a 2
assert_reply '"2"' hget a a
assert_reply '(nil)' hgetset a b 2
assert_reply '"2"' hgetset a b 3

test_case "HGETSET on a non-hash key is WRONGTYPE"
assert_reply 'OK' set s x
assert_reply '(error) WRONGTYPE Operation against a key holding the wrong kind of value' \
    hgetset s f v
# The failed call must not have touched the key.
assert_reply '"x"' get s
assert_reply 'string' type s

test_case "HGETSET arity"
# The wording differs between servers and between server-side and
# module-side arity checks; the error itself must not.
assert_match '(error) *wrong number of arguments*' hgetset
assert_match '(error) *wrong number of arguments*' hgetset arity
assert_match '(error) *wrong number of arguments*' hgetset arity f
assert_match '(error) *wrong number of arguments*' hgetset arity f v extra
assert_reply '(integer) 0' exists arity

test_case "HGETSET creates the key"
assert_reply '(integer) 0' exists k
assert_reply '(nil)' hgetset k f v
assert_reply '"v"' hget k f
assert_reply 'hash' type k
assert_reply '(integer) 1' hlen k

test_case "HGETSET binary-safe"
# redis-cli --no-raw prints non-printable bytes as escapes, which makes the
# expected replies exact without putting raw bytes in this file.
bin=$'\x01\x02\xc3\xa9 \t\r\n\x7f\xff'
bin_repr='"\x01\x02\xc3\xa9 \t\r\n\x7f\xff"'
assert_reply '(nil)' hgetset bk 'my field' 'a value with spaces'
assert_reply '"a value with spaces"' hget bk 'my field'
assert_reply '"a value with spaces"' hgetset bk 'my field' "$bin"
assert_reply "$bin_repr" hget bk 'my field'
assert_reply '(integer) 10' hstrlen bk 'my field'
assert_reply "$bin_repr" hgetset bk 'my field' plain
assert_reply '(nil)' hgetset bk "$bin" 'field is binary'
assert_reply '"field is binary"' hget bk "$bin"
assert_reply '(integer) 2' hlen bk

test_case "HGETSET is in COMMAND INFO / DOCS"
assert_match '1) *1) "hgetset"*' command info hgetset
assert_match '*) write*' command info hgetset
# Docs exist only if the module registered them; a bare command has no
# "summary" field at all.
assert_match '1) "hgetset"*"summary"*' command docs hgetset

test_case "HGETSET replicates verbatim"
start_server --loadmodule "$MODULE" --replicaof 127.0.0.1 "$MASTER_PORT"
REPLICA_PORT=$PORT
link_up() { [[ $(PORT=$REPLICA_PORT r info replication) == *master_link_status:up* ]]; }
if wait_for 10 link_up; then
    PORT=$MASTER_PORT assert_reply '(nil)' hgetset rk f v1
    # WAIT counts acks for the writes of its own connection only, so it
    # must share the session with the write it waits for.
    PORT=$MASTER_PORT assert_pipe $'"v1"\n(integer) 1' 'hgetset rk f v2' 'wait 1 5000'
    assert_reply '"v2"' hget rk f
    # The replica ran HGETSET itself, not an HSET rewritten by the master.
    assert_regex 'cmdstat_hgetset:calls=2,' info commandstats
else
    fail "replica on port $REPLICA_PORT: master_link_status not up within 10s"
fi
stop_server

test_case "HGETSET is written to the AOF verbatim"
start_server --loadmodule "$MODULE" --appendonly yes
aof_has() {
    local f
    for f in "$SERVER_DIR"/appendonlydir/*.incr.aof; do
        [[ -f $f ]] && grep -qi -- "$1" "$f" && return 0
    done
    return 1
}
assert_reply '(nil)' hgetset aofkey f aofvalue
# With appendfsync everysec the write(2) may be postponed while a background
# fsync runs; allow a moment.
assert_true "hgetset in $SERVER_DIR/appendonlydir/*.incr.aof" wait_for 5 aof_has hgetset
assert_true "aofvalue in $SERVER_DIR/appendonlydir/*.incr.aof" aof_has aofvalue
stop_server

finish
