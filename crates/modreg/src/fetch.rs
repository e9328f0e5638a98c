//! The whole operations: search a registry, get (download and verify) a module version.

use std::io::{Read, Write};

use crate::index::{Index, Version};
use crate::names::ModuleRef;
use crate::source::{Connected, Source};
use crate::store::{Entry, Store, Stored};
use crate::verify::{self, ELF_HEADER_LEN, Hasher};
use crate::{Result, refuse};

/// The settings an operation runs with (a snapshot of the `mod.*` configs).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `mod.registry`.
    pub registry: String,
    /// `mod.home`.
    pub home: String,
    /// `mod.trusted-key`.
    pub trusted_key: String,
    /// `mod.max-size`: the largest artifact accepted, in bytes.
    pub max_size: u64,
}

/// A registry opened and its index verified.
pub struct Registry {
    connected: Connected,
    /// The verified index.
    pub index: Index,
}

impl Registry {
    /// Connects to `settings.registry` and reads its index, checked against the trusted key.
    pub fn open(settings: &Settings, store: &Store) -> Result<Registry> {
        let key = verify::trusted_key(&settings.trusted_key)?;
        let source = Source::parse(&settings.registry)?;
        let connected = source.connect(store.home())?;
        let (index, signature) = connected.index()?;
        let index = verify::signed_index(&index, signature.as_deref(), &key)?;
        Ok(Registry { connected, index })
    }
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// `namespace/name`.
    pub module: String,
    /// The latest version's label.
    pub latest: String,
    /// The description.
    pub description: String,
}

/// Modules whose `namespace/name` or description contains `query` (any case); all for `None`.
pub fn search(settings: &Settings, query: Option<&str>) -> Result<Vec<Hit>> {
    let store = Store::new(&settings.home)?;
    let registry = Registry::open(settings, &store)?;
    let query = query.map(str::to_lowercase);
    Ok(registry
        .index
        .modules()
        .map(|(namespace, module)| Hit {
            module: format!("{namespace}/{}", module.name),
            latest: module.latest_label(),
            description: module.description.clone(),
        })
        .filter(|hit| {
            query.as_deref().is_none_or(|q| {
                hit.module.to_lowercase().contains(q) || hit.description.to_lowercase().contains(q)
            })
        })
        .collect())
}

/// What [`get`] reports while it downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The version is resolved and the download starts: its label and size.
    Started {
        /// The version's label.
        version: String,
        /// The version's commit id, if the index has one.
        commit: Option<String>,
        /// The artifact's sha256.
        sha256: String,
        /// Its size.
        size: u64,
    },
    /// Bytes received so far.
    Received(u64),
}

/// A version in the store, ready to load.
#[derive(Debug, Clone)]
pub struct Got {
    /// It and its file.
    pub entry: Entry,
    /// Whether it was downloaded now (else it was in the store already, and checked again).
    pub downloaded: bool,
}

/// Resolves `module` in the registry, downloads and verifies it into the store (or checks
/// the stored copy again), and returns it. On any refusal nothing is left in the store.
pub fn get(
    settings: &Settings,
    module: &ModuleRef,
    progress: &mut dyn FnMut(Progress),
) -> Result<Got> {
    let store = Store::new(&settings.home)?;
    let registry = Registry::open(settings, &store)?;
    let entry = registry.index.module(&module.namespace, &module.name)?;
    let version = entry.version(module.version.as_deref())?;
    let platform = verify::platform();
    let Some(artifact) = version.artifacts.get(&platform) else {
        let others: Vec<&str> = version.artifacts.keys().map(String::as_str).collect();
        refuse!(
            "{}@{} has no build for this platform {platform} (only: {})",
            module.module(),
            version.label(),
            if others.is_empty() {
                "none".to_owned()
            } else {
                others.join(", ")
            }
        );
    };
    if artifact.size > settings.max_size {
        refuse!(
            "{}@{} is {} bytes, over mod.max-size ({} bytes)",
            module.module(),
            version.label(),
            artifact.size,
            settings.max_size
        );
    }
    registry.connected.check_version(version)?;
    let stored = Stored {
        namespace: module.namespace.clone(),
        name: module.name.clone(),
        tag: version.tag.clone(),
        commit: version.commit.clone(),
        sha256: artifact.sha256.clone(),
        size: artifact.size,
        min_server: version.min_server.clone(),
        registry: settings.registry.clone(),
    };
    let dest = store.artifact_path(&module.namespace, &module.name, &artifact.sha256);
    if dest.exists() {
        verify_stored(&dest, &stored)?;
        store.record(&stored)?;
        return Ok(Got {
            entry: Entry { stored, path: dest },
            downloaded: false,
        });
    }
    // The `.sha` beside the artifact must agree with the signed index.
    let sha_path = format!("{}.sha", artifact.path.trim_end_matches(".so"));
    let sha_file = registry
        .connected
        .read(Some(version), &sha_path, 4096)?
        .ok_or_else(|| {
            crate::Error(format!(
                "the registry has no {sha_path} beside the artifact"
            ))
        })?;
    if verify::parse_sha_file(&sha_file)? != artifact.sha256 {
        refuse!(
            "{sha_path} does not match the signed index's sha256 for {}",
            module.module()
        );
    }
    progress(Progress::Started {
        version: version.label(),
        commit: version.commit.clone(),
        sha256: artifact.sha256.clone(),
        size: artifact.size,
    });
    let stream = registry
        .connected
        .open(Some(version), &artifact.path)?
        .ok_or_else(|| {
            crate::Error(format!(
                "the registry has no {} (listed in its index)",
                artifact.path
            ))
        })?;
    let mut temp = store.temp_file()?;
    download(
        stream,
        temp.file(),
        version,
        artifact.size,
        &artifact.sha256,
        progress,
    )?;
    let path = store.commit(temp, &stored)?;
    // Verify again what is now on disk, as it will be loaded.
    verify_stored(&path, &stored)?;
    Ok(Got {
        entry: Entry { stored, path },
        downloaded: true,
    })
}

/// Copies at most `size` bytes from `stream` into `out`, checking size, ELF header and
/// sha256 as they arrive.
fn download(
    mut stream: impl Read,
    out: &mut impl Write,
    version: &Version,
    size: u64,
    sha256: &str,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let mut hasher = Hasher::default();
    let mut header = Vec::with_capacity(ELF_HEADER_LEN);
    let mut received: u64 = 0;
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => refuse!(
                "the download of {} broke off after {received} of {size} bytes ({e}): truncated",
                version.label()
            ),
        };
        received += n as u64;
        if received > size {
            refuse!(
                "the artifact is larger than the signed index says ({size} bytes): refused as oversized"
            );
        }
        let chunk = &buf[..n];
        if header.len() < ELF_HEADER_LEN {
            let wanted = (ELF_HEADER_LEN - header.len()).min(chunk.len());
            header.extend_from_slice(&chunk[..wanted]);
            if header.len() == ELF_HEADER_LEN {
                verify::check_elf(&header)?;
            }
        }
        hasher.update(chunk);
        out.write_all(chunk)
            .map_err(|e| crate::Error(format!("writing the download failed: {e}")))?;
        progress(Progress::Received(received));
    }
    if received < size {
        refuse!("the artifact is truncated: {received} of {size} bytes arrived");
    }
    verify::check_elf(&header)?;
    let got = hasher.finish();
    if got != sha256 {
        refuse!("sha256 mismatch: the artifact hashes to {got}, the signed index says {sha256}");
    }
    Ok(())
}

/// Checks a stored artifact again: size, ELF header, sha256.
pub fn verify_stored(path: &std::path::Path, stored: &Stored) -> Result<()> {
    // The file itself, never a link to one (which could be repointed after the check).
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => refuse!("the stored {} is not a regular file", path.display()),
        Err(e) => refuse!("cannot read {}: {e}", path.display()),
    }
    let mut file = std::fs::File::open(path)
        .map_err(|e| crate::Error(format!("cannot read {}: {e}", path.display())))?;
    let mut sink = std::io::sink();
    let version = Version {
        tag: stored.tag.clone(),
        commit: stored.commit.clone(),
        ..Version::default()
    };
    download(
        &mut file,
        &mut sink,
        &version,
        stored.size,
        &stored.sha256,
        &mut |_| {},
    )
    .map_err(|e| {
        crate::Error(format!(
            "the stored file {} no longer verifies ({e}); MOD.REMOVE {}@{} and get it again",
            path.display(),
            stored.module(),
            stored.label()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn downloads_are_checked_as_they_arrive() {
        let mut elf = b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0\x3e\0".to_vec();
        elf.extend([7u8; 100]);
        let sha = verify::sha256_hex(&elf);
        let version = Version {
            tag: Some("v1".into()),
            ..Version::default()
        };
        let run = |bytes: &[u8], size: u64, sha: &str| {
            download(bytes, &mut Vec::new(), &version, size, sha, &mut |_| {}).map_err(|e| e.0)
        };
        assert_eq!(run(&elf, elf.len() as u64, &sha), Ok(()));
        assert!(
            run(&elf[..50], elf.len() as u64, &sha)
                .unwrap_err()
                .contains("truncated")
        );
        assert!(
            run(&elf, elf.len() as u64 - 1, &sha)
                .unwrap_err()
                .contains("oversized")
        );
        assert!(
            run(&elf, elf.len() as u64, &"0".repeat(64))
                .unwrap_err()
                .contains("sha256 mismatch")
        );
        let text = vec![b'x'; 120];
        assert!(
            run(&text, 120, &verify::sha256_hex(&text))
                .unwrap_err()
                .contains("not an ELF")
        );
    }
}
