#!/usr/bin/env bash
# Runs every jsondoc fuzz target for FUZZ_SECONDS each (default 60) with cargo-fuzz on nightly.
# Corpora grow in fuzz/corpus/<target> (not committed), starting from fuzz/seeds/<target>.
# A crash leaves its input in fuzz/artifacts/<target>/ and makes the run fail; once fixed,
# keep the input as a regular test in crates/jsondoc/tests/fuzz_props.rs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
SECONDS_EACH=${FUZZ_SECONDS:-60}
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "cargo fuzz needs a nightly toolchain and cargo-fuzz:" >&2
    echo "  rustup toolchain install nightly && cargo install cargo-fuzz" >&2
    exit 1
fi
failed=()
for target in parse path saved_payload; do
    mkdir -p "fuzz/corpus/$target" fuzz/target
    cp -n fuzz/seeds/"$target"/* "fuzz/corpus/$target/"
    log=fuzz/target/$target.log
    echo "== $target: ${SECONDS_EACH}s (log: crates/jsondoc/$log)"
    # One job (the machine may be shared); the RSS limit stops a runaway input.
    if cargo +nightly fuzz run -O "$target" "fuzz/corpus/$target" -- \
        -max_total_time="$SECONDS_EACH" -rss_limit_mb=1024 -max_len=4096 \
        -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' "$log" || true
    else
        failed+=("$target")
        grep -E 'panicked|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -20 || true
    fi
done
if ((${#failed[@]})); then
    echo "fuzz targets that failed: ${failed[*]}" >&2
    exit 1
fi
echo "no failures"
