//! Fixed reports for the golden-file tests (tests/golden) and template development: no
//! clock, no podman, no host paths. Built with the library's public API only.

use super::{
    all_rules, apply_waivers, build_file_tree, escape_bytes, escape_text, find_rule, new_report, parse_policy,
    settings_info, sha256_hex, CheckResult, EntryKind, ErrorKind, ExitCodes, Failure, FileTree, Finding, ImageInfo,
    ImageRef, LayerInfo, Policy, Report, SettingsInfo, Severity, Source, Status, TreeEntry, TreeLimits,
};

pub const SCANNED_AT: &str = "2026-01-15T10:00:00Z";
pub const TOOL_VERSION: &str = "0.0.0-test";

fn digest(n: u8) -> String {
    format!("sha256:{}", sha256_hex(&[n]))
}

/// The day the fixture's waivers are judged on.
pub const TODAY: (i64, u32, u32) = (2026, 1, 15);

/// A policy that re-rates a check, disables one, requires labels and has an applied, an
/// expired and an unused waiver.
pub const POLICY: &str = concat!(
    r#"
[checks.too-many-layers]
severity = "medium"
reason = "release images are squashed by the promotion job"

[checks.compilers]
enabled = false
reason = "build image; compilers are expected"

[labels]
required = [{ key = "org.opencontainers.image.source" }, "#,
    r#"{ key = "org.opencontainers.image.version", pattern = "[0-9]*" }]

[[waivers]]
check = "suid-files"
path = "/usr/bin/sudo"
reason = "the legacy entrypoint needs sudo (TICKET-42)"
expires = "2026-06-30"

[[waivers]]
check = "privilege-tools"
path = "/usr/bin/su"
reason = "temporary"
expires = "2025-12-31"

[[waivers]]
check = "admin-ports-exposed"
image = "registry.example.com:5000/other/*"
reason = "the bastion image exposes ssh by design"
"#
);

fn policy() -> Policy {
    parse_policy(POLICY).expect("the fixture policy is valid")
}

fn settings_with(policy: Policy) -> SettingsInfo {
    settings_info("missing", Some(true), ExitCodes::default(), Severity::Informational, None, policy)
}

fn settings() -> SettingsInfo {
    settings_with(Policy::default())
}

fn check(id: &str, status: Status, description: &str, findings: Vec<Finding>) -> CheckResult {
    let meta = find_rule(id).expect("a known check").meta();
    let severity = policy().severity(id, meta.severity);
    CheckResult {
        id: id.to_string(),
        title: meta.title.to_string(),
        severity,
        default_severity: meta.severity,
        waiver: None,
        status,
        description: description.to_string(),
        rationale: meta.rationale.split_whitespace().collect::<Vec<_>>().join(" "),
        mitigation: meta.remediation.split_whitespace().collect::<Vec<_>>().join(" "),
        controls: meta.controls.iter().map(|c| c.to_string()).collect(),
        findings,
    }
}

struct F<'a> {
    path: &'a str,
    layer: usize,
    mode: &'a str,
    perms: &'a str,
    kind: EntryKind,
    visible: bool,
    violation: bool,
    note: Option<&'a str>,
    link: Option<&'a str>,
}

fn finding(layers: &[LayerInfo], f: F) -> Finding {
    let l = &layers[f.layer - 1];
    Finding {
        path: f.path.to_string(),
        layer: f.layer,
        layer_digest: l.diff_id.clone(),
        created_by: l.created_by.clone(),
        kind: f.kind,
        mode: f.mode.to_string(),
        permissions: f.perms.to_string(),
        uid: 0,
        gid: 0,
        size: 1024,
        link_target: f.link.map(String::from),
        visible: f.visible,
        violation: f.violation,
        origin: Default::default(),
        counted: true,
        note: f.note.map(String::from),
        waiver: None,
        package: None,
        not_owned: false,
        fix: None,
    }
}

fn layers(created_by: [&str; 3]) -> Vec<LayerInfo> {
    let sizes = [78_643_200u64, 5_242_880, 12_288];
    let entries = [8_000usize, 40, 3];
    (0..3)
        .map(|i| LayerInfo {
            number: i + 1,
            diff_id: digest(i as u8 + 1),
            created_by: created_by[i].to_string(),
            steps: vec![created_by[i].to_string()],
            entries: entries[i],
            size: sizes[i],
            whiteouts: usize::from(i == 2),
            findings: 0,
            errors: Vec::new(),
            origin: Default::default(),
        })
        .collect()
}

fn finish(mut r: Report) -> Report {
    r.scanned_at = SCANNED_AT.to_string();
    r.tool.version = TOOL_VERSION.to_string();
    for l in r.layers.iter_mut() {
        l.findings = r.checks.iter().flat_map(|c| &c.findings).filter(|f| f.layer == l.number).count();
    }
    r
}

/// (path, kind, mode, size, layer, link target)
type Node<'a> = (&'a [u8], EntryKind, u32, u64, usize, Option<&'a [u8]>);

fn tree(extra: &[Node]) -> FileTree {
    let mut v: Vec<Node> = vec![
        (b"/bin", EntryKind::Symlink, 0o777, 7, 1, Some(b"usr/bin")),
        (b"/etc", EntryKind::Dir, 0o755, 0, 1, None),
        (b"/etc/group", EntryKind::File, 0o644, 446, 1, None),
        (b"/etc/os-release", EntryKind::Symlink, 0o777, 21, 1, Some(b"../usr/lib/os-release")),
        (b"/etc/passwd", EntryKind::File, 0o644, 922, 2, None),
        (b"/usr", EntryKind::Dir, 0o755, 0, 1, None),
        (b"/usr/bin", EntryKind::Dir, 0o755, 0, 1, None),
        (b"/usr/bin/bash", EntryKind::File, 0o755, 1_265_648, 1, None),
        (b"/usr/bin/su", EntryKind::File, 0o4755, 72_000, 2, None),
        (b"/usr/bin/sudo", EntryKind::File, 0o4755, 232_416, 2, None),
        (b"/usr/lib", EntryKind::Dir, 0o755, 0, 1, None),
        (b"/usr/lib/os-release", EntryKind::File, 0o644, 267, 1, None),
        (b"/usr/share", EntryKind::Dir, 0o755, 0, 1, None),
        (b"/var", EntryKind::Dir, 0o755, 0, 1, None),
        (b"/var/mail", EntryKind::Dir, 0o2775, 0, 1, None),
        (b"/app", EntryKind::Dir, 0o755, 0, 3, None),
        (b"/app/server", EntryKind::File, 0o755, 9_437_184, 3, None),
    ];
    v.extend_from_slice(extra);
    // Many small files in one directory: counted, not listed.
    let docs: Vec<String> = (0..60).map(|i| format!("/usr/share/doc/pkg{i:02}/copyright")).collect();
    let entries = v
        .iter()
        .map(|&(path, kind, mode, size, layer, link)| TreeEntry { path, kind, mode, size, layer, link })
        .chain(docs.iter().map(|p| TreeEntry {
            path: p.as_bytes(),
            kind: EntryKind::File,
            mode: 0o644,
            size: 1500,
            layer: 1,
            link: None,
        }))
        .collect::<Vec<_>>();
    build_file_tree(entries.into_iter(), TreeLimits::default())
}

/// A realistic failing scan of a three-layer Debian-based image.
pub fn sample() -> Report {
    let layers = layers([
        "/bin/sh -c #(nop) ADD file:3b1c2d in / ",
        "RUN /bin/sh -c apt-get update && apt-get install -y sudo # buildkit",
        "COPY server /app/server # buildkit",
    ]);
    let f = |x: F| finding(&layers, x);
    let checks = vec![
        check("latest-tag", Status::Pass, "tag 1.4.2", vec![]),
        check("admin-ports-exposed", Status::Fail, "exposes 22/tcp (ssh)", vec![]),
        check("privileged-ports-exposed", Status::Fail, "exposes 1 port below 1024 or not a port: 22/tcp", vec![]),
        check("root-user", Status::Pass, "USER app resolves to uid 1001", vec![]),
        check("root-group", Status::Pass, "primary group app (gid 1001)", vec![]),
        check("labels-missing", Status::Pass, "3 labels", vec![]),
        check("too-many-layers", Status::Fail, "3 layers", vec![]),
        check("startup-command-missing", Status::Pass, "entrypoint /app/server", vec![]),
        check(
            "suid-files",
            Status::Fail,
            "2 setuid files (1 more in layers but not in the final image)",
            vec![
                f(F {
                    path: "/usr/bin/su",
                    layer: 2,
                    mode: "4755",
                    perms: "-rwsr-xr-x",
                    kind: EntryKind::File,
                    visible: true,
                    violation: true,
                    note: None,
                    link: None,
                }),
                f(F {
                    path: "/usr/bin/sudo",
                    layer: 2,
                    mode: "4755",
                    perms: "-rwsr-xr-x",
                    kind: EntryKind::File,
                    visible: true,
                    violation: true,
                    note: None,
                    link: None,
                }),
                f(F {
                    path: "/usr/bin/passwd",
                    layer: 1,
                    mode: "4755",
                    perms: "-rwsr-xr-x",
                    kind: EntryKind::File,
                    visible: false,
                    violation: false,
                    note: Some("not in the final image: deleted or replaced by layer 3"),
                    link: None,
                }),
            ],
        ),
        check(
            "sgid-files",
            Status::Pass,
            "no setgid files in the final image",
            vec![f(F {
                path: "/var/mail",
                layer: 1,
                mode: "2775",
                perms: "drwxrwsr-x",
                kind: EntryKind::Dir,
                visible: true,
                violation: false,
                note: Some("setgid directory (information)"),
                link: None,
            })],
        ),
        check("file-capabilities", Status::Pass, "no files with capabilities in the final image", vec![]),
        check("world-writable", Status::Pass, "no world-writable files or directories without the sticky bit", vec![]),
        check(
            "account-hygiene",
            Status::Pass,
            "3 accounts and 3 groups: no empty passwords, one uid 0, no shared ids",
            vec![],
        ),
        check(
            "privilege-tools",
            Status::Fail,
            "su, sudo",
            vec![
                f(F {
                    path: "/usr/bin/su",
                    layer: 2,
                    mode: "4755",
                    perms: "-rwsr-xr-x",
                    kind: EntryKind::File,
                    visible: true,
                    violation: true,
                    note: None,
                    link: None,
                }),
                f(F {
                    path: "/usr/bin/sudo",
                    layer: 2,
                    mode: "4755",
                    perms: "-rwsr-xr-x",
                    kind: EntryKind::File,
                    visible: true,
                    violation: true,
                    note: None,
                    link: None,
                }),
            ],
        ),
        check("remote-access-tools", Status::Pass, "none found", vec![]),
        check("compilers", Status::Skipped, "disabled by policy: build image; compilers are expected", vec![]),
        check("secrets-in-config", Status::Pass, "no secrets in 4 Env entries, 3 labels or 9 history steps", vec![]),
        check("secret-files", Status::Pass, "no private keys or credentials in 2 candidate files", vec![]),
        check("healthcheck-missing", Status::Pass, "HEALTHCHECK CMD /app/server --health", vec![]),
        check("build-hygiene", Status::Pass, "4 history steps and the final files show no fault", vec![]),
        check("unwanted-files", Status::Pass, "no build-context or developer files in the final image", vec![]),
        check("base-os", Status::Pass, "Debian GNU/Linux 12", vec![]),
        check("required-labels", Status::Pass, "2 required labels present", vec![]),
    ];
    let image = ImageInfo {
        reference: "registry.example.com:5000/team/app:1.4.2".into(),
        transport: "docker".into(),
        registry: Some("registry.example.com:5000".into()),
        repository: Some("team/app".into()),
        tag: Some("1.4.2".into()),
        digest: Some(digest(100)),
        id: sha256_hex(b"image-id"),
        architecture: "amd64".into(),
        os: "linux".into(),
        variant: String::new(),
        created: "2026-01-14T08:30:00Z".into(),
        size: 84_000_000,
        user: "app".into(),
        entrypoint: vec!["/app/server".into()],
        cmd: vec!["--port".into(), "8080".into()],
        exposed_ports: vec!["22/tcp".into(), "8080/tcp".into()],
        labels: [
            ("org.opencontainers.image.source", "https://git.example.com/team/app"),
            ("org.opencontainers.image.version", "1.4.2"),
            ("maintainer", "Team App <app@example.com>"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        storage_driver: "overlay".into(),
        source: Some(Source::Storage),
    };
    let policy = policy();
    let mut checks = checks;
    let reference = ImageRef::parse(&image.reference).expect("a valid reference");
    let waivers = apply_waivers(&mut checks, &policy, &reference, TODAY);
    let mut r = new_report(settings_with(policy), image, layers, checks, waivers, None);
    r.tree = Some(tree(&[]));
    finish(r)
}

pub const HOSTILE: &str = "<script>alert(1)</script>";

/// Image-controlled text doing its worst: markup, newlines, ANSI escapes, Markdown syntax.
pub fn hostile() -> Report {
    let mut r = sample();
    let evil_path = escape_bytes(b"/opt/<script>alert(1)</script>\n\x1b[31mred|[x](javascript:alert(1))`@all");
    let evil_by = "RUN echo '<img src=x onerror=alert(1)>' # buildkit";
    for l in r.layers.iter_mut() {
        l.created_by = evil_by.to_string();
        l.steps = vec![evil_by.to_string(), "CMD [\"</script>\"]".to_string()];
    }
    r.image.labels.insert(HOSTILE.to_string(), format!("{HOSTILE}\nline two \x1b[2J\x1b[31m | **bold** @all"));
    r.image.user = "<b>root</b>".to_string();
    r.image.entrypoint = vec!["/bin/sh".into(), "-c".into(), format!("echo {HOSTILE} | `id` \x1b[0m")];
    r.image.created = format!("{HOSTILE}\n");
    if let Some(c) = r.checks.iter_mut().find(|c| c.id == "suid-files") {
        c.description = format!("1 setuid file: {evil_path}");
        for f in c.findings.iter_mut() {
            f.path = evil_path.clone();
            f.created_by = evil_by.to_string();
            f.link_target = Some(escape_text("<a href=x>\n"));
        }
    }
    r.tree = Some(tree(&[(
        b"/opt/<script>alert(1)</script>\n\x1b[31mred|[x](javascript:alert(1))`@all",
        EntryKind::File,
        0o4755,
        1,
        2,
        None,
    )]));
    r
}

/// A scan that stopped before any check ran.
pub fn failed_scan() -> Report {
    let image = ImageInfo {
        reference: "registry.example.com:5000/team/broken:2.0".into(),
        transport: "docker".into(),
        registry: Some("registry.example.com:5000".into()),
        repository: Some("team/broken".into()),
        tag: Some("2.0".into()),
        ..ImageInfo::default()
    };
    let f = Failure::new(
        ErrorKind::PullFailed,
        "podman pull failed: Error: initializing source docker://registry.example.com:5000/team/broken:2.0: \
         unauthorized: authentication required",
    );
    finish(new_report(settings(), image, Vec::new(), Vec::new(), Vec::new(), Some(&f)))
}

/// A passing scan of a small distroless-style image.
pub fn passing() -> Report {
    let mut layers = layers(["COPY rootfs / # buildkit", "", ""]);
    layers.truncate(1);
    let checks: Vec<CheckResult> = all_rules()
        .iter()
        .map(|r| {
            let m = r.meta();
            let d =
                if m.id == "base-os" { "no os-release: no distribution base (scratch or distroless)" } else { "ok" };
            // Scanned without a policy: every check at its own severity.
            let mut c = check(m.id, Status::Pass, d, vec![]);
            c.severity = c.default_severity;
            c
        })
        .collect();
    let image = ImageInfo {
        reference: "registry.example.com:5000/team/tiny@".to_string() + &digest(7),
        transport: "docker".into(),
        registry: Some("registry.example.com:5000".into()),
        repository: Some("team/tiny".into()),
        digest: Some(digest(7)),
        id: sha256_hex(b"tiny"),
        architecture: "arm64".into(),
        os: "linux".into(),
        variant: "v8".into(),
        created: "2026-01-10T00:00:00Z".into(),
        user: "65532".into(),
        entrypoint: vec!["/tiny".into()],
        labels: [("org.opencontainers.image.title".to_string(), "tiny".to_string())].into_iter().collect(),
        ..ImageInfo::default()
    };
    let mut r = new_report(settings(), image, layers, checks, Vec::new(), None);
    r.tree = Some(build_file_tree(
        [TreeEntry { path: b"/tiny", kind: EntryKind::File, mode: 0o755, size: 1_048_576, layer: 1, link: None }]
            .into_iter(),
        TreeLimits::default(),
    ));
    finish(r)
}
