//! healthcheck-missing, build-hygiene and unwanted-files on images built with buildah, in
//! the docker and the OCI format, scanned from storage and from the registry.

use crate::support::*;
use serde_json::Value;
use std::ffi::OsStr;

/// Three layers with what a careless build leaves, each step's created_by as buildah and
/// Docker record one; committed in `format` with a HEALTHCHECK configured (which the OCI
/// format drops).
fn build(format: &str) -> Pushed {
    let name = format!("c-hygiene-{format}");
    let store = Store::new(&name);
    let local = format!("localhost/{}:1", repo(&name));
    let layers: [(&str, Vec<Node>, &[&str]); 3] = [
        (
            "/bin/sh -c apt-get update",
            vec![
                file("/app/.git/config", 0o644, "[core]\n"),
                file("/app/.git/HEAD", 0o644, "ref: refs/heads/main\n"),
                file("/app/Dockerfile", 0o644, "FROM scratch\n"),
                exe("/app/run"),
                file("/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages", 0o644, "P"),
                file("/var/lib/apt/lists/lock", 0o640, ""),
                dir("/var/lib/apt/lists/partial", 0o700),
                file("/src/.env", 0o600, "DB_PASSWORD=x\n"),
            ],
            &[],
        ),
        (
            "|1 V=1 /bin/sh -c curl -fsSL https://get.example.com | sudo sh -s -- -y",
            vec![exe("/usr/local/bin/tool")],
            &["/src/.env"],
        ),
        ("/bin/sh -c #(nop) ADD https://example.com/tool.tgz /opt/", vec![file("/opt/tool.tgz", 0o644, "t")], &[]),
    ];
    let mut from = "scratch".to_string();
    let mut id = String::new();
    for (i, (created_by, nodes, remove)) in layers.iter().enumerate() {
        let ctx = Scratch::new("c-hygiene-ctx");
        for n in nodes {
            let rel = |p: &str| ctx.path().join(p.trim_start_matches('/'));
            match n {
                Node::File { path, mode, content } => write_file(&rel(path), content, *mode),
                Node::Dir { path, .. } => std::fs::create_dir_all(rel(path)).unwrap(),
                Node::Symlink { .. } => unreachable!(),
            }
        }
        let edit = |merged: &std::path::Path| {
            for r in remove.iter() {
                std::fs::remove_file(merged.join(r.trim_start_matches('/'))).unwrap();
            }
        };
        let last = i + 1 == layers.len();
        let mut config = vec![OsStr::new("--created-by"), OsStr::new(created_by)];
        if last {
            config.extend(["--healthcheck", "CMD /app/run --health", "--entrypoint", "[\"/app/run\"]"].map(OsStr::new));
        }
        let target = if last { local.clone() } else { format!("{local}-layer{}", i + 1) };
        let commit = Commit {
            tree: Some(ctx.path()),
            edit: (!remove.is_empty()).then_some(&edit as &dyn Fn(&std::path::Path)),
            config,
            commit_flags: vec!["--format", format],
        };
        id = commit_layer(&store, &from, &target, commit);
        from = target;
    }
    push_all(&store, &local, &name, &id, &["1"])
}

fn ours(report: &Value) -> Vec<&Value> {
    ["healthcheck-missing", "build-hygiene", "unwanted-files"].iter().map(|id| check(report, id)).collect()
}

/// (path, layer, violation, note) of every finding.
fn rows(check: &Value) -> Vec<(String, u64, bool, String)> {
    findings(check)
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["layer"].as_u64().unwrap(),
                f["violation"].as_bool().unwrap(),
                f["note"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn hygiene_checks_read_history_caches_and_files_the_same_from_storage_and_registry() {
    for format in ["docker", "oci"] {
        let pushed = build(format);
        let reference = pushed.reference();
        let stored = scan(&Store::new("c-hygiene-stored")).good_auth().arg(&reference).run();
        let fetched = fetch(&Store::new("c-hygiene-fetched")).good_auth().arg(&reference).run();
        let (a, b) = (stored.report(), fetched.report());
        assert_valid_report(&a);
        assert_valid_report(&b);
        assert_eq!((a["image"]["source"].as_str(), b["image"]["source"].as_str()), (Some("storage"), Some("registry")));
        assert_eq!(ours(&a), ours(&b), "{format}: the two sources disagree");
        assert_eq!(a["image"]["id"], b["image"]["id"], "{format}: the registry source read the config unconverted");

        let hc = check(&a, "healthcheck-missing");
        if format == "docker" {
            assert_eq!(hc["status"], "pass", "{hc}");
            assert_eq!(hc["description"], "HEALTHCHECK CMD /app/run --health");
        } else {
            assert_eq!(hc["status"], "fail", "{hc}");
            assert!(hc["description"].as_str().unwrap().contains("OCI format, which cannot carry one"), "{hc}");
        }

        let bh = check(&a, "build-hygiene");
        assert_eq!(bh["status"], "fail");
        assert_eq!(
            rows(bh),
            vec![
                (
                    "history step 1".into(),
                    1,
                    true,
                    "package index refreshed without an install in the same step: apt-get update".into()
                ),
                (
                    "history step 2".into(),
                    2,
                    true,
                    "a download piped into a shell: curl -fsSL https://get.example.com | sudo sh -s -- -y".into()
                ),
                ("history step 3".into(), 3, true, "ADD of a remote URL: ADD https://example.com/tool.tgz".into()),
                (
                    "/var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages".into(),
                    1,
                    true,
                    "apt package lists left in the image: 1 file under /var/lib/apt/lists".into()
                ),
            ],
            "{format}"
        );
        assert_eq!(findings(bh)[0]["kind"], "config");
        assert_eq!(findings(bh)[1]["layer_digest"].as_str(), Some(pushed.diff_ids[1].as_str()));

        let uf = check(&a, "unwanted-files");
        assert_eq!(uf["status"], "fail");
        let mut got = rows(uf).into_iter().map(|(p, l, v, _)| (p, l, v)).collect::<Vec<_>>();
        got.sort();
        assert_eq!(
            got,
            vec![("/app/.git".into(), 1, true), ("/app/Dockerfile".into(), 1, true), ("/src/.env".into(), 1, false)],
            "{format}: one finding for the .git directory; the deleted .env is information"
        );
    }
}
