//! Helpers for the integration tests: the test environment written by `tests/env/setup.sh`,
//! private containers/storage stores, image builds with buildah/podman, pushes to the local
//! authenticated registry and runs of the real `oci-compliance` binary.
//!
//! Every child process gets an explicit environment (never the developer's shell): the
//! containers config files of the test environment, a private storage, an empty HOME and,
//! for the scanner, only the variables a test asks for.

#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_oci-compliance");

/// Every check id, in report order.
pub const CHECK_IDS: [&str; 13] = [
    "latest-tag",
    "admin-ports-exposed",
    "root-user",
    "root-group",
    "labels-missing",
    "too-many-layers",
    "startup-command-missing",
    "suid-files",
    "sgid-files",
    "privilege-tools",
    "remote-access-tools",
    "compilers",
    "base-os",
];

/// How long any single child process may run before the test gives up on it.
const CHILD_TIMEOUT: Duration = Duration::from_secs(300);

// ---------------------------------------------------------------------------------------
// The test environment
// ---------------------------------------------------------------------------------------

pub struct TestEnv {
    pub state: PathBuf,
    pub containers_conf: PathBuf,
    pub storage_conf: PathBuf,
    pub registries_conf: PathBuf,
    /// The default auth file of the environment: `{"auths": {}}`. Never written by tests.
    pub auth_file: PathBuf,
    /// `127.0.0.1:5055`
    pub registry: String,
    pub user: String,
    pub password: String,
    /// The debootstrap Debian rootfs.
    pub rootfs: PathBuf,
    /// Unique per test process; lower-case, usable in repository names.
    pub run_id: String,
    /// Where this process keeps its temporary stores and files (under the state dir, so
    /// `tests/env/teardown.sh` unmounts whatever a killed run left behind).
    pub tmp_root: PathBuf,
    /// PATH for children.
    pub path: OsString,
}

const SETUP_HINT: &str = "run `tests/env/setup.sh` (as root) and then \
    `source /var/tmp/oci-compliance-test/env` before `cargo test --test scan`";

/// The environment of `tests/env/setup.sh`, read from this process's environment (the sourced
/// env file). Anything missing or broken fails the test loudly: these tests never skip.
pub fn env() -> &'static TestEnv {
    static ENV: OnceLock<Result<TestEnv, String>> = OnceLock::new();
    match ENV.get_or_init(load_env) {
        Ok(e) => e,
        Err(msg) => panic!("integration test environment not ready: {msg}\n=> {SETUP_HINT}"),
    }
}

fn load_env() -> Result<TestEnv, String> {
    const VARS: [&str; 9] = [
        "OCIC_TEST_STATE",
        "CONTAINERS_CONF",
        "CONTAINERS_STORAGE_CONF",
        "CONTAINERS_REGISTRIES_CONF",
        "REGISTRY_AUTH_FILE",
        "OCIC_TEST_REGISTRY",
        "OCIC_TEST_REGISTRY_USER",
        "OCIC_TEST_REGISTRY_PASSWORD",
        "OCIC_TEST_ROOTFS",
    ];
    let missing: Vec<&str> =
        VARS.iter().copied().filter(|v| std::env::var(v).map(|s| s.is_empty()).unwrap_or(true)).collect();
    if !missing.is_empty() {
        return Err(format!("environment variables not set: {}", missing.join(", ")));
    }
    let var = |n: &str| std::env::var(n).unwrap();
    if unsafe { libc::geteuid() } != 0 {
        return Err("the integration tests must run as root (podman/buildah with overlay storage)".into());
    }
    let e = TestEnv {
        state: var("OCIC_TEST_STATE").into(),
        containers_conf: var("CONTAINERS_CONF").into(),
        storage_conf: var("CONTAINERS_STORAGE_CONF").into(),
        registries_conf: var("CONTAINERS_REGISTRIES_CONF").into(),
        auth_file: var("REGISTRY_AUTH_FILE").into(),
        registry: var("OCIC_TEST_REGISTRY"),
        user: var("OCIC_TEST_REGISTRY_USER"),
        password: var("OCIC_TEST_REGISTRY_PASSWORD"),
        rootfs: var("OCIC_TEST_ROOTFS").into(),
        run_id: run_id(),
        tmp_root: PathBuf::from(var("OCIC_TEST_STATE")).join("it-tmp"),
        path: std::env::var_os("PATH")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()),
    };
    for f in [&e.containers_conf, &e.storage_conf, &e.registries_conf, &e.auth_file] {
        if !f.is_file() {
            return Err(format!("{} does not exist", f.display()));
        }
    }
    let auths: Value = serde_json::from_slice(&fs::read(&e.auth_file).map_err(|x| x.to_string())?)
        .map_err(|x| format!("{}: {x}", e.auth_file.display()))?;
    if auths["auths"].as_object().map(|m| !m.is_empty()).unwrap_or(true) {
        return Err(format!(
            "{} must be an empty auths file (no default login is allowed in these tests): {auths}",
            e.auth_file.display()
        ));
    }
    if !e.rootfs.join("etc/os-release").exists() || !e.rootfs.join("usr/bin").is_dir() {
        return Err(format!("the Debian rootfs {} is missing or incomplete", e.rootfs.display()));
    }
    for prog in ["podman", "buildah", "umount"] {
        if find_in_path(&e.path, prog).is_none() {
            return Err(format!("{prog} is not installed"));
        }
    }
    match registry_status(&e.registry, Some((&e.user, &e.password))) {
        Ok(200) => {}
        Ok(s) => return Err(format!("registry {} answered HTTP {s} to the test credentials", e.registry)),
        Err(x) => return Err(format!("registry {} is not answering: {x}", e.registry)),
    }
    match registry_status(&e.registry, None) {
        Ok(401) => {}
        other => {
            return Err(format!(
                "registry {} must require authentication; anonymous GET /v2/ gave {other:?}",
                e.registry
            ))
        }
    }
    fs::create_dir_all(&e.tmp_root).map_err(|x| format!("{}: {x}", e.tmp_root.display()))?;
    remove_stale_dirs(&e.tmp_root);
    Ok(e)
}

fn run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("r{}x{:x}", std::process::id(), (nanos as u64) & 0xffff_ffff)
}

fn find_in_path(path: &OsString, prog: &str) -> Option<PathBuf> {
    std::env::split_paths(path).map(|d| d.join(prog)).find(|p| p.is_file())
}

/// `GET /v2/` over plain HTTP; returns the status code.
pub fn registry_status(registry: &str, creds: Option<(&str, &str)>) -> Result<u16, String> {
    let mut s = std::net::TcpStream::connect(registry).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut req = format!("GET /v2/ HTTP/1.0\r\nHost: {registry}\r\n");
    if let Some((u, p)) = creds {
        req.push_str(&format!("Authorization: Basic {}\r\n", b64(&format!("{u}:{p}"))));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&resp);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("bad HTTP answer {text:?}"))
}

/// Directories a killed earlier run left under tmp_root (their pid is gone).
fn remove_stale_dirs(root: &Path) {
    let Ok(rd) = fs::read_dir(root) else { return };
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name.strip_prefix('r').and_then(|r| r.split('x').next()).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                unmount_under(&entry.path());
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Standard base64 (the registry's Basic auth and Docker's `auth` field).
pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A fresh, uniquely named directory under tmp_root (removed on drop).
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    let e = env();
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    tempfile::Builder::new().prefix(&format!("{}-{label}-{n}-", e.run_id)).tempdir_in(&e.tmp_root).unwrap()
}

/// A repository path unique to this process: `ocic-it/<run>/<name>`.
pub fn repo(name: &str) -> String {
    format!("ocic-it/{}/{name}", env().run_id)
}

/// Unmount everything at or below `root`, deepest first (c/storage bind-mounts
/// `<graphroot>/overlay` onto itself, buildah mounts containers).
pub fn unmount_under(root: &Path) {
    let root = root.to_string_lossy().trim_end_matches('/').to_string();
    for _ in 0..10 {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<String> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(unescape_mountinfo)
            .filter(|m| *m == root || m.starts_with(&format!("{root}/")))
            .collect();
        if points.is_empty() {
            return;
        }
        points.sort();
        points.dedup();
        points.reverse();
        for p in points {
            let ok =
                Command::new("umount").arg(&p).stderr(Stdio::null()).status().map(|s| s.success()).unwrap_or(false);
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(&p).stderr(Stdio::null()).status();
            }
        }
    }
    eprintln!("warning: could not unmount everything under {root}");
}

fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// Private stores
// ---------------------------------------------------------------------------------------

/// A private containers/storage (graphroot + runroot) and a containers.conf whose libpod
/// tmp_dir is private too. Unmounted and deleted on drop.
pub struct Storage {
    pub storage_conf: PathBuf,
    pub containers_conf: PathBuf,
    pub graphroot: PathBuf,
    dir: tempfile::TempDir,
}

impl Storage {
    pub fn new(label: &str) -> Storage {
        let e = env();
        let dir = temp_dir(&format!("store-{label}"));
        let graphroot = dir.path().join("graph");
        let runroot = dir.path().join("run");
        let tmp = dir.path().join("libpod-tmp");
        let storage_conf = dir.path().join("storage.conf");
        fs::write(
            &storage_conf,
            format!(
                "[storage]\ndriver = \"overlay\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                graphroot.display(),
                runroot.display()
            ),
        )
        .unwrap();
        // The environment's containers.conf carries what runc needs on this machine; only
        // tmp_dir (libpod's state, shared by default) must be private to this store.
        let base = fs::read_to_string(&e.containers_conf).unwrap();
        let tmp_line = format!("tmp_dir = \"{}\"", tmp.display());
        let mut replaced = false;
        let mut lines: Vec<String> = base
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("tmp_dir") {
                    replaced = true;
                    tmp_line.clone()
                } else {
                    l.to_string()
                }
            })
            .collect();
        if !replaced {
            match lines.iter().position(|l| l.trim() == "[engine]") {
                Some(i) => lines.insert(i + 1, tmp_line),
                None => {
                    lines.push("[engine]".into());
                    lines.push(tmp_line);
                }
            }
        }
        let containers_conf = dir.path().join("containers.conf");
        fs::write(&containers_conf, lines.join("\n") + "\n").unwrap();
        Storage { storage_conf, containers_conf, graphroot, dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The environment podman/buildah need to use this store.
    pub fn envs(&self) -> Vec<(OsString, OsString)> {
        let e = env();
        vec![
            ("CONTAINERS_CONF".into(), self.containers_conf.clone().into()),
            ("CONTAINERS_STORAGE_CONF".into(), self.storage_conf.clone().into()),
            ("CONTAINERS_REGISTRIES_CONF".into(), e.registries_conf.clone().into()),
            ("REGISTRY_AUTH_FILE".into(), e.auth_file.clone().into()),
        ]
    }

    /// Run podman or buildah against this store; panics with the child's stderr on failure.
    pub fn tool(&self, program: &str, args: &[&str]) -> String {
        let out = self.tool_output(program, args);
        if out.code != Some(0) {
            panic!(
                "`{program} {}` failed (exit {:?}):\nstdout: {}\nstderr: {}",
                args.join(" "),
                out.code,
                out.stdout,
                out.stderr
            );
        }
        out.stdout.trim().to_string()
    }

    pub fn tool_output(&self, program: &str, args: &[&str]) -> Output {
        let e = env();
        let home = self.dir.path().join("home");
        fs::create_dir_all(&home).unwrap();
        let mut cmd = Command::new(program);
        cmd.args(args).env_clear().env("PATH", &e.path).env("HOME", &home).envs(self.envs());
        run_with_timeout(cmd, None)
    }

    pub fn podman(&self, args: &[&str]) -> String {
        self.tool("podman", args)
    }

    pub fn buildah(&self, args: &[&str]) -> String {
        self.tool("buildah", args)
    }

    /// `podman image inspect` of one image, parsed.
    pub fn inspect(&self, name: &str) -> Value {
        let v: Value = serde_json::from_str(&self.podman(&["image", "inspect", name])).unwrap();
        v[0].clone()
    }

    /// Push a local image to the test registry as `repo:tag` with explicit credentials
    /// (never a login); returns the manifest digest the registry stored.
    pub fn push(&self, local: &str, repo: &str, tag: &str) -> String {
        let e = env();
        let digest_file = self.dir.path().join(format!("digest-{}", COUNTER.fetch_add(1, Ordering::Relaxed)));
        let creds = format!("{}:{}", e.user, e.password);
        let dest = format!("{}/{repo}:{tag}", e.registry);
        self.podman(&[
            "push",
            "-q",
            "--tls-verify=false",
            "--creds",
            &creds,
            "--digestfile",
            digest_file.to_str().unwrap(),
            local,
            &dest,
        ]);
        let d = fs::read_to_string(&digest_file).unwrap().trim().to_string();
        assert!(d.starts_with("sha256:") && d.len() == 71, "unexpected digest {d:?} from podman push");
        d
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Drop for Storage {
    fn drop(&mut self) {
        // Leftover buildah working containers pin layer mounts.
        let containers = self.graphroot.join("overlay-containers/containers.json");
        if fs::read_to_string(containers).map(|s| s.trim() != "[]").unwrap_or(false) {
            let _ = self.tool_output("buildah", &["rm", "--all"]);
        }
        unmount_under(self.dir.path());
    }
}

#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

fn run_with_timeout(mut cmd: Command, stdin: Option<&[u8]>) -> Output {
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let desc = format!("{cmd:?}");
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    if let Some(data) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(data).unwrap();
    }
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > CHILD_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{desc} did not finish within {CHILD_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        code: status.code(),
        stdout: String::from_utf8_lossy(&t_out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap()).into_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Building images without a runtime: buildah from scratch + copy + config + commit
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub enum Node {
    File { path: String, mode: u32, content: Vec<u8> },
    Dir { path: String, mode: u32 },
    Symlink { path: String, target: String },
}

pub fn file(path: &str, mode: u32, content: &str) -> Node {
    Node::File { path: path.into(), mode, content: content.as_bytes().to_vec() }
}
pub fn dir(path: &str, mode: u32) -> Node {
    Node::Dir { path: path.into(), mode }
}
pub fn link(path: &str, target: &str) -> Node {
    Node::Symlink { path: path.into(), target: target.into() }
}
/// A small executable shell script.
pub fn exe(path: &str) -> Node {
    file(path, 0o755, "#!/bin/sh\nexit 0\n")
}

#[derive(Debug, Clone, Default)]
pub struct LayerSpec {
    pub created_by: String,
    pub add: Vec<Node>,
    /// Paths deleted (through the overlay mount, so the layer gets whiteouts).
    pub remove: Vec<String>,
}

pub fn layer(created_by: &str, add: Vec<Node>) -> LayerSpec {
    LayerSpec { created_by: created_by.into(), add, remove: Vec::new() }
}

#[derive(Debug, Clone, Default)]
pub struct ImageSpec {
    pub layers: Vec<LayerSpec>,
    /// `buildah config` arguments applied before the final commit.
    pub config: Vec<String>,
    /// false: commit with `--identity-label=false` (no io.buildah.version label).
    pub identity_label: bool,
}

impl ImageSpec {
    pub fn new(layers: Vec<LayerSpec>) -> ImageSpec {
        ImageSpec { layers, config: Vec::new(), identity_label: true }
    }
    pub fn config(mut self, args: &[&str]) -> ImageSpec {
        self.config.extend(args.iter().map(|s| s.to_string()));
        self
    }
    pub fn no_identity_label(mut self) -> ImageSpec {
        self.identity_label = false;
        self
    }
}

fn write_tree(root: &Path, nodes: &[Node]) {
    for n in nodes {
        let rel = |p: &str| root.join(p.trim_start_matches('/'));
        match n {
            Node::File { path, mode, content } => {
                let p = rel(path);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(&p, content).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).unwrap();
            }
            Node::Dir { path, mode } => {
                let p = rel(path);
                fs::create_dir_all(&p).unwrap();
                fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).unwrap();
            }
            Node::Symlink { path, target } => {
                let p = rel(path);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                symlink(target, &p).unwrap();
            }
        }
    }
}

/// Build `spec` into `store` as `name` (one commit per layer); returns the image ID.
pub fn build_scratch(store: &Storage, name: &str, spec: &ImageSpec) -> String {
    let mut from = "scratch".to_string();
    let n = spec.layers.len();
    let mut id = String::new();
    for (i, l) in spec.layers.iter().enumerate() {
        let c = store.buildah(&["from", "--pull=never", &from]);
        if !l.add.is_empty() {
            let ctx = temp_dir("ctx");
            write_tree(ctx.path(), &l.add);
            let src = format!("{}/", ctx.path().display());
            store.buildah(&["copy", "-q", &c, &src, "/"]);
        }
        if !l.remove.is_empty() {
            let merged = PathBuf::from(store.buildah(&["mount", &c]));
            for r in &l.remove {
                let p = merged.join(r.trim_start_matches('/'));
                let md = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("cannot remove {r}: {e}"));
                if md.is_dir() {
                    fs::remove_dir_all(&p).unwrap();
                } else {
                    fs::remove_file(&p).unwrap();
                }
            }
            store.buildah(&["umount", &c]);
        }
        let mut cfg: Vec<String> = vec!["config".into(), "--created-by".into(), l.created_by.clone()];
        if i + 1 == n {
            cfg.extend(spec.config.iter().cloned());
        }
        cfg.push(c.clone());
        store.buildah(&cfg.iter().map(String::as_str).collect::<Vec<_>>());
        let target = if i + 1 == n { name.to_string() } else { format!("{name}-layer{}", i + 1) };
        let mut commit = vec!["commit", "-q"];
        if !spec.identity_label {
            commit.push("--identity-label=false");
        }
        commit.extend([c.as_str(), target.as_str()]);
        id = store.buildah(&commit);
        store.buildah(&["rm", &c]);
        from = target;
    }
    id
}

/// An image pushed to the test registry.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// `127.0.0.1:5055/ocic-it/<run>/<name>` (no tag)
    pub repo: String,
    pub tag: String,
    pub digest: String,
    pub id: String,
    /// RootFS.Layers of the built image, bottom to top.
    pub diff_ids: Vec<String>,
    /// created_by of the History entries that made a layer, bottom to top.
    pub layer_history: Vec<String>,
}

impl Pushed {
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repo, self.tag)
    }
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.repo, self.digest)
    }
}

/// Build a scratch image in a throw-away store, push it under `name` with `tags` (the first
/// one is the image's main tag) and forget it locally.
pub fn build_and_push(name: &str, spec: &ImageSpec, tags: &[&str]) -> Pushed {
    let store = Storage::new(&format!("build-{}", name.replace('/', "-")));
    let local = format!("localhost/{}:{}", repo(name), tags[0]);
    let id = build_scratch(&store, &local, spec);
    push_all(&store, &local, name, &id, tags)
}

pub fn push_all(store: &Storage, local: &str, name: &str, id: &str, tags: &[&str]) -> Pushed {
    let e = env();
    let inspect = store.inspect(local);
    assert_eq!(inspect["Id"].as_str(), Some(id), "built image id");
    let mut digest = String::new();
    for (i, t) in tags.iter().enumerate() {
        let d = store.push(local, &repo(name), t);
        if i == 0 {
            digest = d;
        } else {
            assert_eq!(d, digest, "the same manifest pushed under another tag");
        }
    }
    Pushed {
        repo: format!("{}/{}", e.registry, repo(name)),
        tag: tags[0].to_string(),
        digest,
        id: id.to_string(),
        diff_ids: strings(&inspect["RootFS"]["Layers"]),
        layer_history: inspect["History"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| !h["empty_layer"].as_bool().unwrap_or(false))
            .map(|h| h["created_by"].as_str().unwrap_or("").to_string())
            .collect(),
    }
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect()).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Running the scanner
// ---------------------------------------------------------------------------------------

/// Docker config.json text with a base64 `auth` entry for the test registry.
pub fn auth_config_b64(user: &str, password: &str) -> String {
    serde_json::json!({"auths": {env().registry.clone(): {"auth": b64(&format!("{user}:{password}"))}}}).to_string()
}

/// Docker config.json text with `username`/`password` for the test registry.
pub fn auth_config_plain(user: &str, password: &str) -> String {
    serde_json::json!({"auths": {env().registry.clone(): {"username": user, "password": password}}}).to_string()
}

/// The right credentials, as GitLab users set them.
pub fn good_auth() -> String {
    let e = env();
    auth_config_b64(&e.user, &e.password)
}

pub struct ScanCmd<'a> {
    store: Option<&'a Storage>,
    args: Vec<OsString>,
    envs: Vec<(String, String)>,
    secrets: Vec<String>,
    reports_flag: bool,
}

/// A scanner run against `store` (the scanner's podman sees only that store).
pub fn scan(store: &Storage) -> ScanCmd<'_> {
    ScanCmd { store: Some(store), args: vec!["scan".into()], envs: Vec::new(), secrets: Vec::new(), reports_flag: true }
}

/// A scanner run with no store of its own (configuration errors, fake podman).
pub fn scan_no_store() -> ScanCmd<'static> {
    ScanCmd { store: None, args: vec!["scan".into()], envs: Vec::new(), secrets: Vec::new(), reports_flag: true }
}

/// Any subcommand (`checks`, `explain`).
pub fn command(args: &[&str]) -> ScanCmd<'static> {
    ScanCmd {
        store: None,
        args: args.iter().map(OsString::from).collect(),
        envs: Vec::new(),
        secrets: Vec::new(),
        reports_flag: false,
    }
}

impl<'a> ScanCmd<'a> {
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, a: I) -> Self {
        self.args.extend(a.into_iter().map(Into::into));
        self
    }
    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }
    /// Credentials through DOCKER_AUTH_CONFIG, plain HTTP through COMPLIANCE_TLS_VERIFY.
    pub fn auth(self, docker_auth_config: &str) -> Self {
        self.env("DOCKER_AUTH_CONFIG", docker_auth_config).env("COMPLIANCE_TLS_VERIFY", "false")
    }
    /// The right credentials for the test registry.
    pub fn good_auth(self) -> Self {
        self.auth(&good_auth())
    }
    /// A string that must not appear in any output (besides the registry password).
    pub fn secret(mut self, s: &str) -> Self {
        self.secrets.push(s.into());
        self
    }
    /// Do not pass `--reports-dir` (the test sets it another way).
    pub fn no_reports_flag(mut self) -> Self {
        self.reports_flag = false;
        self
    }

    pub fn run(self) -> ScanOut {
        let e = env();
        let work = temp_dir("scan");
        let reports = work.path().join("reports");
        let tmp = work.path().join("tmp");
        let home = work.path().join("home");
        fs::create_dir_all(&tmp).unwrap();
        fs::create_dir_all(&home).unwrap();
        // The default auth file the scanner's podman sees: empty, and it must stay so.
        let default_auth = work.path().join("default-auth.json");
        fs::write(&default_auth, "{\"auths\": {}}\n").unwrap();

        let mut args = self.args.clone();
        if self.reports_flag {
            // After the subcommand, before the images.
            args.insert(1, "--reports-dir".into());
            args.insert(2, reports.clone().into());
        }
        let mut cmd = Command::new(BIN);
        cmd.args(&args)
            .env_clear()
            .env("PATH", &e.path)
            .env("HOME", &home)
            .env("TMPDIR", &tmp)
            .env("NO_COLOR", "1")
            .env("CONTAINERS_REGISTRIES_CONF", &e.registries_conf)
            .env("REGISTRY_AUTH_FILE", &default_auth)
            .current_dir(work.path());
        match self.store {
            Some(s) => {
                cmd.env("CONTAINERS_CONF", &s.containers_conf).env("CONTAINERS_STORAGE_CONF", &s.storage_conf);
            }
            None => {
                cmd.env("CONTAINERS_CONF", &e.containers_conf).env("CONTAINERS_STORAGE_CONF", &e.storage_conf);
            }
        }
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let start = Instant::now();
        let out = run_with_timeout(cmd, None);
        let elapsed = start.elapsed();

        let reports_dir = self
            .envs
            .iter()
            .rev()
            .find(|(k, _)| k == "COMPLIANCE_REPORTS_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or(reports);
        let mut reports_found = Vec::new();
        if let Ok(rd) = fs::read_dir(&reports_dir) {
            for entry in rd.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let text = fs::read_to_string(entry.path()).unwrap_or_default();
                reports_found.push((name, text));
            }
        }
        reports_found.sort();
        let scan = ScanOut {
            code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
            reports: reports_found,
            reports_dir,
            elapsed,
        };

        // Properties every run must have, whatever the test is about.
        let mut secrets = self.secrets.clone();
        secrets.push(e.password.clone());
        secrets.push(b64(&format!("{}:{}", e.user, e.password)));
        for s in secrets.iter().filter(|s| s.len() >= 6) {
            assert!(!scan.stdout.contains(s.as_str()), "a secret leaked to stdout:\n{}", scan.stdout);
            assert!(!scan.stderr.contains(s.as_str()), "a secret leaked to stderr:\n{}", scan.stderr);
            for (name, text) in &scan.reports {
                assert!(!text.contains(s.as_str()), "a secret leaked into report {name}");
            }
        }
        let leftovers: Vec<String> = fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("oci-compliance-auth-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary authfile directories left behind: {leftovers:?}\n{}", scan.stderr);
        let default_after = fs::read_to_string(&default_auth).unwrap();
        assert_eq!(default_after, "{\"auths\": {}}\n", "the default auth file was written");
        // Everything the run left (reports included) was read above; nothing outlives it.
        drop(work);
        scan
    }
}

pub struct ScanOut {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// (file name, contents) of every file in the reports directory after the run.
    pub reports: Vec<(String, String)>,
    pub reports_dir: PathBuf,
    pub elapsed: Duration,
}

impl ScanOut {
    pub fn code(&self) -> i32 {
        self.code.unwrap_or_else(|| panic!("scanner killed by a signal\n{}", self.dump()))
    }

    pub fn dump(&self) -> String {
        format!(
            "exit {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- reports: {:?}",
            self.code,
            self.elapsed,
            self.stdout,
            self.stderr,
            self.reports.iter().map(|(n, _)| n).collect::<Vec<_>>()
        )
    }

    #[track_caller]
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, Some(expected), "unexpected exit code\n{}", self.dump());
        self
    }

    /// The report file `name` (e.g. `127.0.0.1_5055_x_1.json`), parsed.
    #[track_caller]
    pub fn report_named(&self, name: &str) -> Value {
        let (_, text) =
            self.reports.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no report {name}\n{}", self.dump()));
        serde_json::from_str(text).unwrap_or_else(|e| panic!("report {name} is not JSON: {e}\n{text}"))
    }

    /// The only report file of the run.
    #[track_caller]
    pub fn report(&self) -> Value {
        let json: Vec<&(String, String)> = self.reports.iter().filter(|(n, _)| n.ends_with(".json")).collect();
        assert_eq!(json.len(), 1, "expected exactly one report\n{}", self.dump());
        self.report_named(&json[0].0)
    }

    pub fn report_names(&self) -> Vec<String> {
        self.reports.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// The report file name the scanner must use for `reference` (a registry reference).
pub fn slug(reference: &str) -> String {
    let s: String =
        reference.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    format!("{s}.json")
}

// ---------------------------------------------------------------------------------------
// Report access
// ---------------------------------------------------------------------------------------

#[track_caller]
pub fn check<'r>(report: &'r Value, id: &str) -> &'r Value {
    report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("report has no checks array: {report}"))
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("report has no check {id}"))
}

pub fn status<'r>(report: &'r Value, id: &str) -> &'r str {
    check(report, id)["status"].as_str().unwrap_or("<none>")
}

/// Assert the status of every listed check, reporting all mismatches at once.
#[track_caller]
pub fn assert_statuses(report: &Value, expected: &[(&str, &str)]) {
    let mut bad = Vec::new();
    for (id, want) in expected {
        let got = status(report, id);
        if got != *want {
            bad.push(format!(
                "{id}: expected {want}, got {got}\n{}",
                serde_json::to_string_pretty(check(report, id)).unwrap()
            ));
        }
    }
    assert!(bad.is_empty(), "check verdicts differ:\n{}", bad.join("\n"));
}

pub fn findings(check: &Value) -> &Vec<Value> {
    check["findings"].as_array().unwrap_or_else(|| panic!("check has no findings array: {check}"))
}

/// The finding for `path`, if any.
pub fn finding<'c>(check: &'c Value, path: &str) -> Option<&'c Value> {
    findings(check).iter().find(|f| f["path"] == path)
}

#[track_caller]
pub fn must_find<'c>(check: &'c Value, path: &str) -> &'c Value {
    finding(check, path).unwrap_or_else(|| {
        panic!("{} has no finding for {path}:\n{}", check["id"], serde_json::to_string_pretty(check).unwrap())
    })
}

/// Paths of the findings that make the check fail.
pub fn violations(check: &Value) -> BTreeSet<String> {
    findings(check).iter().filter(|f| f["violation"] == true).map(|f| f["path"].as_str().unwrap().to_string()).collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------------------------------
// Fake podman, to prove a configuration error stops the run before any podman call
// ---------------------------------------------------------------------------------------

pub struct FakePodman {
    pub path: PathBuf,
    pub log: PathBuf,
    _dir: tempfile::TempDir,
}

impl FakePodman {
    /// A `podman` that logs its argv and runs `body` (a shell snippet; `$1` is the subcommand).
    pub fn new(body: &str) -> FakePodman {
        let dir = temp_dir("fake-podman");
        let path = dir.path().join("podman");
        let log = dir.path().join("calls.log");
        fs::write(&path, format!("#!/bin/sh\necho \"$*\" >> '{}'\n{body}\n", log.display())).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        FakePodman { path, log, _dir: dir }
    }

    pub fn calls(&self) -> Vec<String> {
        fs::read_to_string(&self.log).map(|s| s.lines().map(String::from).collect()).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------------------
// An oracle over the Debian rootfs (independent of the scanner)
// ---------------------------------------------------------------------------------------

/// Absolute in-image paths of regular files under `root` with any of `bits` (no symlink
/// is followed).
pub fn files_with_mode_bits(root: &Path, bits: u32) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap().flatten() {
            let md = entry.path().symlink_metadata().unwrap();
            if md.is_dir() {
                stack.push(entry.path());
            } else if md.is_file() && md.permissions().mode() & bits != 0 {
                out.insert(format!("/{}", entry.path().strip_prefix(root).unwrap().display()));
            }
        }
    }
    out
}
