#!/usr/bin/env bash
# Tests for the mod module (module manager) against a registry this script publishes with the
# `registry` tool: a git repository, a plain-directory copy, and the same over HTTP.

# shellcheck source-path=SCRIPTDIR source=lib.sh
# shellcheck disable=SC2317 # helpers are invoked via wait_for/capture
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODULE=$MODULES_DIR/mod.so
require_file "$MODULE" "build the mod module first, or set MODULES_DIR"
require_file "$MODULES_DIR/hashex.so" "build the hashex module first, or set MODULES_DIR"

(cd "$ROOT" && cargo build --quiet -p modreg --features publish --bin registry) ||
    abort_file "cannot build the registry tool"
REGISTRY_TOOL=$ROOT/target/debug/registry

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rs-rm-mod.XXXXXX")
_DIRS+=("$WORK")
mkdir -p "$WORK/modules"
cp "$MODULES_DIR/hashex.so" "$WORK/modules/"
"$REGISTRY_TOOL" publish --modules "$WORK/modules" --out "$WORK/reg" --key "$WORK/key" \
    --pub "$WORK/key.pub" --namespace t >/dev/null || abort_file "registry publish failed"
COMMIT=$(git -C "$WORK/reg" rev-parse v0.1.0-rc.1)

# The HTTP server runs until its stdin closes; it is stopped by pid at the end.
exec {HTTP_IN}> >("$REGISTRY_TOOL" serve "$WORK/reg" >"$WORK/http.port")
HTTP_PID=$!
_ALL_PIDS+=("$HTTP_PID")
wait_for 5 test -s "$WORK/http.port" || abort_file "registry serve did not start"
HTTP_URL=http://127.0.0.1:$(cat "$WORK/http.port")

HOME_DIR=$WORK/home
start_server --enable-module-command yes --loadmodule "$MODULE" registry "$WORK/reg" \
    trusted-key "$WORK/key.pub" home "$HOME_DIR"

# Every file under a store but the git cache.
files_left() { (cd "$1" 2>/dev/null && find . -path ./.cache -prune -o -type f -print); }

test_case "MOD.SEARCH by name and description"
DESCRIPTION=$(sed -n 's/^description = "\(.*\)"/\1/p' "$ROOT/modules/hashex/Cargo.toml")
assert_reply "$(printf '1) 1) "t/hashex"\n   2) "v0.1.0"\n   3) "%s"' "$DESCRIPTION")" mod.search hash
assert_reply "$(printf '1) 1) "t/hashex"\n   2) "v0.1.0"\n   3) "%s"' "$DESCRIPTION")" mod.search ATOMICALLY
assert_reply '(empty array)' mod.search nothing-like-this

test_case "MOD.GET by tag and by commit"
assert_match "\"$HOME_DIR/t/hashex/*.so\"" mod.get t/hashex@v0.1.0-rc.1
RC_PATH=$OUT
assert_reply "$RC_PATH" mod.get "t/hashex@${COMMIT:0:12}"
assert_reply "(error) ERR no version 'v9' of hashex in the registry" mod.get t/hashex@v9
assert_reply '(error) ERR no module t/nothing in the registry' mod.get t/nothing

test_case "MOD.INSTALL loads the latest version and HGETSET answers"
assert_reply 'OK' mod.install t/hashex
assert_reply '(nil)' hgetset h f 1
assert_reply '"1"' hgetset h f 2
assert_match '*"loaded"*' mod.list
assert_match '*"downloaded"*' mod.list

test_case "MOD.REMOVE deletes a downloaded version, never a loaded one"
assert_match '(error) ERR t/hashex@v0.1.0 is loaded from *: MODULE UNLOAD it before removing it' \
    mod.remove t/hashex@v0.1.0
assert_reply '(integer) 1' mod.remove t/hashex@v0.1.0-rc.1
assert_reply '(error) ERR t/hashex@v0.1.0-rc.1 is not downloaded' mod.remove t/hashex@v0.1.0-rc.1
assert_equal "1" "$(find "$HOME_DIR/t/hashex" -name '*.json' | wc -l)" "metadata files left (v0.1.0's only)"

test_case "MOD.INSTALL refuses the manager itself and a loaded name"
assert_reply '(error) ERR MOD.INSTALL cannot install or replace the mod module itself' mod.install t/mod
assert_reply "(error) ERR a module named 'hashex' is loaded already (MODULE UNLOAD it first)" \
    mod.install t/hashex@v0.1.0-rc.1

test_case "the HTTP source in the GitHub raw layout"
assert_reply 'OK' config set mod.registry "$HTTP_URL"
assert_reply 'OK' config set mod.home "$WORK/home-http"
assert_match "\"$WORK/home-http/t/hashex/*.so\"" mod.get t/hashex@v0.1.0-rc.1
assert_equal "$RC_PATH" "${OUT/home-http/home}" "same content, same name"

test_case "refused: an unsigned index, nothing left behind"
cp -r "$WORK/reg" "$WORK/unsigned" && rm -rf "$WORK/unsigned/.git" "$WORK/unsigned/index.json.minisig"
assert_reply 'OK' config set mod.registry "$WORK/unsigned"
assert_reply 'OK' config set mod.home "$WORK/home-unsigned"
assert_reply '(error) ERR registry index has no signature (index.json.minisig is missing)' \
    mod.get t/hashex
assert_equal "" "$(files_left "$WORK/home-unsigned")" "files left"

test_case "refused: an index signed by another key"
cp -r "$WORK/reg" "$WORK/untrusted" && rm -rf "$WORK/untrusted/.git"
"$REGISTRY_TOOL" sign "$WORK/untrusted/index.json" --key "$WORK/other.key"
assert_reply 'OK' config set mod.registry "$WORK/untrusted"
assert_reply '(error) ERR registry index is signed by another key than mod.trusted-key (untrusted key)' \
    mod.get t/hashex
assert_equal "" "$(files_left "$WORK/home-unsigned")" "files left"

test_case "refused: an artifact that does not match its hash"
cp -r "$WORK/reg" "$WORK/tampered" && rm -rf "$WORK/tampered/.git"
printf 'x' >>"$WORK/tampered/t/hashex/bin/linux_x86_64/hashex.so"
assert_reply 'OK' config set mod.registry "$WORK/tampered"
assert_match '(error) ERR the artifact is larger than the signed index says (* bytes): refused as oversized' \
    mod.get t/hashex
assert_reply 'OK' config set mod.max-size 1000
assert_match '(error) ERR t/hashex@v0.1.0 is * bytes, over mod.max-size (1000 bytes)' mod.get t/hashex
assert_equal "" "$(files_left "$WORK/home-unsigned")" "files left"
# A key "file" that never ends or blocks (a device) is refused at once, not read.
assert_match '*mod.trusted-key is neither a minisign public key nor a readable key file*not a regular file*' \
    config set mod.trusted-key /dev/zero
stop_server

test_case "refused: enable-module-command no"
start_server --enable-module-command no --loadmodule "$MODULE" registry "$WORK/reg" \
    trusted-key "$WORK/key.pub" home "$WORK/home-no"
assert_reply "(error) ERR MOD.INSTALL loads a module, which enable-module-command does not allow (set it to 'yes' or 'local' in the config file)" \
    mod.install t/hashex
assert_equal "" "$(files_left "$WORK/home-no")" "files left"
assert_match '*2) admin*' command info mod.install
stop_server

exec {HTTP_IN}>&-
finish
