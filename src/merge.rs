//! Aggregation: many JSON reports (e.g. from parallel CI jobs) read back and combined into one
//! summary with the same exit-code contract as `scan`: each report's outcome comes from
//! `Report::outcome()`, and they are combined with `Outcome::combine` (an operational failure
//! outranks any policy result; among policy results the worst failed severity wins).

use crate::exit::{ExitCodes, Outcome};
use crate::report::{Report, ToolInfo, SCHEMA_VERSION};
use crate::rules::{Severity, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Marks a merged summary file, so `merge reports/*.json` can tell it from a report.
pub const KIND: &str = "oci-compliance-merge";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergedSummary {
    pub kind: String,
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub generated_at: String,
    /// "pass", "fail" or "error" over all images.
    pub verdict: String,
    pub exit_code: u8,
    pub worst_failed_severity: Option<Severity>,
    pub exit_codes: ExitCodes,
    pub totals: Totals,
    /// The columns of the images × checks table, in first-seen order.
    pub checks: Vec<CheckColumn>,
    pub images: Vec<MergedImage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Totals {
    pub images: usize,
    /// Images by verdict.
    pub passed: usize,
    pub failed: usize,
    pub errors: usize,
    /// Failed checks over all images, per severity (every severity present).
    pub failed_by_severity: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckColumn {
    pub id: String,
    pub title: String,
    pub severity: Severity,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergedImage {
    /// The report file it came from, as given.
    pub source: String,
    pub reference: String,
    pub digest: Option<String>,
    pub scanned_at: String,
    pub verdict: String,
    pub exit_code: u8,
    pub error: Option<String>,
    /// One per column of `checks`: that check's status, or None if this report lacks it.
    pub statuses: Vec<Option<Status>>,
}

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
            verdict: r.summary.verdict.clone(),
            exit_code: r.summary.exit_code,
            error: r.error.as_ref().map(|e| e.message.clone()),
            statuses: checks.iter().map(|k| r.checks.iter().find(|c| c.id == k.id).map(|c| c.status)).collect(),
        })
        .collect();
    let mut failed_by_severity = BTreeMap::new();
    for s in Severity::ALL {
        let n = sources
            .iter()
            .flat_map(|(_, r)| &r.checks)
            .filter(|c| c.status == Status::Fail && c.severity == s)
            .count();
        failed_by_severity.insert(s.name().to_string(), n);
    }
    let count = |v: &str| images.iter().filter(|i| i.verdict == v).count();
    MergedSummary {
        kind: KIND.to_string(),
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo::default(),
        generated_at,
        verdict: crate::report::verdict_of(combined).to_string(),
        exit_code: combined.code(&codes),
        worst_failed_severity: sources
            .iter()
            .flat_map(|(_, r)| &r.checks)
            .filter(|c| c.status == Status::Fail)
            .map(|c| c.severity)
            .max(),
        exit_codes: codes,
        totals: Totals {
            images: images.len(),
            passed: count("pass"),
            failed: count("fail"),
            errors: count("error"),
            failed_by_severity,
        },
        checks,
        images,
    }
}
