#!/usr/bin/env bash
# `cargo make bench`: every benchmark, on Redis (REDIS_SERVER), a source-built Redis
# (SOURCE_SERVER) and Valkey (VALKEY_SERVER, default target/servers/valkey-server). Paste the
# reports from target/bench/*.md into BENCHMARKS.md.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export VALKEY_SERVER=${VALKEY_SERVER:-$ROOT/target/servers/valkey-server}
# Issue 14's method: Redis 7.0.15, Valkey 9.1.2 and one source-built server of the matrix
# (SOURCE_SERVER; default redis 7.4.1 built from ../shared/servers by tools/servers.sh, cached
# outside the tree; SOURCE_SERVER=none leaves it out).
REDIS_SERVER=${REDIS_SERVER:-redis-server}
SOURCE_TARBALL=${SOURCE_TARBALL:-$ROOT/../shared/servers/redis-7.4.1.tar.gz}
if [[ -z ${SOURCE_SERVER:-} && -f $SOURCE_TARBALL ]]; then
    SOURCE_SERVER=$(bash "$ROOT/tools/servers.sh" build "$SOURCE_TARBALL" | tail -n 1)
fi
export BENCH_SERVERS=${BENCH_SERVERS:-$REDIS_SERVER}
if [[ -n ${SOURCE_SERVER:-} && $SOURCE_SERVER != none ]]; then
    BENCH_SERVERS="$BENCH_SERVERS $SOURCE_SERVER"
fi
bash "$ROOT/bench/hgetset.sh"
bash "$ROOT/bench/twins.sh"
bash "$ROOT/bench/mod.sh"
bash "$ROOT/bench/json.sh"
bash "$ROOT/bench/json-datasets.sh"
bash "$ROOT/bench/json-throughput.sh"
# Why the memory target is not met: a smaller stored form (a probe) and what printing it costs.
bash "$ROOT/bench/json-packed.sh"
bash "$ROOT/bench/json-packed-proxy.sh"
bash "$ROOT/bench/cluster.sh"
# CREATE on the servers' default settings (repl-diskless-sync-delay 5 s).
STEPS=create SYNC_DELAY=server ROUNDS=5 bash "$ROOT/bench/cluster.sh"
