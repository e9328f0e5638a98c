//! Compile-time guarantees of the SDK, checked with the compiler's own words: each file in
//! `tests/ui/` is a mistake the types must reject, with the exact error the compiler gives
//! next to it (`<name>.stderr`, error code included, so a renamed method that fails for
//! another reason fails this test), and `tests/ui/ok/<name>.rs` is its twin — the same code
//! minus the mistake — which must build and run, so the error is the mistake's and nothing
//! else's. No server is needed; `tools/test-all.sh` runs this once, with the unit tests.
//!
//! The expected stderr is the stable toolchain's (`rustc -V` of CI). After a deliberate change
//! (a new case, a new stable compiler rewording a message), regenerate and review the files:
//!
//! ```sh
//! TRYBUILD=overwrite cargo test -p rs-rm --test ui
//! git diff tests/ui
//! ```

use std::collections::BTreeSet;
use std::path::Path;

fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect()
}

#[test]
fn mistakes_do_not_compile_and_their_twins_do() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    // One twin per mistake and no orphan on either side: a case cannot silently lose its proof.
    let mistakes = names(&ui);
    assert_eq!(
        mistakes,
        names(&ui.join("ok")),
        "tests/ui/*.rs and tests/ui/ok/*.rs differ"
    );
    assert!(mistakes.len() >= 22, "{} cases", mistakes.len());
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
    t.pass("tests/ui/ok/*.rs");
}
