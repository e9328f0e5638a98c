//! Names, versions and paths: what may appear in a module reference or an index.
//!
//! Names (namespaces, modules, platforms) are `[A-Za-z0-9_.-]`, not starting with `.` and
//! without `..`; so they can never climb out of a directory or hide as dot files. Versions
//! also allow `+`. Paths are `/`-separated names, relative.

use crate::{Result, refuse};

/// A module reference: `<namespace>/<name>[@<version>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRef {
    /// The namespace (`rs-rm`).
    pub namespace: String,
    /// The module's name (`json`).
    pub name: String,
    /// A tag or a commit id (prefix); `None` for the latest.
    pub version: Option<String>,
}

impl ModuleRef {
    /// Parses and checks `<namespace>/<name>[@<version>]`.
    pub fn parse(text: &str) -> Result<ModuleRef> {
        let (module, version) = match text.split_once('@') {
            Some((module, version)) => (module, Some(version)),
            None => (text, None),
        };
        let Some((namespace, name)) = module.split_once('/') else {
            refuse!(
                "module '{}' must be written <namespace>/<name>[@<version>]",
                shown(text)
            );
        };
        check_name("namespace", namespace)?;
        check_name("module name", name)?;
        if let Some(version) = version {
            check_version(version)?;
        }
        Ok(ModuleRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            version: version.map(str::to_owned),
        })
    }

    /// `namespace/name`.
    pub fn module(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

impl std::fmt::Display for ModuleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)?;
        if let Some(version) = &self.version {
            write!(f, "@{version}")?;
        }
        Ok(())
    }
}

/// At most 64 printable characters of untrusted text, for an error message.
pub fn shown(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > 64 {
        out.push('…');
    }
    out
}

fn check(what: &str, text: &str, extra: &[char]) -> Result<()> {
    if text.is_empty() {
        refuse!("{what} is empty");
    }
    if text.len() > 128 {
        refuse!("{what} '{}' is too long (128 at most)", shown(text));
    }
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') || extra.contains(&c);
    if let Some(bad) = text.chars().find(|&c| !allowed(c)) {
        refuse!(
            "{what} '{}' has the character {bad:?}: only letters, digits, '_', '.', '-'{} are allowed",
            shown(text),
            extra.iter().map(|c| format!(", '{c}'")).collect::<String>()
        );
    }
    if text.starts_with(['.', '-']) || text.contains("..") {
        refuse!(
            "{what} '{}' may not start with '.' or '-', nor contain '..'",
            shown(text)
        );
    }
    Ok(())
}

/// Checks a namespace, module or platform name.
pub fn check_name(what: &str, name: &str) -> Result<()> {
    check(what, name, &[])
}

/// Checks a version (a tag or a commit id).
pub fn check_version(version: &str) -> Result<()> {
    check("version", version, &['+'])
}

/// Checks a relative artifact path: `/`-separated names.
pub fn check_path(path: &str) -> Result<()> {
    if path.is_empty() || path.len() > 1024 {
        refuse!("path '{}' is empty or too long", shown(path));
    }
    for part in path.split('/') {
        check("path part", part, &[])?;
    }
    Ok(())
}

/// Whether `text` looks like a hex commit id or a prefix of one (at least 7 digits).
pub fn is_commit_prefix(text: &str) -> bool {
    (7..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse() {
        let r = ModuleRef::parse("rs-rm/json@v0.1.0").unwrap();
        assert_eq!(
            (r.namespace.as_str(), r.name.as_str(), r.version.as_deref()),
            ("rs-rm", "json", Some("v0.1.0"))
        );
        assert_eq!(ModuleRef::parse("a/b").unwrap().version, None);
        assert_eq!(r.to_string(), "rs-rm/json@v0.1.0");
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in [
            "json",
            "a/b/c",
            "../json",
            "a/..",
            "a/.hidden",
            "a/b c",
            "a/b\0",
            "a/",
            "/b",
            "a/b@",
            "a/b@../x",
            "a/b@v1/x",
            "a/b@x..y",
            "a/-b",
            "a/é",
        ] {
            assert!(ModuleRef::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            ModuleRef::parse("a/b/c").unwrap_err().0,
            "module name 'b/c' has the character '/': only letters, digits, '_', '.', '-' are allowed"
        );
    }

    #[test]
    fn paths_are_relative_names() {
        assert!(check_path("rs-rm/json/bin/linux_x86_64/json.so").is_ok());
        for bad in ["/etc/passwd", "a/../b", "a//b", "a/", "./a", "a\\b"] {
            assert!(check_path(bad).is_err(), "{bad:?} accepted");
        }
    }
}
