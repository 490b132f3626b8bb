//! Runs every rule against one image and turns what each concluded into a check result.

use crate::inspect::ImageInspect;
use crate::layers::{ImageFs, Loc};
use crate::model::Finding;
use crate::model::{CheckResult, Policy, Status};
use crate::packages::image::{ImagePackages, Ownership};
use crate::reference::ImageRef;
use crate::rules::{Context, Evaluation, Rule, RuleSettings};

/// Run every rule against one image (reading its package databases first).
pub fn run_checks(
    reference: &ImageRef,
    image: &ImageInspect,
    fs: &ImageFs,
    policy: &Policy,
    settings: &RuleSettings,
    rules: &[&dyn Rule],
) -> Vec<CheckResult> {
    let packages = ImagePackages::read(fs);
    run_checks_with(reference, image, fs, &packages, policy, settings, rules)
}

/// Run every rule against one image whose package databases have been read.
pub fn run_checks_with(
    reference: &ImageRef,
    image: &ImageInspect,
    fs: &ImageFs,
    packages: &ImagePackages,
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
    let ctx = Context::new(reference, image, fs, settings).with_packages(packages);
    let first_walk_error = fs.walk_errors().next().map(String::from);
    let walk_error_count = fs.walk_errors().count();
    rules
        .iter()
        .zip(hits)
        .map(|(rule, hits)| {
            let meta = rule.meta();
            let ev = if policy.enabled(meta.id) {
                let mut ev = rule.check(&ctx, &hits);
                add_fixes(meta.id, &mut ev.findings, packages);
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

/// The exact removal for the checks about installed software: the owning package's remove
/// command, or `chmod u-s` for a setuid file no package owns. Visible violations only.
fn add_fixes(id: &str, findings: &mut [Finding], packages: &ImagePackages) {
    if !matches!(id, "privilege-tools" | "remote-access-tools" | "compilers" | "suid-files") {
        return;
    }
    for f in findings.iter_mut().filter(|f| f.visible && f.violation && f.fix.is_none()) {
        f.fix = if f.package.is_some() {
            let raw = crate::escape::unescape(&f.path);
            match raw.as_deref().map(|p| packages.owner(p)) {
                Some(Ownership::Owned(p)) => crate::packages::image::remove_command(p),
                _ => None,
            }
        } else if f.not_owned && id == "suid-files" && setuid(&f.mode) {
            chmod_fix(&f.path)
        } else {
            None
        };
    }
}

fn setuid(mode: &str) -> bool {
    u32::from_str_radix(mode, 8).is_ok_and(|m| m & 0o4000 != 0)
}

/// `chmod u-s PATH`, the path single-quoted when it is not plain. None when the shown path
/// is escaped (a control character or invalid UTF-8): a command must name the real file.
fn chmod_fix(path: &str) -> Option<String> {
    if path.contains('\\') || path.chars().any(crate::escape::is_invisible) {
        return None;
    }
    let plain = path.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._+-@:,".contains(&b));
    Some(match plain {
        true => format!("chmod u-s {path}"),
        false => format!("chmod u-s '{}'", path.replace('\'', "'\\''")),
    })
}
