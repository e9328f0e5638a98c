//! Publishing registries (feature `publish`): keys, signatures, git registries.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::index::Index;
use crate::verify::sha256_hex;
use crate::{Result, refuse};

/// A minisign key pair (unencrypted: a development key).
pub struct Keys {
    secret: minisign::SecretKey,
    public: minisign::PublicKey,
}

fn failed(what: &str) -> impl Fn(minisign::PError) -> crate::Error + '_ {
    move |e| crate::Error(format!("{what}: {e}"))
}

impl Keys {
    /// A new key pair.
    pub fn generate() -> Result<Keys> {
        let pair =
            minisign::KeyPair::generate_unencrypted_keypair().map_err(failed("key generation"))?;
        Ok(Keys {
            secret: pair.sk,
            public: pair.pk,
        })
    }

    /// The key pair in `secret` and `public` (minisign files), generated and written there
    /// first if `secret` does not exist.
    pub fn load_or_generate(secret: &Path, public: &Path) -> Result<Keys> {
        if secret.exists() {
            let text = std::fs::read_to_string(secret)
                .map_err(|e| crate::Error(format!("cannot read {}: {e}", secret.display())))?;
            let boxed = minisign::SecretKeyBox::from_string(&text).map_err(failed("secret key"))?;
            let secret_key = boxed
                .into_unencrypted_secret_key()
                .map_err(failed("secret key"))?;
            let public_key =
                minisign::PublicKey::from_secret_key(&secret_key).map_err(failed("public key"))?;
            let keys = Keys {
                secret: secret_key,
                public: public_key,
            };
            write(public, keys.public_text().as_bytes())?;
            return Ok(keys);
        }
        let keys = Keys::generate()?;
        let boxed = keys
            .secret
            .to_box(Some("rs-rm development registry key"))
            .map_err(failed("secret key"))?;
        write(secret, boxed.to_string().as_bytes())?;
        write(public, keys.public_text().as_bytes())?;
        Ok(keys)
    }

    /// The public key file's text (`untrusted comment: …` and the base64 line).
    pub fn public_text(&self) -> String {
        self.public
            .to_box()
            .expect("a public key boxes")
            .to_string()
    }

    /// The public key's base64 line.
    pub fn public_base64(&self) -> String {
        self.public.to_base64()
    }

    /// A minisign signature of `data` (the `.minisig` file's text).
    pub fn sign(&self, data: &[u8]) -> Result<String> {
        let signature = minisign::sign(
            Some(&self.public),
            &self.secret,
            data,
            Some("rs-rm registry index"),
            None,
        )
        .map_err(failed("signing"))?;
        Ok(signature.to_string())
    }
}

/// Writes a file, creating its directory.
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::Error(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(path, bytes)
        .map_err(|e| crate::Error(format!("cannot write {}: {e}", path.display())))
}

/// Where a module's artifact lives in a registry: `<ns>/<name>/bin/<platform>/<name>.so`.
pub fn artifact_path(namespace: &str, name: &str, platform: &str) -> String {
    format!("{namespace}/{name}/bin/{platform}/{name}.so")
}

/// The `.sha` file beside an artifact: its sha256 and name, as `sha256sum` writes them.
pub fn sha_text(bytes: &[u8], file_name: &str) -> String {
    format!("{}  {file_name}\n", sha256_hex(bytes))
}

/// A release's copy of a build: the build with a trailer naming the release after the ELF
/// data (the loader maps only what the ELF headers describe), so two releases of one build
/// are two distinct files.
pub fn stamp(build: &[u8], release: &str) -> Vec<u8> {
    let mut bytes = build.to_vec();
    bytes.extend_from_slice(format!("\0rs-rm release {release}\n").as_bytes());
    bytes
}

/// A registry in a git repository: files are written into its work tree, and each commit can
/// be tagged as a version.
pub struct GitRegistry {
    dir: PathBuf,
}

impl GitRegistry {
    /// A new, empty repository at `dir` (anything there is removed first).
    pub fn create(dir: &Path) -> Result<GitRegistry> {
        if dir.exists() {
            std::fs::remove_dir_all(dir)
                .map_err(|e| crate::Error(format!("cannot remove {}: {e}", dir.display())))?;
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| crate::Error(format!("cannot create {}: {e}", dir.display())))?;
        let registry = GitRegistry {
            dir: dir
                .canonicalize()
                .map_err(|e| crate::Error(format!("cannot resolve {}: {e}", dir.display())))?,
        };
        // `init DIR` creates DIR/.git: it cannot reach a repository around DIR.
        run_git(
            registry.pinned(Command::new("git")),
            &["init", "--quiet", "--initial-branch=main"],
            Some(&registry.dir),
        )?;
        Ok(registry)
    }

    /// The work tree.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `bytes` at `path` (relative) in the work tree.
    pub fn write(&self, path: &str, bytes: &[u8]) -> Result<()> {
        write(&self.dir.join(path), bytes)
    }

    /// Writes an artifact and its `.sha` file; their relative path and the sha256.
    pub fn write_artifact(
        &self,
        namespace: &str,
        name: &str,
        platform: &str,
        bytes: &[u8],
    ) -> Result<String> {
        let path = artifact_path(namespace, name, platform);
        self.write(&path, bytes)?;
        self.write(
            &format!("{}.sha", path.trim_end_matches(".so")),
            sha_text(bytes, &format!("{name}.so")).as_bytes(),
        )?;
        Ok(path)
    }

    /// Writes `index.json` and, if `keys` are given, `index.json.minisig`.
    pub fn write_index(&self, index: &Index, keys: Option<&Keys>) -> Result<()> {
        let text = index.to_json();
        self.write("index.json", text.as_bytes())?;
        if let Some(keys) = keys {
            self.write("index.json.minisig", keys.sign(text.as_bytes())?.as_bytes())?;
        }
        Ok(())
    }

    /// Commits everything in the work tree (tagging the commit if `tag` is given); the commit
    /// id. Dates and names are fixed, so the same files give the same commit ids.
    pub fn commit(&self, message: &str, tag: Option<&str>) -> Result<String> {
        self.git(&["add", "--all"])?;
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message])?;
        if let Some(tag) = tag {
            self.git(&["tag", "--force", tag])?;
        }
        Ok(self.git(&["rev-parse", "HEAD"])?.trim().to_owned())
    }

    /// Runs git on this repository and no other; its output. The repository is named
    /// explicitly (`--git-dir DIR/.git --work-tree DIR`), so if DIR/.git disappears git fails
    /// instead of searching upward and writing into a repository around DIR (a checkout the
    /// registry sits in); the variables that redirect git are cleared for the same reason.
    pub fn git(&self, args: &[&str]) -> Result<String> {
        let mut command = self.pinned(Command::new("git"));
        command
            .arg("--git-dir")
            .arg(self.dir.join(".git"))
            .arg("--work-tree")
            .arg(&self.dir);
        run_git(command, args, None)
    }

    /// `command` with fixed identity and dates, no signing, no repository from the
    /// environment, and no discovery above the registry's parent.
    fn pinned(&self, mut command: Command) -> Command {
        command
            .args([
                "-c",
                "user.name=rs-rm registry",
                "-c",
                "user.email=registry@rs-rm.invalid",
            ])
            .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
            .env("GIT_AUTHOR_DATE", "2025-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2025-01-01T00:00:00Z");
        for name in crate::source::GIT_REPOSITORY_VARIABLES {
            command.env_remove(name);
        }
        if let Some(parent) = self.dir.parent() {
            command.env("GIT_CEILING_DIRECTORIES", parent);
        }
        command
    }
}

/// Runs a prepared git command with `args` (and a last path argument); its stdout.
fn run_git(mut command: Command, args: &[&str], path: Option<&Path>) -> Result<String> {
    command.args(args);
    if let Some(path) = path {
        command.arg(path);
    }
    let out = command
        .output()
        .map_err(|e| crate::Error(format!("cannot run git: {e}")))?;
    if !out.status.success() {
        refuse!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
