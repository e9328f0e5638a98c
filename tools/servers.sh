#!/usr/bin/env bash
# Builds Redis from a source tarball or tree the way a user does (`make`, bundled jemalloc, no
# TLS) into a cache outside the work tree, and prints the path of its redis-server. A finished
# build is reused: its key is the tarball's sha256 (or, for a tree, a hash of its sources), so a
# changed source builds again and an unchanged one costs a hash.
#
#   tools/servers.sh build SOURCE...   build (or reuse) each; print one redis-server path a line
#   tools/servers.sh path SOURCE       print where SOURCE's build is (or would be); no build
#   tools/servers.sh default           print the default test matrix (see tools/test-all.sh)
#
#   RS_RM_CACHE    cache root (default ${XDG_CACHE_HOME:-~/.cache}/rs-rm); builds go to
#                  $RS_RM_CACHE/servers/<name>-<key12>/ with bin/redis-server and bin/redis-cli
#   MAKE_JOBS      parallel make jobs (default: the number of cores)
#
# Builds are made in a temp folder next to their final place and renamed into it, under a lock,
# so an interrupted build leaves nothing that looks finished and two runs never build the same
# source at once. Build logs stay in the cache (<name>-<key12>.log).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${RS_RM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rs-rm}/servers
JOBS=${MAKE_JOBS:-$(nproc 2>/dev/null || echo 2)}

die() {
    echo "servers.sh: $*" >&2
    exit 1
}

# The name a source goes by: the tarball's or the folder's name without its extension.
source_name() {
    local base
    base=$(basename "$1")
    base=${base%.tar.gz}
    base=${base%.tgz}
    base=${base%.tar.xz}
    base=${base%.tar}
    printf '%s' "${base//[^A-Za-z0-9._-]/_}"
}

# What a finished build is known by: the tarball's bytes, or a tree's source files (build
# products and .git left out, so building in the tree itself does not change its key).
source_key() {
    local src=$1
    if [ -f "$src" ]; then
        sha256sum "$src" | cut -c1-64
    elif [ -d "$src" ]; then
        (cd "$src" && find . -type f \
            ! -path './.git/*' ! -name '*.o' ! -name '*.d' ! -name '*.a' ! -name '*.so' \
            ! -path './src/redis-*' ! -path './src/valkey-*' ! -name '.make-*' \
            ! -path './deps/*/config.*' ! -name 'Makefile.dep' -print0 |
            LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64)
    else
        die "no such tarball or source tree: $src"
    fi
}

build_dir() {
    local key
    key=$(source_key "$1")
    printf '%s/%s-%s' "$CACHE" "$(source_name "$1")" "${key:0:12}"
}

build_one() {
    local src dest log lock tmp top
    src=$(realpath "$1")
    dest=$(build_dir "$src")
    if [ -x "$dest/bin/redis-server" ]; then
        echo "$dest/bin/redis-server"
        return
    fi
    mkdir -p "$CACHE"
    lock="$dest.lock"
    exec 9>"$lock"
    flock 9
    if [ -x "$dest/bin/redis-server" ]; then # another run finished it while we waited
        exec 9>&-
        echo "$dest/bin/redis-server"
        return
    fi
    command -v make >/dev/null || die "make is missing (apt-get install make)"
    command -v cc >/dev/null || die "a C compiler is missing (apt-get install gcc)"
    log="$dest.log"
    tmp=$(mktemp -d "$dest.tmp.XXXXXX")
    echo "servers.sh: building $(source_name "$src") into $dest (log: $log)" >&2
    if [ -f "$src" ]; then
        tar -xf "$src" -C "$tmp"
        # A tarball unpacks to one folder (redis-<name>/), or straight into place.
        top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d)
        [ "$(printf '%s\n' "$top" | wc -l)" -eq 1 ] && [ -f "$top/src/server.c" ] || top=$tmp
    else
        mkdir -p "$tmp/src-tree"
        (cd "$src" && tar -cf - --exclude=.git .) | tar -xf - -C "$tmp/src-tree"
        top=$tmp/src-tree
    fi
    [ -f "$top/src/server.c" ] || { rm -rf "$tmp"; die "$src is not a Redis source tree (no src/server.c)"; }
    # A user's build: make with the bundled jemalloc, without TLS. A tree someone built before
    # may hold stale objects: start clean.
    if ! (cd "$top" && make distclean >/dev/null 2>&1; make -j"$JOBS" BUILD_TLS=no) >"$log" 2>&1; then
        rm -rf "$tmp"
        exec 9>&-
        tail -n 30 "$log" >&2
        die "building $src failed (full log: $log)"
    fi
    mkdir -p "$tmp/bin"
    for b in redis-server redis-cli redis-benchmark; do
        [ -x "$top/src/$b" ] && cp "$top/src/$b" "$tmp/bin/"
    done
    "$tmp/bin/redis-server" --version >"$tmp/version"
    find "$tmp" -mindepth 1 -maxdepth 1 ! -name bin ! -name version -exec rm -rf {} +
    chmod 755 "$tmp"
    mv "$tmp" "$dest"
    exec 9>&-
    echo "$dest/bin/redis-server"
}

# The matrix `cargo make test` runs when RS_RM_SERVERS is not set: the servers this machine
# has (REDIS_SERVER, default Debian's redis-server; VALKEY_SERVER unless SKIP_VALKEY=1) and every
# tarball in ../shared/servers/ (the project's test inputs, present in CI).
default_matrix() {
    echo "${REDIS_SERVER:-redis-server}"
    if [ "${SKIP_VALKEY:-0}" != 1 ]; then
        echo "${VALKEY_SERVER:-$ROOT/target/servers/valkey-server}"
    fi
    local shared
    shared=$(cd "$ROOT/.." && pwd)/shared/servers
    if [ -d "$shared" ]; then
        find "$shared" -maxdepth 1 -name '*.tar.gz' | LC_ALL=C sort
    fi
}

case ${1:-} in
build)
    shift
    [ $# -gt 0 ] || die "usage: servers.sh build SOURCE..."
    for s in "$@"; do build_one "$s"; done
    ;;
path)
    [ $# -eq 2 ] || die "usage: servers.sh path SOURCE"
    echo "$(build_dir "$2")/bin/redis-server"
    ;;
default) default_matrix ;;
*)
    sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
