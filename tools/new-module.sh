#!/usr/bin/env bash
# `cargo make new-module NAME [DIR]`: a new module crate that builds and passes its test at once.
#
#   NAME   the module's name: the crate, the library (libNAME.so) and the command prefix
#          (NAME.PING); a lowercase letter, then lowercase letters, digits or '_' (at most 32)
#   DIR    where to create it, outside this repository: a standalone crate depending on this
#          SDK by path (its own workspace). Without DIR: modules/NAME, added to this workspace.
#
# It writes Cargo.toml, src/lib.rs (#![forbid(unsafe_code)], one command), README.md (with
# its redis-cli transcript) and tests/module.rs (starts $RS_RM_SERVER or redis-server with the
# module on a free port and runs the transcript through redis-cli). Then: `cargo test` there.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
die() { echo "new-module: $*" >&2; exit 2; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: cargo make new-module NAME [DIR]"
NAME=$1
[[ $NAME =~ ^[a-z][a-z0-9_]{0,31}$ ]] ||
    die "'$NAME' is not a module name: a lowercase letter, then lowercase letters, digits or '_' (at most 32)"
PREFIX=$(printf '%s' "$NAME" | tr 'a-z' 'A-Z')

if [ $# -eq 2 ]; then
    DIR=$2
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    case "$DIR/" in "$ROOT"/*) die "$DIR is inside this repository: leave DIR out for modules/$NAME" ;; esac
    SDK_PATH=$ROOT
    STANDALONE=1
else
    DIR=$ROOT/modules/$NAME
    SDK_PATH=../..
    STANDALONE=0
fi
[ -z "$(ls -A "$DIR" 2>/dev/null)" ] || die "$DIR exists and is not empty"
mkdir -p "$DIR/src" "$DIR/tests"

{
    cat <<EOF
[package]
name = "$NAME"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the .so a server loads. rlib too, so that \`cargo test\` builds the library (the .so
# included) before tests/module.rs loads it.
crate-type = ["cdylib", "rlib"]

[dependencies]
rm = { package = "rs-rm", path = "$SDK_PATH" }
EOF
    if [ "$STANDALONE" = 1 ]; then
        cat <<'EOF'

# A workspace of its own (not a member of the SDK's). Panics must unwind to the SDK's
# boundary, which turns them into error replies.
[workspace]

[profile.release]
panic = "unwind"
EOF
    fi
} >"$DIR/Cargo.toml"

cat >"$DIR/src/lib.rs" <<EOF
//! The \`$NAME\` module: \`$PREFIX.PING [message]\`.
#![forbid(unsafe_code)]

use rm::{Command, Ctx, Error, Module, RStr, Result};

/// \`$PREFIX.PING [message]\`: \`PONG\`, or the message.
fn ping(ctx: &Ctx, args: &[&RStr]) -> Result<()> {
    match args {
        [_] => ctx.reply_bulk(b"PONG"),
        [_, message] => ctx.reply_string(message),
        _ => return Err(Error::WrongArity),
    }
    Ok(())
}

fn module() -> Module {
    Module::new("$NAME", 1).command(
        Command::new("$NAME.ping", ping)
            .usage("$PREFIX.PING [message]")
            .summary("Answers PONG, or the message")
            .flags("readonly fast")
            .arity(-1),
    )
}

rm::module!(module);
EOF

cat >"$DIR/README.md" <<EOF
# $NAME

A Redis module written with the rs-rm SDK.

\`\`\`sh
cargo build --release          # target/release/lib$NAME.so
redis-server --loadmodule target/release/lib$NAME.so
\`\`\`

\`\`\`text
127.0.0.1:6379> $PREFIX.PING
"PONG"
127.0.0.1:6379> $PREFIX.PING hello
"hello"
127.0.0.1:6379> $PREFIX.PING a b
(error) ERR wrong number of arguments for '$NAME.ping' command
\`\`\`

\`cargo test\` loads the module into \`\$RS_RM_SERVER\` (default \`redis-server\`) and runs this
transcript with \`redis-cli\`.
EOF

cat >"$DIR/tests/module.rs" <<EOF
//! Loads the module into a real server (\$RS_RM_SERVER, default redis-server) on a free port
//! and runs the README's transcript through redis-cli (--no-raw, as a terminal shows it).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server, killed on drop (also when an assertion fails).
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// lib$NAME.so as \`cargo test\` built it: beside this test (target/<profile>/deps/), or
/// where \`cargo build\` puts it (target/<profile>/).
fn library() -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    let deps = exe.parent().expect("the test's directory");
    let beside = deps.join("lib$NAME.so");
    if beside.exists() {
        return beside;
    }
    deps.parent().expect("target dir").join("lib$NAME.so")
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["--no-raw", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli");
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

#[test]
fn transcript() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let dir = std::env::temp_dir().join(format!("$NAME-test-{port}"));
    std::fs::create_dir_all(&dir).expect("a temp dir");
    let binary = std::env::var("RS_RM_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
    let child = Command::new(&binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", ""])
        .arg("--dir")
        .arg(&dir)
        .arg("--loadmodule")
        .arg(library())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
    let _server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while cli(port, &["PING"]) != "PONG" {
        assert!(Instant::now() < deadline, "{binary} did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(cli(port, &["$PREFIX.PING"]), "\"PONG\"");
    assert_eq!(cli(port, &["$PREFIX.PING", "hello"]), "\"hello\"");
    assert_eq!(
        cli(port, &["$PREFIX.PING", "a", "b"]),
        "(error) ERR wrong number of arguments for '$NAME.ping' command"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
EOF

if [ "$STANDALONE" = 0 ]; then
    # Add to the workspace members (one line in the root Cargo.toml).
    grep -q "\"modules/$NAME\"" "$ROOT/Cargo.toml" ||
        sed -i "s|^members = \[\(.*\)\]$|members = [\1, \"modules/$NAME\"]|" "$ROOT/Cargo.toml"
    grep -q "\"modules/$NAME\"" "$ROOT/Cargo.toml" || die "could not add modules/$NAME to the workspace members"
fi

echo "created $DIR (Cargo.toml, src/lib.rs, README.md, tests/module.rs)"
echo "next: cd $DIR && cargo test"
