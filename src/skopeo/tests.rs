//! Unit tests of the message handling, and integration tests with the real skopeo, the
//! authenticated local registry of `tests/env/setup.sh` (source its env file first) and
//! images built here with buildah in a private vfs store. These never skip: a missing
//! environment fails loudly.

use super::*;
use crate::auth::AuthEntry;
use crate::platform::Platform;
use crate::podman::PullPolicy;
use std::process::Command;
use std::sync::OnceLock;

// --- messages ----------------------------------------------------------------------------

#[test]
fn skopeo_fatal_lines_give_the_reason() {
    let out = command::Output {
        code: Some(1),
        signal: None,
        stdout: Vec::new(),
        stderr: br#"time="2026-11-30T19:34:35Z" level=warning msg="retrying"
time="2026-11-30T19:34:35Z" level=fatal msg="initializing source docker://r/x:1: reading manifest 1 in r/x: manifest unknown: \"x\"\tmanifest unknown""#
            .to_vec(),
    };
    assert_eq!(
        reason(&out),
        "initializing source docker://r/x:1: reading manifest 1 in r/x: manifest unknown: \"x\"\\x09manifest unknown"
    );
    let plain = command::Output { code: Some(1), signal: None, stdout: Vec::new(), stderr: b"boom\n".to_vec() };
    assert_eq!(reason(&plain), "boom");
    let killed =
        command::Output { code: None, signal: Some(9), stdout: Vec::new(), stderr: b"level=fatal msg=\"x\"".to_vec() };
    assert!(reason(&killed).starts_with("killed by signal 9"));
    assert_eq!(logrus_msg("level=fatal msg=\"unterminated"), None);
}

#[test]
fn unusable_manifests_are_told_apart_from_missing_images() {
    for r in [
        "reading manifest 1 in r/x: manifest unknown: manifest unknown",
        "pinging container registry r: connection refused",
        "unauthorized: authentication required",
        "no image found in image index for architecture s390x",
        "registry r is blocked in registries.conf",
    ] {
        assert_eq!(classify(r), ErrorKind::PullFailed, "{r}");
    }
    for r in ["unsupported manifest type application/x", "unmarshaling JSON: invalid character", "parsing manifest: x"]
    {
        assert_eq!(classify(r), ErrorKind::InspectFailed, "{r}");
    }
}

#[test]
fn secrets_are_redacted_from_messages() {
    let creds = ci_creds("reg:5000", "alice", "hunter22");
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode("alice:hunter22")
    };
    let msg = redact(&format!("bad hunter22 and {basic} for alice"), &creds);
    assert_eq!(msg, "bad <redacted> and <redacted> for alice");
}

#[test]
fn the_cache_is_private_and_removed_on_drop_or_signal() {
    let cache = BlobCache::create().unwrap();
    let dir = cache.path().to_path_buf();
    for d in [dir.clone(), cache.blob_dir(), cache.tmp_dir(), dir.join("images")] {
        assert_eq!(std::fs::metadata(&d).unwrap().permissions().mode() & 0o777, 0o700, "{}", d.display());
    }
    let a = cache.new_layout();
    assert_ne!(a, cache.new_layout());
    assert!(a.starts_with(dir.join("images")));
    std::fs::write(cache.blob_dir().join("x"), b"x").unwrap();
    drop(cache);
    assert!(!dir.exists());
    assert!(!crate::fsutil::is_live_private_dir(&dir));

    // The signal path removes what is listed while its owner lives (fsutil::remove_live_private_dirs()
    // itself would remove the caches of the tests running beside this one).
    let cache = BlobCache::create().unwrap();
    assert!(crate::fsutil::is_live_private_dir(cache.path()));
}

#[tokio::test]
async fn storage_references_and_short_names_are_not_fetched() {
    let skopeo = Skopeo::new(Program { path: "/nonexistent/skopeo".into(), global: Vec::new() });
    let cache = BlobCache::create().unwrap();
    for (r, want) in [
        ("containers-storage:localhost/app:1", "local containers-storage"),
        ("alpine:3", "short name"),
        ("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "local image ID"),
    ] {
        let e =
            skopeo.fetch(&cache, &ImageRef::parse(r).unwrap(), &opts(Credentials::default(), None)).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::PullFailed);
        assert!(e.message.contains(want), "{r}: {}", e.message);
    }
}

// --- the environment ---------------------------------------------------------------------

#[tokio::test]
async fn a_blob_being_fetched_is_waited_for_not_fetched_twice() {
    let cache = BlobCache::create().unwrap();
    let (base, own_a, own_b, here) =
        ("sha256:aa".to_string(), "sha256:a1".to_string(), "sha256:b1".to_string(), "sha256:cc".to_string());
    std::fs::create_dir_all(cache.blob_dir().join("sha256")).unwrap();
    std::fs::write(cache.blob_dir().join("sha256/cc"), b"whole").unwrap();
    // A claims the base and its own layer; the blob already here is nobody's to fetch.
    let a = cache.claim(&[base.clone(), own_a.clone(), here.clone()]).await;
    assert!(a._done.is_some());
    // B needs the base too: its claim waits until A's fetch ends.
    let b = tokio::spawn({
        let (base, own_b) = (base.clone(), own_b.clone());
        async move {
            let cache = cache;
            let claim = cache.claim(&[base, own_b]).await;
            (claim._done.is_some(), cache)
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!b.is_finished(), "B went on while A was still fetching the base");
    drop(a);
    let (b_claimed, cache) = tokio::time::timeout(std::time::Duration::from_secs(5), b).await.unwrap().unwrap();
    assert!(b_claimed, "B fetches its own layer");
    // A's fetch failed (the base never arrived): the next claim takes it over, no wait.
    let c = tokio::time::timeout(std::time::Duration::from_secs(5), cache.claim(&[base])).await.unwrap();
    assert!(c._done.is_some());
    // Nothing to fetch: no claim.
    assert!(cache.claim(&[here, "../../etc/passwd".into()]).await._done.is_none());
}

#[test]
fn manifest_layers_of_images_but_not_of_indexes() {
    let v2s2 = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"digest":"sha256:c"},"layers":[{"digest":"sha256:l1","size":1},{"digest":"sha256:l2","size":2}]}"#;
    assert_eq!(manifest_layers(v2s2), ["sha256:l1", "sha256:l2"]);
    let index =
        br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:m","platform":{"os":"linux","architecture":"amd64"}}]}"#;
    assert!(manifest_layers(index).is_empty());
    assert!(manifest_layers(b"not json").is_empty());
}

fn ci_creds(registry: &str, user: &str, password: &str) -> Credentials {
    Credentials {
        entries: Vec::new(),
        ci_registry: Some(AuthEntry {
            key: registry.into(),
            secret: Secret::UserPassword { username: user.into(), password: password.into() },
        }),
    }
}

fn opts(credentials: Credentials, platform: Option<&str>) -> AcquireOptions {
    AcquireOptions {
        pull: PullPolicy::Always,
        tls_verify: Some(false),
        credentials,
        platform: platform.map(|p| Platform::parse(p).unwrap()),
    }
}

struct Env {
    registry: String,
    user: String,
    password: String,
    skopeo: PathBuf,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let var = |n: &str| {
            std::env::var(n).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
                panic!(
                    "{n} is not set: run tests/env/setup.sh (as root) and \
                     `source /var/tmp/oci-compliance-test/env` before these tests"
                )
            })
        };
        // Anonymous access must be anonymous: the default authfile is the empty one.
        var("REGISTRY_AUTH_FILE");
        Env {
            registry: var("OCIC_TEST_REGISTRY"),
            user: var("OCIC_TEST_REGISTRY_USER"),
            password: var("OCIC_TEST_REGISTRY_PASSWORD"),
            skopeo: which::which("skopeo").expect("skopeo is not installed"),
        }
    })
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(out.status.success(), "{program} {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Images built once for all tests: a private vfs store, pushed to `ocic-it/<run>/…`.
struct Fixture {
    _dir: tempfile::TempDir,
    ns: String,
    /// Registry digests of what was pushed.
    two_digest: String,
    two_v2s2_digest: String,
    multi_digest: String,
    /// diff ids of the two-layer image as buildah recorded them.
    two_diff_ids: Vec<String>,
    docker_archive: PathBuf,
    oci_archive: PathBuf,
    oci_dir: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(build_fixture)
}

/// The fixture lives in a static, which is never dropped: its directory is removed at exit.
static FIXTURE_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn remove_fixture_dir() {
    if let Some(d) = FIXTURE_DIR.get() {
        let _ = std::fs::remove_dir_all(d);
    }
}

fn build_fixture() -> Fixture {
    let e = env();
    let dir = tempfile::Builder::new().prefix("ocsk").tempdir_in("/tmp").unwrap();
    let d = dir.path();
    if FIXTURE_DIR.set(d.to_path_buf()).is_ok() {
        // SAFETY: registers a plain function with no captured state.
        unsafe { libc::atexit(remove_fixture_dir) };
    }
    let (root, runroot) = (d.join("root"), d.join("run"));
    let store = format!("--root={}", root.display());
    let runstore = format!("--runroot={}", runroot.display());
    let buildah = |args: &[&str]| -> String {
        let mut a = vec![store.as_str(), runstore.as_str(), "--storage-driver=vfs"];
        a.extend_from_slice(args);
        run("buildah", &a)
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let ns = format!("ocic-it/sk{}x{:x}", std::process::id(), nanos as u32);
    let authfile = d.join("auth.json");
    {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", e.user, e.password));
        std::fs::write(&authfile, format!(r#"{{"auths":{{"{}":{{"auth":"{basic}"}}}}}}"#, e.registry)).unwrap();
    }
    let auth = format!("--authfile={}", authfile.display());
    let ctx = d.join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(ctx.join("a"), "first layer\n").unwrap();
    std::fs::write(ctx.join("b"), "second layer\n").unwrap();
    std::fs::write(ctx.join("os-arm"), "ID=armtest\n").unwrap();
    std::fs::write(ctx.join("os-amd"), "ID=amdtest\n").unwrap();
    let file = |n: &str| ctx.join(n).display().to_string();

    // Layer 1: buildah from scratch + copy + config + commit.
    let c = buildah(&["from", "scratch"]);
    buildah(&["copy", "-q", &c, &file("a"), "/a"]);
    buildah(&["config", "--created-by", "COPY a /a", "--arch", "amd64", "--os", "linux", &c]);
    buildah(&["commit", "-q", &c, "localhost/sk-base"]);
    buildah(&["rm", &c]);
    // Layer 2 with a Containerfile: its ENV/LABEL/… steps are history entries with
    // empty_layer, which a commit of the CLI does not make.
    std::fs::write(
        ctx.join("Containerfile"),
        "FROM localhost/sk-base\nENV A=1 B=two\nLABEL org.opencontainers.image.title=two\nCOPY b /b\n\
         USER 1000:1000\nEXPOSE 8080/tcp 22\nENTRYPOINT [\"/b\"]\nCMD [\"--help\"]\n",
    )
    .unwrap();
    buildah(&[
        "build",
        "-q",
        "--isolation=chroot",
        "--platform=linux/amd64",
        "-t",
        "localhost/sk-two:1.0",
        &ctx.display().to_string(),
    ]);
    let inspect: serde_json::Value =
        serde_json::from_str(&buildah(&["inspect", "--type=image", "localhost/sk-two:1.0"])).unwrap();
    let two_diff_ids: Vec<String> = inspect["OCIv1"]["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let push = |image: &str, dest: &str, extra: &[&str]| -> String {
        let digestfile = d.join("digest");
        let df = format!("--digestfile={}", digestfile.display());
        let mut a = vec!["push", "-q", "--tls-verify=false", auth.as_str(), df.as_str()];
        a.extend_from_slice(extra);
        a.extend([image, dest]);
        buildah(&a);
        std::fs::read_to_string(&digestfile).unwrap().trim().to_string()
    };
    let reg = &e.registry;
    let two_digest = push("localhost/sk-two:1.0", &format!("docker://{reg}/{ns}/two:1.0"), &[]);
    let two_v2s2_digest = push("localhost/sk-two:1.0", &format!("docker://{reg}/{ns}/two:v2s2"), &["--format=v2s2"]);

    // A multi-arch index: amd64 and arm64/v8.
    for (name, arch, variant, os_release) in [("sk-amd", "amd64", "", "os-amd"), ("sk-arm", "arm64", "v8", "os-arm")] {
        let c = buildah(&["from", "scratch"]);
        buildah(&["copy", "-q", &c, &file(os_release), "/etc/os-release"]);
        let mut a = vec!["config", "--os", "linux", "--arch", arch];
        if !variant.is_empty() {
            a.extend(["--variant", variant]);
        }
        a.push(&c);
        buildah(&a);
        buildah(&["commit", "-q", &c, &format!("localhost/{name}")]);
        buildah(&["rm", &c]);
    }
    buildah(&["manifest", "create", "localhost/sk-list"]);
    buildah(&["manifest", "add", "localhost/sk-list", "containers-storage:localhost/sk-amd"]);
    buildah(&[
        "manifest",
        "add",
        "--arch=arm64",
        "--variant=v8",
        "localhost/sk-list",
        "containers-storage:localhost/sk-arm",
    ]);
    let digestfile = d.join("list-digest");
    buildah(&[
        "manifest",
        "push",
        "-q",
        "--all",
        "--tls-verify=false",
        &auth,
        &format!("--digestfile={}", digestfile.display()),
        "localhost/sk-list",
        &format!("docker://{reg}/{ns}/multi:1"),
    ]);
    let multi_digest = std::fs::read_to_string(&digestfile).unwrap().trim().to_string();

    // Archives: podman save (docker-archive), skopeo copy (oci-archive) with another tag.
    let docker_archive = d.join("two-docker.tar");
    run(
        "podman",
        &[
            &store,
            &runstore,
            "--storage-driver=vfs",
            "save",
            "-q",
            "-o",
            &docker_archive.display().to_string(),
            "localhost/sk-two:1.0",
        ],
    );
    let oci_archive = d.join("two-oci.tar");
    run(
        "skopeo",
        &[
            "copy",
            "-q",
            &format!("containers-storage:[vfs@{}+{}]localhost/sk-two:1.0", root.display(), runroot.display()),
            &format!("oci-archive:{}:localhost/app:1.4", oci_archive.display()),
        ],
    );
    let oci_dir = d.join("layout");
    run(
        "skopeo",
        &["copy", "-q", &format!("oci-archive:{}", oci_archive.display()), &format!("oci:{}:2.0", oci_dir.display())],
    );
    Fixture {
        _dir: dir,
        ns,
        two_digest,
        two_v2s2_digest,
        multi_digest,
        two_diff_ids,
        docker_archive,
        oci_archive,
        oci_dir,
    }
}

/// skopeo behind a script that logs every argument on a line of its own (and the names of
/// the secret variables it was given), with extra environment.
struct Wrapped {
    dir: tempfile::TempDir,
    skopeo: Skopeo,
}

impl Wrapped {
    fn new(env_lines: &str) -> Wrapped {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("argv.log");
        let script = dir.path().join("skopeo");
        let secret_vars = crate::command::SECRET_VARS.join(" ");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{log}'; done\necho '--' >> '{log}'\n\
                 for v in {secret_vars}; do eval \"[ -n \\\"\\${{$v+x}}\\\" ]\" && echo \"ENV $v\" >> '{log}'; done\n\
                 {env_lines}\nexec '{real}' \"$@\"\n",
                log = log.display(),
                real = env().skopeo.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        Wrapped { skopeo: Skopeo::locate(Some(script)).unwrap(), dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("argv.log")).unwrap_or_default()
    }

    /// No credential in any argument skopeo was given, nor a secret variable in its environment.
    fn assert_no_secret(&self) {
        use base64::Engine;
        let e = env();
        let log = self.log();
        assert!(!log.is_empty());
        for s in [
            e.password.clone(),
            format!("{}:{}", e.user, e.password),
            base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", e.user, e.password)),
            "wrong-Pa55word".into(),
        ] {
            assert!(!log.contains(&s), "a credential reached skopeo's argv: {log}");
        }
        assert!(!log.contains("ENV "), "a secret variable reached skopeo: {log}");
    }

    /// Every `--src-authfile`/`--authfile` value skopeo was given.
    fn authfiles(&self) -> Vec<PathBuf> {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines
            .windows(2)
            .filter(|w| w[0] == "--src-authfile" || w[0] == "--authfile")
            .map(|w| PathBuf::from(w[1]))
            .collect()
    }
}

fn creds() -> Credentials {
    let e = env();
    ci_creds(&e.registry, &e.user, &e.password)
}

// --- fetching ----------------------------------------------------------------------------

#[tokio::test]
async fn a_two_layer_image_from_the_authenticated_registry() {
    let (e, f) = (env(), fixture());
    let w = Wrapped::new("");
    let cache = BlobCache::create().unwrap();
    let r = ImageRef::parse(&format!("{}/{}/two:1.0", e.registry, f.ns)).unwrap();
    let got = w.skopeo.fetch(&cache, &r, &opts(creds(), None)).await.unwrap();
    let i = &got.image;

    // Identity: the registry's digest, podman's names.
    assert_eq!(i.digest, f.two_digest);
    assert_eq!(got.manifest_digest, f.two_digest, "an OCI manifest is copied unchanged");
    assert_eq!(got.source, format!("docker://{}/{}/two@{}", e.registry, f.ns, f.two_digest));
    assert_eq!(i.repo_tags, vec![format!("{}/{}/two:1.0", e.registry, f.ns)]);
    assert_eq!(i.repo_digests, vec![format!("{}/{}/two@{}", e.registry, f.ns, f.two_digest)]);
    assert_eq!(i.id.len(), 64);
    assert_eq!(got.archive_tag, None);

    // Layers: in order, diff ids as buildah recorded them, blobs in the shared directory.
    assert_eq!(got.layers.len(), 2);
    assert_eq!(got.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(), f.two_diff_ids);
    assert_eq!(i.root_fs.layers, f.two_diff_ids);
    for l in &got.layers {
        assert!(l.path.starts_with(cache.blob_dir()), "{}", l.path.display());
        assert_eq!(std::fs::metadata(&l.path).unwrap().len(), l.size);
        assert_eq!(l.path.file_name().unwrap().to_str().unwrap(), l.digest.strip_prefix("sha256:").unwrap());
        assert_eq!(l.compression, Some(oci::Compression::Gzip), "{}", l.media_type);
    }

    // The config as podman's inspect gives it.
    let c = &i.config;
    assert_eq!((i.os.as_str(), i.architecture.as_str()), ("linux", "amd64"));
    assert_eq!(c.user, "1000:1000");
    assert_eq!((c.env_var("A"), c.env_var("B")), (Some("1"), Some("two")));
    assert_eq!(c.labels.get("org.opencontainers.image.title").map(String::as_str), Some("two"));
    assert_eq!(c.exposed_ports.keys().cloned().collect::<Vec<_>>(), vec!["22/tcp", "8080/tcp"]);
    assert_eq!(c.entrypoint, vec!["/b"]);
    assert_eq!(c.cmd, vec!["--help"]);
    assert!(!i.created.is_empty());
    assert!(i.history.iter().any(|h| h.empty_layer && h.created_by.contains("ENV A=1 B=two")));
    assert_eq!(i.layer_history().len(), 2, "{:?}", i.history);
    assert_eq!(i.layer_history()[0].created_by, "COPY a /a");

    // The password went through a private authfile only, gone once the fetch returned.
    w.assert_no_secret();
    let files = w.authfiles();
    assert_eq!(files.len(), 2, "inspect --raw and copy: {}", w.log());
    for a in files {
        assert!(!a.exists() && !a.parent().unwrap().exists(), "{} left behind", a.display());
    }
    let log = w.log();
    for flag in [
        "--src-tls-verify=false",
        "--tls-verify=false",
        "--dest-shared-blob-dir",
        "--remove-signatures",
        "--preserve-digests",
    ] {
        assert!(log.lines().any(|l| l == flag), "{flag} missing: {log}");
    }

    // A second image of the run on the same base reuses its blobs.
    let again = w.skopeo.fetch(&cache, &r, &opts(creds(), None)).await.unwrap();
    assert_ne!(again.layout, got.layout);
    assert_eq!(again.layers, got.layers);
    let dir = cache.path().to_path_buf();
    drop(cache);
    assert!(!dir.exists());
}

#[tokio::test]
async fn a_docker_v2s2_image_keeps_the_registry_digest() {
    let (e, f) = (env(), fixture());
    let cache = BlobCache::create().unwrap();
    let skopeo = Skopeo::locate(None).unwrap();
    let r = ImageRef::parse(&format!("docker://{}/{}/two:v2s2", e.registry, f.ns)).unwrap();
    let got = skopeo.fetch(&cache, &r, &opts(creds(), None)).await.unwrap();
    assert_eq!(got.image.digest, f.two_v2s2_digest);
    assert_eq!(got.manifest_digest, f.two_v2s2_digest, "copied unconverted (a conversion drops Healthcheck)");
    assert_eq!(got.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(), f.two_diff_ids);
    // Pinned by digest: no inspect, the same image.
    let pinned = ImageRef::parse(&format!("{}/{}/two@{}", e.registry, f.ns, f.two_v2s2_digest)).unwrap();
    let got2 = skopeo.fetch(&cache, &pinned, &opts(creds(), None)).await.unwrap();
    assert_eq!(got2.image.digest, f.two_v2s2_digest);
    assert!(got2.image.repo_tags.is_empty());
    assert_eq!(got2.image.id, got.image.id);
}

#[tokio::test]
async fn a_wrong_password_is_a_pull_failure_with_skopeos_reason_and_no_secret() {
    let (e, f) = (env(), fixture());
    let w = Wrapped::new("");
    let cache = BlobCache::create().unwrap();
    let r = ImageRef::parse(&format!("{}/{}/two:1.0", e.registry, f.ns)).unwrap();
    let err =
        w.skopeo.fetch(&cache, &r, &opts(ci_creds(&e.registry, &e.user, "wrong-Pa55word"), None)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PullFailed);
    assert!(err.message.contains("unauthorized") || err.message.contains("authentication required"), "{}", err.message);
    assert!(!err.message.contains("wrong-Pa55word"), "{}", err.message);
    w.assert_no_secret();
    for a in w.authfiles() {
        assert!(!a.exists(), "{} left behind", a.display());
    }

    // No credentials: no authfile passed, skopeo's default (the environment's empty one).
    let w = Wrapped::new("");
    let err = w.skopeo.fetch(&cache, &r, &opts(Credentials::default(), None)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PullFailed);
    assert!(err.message.contains("authentication required"), "{}", err.message);
    assert!(w.authfiles().is_empty(), "{}", w.log());
}

#[tokio::test]
async fn unknown_images_and_unreachable_registries_are_pull_failures() {
    let (e, f) = (env(), fixture());
    let cache = BlobCache::create().unwrap();
    let skopeo = Skopeo::locate(None).unwrap();
    for (r, want) in [
        (format!("{}/{}/absent:1", e.registry, f.ns), "manifest unknown"),
        (format!("{}/{}/two:9.9", e.registry, f.ns), "manifest unknown"),
        ("127.0.0.1:9/x/y:1".to_string(), "connection refused"),
    ] {
        let err = skopeo.fetch(&cache, &ImageRef::parse(&r).unwrap(), &opts(creds(), None)).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::PullFailed, "{r}");
        assert!(err.message.contains(want), "{r}: {}", err.message);
    }
    // Nothing half-fetched stays in the blob directory.
    let leftovers: Vec<_> = std::fs::read_dir(cache.blob_dir()).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn a_multi_arch_index_gives_the_requested_platform() {
    let (e, f) = (env(), fixture());
    let cache = BlobCache::create().unwrap();
    let w = Wrapped::new("");
    let r = ImageRef::parse(&format!("{}/{}/multi:1", e.registry, f.ns)).unwrap();
    let arm = w.skopeo.fetch(&cache, &r, &opts(creds(), Some("linux/arm64/v8"))).await.unwrap();
    assert_eq!((arm.image.architecture.as_str(), arm.image.variant.as_str()), ("arm64", "v8"));
    assert_eq!(arm.image.digest, f.multi_digest, "the index's digest, as podman records it");
    assert_ne!(arm.manifest_digest, f.multi_digest);
    let log = w.log();
    for flag in ["--override-os\nlinux", "--override-arch\narm64", "--override-variant\nv8"] {
        assert!(log.contains(flag), "{flag}: {log}");
    }
    let amd = w.skopeo.fetch(&cache, &r, &opts(creds(), Some("linux/amd64"))).await.unwrap();
    assert_eq!(amd.image.architecture, "amd64");
    assert_ne!(amd.image.id, arm.image.id);

    let err = w.skopeo.fetch(&cache, &r, &opts(creds(), Some("linux/s390x"))).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PullFailed);
    assert!(err.message.contains("s390x"), "{}", err.message);
    // A single-platform image of another platform is refused after the copy.
    let two = ImageRef::parse(&format!("{}/{}/two:1.0", e.registry, f.ns)).unwrap();
    let err = w.skopeo.fetch(&cache, &two, &opts(creds(), Some("linux/arm64"))).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PullFailed);
    assert!(err.message.contains("has no linux/arm64 variant"), "{}", err.message);
}

#[tokio::test]
async fn archives_are_read_with_their_tag() {
    let f = fixture();
    let cache = BlobCache::create().unwrap();
    let w = Wrapped::new("");
    // Credentials are for registries: an archive gets no authfile.
    let da = ImageRef::parse(&format!("docker-archive:{}", f.docker_archive.display())).unwrap();
    let got = w.skopeo.fetch(&cache, &da, &opts(creds(), None)).await.unwrap();
    assert_eq!(got.archive_tag.as_deref(), Some("1.0"));
    assert_eq!(got.layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>(), f.two_diff_ids);
    for l in &got.layers {
        // Not recompressed on the way in: the blob is the layer tar itself, though skopeo
        // labels it tar+gzip (the docker archive's v2s2 manifest says so); the reader goes by
        // the bytes.
        assert_eq!(l.compression, Some(oci::Compression::Gzip), "{}", l.media_type);
        assert_eq!(l.digest, l.diff_id);
    }
    assert_eq!(got.image.config.user, "1000:1000");
    assert_eq!(got.image.digest, got.manifest_digest);
    assert!(w.authfiles().is_empty() && !w.log().contains("tls-verify"), "{}", w.log());

    let oa = ImageRef::parse(&format!("oci-archive:{}", f.oci_archive.display())).unwrap();
    let got = w.skopeo.fetch(&cache, &oa, &opts(Credentials::default(), None)).await.unwrap();
    assert_eq!(got.archive_tag.as_deref(), Some("1.4"));
    assert_eq!(got.image.root_fs.layers, f.two_diff_ids);
    // skopeo extracted the archive under the cache's tmp dir, and removed it.
    let tmp: Vec<_> = std::fs::read_dir(cache.tmp_dir()).unwrap().collect();
    assert!(tmp.is_empty(), "{tmp:?}");
    assert!(w.log().lines().any(|l| l == cache.tmp_dir().to_str().unwrap()));

    // An oci: layout directory: its only image's ref name, or the name given.
    for (r, tag) in
        [(format!("oci:{}", f.oci_dir.display()), "2.0"), (format!("oci:{}:2.0", f.oci_dir.display()), "2.0")]
    {
        let got =
            w.skopeo.fetch(&cache, &ImageRef::parse(&r).unwrap(), &opts(Credentials::default(), None)).await.unwrap();
        assert_eq!(got.archive_tag.as_deref(), Some(tag), "{r}");
        assert_eq!(got.image.root_fs.layers, f.two_diff_ids);
    }
    let missing = ImageRef::parse("oci-archive:/nonexistent/app.tar").unwrap();
    let err = w.skopeo.fetch(&cache, &missing, &opts(Credentials::default(), None)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PullFailed);
    assert!(err.message.contains("no such file"), "{}", err.message);
}

#[tokio::test]
async fn registries_conf_mirrors_and_blocks_are_honoured() {
    let (e, f) = (env(), fixture());
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("registries.conf");
    // 127.0.0.1:1 has no registry: only its mirror can give the image.
    std::fs::write(
        &conf,
        format!(
            "unqualified-search-registries = []\n\
             [[registry]]\nprefix = \"127.0.0.1:1/{ns}\"\nlocation = \"127.0.0.1:1/{ns}\"\n\
             [[registry.mirror]]\nlocation = \"{reg}/{ns}\"\ninsecure = true\n\
             [[registry]]\nprefix = \"{reg}/{ns}/blocked\"\nlocation = \"{reg}/{ns}/blocked\"\nblocked = true\n",
            ns = f.ns,
            reg = e.registry
        ),
    )
    .unwrap();
    let mut w = Wrapped::new("");
    w.skopeo = w.skopeo.with_registries_conf(Some(conf.clone()));
    let cache = BlobCache::create().unwrap();
    let mirrored = ImageRef::parse(&format!("127.0.0.1:1/{}/two:1.0", f.ns)).unwrap();
    let got = w.skopeo.fetch(&cache, &mirrored, &opts(creds(), None)).await.unwrap();
    assert_eq!(got.image.digest, f.two_digest);
    assert_eq!(got.layers.len(), 2);

    let blocked = ImageRef::parse(&format!("{}/{}/blocked/two:1.0", e.registry, f.ns)).unwrap();
    let err = w.skopeo.fetch(&cache, &blocked, &opts(creds(), None)).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::PullFailed);
    assert!(err.message.contains("blocked"), "{}", err.message);
    w.assert_no_secret();
    assert!(w.log().contains(&format!("--registries-conf\n{}\n", conf.display())), "{}", w.log());
}
