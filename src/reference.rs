//! Image references as podman takes them: an optional transport, then for registry images
//! `[registry[:port]/]path[:tag][@digest]`. A registry port is not a tag; no tag means
//! `latest`; a digest (or an image ID) pins the image.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// A registry image (`docker://` or no transport).
    Docker,
    /// An image already in local containers-storage; never pulled.
    ContainersStorage,
    DockerArchive,
    OciArchive,
    Oci,
}

impl Transport {
    /// podman's name for the transport.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Docker => "docker",
            Transport::ContainersStorage => "containers-storage",
            Transport::DockerArchive => "docker-archive",
            Transport::OciArchive => "oci-archive",
            Transport::Oci => "oci",
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Transport::Docker => "docker://",
            Transport::ContainersStorage => "containers-storage:",
            Transport::DockerArchive => "docker-archive:",
            Transport::OciArchive => "oci-archive:",
            Transport::Oci => "oci:",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageRef {
    /// Exactly what the user gave.
    pub original: String,
    pub transport: Transport,
    /// Registry host[:port], when the reference names one.
    pub registry: Option<String>,
    /// Repository path without the registry (`ns/name`).
    pub repository: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
    /// A local image ID (64 hex digits), which pins the image like a digest.
    pub image_id: Option<String>,
    /// The file or directory of an archive/layout transport.
    pub path: Option<String>,
    /// `containers-storage:[driver@root+runroot]…`: the store the image is in.
    pub store: Option<StoreSpec>,
}

/// The store named in a `containers-storage:[…]` reference; unset parts fall back to the
/// run's own --root/--runroot/--storage-driver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreSpec {
    pub driver: Option<String>,
    pub root: Option<String>,
    pub runroot: Option<String>,
}

impl StoreSpec {
    /// `driver@root+runroot`, each part optional; `:options` is not supported.
    fn parse(spec: &str) -> Result<StoreSpec, String> {
        let (driver, rest) = match spec.split_once('@') {
            Some((d, r)) => (Some(d), r),
            None => (None, spec),
        };
        let (root, runroot) = match rest.split_once('+') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        if runroot.unwrap_or(root).contains(':') {
            return Err("storage options in a store specifier are not supported (use CONTAINERS_STORAGE_CONF)".into());
        }
        let path = |p: &str| -> Result<Option<String>, String> {
            match p {
                "" => Ok(None),
                p if p.starts_with('/') => Ok(Some(p.to_string())),
                p => Err(format!("store path {p:?} is not absolute")),
            }
        };
        let driver = match driver {
            None | Some("") => None,
            Some(d) if d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') => Some(d.to_string()),
            Some(d) => return Err(format!("malformed storage driver {d:?}")),
        };
        Ok(StoreSpec { driver, root: path(root)?, runroot: runroot.map(path).transpose()?.flatten() })
    }
}

impl ImageRef {
    pub fn parse(input: &str) -> Result<ImageRef, String> {
        let original = input.to_string();
        if input.trim() != input || input.is_empty() {
            return Err(format!("invalid image reference {input:?}: empty or surrounded by spaces"));
        }
        if input.chars().any(|c| c.is_control()) {
            return Err(format!("invalid image reference {input:?}: contains control characters"));
        }
        let mut r = ImageRef {
            original,
            transport: Transport::Docker,
            registry: None,
            repository: None,
            tag: None,
            digest: None,
            image_id: None,
            path: None,
            store: None,
        };
        if let Some(rest) = input.strip_prefix("docker://") {
            r.fill_named(rest)?;
        } else if let Some(rest) = input.strip_prefix("containers-storage:") {
            r.transport = Transport::ContainersStorage;
            // An optional `[driver@graphroot+runroot:options]` store specifier comes first.
            let rest = match rest.strip_prefix('[') {
                Some(spec) => {
                    let (spec, name) = spec
                        .split_once(']')
                        .ok_or_else(|| format!("invalid image reference {input:?}: unterminated store specifier"))?;
                    r.store =
                        Some(StoreSpec::parse(spec).map_err(|e| format!("invalid image reference {input:?}: {e}"))?);
                    name
                }
                None => rest,
            };
            r.fill_named(rest)?;
        } else if let Some((t, rest)) = split_archive(input) {
            r.transport = t;
            let (path, inner) = match rest.split_once(':') {
                Some((p, i)) => (p, Some(i)),
                None => (rest, None),
            };
            if path.is_empty() {
                return Err(format!("invalid image reference {input:?}: no path after {}", t.prefix()));
            }
            r.path = Some(path.to_string());
            match (t, inner) {
                (_, None) | (_, Some("")) => {}
                // docker-archive:PATH:@N picks by index; it carries no name.
                (Transport::DockerArchive, Some(i)) if i.starts_with('@') => {}
                (Transport::DockerArchive, Some(i)) => r.fill_named(i)?,
                // oci layouts name images by a plain reference ("tag") in their index.
                (_, Some(i)) => {
                    if i.contains('/') || i.contains(':') {
                        r.fill_named(i)?;
                    } else {
                        r.tag = Some(i.to_string());
                    }
                }
            }
        } else if input.contains("://") {
            return Err(format!("unsupported transport in image reference {input:?}"));
        } else if let Some((t, _)) = input.split_once(':').filter(|(t, _)| PODMAN_TRANSPORTS.contains(t)) {
            // podman would read `dir:x` as its dir transport, not as image `dir`, tag `x`.
            return Err(format!("unsupported transport {t}: in image reference {input:?}"));
        } else {
            r.fill_named(input)?;
        }
        Ok(r)
    }

    fn fill_named(&mut self, s: &str) -> Result<(), String> {
        let bad = |why: &str| format!("invalid image reference {:?}: {why}", self.original);
        let id = s.strip_prefix("sha256:").unwrap_or(s);
        if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            self.image_id = Some(id.to_string());
            return Ok(());
        }
        if s.len() > 255 + 128 + 80 {
            return Err(bad("too long"));
        }
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        if let Some(d) = digest {
            validate_digest(d).map_err(|e| bad(&e))?;
            self.digest = Some(d.to_string());
        }
        let last_slash = name.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
            None => (name, None),
        };
        if let Some(t) = tag {
            validate_tag(t).map_err(|e| bad(&e))?;
            self.tag = Some(t.to_string());
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                (Some(first), rest)
            }
            _ => (None, name),
        };
        if let Some(d) = domain {
            validate_domain(d).map_err(|e| bad(&e))?;
            self.registry = Some(d.to_string());
        }
        if path.is_empty() {
            return Err(bad("no repository name"));
        }
        for component in path.split('/') {
            validate_component(component).map_err(|e| bad(&e))?;
        }
        if name.len() > 255 {
            return Err(bad("name longer than 255 characters"));
        }
        self.repository = Some(path.to_string());
        Ok(())
    }

    /// `registry/repository` (or the bare repository of a short name): how RepoDigests name it.
    pub fn repo_name(&self) -> Option<String> {
        let repo = self.repository.as_ref()?;
        Some(match &self.registry {
            Some(r) => format!("{r}/{repo}"),
            None => repo.clone(),
        })
    }

    /// The tag the image is known by; `latest` when a named reference gives none.
    pub fn effective_tag(&self) -> Option<&str> {
        match (&self.tag, &self.repository) {
            (Some(t), _) => Some(t),
            (None, Some(_)) => Some("latest"),
            (None, None) => None,
        }
    }

    /// An archive or layout on disk, loaded rather than pulled.
    pub fn is_archive(&self) -> bool {
        matches!(self.transport, Transport::DockerArchive | Transport::OciArchive | Transport::Oci)
    }

    /// Pinned by content: a digest or an image ID.
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some() || self.image_id.is_some()
    }

    /// Whether this reference can be fetched from a registry at all.
    pub fn is_registry(&self) -> bool {
        self.transport == Transport::Docker && self.image_id.is_none()
    }

    /// The name podman's local-storage commands (`exists`, `inspect`) take.
    pub fn local_name(&self) -> Option<String> {
        if let Some(id) = &self.image_id {
            return Some(id.clone());
        }
        let repo = self.repository.as_ref()?;
        let mut s = String::new();
        if let Some(r) = &self.registry {
            s.push_str(r);
            s.push('/');
        }
        s.push_str(repo);
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        Some(s)
    }

    /// What `podman pull` takes: registry references without a transport prefix (podman
    /// adds docker:// itself, after short-name resolution), archive and layout references
    /// as given. A registry name that podman would read as another transport (`oci:2`,
    /// `dir:x`: image `oci`, tag `2`) keeps an explicit docker://.
    pub fn pull_arg(&self) -> String {
        match self.transport {
            Transport::Docker => {
                let name = self.local_name().unwrap_or_else(|| self.original.clone());
                let first = name.split_once(':').map(|(t, _)| t);
                if first.is_some_and(|t| PODMAN_TRANSPORTS.contains(&t)) {
                    format!("docker://{name}")
                } else {
                    name
                }
            }
            _ => self.original.clone(),
        }
    }

    /// A file-name-safe rendering of the reference, for report files.
    pub fn slug(&self) -> String {
        let base = match self.transport {
            Transport::Docker | Transport::ContainersStorage => {
                self.local_name().unwrap_or_else(|| self.original.clone())
            }
            _ => self.original.clone(),
        };
        slug(&base)
    }
}

/// Transport names podman (containers/image) recognises before the first ':' of an image
/// argument.
const PODMAN_TRANSPORTS: &[&str] = &[
    "containers-storage",
    "dir",
    "docker",
    "docker-archive",
    "docker-daemon",
    "oci",
    "oci-archive",
    "ostree",
    "sif",
    "tarball",
];

pub fn slug(s: &str) -> String {
    let mut out: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' }).collect();
    while out.starts_with('.') {
        out.replace_range(0..1, "_");
    }
    out.truncate(150);
    if out.is_empty() {
        out.push_str("image");
    }
    out
}

fn split_archive(s: &str) -> Option<(Transport, &str)> {
    for t in [Transport::DockerArchive, Transport::OciArchive, Transport::Oci] {
        if let Some(rest) = s.strip_prefix(t.prefix()) {
            return Some((t, rest));
        }
    }
    None
}

fn validate_digest(d: &str) -> Result<(), String> {
    let (algo, hex) = d.split_once(':').ok_or("digest has no algorithm")?;
    let algo_ok =
        !algo.is_empty() && algo.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
    let hex_ok = hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    if !algo_ok || !hex_ok {
        return Err(format!("malformed digest {d:?}"));
    }
    if algo == "sha256" && hex.len() != 64 {
        return Err(format!("sha256 digest must have 64 hex digits: {d:?}"));
    }
    Ok(())
}

fn validate_tag(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && t.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("malformed tag {t:?}"))
    }
}

fn validate_domain(d: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or("unterminated IPv6 address")?;
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(format!("malformed registry {d:?}"));
        }
        (h, after.strip_prefix(':'))
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b':')
        });
    let port_ok = port.map_or(true, |p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    if host_ok && port_ok {
        Ok(())
    } else {
        Err(format!("malformed registry {d:?}"))
    }
}

fn validate_component(c: &str) -> Result<(), String> {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let ok = !b.is_empty()
        && alnum(b[0])
        && alnum(b[b.len() - 1])
        && b.iter().all(|&x| alnum(x) || b"._-".contains(&x))
        && !c.contains("..")
        && !c.contains("___");
    if ok {
        Ok(())
    } else {
        Err(format!("malformed repository component {c:?} (lowercase letters, digits, '.', '_', '-')"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn p(s: &str) -> ImageRef {
        ImageRef::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn short_name_means_latest() {
        let r = p("alpine");
        assert_eq!(r.registry, None);
        assert_eq!(r.repository.as_deref(), Some("alpine"));
        assert_eq!(r.tag, None);
        assert_eq!(r.effective_tag(), Some("latest"));
        assert!(!r.is_pinned());
    }

    #[test]
    fn registry_port_is_not_a_tag() {
        let r = p("registry:5000/ns/name");
        assert_eq!(r.registry.as_deref(), Some("registry:5000"));
        assert_eq!(r.repository.as_deref(), Some("ns/name"));
        assert_eq!(r.tag, None);
        assert_eq!(r.effective_tag(), Some("latest"));

        let r = p("registry:5000/name:1.2");
        assert_eq!(r.registry.as_deref(), Some("registry:5000"));
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(r.pull_arg(), "registry:5000/name:1.2");
    }

    #[test]
    fn digests_pin() {
        let r = p(&format!("name@{D}"));
        assert_eq!(r.digest.as_deref(), Some(D));
        assert!(r.is_pinned());
        let r = p(&format!("127.0.0.1:5055/a/b:v1@{D}"));
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.registry.as_deref(), Some("127.0.0.1:5055"));
        assert!(r.is_pinned());
        assert_eq!(r.local_name().unwrap(), format!("127.0.0.1:5055/a/b:v1@{D}"));
    }

    #[test]
    fn transports() {
        let r = p("docker://quay.io/x/y:2");
        assert_eq!(r.transport, Transport::Docker);
        assert_eq!(r.registry.as_deref(), Some("quay.io"));
        assert_eq!(r.pull_arg(), "quay.io/x/y:2");

        let r = p("containers-storage:localhost/app:1");
        assert_eq!(r.transport, Transport::ContainersStorage);
        assert_eq!(r.registry.as_deref(), Some("localhost"));
        assert!(!r.is_registry());

        let r = p("containers-storage:[overlay@/var/lib/x+/run/x]app:2");
        assert_eq!(r.repository.as_deref(), Some("app"));
        assert_eq!(r.tag.as_deref(), Some("2"));
        let s = r.store.unwrap();
        assert_eq!(
            (s.driver.as_deref(), s.root.as_deref(), s.runroot.as_deref()),
            (Some("overlay"), Some("/var/lib/x"), Some("/run/x"))
        );
        let s = p("containers-storage:[/srv/store]app:2").store.unwrap();
        assert_eq!((s.driver, s.root.as_deref(), s.runroot), (None, Some("/srv/store"), None));
        let s = p("containers-storage:[vfs@]app:2").store.unwrap();
        assert_eq!(s.driver.as_deref(), Some("vfs"));

        let r = p("docker-archive:/tmp/img.tar");
        assert_eq!(r.transport, Transport::DockerArchive);
        assert_eq!(r.path.as_deref(), Some("/tmp/img.tar"));
        assert_eq!(r.effective_tag(), None);

        let r = p("docker-archive:/tmp/img.tar:example.com/app:3");
        assert_eq!(r.tag.as_deref(), Some("3"));

        let r = p("oci:/tmp/layout:v9");
        assert_eq!(r.transport, Transport::Oci);
        assert_eq!(r.tag.as_deref(), Some("v9"));

        let r = p("oci-archive:/tmp/x.tar");
        assert_eq!(r.transport, Transport::OciArchive);
    }

    #[test]
    fn registry_names_that_look_like_transports_keep_docker_prefix() {
        // Found by fuzz/fuzz_targets/reference.rs: `docker://oci:2` was pulled as `oci:2`,
        // which podman reads as the OCI layout at path "2".
        let r = p("docker://oci:2");
        assert_eq!((r.repository.as_deref(), r.tag.as_deref()), (Some("oci"), Some("2")));
        assert_eq!(r.pull_arg(), "docker://oci:2");
        assert_eq!(ImageRef::parse(&r.pull_arg()).unwrap().repository.as_deref(), Some("oci"));
        assert_eq!(p("docker://dir:x").pull_arg(), "docker://dir:x");
        assert_eq!(p("docker://docker-daemon:1").pull_arg(), "docker://docker-daemon:1");
        // Without docker://, podman would read these as its other transports: refused.
        for other in ["dir:x", "docker-daemon:app:1", "docker:1", "tarball:/x.tar", "sif:x"] {
            assert!(ImageRef::parse(other).unwrap_err().contains("unsupported transport"), "{other}");
        }
        assert_eq!(p("oci/x:2").pull_arg(), "oci/x:2");
        assert_eq!(p("alpine:3").pull_arg(), "alpine:3");
        assert_eq!(p("oci").pull_arg(), "oci");
        assert_eq!(p("127.0.0.1:5055/oci:2").pull_arg(), "127.0.0.1:5055/oci:2");
    }

    #[test]
    fn image_ids_pin() {
        let id = &D[7..];
        assert!(p(id).is_pinned());
        assert_eq!(p(D).image_id.as_deref(), Some(id));
        assert!(p(&format!("containers-storage:{id}")).is_pinned());
    }

    #[test]
    fn malformed_references_are_rejected() {
        for bad in [
            "",
            " alpine",
            "Alpine",
            "name:",
            "name:-bad",
            "name@sha256:xyz",
            "reg:99999999/x",
            "a//b",
            "http://x/y",
            "name\n",
            "docker-archive:",
            "containers-storage:[overlay@/x",
            "containers-storage:[overlay@/x+/y:mount_program=/z]app",
            "containers-storage:[relative/root]app",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn slugs_are_file_safe() {
        assert_eq!(p("127.0.0.1:5055/ns/app:1").slug(), "127.0.0.1_5055_ns_app_1");
        assert!(!slug("../../etc/passwd").contains('/'));
        assert!(!slug("..").starts_with('.'));
    }
}
