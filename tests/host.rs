//! Host scans (issue #6): images already in some containers/storage store, scanned with no
//! registry; other stores and drivers (vfs, fuse-overlayfs, read-only additional stores);
//! rootless; archives; multi-arch. Every test runs the real binary against real podman.
//!
//! Needs root and the environment of `tests/env/setup.sh`.

use crate::support::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------
// The test image, and how these tests scan it
// ---------------------------------------------------------------------------------------

/// The base layer's tree: accounts, a setuid su, a setgid newgrp, files later deleted.
fn base_tree(dir: &Path) {
    for (rel, mode, content) in [
        ("etc/passwd", 0o644, &b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"[..]),
        ("etc/group", 0o644, b"root:x:0:\napp:x:1000:\n"),
        ("etc/os-release", 0o644, b"NAME=\"Host Test\"\nVERSION_ID=\"6\"\n"),
        ("bin/su", 0o4755, b"su\n"),
        ("usr/bin/newgrp", 0o2755, b"newgrp\n"),
        ("opt/tool-suid", 0o4755, b"tool\n"),
        ("a/keep", 0o644, b"keep\n"),
        ("a/del", 0o644, b"del\n"),
        ("d/x", 0o644, b"x\n"),
        ("d/sub/y", 0o644, b"y\n"),
    ] {
        write_file(&dir.join(rel), content, mode);
    }
}

/// Build the three-layer test image in `store` as `name` and return its ID. Layers:
/// 1. `base_tree`;
/// 2. deletes /a/del and /opt/tool-suid, replaces /d by a new directory (opaque in overlay);
/// 3. rewrites /a/keep, drops su's setuid bit, adds a setuid /usr/local/bin/late.
fn build_image(store: &Store, name: &str) -> String {
    let trees = Scratch::new("tree");
    base_tree(trees.path());
    let config: [(&str, &[u8]); 3] =
        [("--cmd", b"/bin/app"), ("--label", b"org.example.test=host"), ("--user", b"app")];
    build_tree(store, &format!("{name}-l1"), trees.path(), &config);
    edit_layer(store, &format!("{name}-l1"), &format!("{name}-l2"), |m| {
        fs::remove_file(m.join("a/del")).unwrap();
        fs::remove_file(m.join("opt/tool-suid")).unwrap();
        fs::remove_dir_all(m.join("d")).unwrap();
        write_file(&m.join("d/y2"), b"y2\n", 0o644);
    });
    edit_layer(store, &format!("{name}-l2"), name, |m| {
        use std::os::unix::fs::PermissionsExt;
        write_file(&m.join("a/keep"), b"replaced\n", 0o644);
        fs::set_permissions(m.join("bin/su"), fs::Permissions::from_mode(0o755)).unwrap();
        write_file(&m.join("usr/local/bin/late"), b"late\n", 0o4755);
    })
}

/// (check, path, layer, visible, uid, gid, mode)
type FindingRow = (String, String, u64, bool, u64, u64, String);

/// What every driver must report for `build_image`'s image.
fn expected_findings() -> BTreeSet<FindingRow> {
    let f = |check: &str, path: &str, layer: u64, visible: bool, mode: &str| {
        (check.to_string(), path.to_string(), layer, visible, 0, 0, mode.to_string())
    };
    [
        f("suid-files", "/bin/su", 1, false, "4755"),
        f("suid-files", "/opt/tool-suid", 1, false, "4755"),
        f("suid-files", "/usr/local/bin/late", 3, true, "4755"),
        f("sgid-files", "/usr/bin/newgrp", 1, true, "2755"),
        f("privilege-tools", "/bin/su", 1, false, "4755"),
        f("privilege-tools", "/bin/su", 3, true, "0755"),
    ]
    .into_iter()
    .collect()
}

/// Every finding of the report, as comparable rows.
fn all_findings(report: &Value) -> BTreeSet<FindingRow> {
    let mut out = BTreeSet::new();
    for c in report["checks"].as_array().unwrap() {
        for f in c["findings"].as_array().unwrap() {
            out.insert((
                c["id"].as_str().unwrap().to_string(),
                f["path"].as_str().unwrap().to_string(),
                f["layer"].as_u64().unwrap(),
                f["visible"].as_bool().unwrap(),
                f["uid"].as_u64().unwrap(),
                f["gid"].as_u64().unwrap(),
                f["mode"].as_str().unwrap().to_string(),
            ));
        }
    }
    out
}

/// The scanner against `store`, writing into `work` (reports through
/// COMPLIANCE_REPORTS_DIR), the JSON report on stdout too.
fn scanner<'a>(store: &'a Store, work: &'a Workspace) -> Scan<'a> {
    scan(store).workspace(work).reports_in_env().env("COMPLIANCE_JSON_STDOUT", "true")
}

/// The first directory below `root` whose path ends with `suffix` (walked as root).
fn find_dir(root: &Path, suffix: &str) -> Option<PathBuf> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d.ends_with(suffix) {
            return Some(d);
        }
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(e.path());
            }
        }
    }
    None
}

/// The report's findings must be exactly the recipe image's, whatever stored it.
#[track_caller]
fn assert_recipe_report(scan: &ScanOut, driver: &str) {
    assert_eq!(scan.code, Some(12), "{}", scan.dump());
    let r = &scan.stdout_json;
    assert_eq!(r["error"], Value::Null, "{}", scan.dump());
    assert_eq!(r["image"]["storage_driver"], driver);
    assert_eq!(r["layers"].as_array().unwrap().len(), 3);
    assert_eq!(all_findings(r), expected_findings(), "{}", scan.dump());
    assert_eq!(check(r, "suid-files")["status"], "fail");
    assert_eq!(check(r, "root-user")["status"], "pass");
    assert_eq!(check(r, "base-os")["description"], "Host Test 6");
}

#[test]
fn local_image_never_pushed_is_scanned_with_no_network() {
    let store = Store::new("local");
    let name = format!("localhost/{}:1", unique("local"));
    build_image(&store, &name);
    let work = Workspace::new("local-work");
    // A new network namespace has only a down loopback: nothing could be pulled.
    let offline = ["unshare", "--net", "--"];

    let s = scanner(&store, &work).prefix(&offline).args(["--pull", "never", &name]).run();
    assert_recipe_report(&s, "overlay");
    assert_eq!(s.stdout_json["settings"]["pull"], "never");

    // containers-storage: never pulls, whatever the policy.
    let s =
        scanner(&store, &work).prefix(&offline).args(["--pull", "always", &format!("containers-storage:{name}")]).run();
    assert_recipe_report(&s, "overlay");

    // The namespace really is offline: a pull from the registry fails there.
    let s = scanner(&store, &work)
        .prefix(&offline)
        .env("DOCKER_AUTH_CONFIG", good_auth())
        .args(["--tls-verify=false", "--pull", "always", &format!("{}/{}:1", env().registry, unique("nowhere"))])
        .run();
    assert_eq!(s.code, Some(20), "{}", s.dump());

    let s = scanner(&store, &work).prefix(&offline).args(["--pull", "never", "localhost/host-absent:1"]).run();
    assert_eq!(s.code, Some(20), "{}", s.dump());
    assert!(s.stderr.contains("not in local storage"), "{}", s.dump());
}

#[test]
fn root_runroot_and_driver_flags_and_env_reach_podman() {
    let store = Store::new("flags");
    let name = format!("localhost/{}:1", unique("flags"));
    build_image(&store, &name);
    // The scanner's own storage.conf points at an empty store: only the flags find the image.
    let elsewhere = Store::with_driver("flags-empty", "vfs", "");
    let work = Workspace::new("flags-work");
    let (spy, log) = podman_spy(work.path());
    let (root, runroot) = (store.graphroot.to_str().unwrap(), store.runroot.to_str().unwrap());

    let s = scanner(&elsewhere, &work)
        .env("COMPLIANCE_PODMAN", &spy)
        .args(["--pull", "never", "--root", root, "--runroot", runroot, "--storage-driver", "overlay", &name])
        .run();
    assert_recipe_report(&s, "overlay");
    let st = &s.stdout_json["settings"]["storage"];
    assert_eq!(
        (st["root"].as_str(), st["runroot"].as_str(), st["driver"].as_str()),
        (Some(root), Some(runroot), Some("overlay"))
    );
    let calls = fs::read_to_string(&log).unwrap();
    let argv: Vec<&str> = calls.lines().filter(|l| l.starts_with("ARGV")).collect();
    assert!(!argv.is_empty());
    for a in &argv {
        // Global options, before the subcommand.
        let want = format!("ARGV --root {root} --runroot {runroot} --storage-driver overlay ");
        assert!(a.starts_with(&want), "{a}");
    }

    let s = scanner(&elsewhere, &work)
        .env("COMPLIANCE_STORAGE_ROOT", root)
        .env("COMPLIANCE_STORAGE_RUNROOT", runroot)
        .env("COMPLIANCE_STORAGE_DRIVER", "overlay")
        .args(["--pull", "never", &name])
        .run();
    assert_recipe_report(&s, "overlay");

    let s = scanner(&elsewhere, &work).arg(format!("containers-storage:[overlay@{root}+{runroot}]{name}")).run();
    assert_recipe_report(&s, "overlay");

    // And without any of them, the configured (empty) store has no such image.
    let s = scanner(&elsewhere, &work).args(["--pull", "never", &name]).run();
    assert_eq!(s.code, Some(20), "{}", s.dump());
}

#[test]
fn vfs_store_gives_the_same_findings_as_overlay() {
    let store = Store::with_driver("vfs", "vfs", "");
    let name = format!("localhost/{}:1", unique("vfs"));
    build_image(&store, &name);
    let info = store.podman(&["image", "inspect", "--format", "{{json .GraphDriver}}", &name]);
    assert_eq!(info, r#"{"Name":"vfs","Data":null}"#, "vfs reports no layer directories");
    let work = Workspace::new("vfs-work");
    let s = scanner(&store, &work).args(["--pull", "never", &name]).run();
    assert_recipe_report(&s, "vfs");
    // Layer 2 deleted two files and emptied /d: whiteouts, found by comparing snapshots.
    assert!(s.stdout_json["layers"][1]["whiteouts"].as_u64().unwrap() >= 4, "{}", s.stdout_json["layers"]);
}

#[test]
fn fuse_overlayfs_store_with_aufs_whiteouts() {
    let extra = "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n";
    let store = Store::with_driver("fuse", "overlay", extra);
    let name = format!("localhost/{}:1", unique("fuse"));
    build_image(&store, &name);
    // An image built with kernel overlay (opaque /d) and loaded here.
    let native = Store::new("fuse-native");
    let loaded = format!("localhost/{}:1", unique("fuse-loaded"));
    build_image(&native, &loaded);
    let archive_dir = Scratch::new("fuse-archive");
    let archive = archive_dir.path().join("img.tar");
    native.podman(&["save", "-q", "--format", "oci-archive", "-o", archive.to_str().unwrap(), &loaded]);
    store.podman(&["load", "-q", "-i", archive.to_str().unwrap()]);

    // What this machine really does with a mount program: AUFS-style markers, no xattrs.
    let upper = |n: &str| -> Vec<std::path::PathBuf> {
        let v: Value = serde_json::from_str(&store.podman(&["image", "inspect", n])).unwrap();
        let lower = v[0]["GraphDriver"]["Data"]["LowerDir"].as_str().unwrap().to_string();
        lower.split(':').rev().map(std::path::PathBuf::from).collect()
    };
    assert_eq!(fs::read_to_string(store.graphroot.join("overlay/.has-mount-program")).unwrap().trim(), "true");
    let l2 = &upper(&name)[1];
    assert_eq!(fs::metadata(l2.join("a/.wh.del")).unwrap().len(), 0);
    assert!(fs::symlink_metadata(l2.join("a/.wh.del")).unwrap().file_type().is_file(), "a regular file, not a device");
    let l2 = &upper(&loaded)[1];
    assert!(l2.join("d/.wh..wh..opq").is_file(), "opaque marker file in {}", l2.display());

    let work = Workspace::new("fuse-work");
    for n in [&name, &loaded] {
        let s = scanner(&store, &work).args(["--pull", "never", n]).run();
        assert_recipe_report(&s, "overlay");
    }
}

#[test]
fn read_only_additional_image_stores() {
    for driver in ["overlay", "vfs"] {
        // The image lives in the first of two additional stores (podman info would name only
        // the last), mounted read-only; the scanner's own store is empty.
        let a = Store::with_driver("ais-a", driver, "");
        let b = Store::with_driver("ais-b", driver, "");
        let name = format!("localhost/{}:1", unique("ais"));
        build_image(&a, &name);
        b.podman(&["images"]);
        let ro = Scratch::new("ais-ro");
        let mnt = ro.path().join("store");
        fs::create_dir(&mnt).unwrap();
        let mount = Mount::bind_read_only(&a.graphroot, &mnt);
        let main = Store::with_driver(
            "ais-main",
            driver,
            &format!(
                "[storage.options]\nadditionalimagestores = [\"{}\", \"{}\"]\n",
                mnt.display(),
                b.graphroot.display()
            ),
        );
        let work = Workspace::new("ais-work");
        let s = scanner(&main, &work).args(["--pull", "never", &name]).run();
        assert_recipe_report(&s, driver);
        // Nothing was copied into the writable store.
        assert_eq!(main.image_ids(), a.image_ids(), "the read-only store's images, and no others");
        let layers_dir = main.graphroot.join(if driver == "vfs" { "vfs/dir" } else { "overlay" });
        let own: Vec<_> =
            fs::read_dir(&layers_dir).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
        // overlay keeps its link dir `l` and a driver marker file; no layer directories.
        assert!(
            own.iter().all(|n| n == "l" || n == ".has-mount-program"),
            "{driver}: layers in the writable store: {own:?}"
        );
        // The store using the mount goes first: even `buildah rm` recreates a missing
        // additional store's directories.
        drop(main);
        drop(mount);
        drop(ro);
    }
}

#[test]
fn unsupported_driver_is_an_error_not_a_pass() {
    let work = Workspace::new("unsupported");
    let fake = work.path().join("podman");
    fs::write(
        &fake,
        "#!/bin/sh\n\
         case \"$*\" in\n\
         *'image exists'*) exit 0 ;;\n\
         *'image inspect'*) echo '[{\"Id\":\"0123\",\"GraphDriver\":{\"Name\":\"btrfs\",\"Data\":{}},\
         \"RootFS\":{\"Layers\":[\"sha256:aa\"]}}]' ;;\n\
         *) echo \"unexpected: $*\" >&2; exit 3 ;;\n\
         esac\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let s = scanner(Store::shared(), &work)
        .env("CONTAINERS_STORAGE_CONF", "/nonexistent/storage.conf")
        .env("COMPLIANCE_PODMAN", &fake)
        .args(["--pull", "never", "localhost/app:1"])
        .run();
    assert_eq!(s.code, Some(25), "{}", s.dump());
    assert!(s.stderr.contains("\"btrfs\" is not supported"), "{}", s.dump());
    assert_eq!(s.stdout_json["error"]["exit_code"], 25);
}

#[test]
fn archives_are_loaded_into_a_private_store_that_is_removed() {
    // The scanner's "host" storage, with an image in it so "unchanged" means something.
    let host = Store::new("arch-host");
    let build = Store::new("arch-build");
    let name = format!("localhost/{}:1", unique("arch"));
    build_image(&build, &name);
    let work = Workspace::new("arch-work");
    let p = |f: &str| work.path().join(f).to_str().unwrap().to_string();
    build.podman(&["save", "-q", "--format", "oci-archive", "-o", &p("seed.tar"), &format!("{name}-l1")]);
    host.podman(&["load", "-q", "-i", &p("seed.tar")]);
    build.podman(&["save", "-q", "--format", "docker-archive", "-o", &p("docker.tar"), &name]);
    build.podman(&["save", "-q", "--format", "oci-archive", "-o", &p("oci.tar"), &name]);
    build.podman(&["save", "-q", "--format", "oci-dir", "-o", &p("layout"), &name]);
    fs::write(work.path().join("broken.tar"), b"this is not a tar file").unwrap();

    let before = host.image_ids();
    assert_eq!(before.len(), 1);
    let (spy, log) = podman_spy(work.path());
    let tmpdir = work.tmp.clone();
    let left_behind = || -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(&tmpdir).unwrap().flatten().map(|e| e.path().display().to_string()).collect();
        v.extend(mounts_under(&tmpdir).iter().map(|m| format!("mount {}", m.display())));
        v
    };
    for (reference, pull) in [
        (format!("docker-archive:{}", p("docker.tar")), "missing"),
        (format!("oci-archive:{}", p("oci.tar")), "always"),
        // Loading a file is no pull: --pull never still scans archives.
        (format!("oci:{}", p("layout")), "never"),
    ] {
        let s = scanner(&host, &work).env("COMPLIANCE_PODMAN", &spy).args(["--pull", pull, &reference]).run();
        assert_recipe_report(&s, "overlay");
        assert_eq!(host.image_ids(), before, "{reference}: the host's storage changed");
        assert_eq!(left_behind(), Vec::<String>::new(), "{reference}");
    }
    // Each load went to a store of its own under TMPDIR, private while in use, and its
    // runroot (too long a path for podman under TMPDIR, so in /tmp) is gone too.
    let calls = fs::read_to_string(&log).unwrap();
    let pulls: Vec<&str> = calls.lines().filter(|l| l.starts_with("ARGV") && l.contains(" pull ")).collect();
    assert_eq!(pulls.len(), 3, "{calls}");
    for l in &pulls {
        let words: Vec<&str> = l.split(' ').collect();
        let arg = |flag: &str| words[words.iter().position(|w| *w == flag).unwrap() + 1];
        assert!(Path::new(arg("--root")).starts_with(&tmpdir), "{l}");
        assert!(!Path::new(arg("--runroot")).exists(), "{l}");
    }
    assert!(calls.lines().filter(|l| l.starts_with("ROOTPARENT")).all(|l| l == "ROOTPARENT 700"), "{calls}");

    // A broken archive fails on the fresh store (which leaves <root>/overlay mounted):
    // a pull error, and still nothing left behind.
    let s = scanner(&host, &work).arg(format!("docker-archive:{}", p("broken.tar"))).run();
    assert_eq!(s.code, Some(20), "{}", s.dump());
    assert_eq!(left_behind(), Vec::<String>::new());
    assert_eq!(host.image_ids(), before);
}

#[test]
fn platform_picks_the_manifest_to_scan() {
    let e = env();
    let build = Store::new("ma-build");
    let amd = format!("localhost/{}:1", unique("ma-amd"));
    build_image(&build, &amd);
    // An arm64 image needs no emulation to build: nothing in it runs.
    let arm = format!("localhost/{}:1", unique("ma-arm"));
    let tree = Scratch::new("ma-tree");
    base_tree(tree.path());
    fs::write(tree.path().join("arm64-only"), b"arm\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(tree.path().join("arm64-only"), fs::Permissions::from_mode(0o4755)).unwrap();
    let c = build.buildah(&["from", "scratch"]);
    build.buildah(&["copy", &c, tree.path().to_str().unwrap(), "/"]);
    build.buildah(&["config", "--arch", "arm64", "--os", "linux", "--user", "app", "--cmd", "/bin/app", &c]);
    build.buildah(&["commit", "-q", "--rm", &c, &arm]);
    let list = unique("ma-list");
    build.buildah(&["manifest", "create", &list]);
    build.buildah(&["manifest", "add", &list, &format!("containers-storage:{amd}")]);
    build.buildah(&["manifest", "add", &list, &format!("containers-storage:{arm}")]);
    let remote = format!("{}/{}:1", e.registry, unique("ma"));
    build.buildah(&[
        "manifest",
        "push",
        "-q",
        "--all",
        "--tls-verify=false",
        "--creds",
        &creds(),
        &list,
        &format!("docker://{remote}"),
    ]);

    let store = Store::new("ma-scan");
    let work = Workspace::new("ma-work");
    let scan = |args: &[&str]| {
        scanner(&store, &work)
            .env("DOCKER_AUTH_CONFIG", good_auth())
            .env("COMPLIANCE_TLS_VERIFY", "false")
            .args(args)
            .arg(&remote)
            .run()
    };
    let arch = |s: &ScanOut| s.stdout_json["image"]["architecture"].as_str().unwrap_or("").to_string();

    let s = scan(&["--platform", "linux/arm64"]);
    assert_eq!(s.code, Some(12), "{}", s.dump());
    assert_eq!(arch(&s), "arm64");
    assert_eq!(s.stdout_json["image"]["os"], "linux");
    assert_eq!(s.stdout_json["settings"]["platform"], "linux/arm64");
    assert!(
        all_findings(&s.stdout_json).iter().any(|f| f.1 == "/arm64-only" && f.3),
        "{:?}",
        all_findings(&s.stdout_json)
    );

    // No platform: the native one. It replaces the local copy under that name.
    let s = scan(&["--pull", "always"]);
    assert_eq!(arch(&s), "amd64", "{}", s.dump());
    assert_eq!(s.stdout_json["settings"]["platform"], Value::Null);
    assert_recipe_report(&s, "overlay");

    // The local copy is amd64 now: --pull never must not scan it as arm64 ...
    let s = scan(&["--pull", "never", "--platform", "linux/arm64"]);
    assert_eq!(s.code, Some(20), "{}", s.dump());
    assert!(s.stderr.contains("is linux/amd64, not the requested linux/arm64"), "{}", s.dump());
    // ... and --pull missing fetches the right one.
    let s = scanner(&store, &work)
        .env("DOCKER_AUTH_CONFIG", good_auth())
        .env("COMPLIANCE_TLS_VERIFY", "false")
        .env("COMPLIANCE_PLATFORM", "linux/arm64")
        .arg(&remote)
        .run();
    assert_eq!(arch(&s), "arm64", "{}", s.dump());

    let s = scan(&["--platform", "linux/s390x"]);
    assert_eq!(s.code, Some(20), "{}", s.dump());
    let s = scan(&["--platform", "arm64"]);
    assert_eq!(s.code, Some(24), "{}", s.dump());
}

#[test]
fn rootless_scan_sees_owners_as_the_image_does() {
    let e = env();
    let user = rootless_user();
    let work = user.workdir("rootless");
    // The binary where the user can surely run it.
    let bin = work.path.join("oci-compliance");
    fs::copy(BIN, &bin).unwrap();
    // Image root files plus a 0700 directory of image uid 1 holding a setuid+setgid tool
    // (named uniquely: the user's store outlives the test).
    let (tree, tree2) = (work.path.join("tree"), work.path.join("tree2"));
    base_tree(&tree);
    let private_rel = format!("home/app/{}", unique("private"));
    let tool = format!("/{private_rel}/tool");
    fs::create_dir_all(tree2.join(&private_rel)).unwrap();
    fs::write(tree2.join(&private_rel).join("tool"), b"tool\n").unwrap();
    user.chown(&work.path);
    use std::os::unix::fs::PermissionsExt;
    for (p, m) in [
        (tree.join("bin/su"), 0o4755),
        (tree.join("usr/bin/newgrp"), 0o2755),
        (tree.join("opt/tool-suid"), 0o4755),
        (tree2.join(&private_rel).join("tool"), 0o6755),
        (tree2.join(&private_rel), 0o700),
    ] {
        fs::set_permissions(&p, fs::Permissions::from_mode(m)).unwrap();
    }
    let name = format!("localhost/{}:1", unique("rootless"));
    let as_user = |args: &[&str]| ok(user.cmd(&[], args[0]).args(&args[1..]));
    let c = as_user(&["buildah", "from", "scratch"]);
    as_user(&["buildah", "copy", "--chown", "0:0", &c, tree.to_str().unwrap(), "/"]);
    as_user(&["buildah", "copy", "--chown", "1:1", &c, tree2.to_str().unwrap(), "/"]);
    as_user(&["buildah", "config", "--user", "app", &c]);
    as_user(&["buildah", "commit", "-q", "--rm", &c, &name]);
    // The user's store outlives the test: remove what it added, whatever happens.
    struct Rmi<'a>(&'a User, Vec<String>);
    impl Drop for Rmi<'_> {
        fn drop(&mut self) {
            let _ = self.0.cmd(&[], "podman").arg("rmi").arg("-f").args(&self.1).output();
        }
    }
    let mut rmi = Rmi(&user, vec![name.clone()]);

    // Outside the namespace the host sees shifted owners and the user cannot enter the
    // directory: what the scan must not be fooled by.
    let driver = as_user(&["podman", "info", "--format", "{{.Store.GraphDriverName}}"]);
    let graphroot = PathBuf::from(as_user(&["podman", "info", "--format", "{{.Store.GraphRoot}}"]));
    let private = find_dir(&graphroot.join(&driver), &private_rel).expect("the layer's private dir");
    let host_uid = std::os::unix::fs::MetadataExt::uid(&fs::metadata(&private).unwrap());
    assert!(host_uid >= 100000, "image uid 1 is a subordinate uid on the host, got {host_uid}");
    assert!(
        !user.cmd(&[], "ls").arg(&private).output().unwrap().status.success(),
        "{} is enterable",
        private.display()
    );
    let su = private.parent().unwrap().parent().unwrap().parent().unwrap().join("bin/su");
    assert_eq!(
        std::os::unix::fs::MetadataExt::uid(&fs::metadata(&su).unwrap()),
        user.uid,
        "image root is the user on the host"
    );

    let scan = |given: &[(&str, &str)], args: &[&str]| {
        // The stored layers, unless a test says otherwise.
        let mut envs = vec![("COMPLIANCE_SOURCE", "storage")];
        envs.extend(given);
        envs.extend([("COMPLIANCE_JSON_STDOUT", "true"), ("NO_COLOR", "1")]);
        let reports = work.path.join("reports");
        let mut cmd = user.cmd(&envs, &bin);
        cmd.arg("scan").arg("--reports-dir").arg(&reports).args(args);
        ScanOut::capture(&mut cmd, &reports)
    };
    let s = scan(&[], &["--pull", "never", &name]);
    assert_eq!(s.code, Some(12), "{}", s.dump());
    assert_eq!(s.stdout_json["image"]["storage_driver"], driver.as_str());
    let got = all_findings(&s.stdout_json);
    let want: BTreeSet<FindingRow> = [
        ("suid-files", "/bin/su", 0, "4755"),
        ("suid-files", "/opt/tool-suid", 0, "4755"),
        ("suid-files", tool.as_str(), 1, "6755"),
        ("sgid-files", "/usr/bin/newgrp", 0, "2755"),
        ("sgid-files", tool.as_str(), 1, "6755"),
        ("privilege-tools", "/bin/su", 0, "4755"),
    ]
    .into_iter()
    .map(|(c, p, id, m)| (c.to_string(), p.to_string(), 1, true, id, id, m.to_string()))
    .collect();
    assert_eq!(got, want, "{}", s.dump());
    for c in s.stdout_json["checks"].as_array().unwrap() {
        assert_ne!(c["status"], "error", "{c}");
    }

    // A rootless pull with credentials: they reach the scan in the namespace through its
    // stdin, never through any argv or environment podman sees.
    let root_store = Store::new("rootless-push");
    let pushed = format!("localhost/{}:1", unique("rootless-push"));
    build_image(&root_store, &pushed);
    let remote = format!("{}/{}:1", e.registry, unique("rootless"));
    root_store.push_to(&pushed, &remote);
    rmi.1.push(remote.clone());
    let (spy, log) = podman_spy(&work.path);
    user.chown(&work.path);
    let auth = good_auth();
    let s = scan(
        &[("DOCKER_AUTH_CONFIG", &auth), ("COMPLIANCE_PODMAN", spy.to_str().unwrap())],
        &["--tls-verify=false", "--pull", "always", &remote],
    );
    assert_recipe_report(&s, &driver);
    let calls = fs::read_to_string(&log).unwrap();
    assert!(calls.lines().any(|l| l.starts_with("ARGV unshare -- ") && l.contains(" scan --userns-child ")), "{calls}");
    assert!(calls.lines().any(|l| l.starts_with("ARGV pull ")), "{calls}");
    for secret in [e.password.as_str(), &b64(&format!("{}:{}", e.user, e.password)), "DOCKER_AUTH_CONFIG"] {
        assert!(!calls.contains(secret), "a secret reached podman's argv or environment:\n{calls}");
    }

    // The registry source needs no user namespace: the same unprivileged user scans the
    // image straight from the registry, with the same findings and no podman at all.
    fs::write(&log, "").unwrap();
    let s = scan(
        &[
            ("DOCKER_AUTH_CONFIG", &auth),
            ("COMPLIANCE_PODMAN", spy.to_str().unwrap()),
            ("COMPLIANCE_SOURCE", "registry"),
        ],
        &["--tls-verify=false", &remote],
    );
    assert_eq!(s.code, Some(12), "{}", s.dump());
    assert_eq!(s.stdout_json["image"]["source"], "registry");
    assert_eq!(all_findings(&s.stdout_json), expected_findings(), "{}", s.dump());
    assert_eq!(fs::read_to_string(&log).unwrap(), "", "the registry source ran podman");
}

#[test]
fn rootless_native_overlay_store() {
    // Kernel overlay in a user namespace: whiteouts are 0/0 devices made inside it and
    // opaque directories carry user.overlay.opaque (trusted.* is out of reach there).
    let user = rootless_user();
    let work = user.workdir("rootless-ovl");
    let bin = work.path.join("oci-compliance");
    fs::copy(BIN, &bin).unwrap();
    let tree = work.path.join("tree");
    base_tree(&tree);
    user.chown(&work.path);
    use std::os::unix::fs::PermissionsExt;
    for (p, m) in [("bin/su", 0o4755), ("usr/bin/newgrp", 0o2755), ("opt/tool-suid", 0o4755)] {
        fs::set_permissions(tree.join(p), fs::Permissions::from_mode(m)).unwrap();
    }
    let root = work.path.join("root");
    let run = Path::new("/tmp").join(unique("r"));
    struct RmRun(PathBuf);
    impl Drop for RmRun {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
    let _run_guard = RmRun(run.clone());
    let g = ["--root", root.to_str().unwrap(), "--runroot", run.to_str().unwrap(), "--storage-driver", "overlay"];
    let tool = |program: &str, args: &[&str]| ok(user.cmd(&[], program).args(g).args(args));
    let name = format!("localhost/{}:1", unique("rl-ovl"));
    let c = tool("buildah", &["from", "scratch"]);
    tool("buildah", &["copy", "--chown", "0:0", &c, tree.to_str().unwrap(), "/"]);
    tool("buildah", &["config", "--cmd", "/bin/app", "--label", "org.example.test=host", "--user", "app", &c]);
    tool("buildah", &["commit", "-q", "--rm", &c, &format!("{name}-l1")]);
    // The same edits as build_image, made where the rootless mount exists: inside the
    // namespace. (A fixed script, run by the test only.)
    let edit = |from: &str, to: &str, script: &str| {
        let c = tool("buildah", &["from", from]);
        let gs = g.join(" ");
        let sh =
            format!("set -e; m=$(buildah {gs} mount {c}); cd \"$m\"; {script}; buildah {gs} commit -q --rm {c} {to}");
        ok(user.cmd(&[], "buildah").args(g).args(["unshare", "sh", "-c", &sh]));
    };
    edit(&format!("{name}-l1"), &format!("{name}-l2"), "rm a/del opt/tool-suid; rm -rf d; mkdir d; echo y2 > d/y2");
    edit(
        &format!("{name}-l2"),
        &name,
        "echo replaced > a/keep; chmod 0755 bin/su; mkdir -p usr/local/bin; \
         echo late > usr/local/bin/late; chmod 4755 usr/local/bin/late",
    );

    // On disk (read as root from outside): layer 2's markers are the kernel's, user.* flavour.
    let v: Value = serde_json::from_str(&tool("podman", &["image", "inspect", &format!("{name}-l2")])).unwrap();
    let l2 = PathBuf::from(v[0]["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap());
    let del = fs::symlink_metadata(l2.join("a/del")).unwrap();
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    assert!(del.file_type().is_char_device() && del.rdev() == 0, "a/del is a 0/0 whiteout");
    let mut buf = [0u8; 4];
    let p = std::ffi::CString::new(l2.join("d").as_os_str().as_encoded_bytes()).unwrap();
    let n = unsafe { libc::lgetxattr(p.as_ptr(), c"user.overlay.opaque".as_ptr(), buf.as_mut_ptr().cast(), 4) };
    assert_eq!((n, buf[0]), (1, b'y'), "d is opaque by user.overlay.opaque");

    let mut cmd = user.cmd(&[("COMPLIANCE_JSON_STDOUT", "true"), ("NO_COLOR", "1")], &bin);
    let reports = work.path.join("reports");
    cmd.arg("scan").arg("--reports-dir").arg(&reports).args(g).args(["--pull", "never", &name]);
    let s = ScanOut::capture(&mut cmd, &reports);
    let _ = user.cmd(&[], "buildah").args(g).args(["rm", "--all"]).output();
    let _ = user
        .cmd(&[], "podman")
        .args(g)
        .args(["rmi", "-f", &name, &format!("{name}-l1"), &format!("{name}-l2")])
        .output();
    assert_recipe_report(&s, "overlay");
}

#[test]
fn force_mask_store_is_an_error_not_a_pass() {
    // force_mask writes every file 0755 root and keeps the image's own mode in
    // user.containers.override_stat, which here lost the setuid bit of /bin/su: the setuid
    // check must not pass on such a store.
    let extra = "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\nforce_mask = \"shared\"\n";
    let store = Store::with_driver("fmask", "overlay", extra);
    let tree = Scratch::new("fmask-tree");
    base_tree(tree.path());
    let name = format!("localhost/{}:1", unique("fmask"));
    let c = store.buildah(&["from", "scratch"]);
    store.buildah(&["copy", &c, tree.path().to_str().unwrap(), "/"]);
    store.buildah(&["commit", "-q", "--rm", &c, &name]);
    let work = Workspace::new("fmask-work");
    let s = scanner(&store, &work).args(["--pull", "never", &name]).run();
    assert_eq!(s.code, Some(25), "{}", s.dump());
    assert_eq!(check(&s.stdout_json, "suid-files")["status"], "error", "{}", s.dump());
    assert!(s.stdout.contains("force_mask"), "{}", s.dump());
}
