//! The summary of many reports (`merge`, multi-image scans): an images × checks table with
//! totals, under the same exit-code contract as one scan.

use super::outcome::ExitCodes;
use super::report::ToolInfo;
use super::vocab::{Severity, SeverityCounts, Status, Verdict};
use serde::{Deserialize, Serialize};

/// Marks a merged summary file, so `merge reports/*.json` can tell it from a report.
pub const MERGED_KIND: &str = "oci-compliance-merge";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MergedSummary {
    pub kind: String,
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub generated_at: String,
    /// The verdict over all images.
    pub verdict: Verdict,
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
    /// Failed checks over all images, per severity.
    pub failed_by_severity: SeverityCounts,
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
    pub verdict: Verdict,
    pub exit_code: u8,
    pub error: Option<String>,
    /// One per column of `checks`: that check's status, or None if this report lacks it.
    pub statuses: Vec<Option<Status>>,
}
