//! The layer rule of ARCHITECTURE.md, checked: every file under `src/` belongs to one layer,
//! and its `crate::…`, `super::…` and `self::…` paths may name only files of its own layer or
//! of a layer below; no two files may name each other. Run by `cargo test -p rs-rm --lib`.
//!
//! What it reads: the source text without comments and string literals. `$crate::` paths
//! (macro bodies) belong to where the macro expands and are skipped; items `lib.rs` re-exports
//! (`crate::Ctx`) count as the file that defines them. A module's own children, named with a
//! relative path after its `mod` line, are part of it and not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The layers, lowest first: (name, the paths under `src/` it holds, as files or `dir/`).
/// A file no entry names is a feature; `lib.rs` is the facade above all.
const LAYERS: &[(&str, &[&str])] = &[
    ("ffi", &["ffi/"]),
    (
        "core",
        &[
            "error.rs",
            "string.rs",
            "ctx/",
            "key/",
            "view.rs",
            "args.rs",
            "send_string.rs",
            "thread.rs",
        ],
    ),
    ("boundary", &["boundary/"]),
    ("feature", &[]),
    ("facade", &["lib.rs"]),
];

/// The layer index of a file (its path relative to `src/`, with `/`).
fn layer_of(file: &str) -> usize {
    let found = LAYERS.iter().position(|(_, paths)| {
        paths
            .iter()
            .any(|p| file == *p || (p.ends_with('/') && file.starts_with(p)))
    });
    found.unwrap_or_else(|| LAYERS.iter().position(|(n, _)| *n == "feature").unwrap())
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Path, // ::
    Punct(char),
}

/// Tokens of Rust source, without comments, strings and character literals.
fn tokens(src: &str) -> Vec<Tok> {
    let s: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let c = s[i];
        let next = s.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < s.len() {
                if s[i] == '/' && s.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if s[i] == '*' && s.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            i += 1;
            while i < s.len() && s[i] != '"' {
                i += if s[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
            if next == Some('\\') {
                i += 2;
                while i < s.len() && s[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if s.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < s.len() && (s[i].is_alphanumeric() || s[i] == '_') {
                i += 1;
            }
            let word: String = s[start..i].iter().collect();
            // Raw strings: r"…", r#"…"#, br"…".
            if (word == "r" || word == "br") && i < s.len() && (s[i] == '"' || s[i] == '#') {
                let mut hashes = 0;
                while i < s.len() && s[i] == '#' {
                    hashes += 1;
                    i += 1;
                }
                if i < s.len() && s[i] == '"' {
                    i += 1;
                    loop {
                        if i >= s.len() {
                            break;
                        }
                        if s[i] == '"' && (0..hashes).all(|k| s.get(i + 1 + k) == Some(&'#')) {
                            i += 1 + hashes;
                            break;
                        }
                        i += 1;
                    }
                }
                continue;
            }
            if word == "b" && i < s.len() && (s[i] == '"' || s[i] == '\'') {
                continue; // the literal is skipped on the next turn
            }
            out.push(Tok::Ident(word));
        } else if c == ':' && next == Some(':') {
            out.push(Tok::Path);
            i += 2;
        } else if c.is_whitespace() || c.is_ascii_digit() {
            i += 1;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

/// The paths (as segment lists) of a path expression or `use` tree starting at `toks[i]`.
fn paths_at(toks: &[Tok], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
    let mut segs = prefix.to_vec();
    loop {
        match toks.get(*i) {
            Some(Tok::Ident(word)) if word == "self" => {
                *i += 1; // `a::{self}`
            }
            Some(Tok::Ident(word)) => {
                segs.push(word.clone());
                *i += 1;
            }
            Some(Tok::Punct('{')) => {
                *i += 1;
                loop {
                    paths_at(toks, i, &segs, out);
                    match toks.get(*i) {
                        Some(Tok::Punct(',')) => {
                            *i += 1;
                            if toks.get(*i) == Some(&Tok::Punct('}')) {
                                *i += 1;
                                return;
                            }
                        }
                        Some(Tok::Punct('}')) => {
                            *i += 1;
                            return;
                        }
                        _ => return,
                    }
                }
            }
            _ => {
                out.push(segs);
                return;
            }
        }
        if toks.get(*i) == Some(&Tok::Path) {
            *i += 1;
        } else {
            out.push(segs);
            return;
        }
    }
}

/// The module path of a file: `key/mod.rs` → ["key"], `call/args.rs` → ["call", "args"].
fn module_of(file: &str) -> Vec<String> {
    let mut segs: Vec<String> = file
        .trim_end_matches(".rs")
        .split('/')
        .map(String::from)
        .collect();
    if matches!(segs.last().map(String::as_str), Some("mod" | "lib")) {
        segs.pop();
    }
    segs
}

/// Every `.rs` file under `root`: its path relative to `root` (with `/`) and its text.
fn sources(root: &Path) -> BTreeMap<String, String> {
    let mut sources = BTreeMap::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let name = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                sources.insert(name, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    sources
}

/// Each file's dependencies on other files, from the sources under `root`.
fn dependencies(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let sources = sources(root);
    let files: BTreeMap<Vec<String>, String> =
        sources.keys().map(|f| (module_of(f), f.clone())).collect();
    // What lib.rs re-exports: `pub use a::b::{X}` makes `crate::X` mean `crate::a::b::X`.
    let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(lib) = sources.get("lib.rs") {
        let toks = tokens(lib);
        for k in 0..toks.len() {
            if toks[k] == Tok::Ident("use".into())
                && k > 0
                && toks[k - 1] == Tok::Ident("pub".into())
            {
                let (mut i, mut found) = (k + 1, Vec::new());
                paths_at(&toks, &mut i, &[], &mut found);
                for mut path in found {
                    if path.first().is_some_and(|s| s == "crate") {
                        path.remove(0);
                    }
                    if let Some(last) = path.last() {
                        aliases.insert(last.clone(), path.clone());
                    }
                }
            }
        }
    }
    let resolve = |mut path: Vec<String>| -> Option<String> {
        let alias = path.first().filter(|_| !files.contains_key(&path[..1]));
        if let Some(full) = alias.and_then(|first| aliases.get(first)) {
            path.splice(0..1, full.iter().cloned());
        }
        (0..=path.len())
            .rev()
            .find_map(|n| files.get(&path[..n]).cloned())
    };
    let mut deps = BTreeMap::new();
    for (file, src) in &sources {
        let toks = tokens(src);
        let mut module = module_of(file);
        let base_len = module.len();
        // Inline `mod name { … }` blocks: (name pushed, brace depth at which it closes).
        let mut inline: Vec<usize> = Vec::new();
        let mut depth = 0usize;
        let mut mine = BTreeSet::new();
        let mut k = 0;
        while k < toks.len() {
            match &toks[k] {
                Tok::Punct('{') => {
                    if k >= 2 && toks[k - 2] == Tok::Ident("mod".into()) {
                        if let Tok::Ident(name) = &toks[k - 1] {
                            module.push(name.clone());
                            inline.push(depth);
                        }
                    }
                    depth += 1;
                }
                Tok::Punct('}') => {
                    depth = depth.saturating_sub(1);
                    if inline.last() == Some(&depth) {
                        inline.pop();
                        module.pop();
                    }
                }
                Tok::Ident(word)
                    if matches!(word.as_str(), "crate" | "super" | "self")
                        && toks.get(k + 1) == Some(&Tok::Path)
                        && (k == 0 || !matches!(toks[k - 1], Tok::Path | Tok::Punct('$'))) =>
                {
                    let mut start = match word.as_str() {
                        "crate" => Vec::new(),
                        "self" => module.clone(),
                        _ => module[..module.len().saturating_sub(1)].to_vec(),
                    };
                    let mut i = k + 2;
                    while toks.get(i) == Some(&Tok::Ident("super".into()))
                        && toks.get(i + 1) == Some(&Tok::Path)
                    {
                        start.pop();
                        i += 2;
                    }
                    let mut found = Vec::new();
                    paths_at(&toks, &mut i, &start, &mut found);
                    for path in found {
                        match resolve(path) {
                            Some(target) if target != *file => {
                                mine.insert(target);
                            }
                            _ => {}
                        }
                    }
                    k = i;
                    continue;
                }
                _ => {}
            }
            k += 1;
        }
        debug_assert_eq!(module.len(), base_len);
        deps.insert(file.clone(), mine);
    }
    deps
}

/// The rule's violations: imports from a lower layer to a higher one, and pairs of files that
/// import each other.
fn violations(root: &Path) -> (Vec<String>, Vec<String>) {
    let deps = dependencies(root);
    let mut upward = Vec::new();
    let mut cycles = Vec::new();
    for (file, targets) in &deps {
        for target in targets {
            let (from, to) = (layer_of(file), layer_of(target));
            if to > from {
                upward.push(format!(
                    "{file} ({}) -> {target} ({})",
                    LAYERS[from].0, LAYERS[to].0
                ));
            }
            if file < target && deps.get(target).is_some_and(|t| t.contains(file)) {
                cycles.push(format!("{file} <-> {target}"));
            }
        }
    }
    (upward, cycles)
}

/// The parent files that name a child module of theirs (`mod callbacks;` then
/// `callbacks::f`) which names them back: one module in two files, allowed, listed for review.
fn parents_and_children(root: &Path) -> Vec<String> {
    let deps = dependencies(root);
    let mut pairs = Vec::new();
    for (file, src) in sources(root) {
        let toks = tokens(&src);
        let dir = match file.rsplit_once('/') {
            Some((dir, "mod.rs")) => format!("{dir}/"),
            None if file == "lib.rs" => String::new(),
            _ => continue,
        };
        for k in 1..toks.len().saturating_sub(1) {
            let (Tok::Ident(word), Tok::Ident(name)) = (&toks[k - 1], &toks[k]) else {
                continue;
            };
            if word != "mod" || toks[k + 1] != Tok::Punct(';') {
                continue;
            }
            let named = toks.windows(2).enumerate().any(|(i, w)| {
                w[0] == Tok::Ident(name.clone())
                    && w[1] == Tok::Path
                    && (i == 0 || toks[i - 1] != Tok::Path)
            });
            let child = [format!("{dir}{name}.rs"), format!("{dir}{name}/mod.rs")]
                .into_iter()
                .find(|c| deps.contains_key(c));
            if let Some(child) = child {
                if named && deps[&child].contains(&file) {
                    pairs.push(format!("{file} <-> {child}"));
                }
            }
        }
    }
    pairs
}

#[test]
fn imports_point_down_and_never_back() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (upward, cycles) = violations(&root);
    for line in &upward {
        eprintln!("upward import: {line}");
    }
    for line in &cycles {
        eprintln!("two-file cycle: {line}");
    }
    eprintln!(
        "{} upward imports, {} two-file cycles (layers: {})",
        upward.len(),
        cycles.len(),
        LAYERS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(" < ")
    );
    for line in parents_and_children(&root) {
        eprintln!("(allowed) a module and its own child name each other: {line}");
    }
    assert!(
        upward.is_empty() && cycles.is_empty(),
        "the layer rule is broken (see above)"
    );
}

#[test]
fn the_checker_sees_paths() {
    let toks = tokens(
        "use crate::a::{b::{self, C}, d}; // crate::x\n let s = \"crate::y\"; super::z::w();",
    );
    let mut i = 3; // after `use crate ::`
    let mut found = Vec::new();
    paths_at(&toks, &mut i, &[], &mut found);
    assert_eq!(
        found,
        vec![vec!["a", "b"], vec!["a", "b", "C"], vec!["a", "d"]]
    );
    let words: Vec<&Tok> = toks
        .iter()
        .filter(|t| matches!(t, Tok::Ident(w) if w == "crate"))
        .collect();
    assert_eq!(words.len(), 1, "comments and strings are skipped");
}
