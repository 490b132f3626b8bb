//! Base image or own layers: every finding gets the origin of the layer it points at, and a
//! check the policy scopes to `own` sets its base-image violations aside.

use crate::model::{BaseInfo, CheckResult, Origin, Policy, Scope, Status};

/// Mark each finding `base` or `own` by the layer it points at (configuration: own).
pub fn apply_origins(checks: &mut [CheckResult], base: &BaseInfo) {
    for f in checks.iter_mut().flat_map(|c| c.findings.iter_mut()) {
        f.origin = base.origin_of(f.layer);
    }
}

/// `scope = "own"`: base-image violations stay listed but no longer count, and a failed check
/// whose every remaining violation is a base one (or waived) passes. Without a boundary the
/// scope cannot be honoured: everything counts, and the description says why. Run after the
/// waivers, so a check they already passed keeps its reason.
pub fn apply_scope(checks: &mut [CheckResult], policy: &Policy, base: &BaseInfo) {
    for c in checks.iter_mut().filter(|c| policy.scope(&c.id) == Scope::Own && c.status != Status::Skipped) {
        if !base.found() {
            c.description = format!(
                "{} (scope = own not applied: no base image boundary was found, every finding counts)",
                c.description
            );
            continue;
        }
        let mut set_aside = 0;
        for f in c.findings.iter_mut().filter(|f| f.violation && f.origin == Origin::Base) {
            f.counted = false;
            set_aside += 1;
        }
        if set_aside == 0 {
            continue;
        }
        let own_left = c.findings.iter().filter(|f| f.violation && f.counted && f.waiver.is_none()).count();
        let what = format!(
            "{set_aside} base image {} set aside: scope = own",
            crate::text::plural(set_aside, "violation", "violations")
        );
        if c.status == Status::Fail && c.waiver.is_none() && own_left == 0 {
            c.status = Status::Pass;
            c.description = format!("{} (no violation in the image's own layers; {what})", c.description);
        } else {
            c.description = format!("{} ({what})", c.description);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BaseFoundBy, CheckPolicy, EntryKind, Finding, Severity};

    fn finding(layer: usize, violation: bool) -> Finding {
        Finding { layer, violation, mode: "4755".into(), ..Finding::test(&format!("/f{layer}"), EntryKind::File) }
    }

    fn check(findings: Vec<Finding>) -> CheckResult {
        let failed = findings.iter().any(|f| f.violation);
        CheckResult {
            id: "suid-files".into(),
            title: String::new(),
            severity: Severity::High,
            default_severity: Severity::High,
            status: if failed { Status::Fail } else { Status::Pass },
            description: "found".into(),
            rationale: String::new(),
            mitigation: String::new(),
            controls: Vec::new(),
            findings,
            waiver: None,
        }
    }

    fn own_policy() -> Policy {
        let mut p = Policy::default();
        p.checks.insert("suid-files".into(), CheckPolicy { scope: Some(Scope::Own), ..CheckPolicy::default() });
        p
    }

    fn base(layers: usize) -> BaseInfo {
        BaseInfo { found_by: BaseFoundBy::Option, layers, ..BaseInfo::default() }
    }

    #[test]
    fn origins_follow_the_boundary_and_configuration_is_own() {
        let mut checks = vec![check(vec![finding(0, true), finding(1, true), finding(2, true), finding(3, true)])];
        apply_origins(&mut checks, &base(2));
        let o: Vec<Origin> = checks[0].findings.iter().map(|f| f.origin).collect();
        assert_eq!(o, [Origin::Own, Origin::Base, Origin::Base, Origin::Own]);
        apply_origins(&mut checks, &BaseInfo::default());
        assert!(checks[0].findings.iter().all(|f| f.origin == Origin::Own));
    }

    #[test]
    fn scope_own_sets_base_violations_aside() {
        // Only a base violation: passes, the finding stays a listed violation.
        let mut checks = vec![check(vec![finding(1, true), finding(2, false)])];
        apply_origins(&mut checks, &base(1));
        apply_scope(&mut checks, &own_policy(), &base(1));
        assert_eq!(checks[0].status, Status::Pass);
        assert!(checks[0].findings[0].violation && !checks[0].findings[0].counted);
        assert!(checks[0].findings[1].counted, "not a violation: nothing to set aside");
        assert!(checks[0].description.contains("1 base image violation set aside"), "{}", checks[0].description);

        // An own violation is left: still fails, says how many were set aside.
        let mut checks = vec![check(vec![finding(1, true), finding(1, true), finding(2, true)])];
        apply_origins(&mut checks, &base(1));
        apply_scope(&mut checks, &own_policy(), &base(1));
        assert_eq!(checks[0].status, Status::Fail);
        assert_eq!(checks[0].findings.iter().filter(|f| !f.counted).count(), 2);
        assert!(checks[0].description.contains("2 base image violations set aside"));

        // The default scope changes nothing.
        let mut checks = vec![check(vec![finding(1, true)])];
        apply_origins(&mut checks, &base(1));
        apply_scope(&mut checks, &Policy::default(), &base(1));
        assert_eq!(checks[0].status, Status::Fail);
        assert!(checks[0].findings[0].counted);
    }

    #[test]
    fn scope_own_without_a_boundary_never_passes_silently() {
        let mut checks = vec![check(vec![finding(1, true)])];
        apply_origins(&mut checks, &BaseInfo::default());
        apply_scope(&mut checks, &own_policy(), &BaseInfo::default());
        assert_eq!(checks[0].status, Status::Fail);
        assert!(checks[0].findings[0].counted);
        assert!(checks[0].description.contains("scope = own not applied"), "{}", checks[0].description);
    }

    #[test]
    fn an_own_violation_waived_lets_the_check_pass() {
        let mut checks = vec![check(vec![finding(1, true), finding(2, true)])];
        checks[0].findings[1].waiver =
            Some(crate::model::AppliedWaiver { index: 0, reason: "r".into(), expires: None });
        apply_origins(&mut checks, &base(1));
        apply_scope(&mut checks, &own_policy(), &base(1));
        assert_eq!(checks[0].status, Status::Pass);
    }
}
