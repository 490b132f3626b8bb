//! GitLab Code Quality (a subset of the Code Climate issue format): one issue per violating
//! finding of a failed check that no waiver covers, and one per failed check without such
//! findings (a check whose violations are all waived no longer fails). Produced with
//! serde, not a template, so the output is valid JSON whatever the image contains.
//!
//! - `fingerprint`: SHA-256 of the image's registry/repository (no tag or digest, so it is
//!   stable across versions of the image), the check id and the path; the same finding in
//!   the next pipeline has the same fingerprint, which is how GitLab tells new from fixed.
//! - `severity`: Informational→info, Low→minor, Medium→major, High→critical,
//!   Critical→blocker.
//! - `location.path`: the file's path inside the image without the leading `/`; findings
//!   about the image as a whole (tag, user, labels, …) point at `Dockerfile`, where they are
//!   fixed. `lines.begin` is always 1.

use crate::model::{Finding, Report, Severity, Status};
use serde::Serialize;
use std::collections::HashSet;

/// Where image-level findings point.
pub const IMAGE_LEVEL_PATH: &str = "Dockerfile";

#[derive(Serialize)]
struct Issue {
    #[serde(rename = "type")]
    kind: &'static str,
    check_name: String,
    description: String,
    categories: [&'static str; 1],
    severity: &'static str,
    fingerprint: String,
    location: Location,
}

#[derive(Serialize)]
struct Location {
    path: String,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: u32,
}

pub fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Informational => "info",
        Severity::Low => "minor",
        Severity::Medium => "major",
        Severity::High => "critical",
        Severity::Critical => "blocker",
    }
}

/// What identifies the image across runs: registry/repository, else the reference.
pub fn image_identity(r: &Report) -> String {
    match (&r.image.registry, &r.image.repository) {
        (Some(reg), Some(repo)) => format!("{reg}/{repo}"),
        (None, Some(repo)) => repo.clone(),
        _ => r.image.reference.clone(),
    }
}

pub fn fingerprint(r: &Report, check: &str, path: &str) -> String {
    crate::sha256::hex(format!("oci-compliance\n{}\n{check}\n{path}", image_identity(r)).as_bytes())
}

pub fn render(reports: &[&Report]) -> Vec<u8> {
    let mut issues = Vec::new();
    let mut seen = HashSet::new();
    for r in reports {
        let reference = crate::escape::text(&r.image.reference);
        for c in r.checks.iter().filter(|c| c.status == Status::Fail) {
            let violations: Vec<&Finding> =
                c.findings.iter().filter(|f| f.violation && f.counted && f.waiver.is_none()).collect();
            if violations.is_empty() {
                let fp = fingerprint(r, &c.id, "");
                if seen.insert(fp.clone()) {
                    issues.push(Issue {
                        kind: "issue",
                        check_name: c.id.clone(),
                        description: format!("{}: {} ({reference})", c.title, c.description),
                        categories: ["Security"],
                        severity: severity(c.severity),
                        fingerprint: fp,
                        location: Location { path: IMAGE_LEVEL_PATH.to_string(), lines: Lines { begin: 1 } },
                    });
                }
            }
            for f in violations {
                let fp = fingerprint(r, &c.id, &super::lines::fingerprint_key(f));
                if !seen.insert(fp.clone()) {
                    continue;
                }
                issues.push(Issue {
                    kind: "issue",
                    check_name: c.id.clone(),
                    description: format!(
                        "{}: {} (layer {}) in {reference}{}",
                        c.title,
                        f.path,
                        f.layer,
                        super::lines::package_text(f)
                    ),
                    categories: ["Security"],
                    severity: severity(c.severity),
                    fingerprint: fp,
                    location: Location { path: f.path.trim_start_matches('/').to_string(), lines: Lines { begin: 1 } },
                });
            }
        }
    }
    let mut v = serde_json::to_vec_pretty(&issues).expect("issues always serialise");
    v.push(b'\n');
    v
}
