//! Runs of the real `oci-compliance` binary with a clean environment: the containers
//! configuration of a store, a private HOME, TMPDIR and default auth file, and only the
//! variables a test asks for. Every run is checked for what must hold whatever the test is
//! about: no secret in any output, no authfile left behind, the default auth file untouched.
//! Also: stand-ins for podman, and checks of what the scanner prints.

use super::env::{env, Scratch};
use super::is_invisible;
use super::process::{clean_command, find_in_path, spawn, Finished, Spawned, CHILD_TIMEOUT};
use super::registry::b64;
use super::store::Store;
use super::write_file;
use serde_json::Value;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_oci-compliance");

/// What the default auth file the scanner's podman sees holds, before and after every run.
const EMPTY_AUTHS: &str = "{\"auths\": {}}\n";

/// The binary with nothing of the caller's environment but PATH (what `merge` and the
/// checks made before any podman call need).
pub fn bin() -> Command {
    clean_command(BIN)
}

// ---------------------------------------------------------------------------------------
// Where a scan writes
// ---------------------------------------------------------------------------------------

/// A scan's directory: reports, a private TMPDIR (where authfiles would be) and HOME, and
/// the default auth file. Removed (after unmounting) on drop.
pub struct Workspace {
    dir: Scratch,
    pub reports: PathBuf,
    pub tmp: PathBuf,
    pub home: PathBuf,
    /// REGISTRY_AUTH_FILE of the scanner: empty, and it must stay so.
    pub default_auth: PathBuf,
}

impl Workspace {
    pub fn new(label: &str) -> Workspace {
        let dir = Scratch::new(label);
        let (reports, tmp, home) = (dir.path().join("reports"), dir.path().join("tmp"), dir.path().join("home"));
        fs::create_dir_all(&tmp).unwrap();
        fs::create_dir_all(&home).unwrap();
        let default_auth = dir.path().join("default-auth.json");
        fs::write(&default_auth, EMPTY_AUTHS).unwrap();
        Workspace { dir, reports, tmp, home, default_auth }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// No temporary report and no authfile (directory) left behind.
    #[track_caller]
    pub fn assert_no_leftovers(&self) {
        if let Ok(rd) = fs::read_dir(&self.reports) {
            for e in rd {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                assert!(!name.ends_with(".tmp") && !name.starts_with('.'), "leftover in reports dir: {name}");
            }
        }
        for e in fs::read_dir(&self.tmp).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with("oci-compliance-auth-"), "credential directory left behind: {name}");
        }
    }

    /// The files in the reports dir, sorted.
    pub fn report_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = match fs::read_dir(&self.reports) {
            Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
            Err(_) => Vec::new(),
        };
        v.sort();
        v
    }

    /// The only file in the reports dir, parsed.
    #[track_caller]
    pub fn report(&self) -> Value {
        let files = self.report_files();
        assert_eq!(files.len(), 1, "{files:?}");
        serde_json::from_slice(&fs::read(&files[0]).unwrap()).unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// A scanner run
// ---------------------------------------------------------------------------------------

/// How the run is told where to write reports.
enum Reports {
    /// `--reports-dir <workspace>/reports` after the subcommand.
    Flag,
    /// COMPLIANCE_REPORTS_DIR=<workspace>/reports.
    Env,
    /// Not at all (the test says it another way, or the subcommand writes none).
    Unset,
}

/// A run of the binary, built up by the test, then `run` (or `spawn`).
pub struct Scan<'a> {
    store: &'a Store,
    workspace: Option<&'a Workspace>,
    prefix: Vec<OsString>,
    args: Vec<OsString>,
    /// Set (Some) or removed (None), in order.
    envs: Vec<(String, Option<OsString>)>,
    secrets: Vec<String>,
    reports: Reports,
}

/// `oci-compliance scan` against `store` (the scanner's podman sees only that store) with
/// the storage source, `--reports-dir` in a fresh workspace, and NO_COLOR=1. A later
/// `.env("COMPLIANCE_SOURCE", …)` chooses another source.
pub fn scan(store: &Store) -> Scan<'_> {
    Scan {
        store,
        workspace: None,
        prefix: Vec::new(),
        args: vec!["scan".into()],
        envs: vec![("NO_COLOR".into(), Some("1".into())), ("COMPLIANCE_SOURCE".into(), Some("storage".into()))],
        secrets: Vec::new(),
        reports: Reports::Flag,
    }
}

/// `oci-compliance scan` with the registry source: no image store is written (the scanner's
/// podman sees `store`, which must stay empty of the scanned images).
pub fn fetch(store: &Store) -> Scan<'_> {
    scan(store).env("COMPLIANCE_SOURCE", "registry")
}

/// Any subcommand (`checks`, `explain`), with the environment's shared store.
pub fn command(args: &[&str]) -> Scan<'static> {
    let mut c = scan(Store::shared());
    c.args = args.iter().map(OsString::from).collect();
    c.reports = Reports::Unset;
    c
}

impl<'a> Scan<'a> {
    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, a: I) -> Self {
        self.args.extend(a.into_iter().map(|s| s.as_ref().to_owned()));
        self
    }
    pub fn env(mut self, k: &str, v: impl AsRef<OsStr>) -> Self {
        self.envs.push((k.into(), Some(v.as_ref().to_owned())));
        self
    }
    pub fn env_remove(mut self, k: &str) -> Self {
        self.envs.push((k.into(), None));
        self
    }
    /// Credentials through DOCKER_AUTH_CONFIG, plain HTTP through COMPLIANCE_TLS_VERIFY.
    pub fn auth(self, docker_auth_config: &str) -> Self {
        self.env("DOCKER_AUTH_CONFIG", docker_auth_config).env("COMPLIANCE_TLS_VERIFY", "false")
    }
    /// The right credentials for the test registry.
    pub fn good_auth(self) -> Self {
        self.auth(&super::registry::good_auth())
    }
    /// A string that must not appear in any output (besides the registry password).
    pub fn secret(mut self, s: &str) -> Self {
        self.secrets.push(s.into());
        self
    }
    /// Do not pass `--reports-dir` (the test sets it another way).
    pub fn no_reports_flag(mut self) -> Self {
        self.reports = Reports::Unset;
        self
    }
    /// The reports dir through COMPLIANCE_REPORTS_DIR instead of `--reports-dir`.
    pub fn reports_in_env(mut self) -> Self {
        self.reports = Reports::Env;
        self
    }
    /// Run the binary through `prefix` (e.g. `unshare --net --`, `strace …`).
    pub fn prefix<S: AsRef<OsStr>>(mut self, prefix: &[S]) -> Self {
        self.prefix = prefix.iter().map(|s| s.as_ref().to_owned()).collect();
        self
    }
    /// Write into `ws` (kept after the run) instead of a fresh workspace.
    pub fn workspace(mut self, ws: &'a Workspace) -> Self {
        self.workspace = Some(ws);
        self
    }

    fn command(&self, ws: &Workspace) -> Command {
        let e = env();
        let mut args = self.args.clone();
        if let Reports::Flag = self.reports {
            // After the subcommand, before the images.
            args.insert(1, "--reports-dir".into());
            args.insert(2, ws.reports.clone().into());
        }
        let mut cmd = match self.prefix.split_first() {
            Some((program, rest)) => {
                let mut c = clean_command(program);
                c.args(rest).arg(BIN);
                c
            }
            None => clean_command(BIN),
        };
        cmd.args(&args)
            .env("HOME", &ws.home)
            .env("TMPDIR", &ws.tmp)
            .env("CONTAINERS_CONF", &self.store.containers_conf)
            .env("CONTAINERS_STORAGE_CONF", &self.store.storage_conf)
            .env("CONTAINERS_REGISTRIES_CONF", &e.registries_conf)
            .env("REGISTRY_AUTH_FILE", &ws.default_auth)
            .current_dir(ws.path());
        if let Reports::Env = self.reports {
            cmd.env("COMPLIANCE_REPORTS_DIR", &ws.reports);
        }
        for (k, v) in &self.envs {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd
    }

    /// Start the run; `finish` it.
    pub fn spawn(self) -> RunningScan<'a> {
        let owned = match self.workspace {
            Some(_) => None,
            None => Some(Workspace::new("scan")),
        };
        let ws = self.workspace.or(owned.as_ref()).unwrap();
        let child = spawn(&mut self.command(ws));
        let reports_dir = self
            .envs
            .iter()
            .rev()
            .find(|(k, _)| k == "COMPLIANCE_REPORTS_DIR")
            .and_then(|(_, v)| v.clone().map(PathBuf::from))
            .unwrap_or_else(|| ws.reports.clone());
        RunningScan { child, owned, borrowed: self.workspace, reports_dir, secrets: self.secrets }
    }

    /// Run to the end (at most CHILD_TIMEOUT).
    pub fn run(self) -> ScanOut {
        self.spawn().finish(CHILD_TIMEOUT)
    }
}

/// A scan that was started.
pub struct RunningScan<'a> {
    child: Spawned,
    owned: Option<Workspace>,
    borrowed: Option<&'a Workspace>,
    reports_dir: PathBuf,
    secrets: Vec<String>,
}

impl RunningScan<'_> {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Wait at most `limit` (then kill the scanner and fail), collect what it wrote, and
    /// check what every run must hold.
    pub fn finish(self, limit: Duration) -> ScanOut {
        let e = env();
        let out = ScanOut::new(self.child.wait(limit), &self.reports_dir);
        let ws = self.borrowed.or(self.owned.as_ref()).unwrap();
        let mut secrets = self.secrets.clone();
        secrets.push(e.password.clone());
        secrets.push(b64(&format!("{}:{}", e.user, e.password)));
        for s in secrets.iter().filter(|s| s.len() >= 6) {
            assert!(!out.stdout.contains(s.as_str()), "a secret leaked to stdout:\n{}", out.stdout);
            assert!(!out.stderr.contains(s.as_str()), "a secret leaked to stderr:\n{}", out.stderr);
            for (name, text) in &out.reports {
                assert!(!text.contains(s.as_str()), "a secret leaked into report {name}");
            }
        }
        let leftovers: Vec<String> = fs::read_dir(&ws.tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("oci-compliance-auth-"))
            .collect();
        assert!(leftovers.is_empty(), "temporary authfile directories left behind: {leftovers:?}\n{}", out.stderr);
        let default_after = fs::read_to_string(&ws.default_auth).unwrap();
        assert_eq!(default_after, EMPTY_AUTHS, "the default auth file was written");
        // A workspace of its own is gone with the run; what it left was read above.
        drop(self.owned);
        out
    }
}

/// What a run did and wrote.
pub struct ScanOut {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// The outputs as text (invalid UTF-8 replaced) and as the bytes written.
    pub stdout: String,
    pub stderr: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr_bytes: Vec<u8>,
    /// stdout parsed as JSON (the report, with COMPLIANCE_JSON_STDOUT), or Null.
    pub stdout_json: Value,
    /// (file name, contents) of every file in the reports directory after the run.
    pub reports: Vec<(String, String)>,
    pub elapsed: Duration,
}

impl ScanOut {
    fn new(f: Finished, reports_dir: &Path) -> ScanOut {
        let mut reports = Vec::new();
        if let Ok(rd) = fs::read_dir(reports_dir) {
            for entry in rd.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let text = fs::read_to_string(entry.path()).unwrap_or_default();
                reports.push((name, text));
            }
        }
        reports.sort();
        ScanOut {
            code: f.code,
            signal: f.signal,
            stdout: String::from_utf8_lossy(&f.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&f.stderr).into_owned(),
            stdout_json: serde_json::from_slice(&f.stdout).unwrap_or(Value::Null),
            stdout_bytes: f.stdout,
            stderr_bytes: f.stderr,
            reports,
            elapsed: f.elapsed,
        }
    }

    /// A run of the binary the test set up itself (e.g. as another user), writing reports
    /// to `reports_dir`.
    pub fn capture(cmd: &mut Command, reports_dir: &Path) -> ScanOut {
        ScanOut::new(spawn(cmd).wait(CHILD_TIMEOUT), reports_dir)
    }

    pub fn dump(&self) -> String {
        format!(
            "exit {:?} (signal {:?}) after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- reports: {:?}",
            self.code,
            self.signal,
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

    /// The only JSON report file of the run.
    #[track_caller]
    pub fn report(&self) -> Value {
        let json: Vec<&(String, String)> = self.reports.iter().filter(|(n, _)| n.ends_with(".json")).collect();
        assert_eq!(json.len(), 1, "expected exactly one report\n{}", self.dump());
        self.report_named(&json[0].0)
    }

    pub fn report_names(&self) -> Vec<String> {
        self.reports.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The `oci-compliance: error:` lines of stderr.
    pub fn error_lines(&self) -> Vec<String> {
        self.stderr.lines().filter(|l| l.starts_with("oci-compliance: error: ")).map(String::from).collect()
    }

    /// Exactly one error line, containing every one of `causes`; returns it. Nothing raw
    /// in either stream either (podman's own words are quoted in it).
    #[track_caller]
    pub fn one_error_line(&self, causes: &[&str]) -> String {
        assert_no_raw_controls("stdout", &self.stdout_bytes);
        assert_no_raw_controls("stderr", &self.stderr_bytes);
        let lines = self.error_lines();
        assert_eq!(lines.len(), 1, "want one error line, stderr was:\n{}", self.stderr);
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
}

/// The report file name the scanner must use for `reference` (a registry reference).
pub fn slug(reference: &str) -> String {
    let s: String =
        reference.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    format!("{s}.json")
}

/// Every byte printable for a terminal: no C0 control but \n and \t, no DEL, no ESC, no
/// C1 control in its UTF-8 form (U+0080..U+009F, e.g. the one-character CSI U+009B), no
/// bidi override.
#[track_caller]
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
    if let Some(c) = String::from_utf8_lossy(bytes).chars().find(|&c| is_invisible(c)) {
        panic!("{what}: raw invisible character U+{:04X}", c as u32);
    }
}

// ---------------------------------------------------------------------------------------
// Stand-ins for podman
// ---------------------------------------------------------------------------------------

/// The podman the test environment installed.
pub fn real_podman() -> PathBuf {
    find_in_path(&env().path, "podman").expect("podman on PATH")
}

/// A shell script standing in for podman, made executable.
pub fn script(path: &Path, body: &str) {
    write_file(path, body.as_bytes(), 0o755);
}

/// A `podman` that never runs the real one, to prove a configuration error stops the run
/// before any podman call.
pub struct FakePodman {
    pub path: PathBuf,
    pub log: PathBuf,
    _dir: Scratch,
}

impl FakePodman {
    /// A `podman` that logs its argv and runs `body` (a shell snippet; `$1` is the subcommand).
    pub fn new(body: &str) -> FakePodman {
        let dir = Scratch::new("fake-podman");
        let path = dir.path().join("podman");
        let log = dir.path().join("calls.log");
        script(&path, &format!("#!/bin/sh\necho \"$*\" >> '{}'\n{body}\n", log.display()));
        FakePodman { path, log, _dir: dir }
    }

    pub fn calls(&self) -> Vec<String> {
        fs::read_to_string(&self.log).map(|s| s.lines().map(String::from).collect()).unwrap_or_default()
    }
}

/// A `podman` stand-in in `dir` that logs its argv (one line per call), its environment
/// and, for `--root`, the mode of the root's parent, then runs the real podman: what the
/// scanner really passes to podman. Returns (script, log).
pub fn podman_spy(dir: &Path) -> (PathBuf, PathBuf) {
    let spy = dir.join("podman-spy");
    let log = dir.join("podman-spy.log");
    script(
        &spy,
        &format!(
            "#!/bin/bash\n\
             {{ printf 'ARGV'; printf ' %q' \"$@\"; printf '\\n'; env | sed 's/^/ENV /'; \
             for ((i = 1; i < $#; i++)); do if [[ ${{!i}} == --root ]]; then j=$((i + 1)); \
             printf 'ROOTPARENT %s\\n' \"$(stat -c %a \"$(dirname \"${{!j}}\")\")\"; fi; done; }} >> {log}\n\
             exec {real} \"$@\"\n",
            log = log.display(),
            real = real_podman().display()
        ),
    );
    (spy, log)
}
