//! The registry source: manifest, config and layer blobs straight from the registry (or an
//! archive) through skopeo, each layer read as a stream; no image store, no privileges. The
//! same checks and the same report as the storage source, shown by scanning the fixture
//! images both ways.

use crate::scan::{clean, high_only, low_only, realistic, GOOD_CONFIG};
use crate::support::*;
use serde_json::Value;
use std::fs;

/// A report without what only says how it was made: the source, the storage driver, when
/// it ran, the settings digest (the settings name the source), the image size (see below)
/// and the tools' reasons in `base.note`.
fn comparable(mut rep: Value) -> Value {
    let o = rep.as_object_mut().unwrap();
    o.remove("scanned_at");
    o.remove("settings_digest");
    o["settings"].as_object_mut().unwrap().remove("source");
    let image = o["image"].as_object_mut().unwrap();
    image.remove("source");
    image.remove("storage_driver");
    image.remove("size");
    // What was tried to find the base quotes podman's or skopeo's own words.
    if let Some(base) = o.get_mut("base").and_then(|b| b.as_object_mut()) {
        base.remove("note");
    }
    rep
}

/// Fields one report has and the other lacks or has otherwise, as `path: a != b` lines.
fn differences(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                differences(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                differences(p, q, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: {} != {}", short(a), short(b))),
        _ => {}
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 300 {
        format!("{}…", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}

/// An image with what streamed layers make hard: a hard link to a setuid file (a COPY
/// drops setuid bits, so a RUN sets it), a directory
/// deleted and made again (opaque in a layer), a deleted file (a whiteout), symlinks, a
/// long name, passwd and os-release reached through symlinks across layers.
fn tricky() -> &'static Pushed {
    static CELL: std::sync::OnceLock<Pushed> = std::sync::OnceLock::new();
    CELL.get_or_init(|| {
        let store = Store::new("tricky");
        let name = "tricky";
        let local = format!("localhost/{}:1", repo(name));
        let ctx = Scratch::new("tricky-ctx");
        let long = "d".repeat(120);
        let containerfile = format!(
            r#"FROM scratch
COPY base/ /
RUN ["/bin/busybox", "sh", "-c", "chmod 4755 /usr/bin/suid-a && ln /usr/bin/suid-a /usr/bin/suid-hardlink && rm -rf /opt/cache && mkdir /opt/cache && echo new > /opt/cache/kept && rm /etc/motd && mkdir -p /srv/{long}/x && ln -s ../../../etc/passwd /srv/{long}/x/pw"]
USER 1001:1001
ENTRYPOINT ["/app/run"]
LABEL org.opencontainers.image.title=ocic-test
"#
        );
        let base = ctx.path().join("base");
        let busybox = find_in_path(&default_path(), "busybox");
        match busybox {
            Some(b) => {
                fs::create_dir_all(base.join("bin")).unwrap();
                fs::copy(b, base.join("bin/busybox")).unwrap();
            }
            None => panic!("a static busybox is needed to build the tricky image (tests/env/setup.sh installs it)"),
        }
        write_file(&base.join("app/run"), b"#!/bin/sh\n", 0o755);
        write_file(&base.join("usr/bin/suid-a"), b"#!/bin/sh\n", 0o4755);
        write_file(&base.join("opt/cache/old"), b"old\n", 0o644);
        write_file(&base.join("etc/motd"), b"hello\n", 0o644);
        write_file(&base.join("usr/lib/os-release"), b"NAME=Tricky\nVERSION_ID=1\n", 0o644);
        std::os::unix::fs::symlink("../usr/lib/os-release", base.join("etc/os-release")).unwrap();
        write_file(&base.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/app:/bin/false\n", 0o644);
        write_file(&base.join("etc/group"), b"root:x:0:\napp:x:1001:\n", 0o644);
        let cf = ctx.path().join("Containerfile");
        fs::write(&cf, containerfile).unwrap();
        store.podman(&["build", "--layers", "--network=none", "-q", "-f", cf.to_str().unwrap(), "-t", &local, ctx.path().to_str().unwrap()]);
        let id = store.inspect(&local)["Id"].as_str().unwrap().to_string();
        push_all(&store, &local, name, &id, &["1"])
    })
}

#[test]
fn both_sources_give_the_same_report_for_every_fixture_image() {
    let images: Vec<String> = vec![
        realistic().pushed.reference(),
        clean().reference(),
        low_only().reference(),
        high_only().reference(),
        tricky().reference(),
    ];
    for reference in &images {
        let store = Store::new("equal-stored");
        let stored = scan(&store).good_auth().arg(reference).run();
        let fetched = fetch(&Store::new("equal-fetched")).good_auth().arg(reference).run();
        let (a, b) = (stored.report(), fetched.report());
        assert_valid_report(&a);
        assert_valid_report(&b);
        assert_eq!(a["image"]["source"], "storage", "{reference}");
        assert_eq!(b["image"]["source"], "registry", "{reference}");
        assert_eq!(b["image"]["storage_driver"], "", "{reference}");
        // containers/storage counts the image's config and manifest records (a few KB) in
        // its size; the registry source counts the uncompressed layers.
        let (stored_size, layer_bytes) = (a["image"]["size"].as_u64().unwrap(), b["image"]["size"].as_u64().unwrap());
        assert!(stored_size >= layer_bytes && stored_size - layer_bytes < 64 << 10, "{stored_size} vs {layer_bytes}");
        let mut diff = Vec::new();
        differences(&comparable(a), &comparable(b), "", &mut diff);
        assert!(diff.is_empty(), "{reference}: the two sources disagree:\n{}", diff.join("\n"));
        assert_eq!(stored.code, fetched.code, "{reference}");
    }
}

#[test]
fn streamed_layers_keep_hard_links_opaque_directories_and_whiteouts() {
    let img = tricky();
    let out = fetch(&Store::new("tricky-fetch")).good_auth().arg(img.reference()).run();
    let rep = out.report();
    // The hard link to a setuid file is a setuid file under its own path.
    let v = violations(check(&rep, "suid-files"));
    assert!(
        v.contains("/usr/bin/suid-a") && v.contains("/usr/bin/suid-hardlink"),
        "{v:?} {}\n{}",
        check(&rep, "suid-files"),
        rep["layers"]
    );
    // os-release through a symlink, passwd and group resolved in the merged image.
    assert_eq!(check(&rep, "base-os")["description"], "Tricky 1");
    assert_eq!(status(&rep, "root-user"), "pass");
    // /etc/motd deleted; /opt/cache made again is opaque, not a whiteout.
    assert_eq!(rep["layers"][1]["whiteouts"], 1, "{}", rep["layers"][1]);
    let tree = serde_json::to_string(&rep["tree"]).unwrap();
    assert!(tree.contains("\"kept\"") && !tree.contains("\"old\""), "the opaque /opt/cache hides layer 1's files");
}

#[test]
fn auto_reads_local_images_from_storage_and_the_rest_from_the_registry() {
    let img = clean();
    let store = Store::new("auto");
    fn auto(s: &Store) -> Scan<'_> {
        scan(s).env("COMPLIANCE_SOURCE", "auto").good_auth()
    }
    // Not in local storage: fetched, and nothing is stored.
    let first = auto(&store).arg(img.reference()).run();
    first.assert_code(0);
    assert_eq!(first.report()["image"]["source"], "registry");
    assert_eq!(first.report()["settings"]["source"], "auto");
    assert!(
        store.run("podman", &["image", "exists", &img.reference()]).code != Some(0),
        "the registry source stored the image"
    );
    // In local storage: read from there.
    let pulled = scan(&store).good_auth().arg(img.reference()).run();
    assert_eq!(pulled.report()["image"]["source"], "storage");
    assert_eq!(auto(&store).arg(img.reference()).run().report()["image"]["source"], "storage");
    // --pull always fetches again; --pull never reads storage.
    let always = auto(&store).args(["--pull", "always"]).arg(img.reference()).run();
    assert_eq!(always.report()["image"]["source"], "registry");
    let never = auto(&store).args(["--pull", "never"]).arg(img.reference()).run();
    assert_eq!(never.report()["image"]["source"], "storage");
}

#[test]
fn registry_failures_keep_the_exit_code_contract() {
    let img = clean();
    let store = Store::new("fetch-errors");
    // Wrong password: 20, with skopeo's reason, and the password nowhere.
    let bad = fetch(&store)
        .auth(&auth_config(&env().registry, &env().user, "wrong-password-123"))
        .secret("wrong-password-123")
        .arg(img.reference())
        .run();
    bad.assert_code(20);
    let line = bad.one_error_line(&["unauthorized", "authentication"]);
    assert!(!line.contains("wrong-password-123"), "{line}");
    // An unknown image: 20.
    let missing = format!("{}:1", img.repo.replace("clean", "no-such-image"));
    fetch(&store).good_auth().arg(&missing).run().assert_code(20);
    // Invalid combinations are configuration errors, before anything is fetched.
    fetch(&store).args(["--pull", "never"]).arg(img.reference()).run().assert_code(24);
    fetch(&store).arg("containers-storage:localhost/app:1").run().assert_code(24);
}

/// A layer whose blob has the right digest but is not a gzip stream: the checks that need
/// files are errors and the run exits 25, never a pass.
#[test]
fn a_corrupt_layer_is_an_error_never_a_pass() {
    let dir = Scratch::new("corrupt-layout");
    let layout = dir.path();
    // A gzip header, then nothing a gzip decoder can use.
    let blob = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03this is not deflate data at all".to_vec();
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"User": "1001:1001", "Entrypoint": ["/app/run"], "Labels": {"a": "b"}},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(b"x"))]},
        "history": [{"created_by": "COPY broken /"}]
    });
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha256_hex(&config)), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{}", sha256_hex(&blob)), "size": blob.len()}]
    });
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", sha256_hex(&manifest)), "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "1.0"}}]
    });
    fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    for data in [&blob, &config, &manifest] {
        fs::write(layout.join("blobs/sha256").join(sha256_hex(data)), data).unwrap();
    }
    fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion": "1.0.0"}"#).unwrap();
    let out = fetch(&Store::new("corrupt")).arg(format!("oci:{}", layout.display())).run();
    out.assert_code(25);
    let rep = out.report();
    // Every check that reads the files; a numeric USER needs none, so root-user still decides.
    for id in ["suid-files", "sgid-files", "privilege-tools", "remote-access-tools", "compilers", "base-os"] {
        assert_eq!(status(&rep, id), "error", "{id}: {}", check(&rep, id));
    }
    assert!(rep["layers"][0]["errors"][0].as_str().unwrap().contains("gzip"), "{}", rep["layers"][0]);
    // The tag the layout records is the image's tag.
    assert_eq!(status(&rep, "latest-tag"), "pass");
}

#[test]
fn archives_are_read_in_place_with_the_tag_they_record() {
    let img = low_only();
    let store = Store::new("archives");
    store.podman(&["pull", "-q", "--tls-verify=false", "--creds", &creds(), &img.reference()]);
    let dir = Scratch::new("archives");
    let docker = dir.path().join("app.tar");
    let oci = dir.path().join("app.oci.tar");
    store.podman(&["save", "-q", "--format", "docker-archive", "-o", docker.to_str().unwrap(), &img.reference()]);
    store.podman(&["save", "-q", "--format", "oci-archive", "-o", oci.to_str().unwrap(), &img.reference()]);
    let stored = scan(&store).arg(img.reference()).args(["--pull", "never"]).run().report();
    for archive in [format!("docker-archive:{}", docker.display()), format!("oci-archive:{}", oci.display())] {
        let empty = Store::new("archive-scan");
        let out = fetch(&empty).arg(&archive).run();
        out.assert_code(15);
        let rep = out.report();
        assert_eq!(rep["image"]["source"], "registry", "{archive}");
        assert_eq!(status(&rep, "latest-tag"), "pass", "{archive}: {}", check(&rep, "latest-tag"));
        assert_eq!(check(&rep, "latest-tag")["description"], "tag 1", "{archive}");
        assert_eq!(rep["checks"].as_array().unwrap().len(), stored["checks"].as_array().unwrap().len());
        for (a, b) in rep["checks"].as_array().unwrap().iter().zip(stored["checks"].as_array().unwrap()) {
            // podman saves an OCI archive in the OCI format, which drops the healthcheck.
            if a["id"] == "healthcheck-missing" && archive.starts_with("oci-archive:") {
                assert_eq!((&a["status"], &b["status"]), (&"fail".into(), &"pass".into()), "{archive}");
            } else if a["id"] != "latest-tag" {
                assert_eq!(a["findings"], b["findings"], "{archive}: {}", a["id"]);
                assert_eq!(a["status"], b["status"], "{archive}: {}", a["id"]);
            }
        }
        assert!(empty.run("podman", &["images", "-q"]).stdout.trim().is_empty(), "an archive was loaded into storage");
    }
}

/// Several images on one base: the base's blob is fetched once and its layer read once.
#[test]
fn a_batch_on_one_base_reads_the_base_once() {
    let base = ImageSpec::new(vec![layer("COPY base /", vec![exe("/app/run"), file("/usr/bin/su", 0o4755, "x")])]);
    let mut refs = Vec::new();
    let store = Store::new("batch-build");
    let base_local = format!("localhost/{}:base", repo("batch-base"));
    build_scratch(&store, &base_local, &base);
    for i in 0..3 {
        let local = format!("localhost/{}:1", repo(&format!("batch-{i}")));
        let c = store.buildah(&["from", &base_local]);
        let ctx = Scratch::new("batch-ctx");
        write_file(&ctx.path().join(format!("app/file{i}")), b"x", 0o644);
        store.buildah(&["copy", "-q", &c, &format!("{}/", ctx.path().display()), "/"]);
        let mut config = vec!["config"];
        config.extend(GOOD_CONFIG);
        config.push(&c);
        store.buildah(&config);
        store.buildah(&["commit", "-q", &c, &local]);
        store.buildah(&["rm", &c]);
        let id = store.inspect(&local)["Id"].as_str().unwrap().to_string();
        refs.push(push_all(&store, &local, &format!("batch-{i}"), &id, &["1"]).reference());
    }
    let out = fetch(&Store::new("batch-scan"))
        .good_auth()
        .env("COMPLIANCE_JOBS", "3")
        .env("OCI_COMPLIANCE_TIMINGS", "1")
        .args(&refs)
        .run();
    out.assert_code(12);
    for r in &refs {
        let rep = out.report_named(&slug(r));
        assert_eq!(violations(check(&rep, "suid-files")), set(&["/usr/bin/su"]), "{r}");
    }
    let stderr = &out.stderr;
    let reads = stderr.lines().filter(|l| l.contains("layer read from blob")).count();
    assert_eq!(reads, 4, "one read of the shared base and one of each image's own layer:\n{stderr}");
}
