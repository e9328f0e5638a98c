#!/usr/bin/env bash
# Everything CI runs: build the modules and fixtures, run the cargo tests (unit, compile-fail
# doc tests, integration tests on real servers) and the redis-cli scripts on every server, then
# print one closing line `N passed, N failed` over all of them.
#
# REDIS_SERVER / VALKEY_SERVER pick the server binaries (see README); SKIP_VALKEY=1 leaves
# Valkey out.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOG_DIR="$ROOT/target/test-logs"
mkdir -p "$LOG_DIR"

passed=0
failed=0

echo "== building modules and fixtures"
if ! bash tools/build-modules.sh --fixtures; then
    echo "build failed"
    echo "0 passed, 1 failed"
    exit 1
fi

echo "== cargo test --workspace"
cargo test --workspace --no-fail-fast 2>&1 | tee "$LOG_DIR/cargo-test.log"
cargo_status=${PIPESTATUS[0]}
while read -r p f; do
    passed=$((passed + p))
    failed=$((failed + f))
done < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' \
    "$LOG_DIR/cargo-test.log")
if [ "$cargo_status" -ne 0 ] && [ "$failed" -eq 0 ]; then
    # A build error or crash counts no test as failed: count it here so it cannot pass.
    failed=$((failed + 1))
fi

echo "== redis-cli scripts"
bash tests/scripts/run-all.sh 2>&1 | tee "$LOG_DIR/scripts.log"
scripts_status=${PIPESTATUS[0]}
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$LOG_DIR/scripts.log" | tail -n 1)
if [ -n "$summary" ]; then
    passed=$((passed + ${summary%% passed*}))
    rest=${summary#*, }
    failed=$((failed + ${rest%% failed*}))
fi
if [ "$scripts_status" -ne 0 ] && { [ -z "$summary" ] || [ "${rest%% failed*}" -eq 0 ]; }; then
    failed=$((failed + 1))
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
