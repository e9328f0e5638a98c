//! `cargo make new-module NAME DIR` (`tools/new-module.sh`): the crate it writes outside this
//! repository builds against the SDK and passes its own test at once, on the server under test;
//! bad names and non-empty directories are refused.

mod common;

use std::path::Path;
use std::process::Command;

use common::{root, servers};

fn new_module(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(root().join("tools/new-module.sh"))
        .args(args)
        .output()
        .expect("bash")
}

/// `cargo test` in `dir`, sharing one target directory between runs (the SDK is built once),
/// with this checkout's lock file (the versions tested here; nothing to resolve).
pub fn cargo_in(dir: &Path, args: &[&str], server: &Path) -> std::process::Output {
    let _ = std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock"));
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", root().join("target/outside"))
        .env("RS_RM_SERVER", server)
        .output()
        .expect("cargo")
}

#[test]
fn a_new_module_outside_the_repository_builds_and_passes_its_test() {
    for kind in servers() {
        let n = &kind.name;
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("greeter");
        let made = new_module(&["greeter", dir.to_str().unwrap()]);
        assert!(made.status.success(), "{n}: {made:?}");
        for file in ["Cargo.toml", "src/lib.rs", "README.md", "tests/module.rs"] {
            assert!(dir.join(file).exists(), "{n}: no {file}");
        }
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("#![forbid(unsafe_code)]"), "{n}");
        let tested = cargo_in(&dir, &["test"], &kind.binary);
        let out = String::from_utf8_lossy(&tested.stdout);
        assert!(
            tested.status.success() && out.contains("test transcript ... ok"),
            "{n}: {out}\n{}",
            String::from_utf8_lossy(&tested.stderr)
        );

        // Built with panic = "abort" (a common release setting), the first panic would abort
        // the server: `rm::module!` refuses to compile, saying why.
        if kind.name == servers()[0].name {
            let _ = std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock"));
            let aborting = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["check", "--lib"])
                .current_dir(&dir)
                .env("CARGO_TARGET_DIR", root().join("target/outside"))
                .env("CARGO_PROFILE_DEV_PANIC", "abort")
                .output()
                .expect("cargo");
            let errors = String::from_utf8_lossy(&aborting.stderr);
            assert!(
                !aborting.status.success()
                    && errors.contains("rs-rm modules must be built with panic = \"unwind\""),
                "{n}: {errors}"
            );
        }

        // Refused: a bad name, a directory that is not empty, one inside this repository.
        let bad = new_module(&["Bad-Name", temp.path().join("x").to_str().unwrap()]);
        assert_eq!(bad.status.code(), Some(2), "{n}");
        assert!(
            String::from_utf8_lossy(&bad.stderr).contains("is not a module name"),
            "{n}"
        );
        let again = new_module(&["greeter", dir.to_str().unwrap()]);
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("exists and is not empty"),
            "{n}"
        );
        let inside = new_module(&["greeter", root().join("target/x").to_str().unwrap()]);
        assert!(
            String::from_utf8_lossy(&inside.stderr).contains("inside this repository"),
            "{n}"
        );
    }
}

/// `cargo <verb> --lib` in `dir` (no server needed), sharing the target directory of the others.
fn cargo_lib(dir: &Path, verb: &str) -> std::process::Output {
    let _ = std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock"));
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args([verb, "--lib"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", root().join("target/outside"))
        .output()
        .expect("cargo")
}

/// A command action runs as the server's callback, which carries no user data, so it cannot
/// capture state. A closure that does fails to compile with an error at the module's own line
/// saying where to keep state: a capture that is not `Copy` or borrows a local at `cargo check`
/// (the action's `Copy + 'static` bound); a `Copy` capture at `cargo build` (a size check the
/// compiler makes only when generating code: `cargo check` does not monomorphize,
/// rust-lang/rust#99682). The generated module itself builds (the test above).
#[test]
fn a_command_closure_that_captures_state_fails_to_compile_at_the_modules_line() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("stateful");
    assert!(
        new_module(&["stateful", dir.to_str().unwrap()])
            .status
            .success()
    );
    let lib = std::fs::read_to_string(dir.join("src/lib.rs")).unwrap();
    let call = "Command::new(\"stateful.ping\", ping)";
    assert!(lib.contains(call), "{lib}");
    let line = lib[..lib.find(call).unwrap()].lines().count();
    let with = |setup: &str, action: &str| {
        let code = lib
            .replace(call, &format!("Command::new(\"stateful.ping\", {action})"))
            .replace(
                "fn module() -> Module {\n",
                &format!("#[allow(dead_code)]\nfn module() -> Module {{\n    {setup}\n"),
            );
        std::fs::write(dir.join("src/lib.rs"), code).unwrap();
    };
    // The call moved down by the two lines inserted above it.
    let at = format!("src/lib.rs:{}:", line + 2);

    // A `Copy` capture: `cargo check` cannot see it (no code generated); `cargo build` refuses
    // it with the SDK's message, naming the module's call.
    with(
        "let answer = 42;",
        "move |ctx: &Ctx, _: &[&RStr]| {\n            ctx.reply_integer(answer);\n            Ok(())\n        }",
    );
    let built = cargo_lib(&dir, "build");
    let errors = String::from_utf8_lossy(&built.stderr);
    assert!(!built.status.success(), "{errors}");
    assert!(
        errors.contains("rs-rm: this closure captures variables")
            && errors.contains("Keep the state in a static"),
        "{errors}"
    );
    assert!(
        errors.contains(&format!(
            "while instantiating `fn rm::Command::new::<{{closure@{at}"
        )) && errors.contains(&format!("--> {at}")),
        "not at the module's line {at}: {errors}"
    );

    // A capture that is not `Copy`: refused at `cargo check` already, at the module's line.
    with(
        "let greeting = String::from(\"hi\");",
        "move |ctx: &Ctx, _: &[&RStr]| {\n            ctx.reply_bulk(greeting.as_bytes());\n            Ok(())\n        }",
    );
    let checked = cargo_lib(&dir, "check");
    let errors = String::from_utf8_lossy(&checked.stderr);
    assert!(!checked.status.success(), "{errors}");
    assert!(
        errors.contains("the trait `Copy` is not implemented for")
            && errors.contains("to implement `CommandFn`")
            && errors.contains(&format!("--> {at}")),
        "{errors}"
    );
}
