#!/usr/bin/env bash
# Everything CI runs: build the modules and fixtures, run the tests that need no server once
# (unit, property and doc tests of every crate), then the whole server suite — the cargo
# integration tests in tests/ (the SDK's) and modules/*/tests/ (each module's) and the redis-cli
# scripts in tests/scripts/ — once per server of the matrix, and RedisJSON's own test suite
# against the json module (tools/redisjson-suite.sh, when ../shared/compat has it); a table per
# server, then one closing line `N passed, N failed` over all of them.
#
# The matrix is RS_RM_SERVERS, whitespace-separated entries, each a server binary (a path, or a
# name on PATH) or a Redis source tarball or tree, built once into a cache outside the work tree
# by tools/servers.sh. Unset, it is what `tools/servers.sh default` prints: REDIS_SERVER
# (default Debian's redis-server), VALKEY_SERVER unless SKIP_VALKEY=1, and every tarball in
# ../shared/servers/ when that folder exists.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOG_DIR="$ROOT/target/test-logs"
rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"

passed=0
failed=0
rows=()

# Adds the `test result:` lines of a cargo log to the totals of the caller's row (p, f); a
# cargo run that failed without a failed test (a build error, a crashed test binary) counts one.
count_cargo() {
    local log=$1 status=$2 tp tf any=0
    while read -r tp tf; do
        p=$((p + tp))
        f=$((f + tf))
        any=1
    done < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' "$log")
    if [ "$status" -ne 0 ] && { [ "$any" -eq 0 ] || ! grep -qE '^test result: FAILED' "$log"; }; then
        f=$((f + 1))
    fi
}

# Adds the closing line of a scripts run to (p, f); a run that failed without one counts one.
count_scripts() {
    local log=$1 status=$2 line rest
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$((p + ${line%% passed*}))
        rest=${line#*, }
        f=$((f + ${rest%% failed*}))
    fi
    if [ "$status" -ne 0 ] && { [ -z "$line" ] || [ "${rest%% failed*}" -eq 0 ]; }; then
        f=$((f + 1))
    fi
}

add_row() { # name passed failed what
    rows+=("$(printf '%-22s %7s %7s   %s' "$1" "$2" "$3" "$4")")
    passed=$((passed + $2))
    failed=$((failed + $3))
}

finish() {
    echo
    printf '%-22s %7s %7s   %s\n' server passed failed binary
    printf '%s\n' "${rows[@]}"
    echo
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}

echo "== building modules and fixtures"
if ! bash tools/build-modules.sh --fixtures; then
    echo "build failed"
    add_row "(build)" 0 1 "tools/build-modules.sh"
    finish
fi

# The matrix: each entry resolved to a server binary (sources are built, or reused, first).
if [ -n "${RS_RM_SERVERS:-}" ]; then
    read -r -a entries <<<"$RS_RM_SERVERS"
else
    mapfile -t entries < <(bash tools/servers.sh default)
fi
binaries=()
for entry in "${entries[@]}"; do
    if [ -f "$entry" ] && [[ $entry == *.tar* || $entry == *.tgz ]] || [ -f "$entry/src/server.c" ]; then
        echo "== server from source: $entry"
        if bin=$(bash tools/servers.sh build "$entry"); then
            binaries+=("$bin")
        else
            add_row "$(basename "$entry")" 0 1 "build failed: $entry"
        fi
    elif bin=$(command -v "$entry"); then
        binaries+=("$bin")
    else
        add_row "$(basename "$entry")" 0 1 "not found: $entry (see README: Testing against your own server)"
    fi
done

echo "== tests without a server (unit, property, doc and compile-fail tests)"
p=0 f=0
# `--test ui`: the mistakes that must not compile, with their expected errors (tests/ui.rs).
# The modules' own suites (modules/*/tests/) need a server: here only their unit tests.
modules="-p json -p hashex -p mod -p cluster"
for args in "--workspace --exclude rs-rm --exclude rs-rm-tests ${modules//-p/--exclude}" \
    "-p rs-rm --lib" "-p rs-rm --doc" "-p rs-rm --test ui" "$modules --lib"; do
    log="$LOG_DIR/no-server-${args//[^a-z]/}.log"
    # shellcheck disable=SC2086 # the arguments are words
    cargo test $args --no-fail-fast 2>&1 | tee "$log"
    count_cargo "$log" "${PIPESTATUS[0]}"
done
# The SDK and its examples build with the oldest toolchain it promises (rust-version).
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
if ! command -v rustup >/dev/null; then
    echo "== no rustup here: the build with Rust $msrv (rust-version) is left out"
elif rustup toolchain list | grep -q "^$msrv-"; then
    echo "== the SDK with Rust $msrv (rust-version)"
    if cargo "+$msrv" build --quiet -p rs-rm --lib --examples --target-dir target/msrv; then
        p=$((p + 1))
    else
        f=$((f + 1))
    fi
else
    echo "== Rust $msrv (rust-version) is not installed (tools/setup.sh installs it)"
    f=$((f + 1))
fi
add_row "(no server)" "$p" "$f" "unit, property, doc and ui tests; the SDK with Rust $msrv"

i=0
for bin in "${binaries[@]}"; do
    i=$((i + 1))
    name=$("$bin" --version 2>/dev/null |
        sed -n 's/^\([A-Za-z]*\) server v=\([^ ]*\).*/\1-\2/p' | tr 'A-Z' 'a-z')
    if [ -z "$name" ]; then
        add_row "$(basename "$bin")" 0 1 "does not run: $bin --version"
        continue
    fi
    echo "== $name ($bin): cargo integration tests"
    p=0 f=0
    log="$LOG_DIR/$i-$name-cargo.log"
    # The SDK's suites (tests/) and each module's (modules/*/tests/); `--test '*'`: their
    # integration tests only, the unit tests ran once above.
    # shellcheck disable=SC2086 # the arguments are words
    RS_RM_SERVER=$bin cargo test -p rs-rm-tests $modules --test '*' --no-fail-fast 2>&1 |
        tee "$log"
    count_cargo "$log" "${PIPESTATUS[0]}"
    echo "== $name ($bin): redis-cli scripts"
    log="$LOG_DIR/$i-$name-scripts.log"
    RS_RM_SERVER=$bin bash tests/scripts/run-all.sh 2>&1 | tee "$log"
    count_scripts "$log" "${PIPESTATUS[0]}"
    add_row "$name" "$p" "$f" "$bin"
    # RedisJSON's own suite, when its tarball is in ../shared/compat (exit 2: not there).
    echo "== $name ($bin): RedisJSON's own test suite"
    log="$LOG_DIR/$i-$name-redisjson-suite.log"
    RS_RM_SUITE_LOGS="$LOG_DIR/$i-$name-redisjson-suite" \
        bash tools/redisjson-suite.sh "$bin" 2>&1 | tee "$log"
    status=${PIPESTATUS[0]}
    if [ "$status" -ne 2 ]; then
        p=0 f=0
        count_scripts "$log" "$status"
        summary=$(sed -n 's/^redisjson suite: //p' "$log" | tail -n 1)
        add_row "  + redisjson suite" "$p" "$f" "${summary:-no summary: see $log}"
    fi
done

[ ${#binaries[@]} -gt 0 ] || add_row "(no server)" 0 1 "the matrix is empty"
finish
