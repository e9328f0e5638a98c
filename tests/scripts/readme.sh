#!/usr/bin/env bash
# The READMEs' redis-cli transcripts, run as written: README.md's demo session (the seed demo,
# then the module manager) and modules/mod/README.md's, each on a fresh server started as
# tools/demo.sh starts the demo (hashex and mod loaded, mod pointing at a signed registry that
# holds the modules under rs-rm/). Each `$ redis-cli ARGS` line runs as is; the lines under it
# are its exact output. A command shown without output must not answer an error.

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

for m in hashex mod json; do
    require_file "$MODULES_DIR/$m.so" "build the $m module first, or set MODULES_DIR"
done
(cd "$ROOT" && cargo build --quiet -p modreg --features publish --bin registry) ||
    abort_file "cannot build the registry tool"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rs-rm-readme.XXXXXX")
_DIRS+=("$WORK")
mkdir -p "$WORK/modules"
cp "$MODULES_DIR/hashex.so" "$MODULES_DIR/json.so" "$WORK/modules/"
"$ROOT/target/debug/registry" publish --modules "$WORK/modules" --out "$WORK/reg" \
    --key "$WORK/key" --pub "$WORK/key.pub" --namespace rs-rm >/dev/null ||
    abort_file "registry publish failed"

# Prints the transcript of a README: the redis-cli lines of its first code block that has any
# (`$ ` prompts dropped), each followed by its output lines.
transcript() {
    awk '/^```/ { if (inside) { if (found) exit; inside = 0 } else { inside = 1; n = 0 }; next }
        inside { sub(/^\$ /, ""); if ($0 ~ /^redis-cli /) found = 1; lines[++n] = $0 }
        END { if (found) for (i = 1; i <= n; i++) if (lines[i] ~ /^redis-cli / || i > 1 && printed) { print lines[i]; printed = 1 } }' "$1"
}

# Runs one transcript (file $1) on a fresh demo server.
run_transcript() {
    local file=$1 line command="" expected="" shown=0 words
    start_server --enable-module-command local --loadmodule "$MODULES_DIR/hashex.so" \
        --loadmodule "$MODULES_DIR/mod.so" registry "$WORK/reg" trusted-key "$WORK/key.pub" \
        home "$SERVER_DIR/redismodule"
    check() {
        [[ -n $command ]] || return 0
        # The README's own shell quoting, as a shell reads it.
        eval "words=($command)"
        if ((shown)); then
            assert_reply "$expected" "${words[@]}"
        else
            capture r "${words[@]}"
            [[ $OUT != "(error)"* ]] || fail "$command ($file): $OUT"
        fi
    }
    while IFS= read -r line; do
        if [[ $line == "redis-cli "* ]]; then
            check
            command=${line#redis-cli }
            command=${command%%  #*}
            expected="" shown=0
        elif [[ -n $command ]]; then
            expected+=${expected:+$'\n'}$line
            shown=1
        fi
    done < <(transcript "$ROOT/$file")
    check
    stop_server
}

test_case "README.md: the demo transcript (seed demo, module manager)"
[[ $(transcript "$ROOT/README.md" | grep -c '^redis-cli ') -ge 8 ]] ||
    fail "README.md: the transcript was not found"
run_transcript README.md

test_case "modules/mod/README.md: the demo commands"
[[ $(transcript "$ROOT/modules/mod/README.md" | grep -c '^redis-cli ') -ge 3 ]] ||
    fail "modules/mod/README.md: the transcript was not found"
run_transcript modules/mod/README.md

finish
