//! The `mod` module on real servers, against registries the tests make: a real git repository
//! (`git init`, commits, tags), plain directories, and a real HTTP server on loopback.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Server, ServerKind, reply, servers, wait_for};
use modreg::index::{Artifact, FORMAT, Index, ModuleEntry, Namespace, Version};
use modreg::publish::{GitRegistry, Keys, sha_text, stamp};
use modreg::serve::{self, Options};
use modreg::verify::{platform, sha256_hex};

/// A registry made for a test: a git repository with two tagged releases of `t/hashex`
/// (hashex.so stamped `v1` and `v2`) and, in the second, modules that are each wrong in one
/// way.
struct Registry {
    dir: tempfile::TempDir,
    keys: Keys,
    v1: Vec<u8>,
    v2: Vec<u8>,
    commits: [String; 2],
}

impl Registry {
    fn repo(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    fn public_key(&self) -> PathBuf {
        self.dir.path().join("registry.pub")
    }

    /// A fresh, empty store directory.
    fn home(&self, name: &str) -> PathBuf {
        self.dir.path().join("homes").join(name)
    }

    /// A plain-directory copy of the registry's work tree (no git), for tampering.
    fn dir_copy(&self, name: &str) -> PathBuf {
        let copy = self.dir.path().join(name);
        let status = std::process::Command::new("cp")
            .arg("-r")
            .arg(self.repo())
            .arg(&copy)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::remove_dir_all(copy.join(".git")).unwrap();
        copy
    }
}

fn artifact(path: &str, bytes: &[u8]) -> Artifact {
    Artifact {
        path: path.to_owned(),
        sha256: sha256_hex(bytes),
        size: bytes.len() as u64,
    }
}

fn module_entry(name: &str, description: &str, versions: Vec<Version>) -> ModuleEntry {
    ModuleEntry {
        name: name.to_owned(),
        description: description.to_owned(),
        versions,
    }
}

fn version(tag: &str, commit: &str, platform: &str, artifact: Artifact) -> Version {
    Version {
        tag: Some(tag.to_owned()),
        commit: Some(commit.to_owned()),
        min_server: Some("7.0.0".to_owned()),
        artifacts: [(platform.to_owned(), artifact)].into(),
    }
}

fn make_registry() -> Registry {
    let dir = tempfile::tempdir().unwrap();
    let keys = Keys::generate().unwrap();
    std::fs::write(dir.path().join("registry.pub"), keys.public_text()).unwrap();
    let repo = GitRegistry::create(&dir.path().join("repo")).unwrap();
    let build = std::fs::read(common::module("hashex")).unwrap();
    let (v1, v2) = (stamp(&build, "v1"), stamp(&build, "v2"));
    let here = platform();
    let path = repo.write_artifact("t", "hashex", &here, &v1).unwrap();
    let c1 = repo.commit("v1", Some("v1")).unwrap();
    repo.write_artifact("t", "hashex", &here, &v2).unwrap();

    // Modules that are wrong in one way each, all in the second release.
    let text = b"#!/bin/sh\necho this is not a shared object\n".to_vec();
    let notelf = repo.write_artifact("t", "notelf", &here, &text).unwrap();
    let mut other_machine = build.clone();
    other_machine[18..20].copy_from_slice(&183u16.to_le_bytes()); // aarch64
    let wrongarch = repo
        .write_artifact("t", "wrongarch", &here, &other_machine)
        .unwrap();
    let otherplat = repo
        .write_artifact("t", "otherplat", "plan9_mips", &build)
        .unwrap();
    let short = repo.write_artifact("t", "short", &here, &build).unwrap();
    let badsha = repo.write_artifact("t", "badsha", &here, &build).unwrap();
    let badshafile = repo
        .write_artifact("t", "badshafile", &here, &build)
        .unwrap();
    // The .sha file says another hash than the index.
    let badshafile_sha = format!("t/badshafile/bin/{here}/badshafile.sha");
    repo.write(&badshafile_sha, sha_text(b"other", "x").as_bytes())
        .unwrap();
    repo.write(
        &format!("t/badsha/bin/{here}/badsha.sha"),
        sha_text(b"other bytes", "badsha.so").as_bytes(),
    )
    .unwrap();
    // Listed as tag v1 at the second commit (the tag names the first: a moved tag), and one
    // for a server from the future.
    let movedtag = repo.write_artifact("t", "movedtag", &here, &build).unwrap();
    let future = repo.write_artifact("t", "future", &here, &build).unwrap();
    let c2 = repo.commit("v2", Some("v2")).unwrap();

    let release2 = |a: Artifact| vec![version("v2", &c2, &here, a)];
    let mut short_artifact = artifact(&short, &build);
    short_artifact.size += 100; // the index promises more than the file holds
    let mut badsha_artifact = artifact(&badsha, &build);
    badsha_artifact.sha256 = sha256_hex(b"other bytes"); // and the .sha file agrees with it
    let index = Index {
        format: FORMAT,
        namespaces: vec![Namespace {
            name: "t".to_owned(),
            modules: vec![
                module_entry(
                    "hashex",
                    "HGETSET for the tests",
                    vec![
                        version("v1", &c1, &here, artifact(&path, &v1)),
                        version("v2", &c2, &here, artifact(&path, &v2)),
                    ],
                ),
                module_entry(
                    "notelf",
                    "a shell script",
                    release2(artifact(&notelf, &text)),
                ),
                module_entry(
                    "wrongarch",
                    "for aarch64",
                    release2(artifact(&wrongarch, &other_machine)),
                ),
                module_entry(
                    "otherplat",
                    "for plan9",
                    vec![version(
                        "v2",
                        &c2,
                        "plan9_mips",
                        artifact(&otherplat, &build),
                    )],
                ),
                module_entry("short", "promises more", release2(short_artifact)),
                module_entry("badsha", "hashes differently", release2(badsha_artifact)),
                module_entry(
                    "badshafile",
                    "its .sha disagrees",
                    release2(artifact(&badshafile, &build)),
                ),
                module_entry("mod", "the manager itself", release2(artifact(&path, &v2))),
                module_entry(
                    "movedtag",
                    "its tag moved",
                    vec![version("v1", &c2, &here, artifact(&movedtag, &build))],
                ),
                module_entry("future", "for a later server", {
                    let mut release = release2(artifact(&future, &build));
                    release[0].min_server = Some("999.0.0".to_owned()); // above every server (unstable says 255.255.255)
                    release
                }),
            ],
        }],
    };
    repo.write_index(&index, Some(&keys)).unwrap();
    repo.commit("index", None).unwrap();
    Registry {
        dir,
        keys,
        v1,
        v2,
        commits: [c1, c2],
    }
}

/// A server with mod.so pointed at `registry` (any `mod.registry` value).
fn start(kind: &ServerKind, reg: &Registry, registry: &str, home: &Path, extra: &[&str]) -> Server {
    let key = reg.public_key();
    let mut args = Vec::new();
    let module = common::module("mod");
    let module = module.to_str().unwrap();
    let home = home.to_str().unwrap();
    let key = key.to_str().unwrap();
    args.extend([
        "--loadmodule",
        module,
        "registry",
        registry,
        "trusted-key",
        key,
        "home",
        home,
    ]);
    args.extend(extra);
    Server::start(kind, &[], &args)
}

/// Every file under `home` but the git cache, relative.
fn files_left(home: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.strip_prefix(root).unwrap().starts_with(".cache") {
                continue;
            }
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(home, home, &mut out);
    out.sort();
    out
}

fn path_of(answer: &str) -> PathBuf {
    PathBuf::from(answer.trim_matches('"'))
}

#[test]
fn search_get_install_list_remove() {
    let reg = make_registry();
    for kind in servers() {
        let home = reg.home(&format!("{}-main", kind.name));
        let repo = reg.repo();
        let server = start(
            &kind,
            &reg,
            repo.to_str().unwrap(),
            &home,
            &["--enable-module-command", "yes"],
        );
        let mut con = server.connection();
        let who = kind.name.clone();

        assert_eq!(
            reply(&mut con, &["mod.search", "HGETSET"]),
            r#"[["t/hashex", "v2", "HGETSET for the tests"]]"#,
            "{who}"
        );
        assert_eq!(
            reply(&mut con, &["mod.search", "plan9"]),
            r#"[["t/otherplat", "v2", "for plan9"]]"#,
            "{who}"
        );
        assert_eq!(
            reply(&mut con, &["mod.search"]).matches("[\"t/").count(),
            10,
            "{who}"
        );
        assert_eq!(
            reply(&mut con, &["mod.search", "nothing like it"]),
            "[]",
            "{who}"
        );

        // By tag, by commit (a prefix and in full).
        let v1_path = home
            .join("t/hashex")
            .join(format!("{}.so", sha256_hex(&reg.v1)));
        let v2_path = home
            .join("t/hashex")
            .join(format!("{}.so", sha256_hex(&reg.v2)));
        assert_eq!(
            path_of(&reply(&mut con, &["mod.get", "t/hashex@v1"])),
            v1_path,
            "{who}"
        );
        assert_eq!(std::fs::read(&v1_path).unwrap(), reg.v1);
        let c1_prefix = &reg.commits[0][..10];
        let by_commit = format!("t/hashex@{c1_prefix}");
        assert_eq!(
            path_of(&reply(&mut con, &["mod.get", &by_commit])),
            v1_path,
            "{who}"
        );
        let by_full_commit = format!("t/hashex@{}", reg.commits[1]);
        assert_eq!(
            path_of(&reply(&mut con, &["mod.get", &by_full_commit])),
            v2_path,
            "{who}"
        );
        assert_eq!(std::fs::read(&v2_path).unwrap(), reg.v2);
        assert_eq!(
            reply(&mut con, &["mod.get", "t/hashex@v9"]),
            "ERR no version 'v9' of hashex in the registry",
            "{who}"
        );

        let list = reply(&mut con, &["mod.list"]);
        let v1_entry = format!(
            r#"["module", "t/hashex", "version", "v1", "commit", "{}", "sha256", "{}", "state", "downloaded", "path", "{}", "size", {}]"#,
            reg.commits[0],
            sha256_hex(&reg.v1),
            v1_path.display(),
            reg.v1.len()
        );
        assert!(list.contains(&v1_entry), "{who}: {list}");
        assert_eq!(list.matches("\"downloaded\"").count(), 2, "{who}: {list}");

        // Install v1: the module answers, MOD.LIST knows it is loaded.
        assert_eq!(
            reply(&mut con, &["mod.install", "t/hashex@v1"]),
            "+OK",
            "{who}"
        );
        assert_eq!(
            reply(&mut con, &["hgetset", "h", "f", "1"]),
            "(nil)",
            "{who}"
        );
        assert_eq!(
            reply(&mut con, &["hgetset", "h", "f", "2"]),
            "\"1\"",
            "{who}"
        );
        let list = reply(&mut con, &["mod.list"]);
        assert!(
            list.contains(&v1_entry.replace("\"downloaded\"", "\"loaded\"")),
            "{who}: {list}"
        );
        assert!(
            server.log().contains("mod: loaded t/hashex@v1 from"),
            "{who}"
        );

        // Remove: never a loaded file.
        assert_eq!(
            reply(&mut con, &["mod.remove", "t/hashex@v1"]),
            format!(
                "ERR t/hashex@v1 is loaded from {}: MODULE UNLOAD it before removing it",
                v1_path.display()
            ),
            "{who}"
        );
        assert!(
            reply(&mut con, &["mod.remove", "t/hashex"]).starts_with("ERR t/hashex@v1 is loaded")
        );
        assert!(v1_path.exists() && v2_path.exists(), "{who}");
        assert_eq!(
            reply(&mut con, &["mod.remove", "t/hashex@v2"]),
            "1",
            "{who}"
        );
        assert!(!v2_path.exists(), "{who}");
        assert_eq!(
            reply(&mut con, &["mod.remove", "t/hashex@v2"]),
            "ERR t/hashex@v2 is not downloaded"
        );

        // Installing again, or installing the manager itself, is refused.
        assert_eq!(
            reply(&mut con, &["mod.install", "t/hashex@v2"]),
            "ERR a module named 'hashex' is loaded already (MODULE UNLOAD it first)",
            "{who}"
        );
        assert_eq!(
            reply(&mut con, &["mod.install", "t/mod"]),
            "ERR MOD.INSTALL cannot install or replace the mod module itself",
            "{who}"
        );
        assert!(!v2_path.exists(), "{who}");

        // The same registry over HTTP, in the raw layout.
        let http = serve::Server::start(&repo, Options::default()).unwrap();
        assert_eq!(
            reply(&mut con, &["config", "set", "mod.registry", &http.url()]),
            "+OK"
        );
        assert_eq!(
            path_of(&reply(&mut con, &["mod.get", "t/hashex@v2"])),
            v2_path,
            "{who}"
        );
        assert_eq!(std::fs::read(&v2_path).unwrap(), reg.v2);
        assert!(
            http.requests() >= 3,
            "{who}: index, signature, .sha, artifact"
        );
        // Configs: bad values are refused and leave the old one.
        assert!(
            reply(
                &mut con,
                &["config", "set", "mod.registry", "relative/path"]
            )
            .contains("not an absolute path")
        );
        assert!(
            reply(
                &mut con,
                &["config", "set", "mod.trusted-key", "/no/such/key"]
            )
            .contains("neither a minisign public key")
        );
        assert_eq!(
            reply(&mut con, &["config", "get", "mod.registry"]),
            format!(r#"["mod.registry", "{}"]"#, http.url())
        );
        let base64 = reg.keys.public_base64();
        assert_eq!(
            reply(&mut con, &["config", "set", "mod.trusted-key", &base64]),
            "+OK",
            "{who}"
        );
        assert_eq!(
            reply(&mut con, &["mod.search", "HGETSET"]),
            r#"[["t/hashex", "v2", "HGETSET for the tests"]]"#
        );
        assert_eq!(
            reply(&mut con, &["config", "get", "mod.home"]),
            format!(r#"["mod.home", "{}"]"#, home.display())
        );
    }
}

#[test]
fn refusals_leave_nothing_behind() {
    let reg = make_registry();
    // Signature troubles, in plain-directory copies of the registry.
    let unsigned = reg.dir_copy("unsigned");
    std::fs::remove_file(unsigned.join("index.json.minisig")).unwrap();
    let tampered = reg.dir_copy("tampered");
    let text = std::fs::read_to_string(tampered.join("index.json")).unwrap();
    std::fs::write(
        tampered.join("index.json"),
        text.replace("HGETSET for the tests", "HGETSET, trust me"),
    )
    .unwrap();
    let untrusted = reg.dir_copy("untrusted");
    let other_key = Keys::generate().unwrap();
    let index = std::fs::read(untrusted.join("index.json")).unwrap();
    std::fs::write(
        untrusted.join("index.json.minisig"),
        other_key.sign(&index).unwrap(),
    )
    .unwrap();
    let plain = reg.dir_copy("plain");
    let cut = serve::Server::start(
        &reg.repo(),
        Options {
            rate: 0,
            cut_after: Some(100_000),
        },
    )
    .unwrap();

    for kind in servers() {
        let home = reg.home(&format!("{}-refusals", kind.name));
        let repo = reg.repo();
        let server = start(
            &kind,
            &reg,
            repo.to_str().unwrap(),
            &home,
            &["--enable-module-command", "yes"],
        );
        let mut con = server.connection();
        let who = kind.name.clone();
        let here = platform();
        let size = std::fs::metadata(common::module("hashex")).unwrap().len();
        let cases: Vec<(&str, Option<&Path>, Option<String>, String)> = vec![
            ("../x", None, None, "ERR namespace '..' may not start with '.' or '-', nor contain '..'".into()),
            ("t/a/b", None, None, "ERR module name 'a/b' has the character '/': only letters, digits, '_', '.', '-' are allowed".into()),
            ("t/x y", None, None, "ERR module name 'x y' has the character ' ': only letters, digits, '_', '.', '-' are allowed".into()),
            ("t/hashex@../v1", None, None, "ERR version '../v1' has the character '/': only letters, digits, '_', '.', '-', '+' are allowed".into()),
            ("hashex", None, None, "ERR module 'hashex' must be written <namespace>/<name>[@<version>]".into()),
            ("t/otherplat", None, None, format!("ERR t/otherplat@v2 has no build for this platform {here} (only: plan9_mips)")),
            ("t/short", None, None, format!("ERR the artifact is truncated: {size} of {} bytes arrived", size + 100)),
            ("t/badsha", None, None, format!("ERR sha256 mismatch: the artifact hashes to {}, the signed index says {}", sha256_hex(&std::fs::read(common::module("hashex")).unwrap()), sha256_hex(b"other bytes"))),
            ("t/badshafile", None, None, format!("ERR t/badshafile/bin/{here}/badshafile.sha does not match the signed index's sha256 for t/badshafile")),
            ("t/notelf", None, None, "ERR the artifact is not an ELF file, so not a shared object this server can load".into()),
            ("t/wrongarch", None, None, "ERR the artifact is a shared object for another machine (ELF machine 183, this is x86_64)".into()),
            ("t/hashex", Some(&unsigned), None, "ERR registry index has no signature (index.json.minisig is missing)".into()),
            ("t/hashex", Some(&tampered), None, "ERR registry index signature is invalid (the index was changed or the signature is bad)".into()),
            ("t/hashex", Some(&untrusted), None, "ERR registry index is signed by another key than mod.trusted-key (untrusted key)".into()),
            // A plain directory holds one revision: v1's files are not there any more.
            ("t/hashex@v1", Some(&plain), None, format!("ERR t/hashex/bin/{here}/hashex.sha does not match the signed index's sha256 for t/hashex")),
            ("t/hashex", None, Some("1000".into()), format!("ERR t/hashex@v2 is {} bytes, over mod.max-size (1000 bytes)", reg.v2.len())),
            ("t/movedtag", None, None, format!("ERR tag v1 names commit {} in the registry, but the signed index says {}", reg.commits[0], reg.commits[1])),
        ];
        for (n, (module, registry, max_size, expected)) in cases.into_iter().enumerate() {
            let case_home = home.join(format!("case{n}"));
            assert_eq!(
                reply(
                    &mut con,
                    &["config", "set", "mod.home", case_home.to_str().unwrap()]
                ),
                "+OK"
            );
            let registry = registry.map_or_else(|| repo.clone(), Path::to_owned);
            assert_eq!(
                reply(
                    &mut con,
                    &["config", "set", "mod.registry", registry.to_str().unwrap()]
                ),
                "+OK"
            );
            assert_eq!(
                reply(
                    &mut con,
                    &[
                        "config",
                        "set",
                        "mod.max-size",
                        max_size.as_deref().unwrap_or("256mb")
                    ]
                ),
                "+OK"
            );
            for command in ["mod.get", "mod.install"] {
                assert_eq!(
                    reply(&mut con, &[command, module]),
                    expected,
                    "{who}: {command} {module}"
                );
            }
            assert_eq!(
                files_left(&case_home),
                Vec::<String>::new(),
                "{who}: {module} left files"
            );
            assert_eq!(reply(&mut con, &["mod.list"]), "[]", "{who}: {module}");
        }

        assert_eq!(
            reply(&mut con, &["config", "set", "mod.max-size", "256mb"]),
            "+OK"
        );
        // A module for a later server downloads (MOD.GET), but does not load.
        let case_home = home.join("future");
        assert_eq!(
            reply(
                &mut con,
                &["config", "set", "mod.home", case_home.to_str().unwrap()]
            ),
            "+OK"
        );
        assert_eq!(
            reply(
                &mut con,
                &["config", "set", "mod.registry", repo.to_str().unwrap()]
            ),
            "+OK"
        );
        let answer = reply(&mut con, &["mod.install", "t/future"]);
        assert!(
            answer.starts_with("ERR t/future@v2 needs server 999.0.0 or later (this is "),
            "{who}: {answer}"
        );
        // (Its artifact is a hashex build.)
        let modules = reply(&mut con, &["module", "list"]);
        assert!(!modules.contains("hashex"), "{who}: {modules}");
        // A transfer cut short by the server.
        let case_home = home.join("cut");
        assert_eq!(
            reply(
                &mut con,
                &["config", "set", "mod.home", case_home.to_str().unwrap()]
            ),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["config", "set", "mod.registry", &cut.url()]),
            "+OK"
        );
        let answer = reply(&mut con, &["mod.get", "t/hashex@v1"]);
        assert!(
            answer.starts_with("ERR the download of v1 broke off after ")
                && answer.ends_with("truncated"),
            "{who}: {answer}"
        );
        assert_eq!(
            files_left(&case_home),
            Vec::<String>::new(),
            "{who}: cut left files"
        );

        // No trusted key, no registry: refused.
        assert_eq!(
            reply(&mut con, &["config", "set", "mod.trusted-key", ""]),
            "+OK"
        );
        assert_eq!(
            reply(&mut con, &["mod.get", "t/hashex"]),
            "ERR mod.trusted-key is not set: no registry can be trusted",
            "{who}"
        );
        assert_eq!(files_left(&case_home), Vec::<String>::new(), "{who}");
        assert!(
            server.log().contains("mod: t/hashex refused:"),
            "{who}: refusals are logged"
        );
    }
}

/// Sends one command as raw RESP from a socket bound to `source`; the first reply line.
fn raw_command(source: &str, port: u16, args: &[&str]) -> String {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let source: SocketAddr = format!("{source}:0").parse().unwrap();
    socket.bind(&source.into()).unwrap();
    let server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    socket.connect(&server.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line.trim_end().to_owned()
}

#[test]
fn install_obeys_enable_module_command_and_acl() {
    let reg = make_registry();
    for kind in servers() {
        let who = kind.name.clone();
        let repo = reg.repo();
        let registry = repo.to_str().unwrap();

        let home = reg.home(&format!("{who}-no"));
        let server = start(
            &kind,
            &reg,
            registry,
            &home,
            &["--enable-module-command", "no"],
        );
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["mod.install", "t/hashex"]),
            "ERR MOD.INSTALL loads a module, which enable-module-command does not allow (set it to 'yes' or 'local' in the config file)",
            "{who}"
        );
        assert_eq!(files_left(&home), Vec::<String>::new(), "{who}");
        drop(server);

        let home = reg.home(&format!("{who}-local"));
        let server = start(
            &kind,
            &reg,
            registry,
            &home,
            &["--enable-module-command", "local", "--protected-mode", "no"],
        );
        assert_eq!(
            raw_command("127.0.0.2", server.port, &["MOD.INSTALL", "t/hashex"]),
            "-ERR MOD.INSTALL loads a module, which enable-module-command 'local' allows from local connections only",
            "{who}"
        );
        assert_eq!(files_left(&home), Vec::<String>::new(), "{who}");
        // The same from 127.0.0.1 is local.
        assert_eq!(
            raw_command("127.0.0.1", server.port, &["MOD.INSTALL", "t/hashex"]),
            "+OK",
            "{who}"
        );
        let mut con = server.connection();
        assert_eq!(
            reply(&mut con, &["hgetset", "h", "f", "v"]),
            "(nil)",
            "{who}"
        );
        drop(server);

        let home = reg.home(&format!("{who}-acl"));
        let server = start(
            &kind,
            &reg,
            registry,
            &home,
            &["--enable-module-command", "yes"],
        );
        let mut con = server.connection();
        assert_eq!(
            reply(
                &mut con,
                &[
                    "acl", "setuser", "operator", "on", "nopass", "+@all", "-module"
                ]
            ),
            "+OK"
        );
        assert_eq!(reply(&mut con, &["auth", "operator", "x"]), "+OK");
        assert_eq!(
            reply(&mut con, &["mod.install", "t/hashex"]),
            "NOPERM User operator has no permissions to run the 'MODULE' command with these arguments",
            "{who}"
        );
        assert_eq!(files_left(&home), Vec::<String>::new(), "{who}");
        // Downloading and deleting need the same permission: each changes what this server
        // has to load (MOD.GET is also up to mod.max-size of disk and bandwidth).
        for command in [&["mod.get", "t/hashex"][..], &["mod.remove", "t/hashex"]] {
            assert_eq!(
                reply(&mut con, command),
                "NOPERM User operator has no permissions to run the 'MODULE' command with these arguments",
                "{who}: {command:?}"
            );
        }
        assert_eq!(files_left(&home), Vec::<String>::new(), "{who}");
        // Read-only MOD commands stay open to the operator.
        assert!(reply(&mut con, &["mod.search"]).contains("hashex"), "{who}");
        // A user who may load modules gets them.
        assert_eq!(reply(&mut con, &["auth", "default", "x"]), "+OK");
        let got = reply(&mut con, &["mod.get", "t/hashex"]);
        assert!(
            got.contains("/t/hashex/") && got.ends_with(".so\""),
            "{who}: {got}"
        );
        assert_eq!(reply(&mut con, &["mod.remove", "t/hashex"]), "1", "{who}");
        // MOD commands are flagged admin.
        let info = reply(
            &mut server.connection(),
            &["command", "info", "mod.install"],
        );
        assert!(info.contains("+admin"), "{who}: {info}");
    }
}

#[test]
fn server_answers_during_a_download() {
    let reg = make_registry();
    // About two seconds for the artifact.
    let rate = reg.v2.len() as u64 / 2;
    let http = serve::Server::start(
        &reg.repo(),
        Options {
            rate,
            cut_after: None,
        },
    )
    .unwrap();
    for kind in servers() {
        let who = kind.name.clone();
        let home = reg.home(&format!("{who}-slow"));
        let server = start(&kind, &reg, &http.url(), &home, &[]);
        let port = server.port;
        let getter = std::thread::spawn(move || {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
            let mut con = client.get_connection().unwrap();
            reply(&mut con, &["mod.get", "t/hashex@v2"])
        });
        let mut con = server.connection();
        wait_for("the download to show in MOD.LIST", || {
            reply(&mut con, &["mod.list"]).contains("\"downloading ")
        });
        for _ in 0..10 {
            assert_eq!(reply(&mut con, &["ping"]), "+PONG", "{who}");
        }
        let list = reply(&mut con, &["mod.list"]);
        let in_flight = format!(
            r#"["module", "t/hashex", "version", "v2", "commit", "{}", "sha256", "{}", "state", "downloading "#,
            reg.commits[1],
            sha256_hex(&reg.v2)
        );
        assert!(list.contains(&in_flight), "{who}: {list}");
        let got = getter.join().unwrap();
        assert_eq!(
            path_of(&got),
            home.join("t/hashex")
                .join(format!("{}.so", sha256_hex(&reg.v2))),
            "{who}"
        );
        assert!(
            server.log().contains("mod: downloading t/hashex@v2: "),
            "{who}: progress is logged"
        );
        assert!(
            reply(&mut con, &["mod.list"]).contains("\"downloaded\""),
            "{who}"
        );
    }
}
