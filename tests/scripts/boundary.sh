#!/usr/bin/env bash
# Tests for the SDK's error boundary, through the rmtest fixture module:
# panics and Err results must become error replies, never a crashed server.
# Run alone with defaults (redis-server from PATH) or via run-all.sh.

# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2317 # helpers are invoked via wait_for/capture
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE=$FIXTURES_DIR/rmtest.so
require_file "$MODULE" "build the rmtest fixture first, or set FIXTURES_DIR"

start_server --loadmodule "$MODULE"

test_case "a panicking command answers an error"
assert_reply '(error) ERR panic: boom' rmtest.panic
assert_reply 'PONG' ping
assert_true "server pid $SERVER_PID still alive" process_alive "$SERVER_PID"

test_case "panics repeated"
# One client session, so the connection itself must survive every panic.
panic_session() { printf 'rmtest.panic\n%.0s' {1..100} | r_pipe; }
capture panic_session
# Every line must be exactly the error and there must be exactly 100 lines;
# count rather than diff so a failure does not print 200 lines.
reply='(error) ERR panic: boom'
matched=$(grep -cxF -- "$reply" <<<"$OUT")
assert_equal 100 "$matched" "replies equal to '$reply'; other output starts: $(grep -vxF -- "$reply" <<<"$OUT" | head -n 3)"
assert_equal 100 "$(wc -l <<<"$OUT")" "lines of output"
assert_reply 'PONG' ping
assert_true "server pid $SERVER_PID still alive" process_alive "$SERVER_PID"

test_case "an Err result becomes an error reply"
assert_reply '(error) ERR deliberate failure' rmtest.fail

test_case "a WRONGTYPE error"
assert_reply '(error) WRONGTYPE Operation against a key holding the wrong kind of value' \
    rmtest.wrongtype

finish
