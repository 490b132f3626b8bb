//! Helpers for the host-scan integration tests (`tests/host.rs`): the environment written by
//! `tests/env/setup.sh`, private containers/storage stores (each with its own storage.conf,
//! so a test never touches the shared test storage), a small three-layer image recipe that
//! any driver can build, runs of the real binary, and an unprivileged user for rootless runs.
//!
//! Children get an explicit environment, never the developer's shell's.

#![allow(dead_code)]

use serde_json::Value;
use std::collections::BTreeSet;
use std::ffi::{CString, OsStr};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub const BIN: &str = env!("CARGO_BIN_EXE_oci-compliance");
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const HINT: &str = "run `tests/env/setup.sh` as root, then `source /var/tmp/oci-compliance-test/env` \
    before `cargo test --test host`";

pub struct TestEnv {
    pub state: PathBuf,
    pub containers_conf: PathBuf,
    pub registries_conf: PathBuf,
    pub auth_file: PathBuf,
    pub registry: String,
    pub user: String,
    pub password: String,
    /// Everything these tests create on disk, below the state dir so that
    /// `tests/env/teardown.sh` unmounts whatever a killed run left mounted.
    pub tmp: PathBuf,
}

/// The environment of `tests/env/setup.sh`. Anything missing fails the test: never a skip.
pub fn env() -> &'static TestEnv {
    static ENV: OnceLock<Result<TestEnv, String>> = OnceLock::new();
    match ENV.get_or_init(load) {
        Ok(e) => e,
        Err(m) => panic!("host integration tests: environment not ready: {m}\n=> {HINT}"),
    }
}

fn load() -> Result<TestEnv, String> {
    let var = |n: &str| std::env::var(n).ok().filter(|v| !v.is_empty()).ok_or(format!("{n} is not set"));
    if unsafe { libc::geteuid() } != 0 {
        return Err("these tests must run as root (they create stores, mounts and a user)".into());
    }
    let e = TestEnv {
        state: var("OCIC_TEST_STATE")?.into(),
        containers_conf: var("CONTAINERS_CONF")?.into(),
        registries_conf: var("CONTAINERS_REGISTRIES_CONF")?.into(),
        auth_file: var("REGISTRY_AUTH_FILE")?.into(),
        registry: var("OCIC_TEST_REGISTRY")?,
        user: var("OCIC_TEST_REGISTRY_USER")?,
        password: var("OCIC_TEST_REGISTRY_PASSWORD")?,
        tmp: PathBuf::from(var("OCIC_TEST_STATE")?).join("host-tmp"),
    };
    for f in [&e.containers_conf, &e.registries_conf, &e.auth_file] {
        if !f.is_file() {
            return Err(format!("{} does not exist", f.display()));
        }
    }
    for prog in ["podman", "buildah", "fuse-overlayfs", "unshare", "runuser", "useradd", "newuidmap"] {
        if !PATH.split(':').any(|d| Path::new(d).join(prog).is_file()) {
            return Err(format!("{prog} is not installed"));
        }
    }
    let st = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "3"])
        .arg(format!("http://{}/v2/", e.registry))
        .output()
        .map_err(|x| format!("curl: {x}"))?;
    if String::from_utf8_lossy(&st.stdout) != "401" {
        return Err(format!("the registry on {} is not answering as set up (GET /v2/ gave {:?})", e.registry, String::from_utf8_lossy(&st.stdout)));
    }
    fs::create_dir_all(&e.tmp).map_err(|x| format!("{}: {x}", e.tmp.display()))?;
    fs::set_permissions(&e.tmp, fs::Permissions::from_mode(0o755)).map_err(|x| x.to_string())?;
    Ok(e)
}

/// A name unique to this test process and call: `host-<label>-<pid>-<n>`.
pub fn unique(label: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("host-{label}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A fresh directory under the test tmp dir, removed (after unmounting) on drop.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        Scratch::new_in(&env().tmp, label)
    }

    pub fn new_in(base: &Path, label: &str) -> Scratch {
        let path = base.join(unique(label));
        fs::create_dir_all(&path).unwrap();
        Scratch { path }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        unmount_under(&self.path);
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Mount points at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v: Vec<PathBuf> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(m.replace("\\040", " ")))
        .filter(|p| p.starts_with(dir))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    v
}

pub fn unmount_under(dir: &Path) {
    for _ in 0..5 {
        let m = mounts_under(dir);
        if m.is_empty() {
            return;
        }
        for p in m {
            let c = CString::new(p.as_os_str().as_bytes()).unwrap();
            unsafe {
                if libc::umount2(c.as_ptr(), 0) != 0 {
                    libc::umount2(c.as_ptr(), libc::MNT_DETACH);
                }
            }
        }
    }
}

/// Run a command, failing the test (with its output) unless it succeeds.
pub fn ok(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A private containers/storage store with its own storage.conf. The runroot is on /run
/// (tmpfs, as runroots are) with a short path: podman refuses a --runroot over 50 bytes.
pub struct Store {
    pub scratch: Scratch,
    pub run_scratch: Scratch,
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub conf: PathBuf,
    pub driver: String,
}

impl Store {
    /// `extra` is appended to storage.conf (e.g. an `[storage.options…]` table).
    pub fn new(label: &str, driver: &str, extra: &str) -> Store {
        let scratch = Scratch::new(label);
        let run_scratch = Scratch::new_in(Path::new("/run/ocic-host"), "r");
        let (root, runroot, conf) = (scratch.path.join("root"), run_scratch.path.clone(), scratch.path.join("storage.conf"));
        assert!(runroot.as_os_str().len() <= 50, "{}", runroot.display());
        fs::write(
            &conf,
            format!(
                "[storage]\ndriver = \"{driver}\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n{extra}",
                root.display(),
                runroot.display()
            ),
        )
        .unwrap();
        Store { scratch, run_scratch, root, runroot, conf, driver: driver.into() }
    }

    pub fn cmd(&self, program: &str) -> Command {
        let mut c = base_command(program);
        c.env("CONTAINERS_STORAGE_CONF", &self.conf);
        c
    }

    pub fn podman(&self, args: &[&str]) -> String {
        ok(self.cmd("podman").args(args))
    }

    pub fn buildah(&self, args: &[&str]) -> String {
        ok(self.cmd("buildah").args(args))
    }

    /// Image IDs in the store.
    pub fn image_ids(&self) -> BTreeSet<String> {
        let v: Value = serde_json::from_str(&self.podman(&["images", "--all", "--format", "json"])).unwrap();
        v.as_array().unwrap().iter().map(|i| i["Id"].as_str().unwrap().to_string()).collect()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // Containers left by a failed build keep mounts; the scratch dir's drop unmounts.
        let _ = self.cmd("buildah").args(["rm", "--all"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

/// A command with the test environment's containers config and nothing of ours.
pub fn base_command(program: &str) -> Command {
    let e = env();
    let mut c = Command::new(program);
    c.env_clear()
        .env("PATH", PATH)
        .env("HOME", &e.tmp)
        .env("CONTAINERS_CONF", &e.containers_conf)
        .env("CONTAINERS_REGISTRIES_CONF", &e.registries_conf)
        .env("REGISTRY_AUTH_FILE", &e.auth_file);
    c
}

// ---------------------------------------------------------------------------------------
// The test image
// ---------------------------------------------------------------------------------------

fn put(root: &Path, rel: &str, mode: u32, content: &[u8]) {
    let p = root.join(rel.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, content).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

/// The base layer's tree: accounts, a setuid su, a setgid newgrp, files later deleted.
pub fn base_tree(dir: &Path) {
    put(dir, "/etc/passwd", 0o644, b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n");
    put(dir, "/etc/group", 0o644, b"root:x:0:\napp:x:1000:\n");
    put(dir, "/etc/os-release", 0o644, b"NAME=\"Host Test\"\nVERSION_ID=\"6\"\n");
    put(dir, "/bin/su", 0o4755, b"su\n");
    put(dir, "/usr/bin/newgrp", 0o2755, b"newgrp\n");
    put(dir, "/opt/tool-suid", 0o4755, b"tool\n");
    put(dir, "/a/keep", 0o644, b"keep\n");
    put(dir, "/a/del", 0o644, b"del\n");
    put(dir, "/d/x", 0o644, b"x\n");
    put(dir, "/d/sub/y", 0o644, b"y\n");
}

/// Build the three-layer test image in `store` as `name` and return its ID. Layers:
/// 1. `base_tree`;
/// 2. deletes /a/del and /opt/tool-suid, replaces /d by a new directory (opaque in overlay);
/// 3. rewrites /a/keep, drops su's setuid bit, adds a setuid /usr/local/bin/late.
pub fn build_image(store: &Store, name: &str) -> String {
    let trees = Scratch::new("tree");
    base_tree(&trees.path);
    let c = store.buildah(&["from", "scratch"]);
    store.buildah(&["copy", &c, trees.path.to_str().unwrap(), "/"]);
    store.buildah(&["config", "--cmd", "/bin/app", "--label", "org.example.test=host", "--user", "app", &c]);
    store.buildah(&["commit", "-q", "--rm", &c, &format!("{name}-l1")]);
    edit_layer(store, &format!("{name}-l1"), &format!("{name}-l2"), |m| {
        fs::remove_file(m.join("a/del")).unwrap();
        fs::remove_file(m.join("opt/tool-suid")).unwrap();
        fs::remove_dir_all(m.join("d")).unwrap();
        put(m, "/d/y2", 0o644, b"y2\n");
    });
    edit_layer(store, &format!("{name}-l2"), name, |m| {
        put(m, "/a/keep", 0o644, b"replaced\n");
        fs::set_permissions(m.join("bin/su"), fs::Permissions::from_mode(0o755)).unwrap();
        put(m, "/usr/local/bin/late", 0o4755, b"late\n");
    });
    store.podman(&["image", "inspect", "--format", "{{.Id}}", name])
}

/// One more layer: mount a container of `from` (as root), change files, commit as `to`.
fn edit_layer(store: &Store, from: &str, to: &str, edit: impl FnOnce(&Path)) {
    let c = store.buildah(&["from", from]);
    let m = PathBuf::from(store.buildah(&["mount", &c]));
    edit(&m);
    store.buildah(&["umount", &c]);
    store.buildah(&["commit", "-q", "--rm", &c, to]);
}

/// What every driver must report for `build_image`'s image:
/// (check, path, layer, visible, uid, gid, mode).
pub fn expected_findings() -> BTreeSet<Finding> {
    let f = |check: &str, path: &str, layer: u64, visible: bool, mode: &str| {
        (check.to_string(), path.to_string(), layer, visible, 0, 0, mode.to_string())
    };
    [
        f("suid-files", "/bin/su", 1, false, "4755"),
        f("suid-files", "/opt/tool-suid", 1, false, "4755"),
        f("suid-files", "/usr/local/bin/late", 3, true, "4755"),
        f("sgid-files", "/usr/bin/newgrp", 1, true, "2755"),
        f("privilege-tools", "/bin/su", 1, false, "4755"),
        f("privilege-tools", "/bin/su", 3, true, "0755"),
    ]
    .into_iter()
    .collect()
}

pub type Finding = (String, String, u64, bool, u64, u64, String);

/// Every finding of the report, as comparable tuples.
pub fn findings(report: &Value) -> BTreeSet<Finding> {
    let mut out = BTreeSet::new();
    for c in report["checks"].as_array().unwrap() {
        for f in c["findings"].as_array().unwrap() {
            out.insert((
                c["id"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["layer"].as_u64().unwrap(),
                f["visible"].as_bool().unwrap(),
                f["uid"].as_u64().unwrap(),
                f["gid"].as_u64().unwrap(),
                f["mode"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

pub fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no check {id}"))
}

// ---------------------------------------------------------------------------------------
// Running the scanner
// ---------------------------------------------------------------------------------------

pub struct Scan {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// The JSON report (printed on stdout with COMPLIANCE_JSON_STDOUT), when there is one.
    pub report: Value,
}

impl Scan {
    pub fn describe(&self) -> String {
        format!("exit {}\nstderr:\n{}", self.code, self.stderr)
    }
}

/// The scanner with the test environment's containers config, a report dir, TMPDIR and
/// CONTAINERS_STORAGE_CONF of the caller's choosing, and nothing else of ours.
pub struct Scanner {
    pub cmd: Command,
}

impl Scanner {
    pub fn new(storage_conf: &Path, work: &Path) -> Scanner {
        Scanner::wrapping(None, storage_conf, work)
    }

    /// `prefix` runs the binary (e.g. `unshare --net --`).
    pub fn wrapping(prefix: Option<&[&str]>, storage_conf: &Path, work: &Path) -> Scanner {
        let mut cmd = match prefix {
            Some(p) => {
                let mut c = base_command(p[0]);
                c.args(&p[1..]).arg(BIN);
                c
            }
            None => base_command(BIN),
        };
        let tmp = work.join("tmpdir");
        fs::create_dir_all(&tmp).unwrap();
        cmd.arg("scan")
            .env("CONTAINERS_STORAGE_CONF", storage_conf)
            .env("COMPLIANCE_REPORTS_DIR", work.join("reports"))
            .env("COMPLIANCE_JSON_STDOUT", "true")
            .env("NO_COLOR", "1")
            .env("TMPDIR", tmp);
        Scanner { cmd }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Scanner {
        self.cmd.arg(a);
        self
    }

    pub fn args(mut self, a: &[&str]) -> Scanner {
        self.cmd.args(a);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Scanner {
        self.cmd.env(k, v);
        self
    }

    pub fn run(mut self) -> Scan {
        let out: Output = self.cmd.stdin(Stdio::null()).output().expect("run oci-compliance");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        Scan {
            code: out.status.code().unwrap_or(-1),
            report: serde_json::from_str(&stdout).unwrap_or(Value::Null),
            stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// A `podman` stand-in that logs its argv (one line per call) and, when asked, its
/// environment, then runs the real podman: what the scanner really passes to podman.
pub fn podman_spy(dir: &Path) -> (PathBuf, PathBuf) {
    let script = dir.join("podman-spy");
    let log = dir.join("podman-spy.log");
    fs::write(
        &script,
        format!(
            "#!/bin/bash\n\
             {{ printf 'ARGV'; printf ' %q' \"$@\"; printf '\\n'; env | sed 's/^/ENV /'; \
             for ((i = 1; i < $#; i++)); do if [[ ${{!i}} == --root ]]; then j=$((i + 1)); \
             printf 'ROOTPARENT %s\\n' \"$(stat -c %a \"$(dirname \"${{!j}}\")\")\"; fi; done; }} >> {log}\n\
             exec /usr/bin/podman \"$@\"\n",
            log = log.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

/// `base64(user:password)`.
pub fn b64(s: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, &x| acc << 8 | x as u32) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// DOCKER_AUTH_CONFIG for the test registry.
pub fn docker_auth_config() -> String {
    let e = env();
    format!(r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#, e.registry, b64(&format!("{}:{}", e.user, e.password)))
}

/// Push `local` from `store` to the test registry as `repo:tag`.
pub fn push(store: &Store, local: &str, target: &str) {
    let e = env();
    store.podman(&["push", "-q", "--tls-verify=false", "--creds", &format!("{}:{}", e.user, e.password), local, target]);
}

// ---------------------------------------------------------------------------------------
// An unprivileged user, for rootless runs
// ---------------------------------------------------------------------------------------

pub const ROOTLESS_USER: &str = "ocictest";

pub struct User {
    pub name: &'static str,
    pub uid: u32,
    pub home: PathBuf,
}

/// The test user with a home and a subordinate uid/gid range (created once, reused).
pub fn rootless_user() -> User {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let name = ROOTLESS_USER;
    if Command::new("id").arg("-u").arg(name).stdout(Stdio::null()).stderr(Stdio::null()).status().map(|s| !s.success()).unwrap_or(true) {
        ok(Command::new("useradd").args(["-m", "-s", "/bin/bash", name]));
    }
    // useradd may already have given it a range (SUB_UID_* in login.defs); add one only
    // when it has none, from a block no other entry uses.
    for (file, flag) in [("/etc/subuid", "--add-subuids"), ("/etc/subgid", "--add-subgids")] {
        let text = fs::read_to_string(file).unwrap_or_default();
        if !text.lines().any(|l| l.starts_with(&format!("{name}:"))) {
            let top = text.lines().filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                Some(f.get(1)?.parse::<u64>().ok()? + f.get(2)?.parse::<u64>().ok()?)
            }).max().unwrap_or(100000).max(100000);
            ok(Command::new("usermod").arg(flag).arg(format!("{top}-{}", top + 65535)).arg(name));
        }
    }
    let uid: u32 = ok(Command::new("id").arg("-u").arg(name)).parse().unwrap();
    User { name, uid, home: PathBuf::from(ok(Command::new("sh").arg("-c").arg(format!("getent passwd {name} | cut -d: -f6")))) }
}

impl User {
    /// `program args…` as this user, with a minimal login-like environment (no containers
    /// config of the root test environment: its files are root's).
    pub fn cmd(&self, envs: &[(&str, &str)], program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new("runuser");
        c.args(["-u", self.name, "--", "env", "-i"])
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("USER={}", self.name))
            .arg(format!("LOGNAME={}", self.name))
            .arg(format!("PATH={PATH}"))
            .args(envs.iter().map(|(k, v)| format!("{k}={v}")))
            .arg(program)
            .current_dir(&self.home);
        c
    }

    /// A directory in the user's home, owned by the user, removed on drop.
    pub fn workdir(&self, label: &str) -> UserDir {
        let path = self.home.join(unique(label));
        fs::create_dir_all(&path).unwrap();
        self.chown(&path);
        UserDir { path }
    }

    pub fn chown(&self, p: &Path) {
        ok(Command::new("chown").arg("-R").arg(format!("{}:", self.name)).arg(p));
    }
}

pub struct UserDir {
    pub path: PathBuf,
}

impl Drop for UserDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
