#!/usr/bin/env bash
# Starts a Redis with every module of target/modules loaded, in the foreground (Ctrl-C stops it).
# REDIS_SERVER picks the server binary, DEMO_PORT the port (default 6379, what redis-cli uses).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER=${REDIS_SERVER:-redis-server}
PORT=${DEMO_PORT:-6379}
DIR="$ROOT/target/demo"
mkdir -p "$DIR"

args=()
for so in "$ROOT"/target/modules/*.so; do
    args+=(--loadmodule "$so")
done
[ ${#args[@]} -gt 0 ] || { echo "no modules in target/modules: run 'cargo make modules'" >&2; exit 1; }

cli="redis-cli"
[ "$PORT" = 6379 ] || cli="redis-cli -p $PORT"
cat <<MSG
rs-rm demo: $("$SERVER" --version | head -n 1)
modules: $(cd "$ROOT/target/modules" && ls -- *.so | tr '\n' ' ')
In another terminal:
  $cli hset a a 1        # (integer) 1
  $cli hgetset a a 2     # "1"
  $cli hget a a          # "2"
  $cli hgetset a b 2     # (nil)
  $cli hgetset a b 3     # "2"
Ctrl-C stops the server.
MSG
exec "$SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save '' --appendonly no "${args[@]}"
