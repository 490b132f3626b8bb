//! Acquiring an image with podman: log in (password on stdin), pull according to the pull
//! policy, and inspect. Nothing else in the crate runs a process.

pub mod info;
pub mod private_store;

use crate::auth::{AuthFile, Credentials, Secret};
use crate::command::{self, argv, Program};
use crate::exit::Failure;
use crate::inspect::{self, ImageInspect};
use crate::model::{ErrorKind, StoreOptions};
use crate::platform::Platform;
use crate::reference::{ImageRef, Transport};
use std::ffi::OsString;
use std::path::PathBuf;

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
    pub platform: Option<Platform>,
}

/// podman refuses a --runroot longer than this ("the specified runroot is longer than 50
/// characters").
pub const MAX_RUNROOT: usize = 50;

// The store options are report data (the model states them); how podman is told them is
// podman's business, so their methods live here.
impl StoreOptions {
    /// These options with what a `containers-storage:[…]` reference names instead.
    pub fn overridden_by(&self, spec: &crate::reference::StoreSpec) -> StoreOptions {
        StoreOptions {
            root: spec.root.as_ref().map(PathBuf::from).or_else(|| self.root.clone()),
            runroot: spec.runroot.as_ref().map(PathBuf::from).or_else(|| self.runroot.clone()),
            driver: spec.driver.clone().or_else(|| self.driver.clone()),
        }
    }

    /// podman's global options for this store, placed before the subcommand.
    pub fn globals(&self) -> Vec<OsString> {
        let mut v = Vec::new();
        if let Some(r) = &self.root {
            v.push("--root".into());
            v.push(r.into());
        }
        if let Some(r) = &self.runroot {
            v.push("--runroot".into());
            v.push(r.into());
        }
        if let Some(d) = &self.driver {
            v.push("--storage-driver".into());
            v.push(d.into());
        }
        v
    }
}

pub struct Podman {
    pub program: Program,
}

/// An image made available in local storage, inspected. Holds the private authfile (if
/// any) until dropped, so a follow-up registry query can use the same credentials.
pub struct Acquired {
    pub image: ImageInspect,
    authfile: Option<AuthFile>,
}

impl Acquired {
    /// The inspected image; drops (removes) the authfile.
    pub fn into_image(self) -> ImageInspect {
        self.image
    }
}

impl Podman {
    pub fn new(program: Program) -> Podman {
        Podman { program }
    }

    /// The same podman working on another store.
    pub fn with_store(&self, store: &StoreOptions) -> Podman {
        Podman { program: Program { path: self.program.path.clone(), global: store.globals() } }
    }

    /// Make the image available in local storage and inspect it. Archives are always
    /// loaded (the caller points this Podman at a private store for them); registry images
    /// follow the pull policy. With --platform the image scanned must be that platform: a
    /// local copy of another platform is pulled again under `missing`, an error otherwise.
    pub async fn acquire(&self, r: &ImageRef, opts: &AcquireOptions) -> Result<Acquired, Failure> {
        let local = r.local_name();
        let must_be_local = r.transport == Transport::ContainersStorage || r.image_id.is_some();
        let want_pull = match (r.is_archive(), must_be_local, opts.pull) {
            (true, _, _) => true,
            (false, true, _) | (false, false, PullPolicy::Never) => false,
            (false, false, PullPolicy::Always) => true,
            (false, false, PullPolicy::Missing) => match (&local, r.transport) {
                (Some(name), Transport::Docker) => !self.exists(name).await?,
                _ => true,
            },
        };
        if want_pull {
            return self.pull_and_inspect(r, opts).await;
        }
        let name = local.ok_or_else(|| {
            Failure::new(
                ErrorKind::PullFailed,
                format!("{} cannot be scanned with --pull never: it names no image in local storage", r.original),
            )
        })?;
        let why = if must_be_local { "the reference points at local storage" } else { "--pull never" };
        // One podman call: the inspect establishes presence, and turns "not there" into a
        // pull failure.
        let image = self.inspect(&name).await?;
        match &opts.platform {
            Some(p) if !p.matches(&image.os, &image.architecture, &image.variant) => {
                if opts.pull == PullPolicy::Missing && !must_be_local {
                    return self.pull_and_inspect(r, opts).await;
                }
                Err(Failure::new(
                    ErrorKind::PullFailed,
                    format!(
                        "image {name} in local storage is {}, not the requested {p}, and it was not pulled ({why})",
                        crate::platform::describe(&image.os, &image.architecture, &image.variant)
                    ),
                ))
            }
            _ => Ok(Acquired { image, authfile: None }),
        }
    }

    async fn pull_and_inspect(&self, r: &ImageRef, opts: &AcquireOptions) -> Result<Acquired, Failure> {
        let (id, authfile) = self.pull(r, opts).await?;
        let image = self.inspect(&id).await?;
        if let Some(p) = &opts.platform {
            // podman only warns when the image it found is another platform.
            if !p.matches(&image.os, &image.architecture, &image.variant) {
                return Err(Failure::new(
                    ErrorKind::PullFailed,
                    format!(
                        "podman pull --platform {p} {} gave a {} image: the image has no {p} variant",
                        r.pull_arg(),
                        crate::platform::describe(&image.os, &image.architecture, &image.variant)
                    ),
                ));
            }
        }
        Ok(Acquired { image, authfile })
    }

    pub async fn exists(&self, name: &str) -> Result<bool, Failure> {
        let args = argv(["image", "exists", name]);
        let out = self.run(&args, None, ErrorKind::PullFailed).await?;
        match out.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.failed(ErrorKind::PullFailed, &args, &out)),
        }
    }

    /// Pull; returns the image ID and the authfile used (kept alive for the caller).
    async fn pull(&self, r: &ImageRef, opts: &AcquireOptions) -> Result<(String, Option<AuthFile>), Failure> {
        let tls = opts.tls_verify.map(|v| OsString::from(format!("--tls-verify={v}")));
        // The authfile lives until the end of this function, on every path.
        let authfile = if r.transport == Transport::Docker && !opts.credentials.is_empty() {
            Some(AuthFile::create(&opts.credentials).map_err(|e| Failure::new(ErrorKind::PullFailed, e))?)
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
                    let out = self.run(&args, Some(password.as_bytes()), ErrorKind::PullFailed).await?;
                    if !out.success() {
                        return Err(Failure::new(
                            ErrorKind::PullFailed,
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
        if let Some(p) = &opts.platform {
            args.push("--platform".into());
            args.push(p.to_string().into());
        }
        args.push(r.pull_arg().into());
        let out = self.run(&args, None, ErrorKind::PullFailed).await?;
        if !out.success() {
            return Err(Failure::new(
                ErrorKind::PullFailed,
                format!("podman pull {} failed: {}", r.pull_arg(), out.reason()),
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let ids: Vec<&str> = stdout.lines().map(str::trim).filter(|l| is_image_id(l)).collect();
        match ids.as_slice() {
            [id] => Ok((id.to_string(), authfile)),
            [] => Err(Failure::new(ErrorKind::PullFailed, format!("podman pull {} printed no image ID", r.pull_arg()))),
            _ => Err(Failure::new(
                ErrorKind::PullFailed,
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
        let out = self.run(&args, None, ErrorKind::InspectFailed).await?;
        if !out.success() {
            // A missing image is an acquisition failure (20), anything else an inspect failure.
            if !self.exists(name).await? {
                return Err(Failure::new(
                    ErrorKind::PullFailed,
                    format!(
                        "image {name} is not in local storage and was not pulled \
                         (--pull never, or a local-storage reference)"
                    ),
                ));
            }
            return Err(self.failed(ErrorKind::InspectFailed, &args, &out));
        }
        inspect::parse(&out.stdout)
            .map_err(|e| Failure::new(ErrorKind::InspectFailed, format!("podman image inspect {name}: {e}")))
    }

    /// The store podman uses, for drivers whose layer directories inspect does not give.
    pub async fn store_info(&self) -> Result<info::StoreInfo, Failure> {
        let args = argv(["info", "--format", "json"]);
        let out = self.run(&args, None, ErrorKind::CheckError).await?;
        if !out.success() {
            return Err(self.failed(ErrorKind::CheckError, &args, &out));
        }
        info::parse(&out.stdout).map_err(|e| Failure::new(ErrorKind::CheckError, e))
    }

    async fn run(&self, args: &[OsString], stdin: Option<&[u8]>, kind: ErrorKind) -> Result<command::Output, Failure> {
        self.program.run(args, stdin).await.map_err(|e| Failure::new(kind, e))
    }

    fn failed(&self, kind: ErrorKind, args: &[OsString], out: &command::Output) -> Failure {
        // A signal is named by reason() itself.
        let code = out.code.map(|c| format!(" (exit {c})")).unwrap_or_default();
        Failure::new(kind, format!("{} failed{code}: {}", self.program.display(args), out.reason()))
    }
}

fn is_image_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}
