//! The local store (`mod.home`, `~/.redismodule` by default), content-addressed:
//!
//! ```text
//! <home>/<namespace>/<module>/<sha256>.so       the artifact, never overwritten
//! <home>/<namespace>/<module>/<version>.json    one per downloaded version (its commit id,
//!                                               else its tag): what it is, where from
//! <home>/.cache/git/                            git registries' mirrors
//! ```
//!
//! A download goes to a temp file in `<home>` (removed if anything fails), is synced, then
//! hard-linked into place: a link cannot replace an existing file, so a file a server has
//! loaded is never rewritten.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::names::{check_name, check_version, shown};
use crate::{Result, refuse};

/// A downloaded version, as its metadata file records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stored {
    /// The namespace.
    pub namespace: String,
    /// The module.
    pub name: String,
    /// Its tag, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// Its commit id, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The artifact's sha256.
    pub sha256: String,
    /// The artifact's size.
    pub size: u64,
    /// The oldest server version it runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_server: Option<String>,
    /// The registry it came from (`mod.registry` then).
    pub registry: String,
}

impl Stored {
    /// `namespace/name`.
    pub fn module(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The tag, or the commit id's first 12 digits.
    pub fn label(&self) -> String {
        match (&self.tag, &self.commit) {
            (Some(tag), _) => tag.clone(),
            (None, Some(commit)) => commit.chars().take(12).collect(),
            (None, None) => "-".to_owned(),
        }
    }

    /// Whether `spec` (a tag, or a commit id prefix) names this version.
    pub fn matches(&self, spec: &str) -> bool {
        self.tag.as_deref() == Some(spec)
            || (crate::names::is_commit_prefix(spec)
                && self
                    .commit
                    .as_deref()
                    .is_some_and(|c| c.starts_with(&spec.to_ascii_lowercase())))
    }

    /// The metadata file's stem: the commit id, else the tag.
    fn key(&self) -> &str {
        self.commit
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("unknown")
    }

    fn check(&self) -> Result<()> {
        check_name("namespace", &self.namespace)?;
        check_name("module name", &self.name)?;
        check_version(self.key())?;
        if self.sha256.len() != 64 || !self.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            refuse!("bad sha256 in the store's metadata");
        }
        Ok(())
    }
}

/// The store at a home directory.
#[derive(Debug, Clone)]
pub struct Store {
    home: PathBuf,
}

/// A downloaded version and its file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// What it is.
    pub stored: Stored,
    /// The artifact.
    pub path: PathBuf,
}

impl Store {
    /// The store at `home` (`mod.home`; a leading `~/` is `$HOME`).
    pub fn new(home: &str) -> Result<Store> {
        let home = home.trim();
        let path = match home.strip_prefix("~/").or((home == "~").then_some("")) {
            Some(rest) => match std::env::var_os("HOME") {
                Some(user_home) => PathBuf::from(user_home).join(rest),
                None => refuse!("mod.home starts with '~' but HOME is not set"),
            },
            None => PathBuf::from(home),
        };
        if !path.is_absolute() {
            refuse!("mod.home '{}' is not an absolute path", shown(home));
        }
        Ok(Store { home: path })
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Where the artifact with `sha256` of `namespace/name` lives.
    pub fn artifact_path(&self, namespace: &str, name: &str, sha256: &str) -> PathBuf {
        self.home
            .join(namespace)
            .join(name)
            .join(format!("{sha256}.so"))
    }

    fn meta_path(&self, stored: &Stored) -> PathBuf {
        self.home
            .join(&stored.namespace)
            .join(&stored.name)
            .join(format!("{}.json", stored.key()))
    }

    /// A new temp file in the home directory (created if needed), removed when dropped
    /// unless [`Store::commit`] took it.
    pub fn temp_file(&self) -> Result<TempFile> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        create_private_dir(&self.home)?;
        let path = self.home.join(format!(
            ".download-{}-{}.part",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| crate::Error(format!("cannot create {}: {e}", path.display())))?;
        Ok(TempFile {
            path,
            file: Some(file),
        })
    }

    /// Syncs `temp` and links it into its content-addressed place (an existing file there,
    /// the same bytes, stays as it is), then records `stored`. The artifact's path.
    pub fn commit(&self, mut temp: TempFile, stored: &Stored) -> Result<PathBuf> {
        stored.check()?;
        let file = temp.file.take().expect("a temp file is committed once");
        // Servers load only executable files (Redis 7.0 checks).
        file.set_permissions(std::fs::Permissions::from_mode(0o755))
            .and_then(|()| file.sync_all())
            .map_err(|e| crate::Error(format!("fsync of the download failed: {e}")))?;
        drop(file);
        let dest = self.artifact_path(&stored.namespace, &stored.name, &stored.sha256);
        let dir = dest.parent().expect("the artifact has a directory");
        create_private_dir(dir)?;
        match std::fs::hard_link(&temp.path, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => refuse!("cannot move the download to {}: {e}", dest.display()),
        }
        drop(temp);
        self.record(stored)?;
        sync_dir(dir);
        Ok(dest)
    }

    /// Writes `stored`'s metadata (atomically: a temp file renamed over it).
    pub fn record(&self, stored: &Stored) -> Result<()> {
        stored.check()?;
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = self.meta_path(stored);
        // Unique per writer: two gets of one version must not share a temp file.
        let partial = path.with_extension(format!(
            "json.{}-{}.part",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let text = serde_json::to_string_pretty(stored).expect("metadata serializes");
        let written = File::create(&partial)
            .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&partial, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&partial);
            refuse!("cannot write {}: {e}", path.display());
        }
        Ok(())
    }

    /// Every downloaded version, sorted by module then version.
    pub fn list(&self) -> Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for namespace in visible_dirs(&self.home) {
            for module in visible_dirs(&namespace) {
                let Ok(files) = std::fs::read_dir(&module) else {
                    continue;
                };
                for file in files.flatten() {
                    let path = file.path();
                    if path.extension().is_none_or(|e| e != "json") || is_hidden(&path) {
                        continue;
                    }
                    let Ok(text) = std::fs::read(&path) else {
                        continue;
                    };
                    let Ok(stored) = serde_json::from_slice::<Stored>(&text) else {
                        continue;
                    };
                    if stored.check().is_err() {
                        continue;
                    }
                    let artifact =
                        self.artifact_path(&stored.namespace, &stored.name, &stored.sha256);
                    entries.push(Entry {
                        stored,
                        path: artifact,
                    });
                }
            }
        }
        entries.sort_by(|a, b| {
            (a.stored.module(), a.stored.label()).cmp(&(b.stored.module(), b.stored.label()))
        });
        Ok(entries)
    }

    /// Deletes a downloaded version: its metadata, and its artifact unless another version
    /// still uses the same file. The caller checks that the file is not loaded.
    pub fn remove(&self, entry: &Entry) -> Result<()> {
        let meta = self.meta_path(&entry.stored);
        std::fs::remove_file(&meta)
            .map_err(|e| crate::Error(format!("cannot remove {}: {e}", meta.display())))?;
        let shared = self.list()?.iter().any(|other| other.path == entry.path);
        if !shared {
            match std::fs::remove_file(&entry.path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => refuse!("cannot remove {}: {e}", entry.path.display()),
            }
        }
        // Empty module and namespace directories go too.
        if let Some(module_dir) = entry.path.parent()
            && std::fs::remove_dir(module_dir).is_ok()
            && let Some(namespace_dir) = module_dir.parent()
        {
            let _ = std::fs::remove_dir(namespace_dir);
        }
        Ok(())
    }
}

/// A download in progress: removed on drop unless committed.
pub struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    /// The open file.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("not committed")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        self.file.take();
        let _ = std::fs::remove_file(&self.path);
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn visible_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && !is_hidden(p))
        .collect()
}

/// Makes a rename or link in `dir` durable (best effort: some filesystems refuse).
fn sync_dir(dir: &Path) {
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

/// Creates `dir` (and its parents) readable and writable by the server's user only: what is
/// stored there is loaded as code, so no other user may swap a file between its check and its
/// load. An existing directory writable by group or others is refused for the same reason.
fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| crate::Error(format!("cannot create {}: {e}", dir.display())))?;
    let meta = std::fs::symlink_metadata(dir)
        .map_err(|e| crate::Error(format!("cannot read {}: {e}", dir.display())))?;
    if !meta.is_dir() || meta.mode() & 0o022 != 0 {
        refuse!(
            "{} is not a private directory (a symlink, or writable by other users)",
            dir.display()
        );
    }
    Ok(())
}
