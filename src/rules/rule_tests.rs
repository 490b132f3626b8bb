//! Rules on real layer trees built in temp dirs (root needed for whiteouts and xattrs).

use crate::model::Status;
use crate::testutil::Image;

fn passwd(img: &Image, layer: usize, passwd: &str, group: &str) {
    img.layer(layer).file_with("/etc/passwd", 0o644, passwd.as_bytes()).file_with(
        "/etc/group",
        0o644,
        group.as_bytes(),
    );
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1001::/app:/bin/false\nrootgrp:x:1002:0::/:/bin/false\nalias:x:0:5::/:/bin/sh\n";
const GROUP: &str = "root:x:0:\napp:x:1001:\nwheel:x:0:\nstaff:x:50:\n";

fn user_case(user: &str, with_files: bool) -> (Status, Status, String, String) {
    let mut img = Image::new(1);
    img.layer(0).dir("/tmp", 0o1777);
    if with_files {
        passwd(&img, 0, PASSWD, GROUP);
    }
    img.inspect.config.user = user.into();
    let u = img.check("root-user");
    let g = img.check("root-group");
    (u.status, g.status, u.description, g.description)
}

#[test]
fn root_user_and_group_resolution() {
    use Status::*;
    let cases: &[(&str, bool, Status, Status)] = &[
        ("", true, Fail, Fail),
        ("root", true, Fail, Fail),
        ("0", true, Fail, Fail),
        ("0:50", true, Fail, Pass),
        ("app", true, Pass, Pass),
        ("app:app", true, Pass, Pass),
        ("app:0", true, Pass, Fail),
        ("app:wheel", true, Pass, Fail),
        ("app:staff", true, Pass, Pass),
        ("app:nosuch", true, Pass, Fail),
        ("rootgrp", true, Pass, Fail),
        ("alias", true, Fail, Pass),
        ("nosuch", true, Fail, Fail),
        ("ghost:1000", true, Fail, Pass),
        ("ghost:staff", true, Fail, Pass),
        ("ghost:wheel", true, Fail, Fail),
        ("ghost:0", true, Fail, Fail),
        ("ghost:nosuch", true, Fail, Fail),
        ("ghost:1000", false, Fail, Pass),
        ("1001", true, Pass, Pass),
        ("4242", true, Pass, Fail),
        ("4242:4242", true, Pass, Pass),
        ("4242:4242", false, Pass, Pass),
        ("4242", false, Pass, Fail),
        ("app", false, Fail, Fail),
    ];
    for &(user, files, want_u, want_g) in cases {
        let (u, g, du, dg) = user_case(user, files);
        assert_eq!((u, g), (want_u, want_g), "USER {user:?} files={files}: {du} / {dg}");
    }
    let (_, _, du, dg) = user_case("ghost:1000", true);
    assert!(du.contains("would not start"), "{du}");
    assert!(!dg.contains("would not start") && dg.contains("gid 1000"), "{dg}");
    let (_, _, du, dg) = user_case("rootgrp", true);
    assert!(du.contains("uid 1002"), "{du}");
    assert!(dg.contains("gid 0"), "{dg}");
}

#[test]
fn passwd_through_an_absolute_symlink_is_the_images() {
    let mut img = Image::new(1);
    img.layer(0).link("/etc/passwd", "/etc/real-passwd").file_with(
        "/etc/real-passwd",
        0o644,
        b"svc:x:0:0::/:/bin/sh\n",
    );
    img.inspect.config.user = "svc".into();
    assert_eq!(img.check("root-user").status, Status::Fail, "svc is uid 0 in the image");
}

#[test]
fn setuid_and_setgid_files_and_directories() {
    let img = Image::new(2);
    img.layer(0)
        .file("/usr/bin/passwd", 0o4755)
        .file("/usr/bin/chage", 0o2755)
        .file("/usr/bin/gone", 0o4755)
        .dir("/var/mail", 0o2775)
        .file("/usr/bin/plain", 0o755);
    img.layer(1).whiteout("/usr/bin/gone");
    let suid = img.check("suid-files");
    assert_eq!(suid.status, Status::Fail);
    assert_eq!(suid.description, "1 setuid file (1 more in layers but not in the final image)");
    let gone = suid.findings.iter().find(|f| f.path == "/usr/bin/gone").unwrap();
    assert!(!gone.visible && !gone.violation && gone.layer == 1);
    assert!(gone.note.as_deref().unwrap().contains("layer 2"));
    let passwd = suid.findings.iter().find(|f| f.path == "/usr/bin/passwd").unwrap();
    assert!(passwd.visible && passwd.violation);
    assert_eq!((passwd.mode.as_str(), passwd.permissions.as_str()), ("4755", "-rwsr-xr-x"));
    assert_eq!(passwd.layer_digest, format!("sha256:{:064x}", 1));
    assert_eq!(passwd.created_by, "step 1");

    let sgid = img.check("sgid-files");
    assert_eq!(sgid.status, Status::Fail);
    assert_eq!(sgid.findings.iter().filter(|f| f.violation).count(), 1);
    let mail = sgid.findings.iter().find(|f| f.path == "/var/mail").unwrap();
    assert!(!mail.violation, "setgid directories are information");
}

#[test]
fn setgid_directories_alone_pass() {
    let img = Image::new(1);
    img.layer(0).dir("/var/mail", 0o2775);
    let sgid = img.check("sgid-files");
    assert_eq!(sgid.status, Status::Pass);
    assert_eq!(sgid.findings.len(), 1);
}

#[test]
fn setuid_removed_by_chmod_in_a_later_layer_passes() {
    let img = Image::new(2);
    img.layer(0).file("/usr/bin/mount", 0o4755);
    img.layer(1).file("/usr/bin/mount", 0o755);
    let suid = img.check("suid-files");
    assert_eq!(suid.status, Status::Pass);
    assert_eq!(suid.findings.len(), 1);
    assert!(!suid.findings[0].visible);
}

#[test]
fn tools_are_executables_on_path_or_links_to_them() {
    let img = Image::new(1);
    img.layer(0)
        .link("/bin", "usr/bin")
        .file("/usr/bin/busybox", 0o755)
        .link("/usr/bin/su", "busybox")
        .file("/etc/pam.d/su", 0o644)
        .file("/usr/share/bash-completion/completions/ssh", 0o644)
        .file("/usr/lib/apt/methods/ssh", 0o755)
        .link("/usr/bin/nc", "/etc/alternatives/nc")
        .link("/etc/alternatives/nc", "/bin/nc.openbsd")
        .file("/usr/bin/nc.openbsd", 0o755)
        .link("/usr/bin/telnet", "/nonexistent")
        .file("/usr/bin/socat", 0o644);
    let p = img.check("privilege-tools");
    assert_eq!(p.status, Status::Fail, "{}", p.description);
    assert_eq!(p.findings.len(), 1);
    assert_eq!(p.findings[0].path, "/usr/bin/su");
    assert!(p.findings[0].note.as_deref().unwrap().contains("/usr/bin/busybox"));

    let r = img.check("remote-access-tools");
    assert_eq!(r.status, Status::Fail);
    let failing: Vec<&str> = r.findings.iter().filter(|f| f.violation).map(|f| f.path.as_str()).collect();
    assert_eq!(
        failing,
        ["/usr/bin/nc", "/usr/bin/nc.openbsd"],
        "dangling telnet and non-executable socat are not tools"
    );
    let info = r.findings.iter().find(|f| f.path == "/usr/lib/apt/methods/ssh").unwrap();
    assert!(!info.violation && info.note.as_deref().unwrap().contains("outside PATH"));
    assert!(r.findings.iter().all(|f| !f.path.contains("completions")));
}

#[test]
fn image_path_env_is_honoured() {
    let mut img = Image::new(1);
    img.layer(0).file("/opt/tools/bin/sudo", 0o755);
    assert_eq!(img.check("privilege-tools").status, Status::Pass);
    img.inspect.config.env = vec!["PATH=/opt/tools/bin:/usr/bin".into()];
    assert_eq!(img.check("privilege-tools").status, Status::Fail);
}

#[test]
fn su_as_a_directory_is_not_a_tool() {
    let img = Image::new(1);
    img.layer(0).dir("/usr/bin/su", 0o755).file("/usr/bin/su/inner", 0o755);
    let p = img.check("privilege-tools");
    assert_eq!(p.status, Status::Pass);
    assert!(p.findings.is_empty());
}

#[test]
fn deleted_tools_are_reported_not_failed() {
    let img = Image::new(2);
    img.layer(0).file("/usr/bin/sudo", 0o4755);
    img.layer(1).whiteout("/usr/bin/sudo");
    let p = img.check("privilege-tools");
    assert_eq!(p.status, Status::Pass);
    assert_eq!(p.findings.len(), 1);
    assert!(!p.findings[0].visible);
}

#[test]
fn compilers_in_versioned_and_cross_forms() {
    let img = Image::new(1);
    img.layer(0)
        .file("/usr/bin/x86_64-linux-gnu-gcc-12", 0o755)
        .link("/usr/bin/gcc-12", "x86_64-linux-gnu-gcc-12")
        .link("/usr/bin/gcc", "gcc-12")
        .file("/usr/lib/gcc/x86_64-linux-gnu/12/cc1", 0o755)
        .file("/usr/bin/gcc-ar-12", 0o755);
    let c = img.check("compilers");
    assert_eq!(c.status, Status::Fail);
    let paths: Vec<&str> = c.findings.iter().filter(|f| f.violation).map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["/usr/bin/gcc", "/usr/bin/gcc-12", "/usr/bin/x86_64-linux-gnu-gcc-12"]);
}

#[test]
fn base_os_reads_os_release_through_symlinks() {
    let img = Image::new(1);
    img.layer(0).link("/etc/os-release", "../usr/lib/os-release").file_with(
        "/usr/lib/os-release",
        0o644,
        b"PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n",
    );
    let b = img.check("base-os");
    assert_eq!((b.status, b.description.as_str()), (Status::Pass, "Debian GNU/Linux 12"));
    let empty = Image::new(1);
    empty.layer(0).file("/app", 0o755);
    assert!(empty.check("base-os").description.contains("no os-release"));
}

#[test]
fn hostile_names_are_escaped_in_findings() {
    let img = Image::new(1);
    img.layer(0).file(b"/usr/bin/\xff\x1b[31mevil\n", 0o4755);
    let s = img.check("suid-files");
    assert_eq!(s.findings[0].path, "/usr/bin/\\xff\\x1b[31mevil\\x0a");
    assert!(!s.findings[0].path.chars().any(|c| c.is_control()));
}

#[test]
fn self_referencing_etc_links_are_no_files_never_the_hosts_nor_scan_errors() {
    // etc/passwd -> /etc/passwd loops inside the image; the host has a passwd where
    // "daemon" is uid 1, which must not count.
    let mut img = Image::new(1);
    img.layer(0)
        .link("/etc/passwd", "/etc/passwd")
        .link("/etc/group", "/etc/group")
        .link("/etc/os-release", "/etc/os-release");
    img.inspect.config.user = "daemon".into();
    let u = img.check("root-user");
    assert_eq!(u.status, Status::Fail, "{}", u.description);
    assert!(u.description.contains("has no /etc/passwd"), "{}", u.description);
    assert_eq!(img.check("root-group").status, Status::Fail);
    let os = img.check("base-os");
    assert_eq!(os.status, Status::Pass);
    assert!(os.description.contains("no os-release"), "{}", os.description);
    // A numeric user and group need no account files.
    img.inspect.config.user = "1000:1000".into();
    assert_eq!(img.check("root-user").status, Status::Pass);
    assert_eq!(img.check("root-group").status, Status::Pass);
    // Without a group, the missing passwd entry means gid 0, as in the runtimes.
    img.inspect.config.user = "1000".into();
    assert_eq!(img.check("root-group").status, Status::Fail);
}

#[test]
fn hostile_user_and_account_names_are_escaped_in_descriptions() {
    let mut img = Image::new(1);
    img.layer(0)
        .file_with("/etc/passwd", 0o644, b"ev\x1b[2Jil:x:1001:0::/:/bin/sh\n\x1b]0;t\x07:x:1002:50::/:/bin/sh\n")
        .file_with("/etc/group", 0o644, b"g\x1b[31m:x:0:\n");
    for user in
        ["\x1b[2J\nroot", "ev\x1b[2Jil", "1001", "\x1b]0;t\x07", "1002:g\x1b[31m", "1002:\x1b[5mnone\r", "x\u{9b}31m"]
    {
        img.inspect.config.user = user.into();
        for id in ["root-user", "root-group"] {
            let c = img.check(id);
            assert!(!c.description.chars().any(char::is_control), "USER {user:?} {id}: {:?}", c.description);
        }
    }
    img.inspect.config.user = "1001".into();
    let g = img.check("root-group");
    assert!(g.description.contains("ev\\x1b[2Jil"), "{}", g.description);
}

#[test]
fn an_unreadable_layer_makes_file_checks_errors_never_passes() {
    let img = Image::new(2);
    img.layer(0).file("/usr/bin/passwd", 0o4755);
    let mut sources = img.sources();
    sources[1].files = crate::layers::LayerFiles::Dir(img.dir.path().join("vanished"));
    let classifier = super::Classifier::new(super::all(), &img.settings);
    let fs = crate::layers::scan(sources, &classifier, 2);
    let checks = crate::engine::run_checks(&img.reference, &img.inspect, &fs, &img.policy, &img.settings, super::all());
    for c in &checks {
        let reads = super::find(&c.id).unwrap().meta().reads_layers;
        if reads {
            assert_eq!(c.status, Status::Error, "{}", c.id);
        }
    }
    let suid = checks.iter().find(|c| c.id == "suid-files").unwrap();
    assert_eq!(suid.findings.len(), 1, "what was seen is still reported");
    // root-user with a name needs /etc/passwd, which cannot be trusted now.
    let mut named = Image::new(1);
    named.inspect.config.user = "app".into();
    let mut sources = named.sources();
    sources[0].files = crate::layers::LayerFiles::Dir(named.dir.path().join("vanished"));
    let fs = crate::layers::scan(sources, &classifier, 1);
    let checks =
        crate::engine::run_checks(&named.reference, &named.inspect, &fs, &named.policy, &named.settings, super::all());
    assert_eq!(checks.iter().find(|c| c.id == "root-user").unwrap().status, Status::Error);
}

#[test]
fn config_checks() {
    let mut img = Image::new(2);
    img.layer(0).file("/a", 0o644);
    img.layer(1).file("/b", 0o644);
    img.inspect.root_fs.layers = vec!["sha256:a".into(), "sha256:b".into()];
    img.inspect.config.exposed_ports.insert("22".into(), serde_json::json!({}));
    img.inspect.config.exposed_ports.insert("8080/tcp".into(), serde_json::json!({}));
    let c = img.checks();
    let get = |id: &str| c.iter().find(|x| x.id == id).unwrap().status;
    assert_eq!(get("admin-ports-exposed"), Status::Fail);
    assert_eq!(get("too-many-layers"), Status::Fail);
    assert_eq!(get("labels-missing"), Status::Fail);
    assert_eq!(get("startup-command-missing"), Status::Fail);
    assert_eq!(get("latest-tag"), Status::Pass);

    img.inspect.config.exposed_ports.clear();
    img.inspect.config.exposed_ports.insert("161/tcp".into(), serde_json::json!({}));
    img.inspect.config.exposed_ports.insert("22/udp".into(), serde_json::json!({}));
    img.inspect.config.labels.insert("a".into(), "b".into());
    img.inspect.config.cmd = vec!["/app".into()];
    img.reference = crate::reference::ImageRef::parse("example.com/app").unwrap();
    let c = img.checks();
    let get = |id: &str| c.iter().find(|x| x.id == id).unwrap().status;
    assert_eq!(get("admin-ports-exposed"), Status::Pass, "protocol-aware");
    assert_eq!(get("labels-missing"), Status::Pass);
    assert_eq!(get("startup-command-missing"), Status::Pass);
    assert_eq!(get("latest-tag"), Status::Fail);
}

#[test]
fn privileged_ports_are_findings_a_waiver_can_name() {
    let mut img = Image::new(1);
    img.layer(0).file("/a", 0o644);
    img.inspect.config.exposed_ports.insert("8080/tcp".into(), serde_json::json!({}));
    img.inspect.config.exposed_ports.insert("0/tcp".into(), serde_json::json!({}));
    let c = img.check("privileged-ports-exposed");
    assert_eq!(c.status, Status::Pass, "{}", c.description);
    assert!(c.description.contains("8080/tcp"), "{}", c.description);

    img.inspect.config.exposed_ports.insert("443".into(), serde_json::json!({}));
    img.inspect.config.exposed_ports.insert("53/UDP".into(), serde_json::json!({}));
    img.inspect.config.exposed_ports.insert("http/tcp".into(), serde_json::json!({}));
    let c = img.check("privileged-ports-exposed");
    assert_eq!(c.status, Status::Fail);
    let paths: Vec<&str> = c.findings.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["ExposedPorts 443/tcp", "ExposedPorts 53/udp", "ExposedPorts http/tcp"]);
    assert!(c.findings.iter().all(|f| f.violation && f.kind == crate::model::EntryKind::Config));
    assert!(c.description.contains("3 ports"), "{}", c.description);

    with_policy(
        &mut img,
        "[[waivers]]\ncheck = \"privileged-ports-exposed\"\npath = \"ExposedPorts 443/tcp\"\nreason = \"TLS terminates here\"\n",
    );
    let c = img.check("privileged-ports-exposed");
    assert_eq!(c.status, Status::Fail, "two are not waived");
    assert!(c.findings.iter().find(|f| f.path == "ExposedPorts 443/tcp").unwrap().waiver.is_some());
}

fn with_policy(img: &mut Image, toml: &str) {
    img.policy = crate::engine::policy::parse(toml).unwrap();
    img.settings = crate::engine::policy::rule_settings(&img.policy);
}

#[test]
fn waivers_cover_matching_findings_and_stay_visible() {
    let mut img = Image::new(1);
    img.layer(0).file("/usr/bin/passwd", 0o4755).file("/usr/bin/mount", 0o4755);
    with_policy(&mut img, "[[waivers]]\ncheck = \"suid-files\"\npath = \"/usr/bin/passwd\"\nreason = \"needed\"\n");
    let s = img.check("suid-files");
    assert_eq!(s.status, Status::Fail, "mount is not waived");
    let p = s.findings.iter().find(|f| f.path == "/usr/bin/passwd").unwrap();
    assert_eq!(p.waiver.as_ref().unwrap().reason, "needed");
    assert!(s.description.contains("1 of 2 waived"));

    with_policy(&mut img, "[[waivers]]\ncheck = \"suid-files\"\npath = \"/usr/bin/*\"\nreason = \"ok\"\n");
    let s = img.check("suid-files");
    assert_eq!(s.status, Status::Pass);
    assert_eq!(s.findings.len(), 2, "waived findings stay in the report");
}

#[test]
fn expired_unused_and_image_scoped_waivers() {
    let mut img = Image::new(1);
    img.layer(0).file("/usr/bin/passwd", 0o4755);
    with_policy(
        &mut img,
        r#"
[[waivers]]
check = "suid-files"
path = "/usr/bin/passwd"
reason = "old"
expires = "2001-01-01"
[[waivers]]
check = "sgid-files"
path = "/nothing"
reason = "never matches"
[[waivers]]
check = "suid-files"
path = "/usr/bin/passwd"
image = "other.example/*"
reason = "another image"
"#,
    );
    let fs = img.fs();
    let mut checks =
        crate::engine::run_checks(&img.reference, &img.inspect, &fs, &img.policy, &img.settings, super::all());
    let uses = crate::engine::apply_waivers(&mut checks, &img.policy, &img.reference, crate::time::today());
    let statuses: Vec<&str> = uses.iter().map(|u| u.status.name()).collect();
    assert_eq!(statuses, ["expired", "unused", "unused"]);
    let s = checks.iter().find(|c| c.id == "suid-files").unwrap();
    assert_eq!(s.status, Status::Fail);
    assert!(s.findings[0].waiver.is_none());
    assert!(s.findings[0].note.as_deref().unwrap().contains("expired on 2001-01-01"));
}

#[test]
fn whole_check_waiver_disable_and_severity_override() {
    let mut img = Image::new(1);
    img.layer(0).file("/app", 0o755);
    img.inspect.config.user = String::new();
    with_policy(
        &mut img,
        r#"
[checks.labels-missing]
enabled = false
reason = "labels are checked by required-labels"
[checks.startup-command-missing]
severity = "high"
[[waivers]]
check = "root-user"
image = "example.com/*"
reason = "agent needs root"
"#,
    );
    let c = img.checks();
    let get = |id: &str| c.iter().find(|x| x.id == id).unwrap();
    assert_eq!(get("labels-missing").status, Status::Skipped);
    assert!(get("labels-missing").description.contains("required-labels"));
    assert_eq!(get("startup-command-missing").severity, crate::model::Severity::High);
    assert_eq!(get("startup-command-missing").default_severity, crate::model::Severity::Low);
    let root = get("root-user");
    assert_eq!(root.status, Status::Pass);
    assert_eq!(root.waiver.as_ref().unwrap().reason, "agent needs root");
    assert_eq!(get("root-group").status, Status::Fail, "the waiver names root-user only");
}

#[test]
fn extended_lists_ports_and_layer_limit() {
    let mut img = Image::new(2);
    img.layer(0).file("/usr/sbin/runuser", 0o755).file("/usr/bin/mosh-server", 0o755).file("/usr/bin/tinycc", 0o755);
    img.layer(1).file("/x", 0o644);
    img.inspect.config.exposed_ports.insert("5900".into(), serde_json::json!({}));
    img.inspect.config.exposed_ports.insert("22/tcp".into(), serde_json::json!({}));
    assert_eq!(img.check("privilege-tools").status, Status::Pass);
    assert_eq!(img.check("admin-ports-exposed").status, Status::Fail);
    with_policy(
        &mut img,
        "extra_privilege_tools = [\"runuser\"]\nextra_remote_access_tools = [\"mosh-server\"]\nextra_compilers = [\"tinycc\"]\nadmin_ports = [\"5900\"]\nmax_layers = 2\n",
    );
    assert_eq!(img.check("privilege-tools").status, Status::Fail);
    assert_eq!(img.check("remote-access-tools").status, Status::Fail);
    assert_eq!(img.check("compilers").status, Status::Fail);
    let ports = img.check("admin-ports-exposed");
    assert_eq!(ports.status, Status::Fail);
    assert!(ports.description.contains("5900/tcp") && !ports.description.contains("22/tcp"));
    assert_eq!(img.check("too-many-layers").status, Status::Pass);
}

#[test]
fn required_labels_with_patterns() {
    let mut img = Image::new(1);
    img.layer(0).file("/app", 0o755);
    img.inspect.config.labels.insert("org.opencontainers.image.vendor".into(), "ACME".into());
    img.inspect.config.labels.insert("org.opencontainers.image.version".into(), "v1".into());
    assert_eq!(img.check("required-labels").status, Status::Pass);
    with_policy(
        &mut img,
        "[labels]\nrequired = [{ key = \"org.opencontainers.image.vendor\" }, { key = \"org.opencontainers.image.version\", pattern = \"[0-9]*\" }, { key = \"product\" }]\n",
    );
    let r = img.check("required-labels");
    assert_eq!(r.status, Status::Fail);
    assert!(r.description.contains("org.opencontainers.image.version=\"v1\" does not match"), "{}", r.description);
    assert!(r.description.contains("product is missing"));
    assert!(!r.description.contains("vendor"));
}

fn vfs_cap(revision: u32, effective: bool, permitted: u64, rootid: Option<u32>) -> Vec<u8> {
    let magic = revision << 24 | u32::from(effective);
    let mut words = vec![magic, permitted as u32, 0];
    if revision > 1 {
        words.extend([(permitted >> 32) as u32, 0]);
    }
    words.extend(rootid);
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

#[test]
fn file_capabilities_from_setcap_and_raw_xattrs() {
    let img = Image::new(2);
    img.layer(0)
        .file("/usr/bin/ping", 0o755)
        .setcap("/usr/bin/ping", "cap_net_raw+ep")
        .file("/usr/bin/both", 0o755)
        .setcap("/usr/bin/both", "cap_net_bind_service,cap_net_raw+eip")
        .file("/usr/bin/admin", 0o755)
        .xattr("/usr/bin/admin", "security.capability", &vfs_cap(2, true, 1 << 21, None))
        .file("/usr/bin/nsadmin", 0o755)
        .xattr("/usr/bin/nsadmin", "security.capability", &vfs_cap(3, true, 1 << 21 | 1 << 45, Some(100_000)))
        .file("/usr/lib/not-executable", 0o644)
        .setcap("/usr/lib/not-executable", "cap_sys_admin+ep")
        .file("/usr/bin/gone", 0o755)
        .setcap("/usr/bin/gone", "cap_sys_ptrace+ep")
        .file("/usr/bin/plain", 0o755)
        .link("/usr/bin/ping-link", "ping");
    img.layer(1).whiteout("/usr/bin/gone");
    let c = img.check("file-capabilities");
    assert_eq!(c.status, Status::Fail, "{}", c.description);
    assert_eq!(c.description, "4 files with capabilities (1 more in layers but not in the final image)");
    let note = |p: &str| {
        let f = c.findings.iter().find(|f| f.path == p).unwrap_or_else(|| panic!("no {p}: {:?}", c.findings));
        (f.violation, f.note.clone().unwrap_or_default())
    };
    assert_eq!(note("/usr/bin/ping"), (true, "cap_net_raw+ep".into()));
    assert_eq!(note("/usr/bin/both"), (true, "cap_net_bind_service,cap_net_raw+eip".into()));
    assert_eq!(note("/usr/bin/admin"), (true, "cap_sys_admin+ep".into()));
    let (v, n) = note("/usr/bin/nsadmin");
    assert!(v && n.starts_with("cap_sys_admin,cap_45+ep") && n.contains("host uid 100000"), "{n}");
    let (v, n) = note("/usr/bin/gone");
    assert!(!v && n.starts_with("cap_sys_ptrace+ep") && n.contains("layer 2"), "{n}");
    assert_eq!(c.findings.len(), 5, "no finding for the non-executable file, the plain one or the link");
    let ping = c.findings.iter().find(|f| f.path == "/usr/bin/ping").unwrap();
    assert_eq!((ping.layer, ping.visible, ping.mode.as_str()), (1, true, "0755"));

    let clean = Image::new(1);
    clean.layer(0).file("/usr/bin/ping", 0o755);
    let c = clean.check("file-capabilities");
    assert_eq!((c.status, c.findings.len()), (Status::Pass, 0));
}

#[test]
fn file_capabilities_removed_by_a_later_layer_pass() {
    // The later layer's copy of the file has no capability: what ships is listed, not failed.
    let img = Image::new(2);
    img.layer(0).file("/usr/bin/ping", 0o755).setcap("/usr/bin/ping", "cap_net_raw+ep");
    img.layer(1).file("/usr/bin/ping", 0o755);
    let c = img.check("file-capabilities");
    assert_eq!(c.status, Status::Pass, "{}", c.description);
    assert_eq!(c.findings.len(), 1);
    assert!(!c.findings[0].visible && !c.findings[0].violation);
}

#[test]
fn world_writable_files_and_directories() {
    let img = Image::new(2);
    img.layer(0)
        .dir("/tmp", 0o1777)
        .dir("/var/tmp", 0o1777)
        .dir("/srv/shared", 0o777)
        .dir("/srv/group-only", 0o775)
        .file_with("/etc/app.conf", 0o666, b"k=v")
        .file("/etc/ok.conf", 0o644)
        .file("/opt/gone", 0o646)
        .link("/usr/bin/any-link", "/etc/ok.conf");
    img.layer(1).whiteout("/opt/gone");
    let w = img.check("world-writable");
    assert_eq!(w.status, Status::Fail);
    assert_eq!(
        w.description,
        "1 world-writable file and 1 world-writable directory without the sticky bit (1 more in layers but not in \
         the final image)"
    );
    let got: Vec<(&str, bool)> = w.findings.iter().map(|f| (f.path.as_str(), f.violation)).collect();
    assert_eq!(got, [("/etc/app.conf", true), ("/srv/shared", true), ("/opt/gone", false)]);
    assert!(w.findings[1].note.as_deref().unwrap().contains("sticky"));

    let sticky = Image::new(1);
    sticky.layer(0).dir("/tmp", 0o1777).link("/usr/bin/x", "/tmp");
    let w = sticky.check("world-writable");
    assert_eq!((w.status, w.findings.len()), (Status::Pass, 0), "{}", w.description);
}

fn accounts(passwd: Option<&str>, shadow: Option<&str>, group: Option<&str>) -> crate::model::CheckResult {
    let img = Image::new(1);
    img.layer(0).dir("/etc", 0o755);
    for (path, content) in [("/etc/passwd", passwd), ("/etc/shadow", shadow), ("/etc/group", group)] {
        if let Some(c) = content {
            img.layer(0).file_with(path, 0o640, c.as_bytes());
        }
    }
    img.check("account-hygiene")
}

const HEALTHY_PASSWD: &str =
    "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/usr/sbin/nologin\napp:x:1000:1000::/app:/bin/sh\n";
const HEALTHY_SHADOW: &str = "root:*:19000:0:99999:7:::\ndaemon:!:19000::::::\napp:!!:19000::::::\n";
const HEALTHY_GROUP: &str = "root:x:0:root\ndaemon:x:1:\napp:x:1000:\n";

#[test]
fn account_hygiene_passes_locked_accounts_and_says_what_it_checked() {
    let a = accounts(Some(HEALTHY_PASSWD), Some(HEALTHY_SHADOW), Some(HEALTHY_GROUP));
    assert_eq!(a.status, Status::Pass, "{}", a.description);
    assert!(a.findings.is_empty());
    assert!(
        a.description.contains("3 accounts in /etc/passwd, 3 entries in /etc/shadow, 3 groups"),
        "{}",
        a.description
    );
    let none = accounts(None, None, None);
    assert_eq!(none.status, Status::Pass);
    assert!(none.description.contains("no /etc/passwd"), "{}", none.description);
}

#[test]
fn account_hygiene_findings() {
    type Case<'a> = (&'a str, Option<&'a str>, &'a str, &'a [(&'a str, bool, &'a str)]);
    let cases: &[Case] = &[
        // Empty in shadow with a shell fails; with nologin it is information.
        (
            "root:x:0:0::/root:/bin/sh\nguest:x:1001:1001::/:/bin/sh\nsvc:x:1002:1002::/:/usr/sbin/nologin\n",
            Some("root:*:1::::::\nguest::1::::::\nsvc::1::::::\n"),
            "",
            &[
                ("/etc/shadow: account guest", true, "empty password in /etc/shadow and login shell /bin/sh"),
                ("/etc/shadow: account svc", false, "but shell /usr/sbin/nologin gives no login"),
            ],
        ),
        // No shadow entry: the passwd field decides; an empty shell field is /bin/sh.
        (
            "root:x:0:0::/root:/bin/sh\nopen::1001:1001::/:\nlocked:*:1002:1002::/:/bin/sh\nshadowed:x:1003:1003::/:/bin/sh\n",
            Some("root:*:1::::::\n"),
            "",
            &[("/etc/passwd: account open", true, "login shell /bin/sh")],
        ),
        // ... also with no /etc/shadow at all; a shadow entry wins over passwd's field.
        ("open::1001:1001::/:/bin/bash\n", None, "", &[("/etc/passwd: account open", true, "/bin/bash")]),
        ("hashed:x:1001:1001::/:/bin/bash\n", Some("hashed:$6$s$h:1::::::\n"), "", &[]),
        // A second uid 0 account, root keeping the id wherever it is listed.
        (
            "toor:x:0:0::/:/bin/sh\nroot:x:0:0::/root:/bin/sh\n",
            Some("toor:*:1::::::\nroot:*:1::::::\n"),
            "",
            &[("/etc/passwd: account toor", true, "a second uid 0 account: toor is root under another name")],
        ),
        (
            "root:x:0:0::/root:/bin/sh\na:x:1000:1000::/:/bin/sh\nb:x:1000:1000::/:/bin/sh\n",
            Some("root:*:1::::::\na:*:1::::::\nb:!:1::::::\n"),
            "",
            &[("/etc/passwd: account b", true, "uid 1000 is also a's")],
        ),
        // Duplicate gids and a gid 0 group with members other than root.
        (
            "root:x:0:0::/root:/bin/sh\n",
            Some("root:*:1::::::\n"),
            "root:x:0:root,app\nwheel:x:0:\nstaff:x:50:\nstaff2:x:50:\n",
            &[
                ("/etc/group: group root", true, "gid 0 group with members app"),
                ("/etc/group: group staff2", true, "gid 50 is also group staff's"),
                ("/etc/group: group wheel", true, "gid 0 is also group root's"),
            ],
        ),
    ];
    for (passwd, shadow, group, want) in cases {
        let a = accounts(Some(passwd), *shadow, (!group.is_empty()).then_some(*group));
        let failing = want.iter().any(|w| w.1);
        assert_eq!(a.status, if failing { Status::Fail } else { Status::Pass }, "{passwd}: {}", a.description);
        let mut got: Vec<(&str, bool, &str)> =
            a.findings.iter().map(|f| (f.path.as_str(), f.violation, f.note.as_deref().unwrap_or(""))).collect();
        got.sort();
        assert_eq!(got.len(), want.len(), "{passwd}: {got:?}");
        for (g, w) in got.iter().zip(want.iter()) {
            assert!(g.0 == w.0 && g.1 == w.1 && g.2.contains(w.2), "{passwd}: got {g:?}, want {w:?}");
        }
        for f in &a.findings {
            assert!(!f.note.as_deref().unwrap_or("").contains('$'), "never a hash: {f:?}");
            assert_eq!(f.layer, 1, "the layer that wrote the account file");
        }
    }
}

#[test]
fn account_hygiene_is_an_error_when_shadow_cannot_be_read() {
    let img = Image::new(1);
    img.layer(0).file_with("/etc/passwd", 0o644, HEALTHY_PASSWD.as_bytes()).dir("/etc/shadow", 0o755).file_with(
        "/etc/group",
        0o644,
        HEALTHY_GROUP.as_bytes(),
    );
    let a = img.check("account-hygiene");
    assert_eq!(a.status, Status::Error, "{}", a.description);
    assert!(a.description.contains("/etc/shadow"), "{}", a.description);
}

#[test]
fn account_names_are_escaped_in_findings() {
    let a = accounts(Some("root:x:0:0::/:/bin/sh\nev\x1b[2Jil:x:0:0::/:/bin/sh\x07\n"), None, None);
    assert_eq!(a.status, Status::Fail);
    for f in &a.findings {
        assert!(!f.path.chars().any(char::is_control) && !f.note.as_deref().unwrap().chars().any(char::is_control));
    }
}

#[test]
fn secrets_in_env_labels_and_history_are_found_and_masked() {
    use crate::inspect::History;
    let mut img = Image::new(2);
    img.layer(0).file("/app", 0o755);
    img.layer(1).file("/app2", 0o755);
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    img.inspect.config.env = vec![
        "PATH=/usr/bin".into(),
        "PWD=/app".into(),
        "DB_PASSWORD=correct-horse-battery".into(),
        "DB_PASSWORD_FILE=/run/secrets/db".into(),
        "API_KEY=$API_KEY_FROM_RUNTIME".into(),
        "GPG_KEY=A4A9406876FCBD3C456770C88C718D3B5072E1F5".into(),
        "MONKEY=banana".into(),
        "AUTH_URL=https://auth.example.com/".into(),
        "EMPTY_TOKEN=".into(),
    ];
    img.inspect.config.labels.insert("api.token".into(), "label-secret-value".into());
    img.inspect.config.labels.insert("version".into(), "1.0".into());
    let step = |created_by: &str, empty_layer: bool| History {
        created_by: created_by.into(),
        empty_layer,
        ..Default::default()
    };
    img.inspect.history = vec![
        step("/bin/sh -c #(nop) ADD file:abc in /", false),
        step("/bin/sh -c #(nop) ENV DB_PASSWORD=correct-horse-battery", true),
        step(&format!("|1 GH={token} /bin/sh -c git clone https://x/y"), false),
    ];
    let c = img.check("secrets-in-config");
    assert_eq!(c.status, Status::Fail, "{}", c.description);
    assert_eq!(c.description, "secrets in 1 Env entry, 1 label, 2 history steps");
    let at: Vec<(&str, usize)> = c.findings.iter().map(|f| (f.path.as_str(), f.layer)).collect();
    assert_eq!(
        at,
        [("Env DB_PASSWORD", 0), ("label api.token", 0), ("history step 2", 0), ("history step 3", 2)],
        "an ENV step makes no layer; the third step made layer 2"
    );
    let step3 = &c.findings[3];
    assert_eq!(step3.layer_digest, format!("sha256:{:064x}", 2));
    assert_eq!(step3.note.as_deref(), Some("github-token: ghp_…(40 chars)"));
    assert!(!step3.created_by.contains(token), "the finding's history is masked: {}", step3.created_by);
    for f in &c.findings {
        let all = format!("{f:?}");
        for raw in ["correct-horse-battery", "label-secret-value", token] {
            assert!(!all.contains(raw), "{raw} shown in {all}");
        }
        assert!(f.violation && f.visible && f.kind == crate::model::EntryKind::Config);
    }

    img.inspect.config.env.retain(|e| !e.starts_with("DB_PASSWORD="));
    img.inspect.config.labels.remove("api.token");
    img.inspect.history.truncate(1);
    let c = img.check("secrets-in-config");
    assert_eq!(c.status, Status::Pass, "{:?}", c.findings);
    assert_eq!(c.description, "no secrets in 8 Env entries, 1 label or 1 history step");
}

use crate::testutil::{secret_file_verdicts, secret_files_image, SECRET_FILE_VALUES, TEST_CERT, TEST_RSA_KEY};

#[test]
fn secret_files_are_verified_by_content_in_every_layer() {
    let img = secret_files_image();
    let c = img.check("secret-files");
    assert_eq!(c.status, Status::Fail, "{}", c.description);
    let s = |p: &str, layer, visible, violation| (p.to_string(), layer, visible, violation);
    assert_eq!(
        secret_file_verdicts(&c),
        [
            s("/big/huge.pem", 1, true, true),
            s("/build/deploy.key", 1, true, true),
            s("/home/app/.docker/config.json", 1, true, true),
            s("/home/app/.npmrc", 1, true, true),
            s("/root/.aws/credentials", 1, true, true),
            s("/root/.git-credentials", 1, true, true),
            s("/root/.kube/config", 1, true, true),
            s("/root/.netrc", 1, true, true),
            s("/root/.pypirc", 1, true, true),
            s("/root/.ssh/id_ed25519", 1, true, true),
            s("/tmp/leaked.pem", 2, false, true),
            s("/usr/lib/python3/site-packages/pkg/tests/data/k.pem", 1, true, false),
            s("/usr/share/doc/openssl/example.key", 1, true, false),
            s("/etc/ssl/private/server.pem", 1, true, true),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    assert_eq!(
        c.description,
        "12 files with a private key or credential, 1 of them deleted later but still in their layer \
         (2 in documentation or test data listed for information)"
    );
    let note = |p: &str| c.findings.iter().find(|f| f.path == p).unwrap().note.clone().unwrap();
    assert_eq!(note("/etc/ssl/private/server.pem"), "private key (BEGIN RSA PRIVATE KEY)");
    assert_eq!(note("/home/app/.docker/config.json"), "registry auth for registry.example.com: dXNl…(28 chars)");
    assert_eq!(note("/root/.aws/credentials"), "AWS secret access key: wJal…(40 chars)");
    assert!(note("/big/huge.pem").contains("too big to verify"));
    assert!(note("/tmp/leaked.pem").contains("deleted or replaced by layer 3"));
    let all = format!("{:?}", c);
    for raw in SECRET_FILE_VALUES {
        assert!(!all.contains(raw), "{raw} shown");
    }
}

#[test]
fn secret_files_pass_on_certificates_and_public_keys_and_take_policy_globs() {
    let mut img = Image::new(1);
    img.layer(0)
        .file_with("/etc/ssl/certs/ca.pem", 0o644, TEST_CERT.as_bytes())
        .file_with("/root/.ssh/id_rsa.pub", 0o644, b"ssh-rsa AAAAB3NzaC1yc2E root@host\n")
        .file_with("/opt/app/conf/app.secret", 0o600, TEST_RSA_KEY.as_bytes());
    let c = img.check("secret-files");
    assert_eq!(
        (c.status, c.description.as_str()),
        (Status::Pass, "no private keys or credentials in 2 candidate files")
    );
    img.policy = crate::engine::policy::parse("extra_secret_files = [\"*.secret\"]").unwrap();
    img.settings = crate::engine::policy::rule_settings(&img.policy);
    let c = img.check("secret-files");
    assert_eq!(c.status, Status::Fail, "{}", c.description);
    assert_eq!(c.findings.len(), 1);
    assert_eq!(c.findings[0].path, "/opt/app/conf/app.secret");
}

#[test]
fn a_candidate_swapped_for_a_symlink_after_the_walk_is_an_error_never_followed() {
    let img = Image::new(1);
    img.layer(0).file_with("/root/id_rsa", 0o600, TEST_RSA_KEY.as_bytes());
    let fs = img.fs();
    let host = img.layer(0).root.join("root/id_rsa");
    std::fs::remove_file(&host).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", &host).unwrap();
    let checks =
        crate::engine::run_checks(&img.reference, &img.inspect, &fs, &img.policy, &img.settings, crate::rules::all());
    let c = checks.into_iter().find(|c| c.id == "secret-files").unwrap();
    assert_eq!(c.status, Status::Error, "{}", c.description);
    assert!(c.description.contains("1 candidate file could not be read"), "{}", c.description);
}

fn healthcheck(img: &mut Image, inspect_json: &str) -> crate::model::CheckResult {
    img.inspect = crate::inspect::parse(inspect_json.as_bytes()).unwrap();
    img.check("healthcheck-missing")
}

#[test]
fn healthcheck_from_podman_docker_and_oci_configs() {
    let mut img = Image::new(1);
    img.layer(0).file("/app", 0o755);
    // podman inspect of a docker-format image: beside Config.
    let c = healthcheck(
        &mut img,
        r#"[{"ManifestType":"application/vnd.docker.distribution.manifest.v2+json",
            "Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost/ || exit 1"],"Interval":30000000000}}]"#,
    );
    assert_eq!(c.status, Status::Pass, "{}", c.description);
    assert!(c.description.contains("CMD-SHELL curl -f"), "{}", c.description);
    // A docker image config (the registry source): inside config.
    let c = healthcheck(&mut img, r#"[{"Config":{"Healthcheck":{"Test":["CMD","/bin/true"]}}}]"#);
    assert_eq!(c.status, Status::Pass, "{}", c.description);
    let c = healthcheck(&mut img, r#"[{"Healthcheck":{"Test":["NONE"]}}]"#);
    assert_eq!(c.status, Status::Fail);
    assert!(c.description.contains("disabled"), "{}", c.description);
    // Docker's "inherit" (empty Test) in a finished image means none.
    let c = healthcheck(&mut img, r#"[{"Healthcheck":{"Test":[]}}]"#);
    assert_eq!((c.status, c.description.as_str()), (Status::Fail, "no HEALTHCHECK"));
    let c =
        healthcheck(&mut img, r#"[{"ManifestType":"application/vnd.oci.image.manifest.v1+json","Healthcheck":null}]"#);
    assert_eq!(c.status, Status::Fail);
    assert!(c.description.contains("OCI format, which cannot carry one"), "{}", c.description);
    let c = healthcheck(&mut img, r#"[{"Healthcheck":{"Test":["CMD","/x\u001b[2J"]}}]"#);
    assert!(c.description.contains("/x\\x1b[2J"), "escaped: {}", c.description);
}

#[test]
fn build_hygiene_names_the_history_step_and_its_layer() {
    let mut img = Image::new(2);
    img.layer(0).file("/bin/sh", 0o755);
    img.layer(1).file("/app", 0o755);
    img.inspect = crate::inspect::parse(
        br#"[{"History":[
        {"created_by":"/bin/sh -c #(nop) ADD file:abc in / "},
        {"created_by":"/bin/sh -c #(nop)  CMD [\"bash\"]","empty_layer":true},
        {"created_by":"ADD https://example.com/x.tgz in /opt","empty_layer":true},
        {"created_by":"|1 V=1 /bin/sh -c apt-get update && curl -fsSL https://get.example.com | sh"}]}]"#,
    )
    .unwrap();
    let c = img.check("build-hygiene");
    assert_eq!(c.status, Status::Fail, "{}", c.description);
    let got: Vec<(String, usize, String)> =
        c.findings.iter().map(|f| (f.path.clone(), f.layer, f.note.clone().unwrap_or_default())).collect();
    assert_eq!(
        got,
        vec![
            ("history step 3".into(), 0, "ADD of a remote URL: ADD https://example.com/x.tgz".into()),
            (
                "history step 4".into(),
                2,
                "package index refreshed without an install in the same step: apt-get update".into()
            ),
            (
                "history step 4".into(),
                2,
                "a download piped into a shell: curl -fsSL https://get.example.com | sh".into()
            ),
        ]
    );
    assert!(c.findings.iter().all(|f| f.violation && f.visible));
    assert_eq!(c.findings[1].layer_digest, format!("sha256:{:064x}", 2));

    img.inspect = crate::inspect::parse(
        br#"[{"History":[{"created_by":"/bin/sh -c apt-get update && apt-get install -y x"},{"created_by":"COPY . /app"}]}]"#,
    )
    .unwrap();
    let c = img.check("build-hygiene");
    assert_eq!(c.status, Status::Pass, "{:?}", c.findings);
}

fn notes(c: &crate::model::CheckResult) -> Vec<(String, usize, bool, String)> {
    c.findings.iter().map(|f| (f.path.clone(), f.layer, f.violation, f.note.clone().unwrap_or_default())).collect()
}

#[test]
fn package_caches_count_only_with_files_in_them() {
    // Debian's base: an empty lists/partial and the lock files are no cache left behind.
    let img = Image::new(1);
    img.layer(0)
        .dir("/var/lib/apt/lists/partial", 0o700)
        .file("/var/lib/apt/lists/lock", 0o640)
        .dir("/var/cache/apt/archives/partial", 0o700)
        .file("/var/cache/apt/archives/lock", 0o640)
        .dir("/var/cache/apk", 0o755);
    let c = img.check("build-hygiene");
    assert_eq!(c.status, Status::Pass, "{:?}", c.findings);

    let img = Image::new(3);
    img.layer(0).dir("/var/lib/apt/lists/partial", 0o700).file("/var/lib/apt/lists/lock", 0o640);
    img.layer(1)
        .file("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", 0o644)
        .file("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4", 0o644)
        .file("/var/cache/apt/pkgcache.bin", 0o644)
        .file("/var/cache/apk/APKINDEX.abc.tar.gz", 0o644);
    // The last layer cleans the apt lists and the apk cache, but leaves pkgcache.bin.
    img.layer(2)
        .whiteout("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease")
        .whiteout("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4")
        .whiteout("/var/cache/apk/APKINDEX.abc.tar.gz")
        .file("/var/cache/dnf/repodata.xml", 0o644);
    let c = img.check("build-hygiene");
    assert_eq!(c.status, Status::Fail);
    assert_eq!(
        notes(&c),
        vec![
            ("/var/cache/apt/pkgcache.bin".into(), 2, true, "apt package cache left in the image: 1 file under /var/cache/apt".into()),
            ("/var/cache/dnf/repodata.xml".into(), 3, true, "dnf cache left in the image: 1 file under /var/cache/dnf".into()),
            (
                "/var/cache/apk/APKINDEX.abc.tar.gz".into(),
                2,
                false,
                "apk cache left in the image: 1 file under /var/cache/apk; not in the final image: deleted or replaced by layer 3".into()
            ),
            (
                "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease".into(),
                2,
                false,
                "apt package lists left in the image: 2 files under /var/lib/apt/lists; not in the final image: deleted or replaced by layer 3".into()
            ),
        ]
    );
    assert!(c.description.contains("package caches left by 2 layers"), "{}", c.description);
}

#[test]
fn unwanted_files_visible_deleted_nested_and_packaged() {
    let img = Image::new(2);
    img.layer(0)
        .file("/app/.git/config", 0o644)
        .file("/app/.git/objects/ab/cdef", 0o444)
        .dir("/app/.git/.idea", 0o755)
        .file("/app/Dockerfile", 0o644)
        .file("/app/.env.production", 0o600)
        .file("/app/.environment", 0o644)
        .file("/app/Dockerfile.md", 0o644)
        .file("/src/.git/HEAD", 0o644)
        .file("/usr/share/doc/pkg/examples/Dockerfile", 0o644)
        .file("/home/u/.DS_Store", 0o644);
    // Layer 2 deletes /src/.git and writes into /app/.git (its copy replaces layer 1's).
    img.layer(1).whiteout("/src/.git").file("/app/.git/FETCH_HEAD", 0o644).file("/srv/.vscode", 0o644);
    let c = img.check("unwanted-files");
    assert_eq!(c.status, Status::Fail);
    let mut got: Vec<(String, usize, bool)> =
        c.findings.iter().map(|f| (f.path.clone(), f.layer, f.violation)).collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("/app/.env.production".into(), 1, true),
            ("/app/.git".into(), 2, true),
            ("/app/Dockerfile".into(), 1, true),
            ("/app/Dockerfile.md".into(), 1, true),
            ("/home/u/.DS_Store".into(), 1, true),
            ("/src/.git".into(), 1, false),
            ("/srv/.vscode".into(), 2, true),
            ("/usr/share/doc/pkg/examples/Dockerfile".into(), 1, false),
        ]
    );
    let deleted = c.findings.iter().find(|f| f.path == "/src/.git").unwrap();
    assert!(!deleted.visible && deleted.note.as_deref().unwrap().contains("deleted or replaced by layer 2"));
    assert!(c.description.starts_with("6 unwanted files or directories"), "{}", c.description);

    // Nothing left once the policy's extra globs are the only matches and they do not match.
    let clean = Image::new(1);
    clean.layer(0).file("/app/main", 0o755).file("/app/.gitignore", 0o644);
    assert_eq!(clean.check("unwanted-files").status, Status::Pass);
}

#[test]
fn unwanted_files_list_is_extended_by_the_policy() {
    let mut img = Image::new(1);
    img.layer(0).file("/app/main.go.orig", 0o644).file("/app/test/fixture.json", 0o644).file("/app/x.json", 0o644);
    assert_eq!(img.check("unwanted-files").status, Status::Pass);
    with_policy(
        &mut img,
        "extra_unwanted_files = [\"*.orig\", \"/app/test/*\"]\n[[waivers]]\ncheck = \"unwanted-files\"\npath = \"/app/test/*\"\nreason = \"fixtures are read at run time\"\n",
    );
    let c = img.check("unwanted-files");
    assert_eq!(c.status, Status::Fail);
    let got: Vec<(String, bool)> = c.findings.iter().map(|f| (f.path.clone(), f.waiver.is_some())).collect();
    assert_eq!(got, vec![("/app/main.go.orig".to_string(), false), ("/app/test/fixture.json".to_string(), true)]);
}

// Installed packages of a forbidden kind (privilege-tools, remote-access-tools, compilers).

const PKG_STATUS: &str =
    "Package: gcc-12-base\nStatus: install ok installed\nVersion: 12.2.0-14\nArchitecture: amd64\n\n\
Package: gcc-12\nStatus: install ok installed\nVersion: 12.2.0-14\nArchitecture: amd64\n\n\
Package: openssh-client\nStatus: install ok installed\nVersion: 1:9.2p1-2+deb12u3\nArchitecture: amd64\n\n\
Package: cpp-12\nStatus: install ok installed\nVersion: 12.2.0-14\nArchitecture: amd64\n\n";

/// gcc-12's driver renamed out of PATH (dpkg's list names the new path, as a diversion or
/// a hand edit leaves it), ssh where openssh-client put it, and a base package not listed.
fn package_image(db: Option<&str>) -> Image {
    let img = Image::new(2);
    let l = img.layer(0);
    l.dir("/usr/bin", 0o755).dir("/opt/tools", 0o755).file("/opt/tools/cc-renamed", 0o755);
    l.file("/usr/lib/gcc/x86_64-linux-gnu/12/cc1", 0o755).file("/usr/share/doc/gcc-12/README", 0o644);
    l.file("/usr/bin/ssh", 0o755).file("/usr/bin/ssh-keygen", 0o755).file("/usr/bin/cpp-12", 0o755);
    let l = img.layer(1);
    if let Some(db) = db {
        l.file_with("/var/lib/dpkg/status", 0o644, db.as_bytes());
        l.file_with("/var/lib/dpkg/info/gcc-12-base.list", 0o644, b"/.\n/usr\n/usr/share/doc/gcc-12-base\n");
        l.file_with(
            "/var/lib/dpkg/info/gcc-12.list",
            0o644,
            b"/.\n/usr\n/usr/share/doc/gcc-12/README\n/usr/lib/gcc/x86_64-linux-gnu/12/cc1\n/opt/tools/cc-renamed\n/usr/share/man/gone.1.gz\n",
        );
        l.file_with(
            "/var/lib/dpkg/info/openssh-client.list",
            0o644,
            b"/.\n/usr/bin\n/usr/bin/ssh\n/usr/bin/ssh-keygen\n",
        );
        l.file_with("/var/lib/dpkg/info/cpp-12.list", 0o644, b"/usr/bin/cpp-12\n");
    }
    img
}

fn package_findings(c: &crate::model::CheckResult) -> Vec<&crate::model::Finding> {
    c.findings.iter().filter(|f| f.kind == crate::model::EntryKind::Config).collect()
}

#[test]
fn an_installed_package_fails_its_check_whatever_its_files_are_called() {
    let img = package_image(Some(PKG_STATUS));
    let c = img.check("compilers");
    assert_eq!(c.status, Status::Fail, "{c:?}");
    let pkgs = package_findings(&c);
    assert_eq!(pkgs.len(), 1, "gcc-12 only (not gcc-12-base, not cpp-12): {pkgs:?}");
    let f = pkgs[0];
    assert_eq!(f.path, "package gcc-12 12.2.0-14 (amd64, deb) installed");
    assert!(f.violation && f.visible && !f.not_owned);
    assert_eq!((f.layer, f.created_by.as_str()), (2, "step 2"), "the layer that wrote info/gcc-12.list");
    let p = f.package.as_ref().unwrap();
    assert_eq!(
        (p.name.as_str(), p.version.as_str(), p.arch.as_str(), p.ecosystem.as_str()),
        ("gcc-12", "12.2.0-14", "amd64", "deb")
    );
    assert_eq!(f.fix.as_deref(), Some("apt-get purge --auto-remove gcc-12"));
    // Executables first; the directories and the file no longer in the image are left out.
    assert_eq!(
        f.note.as_deref(),
        Some("installs /opt/tools/cc-renamed, /usr/lib/gcc/x86_64-linux-gnu/12/cc1, /usr/share/doc/gcc-12/README")
    );
    assert!(c.findings.iter().all(|f| !f.violation || f.kind == crate::model::EntryKind::Config), "{c:?}");
    assert_eq!(c.description, "no compilers on PATH; package gcc-12 installed");

    let r = img.check("remote-access-tools");
    assert_eq!(r.status, Status::Fail);
    assert_eq!(r.description, "1 remote-access tool on PATH: ssh; package openssh-client installed");
    let pkgs = package_findings(&r);
    assert_eq!(pkgs.len(), 1);
    assert_eq!(pkgs[0].fix.as_deref(), Some("apt-get purge --auto-remove openssh-client"));
    assert_eq!(pkgs[0].note.as_deref(), Some("installs /usr/bin/ssh, /usr/bin/ssh-keygen"));
    let ssh = r.findings.iter().find(|f| f.path == "/usr/bin/ssh").unwrap();
    assert_eq!(ssh.package.as_ref().map(|p| p.name.as_str()), Some("openssh-client"), "the file finding stays");

    let p = img.check("privilege-tools");
    assert_eq!(p.status, Status::Pass);
    assert_eq!(p.description, "no privilege tools on PATH; no privilege tool package installed");
}

#[test]
fn without_a_readable_database_the_file_verdicts_stand_and_say_why() {
    let with = package_image(Some(PKG_STATUS)).checks();
    let absent = package_image(None).checks();
    let broken = package_image(None);
    broken.layer(0).dir("/var/lib/dpkg/status", 0o755);
    let broken = broken.checks();
    let get = |cs: &[crate::model::CheckResult], id: &str| cs.iter().find(|c| c.id == id).unwrap().clone();
    for (other, why) in [
        (&absent, "package lists not checked: no package database found"),
        (&broken, "package lists not checked: /var/lib/dpkg/status could not be read"),
    ] {
        let c = get(other, "compilers");
        assert_eq!(c.status, Status::Pass, "the renamed gcc is not found by name: {c:?}");
        assert!(c.description.starts_with("no compilers on PATH") && c.description.contains(why), "{}", c.description);
        let r = get(other, "remote-access-tools");
        assert_eq!(r.status, Status::Fail);
        assert!(package_findings(&r).is_empty());
        let files = |c: &crate::model::CheckResult| {
            c.findings
                .iter()
                .filter(|f| f.kind != crate::model::EntryKind::Config)
                .map(|f| (f.path.clone(), f.violation))
                .collect::<Vec<_>>()
        };
        for id in ["compilers", "remote-access-tools", "privilege-tools"] {
            assert_eq!(files(&get(other, id)), files(&get(&with, id)), "{id}: file findings as with the database");
        }
    }
}

#[test]
fn package_notes_are_bounded_and_globs_match_versions() {
    let img = Image::new(1);
    let mut list = String::new();
    for i in 0..12 {
        let exec = i % 3 == 0;
        img.layer(0).file(format!("/usr/lib/clang/f{i:02}"), if exec { 0o755 } else { 0o644 });
        list.push_str(&format!("/usr/lib/clang/f{i:02}\n"));
    }
    img.layer(0).file_with(
        "/var/lib/dpkg/status",
        0o644,
        b"Package: clang-16\nStatus: install ok installed\nVersion: 1:16.0.6-15\nArchitecture: arm64\n\n",
    );
    img.layer(0).file_with("/var/lib/dpkg/info/clang-16:arm64.list", 0o644, list.as_bytes());
    let c = img.check("compilers");
    assert_eq!(c.status, Status::Fail);
    let f = package_findings(&c)[0];
    assert_eq!(f.path, "package clang-16 1:16.0.6-15 (arm64, deb) installed");
    assert_eq!(f.layer, 1, "info/NAME:ARCH.list names the layer");
    assert_eq!(
        f.note.as_deref(),
        Some(
            "installs /usr/lib/clang/f00, /usr/lib/clang/f03, /usr/lib/clang/f06, /usr/lib/clang/f09, \
             /usr/lib/clang/f01, /usr/lib/clang/f02, /usr/lib/clang/f04, /usr/lib/clang/f05 and 4 more"
        )
    );
}

#[test]
fn policy_extends_and_narrows_the_package_lists_and_waives_a_package() {
    let status = "Package: mycc-3\nStatus: install ok installed\nVersion: 3.0\nArchitecture: amd64\n\n\
Package: gcc-12\nStatus: install ok installed\nVersion: 12.2.0-14\nArchitecture: amd64\n\n\
Package: mosh\nStatus: install ok installed\nVersion: 1.4.0-1\nArchitecture: amd64\n\n\
Package: openssh-client\nStatus: install ok installed\nVersion: 1:9.2p1-2\nArchitecture: amd64\n\n";
    let mut img = Image::new(1);
    img.layer(0).file_with("/var/lib/dpkg/status", 0o644, status.as_bytes());
    let names = |img: &Image, id: &str| {
        package_findings(&img.check(id)).iter().map(|f| f.package.as_ref().unwrap().name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&img, "compilers"), ["gcc-12"]);
    assert_eq!(names(&img, "remote-access-tools"), ["openssh-client"]);
    assert_eq!(package_findings(&img.check("compilers"))[0].layer, 0, "no .list: no layer");
    with_policy(
        &mut img,
        "extra_compiler_packages = [\"mycc-*\", \"!gcc-12\"]\nextra_remote_access_packages = [\"mosh\"]\n\
         [[waivers]]\ncheck = \"remote-access-tools\"\npath = \"package openssh-*\"\nreason = \"debug image\"\n",
    );
    assert_eq!(names(&img, "compilers"), ["mycc-3"]);
    let r = img.check("remote-access-tools");
    assert_eq!(r.status, Status::Fail, "mosh is not waived");
    let by =
        |n: &str| package_findings(&r).into_iter().find(|f| f.package.as_ref().unwrap().name == n).unwrap().clone();
    assert_eq!(by("openssh-client").waiver.as_ref().map(|w| w.reason.as_str()), Some("debug image"));
    assert!(by("mosh").waiver.is_none());
    with_policy(
        &mut img,
        "extra_remote_access_packages = [\"mosh\"]\n\
         [[waivers]]\ncheck = \"remote-access-tools\"\npath = \"package mosh\"\nreason = \"r\"\n\
         [[waivers]]\ncheck = \"remote-access-tools\"\npath = \"package openssh-client\"\nreason = \"r\"\n",
    );
    assert_eq!(img.check("remote-access-tools").status, Status::Pass, "every package finding waived");
}

#[test]
fn an_apk_package_gets_apks_remove_command() {
    let img = Image::new(1);
    img.layer(0).dir("/usr/bin", 0o755).file("/usr/libexec/relay", 0o755);
    img.layer(0).file_with(
        "/lib/apk/db/installed",
        0o644,
        b"C:Q1abc=\nP:socat\nV:1.8.0.0-r0\nA:x86_64\nF:usr/libexec\nR:relay\n\nP:musl\nV:1.2.5-r0\nA:x86_64\n\n",
    );
    let r = img.check("remote-access-tools");
    assert_eq!(r.status, Status::Fail, "{r:?}");
    let f = package_findings(&r)[0];
    assert_eq!(f.path, "package socat 1.8.0.0-r0 (x86_64, apk) installed");
    assert_eq!((f.fix.as_deref(), f.layer), (Some("apk del socat"), 1), "the layer of its file");
    assert_eq!(f.note.as_deref(), Some("installs /usr/libexec/relay"));
}

#[test]
fn an_apk_package_belongs_to_the_layer_that_added_its_files_not_one_that_changed_one() {
    let img = Image::new(3);
    img.layer(0).file("/usr/libexec/relay", 0o755).file("/usr/libexec/relay-helper", 0o755);
    img.layer(1).file("/usr/libexec/relay-helper", 0o700);
    img.layer(2).file_with(
        "/lib/apk/db/installed",
        0o644,
        b"P:socat\nV:1.8.0.0-r0\nA:x86_64\nF:usr/libexec\nR:relay\nR:relay-helper\n\n",
    );
    let r = img.check("remote-access-tools");
    let layers: Vec<(String, usize)> = package_findings(&r).iter().map(|f| (f.path.clone(), f.layer)).collect();
    assert_eq!(layers, [("package socat 1.8.0.0-r0 (x86_64, apk) installed".to_string(), 1)], "{r:?}");
}
