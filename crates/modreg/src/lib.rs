//! Module registries for the `mod` module: where modules come from and how they are checked.
//!
//! A registry is laid out like go-rm's, in the GitHub raw layout:
//!
//! ```text
//! index.json                                   what the registry holds (signed)
//! index.json.minisig                           its minisign (Ed25519) signature
//! <namespace>/<module>/bin/<os>_<arch>/<module>.so    an artifact
//! <namespace>/<module>/bin/<os>_<arch>/<module>.sha   its sha256, beside it
//! ```
//!
//! Versions are revisions of the registry (git tags and commit ids); the index at the
//! registry's head lists every version of every module with its tag, commit, and per platform
//! the artifact's path, sha256 and size. Sources ([`source::Source`]): a local directory (a
//! checkout: the files as they are), a git repository (local path or URL: every tagged or
//! committed version), an HTTP(S) base URL (`<base>/<rev>/<path>`, the index at
//! `<base>/HEAD/index.json`).
//!
//! Nothing is trusted until checked ([`fetch::get`]): the index's signature against the
//! trusted key, names and paths, the platform, the size, the artifact's sha256 against the
//! index and the `.sha` file, and its ELF header against this machine. Artifacts are
//! downloaded to a temp file, synced, and linked into a content-addressed path
//! (`<home>/<namespace>/<module>/<sha256>.so`) that is never overwritten.
//!
//! No Redis here: the `mod` module runs this on a background thread. With the `publish`
//! feature: signing and publishing registries ([`publish`]) and a small HTTP server in the
//! raw layout ([`serve`]), for the `registry` tool and the tests.

pub mod fetch;
pub mod index;
pub mod names;
pub mod source;
pub mod store;
pub mod verify;

#[cfg(feature = "publish")]
pub mod publish;
#[cfg(feature = "publish")]
pub mod release;
#[cfg(feature = "publish")]
pub mod serve;

use std::fmt;

/// Why a registry operation was refused or failed: a message for a Redis error line (without
/// the `ERR ` code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl Error {
    /// An error with `message`.
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// The result type of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// `Err` with a formatted message.
macro_rules! refuse {
    ($($arg:tt)*) => {
        return Err($crate::Error(format!($($arg)*)))
    };
}
pub(crate) use refuse;
