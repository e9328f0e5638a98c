# shellcheck shell=bash disable=SC2034 # globals here are for the test files
# lib.sh - a small harness in the spirit of Redis's Tcl test suite.
#
# Source it from a test file, then:
#   start_server [extra server args...]   # sets PORT, SERVER_PID, SERVER_DIR
#   test_case "name"
#   assert_reply 'expected' cmd args...   # whole redis-cli --no-raw output, exact
#   assert_match 'glob' cmd args...       # same output, bash glob match
#   assert_regex 'ERE' cmd args...        # same output, bash =~ match
#   assert_pipe 'expected' 'cmd a b' ...  # several commands, one connection
#   assert_equal expected actual [what]   # for values computed by the test
#   assert_true what cmd args...          # cmd must succeed
#   fail "message"                        # record a failure in the current case
#   r cmd args... / r_pipe <cmds          # raw access; capture cmd... sets OUT
#   finish                                # prints "N passed, N failed", exits
#
# Servers form a stack: start_server pushes, stop_server pops and makes the
# previous server current again. To address a server other than the current
# one, prefix the call: PORT=$replica_port assert_reply ...
#
# Environment (all optional):
#   SERVER_BIN    server binary (default: $REDIS_SERVER or redis-server)
#   SERVER_NAME   label printed after each case (default: basename of binary)
#   (set here from `$SERVER_BIN --version`, for tests that depend on the server:
#   SERVER_FLAVOR redis|valkey, SERVER_VERSION e.g. 7.2.6)
#   REDIS_CLI     client (default: redis-cli)
#   MODULES_DIR   default $ROOT/target/modules
#   FIXTURES_DIR  default $ROOT/target/fixtures
#   RESULTS_FILE  if set, finish appends "PASSED FAILED" to it (for run-all.sh)
#   CLI_TIMEOUT   seconds before a single redis-cli call is abandoned (10)

set -u

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
SERVER_BIN=${SERVER_BIN:-${REDIS_SERVER:-redis-server}}
SERVER_NAME=${SERVER_NAME:-$(basename "$SERVER_BIN")}
_version_line=$("$SERVER_BIN" --version 2>/dev/null | head -n 1)
SERVER_FLAVOR=redis
[[ $_version_line == Valkey* ]] && SERVER_FLAVOR=valkey
SERVER_VERSION=$(sed -n 's/.* v=\([0-9.]*\).*/\1/p' <<<"$_version_line")
REDIS_CLI=${REDIS_CLI:-redis-cli}
MODULES_DIR=${MODULES_DIR:-$ROOT/target/modules}
FIXTURES_DIR=${FIXTURES_DIR:-$ROOT/target/fixtures}
RESULTS_FILE=${RESULTS_FILE:-}
CLI_TIMEOUT=${CLI_TIMEOUT:-10}

# The current server (top of the stack).
PORT=
SERVER_PID=
SERVER_DIR=

# Every server pid and temp dir ever started, so cleanup finds them even if
# the test file forgets stop_server or dies half way; _STACK holds
# "pid port dir" of the running servers, newest last.
_ALL_PIDS=()
_DIRS=()
_STACK=()

_PASSED=0
_FAILED=0
_CASE=
_CASE_ERRORS=()
_FINISHED=0
_DEAD_REPORTED=

# ---------------------------------------------------------------- reporting

_case_end() {
    [[ -n $_CASE ]] || return 0
    if ((${#_CASE_ERRORS[@]} == 0)); then
        _PASSED=$((_PASSED + 1))
        printf '[ok]: %s (%s)\n' "$_CASE" "$SERVER_NAME"
    else
        _FAILED=$((_FAILED + 1))
        printf '[err]: %s (%s)\n' "$_CASE" "$SERVER_NAME"
        local e
        for e in "${_CASE_ERRORS[@]}"; do
            # Indent multi-line replies so they read as part of this case.
            printf '%s\n' "$e" | sed 's/^/    /'
        done
        # A crash explains every later failure too; show its log once.
        if [[ -n $SERVER_PID && $SERVER_PID != "$_DEAD_REPORTED" ]] &&
            ! process_alive "$SERVER_PID"; then
            _DEAD_REPORTED=$SERVER_PID
            printf '    server pid %s (port %s) is no longer running\n' "$SERVER_PID" "$PORT"
            _crash_excerpt "$SERVER_DIR" | sed 's/^/    /'
        fi
    fi
    _CASE=
    _CASE_ERRORS=()
}

test_case() {
    _case_end
    _CASE=$1
}

# Record a failure against the current case; failures outside any case
# (e.g. a server that would not start) become a case of their own.
fail() {
    [[ -n $_CASE ]] || _CASE="(setup)"
    _CASE_ERRORS+=("$1")
}

# A standalone failed case, e.g. "module missing".
fail_case() {
    test_case "$1"
    fail "$2"
    _case_end
}

_report() {
    ((_FINISHED)) && return 0
    _FINISHED=1
    _case_end
    if [[ -n $RESULTS_FILE ]]; then
        printf '%d %d\n' "$_PASSED" "$_FAILED" >>"$RESULTS_FILE"
    fi
    printf '%d passed, %d failed\n' "$_PASSED" "$_FAILED"
}

finish() {
    _report
    ((_FAILED == 0)) && exit 0
    exit 1
}

# Abandon the rest of the file (the remaining cases cannot run meaningfully).
abort_file() {
    fail "$1"
    finish
}

# ---------------------------------------------------------------- client

# Run one command on $PORT and print everything redis-cli printed.
r() {
    timeout "$CLI_TIMEOUT" "$REDIS_CLI" -p "$PORT" --no-raw "$@" </dev/null 2>&1
}

# One redis-cli session on $PORT fed commands from stdin, one per line.
# In this mode redis-cli adds a "(0.86s)" line after any command slower than
# 0.5s; that is client chatter, not a reply, and would make exact
# comparisons depend on timing (e.g. WAIT), so it is dropped.
r_pipe() {
    timeout "$CLI_TIMEOUT" "$REDIS_CLI" -p "$PORT" --no-raw 2>&1 |
        sed -E '/^\([0-9]+\.[0-9]+s\)$/d'
}

# Run a command and store its output byte-exactly in OUT: $(...) would drop
# any number of trailing newlines; we drop exactly the one terminating
# newline redis-cli prints, so a stray blank line still shows up.
capture() {
    local out
    out=$("$@"; printf x)
    out=${out%x}
    OUT=${out%$'\n'}
}
OUT=

_cmd_text() {
    local s
    (($#)) || return 0
    printf -v s '%q ' "$@"
    printf '%s' "${s% }"
}

# "label: value" for one-line values, an indented block for multi-line ones
# (redis-cli arrays), so expected and actual line up for the eye.
_show() {
    if [[ $2 == *$'\n'* ]]; then
        printf '  %s:\n%s\n' "$1" "$(printf '%s\n' "$2" | sed 's/^/    /')"
    else
        printf '  %s: %s\n' "$1" "$2"
    fi
}

# $1 = what was compared, $2 = expectation label, $3 = expected, $4 = actual.
_mismatch() {
    local msg
    msg=$(printf '%s\n%s\n%s' "$1" "$(_show "$2" "$3")" "$(_show actual "$4")")
    # Whitespace-only differences are invisible above; spell them out.
    if [[ ${3//[[:space:]]/} == "${4//[[:space:]]/}" ]]; then
        msg+=$(printf '\n  (whitespace differs: %q vs %q)' "$3" "$4")
    fi
    fail "$msg"
}

assert_reply() {
    local expected=$1
    shift
    capture r "$@"
    [[ $OUT == "$expected" ]] && return 0
    _mismatch "$(_cmd_text "$@") (port $PORT)" expected "$expected" "$OUT"
    return 1
}

_pipe_lines() {
    printf '%s\n' "$@" | r_pipe
}

# Several commands in ONE client session, one argument per command line
# (redis-cli splits each line on spaces, honouring quotes). Needed where the
# connection matters, e.g. WAIT only waits for writes made on its own
# connection. The replies are compared, all together, like assert_reply.
assert_pipe() {
    local expected=$1
    shift
    capture _pipe_lines "$@"
    [[ $OUT == "$expected" ]] && return 0
    _mismatch "$(printf '%s; ' "$@")(one session, port $PORT)" expected "$expected" "$OUT"
    return 1
}

assert_match() {
    local pattern=$1
    shift
    capture r "$@"
    # shellcheck disable=SC2053 # the right-hand side is meant as a glob
    [[ $OUT == $pattern ]] && return 0
    _mismatch "$(_cmd_text "$@") (port $PORT)" "expected to match glob" "$pattern" "$OUT"
    return 1
}

assert_regex() {
    local pattern=$1
    shift
    capture r "$@"
    [[ $OUT =~ $pattern ]] && return 0
    _mismatch "$(_cmd_text "$@") (port $PORT)" "expected to match regex" "$pattern" "$OUT"
    return 1
}

# Optional third argument describes what was compared.
assert_equal() {
    [[ $2 == "$1" ]] && return 0
    _mismatch "${3:-assert_equal}" expected "$1" "$2"
    return 1
}

assert_true() {
    local what=$1
    shift
    "$@" && return 0
    fail "expected true: $what"
    return 1
}

# Poll until a command succeeds, at most $1 seconds. Used for states the
# server reaches asynchronously (replication link, AOF write).
wait_for() {
    local limit=$1 deadline
    shift
    deadline=$((SECONDS + limit))
    until "$@"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# ---------------------------------------------------------------- servers

# Bash reaps its background children, so kill -0 fails once a server died.
process_alive() {
    kill -0 "$1" 2>/dev/null
}

_port_in_use() {
    (: <>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_free_port() {
    local p
    for _ in $(seq 100); do
        p=$((20000 + RANDOM % 20000))
        if ! _port_in_use "$p"; then
            printf '%d' "$p"
            return 0
        fi
    done
    return 1
}

_pong() {
    [[ $(timeout 2 "$REDIS_CLI" -p "$1" ping </dev/null 2>/dev/null) == PONG ]]
}

_log_tail() {
    local dir=$1
    printf 'server log tail (%s):\n' "$dir/server.log"
    tail -n 20 "$dir/server.log" 2>/dev/null
    if [[ -s $dir/stdout ]]; then
        printf 'server stdout/stderr:\n'
        tail -n 20 "$dir/stdout"
    fi
}

# A crash report's useful part (signal, stack trace) is at its start, not
# its tail; a Rust panic message goes to the server's stderr.
_crash_excerpt() {
    local dir=$1 line
    line=$(grep -n -m 1 -E 'crashed by signal|ASSERTION FAILED|Guru Meditation' \
        "$dir/server.log" 2>/dev/null | cut -d: -f1)
    if [[ -n $line ]]; then
        printf 'server log from line %s (%s):\n' "$line" "$dir/server.log"
        sed -n "${line},$((line + 25))p" "$dir/server.log"
        if [[ -s $dir/stdout ]]; then
            printf 'server stdout/stderr:\n'
            tail -n 20 "$dir/stdout"
        fi
    else
        _log_tail "$dir"
    fi
}

# Start $SERVER_BIN and make it the current server. A server that does not
# come up is reported as a failure and ends the file: nothing after it could
# give a meaningful result.
start_server() {
    local dir port pid attempt deadline
    command -v "$SERVER_BIN" >/dev/null ||
        abort_file "start_server: server binary not found or not executable: $SERVER_BIN"
    dir=$(mktemp -d "${TMPDIR:-/tmp}/rs-rm-test.XXXXXX") ||
        abort_file "start_server: mktemp failed"
    _DIRS+=("$dir")
    for attempt in 1 2 3 4 5; do
        port=$(_free_port) || abort_file "start_server: no free port found"
        : >"$dir/server.log"
        "$SERVER_BIN" --port "$port" --bind 127.0.0.1 --dir "$dir" \
            --save '' --appendonly no --daemonize no \
            --logfile "$dir/server.log" "$@" >"$dir/stdout" 2>&1 </dev/null &
        pid=$!
        _ALL_PIDS+=("$pid")
        deadline=$((SECONDS + 10))
        while process_alive "$pid" && ! _pong "$port"; do
            if ((SECONDS >= deadline)); then
                abort_file "$(printf 'start_server: %s did not answer PING within 10s (port %s)\n%s' \
                    "$SERVER_BIN" "$port" "$(_log_tail "$dir")")"
            fi
            sleep 0.1
        done
        if process_alive "$pid"; then
            _STACK+=("$pid $port $dir")
            PORT=$port SERVER_PID=$pid SERVER_DIR=$dir
            return 0
        fi
        # Lost a race for the port with another process: try another one.
        grep -qi 'address already in use' "$dir/server.log" "$dir/stdout" 2>/dev/null ||
            break
    done
    abort_file "$(printf 'start_server: %s exited during startup (attempt %d, args: %s)\n%s' \
        "$SERVER_BIN" "$attempt" "$(_cmd_text "$@")" "$(_log_tail "$dir")")"
}

_stop_pid() {
    local pid=$1 deadline
    if process_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        deadline=$((SECONDS + 5))
        while process_alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.1
        done
        process_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# Stop the current server and make the previously started one current.
stop_server() {
    local n=${#_STACK[@]} pid
    ((n > 0)) || return 0
    read -r pid _ <<<"${_STACK[n - 1]}"
    _stop_pid "$pid"
    _STACK=("${_STACK[@]:0:n-1}")
    PORT='' SERVER_PID='' SERVER_DIR=''
    if ((n > 1)); then
        # shellcheck disable=SC2034 # read by the test files
        read -r SERVER_PID PORT SERVER_DIR <<<"${_STACK[n - 2]}"
    fi
    return 0
}

_cleanup() {
    local i dir
    # Newest first: replicas go before their master, so a master never
    # waits on lagging replicas during its shutdown.
    for ((i = ${#_ALL_PIDS[@]} - 1; i >= 0; i--)); do
        _stop_pid "${_ALL_PIDS[i]}"
    done
    _ALL_PIDS=() _STACK=()
    for dir in "${_DIRS[@]}"; do
        [[ -d $dir ]] && rm -rf -- "$dir"
    done
    _DIRS=()
}

_on_exit() {
    local rc=$?
    # A file that died before finish (set -u error, signal) still reports,
    # and reports a failure, so run-all.sh never counts it as clean.
    if ((!_FINISHED)); then
        fail "test file exited before finish (status $rc)"
        _report
        rc=1
    fi
    _cleanup
    exit "$rc"
}

trap _on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Skip the whole file with one clear failure when a required file is absent.
require_file() {
    local path=$1 hint=$2
    if [[ ! -f $path ]]; then
        fail_case "$(basename "$path") present" "missing: $path ($hint)"
        finish
    fi
}
