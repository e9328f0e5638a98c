#!/usr/bin/env bash
# RedisJSON's own test suite (RLTest: tests/pytest of RedisJSON v2.8.19, the tarball in
# ../shared/compat/ or $RS_RM_COMPAT) run against our json module on one server, as a user
# replacing RedisJSON would: `--module target/modules/json.so`. Every test that fails must be
# listed in tools/redisjson-suite-expected.txt with the reason (a difference the module README
# documents); the closing line `N passed, N failed` counts a listed failure as neither, and an
# unlisted failure as failed.
#
#   tools/redisjson-suite.sh SERVER_BINARY [MODULE]
#
# Python: RLTest and redis-py from PyPI (pinned below), installed once with `pip --target` into
# ~/.cache/rs-rm/ (RS_RM_CACHE); the suite's `paella` import (RedisJSON's deps/readies, not in
# the tarball) is a stub written here. Exit 0 when nothing unexpected failed; 2 when the tarball
# is absent (nothing run).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVER=${1:?usage: tools/redisjson-suite.sh SERVER_BINARY [MODULE]}
MODULE=${2:-$ROOT/target/modules/json.so}
COMPAT=${RS_RM_COMPAT:-$ROOT/../shared/compat}
TARBALL=$COMPAT/redisjson-2.8.19-tests.tar.gz
CACHE=${RS_RM_CACHE:-$HOME/.cache/rs-rm}
# Per Python version: psutil, an RLTest dependency, is a compiled wheel.
PYLIB=$CACHE/rltest-0.7.32-redis-5.0.8-$(python3 -c 'import sys; print("py%d.%d" % sys.version_info[:2])')
EXPECTED=$ROOT/tools/redisjson-suite-expected.txt
# test_short_read.py downloads its inputs from the internet; the others are self-contained.
FILES="test.py test_multi.py test_resp3.py test_keyspace_notifications.py test_defrag.py"

if [ ! -f "$TARBALL" ]; then
    echo "redisjson suite: $TARBALL not found, not run"
    exit 2
fi
if ! found=$(command -v "$SERVER"); then
    echo "redisjson suite: no server $SERVER"
    echo "0 passed, 1 failed"
    exit 1
fi
# Absolute (the suite runs from another directory) but not resolved: Debian's redis-server is
# a symlink to redis-check-rdb, which picks its mode by the name it is run as.
SERVER=$(realpath -s "$found")
if [ ! -f "$MODULE" ]; then
    echo "redisjson suite: no module $MODULE"
    echo "0 passed, 1 failed"
    exit 1
fi
MODULE=$(realpath "$MODULE")

if [ ! -f "$PYLIB/.complete" ]; then
    echo "redisjson suite: installing RLTest 0.7.32 and redis-py 5.0.8 into $PYLIB"
    rm -rf "$PYLIB"
    if ! python3 -m pip install --quiet --disable-pip-version-check --target "$PYLIB" \
        RLTest==0.7.32 redis==5.0.8; then
        echo "redisjson suite: pip install failed"
        echo "0 passed, 1 failed"
        exit 1
    fi
    touch "$PYLIB/.complete"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/rs-rm-redisjson-suite.XXXXXX")
trap 'rm -rf "$work"' EXIT
tar -xzf "$TARBALL" -C "$work"
mkdir -p "$work/stub/paella"
cat >"$work/stub/paella/__init__.py" <<'EOF'
# The suite asks RedisJSON's build helper only for the OS nickname (to skip defrag tests).
class Platform:
    def __init__(self, *args, **kwargs):
        self.os, self.dist, self.osnick, self.arch = "linux", "debian", "bookworm", "x64"
EOF
# RLTest starts the server itself; this wrapper adds what the suite needs (DEBUG, MODULE) and
# keeps it on loopback. RLTest reads the version from `--version` and knows only "Redis
# server v=…", so Valkey's line is renamed for it.
cat >"$work/server" <<EOF
#!/usr/bin/env bash
case "\${1:-}" in
    -v|--version) "$SERVER" "\$@" | sed 's/^Valkey server/Redis server/'; exit ;;
    -h|--help) exec "$SERVER" "\$@" ;;
esac
exec "$SERVER" "\$@" --bind 127.0.0.1 --enable-debug-command yes --enable-module-command yes
EOF
chmod +x "$work/server"

logs=${RS_RM_SUITE_LOGS:-$work/logs}
mkdir -p "$logs"
outputs=()
cd "$work/redisjson-2.8.19/tests/pytest" || exit 1
for file in $FILES; do
    out="$logs/${file%.py}.out"
    outputs+=("$out")
    PYTHONPATH="$work/stub:$PYLIB" PYTHONUNBUFFERED=1 timeout 1200 python3 -m RLTest \
        --env oss --module "$MODULE" --oss-redis-path "$work/server" -t "$file" \
        --no-progress --randomize-ports --test-timeout 300 --log-dir "$logs/${file%.py}" \
        >"$out" 2>&1
    # RLTest exits non-zero for any failing test (listed ones too); the results script uses
    # this to tell a file that ran from one that stopped early or never started.
    echo $? >"$out.status"
done
python3 "$ROOT/tools/redisjson_suite_results.py" "$EXPECTED" "${outputs[@]}"
status=$?
# 0 or 1 from the results script; anything else (it could not run) is a failure, never the
# "not run" exit 2 that tools/test-all.sh reads as a missing tarball.
if [ "$status" -gt 1 ]; then
    echo "redisjson suite: the results script failed ($status)"
    echo "0 passed, 1 failed"
    exit 1
fi
exit "$status"
