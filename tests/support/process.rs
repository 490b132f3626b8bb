//! Running children: a clean environment, both pipes drained (a chatty child never blocks on
//! a full pipe) and a time limit after which the child is killed and the test fails.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// PATH for children when the test process has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How long any single child process may run before the test gives up on it.
pub const CHILD_TIMEOUT: Duration = Duration::from_secs(300);

/// This process's PATH (the default one when it has none), for children.
pub fn default_path() -> OsString {
    std::env::var_os("PATH").filter(|p| !p.is_empty()).unwrap_or_else(|| DEFAULT_PATH.into())
}

pub fn find_in_path(path: &OsStr, prog: &str) -> Option<PathBuf> {
    std::env::split_paths(path).map(|d| d.join(prog)).find(|p| p.is_file())
}

/// `program` with no environment but PATH.
pub fn clean_command(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env_clear().env("PATH", default_path());
    c
}

/// A started child whose output is being collected.
pub struct Spawned {
    child: Child,
    stdout: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
    start: Instant,
    desc: String,
}

/// What a child did.
pub struct Finished {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

/// Start `cmd` with stdin from /dev/null and both outputs captured.
pub fn spawn(cmd: &mut Command) -> Spawned {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let desc = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = pipe.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    Spawned { child, stdout, stderr, start, desc }
}

impl Spawned {
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the child, at most `limit` from now (then kill it and fail the test).
    pub fn wait(mut self, limit: Duration) -> Finished {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr.join().unwrap_or_default();
                panic!("{} did not finish within {limit:?}; stderr:\n{}", self.desc, String::from_utf8_lossy(&stderr));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let elapsed = self.start.elapsed();
        Finished {
            code: status.code(),
            signal: status.signal(),
            stdout: self.stdout.join().unwrap(),
            stderr: self.stderr.join().unwrap(),
            elapsed,
        }
    }
}

/// A finished tool run, as text.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Run `cmd` to the end (at most CHILD_TIMEOUT).
pub fn run(cmd: &mut Command) -> Output {
    let f = spawn(cmd).wait(CHILD_TIMEOUT);
    Output {
        code: f.code,
        stdout: String::from_utf8_lossy(&f.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&f.stderr).into_owned(),
    }
}

/// Run `cmd`, failing the test (with its output) unless it exits 0; its stdout, trimmed.
#[track_caller]
pub fn ok(cmd: &mut Command) -> String {
    let desc = format!("{cmd:?}");
    let out = run(cmd);
    if out.code != Some(0) {
        panic!("`{desc}` failed (exit {:?}):\nstdout: {}\nstderr: {}", out.code, out.stdout, out.stderr);
    }
    out.stdout.trim().to_string()
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
