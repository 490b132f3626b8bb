//! Runs every rule against one image and turns what each concluded into a check result.

use crate::inspect::ImageInspect;
use crate::layers::{ImageFs, Loc};
use crate::model::{CheckResult, Policy, Status};
use crate::reference::ImageRef;
use crate::rules::{Context, Evaluation, Rule, RuleSettings};

/// Run every rule against one image.
pub fn run_checks(
    reference: &ImageRef,
    image: &ImageInspect,
    fs: &ImageFs,
    policy: &Policy,
    settings: &RuleSettings,
    rules: &[&dyn Rule],
) -> Vec<CheckResult> {
    let mut hits: Vec<Vec<Loc>> = vec![Vec::new(); rules.len()];
    for (li, layer) in fs.layers.iter().enumerate() {
        for &(idx, bits) in &layer.scan.hits {
            let mut b = bits;
            while b != 0 {
                let slot = b.trailing_zeros() as usize;
                b &= b - 1;
                if let Some(h) = hits.get_mut(slot) {
                    h.push(Loc { layer: li as u16, idx });
                }
            }
        }
    }
    let ctx = Context::new(reference, image, fs, settings);
    let first_walk_error = fs.walk_errors().next().map(String::from);
    let walk_error_count = fs.walk_errors().count();
    rules
        .iter()
        .zip(hits)
        .map(|(rule, hits)| {
            let meta = rule.meta();
            let ev = if policy.enabled(meta.id) {
                let mut ev = rule.check(&ctx, &hits);
                // A partial walk cannot prove absence, nor that what it saw is the final state.
                if let (true, Some(first)) = (meta.reads_layers, &first_walk_error) {
                    ev.status = Status::Error;
                    ev.description = format!(
                        "could not read every layer ({walk_error_count} error{}, first: {first}); seen so far: {}",
                        crate::text::plural(walk_error_count, "", "s"),
                        ev.description
                    );
                }
                ev
            } else {
                let description = match policy.checks.get(meta.id).and_then(|c| c.reason.as_deref()) {
                    Some(r) => format!("disabled by policy: {}", crate::escape::text(r)),
                    None => "disabled by policy".to_string(),
                };
                Evaluation { status: Status::Skipped, description, findings: Vec::new() }
            };
            CheckResult {
                id: meta.id.to_string(),
                title: meta.title.to_string(),
                severity: policy.severity(meta.id, meta.severity),
                default_severity: meta.severity,
                status: ev.status,
                description: ev.description,
                rationale: meta.rationale_text(),
                mitigation: meta.remediation_text(),
                controls: meta.controls.iter().map(|c| c.to_string()).collect(),
                findings: ev.findings,
                waiver: None,
            }
        })
        .collect()
}
