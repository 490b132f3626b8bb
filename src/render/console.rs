//! The console report: one line per check, findings grouped by layer, colour only when
//! asked for. Every image-controlled string reaching here is already escaped.

use crate::model::{CheckResult, Finding, Report, SeverityCounts, Status, Verdict};
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
        crate::text::plural(report.layers.len(), "", "s"),
    );
    if let Some(b) = &report.base {
        let _ = writeln!(out, "  base: {}", b.describe());
    }
    if let Some(p) = &report.packages {
        let dbs: Vec<String> = p
            .databases
            .iter()
            .filter(|d| d.status != "absent")
            .map(|d| {
                let what = match d.status.as_str() {
                    "found" => format!("{} package{}", d.count, crate::text::plural(d.count, "", "s")),
                    other => other.to_string(),
                };
                match &d.reason {
                    Some(r) => format!("{}: {what} ({r})", d.ecosystem),
                    None => format!("{}: {what}", d.ecosystem),
                }
            })
            .collect();
        match dbs.is_empty() {
            true => out.push_str("  packages: no package database found; findings do not name packages\n"),
            false => {
                let _ = writeln!(out, "  packages: {}", dbs.join(", "));
            }
        }
    }
    let width = report.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for c in &report.checks {
        check_line(&mut out, c, width, style);
    }
    let s = &report.summary;
    let by_sev = severity_counts(&s.failed_by_severity);
    let verdict = verdict_word(s.verdict, style);
    let _ = writeln!(
        out,
        "Result: {verdict}: {} failed{}, {} passed, {} skipped, {} error{}; exit code {}",
        s.failed,
        if by_sev.is_empty() { String::new() } else { format!(" ({})", by_sev.join(", ")) },
        s.passed,
        s.skipped,
        s.errors,
        crate::text::plural(s.errors, "", "s"),
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
            let _ = writeln!(
                out,
                "        layer {} {}{}{}",
                f.layer,
                crate::escape::text(&crate::text::short_digest(&f.layer_digest)),
                if f.origin == crate::model::Origin::Base { " [base image]" } else { "" },
                created_by(f)
            );
        }
        let _ = writeln!(out, "          {}", finding_line(f));
    }
    if c.findings.len() > MAX_SHOWN {
        let _ = writeln!(out, "          … {} more in the JSON report", c.findings.len() - MAX_SHOWN);
    }
}

fn finding_line(f: &Finding) -> String {
    let mut s = if f.kind == crate::model::EntryKind::Config {
        f.path.clone()
    } else {
        format!("{}  {} {}:{}", f.path, f.permissions, f.uid, f.gid)
    };
    if let Some(t) = &f.link_target {
        let _ = write!(s, " -> {t}");
    }
    if let Some(n) = &f.note {
        let _ = write!(s, "  ({n})");
    } else if !f.violation {
        s.push_str("  (information)");
    }
    if !f.counted {
        s.push_str("  (base image: set aside, scope = own)");
    }
    // An installed-package finding names its package in its location already.
    if let Some(p) = f.package.as_ref().filter(|_| f.kind != crate::model::EntryKind::Config) {
        let _ = write!(s, "  from package {} {} ({})", p.name, p.version, p.ecosystem);
    } else if f.not_owned {
        s.push_str("  not owned by any package: copied in by hand");
    }
    if let Some(fix) = &f.fix {
        let _ = write!(s, "  fix: {fix}");
    }
    s
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
pub fn render_merged(s: &crate::model::MergedSummary, style: &Style) -> String {
    let mut out = String::new();
    let width = s.images.iter().map(|i| i.reference.chars().count()).max().unwrap_or(0);
    for img in &s.images {
        let verdict = verdict_cell(img.verdict, style);
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
    let by_sev = severity_counts(&t.failed_by_severity);
    let _ = writeln!(
        out,
        "Summary: {}: {} image{}: {} passed, {} failed, {} in error{}; exit code {}",
        verdict_word(s.verdict, style),
        t.images,
        crate::text::plural(t.images, "", "s"),
        t.passed,
        t.failed,
        t.errors,
        if by_sev.is_empty() { String::new() } else { format!(" (failed checks: {})", by_sev.join(", ")) },
        s.exit_code
    );
    out
}

fn verdict_word(v: Verdict, style: &Style) -> String {
    style.paint(verdict_colour(v), v.label())
}

/// The verdict padded to one width, for a column.
fn verdict_cell(v: Verdict, style: &Style) -> String {
    style.paint(verdict_colour(v), &format!("{:<5}", v.label()))
}

fn verdict_colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "32;1",
        Verdict::Fail => "31;1",
        Verdict::Error => "33;1",
    }
}

/// "2 critical, 1 medium": the non-zero counts, most severe first.
fn severity_counts(c: &SeverityCounts) -> Vec<String> {
    c.iter().filter(|&(_, n)| n > 0).map(|(s, n)| format!("{n} {}", s.name())).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn package_findings_name_their_package_once_and_their_fix() {
        let mut f = crate::model::Finding {
            layer: 2,
            mode: "0000".into(),
            note: Some("installs /usr/bin/socat".into()),
            package: Some(crate::model::PackageRef {
                name: "socat".into(),
                version: "1.7.4.4-2".into(),
                arch: "amd64".into(),
                ecosystem: "deb".into(),
            }),
            fix: Some("apt-get purge --auto-remove socat".into()),
            ..crate::model::Finding::test(
                "package socat 1.7.4.4-2 (amd64, deb) installed",
                crate::model::EntryKind::Config,
            )
        };
        assert_eq!(
            super::finding_line(&f),
            "package socat 1.7.4.4-2 (amd64, deb) installed  (installs /usr/bin/socat)  fix: apt-get purge --auto-remove socat"
        );
        f.kind = crate::model::EntryKind::File;
        f.path = "/usr/bin/socat".into();
        f.permissions = "-rwxr-xr-x".into();
        assert!(super::finding_line(&f).contains("  from package socat 1.7.4.4-2 (deb)  fix: "));
    }

    use super::*;
    use crate::model::{ImageInfo, LayerInfo, Severity, Status};

    #[test]
    fn image_controlled_header_and_layer_digests_are_escaped_and_never_split_a_character() {
        // Found by fuzz/fuzz_targets/inspect.rs: a RootFS layer "sha\u{8}…" reached the
        // console raw; a multi-byte character at the cut made the slice panic.
        let settings = crate::engine::settings::settings_info(
            "never",
            None,
            Default::default(),
            Severity::Informational,
            None,
            Default::default(),
        );
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
            layer,
            layer_digest: digest.into(),
            mode: "4755".into(),
            permissions: "-rwsr-xr-x".into(),
            size: 1,
            ..Finding::test("/x", crate::model::EntryKind::File)
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
            controls: vec![],
            findings: vec![finding(1, "sha\u{8}00ff"), finding(2, "sha256:0123456789aé"), finding(3, "é")],
            waiver: None,
        };
        let layer = LayerInfo {
            number: 1,
            diff_id: String::new(),
            created_by: String::new(),
            steps: vec![],
            entries: 1,
            size: 1,
            whiteouts: 0,
            findings: 1,
            errors: vec![],
            origin: crate::model::Origin::Own,
        };
        let r = crate::engine::new_report(settings, image, vec![layer], vec![check], Vec::new(), None);
        let out = render(&r, &Style { color: false });
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out}");
        assert!(out.contains("linux\\x1b[31m/amd64\\x0a/v8\\u{009b}"), "{out}");
        assert!(out.contains("sha\\x0800ff"), "{out}");
        assert!(out.contains("sha256:0123456789aé"), "{out}");
    }
}
