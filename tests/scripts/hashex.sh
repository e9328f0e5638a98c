#!/usr/bin/env bash
# Tests for the hashex module: HGETSET key field value -> old value or nil, as a redis-cli
# transcript shows it (the seed demo, a new key, COMMAND INFO / DOCS). Errors, arity, binary
# safety, replication and the AOF are tests/hashex.rs's.
# Run alone with defaults (redis-server from PATH) or via run-all.sh.

# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2317 # helpers are invoked via wait_for/capture
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE=$MODULES_DIR/hashex.so
require_file "$MODULE" "build the hashex module first, or set MODULES_DIR"

start_server --loadmodule "$MODULE"

test_case "seed transcript"
assert_reply '(integer) 1' hset a a 1
assert_reply '"1"' hgetset a a 2
assert_reply '"2"' hget a a
assert_reply '(nil)' hgetset a b 2
assert_reply '"2"' hgetset a b 3

test_case "HGETSET creates the key"
assert_reply '(integer) 0' exists k
assert_reply '(nil)' hgetset k f v
assert_reply '"v"' hget k f
assert_reply 'hash' type k
assert_reply '(integer) 1' hlen k

test_case "HGETSET is in COMMAND INFO / DOCS"
assert_match '1) *1) "hgetset"*' command info hgetset
assert_match '*) write*' command info hgetset
# Docs exist only if the module registered them; a bare command has no
# "summary" field at all.
assert_match '1) "hgetset"*"summary"*' command docs hgetset

finish
