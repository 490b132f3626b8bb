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
    let _ = writeln!(
        out,
        "  digest {}  id {}  {}/{}{}  {} layer{}",
        img.digest.as_deref().unwrap_or("-"),
        img.id.get(..12).unwrap_or(&img.id),
        img.os,
        img.architecture,
        if img.variant.is_empty() { String::new() } else { format!("/{}", img.variant) },
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

fn short_digest(d: &str) -> &str {
    let end = d.find(':').map(|i| i + 13).unwrap_or(12).min(d.len());
    &d[..end]
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
