//! Host scans (issue #6): images already in some containers/storage store, scanned with no
//! registry; other stores and drivers (vfs, fuse-overlayfs, read-only additional stores);
//! rootless; archives; multi-arch. Every test runs the real binary against real podman.
//!
//! Needs root and the environment of `tests/env/setup.sh` (see host_common).

mod host_common;

use host_common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

/// The report's findings must be exactly the recipe image's, whatever stored it.
fn assert_recipe_report(scan: &Scan, driver: &str) {
    assert_eq!(scan.code, 12, "{}", scan.describe());
    let r = &scan.report;
    assert_eq!(r["error"], Value::Null, "{}", scan.describe());
    assert_eq!(r["image"]["storage_driver"], driver);
    assert_eq!(r["layers"].as_array().unwrap().len(), 3);
    assert_eq!(findings(r), expected_findings(), "{}", scan.describe());
    assert_eq!(check(r, "suid-files")["status"], "fail");
    assert_eq!(check(r, "root-user")["status"], "pass");
    assert_eq!(check(r, "base-os")["description"], "Host Test 6");
}

#[test]
fn local_image_never_pushed_is_scanned_with_no_network() {
    let store = Store::new("local", "overlay", "");
    let name = format!("localhost/{}:1", unique("local"));
    build_image(&store, &name);
    let work = Scratch::new("local-work");
    // A new network namespace has only a down loopback: nothing could be pulled.
    let offline = ["unshare", "--net", "--"];

    let s = Scanner::wrapping(Some(&offline), &store.conf, &work.path).args(&["--pull", "never", &name]).run();
    assert_recipe_report(&s, "overlay");
    assert_eq!(s.report["settings"]["pull"], "never");

    // containers-storage: never pulls, whatever the policy.
    let s = Scanner::wrapping(Some(&offline), &store.conf, &work.path)
        .args(&["--pull", "always", &format!("containers-storage:{name}")])
        .run();
    assert_recipe_report(&s, "overlay");

    // The namespace really is offline: a pull from the registry fails there.
    let s = Scanner::wrapping(Some(&offline), &store.conf, &work.path)
        .env("DOCKER_AUTH_CONFIG", docker_auth_config())
        .args(&["--tls-verify=false", "--pull", "always", &format!("{}/{}:1", env().registry, unique("nowhere"))])
        .run();
    assert_eq!(s.code, 20, "{}", s.describe());

    let s = Scanner::wrapping(Some(&offline), &store.conf, &work.path).args(&["--pull", "never", "localhost/host-absent:1"]).run();
    assert_eq!(s.code, 20, "{}", s.describe());
    assert!(s.stderr.contains("not in local storage"), "{}", s.describe());
}

#[test]
fn root_runroot_and_driver_flags_and_env_reach_podman() {
    let store = Store::new("flags", "overlay", "");
    let name = format!("localhost/{}:1", unique("flags"));
    build_image(&store, &name);
    // The scanner's own storage.conf points at an empty store: only the flags find the image.
    let elsewhere = Store::new("flags-empty", "vfs", "");
    let work = Scratch::new("flags-work");
    let (spy, log) = podman_spy(&work.path);
    let (root, runroot) = (store.root.to_str().unwrap(), store.runroot.to_str().unwrap());

    let s = Scanner::new(&elsewhere.conf, &work.path)
        .env("COMPLIANCE_PODMAN", &spy)
        .args(&["--pull", "never", "--root", root, "--runroot", runroot, "--storage-driver", "overlay", &name])
        .run();
    assert_recipe_report(&s, "overlay");
    let st = &s.report["settings"]["storage"];
    assert_eq!((st["root"].as_str(), st["runroot"].as_str(), st["driver"].as_str()), (Some(root), Some(runroot), Some("overlay")));
    let calls = fs::read_to_string(&log).unwrap();
    let argv: Vec<&str> = calls.lines().filter(|l| l.starts_with("ARGV")).collect();
    assert!(!argv.is_empty());
    for a in &argv {
        // Global options, before the subcommand.
        let want = format!("ARGV --root {root} --runroot {runroot} --storage-driver overlay ");
        assert!(a.starts_with(&want), "{a}");
    }

    let s = Scanner::new(&elsewhere.conf, &work.path)
        .env("COMPLIANCE_STORAGE_ROOT", root)
        .env("COMPLIANCE_STORAGE_RUNROOT", runroot)
        .env("COMPLIANCE_STORAGE_DRIVER", "overlay")
        .args(&["--pull", "never", &name])
        .run();
    assert_recipe_report(&s, "overlay");

    let s = Scanner::new(&elsewhere.conf, &work.path).arg(format!("containers-storage:[overlay@{root}+{runroot}]{name}")).run();
    assert_recipe_report(&s, "overlay");

    // And without any of them, the configured (empty) store has no such image.
    let s = Scanner::new(&elsewhere.conf, &work.path).args(&["--pull", "never", &name]).run();
    assert_eq!(s.code, 20, "{}", s.describe());
}

#[test]
fn vfs_store_gives_the_same_findings_as_overlay() {
    let store = Store::new("vfs", "vfs", "");
    let name = format!("localhost/{}:1", unique("vfs"));
    build_image(&store, &name);
    let info = store.podman(&["image", "inspect", "--format", "{{json .GraphDriver}}", &name]);
    assert_eq!(info, r#"{"Name":"vfs","Data":null}"#, "vfs reports no layer directories");
    let work = Scratch::new("vfs-work");
    let s = Scanner::new(&store.conf, &work.path).args(&["--pull", "never", &name]).run();
    assert_recipe_report(&s, "vfs");
    // Layer 2 deleted two files and emptied /d: whiteouts, found by comparing snapshots.
    assert!(s.report["layers"][1]["whiteouts"].as_u64().unwrap() >= 4, "{}", s.report["layers"]);
}

#[test]
fn fuse_overlayfs_store_with_aufs_whiteouts() {
    let extra = "[storage.options.overlay]\nmount_program = \"/usr/bin/fuse-overlayfs\"\n";
    let store = Store::new("fuse", "overlay", extra);
    let name = format!("localhost/{}:1", unique("fuse"));
    build_image(&store, &name);
    // An image built with kernel overlay (opaque /d) and loaded here.
    let native = Store::new("fuse-native", "overlay", "");
    let loaded = format!("localhost/{}:1", unique("fuse-loaded"));
    build_image(&native, &loaded);
    let archive = native.scratch.path.join("img.tar");
    native.podman(&["save", "-q", "--format", "oci-archive", "-o", archive.to_str().unwrap(), &loaded]);
    store.podman(&["load", "-q", "-i", archive.to_str().unwrap()]);

    // What this machine really does with a mount program: AUFS-style markers, no xattrs.
    let upper = |n: &str| -> Vec<std::path::PathBuf> {
        let v: Value = serde_json::from_str(&store.podman(&["image", "inspect", n])).unwrap();
        let lower = v[0]["GraphDriver"]["Data"]["LowerDir"].as_str().unwrap().to_string();
        lower.split(':').rev().map(std::path::PathBuf::from).collect()
    };
    assert_eq!(fs::read_to_string(store.root.join("overlay/.has-mount-program")).unwrap().trim(), "true");
    let l2 = &upper(&name)[1];
    assert_eq!(fs::metadata(l2.join("a/.wh.del")).unwrap().len(), 0);
    assert!(fs::symlink_metadata(l2.join("a/.wh.del")).unwrap().file_type().is_file(), "a regular file, not a device");
    let l2 = &upper(&loaded)[1];
    assert!(l2.join("d/.wh..wh..opq").is_file(), "opaque marker file in {}", l2.display());

    let work = Scratch::new("fuse-work");
    for n in [&name, &loaded] {
        let s = Scanner::new(&store.conf, &work.path).args(&["--pull", "never", n]).run();
        assert_recipe_report(&s, "overlay");
    }
}

#[test]
fn read_only_additional_image_stores() {
    for driver in ["overlay", "vfs"] {
        // The image lives in the first of two additional stores (podman info would name only
        // the last), mounted read-only; the scanner's own store is empty.
        let a = Store::new("ais-a", driver, "");
        let b = Store::new("ais-b", driver, "");
        let name = format!("localhost/{}:1", unique("ais"));
        build_image(&a, &name);
        b.podman(&["images"]);
        let ro = Scratch::new("ais-ro");
        let mnt = ro.path.join("store");
        fs::create_dir(&mnt).unwrap();
        ok(std::process::Command::new("mount").args(["--bind", "-o", "ro"]).arg(&a.root).arg(&mnt));
        ok(std::process::Command::new("mount").args(["-o", "remount,bind,ro"]).arg(&mnt));
        let main = Store::new(
            "ais-main",
            driver,
            &format!("[storage.options]\nadditionalimagestores = [\"{}\", \"{}\"]\n", mnt.display(), b.root.display()),
        );
        let work = Scratch::new("ais-work");
        let s = Scanner::new(&main.conf, &work.path).args(&["--pull", "never", &name]).run();
        assert_recipe_report(&s, driver);
        // Nothing was copied into the writable store.
        assert_eq!(main.image_ids(), a.image_ids(), "the read-only store's images, and no others");
        let layers_dir = main.root.join(if driver == "vfs" { "vfs/dir" } else { "overlay" });
        let own: Vec<_> = fs::read_dir(&layers_dir).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
        // overlay keeps its link dir `l` and a driver marker file; no layer directories.
        assert!(own.iter().all(|n| n == "l" || n == ".has-mount-program"), "{driver}: layers in the writable store: {own:?}");
        // The store using the mount goes first: even `buildah rm` recreates a missing
        // additional store's directories.
        drop(main);
        drop(ro);
    }
}

#[test]
fn unsupported_driver_is_an_error_not_a_pass() {
    let work = Scratch::new("unsupported");
    let fake = work.path.join("podman");
    fs::write(
        &fake,
        "#!/bin/sh\n\
         case \"$*\" in\n\
         *'image exists'*) exit 0 ;;\n\
         *'image inspect'*) echo '[{\"Id\":\"0123\",\"GraphDriver\":{\"Name\":\"btrfs\",\"Data\":{}},\"RootFS\":{\"Layers\":[\"sha256:aa\"]}}]' ;;\n\
         *) echo \"unexpected: $*\" >&2; exit 3 ;;\n\
         esac\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let s = Scanner::new(Path::new("/nonexistent/storage.conf"), &work.path)
        .env("COMPLIANCE_PODMAN", &fake)
        .args(&["--pull", "never", "localhost/app:1"])
        .run();
    assert_eq!(s.code, 25, "{}", s.describe());
    assert!(s.stderr.contains("\"btrfs\" is not supported"), "{}", s.describe());
    assert_eq!(s.report["error"]["exit_code"], 25);
}

#[test]
fn archives_are_loaded_into_a_private_store_that_is_removed() {
    // The scanner's "host" storage, with an image in it so "unchanged" means something.
    let host = Store::new("arch-host", "overlay", "");
    let build = Store::new("arch-build", "overlay", "");
    let name = format!("localhost/{}:1", unique("arch"));
    build_image(&build, &name);
    let work = Scratch::new("arch-work");
    let p = |f: &str| work.path.join(f).to_str().unwrap().to_string();
    build.podman(&["save", "-q", "--format", "oci-archive", "-o", &p("seed.tar"), &format!("{name}-l1")]);
    host.podman(&["load", "-q", "-i", &p("seed.tar")]);
    build.podman(&["save", "-q", "--format", "docker-archive", "-o", &p("docker.tar"), &name]);
    build.podman(&["save", "-q", "--format", "oci-archive", "-o", &p("oci.tar"), &name]);
    build.podman(&["save", "-q", "--format", "oci-dir", "-o", &p("layout"), &name]);
    fs::write(work.path.join("broken.tar"), b"this is not a tar file").unwrap();

    let before = host.image_ids();
    assert_eq!(before.len(), 1);
    let (spy, log) = podman_spy(&work.path);
    let tmpdir = work.path.join("tmpdir");
    let left_behind = || -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&tmpdir).unwrap().flatten().map(|e| e.path().display().to_string()).collect();
        v.extend(mounts_under(&tmpdir).iter().map(|m| format!("mount {}", m.display())));
        v
    };
    for (reference, pull) in [
        (format!("docker-archive:{}", p("docker.tar")), "missing"),
        (format!("oci-archive:{}", p("oci.tar")), "always"),
        // Loading a file is no pull: --pull never still scans archives.
        (format!("oci:{}", p("layout")), "never"),
    ] {
        let s = Scanner::new(&host.conf, &work.path).env("COMPLIANCE_PODMAN", &spy).args(&["--pull", pull, &reference]).run();
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
    let s = Scanner::new(&host.conf, &work.path).arg(format!("docker-archive:{}", p("broken.tar"))).run();
    assert_eq!(s.code, 20, "{}", s.describe());
    assert_eq!(left_behind(), Vec::<String>::new());
    assert_eq!(host.image_ids(), before);
}

#[test]
fn platform_picks_the_manifest_to_scan() {
    let e = env();
    let build = Store::new("ma-build", "overlay", "");
    let amd = format!("localhost/{}:1", unique("ma-amd"));
    build_image(&build, &amd);
    // An arm64 image needs no emulation to build: nothing in it runs.
    let arm = format!("localhost/{}:1", unique("ma-arm"));
    let tree = Scratch::new("ma-tree");
    base_tree(&tree.path);
    fs::write(tree.path.join("arm64-only"), b"arm\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(tree.path.join("arm64-only"), fs::Permissions::from_mode(0o4755)).unwrap();
    let c = build.buildah(&["from", "scratch"]);
    build.buildah(&["copy", &c, tree.path.to_str().unwrap(), "/"]);
    build.buildah(&["config", "--arch", "arm64", "--os", "linux", "--user", "app", "--cmd", "/bin/app", &c]);
    build.buildah(&["commit", "-q", "--rm", &c, &arm]);
    let list = unique("ma-list");
    build.buildah(&["manifest", "create", &list]);
    build.buildah(&["manifest", "add", &list, &format!("containers-storage:{amd}")]);
    build.buildah(&["manifest", "add", &list, &format!("containers-storage:{arm}")]);
    let remote = format!("{}/{}:1", e.registry, unique("ma"));
    build.buildah(&[
        "manifest", "push", "-q", "--all", "--tls-verify=false",
        "--creds", &format!("{}:{}", e.user, e.password),
        &list, &format!("docker://{remote}"),
    ]);

    let store = Store::new("ma-scan", "overlay", "");
    let work = Scratch::new("ma-work");
    let scan = |args: &[&str]| {
        Scanner::new(&store.conf, &work.path)
            .env("DOCKER_AUTH_CONFIG", docker_auth_config())
            .env("COMPLIANCE_TLS_VERIFY", "false")
            .args(args)
            .arg(&remote)
            .run()
    };
    let arch = |s: &Scan| s.report["image"]["architecture"].as_str().unwrap_or("").to_string();

    let s = scan(&["--platform", "linux/arm64"]);
    assert_eq!(s.code, 12, "{}", s.describe());
    assert_eq!(arch(&s), "arm64");
    assert_eq!(s.report["image"]["os"], "linux");
    assert_eq!(s.report["settings"]["platform"], "linux/arm64");
    assert!(findings(&s.report).iter().any(|f| f.1 == "/arm64-only" && f.3), "{:?}", findings(&s.report));

    // No platform: the native one. It replaces the local copy under that name.
    let s = scan(&["--pull", "always"]);
    assert_eq!(arch(&s), "amd64", "{}", s.describe());
    assert_eq!(s.report["settings"]["platform"], Value::Null);
    assert_recipe_report(&s, "overlay");

    // The local copy is amd64 now: --pull never must not scan it as arm64 ...
    let s = scan(&["--pull", "never", "--platform", "linux/arm64"]);
    assert_eq!(s.code, 20, "{}", s.describe());
    assert!(s.stderr.contains("is linux/amd64, not the requested linux/arm64"), "{}", s.describe());
    // ... and --pull missing fetches the right one.
    let s = Scanner::new(&store.conf, &work.path)
        .env("DOCKER_AUTH_CONFIG", docker_auth_config())
        .env("COMPLIANCE_TLS_VERIFY", "false")
        .env("COMPLIANCE_PLATFORM", "linux/arm64")
        .arg(&remote)
        .run();
    assert_eq!(arch(&s), "arm64", "{}", s.describe());

    let s = scan(&["--platform", "linux/s390x"]);
    assert_eq!(s.code, 20, "{}", s.describe());
    let s = scan(&["--platform", "arm64"]);
    assert_eq!(s.code, 24, "{}", s.describe());
}
