//! Where a registry lives: a local directory, a git repository, or an HTTP(S) base URL.
//!
//! `mod.registry` picks the source by its form:
//! - `http://…` or `https://…`: the GitHub raw layout, `<base>/<rev>/<path>`; the index is read
//!   at `<base>/HEAD/index.json` (a URL ending in `.git` is a git repository instead);
//! - `git+<url or path>`, `git://…`, `ssh://…`, `file://…`, or an absolute path to a git
//!   repository (it has `.git`, or its name ends in `.git`): git, every tag and commit;
//! - any other absolute path: a directory, read as it is (a checkout: the versions whose files
//!   are the ones on disk).
//!
//! A git registry is cloned (`git clone --mirror`, by the `git` command) into
//! `<home>/.cache/git/` and fetched again on each use; it is read there with `git cat-file`,
//! never run (no checkout, no hooks).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::index::{MAX_INDEX_SIZE, Version};
use crate::names::shown;
use crate::verify::sha256_hex;
use crate::{Result, refuse};

/// A registry location, parsed from `mod.registry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A local directory.
    Dir(PathBuf),
    /// A git repository: a URL or a local path, as `git clone` takes it.
    Git(String),
    /// An HTTP(S) base URL in the GitHub raw layout, without a trailing `/`.
    Http(String),
}

/// A readable stream of an artifact.
pub type Stream = Box<dyn Read + Send>;

impl Source {
    /// Parses a `mod.registry` value.
    pub fn parse(location: &str) -> Result<Source> {
        let location = location.trim();
        if location.is_empty() {
            refuse!("mod.registry is not set (a directory, a git repository or an http(s) URL)");
        }
        if location.chars().any(char::is_control) {
            refuse!("mod.registry has control characters");
        }
        if let Some(rest) = location.strip_prefix("git+") {
            if rest.is_empty() || rest.starts_with('-') {
                refuse!("mod.registry '{}' names no git repository", shown(location));
            }
            return Ok(Source::Git(rest.to_owned()));
        }
        let lower = location.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            if lower.trim_end_matches('/').ends_with(".git") {
                return Ok(Source::Git(location.to_owned()));
            }
            return Ok(Source::Http(location.trim_end_matches('/').to_owned()));
        }
        if ["git://", "ssh://", "file://"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            return Ok(Source::Git(location.to_owned()));
        }
        let path = PathBuf::from(location);
        if !path.is_absolute() {
            refuse!(
                "mod.registry '{}' is not an absolute path nor a URL (http(s)://, git+…)",
                shown(location)
            );
        }
        if path.join(".git").exists() || location.trim_end_matches('/').ends_with(".git") {
            return Ok(Source::Git(location.to_owned()));
        }
        Ok(Source::Dir(path))
    }

    /// Prepares reading: clones or fetches a git registry into `home`'s cache.
    pub fn connect(&self, home: &Path) -> Result<Connected> {
        match self {
            Source::Dir(dir) => {
                if !dir.is_dir() {
                    refuse!(
                        "registry directory '{}' does not exist",
                        shown(&dir.to_string_lossy())
                    );
                }
                Ok(Connected::Dir(dir.clone()))
            }
            Source::Git(url) => Ok(Connected::Git(git_mirror(url, home)?)),
            Source::Http(base) => {
                let agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_connect(Some(Duration::from_secs(10)))
                    .timeout_recv_response(Some(Duration::from_secs(30)))
                    // A stalled transfer fails; a slow one may take as long as it needs.
                    .timeout_per_read(Some(Duration::from_secs(30)))
                    .user_agent("rs-rm-mod/0.1")
                    .build()
                    .new_agent();
                Ok(Connected::Http {
                    base: base.clone(),
                    agent,
                })
            }
        }
    }
}

/// A source ready to read.
pub enum Connected {
    /// A directory.
    Dir(PathBuf),
    /// A git mirror in the cache.
    Git(PathBuf),
    /// An HTTP base URL.
    Http {
        /// Without a trailing `/`.
        base: String,
        /// The client.
        agent: ureq::Agent,
    },
}

impl Connected {
    /// The index and its signature (`None` if the registry has none).
    pub fn index(&self) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
        let index = self
            .read(None, "index.json", MAX_INDEX_SIZE)?
            .ok_or_else(|| crate::Error::new("the registry has no index.json"))?;
        let signature = self.read(None, "index.json.minisig", 64 << 10)?;
        Ok((index, signature))
    }

    /// Checks that the source agrees with the index about a version: in git, its tag must
    /// still name its commit (a moved tag is refused).
    pub fn check_version(&self, version: &Version) -> Result<()> {
        if let (Connected::Git(mirror), Some(tag), Some(commit)) =
            (self, &version.tag, &version.commit)
        {
            let reference = format!("refs/tags/{tag}^{{commit}}");
            let found = git(mirror, &["rev-parse", "--verify", "--quiet", &reference])
                .map(|out| String::from_utf8_lossy(&out).trim().to_owned());
            match found {
                Ok(found) if found.eq_ignore_ascii_case(commit) => {}
                Ok(found) => refuse!(
                    "tag {tag} names commit {found} in the registry, but the signed index says {commit}"
                ),
                Err(_) => refuse!("tag {tag} is not in the registry's git repository"),
            }
        }
        Ok(())
    }

    /// A small file at `version`'s revision (the registry head for `None`), at most `limit`
    /// bytes; `None` if there is no such file.
    pub fn read(
        &self,
        version: Option<&Version>,
        path: &str,
        limit: u64,
    ) -> Result<Option<Vec<u8>>> {
        let Some(stream) = self.open(version, path)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        stream
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| crate::Error(format!("reading {path} from the registry failed: {e}")))?;
        if bytes.len() as u64 > limit {
            refuse!("{path} in the registry is larger than {limit} bytes");
        }
        Ok(Some(bytes))
    }

    /// Opens `path` at `version`'s revision (the registry head for `None`); `None` if there is
    /// no such file.
    pub fn open(&self, version: Option<&Version>, path: &str) -> Result<Option<Stream>> {
        crate::names::check_path(path)?;
        match self {
            Connected::Dir(dir) => match std::fs::File::open(dir.join(path)) {
                Ok(file) => Ok(Some(Box::new(file))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => refuse!("cannot read {path} in the registry directory: {e}"),
            },
            Connected::Git(mirror) => {
                let object = format!("{}:{path}", revision(version, "HEAD"));
                if git(mirror, &["cat-file", "-e", &object]).is_err() {
                    return Ok(None);
                }
                let child = git_command(mirror)
                    .args(["cat-file", "blob", &object])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| crate::Error(format!("cannot run git: {e}")))?;
                Ok(Some(Box::new(GitBlob::new(child))))
            }
            Connected::Http { base, agent } => {
                let url = format!("{base}/{}/{path}", revision(version, "HEAD"));
                let response = agent
                    .get(&url)
                    .call()
                    .map_err(|e| crate::Error(format!("GET {url} failed: {e}")))?;
                match response.status().as_u16() {
                    200 => Ok(Some(Box::new(response.into_body().into_reader()))),
                    404 => Ok(None),
                    status => refuse!("GET {url} answered HTTP {status}"),
                }
            }
        }
    }
}

/// The revision a version's files are read at: its commit, else its tag.
fn revision(version: Option<&Version>, head: &str) -> String {
    match version {
        Some(Version {
            commit: Some(commit),
            ..
        }) => commit.clone(),
        Some(Version { tag: Some(tag), .. }) => tag.clone(),
        _ => head.to_owned(),
    }
}

/// One git operation at a time in this process: two commands must not clone or fetch into the
/// same mirror together.
static GIT: Mutex<()> = Mutex::new(());

/// Clones `url` into the cache, or fetches it again if it is there; the mirror's path.
fn git_mirror(url: &str, home: &Path) -> Result<PathBuf> {
    let _one_at_a_time = GIT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let cache = home.join(".cache").join("git");
    let mirror = cache.join(format!("{}.git", &sha256_hex(url.as_bytes())[..16]));
    if mirror.join("HEAD").exists() {
        let mut fetch = git_command(&mirror);
        fetch.args([
            "fetch",
            "--quiet",
            "--prune",
            "--prune-tags",
            "--force",
            "origin",
        ]);
        over_network(&mut fetch).map_err(|e| {
            crate::Error(format!(
                "git fetch from the registry '{}' failed: {e}",
                shown(url)
            ))
        })?;
        return Ok(mirror);
    }
    std::fs::create_dir_all(&cache)
        .map_err(|e| crate::Error(format!("cannot create {}: {e}", cache.display())))?;
    let partial = cache.join(format!(".clone-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let mut clone = plain_git();
    clone
        .args(["clone", "--mirror", "--quiet", "--", url])
        .arg(&partial);
    if let Err(error) = over_network(&mut clone) {
        let _ = std::fs::remove_dir_all(&partial);
        refuse!(
            "git clone of the registry '{}' failed: {}",
            shown(url),
            shown(&error)
        );
    }
    std::fs::rename(&partial, &mirror)
        .map_err(|e| crate::Error(format!("cannot move the git mirror into place: {e}")))?;
    Ok(mirror)
}

/// How long one clone or fetch may take in all (a slow registry is fine, a hung one must not
/// hold the git lock, and every MOD command behind it, for ever).
const NETWORK_DEADLINE: Duration = Duration::from_secs(600);

/// A transfer slower than 1000 bytes/s for this long is stalled (git over HTTP(S); ssh gets
/// keepalives), as the HTTP source's per-read timeout.
const STALL_SECONDS: &str = "30";

/// Runs a git command that talks to the registry: stall detection, [`NETWORK_DEADLINE`];
/// `Err` is git's stderr or why it did not finish.
fn over_network(command: &mut Command) -> std::result::Result<(), String> {
    command
        .env("GIT_HTTP_LOW_SPEED_LIMIT", "1000")
        .env("GIT_HTTP_LOW_SPEED_TIME", STALL_SECONDS);
    if std::env::var_os("GIT_SSH_COMMAND").is_none() {
        command.env(
            "GIT_SSH_COMMAND",
            "ssh -o BatchMode=yes -o ConnectTimeout=10 -o ServerAliveInterval=10 \
             -o ServerAliveCountMax=3",
        );
    }
    match output_within(command, NETWORK_DEADLINE) {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
        Err(e) => Err(format!("git: {e}")),
    }
}

/// Runs `command` to its end, or kills it once `limit` has passed (`Err` of kind `TimedOut`).
fn output_within(command: &mut Command, limit: Duration) -> std::io::Result<Output> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    // Read both pipes meanwhile: a child writing more than a pipe holds would never end.
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            // The readers end when the last holder of the pipes (a helper git started) does.
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("did not finish within {} s", limit.as_secs_f32()),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Variables that make git use another repository than the one named: cleared for every git
/// call (a server started from a git hook inherits `GIT_DIR`, which `-C` does not override).
pub(crate) const GIT_REPOSITORY_VARIABLES: [&str; 8] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CEILING_DIRECTORIES",
];

/// `git`, with no repository from the environment, no prompt and no stdin.
fn plain_git() -> Command {
    let mut command = Command::new("git");
    for name in GIT_REPOSITORY_VARIABLES {
        command.env_remove(name);
    }
    command.env("GIT_TERMINAL_PROMPT", "0").stdin(Stdio::null());
    command
}

/// `git` on the mirror and no other repository.
fn git_command(mirror: &Path) -> Command {
    let mut command = plain_git();
    command.arg("--git-dir").arg(mirror);
    command
}

/// Runs git in `mirror`; its stdout, or its stderr as the error.
fn git(mirror: &Path, args: &[&str]) -> std::result::Result<Vec<u8>, String> {
    let out = git_command(mirror)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// `git cat-file blob` output; a failed git is a read error at the end, and the child is
/// killed and reaped if the reader is dropped early.
struct GitBlob {
    child: Child,
    stdout: ChildStdout,
}

impl GitBlob {
    fn new(mut child: Child) -> GitBlob {
        let stdout = child.stdout.take().expect("stdout is piped");
        GitBlob { child, stdout }
    }
}

impl Read for GitBlob {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.stdout.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let status = self.child.wait()?;
            if !status.success() {
                return Err(std::io::Error::other(format!(
                    "git cat-file failed ({status})"
                )));
            }
        }
        Ok(n)
    }
}

impl Drop for GitBlob {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_past_its_deadline_is_killed() {
        let started = Instant::now();
        let error =
            output_within(Command::new("sleep").arg("30"), Duration::from_millis(200)).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));
        // One that ends in time: its output, both pipes read (more than a pipe holds).
        let out = output_within(
            Command::new("sh").args(["-c", "head -c 200000 /dev/zero; echo oops >&2"]),
            Duration::from_secs(30),
        )
        .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), 200_000);
        assert_eq!(out.stderr, b"oops\n");
    }

    #[test]
    fn locations_pick_their_source() {
        assert_eq!(
            Source::parse("https://example.com/reg/").unwrap(),
            Source::Http("https://example.com/reg".into())
        );
        assert_eq!(
            Source::parse("https://example.com/reg.git").unwrap(),
            Source::Git("https://example.com/reg.git".into())
        );
        assert_eq!(
            Source::parse("git+/srv/reg").unwrap(),
            Source::Git("/srv/reg".into())
        );
        assert_eq!(
            Source::parse("/nonexistent/reg").unwrap(),
            Source::Dir("/nonexistent/reg".into())
        );
        assert!(Source::parse("relative/reg").is_err());
        assert!(Source::parse("").is_err());
        assert!(Source::parse("git+-upload-pack=x").is_err());
    }
}
