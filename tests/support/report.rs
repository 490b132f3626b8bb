//! Reading the JSON report.

use super::all_rules;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// Every check id, in report order: the library's own list of rules.
pub fn check_ids() -> &'static [&'static str] {
    static IDS: OnceLock<Vec<&'static str>> = OnceLock::new();
    IDS.get_or_init(|| all_rules().iter().map(|r| r.meta().id).collect())
}

#[track_caller]
pub fn check<'r>(report: &'r Value, id: &str) -> &'r Value {
    report["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("report has no checks array: {report}"))
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("report has no check {id}"))
}

#[track_caller]
pub fn status<'r>(report: &'r Value, id: &str) -> &'r str {
    check(report, id)["status"].as_str().unwrap_or("<none>")
}

/// Assert the status of every listed check, reporting all mismatches at once.
#[track_caller]
pub fn assert_statuses(report: &Value, expected: &[(&str, &str)]) {
    let mut bad = Vec::new();
    for (id, want) in expected {
        let got = status(report, id);
        if got != *want {
            bad.push(format!(
                "{id}: expected {want}, got {got}\n{}",
                serde_json::to_string_pretty(check(report, id)).unwrap()
            ));
        }
    }
    assert!(bad.is_empty(), "check verdicts differ:\n{}", bad.join("\n"));
}

#[track_caller]
pub fn findings(check: &Value) -> &Vec<Value> {
    check["findings"].as_array().unwrap_or_else(|| panic!("check has no findings array: {check}"))
}

/// The finding for `path`, if any.
pub fn finding<'c>(check: &'c Value, path: &str) -> Option<&'c Value> {
    findings(check).iter().find(|f| f["path"] == path)
}

#[track_caller]
pub fn must_find<'c>(check: &'c Value, path: &str) -> &'c Value {
    finding(check, path).unwrap_or_else(|| {
        panic!("{} has no finding for {path}:\n{}", check["id"], serde_json::to_string_pretty(check).unwrap())
    })
}

/// Paths of the findings that make the check fail.
pub fn violations(check: &Value) -> BTreeSet<String> {
    findings(check).iter().filter(|f| f["violation"] == true).map(|f| f["path"].as_str().unwrap().to_string()).collect()
}

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}
