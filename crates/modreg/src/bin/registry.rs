//! `registry`: publishes this project's modules into a signed local registry, and serves
//! registries over HTTP for tests and benchmarks.
//!
//! ```text
//! registry publish [--modules DIR] [--out DIR] [--key FILE] [--pub FILE] [--namespace NS]
//!     target/modules/*.so → target/registry/ (a git repository), two releases per module:
//!     v<crate version>-rc.1 and v<crate version>, each the current build stamped with its
//!     release name; index.json signed with the key in target/registry.key (made once),
//!     public key in target/registry.pub.
//! registry keygen --key FILE --pub FILE     a new key pair (tests: an untrusted key)
//! registry sign FILE --key FILE             writes FILE.minisig
//! registry serve DIR [--rate BYTES_PER_S] [--cut BYTES]
//!     serves DIR (a git repository or a directory) in the GitHub raw layout on a free
//!     loopback port; prints the port, serves until stdin closes.
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use modreg::index::Version;
use modreg::publish::Keys;
use modreg::release::{Build, publish_local};
use modreg::serve::{Options, Server};
use modreg::verify::platform;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = match args.first().map(String::as_str) {
        Some("publish") => publish(&args[1..]),
        Some("keygen") => keygen(&args[1..]),
        Some("sign") => sign(&args[1..]),
        Some("serve") => serve(&args[1..]),
        _ => {
            Err("usage: registry publish|keygen|sign|serve … (see the source's header)".to_owned())
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("registry: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The value after `--name`, or `default`.
fn option(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|at| args.get(at + 1))
        .cloned()
        .unwrap_or_else(|| default.to_owned())
}

fn root() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

fn publish(args: &[String]) -> Result<(), String> {
    let root = root();
    let target = root.join("target");
    let modules_dir = PathBuf::from(option(
        args,
        "--modules",
        &target.join("modules").to_string_lossy(),
    ));
    let out = PathBuf::from(option(
        args,
        "--out",
        &target.join("registry").to_string_lossy(),
    ));
    let secret = PathBuf::from(option(
        args,
        "--key",
        &target.join("registry.key").to_string_lossy(),
    ));
    let public = PathBuf::from(option(
        args,
        "--pub",
        &target.join("registry.pub").to_string_lossy(),
    ));
    let namespace = option(args, "--namespace", "rs-rm");
    let keys = Keys::load_or_generate(&secret, &public).map_err(|e| e.0)?;
    let mut builds = Vec::new();
    let entries =
        std::fs::read_dir(&modules_dir).map_err(|e| format!("{}: {e}", modules_dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "so") {
            let name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let (version, description) = crate_info(&root.join("modules").join(&name));
            builds.push(Build {
                name,
                version,
                description,
                bytes,
            });
        }
    }
    if builds.is_empty() {
        return Err(format!(
            "no modules in {} (run `cargo make modules`)",
            modules_dir.display()
        ));
    }
    builds.sort_by(|a, b| a.name.cmp(&b.name));
    let index = publish_local(&out, &builds, &keys, &namespace, &platform()).map_err(|e| e.0)?;
    for module in &index.namespaces[0].modules {
        let tags: Vec<String> = module.versions.iter().map(Version::label).collect();
        println!(
            "published {namespace}/{} ({})",
            module.name,
            tags.join(", ")
        );
    }
    println!(
        "registry {} (git), public key {}",
        out.display(),
        public.display()
    );
    Ok(())
}

/// A module crate's version and description, from its Cargo.toml.
fn crate_info(dir: &Path) -> (String, String) {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|line| {
                let (key, value) = line.split_once('=')?;
                (key.trim() == name).then(|| value.trim().trim_matches('"').to_owned())
            })
            .filter(|value| !value.contains('{'))
    };
    (
        field("version").unwrap_or_else(|| "0.1.0".to_owned()),
        field("description").unwrap_or_default(),
    )
}

fn keygen(args: &[String]) -> Result<(), String> {
    let secret = PathBuf::from(option(args, "--key", ""));
    let public = PathBuf::from(option(args, "--pub", ""));
    if secret.as_os_str().is_empty() || public.as_os_str().is_empty() {
        return Err("keygen needs --key FILE --pub FILE".to_owned());
    }
    let _ = std::fs::remove_file(&secret);
    Keys::load_or_generate(&secret, &public)
        .map(drop)
        .map_err(|e| e.0)
}

fn sign(args: &[String]) -> Result<(), String> {
    let file = PathBuf::from(args.first().ok_or("sign needs FILE --key FILE")?);
    let secret = PathBuf::from(option(args, "--key", ""));
    let public = secret.with_extension("pub.tmp");
    let keys = Keys::load_or_generate(&secret, &public).map_err(|e| e.0)?;
    let _ = std::fs::remove_file(&public);
    let data = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut signature_path = file.into_os_string();
    signature_path.push(".minisig");
    std::fs::write(&signature_path, keys.sign(&data).map_err(|e| e.0)?).map_err(|e| e.to_string())
}

fn serve(args: &[String]) -> Result<(), String> {
    let dir = PathBuf::from(args.first().ok_or("serve needs DIR")?);
    let number = |name: &str| option(args, name, "").parse::<u64>().ok();
    let options = Options {
        rate: number("--rate").unwrap_or(0),
        cut_after: number("--cut"),
    };
    let server = Server::start(&dir, options).map_err(|e| e.0)?;
    println!("{}", server.port());
    // Serve until whoever started us closes our stdin (or kills us).
    let mut sink = Vec::new();
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    drop(server);
    Ok(())
}
