//! The layout of the earlier Python scanner, for consumers migrating from it:
//! `{ "<image>": [ {"Title","Severity","Pass","Description","Mitigation","Files":[{"<layer>":[paths]}]} ] }`.
//!
//! - `<image>` is the reference as given; `Severity` is Critical/High/Medium/Low/Informational.
//! - `Pass` is true only for a passed check; an `error` check is `false` (never a pass).
//!   Skipped checks are left out: the old layout has no way to say "not evaluated".
//! - `Files` lists the findings that make the check fail (waived ones left out), grouped per
//!   layer in layer order,
//!   each group keyed by the layer's diff digest (`layer N` when unknown).
//! - `Mitigation` ends with the exact fixes of those findings (`Exact fixes: apt-get purge
//!   --auto-remove openssh-client; chmod u-s /opt/x.`), when they have any.
//! - A scan that stopped early (pull, inspect…) becomes one failing entry titled
//!   "Scan error", so an old consumer cannot mistake it for a clean image.

use crate::model::{Report, Status};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    title: String,
    severity: &'static str,
    pass: bool,
    description: String,
    mitigation: String,
    files: Vec<Map<String, Value>>,
}

pub fn render(reports: &[&Report]) -> Vec<u8> {
    let mut out = Map::new();
    for r in reports {
        let mut entries = Vec::new();
        if let Some(e) = &r.error {
            entries.push(Entry {
                title: "Scan error".to_string(),
                severity: "Critical",
                pass: false,
                description: e.message.clone(),
                mitigation: format!(
                    "The scan stopped ({}, exit code {}); fix the cause and scan again.",
                    e.kind.name(),
                    e.exit_code
                ),
                files: Vec::new(),
            });
        }
        for c in r.checks.iter().filter(|c| c.status != Status::Skipped) {
            let mut by_layer: BTreeMap<usize, (String, Vec<Value>)> = BTreeMap::new();
            let mut fixes: Vec<&str> = Vec::new();
            for f in c.findings.iter().filter(|f| f.violation && f.counted && f.waiver.is_none() && c.waiver.is_none())
            {
                if let Some(fix) = f.fix.as_deref().filter(|x| !fixes.contains(x)) {
                    fixes.push(fix);
                }
                let key = if f.layer_digest.is_empty() { format!("layer {}", f.layer) } else { f.layer_digest.clone() };
                by_layer.entry(f.layer).or_insert_with(|| (key, Vec::new())).1.push(Value::String(f.path.clone()));
            }
            let files = by_layer
                .into_values()
                .map(|(key, paths)| {
                    let mut m = Map::new();
                    m.insert(key, Value::Array(paths));
                    m
                })
                .collect();
            entries.push(Entry {
                title: c.title.clone(),
                severity: c.severity.title(),
                pass: c.status == Status::Pass,
                description: c.description.clone(),
                mitigation: match fixes.is_empty() {
                    true => c.mitigation.clone(),
                    false => format!("{} Exact fixes: {}.", c.mitigation, fixes.join("; ")),
                },
                files,
            });
        }
        out.insert(r.image.reference.clone(), serde_json::to_value(entries).expect("entries always serialise"));
    }
    let mut v = serde_json::to_vec_pretty(&Value::Object(out)).expect("always serialises");
    v.push(b'\n');
    v
}
