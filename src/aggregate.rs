//! Aggregation: many JSON reports (e.g. from parallel CI jobs) read back and combined into one
//! summary with the same exit-code contract as `scan`: each report's outcome comes from
//! `Report::outcome()`, and they are combined with `Outcome::combine` (an operational failure
//! outranks any policy result; among policy results the worst failed severity wins).

use crate::model::{
    CheckColumn, ExitCodes, MergedImage, MergedSummary, Outcome, Report, SeverityCounts, Status, ToolInfo, Totals,
    Verdict, MERGED_KIND, SCHEMA_VERSION,
};

/// The combined outcome of all reports (None for no reports).
pub fn outcome<'a>(reports: impl IntoIterator<Item = &'a Report>) -> Option<Outcome> {
    reports.into_iter().map(Report::outcome).reduce(Outcome::combine)
}

pub fn summarize(sources: &[(String, Report)], codes: ExitCodes, generated_at: String) -> MergedSummary {
    let combined = outcome(sources.iter().map(|(_, r)| r)).unwrap_or(Outcome::Policy(None));
    let mut checks: Vec<CheckColumn> = Vec::new();
    for (_, r) in sources {
        for c in &r.checks {
            if !checks.iter().any(|k| k.id == c.id) {
                checks.push(CheckColumn { id: c.id.clone(), title: c.title.clone(), severity: c.severity });
            }
        }
    }
    let images: Vec<MergedImage> = sources
        .iter()
        .map(|(source, r)| MergedImage {
            source: crate::escape::text(source),
            reference: crate::escape::text(&r.image.reference),
            digest: r.image.digest.clone(),
            scanned_at: r.scanned_at.clone(),
            verdict: r.summary.verdict,
            exit_code: r.summary.exit_code,
            error: r.error.as_ref().map(|e| e.message.clone()),
            statuses: checks.iter().map(|k| r.checks.iter().find(|c| c.id == k.id).map(|c| c.status)).collect(),
        })
        .collect();
    let failed =
        || sources.iter().flat_map(|(_, r)| &r.checks).filter(|c| c.status == Status::Fail).map(|c| c.severity);
    let count = |v: Verdict| images.iter().filter(|i| i.verdict == v).count();
    MergedSummary {
        kind: MERGED_KIND.to_string(),
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo::default(),
        generated_at,
        verdict: combined.verdict(),
        exit_code: combined.code(&codes),
        worst_failed_severity: failed().max(),
        exit_codes: codes,
        totals: Totals {
            images: images.len(),
            passed: count(Verdict::Pass),
            failed: count(Verdict::Fail),
            errors: count(Verdict::Error),
            failed_by_severity: SeverityCounts::of(failed()),
        },
        checks,
        images,
    }
}
