#!/usr/bin/env bash
# Starts a Redis with hashex and the module manager (mod) loaded, in the foreground (Ctrl-C
# stops it). mod points at the signed local registry `cargo make registry` built in
# target/registry (a git repository), so the other modules are one MOD.INSTALL away.
# REDIS_SERVER picks the server binary, DEMO_PORT the port (default 6379, what redis-cli uses).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER=${REDIS_SERVER:-redis-server}
PORT=${DEMO_PORT:-6379}
DIR="$ROOT/target/demo"
mkdir -p "$DIR"

for file in target/modules/hashex.so target/modules/mod.so target/registry/index.json target/registry.pub; do
    [ -f "$ROOT/$file" ] || { echo "$file is missing: run 'cargo make demo' (it builds the modules and the registry)" >&2; exit 1; }
done

cli="redis-cli"
[ "$PORT" = 6379 ] || cli="redis-cli -p $PORT"
cat <<MSG
rs-rm demo: $("$SERVER" --version | head -n 1)
modules: hashex.so, mod.so (registry: target/registry, downloads: target/demo/redismodule)
In another terminal:
  $cli hset a a 1                # (integer) 1
  $cli hgetset a a 2             # "1"
  $cli hget a a                  # "2"
  $cli hgetset a b 2             # (nil)
  $cli hgetset a b 3             # "2"
  $cli mod.search json           # rs-rm/json, its latest version, what it does
  $cli mod.install rs-rm/json    # download, verify (signature, sha256, ELF), MODULE LOAD
  $cli json.set doc '\$' '{"hello":"world"}'
  $cli json.get doc              # "{\"hello\":\"world\"}"
  $cli mod.list                  # what is downloaded and loaded, with versions and hashes
Ctrl-C stops the server.
MSG
exec "$SERVER" --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save '' --appendonly no \
    --enable-module-command local \
    --loadmodule "$ROOT/target/modules/hashex.so" \
    --loadmodule "$ROOT/target/modules/mod.so" \
    registry "$ROOT/target/registry" trusted-key "$ROOT/target/registry.pub" home "$DIR/redismodule"
