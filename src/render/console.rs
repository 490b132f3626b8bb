//! The console report: one line per check, findings grouped by layer, colour only when
//! asked for. Every image-controlled string reaching here is already escaped.

use crate::report::{CheckResult, Finding, Report};
use crate::rules::Status;
use std::fmt::Write;

/// How many findings per check the console shows; the JSON report has them all.
const MAX_SHOWN: usize = 25;

pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

pub fn render(report: &Report, style: &Style) -> String {
    let mut out = String::new();
    let img = &report.image;
    let _ = writeln!(out, "{}", style.paint("1", &format!("Image {}", crate::escape::text(&img.reference))));
    if let Some(e) = &report.error {
        let _ = writeln!(out, "  {} {}", style.paint("33;1", "ERROR"), e.message);
        let _ = writeln!(out, "  exit code {}", report.summary.exit_code);
        return out;
    }
    // These come from the image's config and podman's records: escaped like everything
    // else the image controls.
    let esc = crate::escape::text;
    let _ = writeln!(
        out,
        "  digest {}  id {}  {}/{}{}  {} layer{}",
        esc(img.digest.as_deref().unwrap_or("-")),
        esc(img.id.get(..12).unwrap_or(&img.id)),
        esc(&img.os),
        esc(&img.architecture),
        if img.variant.is_empty() { String::new() } else { format!("/{}", esc(&img.variant)) },
        report.layers.len(),
        if report.layers.len() == 1 { "" } else { "s" },
    );
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for c in &report.checks {
        check_line(&mut out, c, width, style);
    }
    let s = &report.summary;
    let by_sev: Vec<String> =
        s.failed_by_severity.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{n} {k}")).collect();
    let verdict = match s.verdict.as_str() {
        "pass" => style.paint("32;1", "PASS"),
        "fail" => style.paint("31;1", "FAIL"),
        _ => style.paint("33;1", "ERROR"),
    };
    let _ = writeln!(
        out,
        "Result: {verdict}: {} failed{}, {} passed, {} skipped, {} error{}; exit code {}",
        s.failed,
        if by_sev.is_empty() { String::new() } else { format!(" ({})", by_sev.join(", ")) },
        s.passed,
        s.skipped,
        s.errors,
        if s.errors == 1 { "" } else { "s" },
        s.exit_code
    );
    out
}

fn check_line(out: &mut String, c: &CheckResult, width: usize, style: &Style) {
    let status = match c.status {
        Status::Pass => style.paint("32", "PASS "),
        Status::Fail => style.paint("31;1", "FAIL "),
        Status::Skipped => style.paint("2", "SKIP "),
        Status::Error => style.paint("33;1", "ERROR"),
    };
    let _ = writeln!(out, "{status} {:<8} {:<width$}  {}", c.severity.label(), c.id, c.description);
    let mut last_layer = 0;
    for f in c.findings.iter().take(MAX_SHOWN) {
        if f.layer != last_layer {
            last_layer = f.layer;
            let _ = writeln!(out, "        layer {} {}{}", f.layer, short_digest(&f.layer_digest), created_by(f));
        }
        let _ = writeln!(out, "          {}", finding_line(f));
    }
    if c.findings.len() > MAX_SHOWN {
        let _ = writeln!(out, "          … {} more in the JSON report", c.findings.len() - MAX_SHOWN);
    }
}

fn finding_line(f: &Finding) -> String {
    let mut s = format!("{}  {} {}:{}", f.path, f.permissions, f.uid, f.gid);
    if let Some(t) = &f.link_target {
        let _ = write!(s, " -> {t}");
    }
    if let Some(n) = &f.note {
        let _ = write!(s, "  ({n})");
    } else if !f.violation {
        s.push_str("  (information)");
    }
    s
}

/// `sha256:` and 12 digits; cut on a character boundary and escaped, since the layer
/// digest comes from the image's config.
fn short_digest(d: &str) -> String {
    let keep = d.find(':').map(|i| i + 13).unwrap_or(12);
    let cut = d.char_indices().map(|(i, _)| i).find(|&i| i >= keep).unwrap_or(d.len());
    crate::escape::text(&d[..cut])
}

fn created_by(f: &Finding) -> String {
    if f.created_by.is_empty() {
        return String::new();
    }
    let mut c: String = f.created_by.chars().take(80).collect();
    if c.len() < f.created_by.len() {
        c.push('…');
    }
    format!("  {c}")
}

/// The merged summary: one line per image, then the overall result.
pub fn render_merged(s: &crate::merge::MergedSummary, style: &Style) -> String {
    let mut out = String::new();
    let width = s.images.iter().map(|i| i.reference.chars().count()).max().unwrap_or(0);
    for img in &s.images {
        let verdict = verdict_word(&img.verdict, style);
        let failed: Vec<&str> = s
            .checks
            .iter()
            .zip(&img.statuses)
            .filter(|(_, st)| matches!(st, Some(Status::Fail) | Some(Status::Error)))
            .map(|(c, _)| c.id.as_str())
            .collect();
        let detail = match &img.error {
            Some(e) => crate::escape::controls(e).into_owned(),
            None if failed.is_empty() => String::new(),
            None => failed.join(", "),
        };
        let _ = writeln!(out, "{verdict} {:<width$}  exit {:<3} {detail}", img.reference, img.exit_code);
    }
    let t = &s.totals;
    let by_sev: Vec<String> =
        t.failed_by_severity.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{n} {k}")).collect();
    let _ = writeln!(
        out,
        "Summary: {}: {} image{}: {} passed, {} failed, {} in error{}; exit code {}",
        match s.verdict.as_str() {
            "pass" => style.paint("32;1", "PASS"),
            "fail" => style.paint("31;1", "FAIL"),
            _ => style.paint("33;1", "ERROR"),
        },
        t.images,
        if t.images == 1 { "" } else { "s" },
        t.passed,
        t.failed,
        t.errors,
        if by_sev.is_empty() { String::new() } else { format!(" (failed checks: {})", by_sev.join(", ")) },
        s.exit_code
    );
    out
}

fn verdict_word(v: &str, style: &Style) -> String {
    match v {
        "pass" => style.paint("32;1", "PASS "),
        "fail" => style.paint("31;1", "FAIL "),
        _ => style.paint("33;1", "ERROR"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{ImageInfo, LayerInfo, SettingsInfo};
    use crate::rules::{Severity, Status};

    #[test]
    fn image_controlled_header_and_layer_digests_are_escaped_and_never_split_a_character() {
        // Found by fuzz/fuzz_targets/inspect.rs: a RootFS layer "sha\u{8}…" reached the
        // console raw; a multi-byte character at the cut made the slice panic.
        let settings =
            SettingsInfo::new("never", None, Default::default(), Severity::Informational, None, Default::default());
        let image = ImageInfo {
            reference: "a/b:1".into(),
            id: "\u{1b}[2Jéééééééééééééé".into(),
            os: "linux\u{1b}[31m".into(),
            architecture: "amd64\n".into(),
            variant: "v8\u{9b}".into(),
            digest: Some("sha256:\u{7}".into()),
            ..Default::default()
        };
        let finding = |layer: usize, digest: &str| Finding {
            path: "/x".into(),
            layer,
            layer_digest: digest.into(),
            created_by: String::new(),
            kind: crate::layers::Kind::File,
            mode: "4755".into(),
            permissions: "-rwsr-xr-x".into(),
            uid: 0,
            gid: 0,
            size: 1,
            link_target: None,
            visible: true,
            violation: true,
            note: None,
            waiver: None,
        };
        let check = CheckResult {
            id: "suid-files".into(),
            title: "t".into(),
            rationale: "r".into(),
            severity: Severity::Critical,
            default_severity: Severity::Critical,
            status: Status::Fail,
            description: "1 setuid file".into(),
            mitigation: "m".into(),
            findings: vec![finding(1, "sha\u{8}00ff"), finding(2, "sha256:0123456789aé"), finding(3, "é")],
            waiver: None,
        };
        let layer = LayerInfo { number: 1, diff_id: String::new(), created_by: String::new(), entries: 1, size: 1, whiteouts: 0, findings: 1, errors: vec![] };
        let r = Report::new(settings, image, vec![layer], vec![check], Vec::new(), None);
        let out = render(&r, &Style { color: false });
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out}");
        assert!(out.contains("linux\\x1b[31m/amd64\\x0a/v8\\u{009b}"), "{out}");
        assert!(out.contains("sha\\x0800ff"), "{out}");
        assert!(out.contains("sha256:0123456789aé"), "{out}");
    }
}
