//! The README's "Writing a module" works verbatim from a fresh directory outside this
//! repository: its Rust and Cargo.toml snippets, added to what `cargo new --lib` writes, become
//! a crate depending on the SDK by path (the one edit the README asks for), which builds,
//! loads, and answers the seed transcript.

mod common;

use std::process::Command;

use common::{Server, reply, root, servers};

/// The body of the first fenced block of `lang` after `after` in `text`.
fn block<'t>(text: &'t str, after: &str, lang: &str) -> &'t str {
    let from = text.find(after).expect("the section") + after.len();
    let fence = format!("```{lang}\n");
    let start = text[from..].find(&fence).expect("the block") + from + fence.len();
    let end = text[start..].find("```").expect("the block's end") + start;
    &text[start..end]
}

#[test]
fn the_readme_module_builds_outside_the_repository_and_answers() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let code = block(&readme, "## Writing a module", "rust");
    let manifest = block(&readme, "## Writing a module", "toml");
    let placeholder = "path = \"/path/to/rs-rm\"";
    assert!(
        manifest.contains(placeholder),
        "the README's Cargo.toml: {manifest}"
    );
    let sdk = root().canonicalize().unwrap();
    for kind in servers() {
        let n = &kind.name;
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().join("readme_module");
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/lib.rs"), code).unwrap();
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"readme_module\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n{}",
                manifest.replace(placeholder, &format!("path = {:?}", sdk.display().to_string()))
            ),
        )
        .unwrap();
        let _ = std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock"));
        let built = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
            .arg("build")
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", root().join("target/outside"))
            .output()
            .expect("cargo");
        assert!(
            built.status.success(),
            "{n}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let library = root().join("target/outside/debug/libreadme_module.so");
        let server = Server::start(&kind, &[], &["--loadmodule", library.to_str().unwrap()]);
        let mut con = server.connection();
        for (args, expected) in [
            (&["hset", "a", "a", "1"][..], "1"),
            (&["hgetset", "a", "a", "2"], "\"1\""),
            (&["hget", "a", "a"], "\"2\""),
            (&["hgetset", "a", "b", "2"], "(nil)"),
            (&["hgetset", "a", "b", "3"], "\"2\""),
        ] {
            assert_eq!(reply(&mut con, args), expected, "{n}: {args:?}");
        }
    }
}
