//! The registry index: `index.json` at the registry root, signed beside it
//! (`index.json.minisig`).
//!
//! ```json
//! {"format": 1,
//!  "namespaces": [{"name": "rs-rm", "modules": [{
//!     "name": "json", "description": "JSON documents as a key type",
//!     "versions": [{"tag": "v0.1.0", "commit": "3f1c…", "min_server": "7.0.0",
//!                   "artifacts": {"linux_x86_64": {
//!                       "path": "rs-rm/json/bin/linux_x86_64/json.so",
//!                       "sha256": "9b2e…", "size": 1843200}}}]}]}]}
//! ```
//!
//! Versions are listed oldest first: the last is the latest. A version has a tag, a commit id,
//! or both (the revision the artifact is read at).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::names::{self, check_name, check_path, check_version, is_commit_prefix, shown};
use crate::{Result, refuse};

/// The index format this crate reads and writes.
pub const FORMAT: u32 = 1;

/// The largest index accepted, in bytes.
pub const MAX_INDEX_SIZE: u64 = 16 << 20;

/// A registry's index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// [`FORMAT`].
    pub format: u32,
    /// Every namespace.
    pub namespaces: Vec<Namespace>,
}

/// A namespace and its modules.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Namespace {
    /// Its name.
    pub name: String,
    /// Its modules.
    pub modules: Vec<ModuleEntry>,
}

/// A module and its versions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModuleEntry {
    /// Its name (also the artifact's file name, `<name>.so`).
    pub name: String,
    /// One line about it.
    #[serde(default)]
    pub description: String,
    /// Oldest first.
    pub versions: Vec<Version>,
}

/// One version of a module: a registry revision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Version {
    /// The git tag naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The commit id it was published at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The oldest server version it runs on (`7.0.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_server: Option<String>,
    /// Per platform (`linux_x86_64`), the artifact.
    pub artifacts: BTreeMap<String, Artifact>,
}

/// One built module file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// Relative to the registry root at the version's revision.
    pub path: String,
    /// Lower-case hex.
    pub sha256: String,
    /// In bytes.
    pub size: u64,
}

impl Index {
    /// Parses and checks an index (after its signature was checked).
    pub fn parse(bytes: &[u8]) -> Result<Index> {
        let index: Index = serde_json::from_slice(bytes)
            .map_err(|e| crate::Error(format!("registry index is not valid: {e}")))?;
        index.check()?;
        Ok(index)
    }

    /// The index as JSON text, pretty-printed.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("an index serializes");
        text.push('\n');
        text
    }

    fn check(&self) -> Result<()> {
        if self.format != FORMAT {
            refuse!(
                "registry index format {} is not supported (expected {FORMAT})",
                self.format
            );
        }
        for namespace in &self.namespaces {
            check_name("namespace", &namespace.name)?;
            for module in &namespace.modules {
                check_name("module name", &module.name)?;
                for version in &module.versions {
                    version.check()?;
                }
            }
        }
        Ok(())
    }

    /// The module `namespace/name`.
    pub fn module(&self, namespace: &str, name: &str) -> Result<&ModuleEntry> {
        self.namespaces
            .iter()
            .filter(|ns| ns.name == namespace)
            .flat_map(|ns| &ns.modules)
            .find(|module| module.name == name)
            .ok_or_else(|| crate::Error(format!("no module {namespace}/{name} in the registry")))
    }

    /// Every module with its namespace.
    pub fn modules(&self) -> impl Iterator<Item = (&str, &ModuleEntry)> {
        self.namespaces
            .iter()
            .flat_map(|ns| ns.modules.iter().map(move |m| (ns.name.as_str(), m)))
    }
}

impl ModuleEntry {
    /// The version `spec` names (a tag, or a commit id or a unique prefix of one), or the
    /// latest for `None`.
    pub fn version(&self, spec: Option<&str>) -> Result<&Version> {
        let Some(spec) = spec else {
            return self
                .versions
                .last()
                .ok_or_else(|| crate::Error(format!("module {} has no versions", self.name)));
        };
        if let Some(version) = self
            .versions
            .iter()
            .find(|v| v.tag.as_deref() == Some(spec))
        {
            return Ok(version);
        }
        if is_commit_prefix(spec) {
            let spec = spec.to_ascii_lowercase();
            let mut matches = self
                .versions
                .iter()
                .filter(|v| v.commit.as_deref().is_some_and(|c| c.starts_with(&spec)));
            if let Some(version) = matches.next() {
                if matches.next().is_some() {
                    refuse!(
                        "version '{spec}' of {} is ambiguous: give more of the commit id",
                        self.name
                    );
                }
                return Ok(version);
            }
        }
        refuse!(
            "no version '{}' of {} in the registry",
            shown(spec),
            self.name
        )
    }

    /// The latest version's label, `-` if none.
    pub fn latest_label(&self) -> String {
        self.versions
            .last()
            .map_or_else(|| "-".to_owned(), Version::label)
    }
}

impl Version {
    /// The tag, or the commit id's first 12 digits.
    pub fn label(&self) -> String {
        match (&self.tag, &self.commit) {
            (Some(tag), _) => tag.clone(),
            (None, Some(commit)) => commit.chars().take(12).collect(),
            (None, None) => "-".to_owned(),
        }
    }

    fn check(&self) -> Result<()> {
        if self.tag.is_none() && self.commit.is_none() {
            refuse!("registry index has a version with neither tag nor commit");
        }
        if let Some(tag) = &self.tag {
            check_version(tag)?;
        }
        if let Some(commit) = &self.commit
            && (!(commit.len() == 40 || commit.len() == 64) || !is_commit_prefix(commit))
        {
            refuse!("registry index has a bad commit id '{}'", shown(commit));
        }
        if let Some(min) = &self.min_server {
            parse_server_version(min)?;
        }
        for (platform, artifact) in &self.artifacts {
            check_name("platform", platform)?;
            check_path(&artifact.path)?;
            if !artifact.path.ends_with(".so") {
                refuse!(
                    "registry index has an artifact not ending in .so: '{}'",
                    names::shown(&artifact.path)
                );
            }
            if artifact.sha256.len() != 64
                || !artifact
                    .sha256
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                refuse!(
                    "registry index has a bad sha256 '{}'",
                    shown(&artifact.sha256)
                );
            }
        }
        Ok(())
    }
}

/// `major.minor.patch` as numbers (missing parts are 0).
pub fn parse_server_version(text: &str) -> Result<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(str::parse::<u32>);
    let mut next = || parts.next().unwrap_or(Ok(0));
    match (next(), next(), next()) {
        (Ok(a), Ok(b), Ok(c)) => Ok((a, b, c)),
        _ => refuse!(
            "'{}' is not a server version (major.minor.patch)",
            shown(text)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        let artifact = |sha: char| Artifact {
            path: "ns/m/bin/linux_x86_64/m.so".into(),
            sha256: sha.to_string().repeat(64),
            size: 10,
        };
        let version = |tag: &str, commit: char, sha| Version {
            tag: Some(tag.into()),
            commit: Some(commit.to_string().repeat(40)),
            min_server: Some("7.0.0".into()),
            artifacts: [("linux_x86_64".to_owned(), artifact(sha))].into(),
        };
        Index {
            format: FORMAT,
            namespaces: vec![Namespace {
                name: "ns".into(),
                modules: vec![ModuleEntry {
                    name: "m".into(),
                    description: "a module".into(),
                    versions: vec![version("v1", 'a', 'a'), version("v2", 'b', 'b')],
                }],
            }],
        }
    }

    #[test]
    fn versions_by_tag_commit_or_latest() {
        let index = Index::parse(index().to_json().as_bytes()).unwrap();
        let module = index.module("ns", "m").unwrap();
        assert_eq!(module.version(None).unwrap().label(), "v2");
        assert_eq!(module.version(Some("v1")).unwrap().label(), "v1");
        assert_eq!(module.version(Some("aaaaaaa")).unwrap().label(), "v1");
        assert_eq!(
            module.version(Some("v3")).unwrap_err().0,
            "no version 'v3' of m in the registry"
        );
        assert!(index.module("ns", "x").is_err());
    }

    #[test]
    fn bad_indexes_are_refused() {
        let mut bad = index();
        bad.namespaces[0].modules[0].versions[0]
            .artifacts
            .get_mut("linux_x86_64")
            .unwrap()
            .path = "../../etc/passwd.so".into();
        assert!(Index::parse(bad.to_json().as_bytes()).is_err());
        let mut bad = index();
        bad.namespaces[0].name = "a/b".into();
        assert!(Index::parse(bad.to_json().as_bytes()).is_err());
        assert!(Index::parse(b"{\"format\": 1}").is_err());
        assert!(Index::parse(b"not json").is_err());
    }
}
