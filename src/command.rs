//! The only place that starts processes: an argument vector, never a shell; the child's
//! stderr kept for errors; credentials scrubbed from the child's environment.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Variables that carry secrets in CI. Podman is given credentials only through the
/// private authfile and stdin, so children never inherit these.
pub const SECRET_VARS: &[&str] = &[
    "DOCKER_AUTH_CONFIG",
    "CI_REGISTRY_PASSWORD",
    "CI_JOB_TOKEN",
    "CI_JOB_JWT",
    "CI_JOB_JWT_V2",
    "CI_DEPLOY_PASSWORD",
    "CI_DEPENDENCY_PROXY_PASSWORD",
    "COMPLIANCE_REGISTRY_PASSWORD",
];

#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    /// The signal that ended the child, when it did not exit by itself.
    pub signal: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The child's own explanation, printable: podman's final `Error:` line, else the last
    /// lines of stderr; controls escaped.
    pub fn reason(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let lines: Vec<String> =
            text.lines().map(str::trim).filter(|l| !l.is_empty()).map(crate::escape::text).collect();
        // podman logs its retries as warnings before the error that ended it; that last
        // error is the cause, the retries would bury it.
        let last_error = lines.iter().rposition(|l| l.starts_with("Error: "));
        let tail = match last_error {
            Some(i) => &lines[i..=i],
            None if lines.len() > 8 => &lines[lines.len() - 8..],
            None => &lines[..],
        };
        // A child killed half-way (OOM killer, a timeout, an operator) usually says nothing.
        let killed = self.signal.map(|n| format!("killed by signal {n}{}", signal_name(n)));
        match (killed, tail.is_empty()) {
            (Some(k), true) => k,
            (Some(k), false) => format!("{k}: {}", tail.join(" | ")),
            (None, true) => "no error output".to_string(),
            (None, false) => tail.join(" | "),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Program {
    pub path: PathBuf,
    /// Global options placed before the subcommand (e.g. --root for a private store).
    pub global: Vec<OsString>,
}

impl Program {
    /// Find a program on PATH (or use an explicit path).
    pub fn locate(name: &str, explicit: Option<PathBuf>) -> Result<Program, String> {
        let path = match explicit {
            Some(p) => p,
            None => which::which(name)
                .map_err(|_| format!("{name} not found in PATH; install it (apt-get install {name})"))?,
        };
        Ok(Program { path, global: Vec::new() })
    }

    /// Describe a command line for messages. Argument vectors never contain secrets.
    pub fn display(&self, args: &[OsString]) -> String {
        let name = self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut s = name;
        for a in self.global.iter().chain(args) {
            s.push(' ');
            s.push_str(&crate::escape::text(&a.to_string_lossy()));
        }
        s
    }

    pub async fn run(&self, args: &[OsString], stdin: Option<&[u8]>) -> Result<Output, String> {
        let mut cmd = Command::new(&self.path);
        cmd.args(&self.global).args(args);
        for v in SECRET_VARS {
            cmd.env_remove(v);
        }
        cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", self.display(args)))?;
        if let Some(data) = stdin {
            let mut pipe = child.stdin.take().ok_or("child stdin missing")?;
            // A child that exits without reading stdin is reported by its status, not here.
            let _ = pipe.write_all(data).await;
            drop(pipe);
        }
        let out = child.wait_with_output().await.map_err(|e| format!("waiting for {}: {e}", self.display(args)))?;
        Ok(Output { code: out.status.code(), signal: out.status.signal(), stdout: out.stdout, stderr: out.stderr })
    }
}

fn signal_name(n: i32) -> &'static str {
    match n {
        libc::SIGKILL => " (SIGKILL)",
        libc::SIGTERM => " (SIGTERM)",
        libc::SIGINT => " (SIGINT)",
        libc::SIGSEGV => " (SIGSEGV)",
        libc::SIGABRT => " (SIGABRT)",
        _ => "",
    }
}

impl Program {
    /// Run with this process's stdout and stderr (a child that reports to the user itself),
    /// feeding `stdin`; returns the exit code, None when killed by a signal.
    pub async fn run_attached(&self, args: &[OsString], stdin: &[u8]) -> Result<Option<i32>, String> {
        let mut cmd = Command::new(&self.path);
        cmd.args(&self.global).args(args);
        for v in SECRET_VARS {
            cmd.env_remove(v);
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::inherit()).stderr(Stdio::inherit()).kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", self.display(args)))?;
        let mut pipe = child.stdin.take().ok_or("child stdin missing")?;
        // A child that exits without reading stdin is reported by its status, not here.
        let _ = pipe.write_all(stdin).await;
        drop(pipe);
        let status = child.wait().await.map_err(|e| format!("waiting for {}: {e}", self.display(args)))?;
        Ok(status.code())
    }
}

/// Build an argument vector from string-likes.
pub fn argv<I, S>(items: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    items.into_iter().map(Into::into).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_child_says_so() {
        let out = Output { code: None, signal: Some(9), stdout: Vec::new(), stderr: Vec::new() };
        assert_eq!(out.reason(), "killed by signal 9 (SIGKILL)");
        let out = Output { code: None, signal: Some(15), stdout: Vec::new(), stderr: b"Copying blob\n".to_vec() };
        assert_eq!(out.reason(), "killed by signal 15 (SIGTERM): Copying blob");
        let out = Output { code: Some(125), signal: None, stdout: Vec::new(), stderr: b"Error: \x1b[31mx\n".to_vec() };
        assert_eq!(out.reason(), "Error: \\x1b[31mx");
    }

    #[test]
    fn retries_do_not_bury_the_error() {
        let stderr =
            b"time=\"t\" level=warning msg=\"Failed, retrying in 1s ... (1/3). Error: x: connection refused\"\n\
            time=\"t\" level=warning msg=\"Failed, retrying in 1s ... (2/3). Error: x: connection refused\"\n\
            Error: initializing source docker://r/x:1: connection refused\n";
        let out = Output { code: Some(125), signal: None, stdout: Vec::new(), stderr: stderr.to_vec() };
        assert_eq!(out.reason(), "Error: initializing source docker://r/x:1: connection refused");
        let out = Output { code: Some(1), signal: None, stdout: Vec::new(), stderr: b"a\nb\n".to_vec() };
        assert_eq!(out.reason(), "a | b");
    }
}
