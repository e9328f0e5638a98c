//! `registry publish` never writes into a repository around the registry: not when the
//! registry's `.git` vanishes mid-way, not with two publishers at once, not when git's
//! environment names another repository (a hook's `GIT_DIR`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A checkout with one commit and one tag, and module files to publish under `target/`.
struct Outer {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Outer {
    fn new() -> Outer {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        git(&root, &["init", "--quiet", "--initial-branch=main"]);
        std::fs::write(root.join("README"), "outer\n").unwrap();
        git(&root, &["add", "README"]);
        let identity = ["-c", "user.name=t", "-c", "user.email=t@t"];
        git(
            &root,
            &[&identity[..], &["commit", "--quiet", "-m", "outer"]].concat(),
        );
        git(&root, &["tag", "outer-tag"]);
        let modules = root.join("target/modules");
        std::fs::create_dir_all(&modules).unwrap();
        for name in ["alpha", "beta"] {
            std::fs::write(
                modules.join(format!("{name}.so")),
                format!("\x7fELF {name}"),
            )
            .unwrap();
        }
        Outer { _dir: dir, root }
    }

    /// HEAD, every ref and tag, the number of commits and the tracked files' state: what must
    /// not change.
    fn state(&self) -> String {
        let mut state = git(&self.root, &["rev-parse", "HEAD"]);
        state += &git(&self.root, &["for-each-ref"]);
        state += &git(&self.root, &["rev-list", "--all", "--count"]);
        state += &git(
            &self.root,
            &["status", "--porcelain", "--untracked-files=no"],
        );
        state
    }

    fn registry(&self) -> PathBuf {
        self.root.join("target/registry")
    }

    fn publish(&self, envs: &[(&str, &Path)]) -> Child {
        let target = self.root.join("target");
        let mut command = Command::new(env!("CARGO_BIN_EXE_registry"));
        command
            .arg("publish")
            .arg("--modules")
            .arg(target.join("modules"))
            .arg("--out")
            .arg(self.registry())
            .arg("--key")
            .arg(target.join("registry.key"))
            .arg("--pub")
            .arg(target.join("registry.pub"))
            .current_dir(&self.root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in envs {
            command.env(name, value);
        }
        command.spawn().expect("registry runs")
    }

    /// The registry is whole: both release tags, the index committed, a clean work tree, and
    /// nothing left beside it but the lock.
    fn assert_registry_complete(&self) {
        let registry = self.registry();
        let tags = git(&registry, &["tag", "--list"]);
        assert_eq!(tags, "v0.1.0\nv0.1.0-rc.1\n", "{}", registry.display());
        assert_eq!(git(&registry, &["status", "--porcelain"]), "");
        assert!(registry.join("index.json.minisig").exists());
        assert_eq!(git(&registry, &["rev-list", "--count", "HEAD"]), "3\n");
        let mut left: Vec<String> = std::fs::read_dir(self.root.join("target"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".registry.lock",
                "modules",
                "registry",
                "registry.key",
                "registry.pub"
            ]
        );
    }
}

fn finished(child: Child) -> Output {
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn two_publishers_at_once_leave_one_whole_registry() {
    let outer = Outer::new();
    let before = outer.state();
    // Keys first, so both publishers sign with the same one.
    let first = finished(outer.publish(&[]));
    assert!(first.status.success(), "{}", stderr(&first));
    for _ in 0..3 {
        let (a, b) = (outer.publish(&[]), outer.publish(&[]));
        let (a, b) = (finished(a), finished(b));
        assert!(a.status.success(), "{}", stderr(&a));
        assert!(b.status.success(), "{}", stderr(&b));
        outer.assert_registry_complete();
    }
    assert_eq!(outer.state(), before);
}

#[test]
fn a_vanishing_git_directory_never_sends_git_to_the_outer_repository() {
    let outer = Outer::new();
    let before = outer.state();
    assert!(finished(outer.publish(&[])).status.success());
    let target = outer.root.join("target");
    let (mut cut, mut whole) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    // Until a publish has been cut mid-way (at most a minute), publish while another thread
    // deletes every registry .git it can see: the final one and the one being built.
    while cut == 0 && Instant::now() < deadline {
        let done = AtomicBool::new(false);
        let output = std::thread::scope(|scope| {
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    for entry in std::fs::read_dir(&target).into_iter().flatten().flatten() {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if name == "registry" || name.starts_with(".registry.tmp-") {
                            let _ = std::fs::remove_dir_all(entry.path().join(".git"));
                        }
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
            });
            let output = finished(outer.publish(&[]));
            done.store(true, Ordering::Relaxed);
            output
        });
        if output.status.success() {
            whole += 1;
        } else {
            cut += 1;
            let why = stderr(&output);
            assert!(
                why.contains("not a git repository")
                    || why.contains("changed while")
                    || why.contains("does not exist"),
                "{why}"
            );
        }
        assert_eq!(outer.state(), before, "after {whole} whole and {cut} cut");
    }
    assert!(
        cut > 0,
        "no publish was cut mid-way in a minute ({whole} whole)"
    );
    // The repair is to publish again.
    let again = finished(outer.publish(&[]));
    assert!(again.status.success(), "{}", stderr(&again));
    outer.assert_registry_complete();
    assert_eq!(outer.state(), before);
}

#[test]
fn git_variables_naming_another_repository_are_ignored() {
    let outer = Outer::new();
    let before = outer.state();
    let git_dir = outer.root.join(".git");
    let out = finished(outer.publish(&[("GIT_DIR", &git_dir), ("GIT_WORK_TREE", &outer.root)]));
    assert!(out.status.success(), "{}", stderr(&out));
    outer.assert_registry_complete();
    assert_eq!(outer.state(), before);
}
