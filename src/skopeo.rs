//! Acquiring an image with no image store and no privileges: `skopeo copy` puts the
//! manifest, config and layer blobs of one image from a registry (or a `docker-archive:`,
//! `oci-archive:` or `oci:` archive) into a private OCI layout, and [`crate::oci`] reads it.
//!
//! Why `skopeo copy` and not `skopeo experimental-image-proxy`: Debian 12's skopeo 1.9.3
//! speaks proxy protocol 0.2.3 (no GetRawBlob, GetLayerInfo, OpenImageOptional; FinishPipe
//! holds the proxy's lock until that blob is fully copied), and fetching the same two-layer
//! 192 MB image from the local registry took the same time both ways (medians of 5 alternating
//! runs: copy 812 ms, proxy with all blobs in parallel 817 ms, proxy one blob at a time
//! 886 ms). The copy gives what the proxy cannot: blobs shared by every image of a run
//! (`--dest-shared-blob-dir`: a base layer is fetched once, a second fetch of an image already
//! there takes 20 ms), plain files the tar reader can read in parallel, no extra crate, and
//! skopeo's own exit status and message for every failure.
//!
//! What each fetch runs (argv only; the password is never in it, nor in the environment):
//!
//! ```text
//! skopeo [--registries-conf C] inspect --raw [--authfile F] [--tls-verify=B] docker://REG/REPO[:TAG]   (registry, not pinned)
//! skopeo [--registries-conf C] [--override-os OS --override-arch ARCH [--override-variant V]] --tmpdir CACHE/tmp \
//!     copy --quiet --remove-signatures --preserve-digests --dest-oci-accept-uncompressed-layers \
//!     --dest-shared-blob-dir CACHE/blobs [--src-authfile F] [--src-tls-verify=B] \
//!     SOURCE oci:CACHE/images/N
//! ```
//!
//! - A registry reference is first resolved to its manifest digest (`inspect --raw`, hashed
//!   here), then copied by that digest: the image read is exactly the one whose digest is
//!   reported, even if the tag moves meanwhile. `--preserve-digests` keeps a Docker v2s2
//!   manifest and config as they are (skopeo 1.9.3 stores them in the OCI layout); without
//!   it the copy converts them to OCI, which drops the config's Healthcheck.
//!   For a multi-arch image that digest is the index's, as podman records it.
//! - `--src-authfile` is the private authfile built from the CI variables (`AuthFile`,
//!   0600 in a 0700 directory, removed when the fetch returns); without credentials no
//!   authfile is passed, so skopeo uses the user's own (`REGISTRY_AUTH_FILE`,
//!   `$XDG_RUNTIME_DIR/containers/auth.json`, docker's config) as podman would.
//! - registries.conf as podman reads it: skopeo 1.9.3 ignores `CONTAINERS_REGISTRIES_CONF`
//!   (its debug log shows it loading /etc/containers/registries.conf regardless), so when the
//!   variable is set it is passed as `--registries-conf PATH` (a global option); otherwise
//!   skopeo's default lookup (~/.config/containers/registries.conf, else /etc/containers/
//!   registries.conf, plus registries.conf.d) is podman's too. Verified by the tests below
//!   with a mirror (a prefix on a registry that does not exist, mirrored to the test
//!   registry, is fetched from the mirror with the mirror's credentials) and a blocked
//!   registry (refused with skopeo's "blocked" message, pull-failed). A short name (no
//!   registry) is refused: skopeo does no short-name resolution, podman does.
//! - `--dest-oci-accept-uncompressed-layers`: otherwise skopeo gzips every uncompressed layer
//!   (a docker archive) on the way in, or silently substitutes compressed blobs it remembers
//!   from its blob-info cache.
//! - `--remove-signatures`: an OCI layout cannot store signatures, and the signature policy
//!   (`policy.json`) is still enforced on the source before they are dropped.
//! - `--tmpdir` inside the private directory: skopeo extracts an `oci-archive:` (and
//!   decompresses a compressed `docker-archive:`) to a temporary directory, `/var/tmp` by
//!   default, which a killed run would leave behind.
//! - A docker archive's layers are plain tars, yet its v2s2 manifest (and so skopeo's OCI
//!   conversion) labels them `tar+gzip`: [`LayerBlob::compression`] is what the blob's first
//!   bytes say, not the label.
//! - Blob digests are verified by skopeo as it copies; [`crate::oci`] checks sizes and the
//!   manifest's and config's digests.
//! - Images of a run fetched at the same moment that share a base layer download it once:
//!   the manifest from `inspect --raw` names the layers, a fetch claims those neither in the
//!   cache nor claimed yet and waits for the others' fetches to end ([`BlobCache::claim`]),
//!   then its `skopeo copy` finds them in the shared blob directory and skips them. (skopeo
//!   writes each blob to a temporary file and renames it, so a blob file that exists is
//!   whole.)

use crate::auth::{AuthFile, Credentials, Secret};
use crate::command::{self, argv, Program};
use crate::exit::Failure;
use crate::fsutil::PrivateDir;
use crate::inspect::ImageInspect;
use crate::model::ErrorKind;
use crate::oci::{self, LayerBlob};
use crate::podman::AcquireOptions;
use crate::reference::{ImageRef, Transport};
use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use tokio::sync::watch;

pub struct Skopeo {
    program: Program,
    /// `--registries-conf`: skopeo 1.9.3 ignores `CONTAINERS_REGISTRIES_CONF` (podman reads
    /// it), so it is passed explicitly.
    registries_conf: Option<PathBuf>,
}

/// A run-wide private directory (0700, removed on drop and by [`crate::fsutil::remove_live_private_dirs`] on
/// SIGINT/SIGTERM) holding the blobs every image of the run shares and one OCI layout per
/// image. Layer blob paths handed out stay valid while it lives.
pub struct BlobCache {
    dir: PrivateDir,
    next: AtomicUsize,
    /// Layer blobs some fetch of this run is downloading, by digest: the sender is dropped
    /// when that fetch ends. Images built on one base and fetched at the same time would
    /// otherwise each download the base.
    in_flight: Mutex<HashMap<String, watch::Receiver<()>>>,
}

/// How long one base-image inspection may take (`skopeo --command-timeout`).
pub const BASE_INSPECT_TIMEOUT_SECS: u32 = 30;

/// The layer blobs one fetch downloads: waiters are released when it is dropped, whether the
/// fetch succeeded or not (a waiter then finds the blob missing and fetches it itself).
pub struct BlobClaim {
    _done: Option<watch::Sender<()>>,
}

impl BlobCache {
    /// A fresh cache in the temporary directory (`TMPDIR`, else /tmp).
    pub fn create() -> Result<BlobCache, String> {
        BlobCache::create_in(&std::env::temp_dir())
    }

    pub fn create_in(parent: &Path) -> Result<BlobCache, String> {
        let private = std::fs::Permissions::from_mode(0o700);
        let dir = PrivateDir::create_in(parent, "oci-compliance-blobs-")
            .map_err(|e| format!("cannot create a private directory for image blobs in {}: {e}", parent.display()))?;
        // skopeo reads `oci:PATH:NAME`: a ':' in the path would be taken for a name.
        if dir.path().as_os_str().as_encoded_bytes().contains(&b':') {
            return Err(format!(
                "the temporary directory {} contains ':', which skopeo cannot take in an oci: path; set TMPDIR",
                dir.path().display()
            ));
        }
        for sub in ["blobs", "images", "tmp"] {
            let p = dir.path().join(sub);
            std::fs::create_dir(&p)
                .and_then(|_| std::fs::set_permissions(&p, private.clone()))
                .map_err(|e| format!("cannot create {}: {e}", p.display()))?;
        }
        Ok(BlobCache { dir, next: AtomicUsize::new(0), in_flight: Mutex::default() })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The blob directory shared by all layouts (`sha256/HEX` files).
    pub fn blob_dir(&self) -> PathBuf {
        self.dir.path().join("blobs")
    }

    /// skopeo's own temporary files (an extracted oci-archive).
    fn tmp_dir(&self) -> PathBuf {
        self.dir.path().join("tmp")
    }

    /// Claim the blobs of `digests` that are neither here nor being fetched, and wait for the
    /// ones another fetch of this run claimed first. A claim only ever waits for earlier
    /// claims, so fetches cannot wait for each other in a circle.
    pub async fn claim(&self, digests: &[String]) -> BlobClaim {
        let (tx, rx) = watch::channel(());
        let mut waits = Vec::new();
        let mut claimed = false;
        {
            let mut in_flight = self.in_flight.lock().expect("not poisoned");
            for d in digests {
                let Some(path) = self.blob_path(d) else { continue };
                match in_flight.get(d) {
                    // Its fetcher is still at it.
                    Some(other) if other.has_changed().is_ok() => waits.push(other.clone()),
                    _ if path.exists() => {}
                    _ => {
                        in_flight.insert(d.clone(), rx.clone());
                        claimed = true;
                    }
                }
            }
        }
        for mut w in waits {
            // Err: that fetch ended (its sender dropped), which is all we wait for.
            while w.changed().await.is_ok() {}
        }
        BlobClaim { _done: claimed.then_some(tx) }
    }

    /// Where the blob of `digest` lives once fetched; None for a digest that is not a safe
    /// `algorithm:hex` name.
    fn blob_path(&self, digest: &str) -> Option<PathBuf> {
        let (alg, hex) = digest.split_once(':')?;
        let safe = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
        (safe(alg) && safe(hex)).then(|| self.blob_dir().join(alg).join(hex))
    }

    /// A new, not yet existing, layout directory for one image.
    fn new_layout(&self) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        self.dir.path().join("images").join(n.to_string())
    }
}

/// One image fetched: its config as podman would inspect it, and its layer blobs in order.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// `Id` is the config digest hex (podman's image ID). `Digest` is the registry's manifest
    /// digest for registry sources (the index's for a multi-arch image; `RepoDigests` and
    /// `RepoTags` name it as podman would), the digest of the manifest in the layout for
    /// archives (a docker archive has none of its own: that of skopeo's OCI conversion).
    /// `Size` is the sum of the blob sizes (compressed).
    pub image: ImageInspect,
    /// Bottom layer first; the files live in the [`BlobCache`].
    pub layers: Vec<LayerBlob>,
    /// The manifest in the layout (after skopeo's conversion to OCI, if any).
    pub manifest_digest: String,
    /// The tag the archive records ([`oci::archive_tag`]); None for registry sources.
    pub archive_tag: Option<String>,
    /// What skopeo copied from (a registry reference pinned by digest, or the archive as given).
    pub source: String,
    /// This image's OCI layout directory.
    pub layout: PathBuf,
}

impl Skopeo {
    /// skopeo run as `program`, with the registries.conf podman would use
    /// (`CONTAINERS_REGISTRIES_CONF` when set, else skopeo's own default lookup).
    pub fn new(program: Program) -> Skopeo {
        let registries_conf =
            std::env::var_os("CONTAINERS_REGISTRIES_CONF").filter(|v| !v.is_empty()).map(PathBuf::from);
        Skopeo { program, registries_conf }
    }

    /// Use this registries.conf (None: skopeo's default lookup).
    pub fn with_registries_conf(mut self, path: Option<PathBuf>) -> Skopeo {
        self.registries_conf = path;
        self
    }

    /// Global options placed before the subcommand.
    fn globals(&self) -> Vec<OsString> {
        match &self.registries_conf {
            Some(p) => vec!["--registries-conf".into(), p.into()],
            None => Vec::new(),
        }
    }

    /// skopeo from PATH, or the given path.
    pub fn locate(explicit: Option<PathBuf>) -> Result<Skopeo, String> {
        Program::locate("skopeo", explicit).map(Skopeo::new)
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Fetch one image into a layout of `cache` and read it. Registry unreachable,
    /// authentication refused, image or platform not found → PullFailed with skopeo's reason;
    /// a manifest or config that cannot be used → InspectFailed. No message holds a secret.
    pub async fn fetch(&self, cache: &BlobCache, r: &ImageRef, opts: &AcquireOptions) -> Result<Fetched, Failure> {
        let pull_failed = |m: String| Failure::new(ErrorKind::PullFailed, m);
        let registry = r.transport == Transport::Docker;
        match r.transport {
            Transport::ContainersStorage => {
                return Err(pull_failed(format!(
                    "{} is an image in local containers-storage: it is scanned from storage, not fetched",
                    r.original
                )))
            }
            Transport::Docker if r.image_id.is_some() => {
                return Err(pull_failed(format!(
                    "{} is a local image ID: it is scanned from storage, not fetched",
                    r.original
                )))
            }
            Transport::Docker if r.registry.is_none() => {
                return Err(pull_failed(format!(
                    "{} is a short name: fetching from a registry needs the registry in the reference \
                     (e.g. docker.io/library/{}), as skopeo does not resolve short names",
                    r.original,
                    r.repository.as_deref().unwrap_or("NAME")
                )))
            }
            _ => {}
        }
        // Lives until this function returns, on every path.
        let authfile = match registry && !opts.credentials.is_empty() {
            true => Some(AuthFile::create(&opts.credentials).map_err(pull_failed)?),
            false => None,
        };
        let tls = if registry { opts.tls_verify } else { None };
        let mut layer_digests = Vec::new();
        let (source, registry_digest) = if registry {
            let repo = r.repo_name().unwrap_or_default();
            let digest = match &r.digest {
                Some(d) => d.clone(),
                None => {
                    let name = format!("docker://{}", r.local_name().unwrap_or_default());
                    let (digest, raw) = self.registry_digest(&name, authfile.as_ref(), tls, &opts.credentials).await?;
                    layer_digests = manifest_layers(&raw);
                    digest
                }
            };
            (format!("docker://{repo}@{digest}"), Some(digest))
        } else {
            (r.original.clone(), None)
        };
        // Held until the copy ends, on every path.
        let claim = cache.claim(&layer_digests).await;

        let layout = cache.new_layout();
        let mut args = self.globals();
        if let Some(p) = &opts.platform {
            args.extend(argv(["--override-os", p.os.as_str(), "--override-arch", p.arch.as_str()]));
            if let Some(v) = &p.variant {
                args.extend(argv(["--override-variant", v.as_str()]));
            }
        }
        args.push("--tmpdir".into());
        args.push(cache.tmp_dir().into());
        args.extend(argv([
            "copy",
            "--quiet",
            "--remove-signatures",
            // Unconverted: turning a docker manifest into an OCI one drops the config's
            // Healthcheck (and changes the digests), so the scan would not see what podman does.
            "--preserve-digests",
            "--dest-oci-accept-uncompressed-layers",
            "--dest-shared-blob-dir",
        ]));
        args.push(cache.blob_dir().into());
        if let Some(f) = &authfile {
            args.push("--src-authfile".into());
            args.push(f.path().into());
        }
        if let Some(v) = tls {
            args.push(format!("--src-tls-verify={v}").into());
        }
        args.push(source.clone().into());
        let mut dest = OsString::from("oci:");
        dest.push(&layout);
        args.push(dest);
        let out = self.run(&args).await?;
        drop(claim);
        if !out.success() {
            let reason = redact(&reason(&out), &opts.credentials);
            return Err(Failure::new(classify(&reason), format!("skopeo copy {source} failed: {reason}")));
        }
        drop(authfile);

        let read = oci::read_layout(&layout, Some(&cache.blob_dir()), None)
            .map_err(|f| Failure::new(f.kind, format!("{}: {}", r.original, f.message)))?;
        let mut image = read.inspect;
        if let Some(p) = &opts.platform {
            // skopeo applies --override-* only to choose in an index; a single image is copied
            // whatever its platform.
            if !p.matches(&image.os, &image.architecture, &image.variant) {
                return Err(pull_failed(format!(
                    "{} is a {} image, not the requested {p}: the image has no {p} variant",
                    r.original,
                    crate::platform::describe(&image.os, &image.architecture, &image.variant)
                )));
            }
        }
        let archive_tag = match registry {
            true => None,
            false => {
                let r = r.clone();
                tokio::task::spawn_blocking(move || oci::archive_tag(&r)).await.ok().flatten()
            }
        };
        if let (Some(digest), Some(repo)) = (&registry_digest, r.repo_name()) {
            image.digest = digest.clone();
            image.repo_digests = vec![format!("{repo}@{digest}")];
            // As podman records a pull: by digest alone, no tag.
            image.repo_tags = match (&r.tag, &r.digest) {
                (Some(t), _) => vec![format!("{repo}:{t}")],
                (None, None) => vec![format!("{repo}:latest")],
                (None, Some(_)) => Vec::new(),
            };
        }
        Ok(Fetched { image, layers: read.layers, manifest_digest: read.manifest_digest, archive_tag, source, layout })
    }

    /// The digest of the manifest a registry reference names (`skopeo inspect --raw`, the
    /// exact bytes hashed here): for a multi-arch image, the index's.
    async fn registry_digest(
        &self,
        name: &str,
        authfile: Option<&AuthFile>,
        tls: Option<bool>,
        creds: &Credentials,
    ) -> Result<(String, Vec<u8>), Failure> {
        let mut args = self.globals();
        args.extend(argv(["inspect", "--raw"]));
        if let Some(f) = authfile {
            args.push("--authfile".into());
            args.push(f.path().into());
        }
        if let Some(v) = tls {
            args.push(format!("--tls-verify={v}").into());
        }
        args.push(name.into());
        let out = self.run(&args).await?;
        if !out.success() {
            let reason = redact(&reason(&out), creds);
            return Err(Failure::new(classify(&reason), format!("skopeo inspect {name} failed: {reason}")));
        }
        if out.stdout.is_empty() || out.stdout.len() > 4 << 20 {
            return Err(Failure::new(
                ErrorKind::InspectFailed,
                format!("skopeo inspect {name} gave a manifest of {} bytes", out.stdout.len()),
            ));
        }
        Ok((format!("sha256:{}", crate::sha256::hex(&out.stdout)), out.stdout))
    }

    /// The diff IDs of an image's layers, from its config alone (`skopeo inspect --config`:
    /// the manifest and config, no layer blob), with the run's credentials and TLS setting;
    /// from an index, the image of `platform` (os, arch, variant). For a base image.
    pub async fn layer_diff_ids(
        &self,
        r: &ImageRef,
        opts: &AcquireOptions,
        platform: (&str, &str, &str),
    ) -> Result<Vec<String>, Failure> {
        let registry = r.transport == Transport::Docker;
        let name = match r.transport {
            Transport::Docker if r.registry.is_some() && r.image_id.is_none() => {
                format!("docker://{}", r.local_name().unwrap_or_default())
            }
            Transport::Docker | Transport::ContainersStorage => {
                return Err(Failure::new(
                    ErrorKind::PullFailed,
                    format!(
                        "{} cannot be inspected in a registry: it is a short name or a local image",
                        crate::escape::text(&r.original)
                    ),
                ))
            }
            _ => r.original.clone(),
        };
        let authfile = match registry && !opts.credentials.is_empty() {
            true => Some(AuthFile::create(&opts.credentials).map_err(|e| Failure::new(ErrorKind::PullFailed, e))?),
            false => None,
        };
        let mut args = self.globals();
        // A base named by an annotation may sit in a registry this network cannot reach (an
        // air-gapped runner, docker.io dropped by a firewall): bounded, then the history decides.
        args.push(format!("--command-timeout={}s", BASE_INSPECT_TIMEOUT_SECS).into());
        let (os, arch, variant) = platform;
        if !os.is_empty() && !arch.is_empty() {
            args.extend(argv(["--override-os", os, "--override-arch", arch]));
            if !variant.is_empty() {
                args.extend(argv(["--override-variant", variant]));
            }
        }
        args.extend(argv(["inspect", "--config"]));
        if let Some(f) = &authfile {
            args.push("--authfile".into());
            args.push(f.path().into());
        }
        if let (true, Some(v)) = (registry, opts.tls_verify) {
            args.push(format!("--tls-verify={v}").into());
        }
        args.push(name.clone().into());
        let out = self.run(&args).await?;
        if !out.success() {
            let reason = redact(&reason(&out), &opts.credentials);
            return Err(Failure::new(classify(&reason), format!("skopeo inspect --config {name} failed: {reason}")));
        }
        #[derive(serde::Deserialize)]
        struct Config {
            rootfs: RootFs,
        }
        #[derive(serde::Deserialize)]
        struct RootFs {
            diff_ids: Vec<String>,
        }
        serde_json::from_slice::<Config>(&out.stdout).map(|c| c.rootfs.diff_ids).map_err(|e| {
            Failure::new(ErrorKind::InspectFailed, format!("skopeo inspect --config {name}: not an image config: {e}"))
        })
    }

    async fn run(&self, args: &[OsString]) -> Result<command::Output, Failure> {
        self.program.run(args, None).await.map_err(|e| Failure::new(ErrorKind::PullFailed, e))
    }
}

/// skopeo's own explanation: the message of its final `level=fatal msg="…"` log line
/// (unquoted), else the last lines of stderr; controls escaped.
/// The layer digests of a single-image manifest (Docker v2s2 or OCI); none for an index,
/// whose image manifest skopeo chooses, or for anything unparsable (skopeo then reports it).
fn manifest_layers(raw: &[u8]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        #[serde(default)]
        layers: Vec<Layer>,
    }
    #[derive(serde::Deserialize)]
    struct Layer {
        digest: String,
    }
    serde_json::from_slice::<Manifest>(raw)
        .map(|m| m.layers.into_iter().map(|l| l.digest).collect())
        .unwrap_or_default()
}

fn reason(out: &command::Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let fatal = text.lines().rev().find(|l| l.contains("level=fatal")).and_then(logrus_msg);
    match (fatal, out.signal) {
        (Some(m), None) => crate::escape::text(&m),
        _ => out.reason(),
    }
}

/// The value of `msg="…"` in a logrus text line, with Go's quoting undone.
fn logrus_msg(line: &str) -> Option<String> {
    let start = line.find("msg=\"")? + 5;
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                c => out.push(c),
            },
            c => out.push(c),
        }
    }
    None
}

/// A reason that says the manifest or config is unusable (21) rather than unavailable (20).
fn classify(reason: &str) -> ErrorKind {
    let r = reason.to_ascii_lowercase();
    let unusable = [
        "unsupported manifest",
        "unsupported docker v2s1",
        "unmarshaling",
        "unmarshalling",
        "parsing manifest",
        "invalid manifest",
        "unknown media type",
        "unsupported mime type",
        "invalid config",
        "error parsing config",
    ];
    if !r.contains("manifest unknown") && unusable.iter().any(|p| r.contains(p)) {
        ErrorKind::InspectFailed
    } else {
        ErrorKind::PullFailed
    }
}

/// Belt and braces: no secret of the run appears in a message, whatever a child printed.
fn redact(msg: &str, creds: &Credentials) -> String {
    let mut out = msg.to_string();
    for e in creds.entries.iter().chain(creds.ci_registry.iter()) {
        let secrets: Vec<String> = match &e.secret {
            Secret::UserPassword { username, password } => {
                use base64::Engine;
                let basic = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                vec![password.clone(), basic]
            }
            Secret::IdentityToken(t) => vec![t.clone()],
        };
        for s in secrets.iter().filter(|s| s.len() >= 4) {
            out = out.replace(s.as_str(), "<redacted>");
        }
    }
    out
}

#[cfg(test)]
mod tests;
