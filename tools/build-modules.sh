#!/usr/bin/env bash
# Builds every module crate under modules/ (release) and puts each as target/modules/<name>.so,
# the file `redis-server --loadmodule` takes. With --fixtures, also the test-fixture modules
# under tests/fixture* into target/fixtures/ and the SDK's examples into target/examples/.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

crate_name() { sed -n 's/^name = "\(.*\)"/\1/p' "$1/Cargo.toml" | head -n 1; }

build() { # out-dir crate-dir...
    local out=$1; shift
    local args=() names=() dir name
    for dir in "$@"; do
        name=$(crate_name "$dir")
        names+=("$name")
        args+=(-p "$name")
    done
    cargo build --release --quiet "${args[@]}"
    mkdir -p "$out"
    for name in "${names[@]}"; do
        # Copy to a new inode: a running server keeps the old file mapped untouched.
        cp -f "target/release/lib${name//-/_}.so" "$out/$name.so.tmp"
        mv -f "$out/$name.so.tmp" "$out/$name.so"
        echo "built $out/$name.so"
    done
}

build "$ROOT/target/modules" modules/*/
if [ "${1:-}" = "--fixtures" ]; then
    build "$ROOT/target/fixtures" tests/fixture*/
    # The SDK's examples (cdylib examples of the root crate), for tests/examples.rs.
    cargo build --release --quiet -p rs-rm --examples
    mkdir -p "$ROOT/target/examples"
    for src in examples/*.rs; do
        name=$(basename "$src" .rs)
        cp -f "target/release/examples/lib$name.so" "$ROOT/target/examples/$name.so.tmp"
        mv -f "$ROOT/target/examples/$name.so.tmp" "$ROOT/target/examples/$name.so"
        echo "built target/examples/$name.so"
    done
fi
