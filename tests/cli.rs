//! The binary's report options end to end: `merge` (no podman needed) and the configuration
//! checks `scan` makes before it would call podman.

use crate::support::{self, fixture, Report};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary with a clean environment: only what a test sets explicitly, and a podman that
/// cannot run.
fn bin() -> Command {
    let mut c = support::bin();
    c.env("COMPLIANCE_PODMAN", "/nonexistent/podman");
    c
}

fn write_report(dir: &Path, name: &str, r: &Report) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, serde_json::to_vec_pretty(r).unwrap()).unwrap();
    p
}

fn run(c: &mut Command) -> (i32, String, String) {
    let out = support::run(c);
    (out.code.unwrap_or(-1), out.stdout, out.stderr)
}

#[test]
fn merge_writes_every_format_and_gates_over_all_images() {
    let d = tempfile::tempdir().unwrap();
    let a = write_report(d.path(), "app.json", &fixture::sample());
    let b = write_report(d.path(), "tiny.json", &fixture::passing());
    let out = d.path().join("out");
    let (code, stdout, stderr) = run(bin().arg("merge").arg(&a).arg(&b).arg("--reports-dir").arg(&out).args([
        "--format",
        "html,markdown",
        "--format",
        "junit",
        "--color",
        "never",
    ]));
    assert_eq!(code, 12, "the worst failure is Critical\n{stderr}");
    for f in ["merged.json", "merged.html", "merged.md", "merged.junit.xml"] {
        assert!(out.join(f).is_file(), "{f} missing; {stderr}");
    }
    assert!(stdout.contains("FAIL  registry.example.com:5000/team/app:1.4.2"), "{stdout}");
    assert!(stdout.contains("Summary: FAIL: 2 images: 1 passed, 1 failed, 0 in error"), "{stdout}");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("merged.json")).unwrap()).unwrap();
    assert_eq!(summary["exit_code"], 12);
    assert_eq!(summary["kind"], "oci-compliance-merge");
    let html = std::fs::read_to_string(out.join("merged.html")).unwrap();
    assert!(
        html.contains("href=\"#i1-suid-files\"") && html.contains("id=\"i1-suid-files\""),
        "cells link to the detail"
    );
    assert!(html.contains("id=\"i2\""));
}

#[test]
fn operational_failure_outranks_policy_in_merge() {
    let d = tempfile::tempdir().unwrap();
    let a = write_report(d.path(), "app.json", &fixture::sample());
    let b = write_report(d.path(), "broken.json", &fixture::failed_scan());
    let (code, _, stderr) = run(bin().arg("merge").arg(&a).arg(&b).arg("--reports-dir").arg(d.path()));
    assert_eq!(code, 20, "{stderr}");
}

#[test]
fn formats_and_exit_codes_come_from_the_environment_too() {
    let d = tempfile::tempdir().unwrap();
    let a = write_report(d.path(), "app.json", &fixture::sample());
    let (code, _, stderr) = run(bin()
        .arg("merge")
        .arg(&a)
        .env("COMPLIANCE_REPORTS_DIR", d.path().join("r"))
        .env("COMPLIANCE_FORMATS", "sarif,codequality,legacy-json")
        .env("COMPLIANCE_MERGE_NAME", "all")
        .env("CRITICAL_EXIT_CODE", "3"));
    assert_eq!(code, 3, "{stderr}");
    for f in ["all.json", "all.sarif", "all.codequality.json", "all.legacy.json"] {
        assert!(d.path().join("r").join(f).is_file(), "{f}");
    }
}

#[test]
fn empty_settings_in_the_environment_mean_none() {
    let d = tempfile::tempdir().unwrap();
    let a = write_report(d.path(), "app.json", &fixture::passing());
    let (code, _, stderr) = run(bin()
        .arg("merge")
        .arg(&a)
        .arg("--reports-dir")
        .arg(d.path())
        .env("COMPLIANCE_FORMATS", "")
        .env("COMPLIANCE_TEMPLATES_DIR", ""));
    assert_eq!(code, 0, "{stderr}");
    let (code, _, stderr) =
        run(bin().arg("merge").arg(&a).arg("--reports-dir").arg(d.path()).env("COMPLIANCE_FORMATS", " html , junit "));
    assert_eq!(code, 0, "{stderr}");
    assert!(d.path().join("merged.html").is_file() && d.path().join("merged.junit.xml").is_file());
}

#[test]
fn merge_skips_other_outputs_and_earlier_summaries() {
    let d = tempfile::tempdir().unwrap();
    let a = write_report(d.path(), "app.json", &fixture::passing());
    std::fs::write(d.path().join("app.codequality.json"), "[]").unwrap();
    std::fs::write(d.path().join("app.legacy.json"), "{}").unwrap();
    let (code, _, stderr) = run(bin().arg("merge").arg(&a).arg("--reports-dir").arg(d.path()));
    assert_eq!(code, 0, "{stderr}");
    // What it just wrote, and the index a multi-image scan writes, passed back in with a
    // glob: recognised and skipped.
    std::fs::write(d.path().join("summary.json"), r#"{"schema_version": 1, "images": [], "exit_code": 0}"#).unwrap();
    let mut c = bin();
    c.arg("merge").arg("--reports-dir").arg(d.path());
    for f in ["app.json", "app.codequality.json", "app.legacy.json", "merged.json", "summary.json"] {
        c.arg(d.path().join(f));
    }
    let (code, _, stderr) = run(&mut c);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("merged.json: a summary, not a report"), "{stderr}");
    assert!(stderr.contains("summary.json: a summary, not a report"), "{stderr}");
}

#[test]
fn an_unreadable_report_is_exit_24_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let a = write_report(d.path(), "app.json", &fixture::sample());
    let bad = d.path().join("truncated.json");
    std::fs::write(&bad, b"{\"schema_version\": 1, \"checks\": [").unwrap();
    let missing = d.path().join("missing.json");
    let other = d.path().join("other.json");
    std::fs::write(&other, b"{\"hello\": 1}").unwrap();
    let newer = d.path().join("newer.json");
    std::fs::write(&newer, b"{\"schema_version\": 99}").unwrap();
    let wrong = d.path().join("wrong.json");
    std::fs::write(&wrong, b"{\"schema_version\": 1, \"checks\": 5}").unwrap();
    for (f, why) in [
        (&bad, "is not JSON"),
        (&missing, "cannot read report"),
        (&other, "not an oci-compliance report"),
        (&newer, "schema version 99"),
        (&wrong, "does not match the report schema"),
    ] {
        let (code, _, stderr) = run(bin().arg("merge").arg(&a).arg(f).arg("--reports-dir").arg(d.path()));
        assert_eq!(code, 24, "{stderr}");
        assert!(stderr.contains(&f.display().to_string()) && stderr.contains(why), "{stderr}");
    }
}

#[test]
fn no_reports_to_merge_is_exit_22() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("x.sarif"), b"{}").unwrap();
    let (code, _, stderr) = run(bin().arg("merge").arg(d.path().join("x.sarif")).arg("--reports-dir").arg(d.path()));
    assert_eq!(code, 22, "{stderr}");
}

#[test]
fn a_broken_user_template_is_exit_24() {
    let d = tempfile::tempdir().unwrap();
    let a = write_report(d.path(), "app.json", &fixture::sample());
    let t = d.path().join("templates");
    std::fs::create_dir(&t).unwrap();
    // Compiles, but names a field the model does not have: strict mode fails the render.
    std::fs::write(t.join("report.md.hbs"), "{{no_such_field}}").unwrap();
    std::fs::write(t.join("merge.md.hbs"), "{{no_such_field}}").unwrap();
    let (code, _, stderr) = run(bin()
        .arg("merge")
        .arg(&a)
        .args(["--format", "markdown,html"])
        .arg("--templates")
        .arg(&t)
        .arg("--reports-dir")
        .arg(d.path()));
    assert_eq!(code, 24, "{stderr}");
    assert!(stderr.contains("no_such_field") && stderr.contains("merge.md.hbs"), "{stderr}");
    assert!(d.path().join("merged.html").is_file(), "the other formats are still written");
    assert!(!d.path().join("merged.md").exists());
    // A template that does not compile stops `scan` before podman is looked for.
    std::fs::write(t.join("report.html.hbs"), "{{#each}}").unwrap();
    let (code, _, stderr) = run(bin()
        .args(["scan", "example.com/app:1", "--format", "html"])
        .arg("--templates")
        .arg(&t)
        .arg("--reports-dir")
        .arg(d.path()));
    assert_eq!(code, 24, "{stderr}");
    assert!(stderr.contains("report.html.hbs") && !stderr.contains("podman"), "{stderr}");
}

#[test]
fn an_unknown_format_is_a_configuration_error() {
    let (code, _, stderr) = run(bin().args(["scan", "example.com/app:1", "--format", "pdf"]));
    assert_eq!(code, 24, "{stderr}");
    let (code, _, stderr) = run(bin().args(["scan", "example.com/app:1"]).env("COMPLIANCE_FORMATS", "html,pdf"));
    assert_eq!(code, 24, "{stderr}");
}
