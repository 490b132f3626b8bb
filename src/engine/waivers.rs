//! Applies the policy's waivers to one image's check results.

use crate::glob;
use crate::model::{AppliedWaiver, CheckResult, Policy, Status, WaiverStatus, WaiverUse};
use crate::reference::ImageRef;

/// A waiver path matches a finding's path, or `package NAME` for an installed-package
/// finding (its full location also carries the version, which a waiver should not pin).
fn waived_path(glob_: &str, f: &crate::model::Finding) -> bool {
    if glob::matches(glob_, &f.path) {
        return true;
    }
    match &f.package {
        Some(p) if f.kind == crate::model::EntryKind::Config => glob::matches(glob_, &format!("package {}", p.name)),
        _ => false,
    }
}

/// Apply the policy's waivers to one image's results. A waiver covers violations of its
/// check whose path matches (or the whole check when it has no path), on images matching
/// its image pattern, until its expiry date. Waived findings stay in the report.
pub fn apply_waivers(
    checks: &mut [CheckResult],
    policy: &Policy,
    reference: &ImageRef,
    today: (i64, u32, u32),
) -> Vec<WaiverUse> {
    let names: Vec<String> = [Some(reference.original.clone()), reference.local_name()].into_iter().flatten().collect();
    let mut uses = Vec::new();
    for (index, w) in policy.waivers.iter().enumerate() {
        let expired = w.expires.as_deref().and_then(crate::time::parse_date).is_some_and(|d| d < today);
        let image_ok = w.image.as_deref().map_or(true, |p| names.iter().any(|n| glob::matches(p, n)));
        let applied = AppliedWaiver { index, reason: crate::escape::text(&w.reason), expires: w.expires.clone() };
        let mut matched = 0;
        if image_ok {
            for c in checks.iter_mut().filter(|c| c.id == w.check && c.status == Status::Fail) {
                match &w.path {
                    None => {
                        matched += 1;
                        if !expired && c.waiver.is_none() {
                            c.waiver = Some(applied.clone());
                        }
                    }
                    Some(p) => {
                        for f in c.findings.iter_mut().filter(|f| f.violation && waived_path(p, f)) {
                            matched += 1;
                            if expired {
                                let n = format!("waiver {index} expired on {}", w.expires.as_deref().unwrap_or(""));
                                f.note = Some(match f.note.take() {
                                    Some(old) => format!("{old}; {n}"),
                                    None => n,
                                });
                            } else if f.waiver.is_none() {
                                f.waiver = Some(applied.clone());
                            }
                        }
                    }
                }
            }
        }
        uses.push(WaiverUse {
            index,
            check: w.check.clone(),
            path: w.path.clone(),
            image: w.image.clone(),
            reason: applied.reason.clone(),
            expires: w.expires.clone(),
            status: match (matched, expired) {
                (0, _) => WaiverStatus::Unused,
                (_, true) => WaiverStatus::Expired,
                (_, false) => WaiverStatus::Applied,
            },
            matched,
        });
    }
    // A failed check whose every violation is waived no longer fails the gate.
    for c in checks.iter_mut().filter(|c| c.status == Status::Fail) {
        let violations = c.findings.iter().filter(|f| f.violation).count();
        let waived = c.findings.iter().filter(|f| f.violation && f.waiver.is_some()).count();
        if let Some(w) = &c.waiver {
            c.status = Status::Pass;
            c.description = format!("{} (waived: {})", c.description, w.reason);
        } else if violations > 0 && waived == violations {
            c.status = Status::Pass;
            c.description = format!("{} (all {waived} waived by policy)", c.description);
        } else if waived > 0 {
            c.description = format!("{} ({waived} of {violations} waived by policy)", c.description);
        }
    }
    uses
}
