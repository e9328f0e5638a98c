//! Publishing a set of module builds as a local git registry (feature `publish`): what
//! `registry publish` and `cargo make registry` do.
//!
//! Two publishers of one directory, or a directory changed under a publisher, must neither
//! corrupt the registry nor write anywhere else: a lock file beside the registry lets one
//! publisher at a time in; the registry is built in a fresh temporary directory beside it
//! (every git call pinned to that directory's own repository, see [`GitRegistry::git`]) and
//! renamed into place only when complete, so readers see the old registry or the new one.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::Result;
use crate::index::{Artifact, FORMAT, Index, ModuleEntry, Namespace, Version};
use crate::publish::{GitRegistry, Keys, stamp};
use crate::verify::sha256_hex;

/// One module build to publish.
pub struct Build {
    /// The module's name (its `.so` file's stem).
    pub name: String,
    /// Its crate version: releases are `v<version>-rc.1` and `v<version>`.
    pub version: String,
    /// One line for `MOD.SEARCH`.
    pub description: String,
    /// The `.so` file's bytes.
    pub bytes: Vec<u8>,
}

/// Publishes `builds` into a git registry at `out`, replacing what is there: two releases
/// (`v<version>-rc.1`, then `v<version>`; each a commit tagged with the first build's release
/// name, the artifacts stamped with it), then `index.json` signed with `keys`. Returns the index.
pub fn publish_local(
    out: &Path,
    builds: &[Build],
    keys: &Keys,
    namespace: &str,
    platform: &str,
) -> Result<Index> {
    if builds.is_empty() {
        return Err(crate::Error("nothing to publish".to_owned()));
    }
    let (parent, name) = split(out)?;
    std::fs::create_dir_all(&parent)
        .map_err(|e| crate::Error(format!("cannot create {}: {e}", parent.display())))?;
    let _lock = lock(&parent.join(format!(".{name}.lock")))?;
    let temp = parent.join(format!(".{name}.tmp-{}", unique()));
    let result = build_into(&temp, builds, keys, namespace, platform)
        .and_then(|index| replace(&temp, out, &parent, &name).map(|()| index));
    let _ = std::fs::remove_dir_all(&temp);
    result
}

/// The registry's parent directory and file name.
fn split(out: &Path) -> Result<(PathBuf, String)> {
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| crate::Error(format!("{}: not a directory name", out.display())))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

/// A name no other publisher (thread or process) uses at the same time.
fn unique() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An exclusive lock on `path` (created if missing), held until the file is dropped.
fn lock(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| crate::Error(format!("cannot open {}: {e}", path.display())))?;
    file.lock()
        .map_err(|e| crate::Error(format!("cannot lock {}: {e}", path.display())))?;
    Ok(file)
}

fn build_into(
    dir: &Path,
    builds: &[Build],
    keys: &Keys,
    namespace: &str,
    platform: &str,
) -> Result<Index> {
    let registry = GitRegistry::create(dir)?;
    let mut modules: BTreeMap<String, ModuleEntry> = BTreeMap::new();
    for release in ["rc", "final"] {
        let mut versions = Vec::new();
        for build in builds {
            let tag = match release {
                "rc" => format!("v{}-rc.1", build.version),
                _ => format!("v{}", build.version),
            };
            let bytes = stamp(&build.bytes, &tag);
            let path = registry.write_artifact(namespace, &build.name, platform, &bytes)?;
            let artifact = Artifact {
                path,
                sha256: sha256_hex(&bytes),
                size: bytes.len() as u64,
            };
            versions.push((build, tag, artifact));
        }
        // One revision per release; module tags are per module (`json/v0.1.0`) would need one
        // revision each, so a release tag names the revision holding every module's release.
        let tag = versions.first().map(|v| v.1.clone()).unwrap_or_default();
        let commit = registry.commit(&format!("release {tag}"), Some(&tag))?;
        for (build, tag, artifact) in versions {
            let entry = modules
                .entry(build.name.clone())
                .or_insert_with(|| ModuleEntry {
                    name: build.name.clone(),
                    description: build.description.clone(),
                    versions: Vec::new(),
                });
            entry.versions.push(Version {
                tag: Some(tag),
                commit: Some(commit.clone()),
                min_server: Some("7.0.0".to_owned()),
                artifacts: [(platform.to_owned(), artifact)].into(),
            });
        }
    }
    let index = Index {
        format: FORMAT,
        namespaces: vec![Namespace {
            name: namespace.to_owned(),
            modules: modules.into_values().collect(),
        }],
    };
    registry.write_index(&index, Some(keys))?;
    registry.commit("index", None)?;
    // Whatever happened to the directory meanwhile, what moves into place must be complete.
    let head = registry.git(&["rev-parse", "HEAD"])?;
    let tagged = registry.git(&["tag", "--list"])?;
    if head.trim().is_empty() || tagged.lines().count() != 2 {
        return Err(crate::Error(format!(
            "{}: the registry changed while it was published",
            dir.display()
        )));
    }
    Ok(index)
}

/// Moves the finished `temp` to `out`, the old registry (if any) out of the way first.
fn replace(temp: &Path, out: &Path, parent: &Path, name: &str) -> Result<()> {
    let old = parent.join(format!(".{name}.old-{}", unique()));
    let had_old = match std::fs::rename(out, &old) {
        Ok(()) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(crate::Error(format!("cannot move {}: {e}", out.display()))),
    };
    std::fs::rename(temp, out)
        .map_err(|e| crate::Error(format!("cannot move the new registry into place: {e}")))?;
    if had_old {
        let _ = std::fs::remove_dir_all(&old);
    }
    Ok(())
}
