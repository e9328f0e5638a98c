#!/usr/bin/env bash
# Run every tests/scripts/*.sh test file against every configured server and
# print the total as the last line: "N passed, N failed". Exit 1 on any
# failure, including a server binary or module that is missing.
#
#   RS_RM_SERVER   one server binary: run on it alone (how tools/test-all.sh runs its
#                  matrix); SERVERS, REDIS_SERVER and VALKEY_SERVER are then not read
#   SERVERS        which servers to run, default "redis valkey"
#   REDIS_SERVER   default redis-server (from PATH)
#   VALKEY_SERVER  default $ROOT/target/servers/valkey-server
#   SKIP_VALKEY=1  leave valkey out instead of failing when it is missing
#   plus everything lib.sh reads (REDIS_CLI, MODULES_DIR, FIXTURES_DIR, ...)

set -u

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$SCRIPTS/../.." && pwd)
export ROOT
SERVERS=${SERVERS:-redis valkey}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
VALKEY_SERVER=${VALKEY_SERVER:-$ROOT/target/servers/valkey-server}
SKIP_VALKEY=${SKIP_VALKEY:-0}

passed=0
failed=0
child=
results=$(mktemp "${TMPDIR:-/tmp}/rs-rm-results.XXXXXX") || exit 1

# Test files run in the background so a signal here can be forwarded to
# them: they must get the chance to stop their servers.
on_signal() {
    [[ -n $child ]] && kill -TERM "$child" 2>/dev/null && wait "$child"
    rm -f -- "$results"
    exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'rm -f -- "$results"' EXIT

# A failure that happens outside any test file still counts, visibly.
fail() {
    printf '[err]: %s\n' "$1"
    failed=$((failed + 1))
}

files=()
for f in "$SCRIPTS"/*.sh; do
    case $(basename "$f") in
    lib.sh | run-all.sh) ;;
    *) files+=("$f") ;;
    esac
done

[[ -n ${RS_RM_SERVER:-} ]] && SERVERS=one

for server in $SERVERS; do
    case $server in
    one)
        bin=$RS_RM_SERVER
        # The label tests read (e.g. "valkey-9.1.2", "redis-7.2.6"), from the binary itself.
        server=$("$bin" --version 2>/dev/null |
            sed -n 's/^\([A-Za-z]*\) server v=\([^ ]*\).*/\1-\2/p' | tr 'A-Z' 'a-z')
        server=${server:-$(basename "$bin")}
        ;;
    redis) bin=$REDIS_SERVER ;;
    valkey)
        if [[ $SKIP_VALKEY == 1 ]]; then
            printf '=== valkey skipped (SKIP_VALKEY=1)\n'
            continue
        fi
        bin=$VALKEY_SERVER
        ;;
    *)
        fail "unknown server '$server' in SERVERS (expected redis and/or valkey)"
        continue
        ;;
    esac
    if ! command -v "$bin" >/dev/null; then
        hint="set ${server^^}_SERVER"
        [[ $server == valkey ]] && hint+=" or SKIP_VALKEY=1"
        fail "$server: server binary not found or not executable: $bin ($hint)"
        continue
    fi
    version=$("$bin" --version 2>&1 | head -n 1)
    for f in "${files[@]}"; do
        printf '=== %s on %s (%s)\n' "$(basename "$f")" "$server" "$version"
        : >"$results"
        SERVER_BIN=$bin SERVER_NAME=$server RESULTS_FILE=$results bash "$f" &
        child=$!
        wait "$child"
        rc=$?
        child=
        if read -r p fl <"$results" && [[ $p =~ ^[0-9]+$ && $fl =~ ^[0-9]+$ ]]; then
            passed=$((passed + p))
            failed=$((failed + fl))
            # A non-zero exit with no failure reported is still a failure.
            ((rc != 0 && fl == 0)) && fail "$(basename "$f") on $server exited $rc"
        else
            fail "$(basename "$f") on $server reported no results (exit $rc)"
        fi
    done
done

((passed + failed > 0)) || fail "no tests ran (SERVERS='$SERVERS')"
printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
