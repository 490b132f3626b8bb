//! Helpers for the hardening tests: the private podman test environment written by
//! tests/env/setup.sh, images built with buildah, scans of the real binary with a private
//! TMPDIR (to find leftover authfiles), byte-level output checks, shims standing in for
//! podman, mounts that are always undone, and a fake registry that misbehaves on purpose.
//!
//! Everything here needs root and the test environment; a missing piece fails the test
//! with what to run, it never skips.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_oci-compliance");

/// What `source $OCIC_TEST_STATE/env` exports.
pub struct TestEnv {
    pub vars: BTreeMap<String, String>,
    pub registry: String,
    pub user: String,
    pub password: String,
    pub state: PathBuf,
}

impl TestEnv {
    pub fn get(&self, k: &str) -> &str {
        self.vars.get(k).map(String::as_str).unwrap_or_else(|| panic!("{k} missing from the test env file"))
    }

    /// base64("user:password"), the form registries and authfiles carry.
    pub fn basic(&self, user: &str, password: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    }

    /// A DOCKER_AUTH_CONFIG value for the test registry.
    pub fn docker_auth_config(&self, user: &str, password: &str) -> String {
        format!(r#"{{"auths":{{"{}":{{"auth":"{}"}}}}}}"#, self.registry, self.basic(user, password))
    }
}

/// The test environment, loaded once; panics with the fix when it is not there.
pub fn env() -> &'static TestEnv {
    static ENV: OnceLock<TestEnv> = OnceLock::new();
    ENV.get_or_init(|| {
        assert!(nix::unistd::geteuid().is_root(), "the hardening tests need root (buildah, mounts, modes)");
        let state = PathBuf::from(std::env::var("OCIC_TEST_STATE").unwrap_or_else(|_| "/var/tmp/oci-compliance-test".into()));
        let file = state.join("env");
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}; run tests/env/setup.sh first", file.display()));
        // Let bash do the unquoting of exactly the names the file exports.
        let names: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
            .collect();
        let out = Command::new("bash")
            .args(["-c", "set -a; . \"$1\"; env -0", "env", file.to_str().unwrap()])
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .output()
            .expect("bash");
        assert!(out.status.success(), "sourcing {} failed: {}", file.display(), String::from_utf8_lossy(&out.stderr));
        let mut vars = BTreeMap::new();
        for kv in out.stdout.split(|&b| b == 0) {
            let kv = String::from_utf8_lossy(kv);
            if let Some((k, v)) = kv.split_once('=') {
                if names.iter().any(|n| n == k) {
                    vars.insert(k.to_string(), v.to_string());
                }
            }
        }
        let e = TestEnv {
            registry: vars.get("OCIC_TEST_REGISTRY").cloned().expect("OCIC_TEST_REGISTRY in the env file"),
            user: vars.get("OCIC_TEST_REGISTRY_USER").cloned().expect("OCIC_TEST_REGISTRY_USER in the env file"),
            password: vars.get("OCIC_TEST_REGISTRY_PASSWORD").cloned().expect("OCIC_TEST_REGISTRY_PASSWORD"),
            state,
            vars,
        };
        assert!(
            TcpStream::connect(&e.registry).is_ok(),
            "the test registry {} does not answer; run tests/env/setup.sh",
            e.registry
        );
        for tool in ["podman", "buildah"] {
            assert!(which(tool).is_some(), "{tool} not installed; run tests/env/setup.sh");
        }
        e
    })
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|f| f.is_file()))
        .unwrap_or(None)
}

/// A command with the containers configuration of the test environment, and without the
/// caller's CI settings or the test registry's password (which `source env` exports: a
/// child that inherited it would defeat the credential tests).
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    for (k, v) in &env().vars {
        if !k.starts_with("OCIC_") {
            c.env(k, v);
        }
    }
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("COMPLIANCE_")
            || k.starts_with("CI_")
            || k.starts_with("OCIC_")
            || k == "DOCKER_AUTH_CONFIG"
            || k.ends_with("_EXIT_CODE")
        {
            c.env_remove(k);
        }
    }
    c.env_remove("NO_COLOR");
    c
}

/// Run a tool of the test environment; panic with its stderr when it fails.
pub fn run(program: &str, args: &[&OsStr]) -> Vec<u8> {
    let out = command(program).args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn podman(args: &[&str]) -> String {
    let a: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    String::from_utf8(run("podman", &a)).unwrap().trim().to_string()
}

pub fn buildah(args: &[&OsStr]) -> String {
    String::from_utf8(run("buildah", args)).unwrap().trim().to_string()
}

/// Removes a local image when dropped (also when the test panics).
pub struct LocalImage(pub String);

impl Drop for LocalImage {
    fn drop(&mut self) {
        let _ = command("podman").args(["rmi", "--force", &self.0]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    }
}

/// Config for `buildah config`, as (flag, value) pairs of raw bytes.
pub type ConfigArgs<'a> = &'a [(&'a str, &'a [u8])];

/// `buildah from scratch` + `buildah copy` of `tree` + `buildah config` + `buildah commit`.
pub fn build_image(name: &str, tree: &Path, config: ConfigArgs) -> LocalImage {
    let ctr = buildah(&[OsStr::new("from"), OsStr::new("scratch")]);
    let guard = LocalImage(name.to_string());
    let result = std::panic::catch_unwind(|| {
        buildah(&[OsStr::new("copy"), OsStr::new("--quiet"), OsStr::new(&ctr), tree.as_os_str(), OsStr::new("/")]);
        if !config.is_empty() {
            let mut args: Vec<&OsStr> = vec![OsStr::new("config")];
            for (flag, value) in config {
                args.push(OsStr::new(flag));
                args.push(OsStr::from_bytes(value));
            }
            args.push(OsStr::new(&ctr));
            buildah(&args);
        }
        buildah(&[OsStr::new("commit"), OsStr::new("--quiet"), OsStr::new(&ctr), OsStr::new(name)]);
    });
    let _ = command("buildah").args(["rm", &ctr]).stdout(Stdio::null()).status();
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
    guard
}

/// A small image: /app/run, an account file for uid 1001, USER 1001:1001, an entrypoint and
/// a label; with `setuid`, also a setuid /app/helper (so its verdict is Critical).
pub fn small_image(name: &str, setuid: bool) -> LocalImage {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path();
    write_file(&t.join("app/run"), b"#!/bin/sh\necho ok\n", 0o755);
    write_file(&t.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/app:/bin/false\n", 0o644);
    write_file(&t.join("etc/group"), b"root:x:0:\napp:x:1001:\n", 0o644);
    if setuid {
        write_file(&t.join("app/helper"), b"x", 0o4755);
    }
    build_image(
        name,
        t,
        &[
            ("--user", b"1001:1001"),
            ("--entrypoint", b"[\"/app/run\"]"),
            ("--label", b"org.opencontainers.image.vendor=hardening"),
            ("--created-by", b"COPY app /"),
        ],
    )
}

/// A small image pushed to the test registry under `hard/<repo>:1` and removed locally.
/// The returned guard removes the pulled copy when the test ends.
pub fn pushed_small_image(repo: &str, setuid: bool) -> LocalImage {
    let e = env();
    let local = unique_name(&format!("hard-{repo}"));
    let remote = format!("{}/hard/{repo}:1", e.registry);
    let img = small_image(&local, setuid);
    let creds = format!("{}:{}", e.user, e.password);
    podman(&["push", "--quiet", "--tls-verify=false", "--creds", &creds, &img.0, &remote]);
    drop(img);
    // A copy left from an earlier run would let `--pull missing` skip the registry.
    let _ = command("podman").args(["rmi", "--force", &remote]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    LocalImage(remote)
}

/// `localhost/<prefix>-<pid>-<n>:1`: unique per process and call, so parallel tests and
/// parallel runs never share an image.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("localhost/{prefix}-{}-{}:1", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn write_file(path: &Path, data: &[u8], mode: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub fn upper_dir(image: &str) -> PathBuf {
    PathBuf::from(podman(&["image", "inspect", "--format", "{{.GraphDriver.Data.UpperDir}}", image]))
}

/// One run of the scanner.
pub struct Scan {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Scan {
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The `oci-compliance: error:` lines of stderr.
    pub fn error_lines(&self) -> Vec<String> {
        self.stderr_text().lines().filter(|l| l.starts_with("oci-compliance: error: ")).map(String::from).collect()
    }

    /// Exactly one error line, containing every one of `causes`; returns it. Nothing raw
    /// in either stream either (podman's own words are quoted in it).
    pub fn one_error_line(&self, causes: &[&str]) -> String {
        assert_no_raw_controls("stdout", &self.stdout);
        assert_no_raw_controls("stderr", &self.stderr);
        let lines = self.error_lines();
        assert_eq!(lines.len(), 1, "want one error line, stderr was:\n{}", self.stderr_text());
        for c in causes {
            assert!(lines[0].contains(c), "{c:?} not in {:?}", lines[0]);
        }
        // One sentence: not several of podman's lines glued together (retries, progress),
        // and no name of a temporary file that no longer exists.
        for noise in [" | ", "level=warning", "retrying", ".tmp", "at path"] {
            assert!(!lines[0].contains(noise), "{noise:?} in {:?}", lines[0]);
        }
        eprintln!("exit {:?}: {}", self.code, lines[0]);
        lines[0].clone()
    }

    pub fn assert_code(&self, want: i32) {
        assert_eq!(
            self.code,
            Some(want),
            "exit code (signal {:?})\nstdout:\n{}\nstderr:\n{}",
            self.signal,
            self.stdout_text(),
            self.stderr_text()
        );
    }
}

/// Where a scan writes: a reports dir and a private TMPDIR (where authfiles would be).
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub reports: PathBuf,
    pub tmp: PathBuf,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::Builder::new().prefix("hard-ws-").tempdir().unwrap();
        let reports = dir.path().join("reports");
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        Workspace { dir, reports, tmp }
    }

    /// The scanner with this workspace: reports dir, TMPDIR, no colour decision forced
    /// (stdout is a pipe, so "auto" means no colour), TLS off for the test registry.
    pub fn scanner(&self) -> Command {
        let mut c = command(BIN);
        c.env("COMPLIANCE_REPORTS_DIR", &self.reports).env("TMPDIR", &self.tmp).env("COMPLIANCE_TLS_VERIFY", "false");
        c.stdin(Stdio::null());
        c
    }

    pub fn scan(&self, args: &[&str], envs: &[(&str, &str)]) -> Scan {
        let mut c = self.scanner();
        c.arg("scan").args(args);
        for (k, v) in envs {
            c.env(k, v);
        }
        run_scan(c)
    }

    /// No temporary report and no authfile (directory) left behind.
    pub fn assert_no_leftovers(&self) {
        if let Ok(rd) = std::fs::read_dir(&self.reports) {
            for e in rd {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                assert!(!name.ends_with(".tmp") && !name.starts_with('.'), "leftover in reports dir: {name}");
            }
        }
        for e in std::fs::read_dir(&self.tmp).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with("oci-compliance-auth-"), "credential directory left behind: {name}");
        }
    }

    pub fn report_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = match std::fs::read_dir(&self.reports) {
            Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    }

    pub fn report(&self) -> serde_json::Value {
        let files = self.report_files();
        assert_eq!(files.len(), 1, "{files:?}");
        serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap()
    }
}

/// Wait for a spawned scanner, at most `limit` (then kill it and fail).
pub fn finish(mut child: std::process::Child, limit: Duration) -> Scan {
    let start = Instant::now();
    if !wait_for(limit, || child.try_wait().map(|s| s.is_some()).unwrap_or(true)) {
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!("the scanner did not end within {limit:?}; stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = child.wait_with_output().unwrap();
    use std::os::unix::process::ExitStatusExt;
    Scan { code: out.status.code(), signal: out.status.signal(), stdout: out.stdout, stderr: out.stderr, elapsed: start.elapsed() }
}

pub fn run_scan(mut c: Command) -> Scan {
    let start = Instant::now();
    let out: Output = c.output().expect("run oci-compliance");
    use std::os::unix::process::ExitStatusExt;
    Scan {
        code: out.status.code(),
        signal: out.status.signal(),
        stdout: out.stdout,
        stderr: out.stderr,
        elapsed: start.elapsed(),
    }
}

/// Every byte printable for a terminal: no C0 control but \n and \t, no DEL, no ESC, no
/// C1 control in its UTF-8 form (U+0080..U+009F, e.g. the one-character CSI U+009B), no
/// bidi override.
pub fn assert_no_raw_controls(what: &str, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        let c0 = (b < 0x20 && b != b'\n' && b != b'\t') || b == 0x7f;
        // 0xc2 only ever starts a two-byte character, so this is exactly U+0080..U+009F.
        let c1 = b == 0xc2 && bytes.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n));
        if c0 || c1 {
            let from = i.saturating_sub(60);
            let to = (i + 60).min(bytes.len());
            panic!("{what}: raw control byte 0x{b:02x} at {i}: {:?}", String::from_utf8_lossy(&bytes[from..to]));
        }
    }
    // Nor a bidi override or another invisible formatting character.
    if let Some(c) = String::from_utf8_lossy(bytes).chars().find(|&c| oci_compliance::escape::is_invisible(c)) {
        panic!("{what}: raw invisible character U+{:04X}", c as u32);
    }
}

/// A shell script standing in for podman, made executable.
pub fn script(path: &Path, body: &str) {
    write_file(path, body.as_bytes(), 0o755);
}

pub fn real_podman() -> PathBuf {
    which("podman").expect("podman on PATH")
}

/// A mount point that is unmounted when dropped.
pub struct Mount(pub PathBuf);

impl Mount {
    /// A tmpfs of `size` (e.g. "16k") at `dir`.
    pub fn tmpfs(dir: &Path, size: &str) -> Mount {
        std::fs::create_dir_all(dir).unwrap();
        let opts = format!("size={size},mode=0755");
        mount(&["-t", "tmpfs", "-o", &opts, "tmpfs", dir.to_str().unwrap()]);
        Mount(dir.to_path_buf())
    }

    /// `dir` bind-mounted on itself, read-only.
    pub fn read_only(dir: &Path) -> Mount {
        std::fs::create_dir_all(dir).unwrap();
        let d = dir.to_str().unwrap();
        mount(&["--bind", d, d]);
        let m = Mount(dir.to_path_buf());
        mount(&["-o", "remount,bind,ro", d]);
        m
    }
}

fn mount(args: &[&str]) {
    let out = Command::new("mount").args(args).output().expect("mount");
    assert!(out.status.success(), "mount {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.0).status().map(|s| s.success()).unwrap_or(false);
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// Wait up to `limit` for `cond`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

pub fn sha256_hex(data: &[u8]) -> String {
    let mut c = Command::new("sha256sum").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("sha256sum");
    c.stdin.take().unwrap().write_all(data).unwrap();
    let out = c.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

/// How the fake registry misbehaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// Every manifest is a plain 404 (no registry error body).
    NotFound,
    /// Manifest and config are served; the layer blob sends its headers and 1 KiB of a
    /// promised 1 MiB, then stalls (for at most two minutes).
    StallBlob,
}

/// A registry on 127.0.0.1 that accepts any credentials and then fails as told. Its
/// threads stop by themselves: connections close after at most two minutes.
pub struct FakeRegistry {
    pub addr: String,
    pub blob_requested: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(&self.addr);
    }
}

impl FakeRegistry {
    pub fn start(fault: Fault) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let blob_requested = Arc::new(AtomicBool::new(false));
        // A layer digest nobody has: the pull must fetch it.
        let layer = format!("sha256:{}", sha256_hex(format!("hard-layer-{addr}-{:?}", Instant::now()).as_bytes()));
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{layer}"]}}}}"#
        );
        let config_digest = format!("sha256:{}", sha256_hex(config.as_bytes()));
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":1048576}}]}}"#,
            config.len()
        );
        let state = Arc::new((manifest, config, config_digest, layer));
        let (s, b) = (stop.clone(), blob_requested.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, b, state) = (s.clone(), b.clone(), state.clone());
                std::thread::spawn(move || serve(conn, fault, &state, &s, &b));
            }
        });
        FakeRegistry { addr, blob_requested, stop }
    }
}

fn serve(mut conn: TcpStream, fault: Fault, state: &(String, String, String, String), stop: &AtomicBool, blob: &AtomicBool) {
    let (manifest, config, config_digest, layer) = state;
    conn.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // One request per connection is enough for podman (it reconnects).
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            // A TLS ClientHello (podman tries https first) is not HTTP: hang up.
            if buf.first() == Some(&0x16) || buf.len() > 65536 {
                return;
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let mut parts = head.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let body_allowed = method != "HEAD";
        let reply = |conn: &mut TcpStream, status: &str, ctype: &str, body: &[u8]| {
            let h = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nDocker-Distribution-Api-Version: registry/2.0\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(h.as_bytes());
            if body_allowed {
                let _ = conn.write_all(body);
            }
        };
        if path == "/v2/" || path == "/v2" {
            reply(&mut conn, "200 OK", "application/json", b"{}");
        } else if path.contains("/manifests/") {
            match fault {
                Fault::NotFound => reply(&mut conn, "404 Not Found", "text/plain", b"404 page not found\n"),
                Fault::StallBlob => reply(&mut conn, "200 OK", "application/vnd.oci.image.manifest.v1+json", manifest.as_bytes()),
            }
        } else if path.ends_with(&format!("/blobs/{config_digest}")) {
            reply(&mut conn, "200 OK", "application/octet-stream", config.as_bytes());
        } else if path.ends_with(&format!("/blobs/{layer}")) {
            blob.store(true, Ordering::SeqCst);
            let h = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n";
            let _ = conn.write_all(h.as_bytes());
            let _ = conn.write_all(&[0u8; 1024]);
            let until = Instant::now() + Duration::from_secs(120);
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
            }
            return;
        } else {
            reply(&mut conn, "404 Not Found", "text/plain", b"not found\n");
        }
    }
}

/// Processes whose command line contains `needle` (to find podman children left behind).
pub fn processes_with(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else { continue };
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // A zombie is already dead; only its parent's wait is missing.
        let zombie = stat.rsplit(')').next().map(|s| s.trim_start().starts_with('Z')).unwrap_or(false);
        if !zombie && cmd.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            pids.push(pid);
        }
    }
    pids
}

/// Every file under `dir`, recursively (for searching recorded output).
pub fn read_all(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in walk(dir) {
        if e.is_file() {
            out.push((e.clone(), std::fs::read(&e).unwrap()));
        }
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                v.extend(walk(&p));
            } else {
                v.push(p);
            }
        }
    }
    v
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}
