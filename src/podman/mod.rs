//! Acquiring an image with podman: log in (password on stdin), pull according to the pull
//! policy, and inspect. Nothing else in the crate runs a process.

pub mod auth;
pub mod command;

use crate::exit::{Failure, Operational};
use crate::inspect::{self, ImageInspect};
use crate::reference::{ImageRef, Transport};
use auth::{AuthFile, Credentials, Secret};
use command::{argv, Program};
use std::ffi::OsString;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    /// Always pull, even when the image is in local storage.
    Always,
    /// Pull only when `podman image exists` says the image is not in local storage.
    Missing,
    /// Never pull: scan what local storage holds, or fail.
    Never,
}

impl PullPolicy {
    pub fn name(self) -> &'static str {
        match self {
            PullPolicy::Always => "always",
            PullPolicy::Missing => "missing",
            PullPolicy::Never => "never",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AcquireOptions {
    pub pull: PullPolicy,
    pub tls_verify: Option<bool>,
    pub credentials: Credentials,
}

pub struct Podman {
    pub program: Program,
}

impl Podman {
    pub fn new(program: Program) -> Podman {
        Podman { program }
    }

    /// Make the image available in local storage; returns the name or ID to inspect.
    pub async fn acquire(&self, r: &ImageRef, opts: &AcquireOptions) -> Result<String, Failure> {
        let local = r.local_name();
        let must_be_local = r.transport == Transport::ContainersStorage || r.image_id.is_some();
        let want_pull = match (must_be_local, opts.pull) {
            (true, _) | (false, PullPolicy::Never) => false,
            (false, PullPolicy::Always) => true,
            (false, PullPolicy::Missing) => match (&local, r.transport) {
                (Some(name), Transport::Docker) => !self.exists(name).await?,
                _ => true,
            },
        };
        if want_pull {
            return self.pull(r, opts).await;
        }
        let name = local.ok_or_else(|| {
            Failure::new(Operational::PullFailed, format!("{} cannot be scanned with --pull never: it names no image in local storage", r.original))
        })?;
        if !self.exists(&name).await? {
            let why = if must_be_local { "the reference points at local storage" } else { "--pull never" };
            return Err(Failure::new(
                Operational::PullFailed,
                format!("image {name} is not in local storage and {why}, so it was not pulled"),
            ));
        }
        Ok(name)
    }

    pub async fn exists(&self, name: &str) -> Result<bool, Failure> {
        let args = argv(["image", "exists", name]);
        let out = self.run(&args, None, Operational::PullFailed).await?;
        match out.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.failed(Operational::PullFailed, &args, &out)),
        }
    }

    async fn pull(&self, r: &ImageRef, opts: &AcquireOptions) -> Result<String, Failure> {
        let tls = opts.tls_verify.map(|v| OsString::from(format!("--tls-verify={v}")));
        // The authfile lives until the end of this function, on every path.
        let authfile = if r.transport == Transport::Docker && !opts.credentials.is_empty() {
            Some(AuthFile::create(&opts.credentials).map_err(|e| Failure::new(Operational::PullFailed, e))?)
        } else {
            None
        };
        if let (Some(file), Some(registry)) = (&authfile, &r.registry) {
            let repo = r.repository.as_deref().unwrap_or("");
            if let Some(entry) = opts.credentials.for_image(registry, repo) {
                if let Secret::UserPassword { username, password } = &entry.secret {
                    let mut args = argv(["login", "--authfile"]);
                    args.push(file.path().into());
                    args.extend(argv(["--username", username.as_str(), "--password-stdin"]));
                    args.extend(tls.clone());
                    args.push(registry.into());
                    let out = self.run(&args, Some(password.as_bytes()), Operational::PullFailed).await?;
                    if !out.success() {
                        return Err(Failure::new(
                            Operational::PullFailed,
                            format!("podman login to {registry} as {username} failed: {}", out.reason()),
                        ));
                    }
                }
            }
        }
        let mut args = argv(["pull", "--quiet"]);
        if let Some(f) = &authfile {
            args.push("--authfile".into());
            args.push(f.path().into());
        }
        args.extend(tls);
        args.push(r.pull_arg().into());
        let out = self.run(&args, None, Operational::PullFailed).await?;
        if !out.success() {
            return Err(Failure::new(Operational::PullFailed, format!("podman pull {} failed: {}", r.pull_arg(), out.reason())));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ids: Vec<&str> = stdout.lines().map(str::trim).filter(|l| is_image_id(l)).collect();
        match ids.as_slice() {
            [id] => Ok(id.to_string()),
            [] => Err(Failure::new(Operational::PullFailed, format!("podman pull {} printed no image ID", r.pull_arg()))),
            _ => Err(Failure::new(
                Operational::PullFailed,
                format!("{} holds {} images; name the one to scan", r.original, ids.len()),
            )),
        }
    }

    pub async fn inspect(&self, name: &str) -> Result<ImageInspect, Failure> {
        let args = argv(["image", "inspect", name]);
        let out = self.run(&args, None, Operational::InspectFailed).await?;
        if !out.success() {
            return Err(self.failed(Operational::InspectFailed, &args, &out));
        }
        inspect::parse(&out.stdout).map_err(|e| Failure::new(Operational::InspectFailed, format!("podman image inspect {name}: {e}")))
    }

    async fn run(&self, args: &[OsString], stdin: Option<&[u8]>, kind: Operational) -> Result<command::Output, Failure> {
        self.program.run(args, stdin).await.map_err(|e| Failure::new(kind, e))
    }

    fn failed(&self, kind: Operational, args: &[OsString], out: &command::Output) -> Failure {
        // A signal is named by reason() itself.
        let code = out.code.map(|c| format!(" (exit {c})")).unwrap_or_default();
        Failure::new(kind, format!("{} failed{code}: {}", self.program.display(args), out.reason()))
    }
}

fn is_image_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
