//! Rootless scans. An unprivileged user's layers are owned by uids shifted into the user's
//! subordinate range (image root shows as the user, image uid 1 as 100000, …) and some
//! directories cannot be entered from outside. So the scan re-executes itself inside
//! podman's user namespace (`podman unshare`), where every file shows the owner the image
//! gives it and can be read. Registry secrets never travel in the re-executed process's
//! argv or environment: they are written to its standard input.

use crate::command::{argv, Program, SECRET_VARS};
use crate::config::{Env, ProcessEnv, ScanConfig};
use crate::exit::Failure;
use crate::model::ErrorKind;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;

/// The hidden flag that marks the re-executed scan.
pub const CHILD_FLAG: &str = "--userns-child";

/// A non-root scan that is not yet inside the user namespace.
pub fn needed(cfg: &ScanConfig) -> bool {
    !cfg.userns_child && !nix::unistd::geteuid().is_root()
}

/// Run this same scan command again under `podman unshare`, with the terminal attached,
/// and return its exit code.
pub async fn reexec(cfg: &ScanConfig, podman: &Program) -> Result<u8, Failure> {
    let fail = |m: String| Failure::new(ErrorKind::CheckError, m);
    let exe = std::env::current_exe()
        .map_err(|e| fail(format!("cannot find this program's path for podman unshare: {e}")))?;
    let mut args = argv(["unshare", "--"]);
    args.push(exe.into());
    args.extend(child_args(std::env::args_os().skip(1).collect()));
    let secrets: BTreeMap<&str, String> =
        SECRET_VARS.iter().filter_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()).map(|s| (*v, s))).collect();
    let input = serde_json::to_vec(&secrets).expect("a string map serialises");
    let code = podman.run_attached(&args, &input).await.map_err(fail)?;
    // Anything but a code the scan itself exits with is podman failing to get there.
    let ours = |c: i32| {
        let e = &cfg.exit_codes;
        c == 0
            || [e.critical, e.high, e.medium, e.low, e.informational].iter().any(|&x| i32::from(x) == c)
            || ErrorKind::ALL.iter().any(|o| i32::from(o.code()) == c)
            || c == 130
            || c == 143
    };
    match code {
        Some(c) if ours(c) => Ok(c as u8),
        Some(c) => Err(fail(format!(
            "{} could not run the scan in the user namespace (exit {c}); podman's reason is above",
            podman.display(&argv(["unshare"]))
        ))),
        None => Err(fail("the scan in the user namespace was killed by a signal".into())),
    }
}

/// The original arguments with the child flag right after the `scan` subcommand, where it
/// cannot be mistaken for an image name (images may follow a `--`).
fn child_args(args: Vec<OsString>) -> Vec<OsString> {
    let at = args.iter().position(|a| a == "scan").map(|i| i + 1).unwrap_or(0);
    let mut v = args;
    v.insert(at, CHILD_FLAG.into());
    v
}

/// In the re-executed scan: stop when the podman process that started us goes away (an
/// interrupted parent must not leave a scan running), then take the secrets from stdin.
pub fn child_setup() -> Result<BTreeMap<String, String>, Failure> {
    let fail = |m: String| Failure::new(ErrorKind::CheckError, m);
    if !nix::unistd::geteuid().is_root() {
        return Err(fail(format!("{CHILD_FLAG} is internal: it is only valid inside podman's user namespace")));
    }
    // SAFETY: prctl with an integer signal number has no memory effects.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong);
    }
    if nix::unistd::getppid().as_raw() == 1 {
        return Err(fail("the process that started the scan in the user namespace is gone".into()));
    }
    let mut input = Vec::new();
    std::io::stdin()
        .read_to_end(&mut input)
        .map_err(|e| fail(format!("cannot read the secrets from standard input: {e}")))?;
    serde_json::from_slice(&input)
        .map_err(|_| fail("the secrets on standard input are not a JSON object of strings".into()))
}

/// The environment as the re-executed scan sees it: the secrets it was handed, else the
/// process environment.
pub struct ChildEnv(pub BTreeMap<String, String>);

impl Env for ChildEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|v| !v.is_empty()).cloned().or_else(|| ProcessEnv.var(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_flag_goes_after_scan() {
        let a = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            child_args(a(&["scan", "--pull", "never", "--", "img"])),
            a(&["scan", CHILD_FLAG, "--pull", "never", "--", "img"])
        );
    }

    #[test]
    fn secrets_shadow_the_environment() {
        let env = ChildEnv([("DOCKER_AUTH_CONFIG".to_string(), "{}".to_string())].into());
        assert_eq!(env.var("DOCKER_AUTH_CONFIG").as_deref(), Some("{}"));
        assert_eq!(env.var("PATH"), ProcessEnv.var("PATH"));
    }
}
