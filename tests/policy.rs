//! The policy file on real images built in the test and scanned from local storage:
//! disabled checks, severity overrides, the failure threshold, required labels (own versus
//! inherited, from real build history), list extensions, the layer limit and waivers
//! (applied, expired, unused, image-scoped), and strict validation.

use crate::support::*;
use std::sync::OnceLock;

struct Fixture {
    store: Store,
    /// Two layers: setuid passwd and mount, su, runuser, EXPOSE 5900, USER 1001:1001.
    app: String,
    /// Built with `podman build` from a base that sets a label itself.
    labelled: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let store = Store::new("policy");
        let spec = ImageSpec::new(vec![
            layer(
                "ADD base",
                vec![
                    file("/usr/bin/passwd", 0o4755, "x"),
                    file("/usr/bin/mount", 0o4755, "x"),
                    exe("/usr/sbin/runuser"),
                    exe("/usr/bin/mosh-server"),
                ],
            ),
            layer("COPY app", vec![exe("/app/run")]),
        ])
        .config(&[
            "--user",
            "1001:1001",
            "--entrypoint",
            "[\"/app/run\"]",
            "--port",
            "5900",
            "--label",
            "a=b",
        ]);
        build_scratch(&store, "localhost/policy-app:1", &spec);

        // Real build history: the base sets `vendor`, the image itself sets `product`.
        let ctx = Scratch::new("policy-ctx");
        std::fs::write(ctx.path().join("f"), "x").unwrap();
        std::fs::write(ctx.path().join("Base"), "FROM scratch\nCOPY f /f\nLABEL vendor=base-vendor\n").unwrap();
        std::fs::write(
            ctx.path().join("App"),
            "FROM localhost/policy-base:1\n\
             LABEL product=widget org.opencontainers.image.version=2.1\nUSER 1001:1001\nCMD [\"/f\"]\n",
        )
        .unwrap();
        let c = ctx.path().to_str().unwrap();
        store.podman(&["build", "-q", "-f", &format!("{c}/Base"), "-t", "localhost/policy-base:1", c]);
        store.podman(&["build", "-q", "-f", &format!("{c}/App"), "-t", "localhost/policy-labelled:1", c]);
        Fixture {
            store,
            app: "containers-storage:localhost/policy-app:1".into(),
            labelled: "containers-storage:localhost/policy-labelled:1".into(),
        }
    })
}

fn with_policy(image: &str, policy: &str, extra: &[&str]) -> ScanOut {
    let dir = Scratch::new("policy-file");
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, policy).unwrap();
    scan(&fixture().store).args(["--pull", "never", "--policy"]).arg(&path).args(extra.iter().copied()).arg(image).run()
}

#[test]
fn without_a_policy_the_fixture_fails_critical() {
    let out = scan(&fixture().store).args(["--pull", "never"]).arg(&fixture().app).run();
    out.assert_code(12);
    let rep = out.report();
    assert_eq!(status(&rep, "suid-files"), "fail");
    assert_eq!(status(&rep, "privilege-tools"), "pass", "runuser is not on the default list");
    assert_eq!(status(&rep, "admin-ports-exposed"), "pass", "5900 is not on the default list");
}

#[test]
fn waivers_applied_expired_unused_and_scoped() {
    let policy = r#"
[[waivers]]
check = "suid-files"
path = "/usr/bin/passwd"
reason = "password changes are a product feature"
expires = "2999-12-31"

[[waivers]]
check = "suid-files"
path = "/usr/bin/mount"
reason = "was needed in 2020"
expires = "2020-01-01"

[[waivers]]
check = "compilers"
path = "/usr/bin/gcc*"
reason = "never matches: no compiler in this image"

[[waivers]]
check = "suid-files"
path = "/usr/bin/mount"
image = "*/some-other-image:*"
reason = "another image only"
"#;
    let out = with_policy(&fixture().app, policy, &[]);
    out.assert_code(12);
    let rep = out.report();
    let suid = check(&rep, "suid-files");
    assert_eq!(suid["status"], "fail", "mount's waiver expired, so the check still fails");
    let f = |p: &str| suid["findings"].as_array().unwrap().iter().find(|f| f["path"] == p).unwrap().clone();
    assert_eq!(f("/usr/bin/passwd")["waiver"]["reason"], "password changes are a product feature");
    assert!(f("/usr/bin/mount")["waiver"].is_null());
    assert!(f("/usr/bin/mount")["note"].as_str().unwrap().contains("expired on 2020-01-01"));
    let uses: Vec<(String, u64)> = rep["waivers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["status"].as_str().unwrap().to_string(), w["matched"].as_u64().unwrap()))
        .collect();
    assert_eq!(uses, vec![("applied".into(), 1), ("expired".into(), 1), ("unused".into(), 0), ("unused".into(), 0)]);

    // With both waived (and in force) the check passes, and the findings stay reported.
    let both = "[[waivers]]\ncheck = \"suid-files\"\npath = \"/usr/bin/*\"\nreason = \"accepted by the board\"\n";
    let out = with_policy(&fixture().app, both, &[]);
    out.assert_code(15);
    let rep = out.report();
    let suid = check(&rep, "suid-files");
    assert_eq!(suid["status"], "pass");
    assert_eq!(suid["findings"].as_array().unwrap().len(), 2);
    assert!(suid["findings"].as_array().unwrap().iter().all(|f| f["waiver"]["reason"] == "accepted by the board"));
    assert!(out.stdout.contains("waived"), "{}", out.stdout);
}

#[test]
fn disable_rerate_threshold_lists_ports_and_layers() {
    let policy = r#"
fail_on = "high"
max_layers = 2
admin_ports = ["5900"]
extra_privilege_tools = ["runuser"]
extra_remote_access_tools = ["mosh-server"]

[checks.suid-files]
enabled = false
reason = "covered by the vendor's attestation"

[checks.privilege-tools]
severity = "medium"
"#;
    let out = with_policy(&fixture().app, policy, &[]);
    let rep = out.report();
    assert_eq!(status(&rep, "suid-files"), "skipped");
    assert!(check(&rep, "suid-files")["description"].as_str().unwrap().contains("vendor's attestation"));
    assert_eq!(status(&rep, "privilege-tools"), "fail");
    assert_eq!(check(&rep, "privilege-tools")["severity"], "medium");
    assert_eq!(check(&rep, "privilege-tools")["default_severity"], "critical");
    assert_eq!(status(&rep, "remote-access-tools"), "fail");
    assert_eq!(status(&rep, "admin-ports-exposed"), "fail");
    assert_eq!(status(&rep, "too-many-layers"), "pass", "two layers allowed");
    // remote-access-tools is Critical and above the threshold.
    out.assert_code(12);

    // Only High and above count: a Medium failure alone passes the gate.
    let policy = r#"
fail_on = "high"
extra_privilege_tools = ["runuser"]
[checks.suid-files]
enabled = false
[checks.privilege-tools]
severity = "medium"
"#;
    let out = with_policy(&fixture().app, policy, &[]);
    let rep = out.report();
    assert_eq!(status(&rep, "privilege-tools"), "fail");
    assert_eq!(status(&rep, "too-many-layers"), "fail");
    assert_eq!(rep["summary"]["verdict"], "pass", "Medium and Low failures are below the threshold");
    out.assert_code(0);
    // --fail-on beats the policy's threshold.
    with_policy(&fixture().app, policy, &["--fail-on", "medium"]).assert_code(14);
    with_policy(&fixture().app, policy, &["--fail-on", "low"]).assert_code(14);
}

#[test]
fn required_labels_own_versus_inherited_from_real_history() {
    let required = r#"
[labels]
required = [
  { key = "vendor" },
  { key = "product" },
  { key = "org.opencontainers.image.version", pattern = "[0-9]*.[0-9]*" },
]
"#;
    let out = with_policy(&fixture().labelled, required, &[]);
    let rep = out.report();
    assert_eq!(status(&rep, "required-labels"), "pass", "{}", check(&rep, "required-labels"));

    let own = format!("{required}own = true\n");
    let out = with_policy(&fixture().labelled, &own, &[]);
    let rep = out.report();
    let c = check(&rep, "required-labels");
    assert_eq!(c["status"], "fail");
    let d = c["description"].as_str().unwrap();
    assert!(d.contains("vendor is inherited from the base image"), "{d}");
    assert!(!d.contains("product"), "product is set by the image itself: {d}");

    let pattern = "[labels]\nrequired = [{ key = \"org.opencontainers.image.version\", pattern = \"v*\" }, \
                   { key = \"missing.label\" }]\n";
    let out = with_policy(&fixture().labelled, pattern, &[]);
    let d = check(&out.report(), "required-labels")["description"].as_str().unwrap().to_string();
    assert!(d.contains("does not match") && d.contains("missing.label is missing"), "{d}");
    out.assert_code(15);
}

#[test]
fn malformed_policy_files_exit_24_naming_file_key_and_expectation() {
    let cases = [
        ("fail_on = \"sever\"\n", "fail_on"),
        ("[checks.suid-file]\nenabled = false\n", "checks.suid-file: unknown check id"),
        ("[[waivers]]\ncheck = \"suid-files\"\npath = \"/x\"\n", "missing field `reason`"),
        (
            "[[waivers]]\ncheck = \"suid-files\"\nreason = \"r\"\nexpires = \"tomorrow\"\n",
            "waivers[0].expires: expected a date YYYY-MM-DD",
        ),
        ("colour = \"red\"\n", "unknown field `colour`"),
    ];
    for (text, want) in cases {
        let out = with_policy(&fixture().app, text, &[]);
        out.assert_code(24);
        assert!(out.stderr.contains("policy.toml") && out.stderr.contains(want), "{want}: {}", out.stderr);
        assert!(out.reports.is_empty(), "no report for a configuration error");
    }
    let missing = scan(&fixture().store)
        .args(["--pull", "never", "--policy", "/nonexistent/policy.toml"])
        .arg(&fixture().app)
        .run();
    missing.assert_code(24);
    assert!(missing.stderr.contains("/nonexistent/policy.toml"));
}

#[test]
fn checks_and_explain_show_effective_severities() {
    let dir = Scratch::new("policy-checks");
    let p = dir.path().join("p.toml");
    std::fs::write(&p, "[checks.compilers]\nseverity = \"high\"\n[checks.base-os]\nenabled = false\n").unwrap();
    let out = command(&["checks", "--policy", p.to_str().unwrap()]).run();
    out.assert_code(0);
    let line = |id: &str| out.stdout.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{id}")).to_string();
    assert!(line("compilers").split_whitespace().take(3).eq(["compilers", "medium", "high"]), "{}", line("compilers"));
    assert!(line("base-os").contains("disabled"));
    let out = command(&["explain", "required-labels"]).run();
    out.assert_code(0);
    assert!(out.stdout.contains("inherited"));
}
