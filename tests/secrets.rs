//! secrets-in-config and secret-files on a real image built with buildah: secrets in Env, a
//! label, a RUN line, key and credential files, a key deleted by a later layer. Scanned from
//! storage and through the authenticated registry with every output format: the checks fail
//! as they should, and no raw secret value appears in any output.

use crate::support::*;
use std::fs;

const DB_PASSWORD: &str = "a-it-db-pa55word-7f3a";
const LABEL_TOKEN: &str = "a-it-label-t0ken-9c1d";
const ARG_TOKEN: &str = "ghp_AitArgToken0123456789abcdefghijKLMN";
const RUN_TOKEN: &str = "glpat-AitRunToken0123456789";
const KEY_BODY: &str = "MIIEpAIBAAKCAQEAaitTestKeyMaterialNotARealKey0123456789";
const DELETED_KEY_BODY: &str = "MIIEpAIBAAKCAQEAaitDeletedKeyMaterial9876543210";
const REGISTRY_AUTH: &str = "YWl0LXVzZXI6YWl0LXJlZ2lzdHJ5LXBhc3M=";

fn rsa_key(body: &str) -> String {
    format!("-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----\n")
}

fn secrets_image() -> &'static Pushed {
    static CELL: std::sync::OnceLock<Pushed> = std::sync::OnceLock::new();
    CELL.get_or_init(|| {
        let store = Store::new("a-secrets");
        let name = "a-secrets";
        let local = format!("localhost/{}:1", repo(name));
        let ctx = Scratch::new("a-secrets-ctx");
        let base = ctx.path().join("base");
        let busybox = find_in_path(&default_path(), "busybox")
            .expect("a static busybox is needed to build the secrets image (tests/env/setup.sh installs it)");
        fs::create_dir_all(base.join("bin")).unwrap();
        fs::copy(busybox, base.join("bin/busybox")).unwrap();
        write_file(&base.join("root/.ssh/id_rsa"), rsa_key(KEY_BODY).as_bytes(), 0o600);
        write_file(&base.join("root/.ssh/id_rsa.pub"), b"ssh-rsa AAAAB3NzaC1yc2E root@build\n", 0o644);
        write_file(&base.join("etc/ssl/private/server.key"), rsa_key(KEY_BODY).as_bytes(), 0o600);
        write_file(
            &base.join("etc/ssl/certs/ca.pem"),
            b"-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----\n",
            0o644,
        );
        write_file(
            &base.join("home/app/.docker/config.json"),
            format!(r#"{{"auths":{{"registry.example.com":{{"auth":"{REGISTRY_AUTH}"}}}}}}"#).as_bytes(),
            0o600,
        );
        write_file(&base.join("tmp/leaked.key"), rsa_key(DELETED_KEY_BODY).as_bytes(), 0o600);
        write_file(&base.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/app:/bin/false\n", 0o644);
        write_file(&base.join("etc/group"), b"root:x:0:\napp:x:1001:\n", 0o644);
        let containerfile = format!(
            r#"FROM scratch
COPY base/ /
ARG GH_TOKEN={ARG_TOKEN}
ENV DB_PASSWORD={DB_PASSWORD} DB_PASSWORD_FILE=/run/secrets/db API_KEY=$RUNTIME_KEY
LABEL api.token="{LABEL_TOKEN}" org.opencontainers.image.title=a-secrets
RUN ["/bin/busybox", "sh", "-c", "export CI_TOKEN={RUN_TOKEN}; /bin/busybox rm /tmp/leaked.key"]
USER 1001:1001
CMD ["/bin/busybox", "true"]
"#
        );
        let cf = ctx.path().join("Containerfile");
        fs::write(&cf, containerfile).unwrap();
        build_file_and_push(&store, "buildah", &cf, ctx.path(), &local, name)
    })
}

const RAW: &[&str] = &[DB_PASSWORD, LABEL_TOKEN, ARG_TOKEN, RUN_TOKEN, KEY_BODY, DELETED_KEY_BODY, REGISTRY_AUTH];

const FORMATS: &str = "html,markdown,junit,codequality,sarif,legacy-json";

/// Every output of the run (console on stderr, JSON on stdout, every report file): none
/// holds a raw secret (the scanner helper checks that too, for the values given it).
fn assert_no_raw_secret(out: &ScanOut) {
    let names = out.report_names();
    for ext in [".json", ".html", ".md", ".junit.xml", ".codequality.json", ".sarif", ".legacy.json"] {
        assert!(names.iter().any(|n| n.ends_with(ext)), "no {ext} report in {names:?}");
    }
    assert!(out.stdout_json.is_object(), "--json-stdout printed no report\n{}", out.dump());
    assert!(out.stderr.contains("secret-files"), "no console report on stderr\n{}", out.dump());
    for raw in RAW {
        assert!(!out.stdout.contains(raw), "{raw} on stdout");
        assert!(!out.stderr.contains(raw), "{raw} on stderr");
        for (name, text) in &out.reports {
            assert!(!text.contains(raw), "{raw} in {name}");
        }
    }
}

fn assert_findings(rep: &serde_json::Value) {
    assert_valid_report(rep);
    let cfg = check(rep, "secrets-in-config");
    assert_eq!(cfg["status"], "fail", "{cfg}");
    let at: Vec<String> = findings(cfg).iter().map(|f| f["path"].as_str().unwrap().to_string()).collect();
    assert!(at.contains(&"Env DB_PASSWORD".to_string()), "{at:?}");
    assert!(at.contains(&"label api.token".to_string()), "{at:?}");
    assert!(!at.iter().any(|p| p.contains("DB_PASSWORD_FILE") || p.contains("API_KEY")), "references: {at:?}");
    let run_step = findings(cfg)
        .iter()
        .find(|f| f["note"].as_str().unwrap_or("").contains("gitlab-token"))
        .unwrap_or_else(|| panic!("no finding for the RUN line: {cfg}"));
    assert!(run_step["path"].as_str().unwrap().starts_with("history step "), "{run_step}");
    assert!(run_step["layer"].as_u64().unwrap() == 2, "the RUN made layer 2: {run_step}");
    let files = check(rep, "secret-files");
    assert_eq!(files["status"], "fail", "{files}");
    assert_eq!(
        violations(files),
        set(&["/etc/ssl/private/server.key", "/home/app/.docker/config.json", "/root/.ssh/id_rsa", "/tmp/leaked.key"])
    );
    let leaked = must_find(files, "/tmp/leaked.key");
    assert_eq!((leaked["visible"].as_bool(), leaked["layer"].as_u64()), (Some(false), Some(1)), "{leaked}");
    assert!(finding(files, "/etc/ssl/certs/ca.pem").is_none() && finding(files, "/root/.ssh/id_rsa.pub").is_none());
}

fn with_every_output(s: Scan<'_>) -> Scan<'_> {
    let mut s = s.arg("--format").arg(FORMATS).arg("--json-stdout");
    for raw in RAW {
        s = s.secret(raw);
    }
    s
}

#[test]
fn secrets_are_found_and_never_printed_from_storage() {
    let img = secrets_image();
    let store = Store::new("a-secrets-stored");
    let out = with_every_output(scan(&store).good_auth().arg(img.reference())).run();
    out.assert_code(12);
    assert_findings(&out.stdout_json);
    assert_eq!(out.stdout_json["image"]["source"], "storage");
    assert_no_raw_secret(&out);
}

#[test]
fn secrets_are_found_and_never_printed_through_the_registry() {
    let img = secrets_image();
    let out = with_every_output(fetch(&Store::new("a-secrets-fetched")).good_auth().arg(img.reference())).run();
    out.assert_code(12);
    assert_findings(&out.stdout_json);
    assert_eq!(out.stdout_json["image"]["source"], "registry");
    assert_no_raw_secret(&out);
}
