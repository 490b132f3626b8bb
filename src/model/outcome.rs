//! The exit-code contract as data. Policy codes come from the highest failed severity and
//! may be remapped by the user; operational codes are fixed and always outrank them.

use super::vocab::{ErrorKind, Severity, Verdict};
use serde::{Deserialize, Serialize};

/// The exit codes of policy verdicts, by highest failed severity; user-overridable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitCodes {
    pub critical: u8,
    pub high: u8,
    pub medium: u8,
    pub low: u8,
    /// The code when nothing above Informational failed.
    pub informational: u8,
}

impl Default for ExitCodes {
    fn default() -> Self {
        ExitCodes { critical: 12, high: 13, medium: 14, low: 15, informational: 0 }
    }
}

impl ExitCodes {
    pub fn for_severity(&self, worst_failed: Option<Severity>) -> u8 {
        match worst_failed {
            Some(Severity::Critical) => self.critical,
            Some(Severity::High) => self.high,
            Some(Severity::Medium) => self.medium,
            Some(Severity::Low) => self.low,
            Some(Severity::Informational) | None => self.informational,
        }
    }
}

/// The outcome of a scan or a run, before it becomes a process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The policy verdict: the highest severity among failed checks that count, if any.
    Policy(Option<Severity>),
    Operational(ErrorKind),
}

impl Outcome {
    pub fn code(self, codes: &ExitCodes) -> u8 {
        match self {
            Outcome::Policy(s) => codes.for_severity(s),
            Outcome::Operational(o) => o.code(),
        }
    }

    pub fn verdict(self) -> Verdict {
        match self {
            Outcome::Operational(_) => Verdict::Error,
            Outcome::Policy(None) | Outcome::Policy(Some(Severity::Informational)) => Verdict::Pass,
            Outcome::Policy(Some(_)) => Verdict::Fail,
        }
    }

    /// Combine the outcomes of several images: an operational failure outranks any policy
    /// result; among policy results the most severe failure wins.
    pub fn combine(self, other: Outcome) -> Outcome {
        match (self, other) {
            (Outcome::Operational(a), Outcome::Operational(b)) => Outcome::Operational(ErrorKind::worst(a, b)),
            (Outcome::Operational(a), _) | (_, Outcome::Operational(a)) => Outcome::Operational(a),
            (Outcome::Policy(a), Outcome::Policy(b)) => Outcome::Policy(a.max(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operational_codes_are_the_documented_ones() {
        let codes: Vec<u8> = ErrorKind::ALL.iter().map(|o| o.code()).collect();
        assert_eq!(codes, vec![20, 21, 22, 23, 24, 25]);
    }

    #[test]
    fn operational_outranks_policy_in_either_order() {
        let op = Outcome::Operational(ErrorKind::PullFailed);
        let crit = Outcome::Policy(Some(Severity::Critical));
        assert_eq!(op.combine(crit), op);
        assert_eq!(crit.combine(op), op);
    }

    #[test]
    fn config_error_outranks_check_error() {
        let a = Outcome::Operational(ErrorKind::CheckError);
        let b = Outcome::Operational(ErrorKind::InvalidConfig);
        assert_eq!(a.combine(b), b);
        assert_eq!(b.combine(a), b);
    }

    #[test]
    fn policy_codes_follow_the_worst_failure_even_when_remapped() {
        let codes = ExitCodes { critical: 1, high: 9, ..ExitCodes::default() };
        let worst = Outcome::Policy(Some(Severity::High)).combine(Outcome::Policy(Some(Severity::Critical)));
        assert_eq!(worst.code(&codes), 1);
        let d = ExitCodes::default();
        assert_eq!(Outcome::Policy(Some(Severity::Low)).code(&d), 15);
        assert_eq!(Outcome::Policy(Some(Severity::Medium)).code(&d), 14);
        assert_eq!(Outcome::Policy(Some(Severity::High)).code(&d), 13);
        assert_eq!(Outcome::Policy(Some(Severity::Critical)).code(&d), 12);
        assert_eq!(Outcome::Policy(Some(Severity::Informational)).code(&d), 0);
        assert_eq!(Outcome::Policy(None).code(&ExitCodes { informational: 7, ..d }), 7);
    }

    #[test]
    fn verdicts() {
        assert_eq!(Outcome::Policy(None).verdict(), Verdict::Pass);
        assert_eq!(Outcome::Policy(Some(Severity::Informational)).verdict(), Verdict::Pass);
        assert_eq!(Outcome::Policy(Some(Severity::Low)).verdict(), Verdict::Fail);
        assert_eq!(Outcome::Operational(ErrorKind::NoImage).verdict(), Verdict::Error);
    }
}
