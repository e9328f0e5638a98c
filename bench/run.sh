#!/usr/bin/env bash
# `cargo make bench`: every benchmark, on Redis (REDIS_SERVER) and Valkey (VALKEY_SERVER,
# default target/servers/valkey-server). Paste the reports from target/bench/*.md into
# BENCHMARKS.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export VALKEY_SERVER=${VALKEY_SERVER:-$ROOT/target/servers/valkey-server}
bash "$ROOT/bench/hgetset.sh"
bash "$ROOT/bench/twins.sh"
bash "$ROOT/bench/mod.sh"
bash "$ROOT/bench/json.sh"
bash "$ROOT/bench/json-datasets.sh"
bash "$ROOT/bench/json-throughput.sh"
bash "$ROOT/bench/cluster.sh"
# CREATE on the servers' default settings (repl-diskless-sync-delay 5 s).
STEPS=create SYNC_DELAY=server ROUNDS=5 bash "$ROOT/bench/cluster.sh"
