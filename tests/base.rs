//! Base image or own layers, on images built in the test: a base with a setuid file, an
//! image built on it with `buildah from` + commit that adds its own setuid file, and one that
//! adds nothing setuid. The boundary comes from --base-image (storage and registry source),
//! from the base annotations buildah writes, or from the history's `FROM`; a policy with
//! `scope = "own"` sets the base's violations aside.

use crate::support::*;
use serde_json::Value;
use std::sync::OnceLock;

struct Fixture {
    store: Store,
    /// One layer: /usr/local/bin/basetool setuid.
    base: String,
    /// `base` + /app/owntool setuid (annotations and history name the base).
    app: String,
    /// `base` + /app/tool, not setuid.
    clean: String,
    /// Like `app`, with the base annotations emptied: only the history's FROM is left.
    history_only: String,
}

const BASE: &str = "localhost/g-base:1";
const APP: &str = "localhost/g-app:1";

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let store = Store::new("g-base");
        let spec = |path: &str, mode: u32| ImageSpec::new(vec![layer("ADD base", vec![file(path, mode, "x")])]);
        build_scratch(&store, BASE, &spec("/usr/local/bin/basetool", 0o4755));
        // Not the base of anything.
        build_scratch(&store, "localhost/g-other:1", &spec("/usr/local/bin/tool", 0o755));
        let on_base = |target: &str, path: &str, mode: u32, config: &[&str]| {
            let ctx = Scratch::new("g-ctx");
            write_file(&ctx.path().join(path.trim_start_matches('/')), b"x", mode);
            let config = config.iter().map(std::ffi::OsStr::new).collect();
            commit_layer(&store, BASE, target, Commit { tree: Some(ctx.path()), config, ..Commit::default() });
        };
        on_base(APP, "/app/owntool", 0o4755, &[]);
        on_base("localhost/g-clean:1", "/app/tool", 0o755, &[]);
        // buildah reads an empty annotation as none.
        on_base(
            "localhost/g-history:1",
            "/app/owntool",
            0o4755,
            &[
                "--annotation",
                "org.opencontainers.image.base.name=",
                "--annotation",
                "org.opencontainers.image.base.digest=",
            ],
        );
        let local = |n: &str| format!("containers-storage:{n}");
        Fixture {
            base: local(BASE),
            app: local(APP),
            clean: local("localhost/g-clean:1"),
            history_only: local("localhost/g-history:1"),
            store,
        }
    })
}

const SCOPE_OWN: &str = "[checks.suid-files]\nscope = \"own\"\n";

fn policy_file(dir: &Scratch) -> std::path::PathBuf {
    let p = dir.path().join("policy.toml");
    std::fs::write(&p, SCOPE_OWN).unwrap();
    p
}

fn origin_of<'a>(report: &'a Value, path: &str) -> (&'a str, bool) {
    let f = must_find(check(report, "suid-files"), path);
    assert_eq!(f["violation"], true, "{f}");
    (f["origin"].as_str().unwrap(), f["counted"].as_bool().unwrap())
}

fn layer_origins(report: &Value) -> Vec<&str> {
    report["layers"].as_array().unwrap().iter().map(|l| l["origin"].as_str().unwrap()).collect()
}

/// The findings of the base's layer are `base`, the image's own `own`; with scope = own the
/// base one is set aside and the own one still fails.
fn assert_split(report: &Value, found_by: &str) {
    assert_eq!(report["base"]["found_by"], found_by, "{}", report["base"]);
    assert_eq!(report["base"]["layers"], 1);
    assert_eq!(layer_origins(report), ["base", "own"]);
    assert_eq!(origin_of(report, "/usr/local/bin/basetool"), ("base", true));
    assert_eq!(origin_of(report, "/app/owntool"), ("own", true));
    assert_eq!(status(report, "suid-files"), "fail");
}

#[test]
fn storage_base_image_option_splits_findings_and_scope_own_sets_the_base_aside() {
    let f = fixture();
    let out = scan(&f.store).args(["--pull", "never", "--base-image", BASE]).arg(&f.app).run();
    let report = out.report();
    assert_split(&report, "option");
    assert!(out.stdout.contains(&format!("base: {BASE}: the bottom 1 layer, found by --base-image")), "{}", out.stdout);

    let dir = Scratch::new("g-policy");
    let policy = policy_file(&dir);
    let out = scan(&f.store).args(["--pull", "never", "--base-image", BASE, "--policy"]).arg(&policy).arg(&f.app).run();
    let report = out.report();
    assert_eq!(status(&report, "suid-files"), "fail");
    assert_eq!(origin_of(&report, "/usr/local/bin/basetool"), ("base", false));
    assert_eq!(origin_of(&report, "/app/owntool"), ("own", true));
    let d = check(&report, "suid-files")["description"].as_str().unwrap();
    assert!(d.contains("1 base image violation set aside: scope = own"), "{d}");
    assert_valid_report(&report);

    // Nothing setuid of its own: the check passes, the base's finding still listed.
    let out = scan(&f.store)
        .args(["--pull", "never", "--base-image", BASE, "--policy"])
        .arg(&policy)
        .args(["--format", "markdown", "--format", "html"])
        .arg(&f.clean)
        .run();
    let report = out.report();
    assert_eq!(status(&report, "suid-files"), "pass", "{}", check(&report, "suid-files"));
    assert_eq!(origin_of(&report, "/usr/local/bin/basetool"), ("base", false));
    let md = &out.reports.iter().find(|(n, _)| n.ends_with(".md")).expect("a markdown report").1;
    // Markdown escapes the parentheses.
    assert!(md.contains(&format!("#### Base image \\({BASE}\\)")), "{md}");
    assert!(md.contains("set aside (scope = own)"), "{md}");
    let html = &out.reports.iter().find(|(n, _)| n.ends_with(".html")).expect("an html report").1;
    assert!(html.contains(&format!("<h4 class=\"origin\">Base image ({BASE})</h4>")));
    // Without the policy the same image fails on its base's file.
    let out = scan(&f.store).args(["--pull", "never", "--base-image", BASE]).arg(&f.clean).run();
    assert_eq!(status(&out.report(), "suid-files"), "fail");
}

#[test]
fn a_base_image_that_is_not_the_base_is_a_configuration_error() {
    let f = fixture();
    let out = scan(&f.store).args(["--pull", "never", "--base-image", "localhost/g-other:1"]).arg(&f.app).run();
    out.assert_code(24);
    out.one_error_line(&["--base-image localhost/g-other:1 is not the base of", APP, "layer 1 differs"]);
}

#[test]
fn without_the_option_the_annotations_then_the_history_give_the_base() {
    let f = fixture();
    // buildah from + commit annotates the base's name and digest.
    let report = scan(&f.store).args(["--pull", "never"]).arg(&f.app).run().report();
    assert_split(&report, "annotation");
    assert!(
        report["base"]["reference"].as_str().unwrap().starts_with("localhost/g-base@sha256:"),
        "{}",
        report["base"]
    );
    // Annotations emptied: the history's `FROM localhost/g-base:1`.
    let report = scan(&f.store).args(["--pull", "never"]).arg(&f.history_only).run().report();
    assert_split(&report, "history");
    assert_eq!(report["base"]["reference"], BASE);
    // The base itself: built from scratch, nothing names a base.
    let report = scan(&f.store).args(["--pull", "never"]).arg(&f.base).run().report();
    assert_eq!(report["base"]["found_by"], "none");
    assert_eq!(layer_origins(&report), ["own"]);
    assert!(report["base"]["note"].as_str().unwrap().contains("no FROM comment"), "{}", report["base"]);
    // scope = own cannot be honoured without a boundary: the violation counts, and it says so.
    let dir = Scratch::new("g-policy");
    let policy = policy_file(&dir);
    let report = scan(&f.store).args(["--pull", "never", "--policy"]).arg(&policy).arg(&f.base).run().report();
    assert_eq!(status(&report, "suid-files"), "fail");
    assert_eq!(origin_of(&report, "/usr/local/bin/basetool"), ("own", true));
    assert!(check(&report, "suid-files")["description"].as_str().unwrap().contains("scope = own not applied"));
}

#[test]
fn registry_source_base_image_option() {
    let f = fixture();
    let base = f.store.push(BASE, &repo("g-base"), "1");
    f.store.push(APP, &repo("g-app"), "1");
    let e = env();
    let base_ref = format!("{}/{}:1", e.registry, repo("g-base"));
    let app_ref = format!("{}/{}:1", e.registry, repo("g-app"));
    let out = fetch(&f.store).good_auth().args(["--base-image", &base_ref]).arg(&app_ref).run();
    let report = out.report();
    assert_split(&report, "option");
    assert_eq!(report["image"]["source"], "registry");

    // The annotation names localhost/g-base, which no registry serves: the history decides,
    // and the note says what was tried.
    let report = fetch(&f.store).good_auth().arg(&app_ref).run().report();
    assert_split(&report, "history");
    assert!(report["base"]["note"].as_str().unwrap().contains("could not be inspected"), "{}", report["base"]);

    // Pinned by digest, with scope = own.
    let dir = Scratch::new("g-policy");
    let policy = policy_file(&dir);
    let pinned = format!("{}/{}@{base}", e.registry, repo("g-base"));
    let report = fetch(&f.store)
        .good_auth()
        .args(["--base-image", &pinned, "--policy"])
        .arg(&policy)
        .arg(&app_ref)
        .run()
        .report();
    assert_eq!(report["base"]["digest"], base.as_str());
    assert_eq!(origin_of(&report, "/usr/local/bin/basetool"), ("base", false));
    assert_eq!(status(&report, "suid-files"), "fail");

    // Not a prefix: exit 24 on this source too.
    let other = format!("{}/{}:1", e.registry, repo("g-other"));
    f.store.push("localhost/g-other:1", &repo("g-other"), "1");
    let out = fetch(&f.store).good_auth().args(["--base-image", &other]).arg(&app_ref).run();
    out.assert_code(24);
    out.one_error_line(&["is not the base of", "layer 1 differs"]);
}
