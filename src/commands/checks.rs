//! `checks` (every check with its default and effective severity) and `explain ID`.

use crate::exit::Failure;
use crate::model::Policy;
use crate::rules::{self, RuleMeta};
use std::path::Path;

pub fn checks(policy: Option<&Path>) -> Result<u8, Failure> {
    let policy = match policy {
        Some(p) => crate::engine::policy::load(p).map_err(Failure::config)?,
        None => Policy::default(),
    };
    print!("{}", checks_table(&policy));
    Ok(0)
}

/// The coverage of one standard. A policy is validated but does not change the mapping.
pub fn standard(id: &str, policy: Option<&Path>) -> Result<u8, Failure> {
    if let Some(p) = policy {
        crate::engine::policy::load(p).map_err(Failure::config)?;
    }
    match rules::standards::find(id) {
        Some(s) => {
            print!("{}", rules::standards::coverage(s));
            Ok(0)
        }
        None => {
            let known: Vec<&str> = rules::standards::STANDARDS.iter().map(|s| s.id).collect();
            Err(Failure::config(format!("unknown standard {id:?}; known: {}", known.join(", "))))
        }
    }
}

pub fn explain_id(id: &str) -> Result<u8, Failure> {
    match rules::find(id) {
        Some(r) => {
            print!("{}", explain(r.meta()));
            Ok(0)
        }
        None => Err(Failure::config(format!("unknown check id {id:?}; `oci-compliance checks` lists them"))),
    }
}

fn checks_table(policy: &Policy) -> String {
    let width = rules::all().iter().map(|r| r.meta().id.len()).max().unwrap_or(0);
    let mut s = format!("{:<width$}  {:<13}  {:<13}  {}\n", "ID", "DEFAULT", "EFFECTIVE", "TITLE");
    for r in rules::all() {
        let m = r.meta();
        let effective = if policy.enabled(m.id) { policy.severity(m.id, m.severity).name() } else { "disabled" };
        s.push_str(&format!("{:<width$}  {:<13}  {:<13}  {}\n", m.id, m.severity.name(), effective, m.title));
    }
    s
}

fn explain(m: &RuleMeta) -> String {
    let controls = if m.controls.is_empty() { "none".to_string() } else { m.controls.join(", ") };
    format!(
        "{} — {}\nDefault severity: {}\nStandards: {}\n\nWhy:\n  {}\n\nFix:\n  {}\n",
        m.id,
        m.title,
        m.severity.name(),
        controls,
        m.rationale_text(),
        m.remediation_text()
    )
}
