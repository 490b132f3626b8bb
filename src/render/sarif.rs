//! SARIF 2.1.0: one run per image, one rule per check id (rationale and remediation as its
//! help), one result per finding and one per failed check that has no violating finding.
//! Every result has a location: a finding's file as an artifact location relative to the
//! image root (`uriBaseId` `IMAGEROOT`, the path percent-encoded from its original bytes),
//! and always a logical location naming the image. Checks that could not be evaluated, and a
//! scan that stopped early, are tool execution notifications with `executionSuccessful`
//! false. A violation covered by a policy waiver is a result with an accepted external
//! suppression carrying the waiver's reason (SARIF viewers hide suppressed results).
//! Produced with serde, so the output is valid JSON whatever the image contains.

use crate::model::{AppliedWaiver, CheckResult, Finding, Report, Severity, Status};
use serde_json::{json, Value};

pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium | Severity::Low => "warning",
        Severity::Informational => "note",
    }
}

/// The `security-severity` score GitHub code scanning sorts by.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Informational => "0.0",
    }
}

/// A path of the image as a relative URI reference: unreserved characters and `/` kept,
/// every other byte of the original (unescaped) path percent-encoded.
pub fn path_uri(path: &str) -> String {
    let bytes = crate::escape::unescape(path).unwrap_or_else(|| path.as_bytes().to_vec());
    let rel = bytes.strip_prefix(b"/").unwrap_or(&bytes);
    let mut out = String::with_capacity(rel.len());
    for &b in rel {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn pascal(id: &str) -> String {
    id.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

fn rule(c: &CheckResult) -> Value {
    json!({
        "id": c.id,
        "name": pascal(&c.id),
        "shortDescription": { "text": c.title },
        "fullDescription": { "text": if c.rationale.is_empty() { c.title.clone() } else { c.rationale.clone() } },
        "help": {
            "text": format!("{}\n\nRemediation: {}", c.rationale, c.mitigation),
            "markdown": format!("{}\n\n**Remediation:** {}", c.rationale, c.mitigation),
        },
        "defaultConfiguration": { "level": level(c.severity) },
        "properties": {
            "tags": ["security", "container"],
            "security-severity": security_severity(c.severity),
            "severity": c.severity,
        },
    })
}

fn image_location(r: &Report) -> Value {
    json!({
        "name": crate::escape::text(&r.image.reference),
        "fullyQualifiedName": crate::escape::text(&r.image.reference),
        "kind": "resource",
    })
}

fn suppression(w: &AppliedWaiver) -> Value {
    let mut j = format!("waived by policy waiver {}: {}", w.index, w.reason);
    if let Some(e) = &w.expires {
        j.push_str(&format!(" (until {e})"));
    }
    json!([{ "kind": "external", "status": "accepted", "justification": j }])
}

fn finding_result(r: &Report, c: &CheckResult, rule_index: usize, f: &Finding) -> Value {
    let mut msg = format!("{}: {} (layer {}", c.title, f.path, f.layer);
    if !f.visible {
        msg.push_str(", not in the final image");
    }
    msg.push(')');
    if let Some(n) = &f.note {
        msg.push_str(&format!(": {n}"));
    }
    msg.push_str(&super::lines::package_text(f));
    // `violation` is only ever set on a finding that fails its check (unless waived).
    let violation = f.violation;
    let mut result = json!({
        "ruleId": c.id,
        "ruleIndex": rule_index,
        "kind": if violation { "fail" } else { "informational" },
        "level": if violation { level(c.severity) } else { "none" },
        "message": { "text": msg },
        "locations": [{
            "physicalLocation": { "artifactLocation": { "uri": path_uri(&f.path), "uriBaseId": "IMAGEROOT" } },
            "logicalLocations": [image_location(r)],
        }],
        "partialFingerprints": { "ociCompliance/v1": super::codequality::fingerprint(r, &c.id, &super::lines::fingerprint_key(f)) },
        "properties": {
            "image": crate::escape::text(&r.image.reference),
            "path": f.path,
            "layer": f.layer,
            "layerDigest": f.layer_digest,
            "createdBy": f.created_by,
            "kind": f.kind,
            "mode": f.mode,
            "permissions": f.permissions,
            "uid": f.uid,
            "gid": f.gid,
            "visible": f.visible,
            "violation": f.violation,
            "origin": f.origin,
        },
    });
    if let Some(t) = &f.link_target {
        result["properties"]["linkTarget"] = json!(t);
    }
    if let Some(p) = &f.package {
        result["properties"]["package"] = json!(p);
    }
    if f.not_owned {
        result["properties"]["notOwned"] = json!(true);
    }
    if let Some(fix) = &f.fix {
        result["properties"]["fix"] = json!(fix);
    }
    if let Some(w) = f.waiver.as_ref().or(c.waiver.as_ref()).filter(|_| violation) {
        result["suppressions"] = suppression(w);
    } else if violation && !f.counted {
        // Still a violation, in the base image the policy does not hold this image to.
        result["suppressions"] = json!([{
            "kind": "external",
            "status": "accepted",
            "justification": "in the base image: set aside by the policy's scope = \"own\"",
        }]);
    }
    result
}

fn run(r: &Report) -> Value {
    let rules: Vec<Value> = r.checks.iter().map(rule).collect();
    let mut results = Vec::new();
    let mut notifications = Vec::new();
    for (i, c) in r.checks.iter().enumerate() {
        match c.status {
            Status::Error => notifications.push(json!({
                "level": "error",
                "message": { "text": format!("{} could not be evaluated: {}", c.id, c.description) },
                "descriptor": { "id": c.id },
            })),
            _ if (c.status == Status::Fail || c.waiver.is_some()) && !c.findings.iter().any(|f| f.violation) => {
                let mut result = json!({
                    "ruleId": c.id,
                    "ruleIndex": i,
                    "kind": "fail",
                    "level": level(c.severity),
                    "message": { "text": format!("{}: {}", c.title, c.description) },
                    "locations": [{ "logicalLocations": [image_location(r)] }],
                    "partialFingerprints": { "ociCompliance/v1": super::codequality::fingerprint(r, &c.id, "") },
                    "properties": { "image": crate::escape::text(&r.image.reference) },
                });
                if let Some(w) = &c.waiver {
                    result["suppressions"] = suppression(w);
                }
                results.push(result);
            }
            _ => {}
        }
        if c.status != Status::Skipped {
            results.extend(c.findings.iter().map(|f| finding_result(r, c, i, f)));
        }
    }
    if let Some(e) = &r.error {
        notifications.push(json!({
            "level": "error",
            "message": { "text": format!("the scan stopped ({}, exit code {}): {}", e.kind.name(), e.exit_code, e.message) },
        }));
    }
    let mut invocation = json!({
        "executionSuccessful": notifications.is_empty(),
        "endTimeUtc": r.scanned_at,
        "exitCode": r.summary.exit_code,
    });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = Value::Array(notifications);
    }
    json!({
        "tool": { "driver": {
            "name": r.tool.name,
            "version": r.tool.version,
            "rules": rules,
        }},
        "invocations": [invocation],
        "results": results,
        "properties": {
            "image": {
                "reference": crate::escape::text(&r.image.reference),
                "digest": r.image.digest,
                "id": r.image.id,
                "os": crate::escape::text(&r.image.os),
                "architecture": crate::escape::text(&r.image.architecture),
            },
            "verdict": r.summary.verdict,
            "settingsDigest": r.settings_digest,
        },
    })
}

pub fn render(reports: &[&Report]) -> Vec<u8> {
    let doc = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": reports.iter().map(|r| run(r)).collect::<Vec<_>>(),
    });
    let mut v = serde_json::to_vec_pretty(&doc).expect("always serialises");
    v.push(b'\n');
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(path_uri("/usr/bin/su"), "usr/bin/su");
        assert_eq!(path_uri("/opt/a b#c?d%"), "opt/a%20b%23c%3Fd%25");
        assert_eq!(path_uri("/x/\\xff\\x0a"), "x/%FF%0A");
        assert_eq!(path_uri("/caf\u{e9}"), "caf%C3%A9");
    }

    #[test]
    fn rule_names() {
        assert_eq!(pascal("admin-ports-exposed"), "AdminPortsExposed");
    }
}
