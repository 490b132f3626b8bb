//! End-to-end tests of `oci-compliance scan` (issue #2, "Shown by"): images are built here
//! (buildah from scratch, and a Debian rootfs from debootstrap with `podman build` RUN
//! layers), pushed to the local registry that requires htpasswd auth, and scanned through
//! DOCKER_AUTH_CONFIG / CI_REGISTRY_* and COMPLIANCE_TLS_VERIFY=false into fresh private
//! stores, with real podman. No default login exists anywhere.
//!
//! Needs `tests/env/setup.sh` (the tests read the `env` file it writes); run with
//! `cargo test --test tests -- scan::`.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Run `f` once per process and share its value; a panic is remembered and re-raised in
/// every test that needs the fixture (instead of rebuilding it in each).
fn fixture<T>(cell: &'static OnceLock<Result<T, String>>, name: &str, f: fn() -> T) -> &'static T {
    let r = cell.get_or_init(|| {
        std::panic::catch_unwind(f).map_err(|p| {
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        })
    });
    match r {
        Ok(v) => v,
        Err(msg) => panic!("fixture {name} failed: {msg}"),
    }
}

/// Every check passes.
fn all_pass() -> Vec<(&'static str, &'static str)> {
    check_ids().iter().map(|&id| (id, "pass")).collect()
}

/// all_pass() with some entries changed.
fn statuses_with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    all_pass().into_iter().map(|(id, s)| changes.iter().find(|(c, _)| *c == id).copied().unwrap_or((id, s))).collect()
}

/// Config that makes an image pass every config check (build_scratch commits an image with a
/// healthcheck in the docker format, the only one that carries it).
pub(crate) const GOOD_CONFIG: [&str; 8] = [
    "--user",
    "1001:1001",
    "--label",
    "org.opencontainers.image.title=ocic-test",
    "--entrypoint",
    "[\"/app/run\"]",
    "--healthcheck",
    "CMD /app/run --health",
];

// =======================================================================================
// The realistic image: Debian rootfs at the bottom, four RUN layers on top
// =======================================================================================

pub(crate) struct Realistic {
    pub(crate) pushed: Pushed,
    /// Default settings, report also on stdout.
    scan: ScanOut,
    /// Same store afterwards: `--pull never`, no credentials, remapped exit codes.
    remapped: ScanOut,
    /// Oracle from the rootfs on disk: setuid / setgid regular files of the Debian base.
    suid_base: BTreeSet<String>,
    sgid_base: BTreeSet<String>,
    true_size: u64,
    su_size: u64,
}

const DEBIAN_CREATED_BY: &str = "COPY debian-minbase /";

/// Setuid files of layer 2 whose names are not printable UTF-8 (bytes 0xff and 0x09), as
/// the report must spell them: escaped losslessly.
const NON_UTF8_SUID: [&str; 2] = ["/usr/local/bin/suid-\\xff", "/usr/local/bin/suid-tab\\x09x"];

pub(crate) fn realistic() -> &'static Realistic {
    static CELL: OnceLock<Result<Realistic, String>> = OnceLock::new();
    fixture(&CELL, "realistic Debian image", build_realistic)
}

fn build_realistic() -> Realistic {
    let e = env();
    let suid_base = files_with_mode_bits(&e.rootfs, 0o4000);
    let sgid_base = files_with_mode_bits(&e.rootfs, 0o2000);
    // The assertions below rely on these facts of a debootstrap minbase.
    assert!(suid_base.contains("/usr/bin/su"), "rootfs without a setuid /usr/bin/su: {suid_base:?}");
    assert!(!sgid_base.is_empty(), "rootfs without setgid files");
    assert!(e.rootfs.join("etc/pam.d/su").is_file() && e.rootfs.join("etc/issue").is_file());
    for absent in ["usr/bin/sudo", "usr/bin/gcc", "usr/bin/nc", "usr/bin/ssh", "usr/bin/scp"] {
        assert!(fs::symlink_metadata(e.rootfs.join(absent)).is_err(), "rootfs unexpectedly has /{absent}");
    }
    let true_size = fs::metadata(e.rootfs.join("usr/bin/true")).unwrap().len();
    let su_size = fs::metadata(e.rootfs.join("usr/bin/su")).unwrap().len();

    // An executable that exists on the host only: a symlink to it inside the image is
    // dangling there, whatever the host has.
    let host = Scratch::new("host-only");
    let host_ncat = host.path().join("ncat");
    fs::write(&host_ncat, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&host_ncat, fs::Permissions::from_mode(0o755)).unwrap();

    let store = Store::new("realistic");
    let name = "debian-app";
    let base = format!("localhost/{}:base", repo(name));
    let local = format!("localhost/{}:1", repo(name));

    // Layer 1: the debootstrap rootfs, as a base image would ship it.
    let c = store.buildah(&["from", "scratch"]);
    store.buildah(&["copy", "-q", &c, &format!("{}/", e.rootfs.display()), "/"]);
    store.buildah(&["config", "--created-by", DEBIAN_CREATED_BY, &c]);
    store.buildah(&["commit", "-q", &c, &base]);
    store.buildah(&["rm", &c]);

    let ctx = Scratch::new("realistic-ctx");
    let containerfile = format!(
        r#"FROM {base}
RUN groupadd -g 1001 app \
 && useradd -u 1001 -g app -M -d /nonexistent -s /usr/sbin/nologin app \
 && install -m 4755 /usr/bin/true /usr/local/bin/suid-helper \
 && install -m 4755 /usr/bin/true /usr/local/bin/suid-gone \
 && install -m 4755 /usr/bin/true "/usr/local/bin/suid-$(awk 'BEGIN {{ printf "%c", 255 }}')" \
 && install -m 4755 /usr/bin/true "/usr/local/bin/suid-tab$(awk 'BEGIN {{ printf "%c", 9 }}')x" \
 && mkdir -p /opt/legacy /opt/tools /opt/app/bin /opt/other/bin /opt/only-in-image /usr/local/lib/nc-impl \
 && install -m 4755 /usr/bin/true /opt/legacy/suid-old \
 && install -m 4755 /usr/bin/true /opt/tools/suid-tool \
 && install -m 0755 /usr/bin/true /usr/local/lib/nc-impl/nc.openbsd \
 && ln -s ../lib/nc-impl/nc.openbsd /usr/local/bin/nc \
 && install -m 0755 /usr/bin/true /opt/only-in-image/netcat-bin \
 && ln -s /opt/only-in-image/netcat-bin /usr/local/bin/netcat \
 && ln -s {host_ncat} /usr/local/bin/ncat \
 && ln -s /etc/issue /usr/local/bin/telnet \
 && ln -s /usr/bin/true /usr/local/bin/socat \
 && install -m 0755 /usr/bin/true /opt/app/bin/scp \
 && install -m 0755 /usr/bin/true /opt/other/bin/sftp \
 && install -m 0755 /usr/bin/true /usr/bin/x86_64-linux-gnu-gcc-12 \
 && ln -s x86_64-linux-gnu-gcc-12 /usr/bin/gcc-12 \
 && ln -s gcc-12 /usr/bin/gcc
RUN rm -f /usr/local/bin/suid-gone /usr/local/bin/socat && rm -rf /opt/legacy
RUN rm -rf /opt/tools && mkdir /opt/tools && echo new > /opt/tools/README
RUN find / -xdev -perm -2000 -type f -exec chmod g-s {{}} +
ENV PATH=/opt/app/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
LABEL org.opencontainers.image.vendor="oci-compliance tests" org.opencontainers.image.version="1"
EXPOSE 22
USER app:app
ENTRYPOINT ["/usr/bin/true"]
"#,
        host_ncat = host_ncat.display()
    );
    let cf = ctx.path().join("Containerfile");
    fs::write(&cf, containerfile).unwrap();
    let pushed = build_file_and_push(&store, "podman", &cf, ctx.path(), &local, name);
    drop(store);

    let scan_store = Store::new("realistic-scan");
    let scan1 = scan(&scan_store).good_auth().env("COMPLIANCE_JSON_STDOUT", "true").arg(pushed.reference()).run();
    let remapped = scan(&scan_store)
        .args(["--pull", "never"])
        .env("CRITICAL_EXIT_CODE", "3")
        .env("HIGH_EXIT_CODE", "4")
        .env("MEDIUM_EXIT_CODE", "5")
        .env("LOW_EXIT_CODE", "200")
        .env("INFORMATIONAL_EXIT_CODE", "9")
        .arg(pushed.reference())
        .run();
    drop(host);
    Realistic { pushed, scan: scan1, remapped, suid_base, sgid_base, true_size, su_size }
}

fn realistic_report() -> (&'static Realistic, Value) {
    let r = realistic();
    (r, r.scan.report_named(&slug(&r.pushed.reference())))
}

#[test]
fn realistic_image_check_verdicts_and_exit_code() {
    let (r, rep) = realistic_report();
    r.scan.assert_code(12);
    assert_statuses(
        &rep,
        &[
            ("latest-tag", "pass"),
            ("admin-ports-exposed", "fail"),
            ("privileged-ports-exposed", "fail"),
            ("root-user", "pass"),
            ("root-group", "pass"),
            ("labels-missing", "pass"),
            ("too-many-layers", "fail"),
            ("startup-command-missing", "pass"),
            ("suid-files", "fail"),
            ("sgid-files", "pass"),
            ("privilege-tools", "fail"),
            ("remote-access-tools", "fail"),
            ("compilers", "fail"),
            // Built by podman in the OCI format, which cannot carry a healthcheck.
            ("healthcheck-missing", "fail"),
            ("build-hygiene", "pass"),
            ("unwanted-files", "pass"),
            ("base-os", "pass"),
        ],
    );
    let s = &rep["summary"];
    assert_eq!(s["verdict"], "fail", "{s}");
    assert_eq!(s["exit_code"], 12, "{s}");
    assert_eq!(s["worst_failed_severity"], "critical", "{s}");
    assert_eq!((s["failed"].as_u64(), s["errors"].as_u64()), (Some(8), Some(0)), "{s}");
    assert_eq!(
        failed_ids(&rep),
        set(&[
            "admin-ports-exposed",
            "privileged-ports-exposed",
            "too-many-layers",
            "suid-files",
            "privilege-tools",
            "remote-access-tools",
            "compilers",
            "healthcheck-missing"
        ])
    );
    assert_eq!(
        s["failed_by_severity"],
        serde_json::json!({"critical": 3, "high": 1, "medium": 2, "low": 2, "informational": 0}),
        "{s}"
    );
    assert!(rep["error"].is_null(), "{}", rep["error"]);

    let desc = |id: &str| check(&rep, id)["description"].as_str().unwrap().to_string();
    assert!(desc("admin-ports-exposed").contains("22/tcp"), "{}", desc("admin-ports-exposed"));
    let ports = check(&rep, "privileged-ports-exposed");
    assert_eq!(ports["findings"][0]["path"], "ExposedPorts 22/tcp", "{ports}");
    assert!(desc("root-user").contains("1001"), "{}", desc("root-user"));
    assert!(desc("root-group").contains("1001"), "{}", desc("root-group"));
    assert!(desc("too-many-layers").contains('5'), "{}", desc("too-many-layers"));
    assert!(desc("base-os").contains("Debian GNU/Linux 12"), "{}", desc("base-os"));
    assert!(desc("latest-tag").contains('1'), "{}", desc("latest-tag"));
    // The console report (on stderr with --json-stdout) shows every check.
    for &id in check_ids() {
        assert!(r.scan.stderr.contains(id), "console report lacks {id}:\n{}", r.scan.stderr);
    }
    assert!(r.scan.stderr.contains("FAIL") && r.scan.stderr.contains("PASS"), "{}", r.scan.stderr);
}

#[test]
fn realistic_image_layers_are_ordered_bottom_to_top_and_attributed() {
    let (r, rep) = realistic_report();
    let layers = rep["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 5, "{}", serde_json::to_string_pretty(&rep["layers"]).unwrap());
    assert_eq!(r.pushed.diff_ids.len(), 5);
    assert_eq!(r.pushed.layer_history.len(), 5, "{:?}", r.pushed.layer_history);
    for (i, l) in layers.iter().enumerate() {
        assert_eq!(l["number"], i + 1, "{l}");
        assert_eq!(l["diff_id"], r.pushed.diff_ids[i].as_str(), "layer {} diff_id", i + 1);
        assert_eq!(l["created_by"], r.pushed.layer_history[i].as_str(), "layer {} created_by", i + 1);
        assert_eq!(l["errors"], serde_json::json!([]), "{l}");
    }
    assert_eq!(layers[0]["created_by"], DEBIAN_CREATED_BY);
    assert!(layers[0]["entries"].as_u64().unwrap() > 1000, "the Debian layer: {}", layers[0]);
    assert!(layers[1]["created_by"].as_str().unwrap().contains("groupadd -g 1001 app"), "{}", layers[1]);
    assert!(layers[2]["created_by"].as_str().unwrap().contains("rm -f /usr/local/bin/suid-gone"), "{}", layers[2]);
    assert!(layers[3]["created_by"].as_str().unwrap().contains("rm -rf /opt/tools"), "{}", layers[3]);
    assert!(layers[4]["created_by"].as_str().unwrap().contains("chmod g-s"), "{}", layers[4]);
    // Layer 3 deletes two files and a directory: three whiteouts.
    assert_eq!(layers[2]["whiteouts"], 3, "{}", layers[2]);
    assert_eq!(layers[0]["whiteouts"], 0, "{}", layers[0]);

    // A setuid file of the base layer.
    let su = must_find(check(&rep, "suid-files"), "/usr/bin/su");
    assert_eq!(su["layer"], 1, "{su}");
    assert_eq!(su["layer_digest"], r.pushed.diff_ids[0].as_str(), "{su}");
    assert_eq!(su["created_by"], DEBIAN_CREATED_BY, "{su}");
    assert_eq!(su["kind"], "file", "{su}");
    assert_eq!(su["mode"], "4755", "{su}");
    assert_eq!(su["permissions"], "-rwsr-xr-x", "{su}");
    assert_eq!((su["uid"].as_u64(), su["gid"].as_u64()), (Some(0), Some(0)), "{su}");
    assert_eq!(su["size"], r.su_size, "{su}");
    assert_eq!((su["visible"].as_bool(), su["violation"].as_bool()), (Some(true), Some(true)), "{su}");
    assert!(su["link_target"].is_null(), "{su}");

    // A setuid file added by the first RUN layer.
    let helper = must_find(check(&rep, "suid-files"), "/usr/local/bin/suid-helper");
    assert_eq!(helper["layer"], 2, "{helper}");
    assert_eq!(helper["layer_digest"], r.pushed.diff_ids[1].as_str(), "{helper}");
    assert_eq!(helper["created_by"], r.pushed.layer_history[1].as_str(), "{helper}");
    assert_eq!(helper["size"], r.true_size, "{helper}");
    assert_eq!((helper["visible"].as_bool(), helper["violation"].as_bool()), (Some(true), Some(true)), "{helper}");

    // Names that are not UTF-8 or not printable are escaped, not lost or mangled.
    for path in NON_UTF8_SUID {
        let f = must_find(check(&rep, "suid-files"), path);
        assert_eq!((f["layer"].as_u64(), f["visible"].as_bool()), (Some(2), Some(true)), "{f}");
    }

    // A symlinked tool added by layer 2.
    let nc = must_find(check(&rep, "remote-access-tools"), "/usr/local/bin/nc");
    assert_eq!(nc["layer"], 2, "{nc}");
    assert_eq!(nc["kind"], "symlink", "{nc}");
    assert_eq!(nc["link_target"], "../lib/nc-impl/nc.openbsd", "{nc}");
    assert_eq!(nc["created_by"], r.pushed.layer_history[1].as_str(), "{nc}");

    // Every finding's attribution matches the layer it names (layer 0: the image's config).
    for c in rep["checks"].as_array().unwrap() {
        for f in findings(c).iter().filter(|f| !(f["kind"] == "config" && f["layer"] == 0)) {
            let n = f["layer"].as_u64().unwrap() as usize;
            assert!((1..=5).contains(&n), "{f}");
            assert_eq!(f["layer_digest"], r.pushed.diff_ids[n - 1].as_str(), "{}: {f}", c["id"]);
            assert_eq!(f["created_by"], r.pushed.layer_history[n - 1].as_str(), "{}: {f}", c["id"]);
        }
    }
    // The per-layer finding counts add up (image-config findings belong to no layer).
    let total: u64 = layers.iter().map(|l| l["findings"].as_u64().unwrap()).sum();
    let counted: usize =
        rep["checks"].as_array().unwrap().iter().map(|c| findings(c).iter().filter(|f| f["layer"] != 0).count()).sum();
    assert_eq!(total as usize, counted);
}

#[test]
fn realistic_image_files_deleted_by_later_layers_are_reported_invisible() {
    let (r, rep) = realistic_report();
    let suid = check(&rep, "suid-files");
    // Verdict rests on the final image: the base's setuid files plus the helper.
    let mut visible = r.suid_base.clone();
    visible.insert("/usr/local/bin/suid-helper".into());
    visible.extend(NON_UTF8_SUID.iter().map(|s| s.to_string()));
    assert_eq!(violations(suid), visible, "{}", serde_json::to_string_pretty(suid).unwrap());
    for (path, by) in [
        ("/usr/local/bin/suid-gone", 3), // whiteout of the file
        ("/opt/legacy/suid-old", 3),     // whiteout of its directory
        ("/opt/tools/suid-tool", 4),     // opaque directory replacing its directory
    ] {
        let f = must_find(suid, path);
        assert_eq!(f["layer"], 2, "{f}");
        assert_eq!(f["visible"], false, "{path} was deleted by layer {by}: {f}");
        assert_eq!(f["violation"], false, "{f}");
        assert_eq!(f["mode"], "4755", "{f}");
        let note = f["note"].as_str().unwrap_or("");
        assert!(note.contains(&format!("layer {by}")), "{path}: note {note:?}");
    }
    let d = suid["description"].as_str().unwrap();
    assert!(d.starts_with(&format!("{} setuid files", visible.len())), "{d}");
    assert!(d.contains("3 more"), "three setuid files only in layers: {d}");

    // The last layer removed every setgid bit: the check passes although the base layer
    // still ships those files, which are listed as no longer visible.
    let sgid = check(&rep, "sgid-files");
    assert_eq!(sgid["status"], "pass", "{sgid}");
    assert!(violations(sgid).is_empty(), "{sgid}");
    for path in &r.sgid_base {
        let f = must_find(sgid, path);
        assert_eq!(f["layer"], 1, "{f}");
        assert_eq!(f["visible"], false, "{f}");
        assert_eq!(f["violation"], false, "{f}");
        assert!(f["note"].as_str().unwrap_or("").contains("layer 5"), "{f}");
    }
    // setgid directories are information.
    for f in findings(sgid).iter().filter(|f| f["kind"] == "dir") {
        assert_eq!(f["violation"], false, "{f}");
    }

    // A tool symlink deleted by layer 3 is shipped but not a tool of the final image.
    let socat = must_find(check(&rep, "remote-access-tools"), "/usr/local/bin/socat");
    assert_eq!((socat["visible"].as_bool(), socat["violation"].as_bool()), (Some(false), Some(false)), "{socat}");
    assert_eq!(socat["layer"], 2, "{socat}");
}

#[test]
fn realistic_image_tools_are_found_by_name_symlink_and_path() {
    let (_, rep) = realistic_report();
    let priv_tools = check(&rep, "privilege-tools");
    assert_eq!(violations(priv_tools), set(&["/usr/bin/su"]), "{priv_tools}");
    // /etc/pam.d/su, /etc/pam.d/su-l ... are not tools and not even information.
    for f in findings(priv_tools) {
        assert!(!f["path"].as_str().unwrap().starts_with("/etc/"), "{f}");
    }
    let su = must_find(priv_tools, "/usr/bin/su");
    assert_eq!(su["layer"], 1, "{su}");

    let remote = check(&rep, "remote-access-tools");
    assert_eq!(
        violations(remote),
        // nc: relative symlink to an executable; netcat: absolute symlink that only
        // resolves inside the image; scp: on the PATH of the image config only.
        set(&["/usr/local/bin/nc", "/usr/local/bin/netcat", "/opt/app/bin/scp"]),
        "{}",
        serde_json::to_string_pretty(remote).unwrap()
    );
    let netcat = must_find(remote, "/usr/local/bin/netcat");
    assert_eq!(netcat["link_target"], "/opt/only-in-image/netcat-bin", "{netcat}");
    // Dangling inside the image (its target exists on the host only), and a link to a
    // non-executable file: not tools.
    for path in ["/usr/local/bin/ncat", "/usr/local/bin/telnet"] {
        if let Some(f) = finding(remote, path) {
            assert_eq!(f["violation"], false, "{f}");
        }
    }
    // Executables with listed names outside PATH are information only.
    for path in ["/opt/other/bin/sftp", "/usr/local/lib/nc-impl/nc.openbsd"] {
        let f = must_find(remote, path);
        assert_eq!((f["violation"].as_bool(), f["visible"].as_bool()), (Some(false), Some(true)), "{f}");
    }
    let d = remote["description"].as_str().unwrap();
    for n in ["nc", "netcat", "scp"] {
        assert!(d.contains(n), "{d}");
    }

    let compilers = check(&rep, "compilers");
    assert_eq!(
        violations(compilers),
        set(&["/usr/bin/gcc", "/usr/bin/gcc-12", "/usr/bin/x86_64-linux-gnu-gcc-12"]),
        "{}",
        serde_json::to_string_pretty(compilers).unwrap()
    );
    let gcc = must_find(compilers, "/usr/bin/gcc");
    assert_eq!((gcc["kind"].as_str(), gcc["link_target"].as_str()), (Some("symlink"), Some("gcc-12")), "{gcc}");
    assert_eq!(compilers["severity"], "medium");
}

#[test]
fn realistic_image_report_image_section_and_schema() {
    let (r, rep) = realistic_report();
    assert_valid_report(&rep);
    let img = &rep["image"];
    assert_eq!(img["reference"], r.pushed.reference().as_str());
    assert_eq!(img["transport"], "docker");
    assert_eq!(img["registry"], env().registry.as_str());
    assert_eq!(img["repository"], repo("debian-app").as_str());
    assert_eq!(img["tag"], "1");
    assert_eq!(img["digest"], r.pushed.digest.as_str(), "the registry's manifest digest");
    assert_eq!(img["id"], r.pushed.id.as_str());
    assert_eq!(img["user"], "app:app");
    assert_eq!(img["exposed_ports"], serde_json::json!(["22/tcp"]));
    assert_eq!(img["entrypoint"], serde_json::json!(["/usr/bin/true"]));
    assert_eq!(img["labels"]["org.opencontainers.image.vendor"], "oci-compliance tests");
    assert_eq!(img["storage_driver"], "overlay");
    assert_eq!(rep["settings"]["pull"], "missing");
    assert_eq!(rep["settings"]["tls_verify"], false);
    // COMPLIANCE_JSON_STDOUT=true prints the very report that was written.
    let stdout: Value = serde_json::from_str(&r.scan.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e}):\n{}", r.scan.stdout));
    assert_eq!(stdout, rep);
}

#[test]
fn realistic_image_remapped_exit_codes_and_pull_never_from_local_storage() {
    let (r, rep) = realistic_report();
    // Same store, no credentials, --pull never: the image pulled before is scanned; the
    // worst failed severity is Critical, so CRITICAL_EXIT_CODE decides even though
    // LOW_EXIT_CODE is the largest number.
    r.remapped.assert_code(3);
    let rep2 = r.remapped.report();
    assert_eq!(rep2["summary"]["exit_code"], 3);
    assert_eq!(rep2["settings"]["pull"], "never");
    assert_eq!(
        rep2["settings"]["exit_codes"],
        serde_json::json!({"critical": 3, "high": 4, "medium": 5, "low": 200, "informational": 9})
    );
    for &id in check_ids() {
        assert_eq!(status(&rep2, id), status(&rep, id), "{id} differs between the two scans");
    }
    assert_eq!(rep2["image"]["id"], rep["image"]["id"]);
}

// =======================================================================================
// Small images for the exit-code contract
// =======================================================================================

fn clean_spec() -> ImageSpec {
    ImageSpec::new(vec![layer(
        "COPY clean /",
        vec![
            exe("/app/run"),
            file("/etc/passwd", 0o644, "root:x:0:0:root:/root:/sbin/nologin\napp:x:1001:1001::/app:/sbin/nologin\n"),
            file("/etc/group", 0o644, "root:x:0:\napp:x:1001:\n"),
            // Tool names that are not tools.
            file("/etc/pam.d/su", 0o644, "auth sufficient pam_rootok.so\n"),
            file("/usr/share/bash-completion/completions/ssh", 0o644, "# completion\n"),
            // An executable with a listed name, outside PATH: information only.
            exe("/usr/lib/ocic/nc"),
            dir("/srv/data", 0o755),
        ],
    )])
    .config(&GOOD_CONFIG)
    // Non-privileged ports only (admin-ports' protocol awareness, 161/tcp and 22/udp, is a
    // unit test: any port below 1024 now fails privileged-ports-exposed).
    .config(&["--port", "8080/tcp", "--port", "8443/tcp"])
}

/// The clean image, pushed as `:1` and `:latest`.
pub(crate) fn clean() -> &'static Pushed {
    static CELL: OnceLock<Result<Pushed, String>> = OnceLock::new();
    fixture(&CELL, "clean image", || build_and_push("clean", &clean_spec(), &["1", "latest"]))
}

/// Only Low: two layers (the second deletes a setuid file of the first).
pub(crate) fn low_only() -> &'static Pushed {
    static CELL: OnceLock<Result<Pushed, String>> = OnceLock::new();
    fixture(&CELL, "low-only image", || {
        let mut second =
            layer("RUN rm /app/suid-old && echo 1 > /app/VERSION", vec![file("/app/VERSION", 0o644, "1\n")]);
        second.remove.push("/app/suid-old".into());
        let spec = ImageSpec::new(vec![
            layer("COPY app /", vec![exe("/app/run"), file("/app/suid-old", 0o4755, "#!/bin/sh\n")]),
            second,
        ])
        .config(&GOOD_CONFIG);
        build_and_push("low-only", &spec, &["1"])
    })
}

/// Only High: EXPOSE 22 (no protocol means tcp).
pub(crate) fn high_only() -> &'static Pushed {
    static CELL: OnceLock<Result<Pushed, String>> = OnceLock::new();
    fixture(&CELL, "high-only image", || {
        let spec = ImageSpec::new(vec![layer("COPY app /", vec![exe("/app/run")])])
            .config(&GOOD_CONFIG)
            .config(&["--port", "22", "--port", "8080"]);
        build_and_push("high-only", &spec, &["1"])
    })
}

#[test]
fn clean_image_passes_every_check_and_exits_0() {
    let img = clean();
    let store = Store::new("clean");
    // The image comes from COMPLIANCE_IMAGE_FULL_REF this time.
    let out = scan(&store).good_auth().env("COMPLIANCE_IMAGE_FULL_REF", img.reference()).run();
    out.assert_code(0);
    let rep = out.report_named(&slug(&img.reference()));
    assert_valid_report(&rep);
    assert_statuses(&rep, &all_pass());
    let s = &rep["summary"];
    assert_eq!((s["verdict"].as_str(), s["exit_code"].as_u64()), (Some("pass"), Some(0)), "{s}");
    assert_eq!((s["failed"].as_u64(), s["errors"].as_u64()), (Some(0), Some(0)), "{s}");
    assert!(failed_ids(&rep).is_empty());
    assert!(s["worst_failed_severity"].is_null(), "{s}");
    assert_eq!(rep["layers"].as_array().unwrap().len(), 1);
    assert_eq!(rep["layers"][0]["diff_id"], img.diff_ids[0].as_str());
    assert_eq!(rep["image"]["digest"], img.digest.as_str());
    assert!(check(&rep, "base-os")["description"].as_str().unwrap().contains("no os-release"));
    // Listed for information, not a failure.
    let nc = must_find(check(&rep, "remote-access-tools"), "/usr/lib/ocic/nc");
    assert_eq!(nc["violation"], false, "{nc}");
    assert!(finding(check(&rep, "privilege-tools"), "/etc/pam.d/su").is_none());
    assert!(finding(check(&rep, "remote-access-tools"), "/usr/share/bash-completion/completions/ssh").is_none());
    let mut ports = rep["image"]["exposed_ports"].as_array().unwrap().clone();
    ports.sort_by_key(|p| p.to_string());
    assert_eq!(ports, vec![Value::from("8080/tcp"), Value::from("8443/tcp")]);

    // INFORMATIONAL_EXIT_CODE is the code when nothing above Informational failed.
    let out = scan(&store).good_auth().env("INFORMATIONAL_EXIT_CODE", "7").arg(img.reference()).run();
    out.assert_code(7);
    let rep = out.report();
    assert_eq!((rep["summary"]["verdict"].as_str(), rep["summary"]["exit_code"].as_u64()), (Some("pass"), Some(7)));
}

#[test]
fn low_only_image_exits_15_and_low_exit_code_overrides_it() {
    let img = low_only();
    let store = Store::new("low");
    let out = scan(&store).good_auth().arg(img.reference()).run();
    out.assert_code(15);
    let rep = out.report();
    assert_statuses(&rep, &statuses_with(&[("too-many-layers", "fail")]));
    assert_eq!(rep["summary"]["worst_failed_severity"], "low");
    // The setuid file deleted by layer 2 is reported, not visible, and does not fail.
    let f = must_find(check(&rep, "suid-files"), "/app/suid-old");
    assert_eq!(f["layer"], 1, "{f}");
    assert_eq!((f["visible"].as_bool(), f["violation"].as_bool()), (Some(false), Some(false)), "{f}");
    assert_eq!(f["created_by"], "COPY app /", "{f}");
    assert_eq!(rep["layers"][1]["whiteouts"], 1);
    assert_eq!(rep["layers"][1]["created_by"], img.layer_history[1].as_str());

    let out =
        scan(&store).good_auth().env("LOW_EXIT_CODE", "5").env("CRITICAL_EXIT_CODE", "3").arg(img.reference()).run();
    out.assert_code(5);
    assert_eq!(out.report()["summary"]["exit_code"], 5);
}

#[test]
fn unlabelled_image_without_startup_command_fails_only_low_checks() {
    let spec = ImageSpec::new(vec![layer("COPY app /", vec![exe("/app/run")])])
        .config(&["--user", "1001:1001"])
        .no_identity_label();
    let img = build_and_push("unlabelled", &spec, &["1"]);
    let store = Store::new("unlabelled");
    let out = scan(&store).good_auth().arg(img.reference()).run();
    out.assert_code(15);
    let rep = out.report();
    assert_statuses(
        &rep,
        &statuses_with(&[
            ("labels-missing", "fail"),
            ("startup-command-missing", "fail"),
            ("healthcheck-missing", "fail"),
        ]),
    );
    assert_eq!(rep["image"]["labels"], serde_json::json!({}));
    assert_eq!(rep["summary"]["failed_by_severity"]["low"], 3);
}

#[test]
fn busybox_style_links_symlinked_path_dirs_and_link_loops() {
    let spec = ImageSpec::new(vec![layer(
        "COPY toolbox /",
        vec![
            exe("/app/run"),
            // busybox applets: links to one multi-call executable.
            exe("/bin/busybox"),
            link("/bin/su", "busybox"),
            link("/usr/bin/nc", "/bin/busybox"),
            // PATH names /opt/app/bin, which is /srv/app/bin through a directory symlink.
            link("/opt/app", "/srv/app"),
            exe("/srv/app/bin/ssh"),
            // A link loop, a non-executable file and a directory with tool names.
            link("/usr/bin/scp", "scp2"),
            link("/usr/bin/scp2", "scp"),
            file("/usr/bin/sudo", 0o644, "not executable\n"),
            dir("/usr/bin/telnet", 0o755),
        ],
    )])
    .config(&GOOD_CONFIG)
    .config(&["--env", "PATH=/opt/app/bin:/usr/bin:/bin"]);
    let img = build_and_push("toolbox", &spec, &["1"]);
    let store = Store::new("toolbox");
    let out = scan(&store).good_auth().arg(img.reference()).run();
    out.assert_code(12);
    let rep = out.report();
    assert_statuses(&rep, &statuses_with(&[("privilege-tools", "fail"), ("remote-access-tools", "fail")]));
    assert_eq!(violations(check(&rep, "privilege-tools")), set(&["/bin/su"]), "{}", check(&rep, "privilege-tools"));
    assert_eq!(
        violations(check(&rep, "remote-access-tools")),
        set(&["/usr/bin/nc", "/srv/app/bin/ssh"]),
        "{}",
        check(&rep, "remote-access-tools")
    );
    let su = must_find(check(&rep, "privilege-tools"), "/bin/su");
    assert_eq!((su["kind"].as_str(), su["link_target"].as_str()), (Some("symlink"), Some("busybox")), "{su}");
}

#[test]
fn medium_only_image_with_versioned_compiler_exits_14() {
    let spec = ImageSpec::new(vec![layer(
        "COPY toolchain /",
        vec![
            exe("/app/run"),
            exe("/usr/bin/gcc-12"),
            link("/usr/bin/gcc", "gcc-12"),
            // Not compilers: cc1 is no "cc", a doc directory, a non-executable file.
            exe("/usr/lib/gcc/x86_64-linux-gnu/12/cc1"),
            dir("/usr/share/doc/gcc-12", 0o755),
            file("/usr/share/man/man1/gcc.1", 0o644, ".TH GCC\n"),
        ],
    )])
    .config(&GOOD_CONFIG);
    let img = build_and_push("medium-only", &spec, &["1"]);
    let store = Store::new("medium");
    let out = scan(&store).good_auth().arg(img.reference()).run();
    out.assert_code(14);
    let rep = out.report();
    assert_statuses(&rep, &statuses_with(&[("compilers", "fail")]));
    let c = check(&rep, "compilers");
    assert_eq!(violations(c), set(&["/usr/bin/gcc", "/usr/bin/gcc-12"]), "{c}");
    assert_eq!(must_find(c, "/usr/bin/gcc")["link_target"], "gcc-12");

    let out = scan(&store).good_auth().env("MEDIUM_EXIT_CODE", "6").arg(img.reference()).run();
    out.assert_code(6);
}

#[test]
fn high_only_image_with_ssh_port_exits_13() {
    let img = high_only();
    let store = Store::new("high");
    let out = scan(&store).good_auth().arg(img.reference()).run();
    out.assert_code(13);
    let rep = out.report();
    assert_statuses(&rep, &statuses_with(&[("admin-ports-exposed", "fail"), ("privileged-ports-exposed", "fail")]));
    let d = check(&rep, "admin-ports-exposed")["description"].as_str().unwrap();
    assert!(d.contains("22/tcp") && !d.contains("8080"), "{d}");

    let out = scan(&store).good_auth().env("HIGH_EXIT_CODE", "7").env("LOW_EXIT_CODE", "8").arg(img.reference()).run();
    out.assert_code(7);
}

#[test]
fn several_images_in_one_run_exit_with_the_worst_and_write_one_report_each() {
    let (a, b) = (clean(), high_only());
    let store = Store::new("multi");
    let out = scan(&store).good_auth().arg(a.reference()).arg(b.reference()).run();
    out.assert_code(13);
    let names = out.report_names();
    assert_eq!(names, {
        let mut v = vec![slug(&a.reference()), slug(&b.reference()), "summary.json".to_string()];
        v.sort();
        v
    });
    assert_eq!(out.report_named(&slug(&a.reference()))["summary"]["exit_code"], 0);
    assert_eq!(out.report_named(&slug(&b.reference()))["summary"]["exit_code"], 13);
    // The batch summary lists both images in the order given, and the worst exit code.
    let summary = out.report_named("summary.json");
    assert_valid_summary(&summary);
    assert_valid_report(&out.report_named(&slug(&a.reference())));
    assert_eq!(summary["exit_code"], 13);
    let listed: Vec<(String, u64)> = summary["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["reference"].as_str().unwrap().to_string(), i["exit_code"].as_u64().unwrap()))
        .collect();
    assert_eq!(listed, vec![(a.reference(), 0), (b.reference(), 13)]);
}

#[test]
fn user_and_group_resolve_against_the_images_own_files() {
    let passwd = |s: &str| file("/etc/passwd", 0o644, s);
    let group = |s: &str| file("/etc/group", 0o644, s);
    let label = [
        "--label",
        "org.opencontainers.image.title=ocic-test",
        "--entrypoint",
        "[\"/app/run\"]",
        "--healthcheck",
        "CMD /app/run --health",
    ];
    let one = |name: &str, user: Option<&str>, nodes: Vec<Node>| {
        let mut nodes = nodes;
        nodes.push(exe("/app/run"));
        let mut spec = ImageSpec::new(vec![layer("COPY accounts /", nodes)]).config(&label);
        if let Some(u) = user {
            spec = spec.config(&["--user", u]);
        }
        (name.to_string(), spec)
    };
    let replaced = ImageSpec::new(vec![
        layer("COPY accounts /", vec![exe("/app/run"), passwd("app:x:1001:0::/:/sbin/nologin\n")]),
        layer("COPY passwd /etc/passwd", vec![passwd("app:x:1001:1001::/:/sbin/nologin\n")]),
    ])
    .config(&label)
    .config(&["--user", "app"]);
    // ((name, spec), changed verdicts, exit code)
    type Case<'a> = ((String, ImageSpec), &'a [(&'a str, &'a str)], i32);
    let cases: Vec<Case> = vec![
        // A name whose passwd entry has gid 0.
        (
            one("svc-gid0", Some("svc"), vec![passwd("svc:x:1001:0::/:/sbin/nologin\n"), group("root:x:0:\n")]),
            &[("root-group", "fail")],
            12,
        ),
        // A numeric uid with no passwd entry and no group: runtimes use gid 0.
        (one("uid-only", Some("4242"), vec![]), &[("root-group", "fail")], 12),
        // A name the image does not know: the container would not start.
        (
            one("ghost", Some("ghost"), vec![passwd("root:x:0:0::/root:/bin/sh\n")]),
            &[("root-user", "fail"), ("root-group", "fail")],
            12,
        ),
        // Another name for uid 0.
        (
            one("toor", Some("toor:users"), vec![passwd("toor:x:0:100::/:/bin/sh\n"), group("users:x:100:\n")]),
            &[("root-user", "fail")],
            12,
        ),
        // No USER at all.
        (one("no-user", None, vec![]), &[("root-user", "fail"), ("root-group", "fail")], 12),
        // passwd and group reached through symlinks that only resolve inside the image.
        (
            one(
                "linked-accounts",
                Some("app:app"),
                vec![
                    link("/etc/passwd", "/usr/lib/ocic-accounts/passwd"),
                    link("/etc/group", "../usr/lib/ocic-accounts/group"),
                    file("/usr/lib/ocic-accounts/passwd", 0o644, "app:x:1001:1001::/:/sbin/nologin\n"),
                    file("/usr/lib/ocic-accounts/group", 0o644, "app:x:1001:\n"),
                ],
            ),
            &[],
            0,
        ),
        // The final image's passwd counts, not the one of a lower layer.
        (("passwd-replaced".to_string(), replaced), &[("too-many-layers", "fail")], 15),
    ];
    let build = Store::new("accounts");
    let mut refs = Vec::new();
    for ((name, spec), _, _) in &cases {
        let local = format!("localhost/{}:1", repo(name));
        let id = build_scratch(&build, &local, spec);
        refs.push(push_all(&build, &local, name, &id, &["1"]).reference());
    }
    drop(build);
    let store = Store::new("accounts-scan");
    let out = scan(&store).good_auth().args(&refs).run();
    out.assert_code(12);
    let mut problems = Vec::new();
    for (((name, _), changes, code), r) in cases.iter().zip(&refs) {
        let rep = out.report_named(&slug(r));
        for (id, want) in statuses_with(changes) {
            if status(&rep, id) != want {
                problems.push(format!(
                    "{name}: {id} is {}, expected {want}: {}",
                    status(&rep, id),
                    check(&rep, id)["description"]
                ));
            }
        }
        if rep["summary"]["exit_code"] != *code {
            problems.push(format!("{name}: exit code {} expected {code}", rep["summary"]["exit_code"]));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// =======================================================================================
// References: tags, digests, transports
// =======================================================================================

#[test]
fn digest_pinned_reference_passes_latest_tag_and_untagged_fails_it() {
    let img = clean();
    // Pinned by digest: passes, and the report names the digest.
    let store = Store::new("pinned");
    let out = scan(&store).good_auth().arg(img.pinned()).run();
    out.assert_code(0);
    let rep = out.report_named(&slug(&img.pinned()));
    assert_eq!(status(&rep, "latest-tag"), "pass");
    assert!(check(&rep, "latest-tag")["description"].as_str().unwrap().contains(&img.digest));
    assert_eq!(rep["image"]["digest"], img.digest.as_str());
    assert_eq!(rep["image"]["id"], img.id.as_str());
    drop(store);

    // No tag means latest.
    let store = Store::new("untagged");
    let out = scan(&store).good_auth().arg(&img.repo).run();
    out.assert_code(12);
    let rep = out.report_named(&slug(&img.repo));
    assert_statuses(&rep, &statuses_with(&[("latest-tag", "fail")]));
    assert_eq!(rep["image"]["tag"], "latest");
    // ... and CRITICAL_EXIT_CODE remaps it.
    let out = scan(&store).good_auth().env("CRITICAL_EXIT_CODE", "3").arg(&img.repo).run();
    out.assert_code(3);
    drop(store);

    let store = Store::new("latest");
    let latest = format!("{}:latest", img.repo);
    let out = scan(&store).good_auth().arg(&latest).run();
    out.assert_code(12);
    assert_eq!(status(&out.report_named(&slug(&latest)), "latest-tag"), "fail");
}

#[test]
fn containers_storage_image_that_was_never_pushed_is_scanned_without_a_registry() {
    let store = Store::new("local-only");
    let local = format!("localhost/{}:1", repo("local-only"));
    let id = build_scratch(&store, &local, &clean_spec());
    // --pull always and no credentials: a local-storage reference is never pulled (the
    // registry has no such repository, so any pull would fail).
    let reference = format!("containers-storage:{local}");
    let out = scan(&store).args(["--pull", "always"]).arg(&reference).run();
    out.assert_code(0);
    let rep = out.report();
    assert_statuses(&rep, &all_pass());
    assert_eq!(rep["image"]["id"], id.as_str());
    assert_eq!(rep["image"]["tag"], "1");

    // By image ID: pinned like a digest.
    let out = scan(&store).arg(&id).run();
    out.assert_code(0);
    let rep = out.report();
    assert_eq!(status(&rep, "latest-tag"), "pass");
    assert_eq!(rep["image"]["id"], id.as_str());
}

#[test]
fn archive_transports_are_pulled_and_scanned() {
    let build = Store::new("archives");
    let local = format!("localhost/{}:1", repo("archive"));
    build_scratch(&build, &local, &clean_spec());
    let d = Scratch::new("archives");
    let oci = d.path().join("image-oci.tar");
    let docker = d.path().join("image-docker.tar");
    build.podman(&["save", "-q", "--format", "oci-archive", "-o", oci.to_str().unwrap(), &local]);
    build.podman(&["save", "-q", "--format", "docker-archive", "-o", docker.to_str().unwrap(), &local]);
    drop(build);
    for reference in [format!("oci-archive:{}", oci.display()), format!("docker-archive:{}", docker.display())] {
        let store = Store::new("archive-scan");
        let out = scan(&store).arg(&reference).run();
        // The reference names no tag, the archive records :1, which is the image's tag.
        // podman saves an OCI archive in the OCI format, which drops the healthcheck.
        let oci_format = reference.starts_with("oci-archive:");
        out.assert_code(if oci_format { 15 } else { 0 });
        let rep = out.report_named(&slug(&reference));
        let changes: &[(&str, &str)] = if oci_format { &[("healthcheck-missing", "fail")] } else { &[] };
        assert_statuses(&rep, &statuses_with(changes));
        assert_eq!(check(&rep, "latest-tag")["description"], "tag 1");
        assert_eq!(rep["image"]["reference"], reference.as_str());
    }
}

#[test]
fn report_names_transports_as_podman_does() {
    // podman (and the scanner's own serde names for its Transport enum) spell them
    // "containers-storage", "docker-archive", "oci-archive"; the report must not invent
    // "containersstorage", "dockerarchive", "ociarchive".
    let store = Store::new("transport");
    let local = format!("localhost/{}:1", repo("transport"));
    build_scratch(
        &store,
        &local,
        &ImageSpec::new(vec![layer("COPY app /", vec![exe("/app/run")])]).config(&GOOD_CONFIG),
    );
    let d = Scratch::new("transport");
    let oci = d.path().join("image-oci.tar");
    let docker = d.path().join("image-docker.tar");
    store.podman(&["save", "-q", "--format", "oci-archive", "-o", oci.to_str().unwrap(), &local]);
    store.podman(&["save", "-q", "--format", "docker-archive", "-o", docker.to_str().unwrap(), &local]);
    let mut got = Vec::new();
    for (reference, want) in [
        (format!("containers-storage:{local}"), "containers-storage"),
        (format!("oci-archive:{}", oci.display()), "oci-archive"),
        (format!("docker-archive:{}", docker.display()), "docker-archive"),
        (local.clone(), "docker"),
    ] {
        let out = scan(&store).arg(&reference).run();
        // 15: an OCI archive cannot carry the healthcheck.
        assert!(matches!(out.code, Some(0) | Some(12) | Some(15)), "{}", out.dump());
        got.push((want, out.report()["image"]["transport"].as_str().unwrap_or("").to_string()));
    }
    let wrong: Vec<_> = got.iter().filter(|(want, got)| want != got).collect();
    assert!(wrong.is_empty(), "image.transport (expected, reported): {wrong:?}");
}

#[test]
fn report_digest_is_the_registrys_when_the_image_was_built_in_the_same_storage() {
    // The usual CI job: build, push, scan on the same runner. podman then knows two
    // manifest digests for the image (the local one from the commit and the registry's),
    // lists both in RepoDigests in digest order and keeps the local one in Digest. The
    // report's digest must be the one the registry serves (`repo@digest` must pull).
    let e = env();
    let store = Store::new("same-store");
    let name = "same-store";
    let local = format!("localhost/{}:1", repo(name));
    let remote = format!("{}/{}:1", e.registry, repo(name));
    let creds = creds();
    let mut found = None;
    for attempt in 0..16 {
        // Vary the image until the local digest sorts before the registry's (about half of
        // all images), the order in which a "first RepoDigest" guess is wrong.
        let spec = ImageSpec::new(vec![layer("COPY app /", vec![exe("/app/run")])])
            .config(&GOOD_CONFIG)
            .config(&["--label", &format!("attempt={attempt}")]);
        let id = build_scratch(&store, &local, &spec);
        let pushed = store.push(&local, &repo(name), "1");
        let local_digest = store.inspect(&local)["Digest"].as_str().unwrap().to_string();
        if local_digest != pushed && local_digest < pushed {
            found = Some((id, pushed, local_digest));
            break;
        }
    }
    let (id, pushed, local_digest) = found.expect("no image whose local digest sorts first in 16 attempts");
    let out = scan(&store).good_auth().args(["--pull", "always"]).arg(&remote).run();
    out.assert_code(0);
    let rep = out.report();
    assert_eq!(rep["image"]["id"], id.as_str());
    let reported = rep["image"]["digest"].as_str().unwrap_or("").to_string();
    // Ask the registry for what the report names.
    let probe = Store::new("digest-probe");
    let by_digest = format!("{}/{}@{reported}", e.registry, repo(name));
    let pull = probe.run("podman", &["pull", "-q", "--tls-verify=false", "--creds", &creds, &by_digest]);
    assert!(
        reported == pushed && pull.code == Some(0),
        "report digest {reported} (registry's: {pushed}, local: {local_digest}); pulling {by_digest}: exit {:?} {}",
        pull.code,
        pull.stderr.trim()
    );
}

// =======================================================================================
// Credentials
// =======================================================================================

#[test]
fn wrong_password_fails_the_pull_with_podmans_reason_and_never_leaks_it() {
    let img = clean();
    let e = env();
    let wrong = format!("wrong-{}-pw", e.run_id);
    for (form, cfg) in
        [("auth", auth_config(&e.registry, &e.user, &wrong)), ("username/password", auth_config_plain(&e.user, &wrong))]
    {
        let store = Store::new("wrong-pw");
        let out = scan(&store)
            .auth(&cfg)
            .secret(&wrong)
            .secret(&b64(&format!("{}:{wrong}", e.user)))
            .arg(img.reference())
            .run();
        out.assert_code(20);
        let reason = |s: &str| s.contains("invalid username/password") || s.contains("unauthorized");
        assert!(reason(&out.stderr), "{form}: podman's reason is not on stderr:\n{}", out.dump());
        let rep = out.report_named(&slug(&img.reference()));
        let err = &rep["error"];
        assert_eq!(err["kind"], "pull-failed", "{form}: {err}");
        assert_eq!(err["exit_code"], 20, "{form}: {err}");
        assert!(reason(err["message"].as_str().unwrap_or("")), "{form}: {err}");
        assert_eq!(rep["summary"]["verdict"], "error");
        assert_eq!(rep["summary"]["exit_code"], 20);
        assert_eq!(rep["checks"], serde_json::json!([]));
        assert_eq!(rep["image"]["reference"], img.reference().as_str());
    }
}

#[test]
fn docker_auth_config_forms_all_authenticate() {
    let img = clean();
    let e = env();
    let path_dir = Scratch::new("auth-file");
    let path = path_dir.path().join("config.json");
    fs::write(&path, good_auth()).unwrap();
    let url_key = serde_json::json!({"auths": {
        "other.example:5000": {"identitytoken": "not-for-this-registry"},
        format!("https://{}/", e.registry): {"auth": b64(&format!("{}:{}", e.user, e.password))},
    }})
    .to_string();
    for (form, cfg) in [
        ("base64 auth", good_auth()),
        ("username/password", auth_config_plain(&e.user, &e.password)),
        ("path to a config.json", path.display().to_string()),
        ("URL key next to another registry", url_key),
    ] {
        let store = Store::new("auth-form");
        let out = scan(&store).auth(&cfg).arg(img.reference()).run();
        assert_eq!(out.code, Some(0), "{form}\n{}", out.dump());
    }
}

#[test]
fn podman_gets_the_password_on_stdin_only() {
    // A podman that records its argv and the names of its environment variables, then
    // runs the real one: the password must be in neither, the registry login must use
    // --password-stdin and a private --authfile, and pull must use that authfile.
    let img = clean();
    let e = env();
    let real = real_podman();
    let d = Scratch::new("wrapper");
    let (argv_log, env_log) = (d.path().join("argv.log"), d.path().join("env.log"));
    let wrapper = d.path().join("podman");
    script(
        &wrapper,
        &format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nenv | cut -d= -f1 >> '{}'\nexec '{}' \"$@\"\n",
            argv_log.display(),
            env_log.display(),
            real.display()
        ),
    );
    for (how, vars) in [
        ("DOCKER_AUTH_CONFIG", vec![("DOCKER_AUTH_CONFIG", good_auth())]),
        (
            "CI_REGISTRY_*",
            vec![
                ("CI_REGISTRY", e.registry.clone()),
                ("CI_REGISTRY_USER", e.user.clone()),
                ("CI_REGISTRY_PASSWORD", e.password.clone()),
            ],
        ),
    ] {
        let _ = fs::remove_file(&argv_log);
        let _ = fs::remove_file(&env_log);
        let store = Store::new("wrapper");
        let mut cmd = scan(&store).arg("--podman").arg(&wrapper).env("COMPLIANCE_TLS_VERIFY", "false");
        for (k, v) in &vars {
            cmd = cmd.env(k, v);
        }
        let out = cmd.arg(img.reference()).run();
        out.assert_code(0);
        let argv = fs::read_to_string(&argv_log).unwrap();
        let env_names = fs::read_to_string(&env_log).unwrap();
        assert!(!argv.contains(&e.password), "{how}: the password is in podman's argv");
        for secret_var in ["DOCKER_AUTH_CONFIG", "CI_REGISTRY_PASSWORD"] {
            assert!(!env_names.lines().any(|l| l == secret_var), "{how}: podman inherited {secret_var}");
        }
        let login =
            argv.lines().find(|l| l.starts_with("login ")).unwrap_or_else(|| panic!("{how}: no podman login:\n{argv}"));
        assert!(login.contains("--password-stdin") && login.contains("--authfile "), "{how}: {login}");
        assert!(login.contains("--tls-verify=false") && login.ends_with(&e.registry), "{how}: {login}");
        let authfile = login.split("--authfile ").nth(1).unwrap().split(' ').next().unwrap();
        assert_ne!(Path::new(authfile), e.auth_file.as_path(), "{how}: logged in into the default auth file");
        assert!(!Path::new(authfile).exists(), "{how}: {authfile} outlived the scan");
        let pull =
            argv.lines().find(|l| l.starts_with("pull ")).unwrap_or_else(|| panic!("{how}: no podman pull:\n{argv}"));
        assert!(
            pull.contains(&format!("--authfile {authfile}")) && pull.contains("--tls-verify=false"),
            "{how}: {pull}"
        );
    }
}

#[test]
fn ci_registry_variables_are_the_fallback() {
    let img = clean();
    let e = env();
    let store = Store::new("ci-fallback");
    let out = scan(&store)
        .env("CI_REGISTRY", &e.registry)
        .env("CI_REGISTRY_USER", &e.user)
        .env("CI_REGISTRY_PASSWORD", &e.password)
        .env("COMPLIANCE_TLS_VERIFY", "false")
        .env("COMPLIANCE_IMAGE_FULL_REF", img.reference())
        .run();
    out.assert_code(0);
    drop(store);

    // Control: the same scan without any credentials is refused by the registry.
    let store = Store::new("no-creds");
    let out = scan(&store).env("COMPLIANCE_TLS_VERIFY", "false").arg(img.reference()).run();
    out.assert_code(20);
    let msg = out.report()["error"]["message"].as_str().unwrap_or("").to_string();
    assert!(msg.contains("unauthorized") || msg.contains("authentication required"), "{msg}");
    drop(store);

    // DOCKER_AUTH_CONFIG comes first, but only for the registries it names.
    let store = Store::new("ci-and-other");
    let other_only = serde_json::json!({"auths": {"other.example:5000": {"auth": b64("someone:else")}}}).to_string();
    let out = scan(&store)
        .auth(&other_only)
        .env("CI_REGISTRY", &e.registry)
        .env("CI_REGISTRY_USER", &e.user)
        .env("CI_REGISTRY_PASSWORD", &e.password)
        .arg(img.reference())
        .run();
    out.assert_code(0);
    drop(store);

    // CI credentials for another registry are not used for this one.
    let store = Store::new("ci-other");
    let out = scan(&store)
        .env("CI_REGISTRY", "registry.invalid:5000")
        .env("CI_REGISTRY_USER", &e.user)
        .env("CI_REGISTRY_PASSWORD", &e.password)
        .env("COMPLIANCE_TLS_VERIFY", "false")
        .arg(img.reference())
        .run();
    out.assert_code(20);
}

#[test]
fn pull_policies_never_missing_always() {
    let img = clean();
    let store = Store::new("pull-policy");
    let r = img.reference();
    // never, absent locally: no pull, exit 20.
    let out = scan(&store).good_auth().args(["--pull", "never"]).arg(&r).run();
    out.assert_code(20);
    let err = &out.report()["error"];
    assert_eq!(err["kind"], "pull-failed", "{err}");
    assert!(err["message"].as_str().unwrap().contains("not in local storage"), "{err}");
    // missing (the default): pulled with the credentials.
    scan(&store).good_auth().arg(&r).run().assert_code(0);
    // never / missing, now present: no registry access needed, no credentials given.
    scan(&store).env("COMPLIANCE_PULL", "never").arg(&r).run().assert_code(0);
    scan(&store).env("COMPLIANCE_TLS_VERIFY", "false").arg(&r).run().assert_code(0);
    // always: contacts the registry, which refuses anonymous pulls...
    let out = scan(&store).env("COMPLIANCE_TLS_VERIFY", "false").args(["--pull", "always"]).arg(&r).run();
    out.assert_code(20);
    // ... and accepts authenticated ones.
    scan(&store).good_auth().args(["--pull", "always"]).arg(&r).run().assert_code(0);
}

// =======================================================================================
// Operational failures and configuration errors
// =======================================================================================

#[test]
fn no_image_exits_22_before_any_podman_call() {
    let fake = FakePodman::new("exit 125");
    for refs in [None, Some(""), Some("   ")] {
        let mut cmd = scan(Store::shared()).arg("--podman").arg(&fake.path);
        if let Some(v) = refs {
            cmd = cmd.env("COMPLIANCE_IMAGE_FULL_REF", v);
        }
        let out = cmd.run();
        assert_eq!(out.code, Some(22), "COMPLIANCE_IMAGE_FULL_REF={refs:?}\n{}", out.dump());
        assert!(out.stderr.contains("no image"), "{}", out.dump());
    }
    assert_eq!(fake.calls(), Vec::<String>::new());
}

#[test]
fn invalid_configuration_exits_24_before_any_podman_call() {
    let fake = FakePodman::new("exit 125");
    let image = format!("{}/{}:1", env().registry, repo("never-used"));
    let secret = "s3cretvalue42";
    // (what, arguments, variables)
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, String)>);
    let cases: Vec<Case> = vec![
        ("CRITICAL_EXIT_CODE=abc", vec![], vec![("CRITICAL_EXIT_CODE", "abc".into())]),
        ("HIGH_EXIT_CODE=256", vec![], vec![("HIGH_EXIT_CODE", "256".into())]),
        ("MEDIUM_EXIT_CODE=1.5", vec![], vec![("MEDIUM_EXIT_CODE", "1.5".into())]),
        ("LOW_EXIT_CODE=-1", vec![], vec![("LOW_EXIT_CODE", "-1".into())]),
        ("INFORMATIONAL_EXIT_CODE=none", vec![], vec![("INFORMATIONAL_EXIT_CODE", "none".into())]),
        (
            "DOCKER_AUTH_CONFIG not JSON",
            vec![],
            vec![("DOCKER_AUTH_CONFIG", format!("{{\"auths\": {{\"x\": {{\"auth\": \"{secret}"))],
        ),
        (
            "DOCKER_AUTH_CONFIG auth not base64",
            vec![],
            vec![(
                "DOCKER_AUTH_CONFIG",
                format!("{{\"auths\": {{\"127.0.0.1:5055\": {{\"auth\": \"%%{secret}%%\"}}}}}}"),
            )],
        ),
        (
            "DOCKER_AUTH_CONFIG auth without a colon",
            vec![],
            vec![(
                "DOCKER_AUTH_CONFIG",
                format!("{{\"auths\": {{\"127.0.0.1:5055\": {{\"auth\": \"{}\"}}}}}}", b64(secret)),
            )],
        ),
        (
            "DOCKER_AUTH_CONFIG entry without credentials",
            vec![],
            vec![("DOCKER_AUTH_CONFIG", "{\"auths\": {\"127.0.0.1:5055\": {}}}".into())],
        ),
        (
            "DOCKER_AUTH_CONFIG missing file",
            vec![],
            vec![("DOCKER_AUTH_CONFIG", "/nonexistent/ocic/config.json".into())],
        ),
        ("COMPLIANCE_TLS_VERIFY=maybe", vec![], vec![("COMPLIANCE_TLS_VERIFY", "maybe".into())]),
        ("--pull sometimes", vec!["--pull", "sometimes"], vec![]),
        ("COMPLIANCE_PULL=sometimes", vec![], vec![("COMPLIANCE_PULL", "sometimes".into())]),
        ("unknown flag", vec!["--no-such-flag"], vec![]),
    ];
    for (what, args, envs) in &cases {
        let mut cmd = scan(Store::shared())
            .arg("--podman")
            .arg(&fake.path)
            .args(args.clone())
            .secret(secret)
            .secret(&b64(secret));
        for (k, v) in envs {
            cmd = cmd.env(k, v);
        }
        let out = cmd.arg(&image).run();
        assert_eq!(out.code, Some(24), "{what}\n{}", out.dump());
        assert!(!out.stderr.trim().is_empty(), "{what}: no explanation\n{}", out.dump());
    }
    for bad_ref in ["UPPER/Case:1", "127.0.0.1:5055/ns/app:bad:tag", "app@sha256:1234", "ftp://host/x"] {
        let out = scan(Store::shared()).arg("--podman").arg(&fake.path).arg(bad_ref).run();
        assert_eq!(out.code, Some(24), "reference {bad_ref}\n{}", out.dump());
    }
    assert_eq!(fake.calls(), Vec::<String>::new(), "podman was run despite a configuration error");
}

#[test]
fn unwritable_reports_dir_exits_23_before_any_podman_call() {
    let fake = FakePodman::new("exit 125");
    let d = Scratch::new("not-a-dir");
    let f = d.path().join("regular-file");
    fs::write(&f, "x").unwrap();
    let under_file = f.join("reports");
    let image = format!("{}/{}:1", env().registry, repo("never-used"));
    let out = scan(Store::shared())
        .no_reports_flag()
        .arg("--podman")
        .arg(&fake.path)
        .arg("--reports-dir")
        .arg(&under_file)
        .arg(&image)
        .run();
    assert_eq!(out.code, Some(23), "{}", out.dump());
    assert!(out.stderr.contains("reports"), "{}", out.dump());
    let out = scan(Store::shared())
        .no_reports_flag()
        .arg("--podman")
        .arg(&fake.path)
        .env("COMPLIANCE_REPORTS_DIR", under_file.to_str().unwrap())
        .arg(&image)
        .run();
    assert_eq!(out.code, Some(23), "{}", out.dump());
    assert_eq!(fake.calls(), Vec::<String>::new());
    assert_eq!(fs::read_to_string(&f).unwrap(), "x");
}

#[test]
fn reports_dir_is_created_and_never_emptied() {
    let img = clean();
    let store = Store::new("reports-dir");
    let d = Scratch::new("reports-keep");
    let existing = d.path().join("keep.txt");
    fs::write(&existing, "mine").unwrap();
    let nested: PathBuf = d.path().join("a/b");
    for dir in [d.path().to_path_buf(), nested.clone()] {
        let out = scan(&store)
            .no_reports_flag()
            .good_auth()
            .env("COMPLIANCE_REPORTS_DIR", dir.to_str().unwrap())
            .arg(img.reference())
            .run();
        out.assert_code(0);
        assert!(dir.join(slug(&img.reference())).is_file(), "{}", out.dump());
        let names = out.report_names();
        assert!(names.iter().all(|n| !n.ends_with(".tmp")), "temporary files left: {names:?}");
    }
    assert_eq!(fs::read_to_string(&existing).unwrap(), "mine");
    let mode = fs::metadata(d.path().join(slug(&img.reference()))).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
}

#[test]
fn missing_podman_exits_20() {
    let img = clean();
    let out =
        scan(Store::shared()).good_auth().arg("--podman").arg("/nonexistent/bin/podman").arg(img.reference()).run();
    out.assert_code(20);
    let rep = out.report();
    assert_eq!(rep["error"]["exit_code"], 20);
    assert!(out.stderr.contains("/nonexistent/bin/podman") || out.stderr.contains("podman"), "{}", out.dump());
}

#[test]
fn podman_failures_after_the_pull_are_inspect_or_check_errors() {
    let image = format!("{}/{}:1", env().registry, repo("fake"));
    // podman image inspect fails: 21, with podman's stderr in the report.
    let fake = FakePodman::new(
        r#"case "$1 $2" in
  "image exists") exit 0 ;;
  "image inspect") echo 'Error: inspecting object: boom-from-podman' >&2; exit 125 ;;
esac
exit 125"#,
    );
    let out = scan(Store::shared()).arg("--podman").arg(&fake.path).arg(&image).run();
    out.assert_code(21);
    let rep = out.report();
    assert_eq!(rep["error"]["kind"], "inspect-failed");
    assert!(rep["error"]["message"].as_str().unwrap().contains("boom-from-podman"), "{}", rep["error"]);
    assert!(fake.calls().iter().all(|c| !c.starts_with("pull")), "{:?}", fake.calls());

    // An image in storage the scanner cannot read (not overlay): 25, never a pass.
    let fake = FakePodman::new(concat!(
        r#"case "$1 $2" in
  "image exists") exit 0 ;;
  "image inspect") echo '[{"Id":"0123","Config":{"User":"1001:1001"},"RootFS":{"Layers":["sha256:aa"]},"#,
        r#""GraphDriver":{"Name":"vfs","Data":{}}}]'; exit 0 ;;
esac
exit 125"#
    ));
    let out = scan(Store::shared()).arg("--podman").arg(&fake.path).arg(&image).run();
    out.assert_code(25);
    assert_eq!(out.report()["summary"]["verdict"], "error");
}

#[test]
fn checks_and_explain_commands() {
    let out = command(&["checks"]).run();
    out.assert_code(0);
    let ids: Vec<&str> = out.stdout.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert_in_order(&ids, check_ids());
    for (id, sev) in [
        ("admin-ports-exposed", "high"),
        ("compilers", "medium"),
        ("labels-missing", "low"),
        ("base-os", "informational"),
    ] {
        let line = out.stdout.lines().find(|l| l.starts_with(id)).unwrap();
        assert!(line.to_lowercase().contains(sev), "{line}");
    }
    let out = command(&["explain", "suid-files"]).run();
    out.assert_code(0);
    assert!(out.stdout.contains("setuid"), "{}", out.stdout);
    assert!(out.stdout.contains("Standards: CIS Docker 1.6 4.8, NIST SP 800-190 4.1.2"), "{}", out.stdout);
    command(&["explain", "no-such-check"]).run().assert_code(24);
}

#[test]
fn checks_standard_prints_the_coverage_item_by_item() {
    let out = command(&["checks", "--standard", "cis-docker-1.6"]).run();
    out.assert_code(0);
    let item = |id: &str| {
        out.stdout.lines().find(|l| l.starts_with(&format!("{id} "))).unwrap_or_else(|| panic!("{id}\n{}", out.stdout))
    };
    assert!(item("4.1").contains("automated"), "{}", out.stdout);
    assert!(item("4.8").contains("automated"), "{}", out.stdout);
    for manual in ["4.4", "4.5", "4.11", "4.12"] {
        assert!(item(manual).contains("manual"), "{}", out.stdout);
    }
    assert!(out.stdout.contains("checks: suid-files, sgid-files"), "{}", out.stdout);
    assert_eq!(out.stdout.lines().filter(|l| l.starts_with("4.")).count(), 12, "{}", out.stdout);
    let nist = command(&["checks", "--standard", "nist-800-190"]).run();
    nist.assert_code(0);
    assert!(nist.stdout.contains("4.1.2"), "{}", nist.stdout);
    let disa = command(&["checks", "--standard", "disa-cidg-2r0.6"]).run();
    disa.assert_code(0);
    let line = disa.stdout.lines().find(|l| l.starts_with("non-privileged-ports ")).unwrap_or_default();
    assert!(line.contains("automated"), "{}", disa.stdout);
    let bad = command(&["checks", "--standard", "cis-docker-9"]).run();
    bad.assert_code(24);
    assert!(bad.stderr.contains("cis-docker-1.6"), "{}", bad.stderr);
}

// =======================================================================================
// The JSON schema
// =======================================================================================

/// `want` appears in `got` in this order (other entries may sit between).
#[track_caller]
fn assert_in_order(got: &[&str], want: &[&str]) {
    let mut it = got.iter();
    for w in want {
        assert!(it.any(|g| g == w), "{w} missing or out of order in {got:?}");
    }
}

/// Ids of the failed checks.
fn failed_ids(rep: &Value) -> BTreeSet<String> {
    rep["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// A build that commits one layer for several instructions (`podman build --layers=false`)
/// records COPY as an empty step and the last instruction as the layer's: the report ties
/// the layer to every step that made it, and names the COPY as what made its files, with both
/// sources.
#[test]
fn a_layer_made_by_several_build_steps_names_them_all() {
    let store = Store::new("steps-build");
    let ctx = Scratch::new("steps-ctx");
    fs::write(ctx.path().join("app"), "#!/bin/sh\n").unwrap();
    fs::write(ctx.path().join("Base"), "FROM scratch\nCOPY app /base-file\n").unwrap();
    fs::write(
        ctx.path().join("App"),
        "FROM localhost/steps-base:1\nCOPY app /opt/app\nENV MODE=prod\nCMD [\"/opt/app\"]\n",
    )
    .unwrap();
    let c = ctx.path().to_str().unwrap();
    store.podman(&["build", "-q", "--layers=true", "-f", &format!("{c}/Base"), "-t", "localhost/steps-base:1", c]);
    store.podman(&["build", "-q", "--layers=false", "-f", &format!("{c}/App"), "-t", "localhost/steps-app:1", c]);
    let id = store.inspect("localhost/steps-app:1")["Id"].as_str().unwrap().to_string();
    let pushed = push_all(&store, "localhost/steps-app:1", "steps-app", &id, &["1"]);

    for (how, run) in [
        ("storage", scan(&store).args(["--pull", "never", "containers-storage:localhost/steps-app:1"]).run()),
        ("registry", fetch(&Store::new("steps-fetch")).good_auth().arg(pushed.reference()).run()),
    ] {
        let rep = run.report();
        let layers = rep["layers"].as_array().unwrap_or_else(|| panic!("{rep}"));
        assert_eq!(layers.len(), 2, "{how}: {layers:?}");
        let steps = strings(&layers[1]["steps"]);
        assert!(steps.iter().any(|s| s.contains("COPY") && s.contains("/opt/app")), "{how}: {steps:?}");
        assert!(steps.iter().any(|s| s.contains("ENV MODE=prod")), "{how}: {steps:?}");
        assert!(steps.last().unwrap().contains("CMD"), "{how}: {steps:?}");
        let created_by = layers[1]["created_by"].as_str().unwrap();
        // What findings show: the step that put files there, not the config steps around it.
        assert!(
            created_by.contains("COPY") && created_by.contains("/opt/app") && !created_by.contains("CMD"),
            "{how}: {created_by}"
        );
        let base = strings(&layers[0]["steps"]);
        assert!(base.len() == 1 && base[0].contains("/base-file"), "{how}: {base:?}");
    }
}
