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

/// An image made available in local storage. Holds the private authfile (if any) until
/// dropped, so a follow-up registry query can use the same credentials.
pub struct Acquired {
    /// The name or ID to inspect.
    pub name: String,
    /// True when this run pulled the image from a registry.
    pub pulled: bool,
    authfile: Option<AuthFile>,
}

impl Podman {
    pub fn new(program: Program) -> Podman {
        Podman { program }
    }

    /// Make the image available in local storage.
    pub async fn acquire(&self, r: &ImageRef, opts: &AcquireOptions) -> Result<Acquired, Failure> {
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
        // Presence is established by the inspect that follows (one podman call, not two);
        // `inspect` turns "not there" into a pull failure.
        Ok(Acquired { name, pulled: false, authfile: None })
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

    async fn pull(&self, r: &ImageRef, opts: &AcquireOptions) -> Result<Acquired, Failure> {
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
            [id] => Ok(Acquired { name: id.to_string(), pulled: true, authfile }),
            [] => Err(Failure::new(Operational::PullFailed, format!("podman pull {} printed no image ID", r.pull_arg()))),
            _ => Err(Failure::new(
                Operational::PullFailed,
                format!("{} holds {} images; name the one to scan", r.original, ids.len()),
            )),
        }
    }

    /// Ask the registry which manifest digest the reference names, with the credentials the
    /// pull used (skopeo inspect; None when skopeo is missing or the query fails). Used only
    /// when local storage records several digests for the repository and cannot tell.
    pub async fn registry_digest(&self, r: &ImageRef, acquired: &Acquired, tls_verify: Option<bool>) -> Option<String> {
        let skopeo = Program::locate("skopeo", None).ok()?;
        let mut args = argv(["inspect", "--no-tags", "--format", "{{.Digest}}"]);
        if let Some(f) = &acquired.authfile {
            args.push("--authfile".into());
            args.push(f.path().into());
        }
        if let Some(v) = tls_verify {
            args.push(format!("--tls-verify={v}").into());
        }
        args.push(format!("docker://{}", r.local_name()?).into());
        let out = skopeo.run(&args, None).await.ok()?;
        let d = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.success() && d.starts_with("sha256:")).then_some(d)
    }

    pub async fn inspect(&self, name: &str) -> Result<ImageInspect, Failure> {
        let args = argv(["image", "inspect", name]);
        let out = self.run(&args, None, Operational::InspectFailed).await?;
        if !out.success() {
            // A missing image is an acquisition failure (20), anything else an inspect failure.
            if !self.exists(name).await? {
                return Err(Failure::new(
                    Operational::PullFailed,
                    format!("image {name} is not in local storage and was not pulled (--pull never, or a local-storage reference)"),
                ));
            }
            return Err(self.failed(Operational::InspectFailed, &args, &out));
        }
        inspect::parse(&out.stdout).map_err(|e| Failure::new(Operational::InspectFailed, format!("podman image inspect {name}: {e}")))
    }

    async fn run(&self, args: &[OsString], stdin: Option<&[u8]>, kind: Operational) -> Result<command::Output, Failure> {
        self.program.run(args, stdin).await.map_err(|e| Failure::new(kind, e))
    }

    fn failed(&self, kind: Operational, args: &[OsString], out: &command::Output) -> Failure {
        let code = out.code.map(|c| c.to_string()).unwrap_or_else(|| "signal".into());
        Failure::new(kind, format!("{} failed (exit {code}): {}", self.program.display(args), out.reason()))
    }
}

fn is_image_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
