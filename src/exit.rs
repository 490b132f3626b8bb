//! The exit-code contract. Policy codes come from the highest failed severity and may be
//! remapped by the user; operational codes are fixed and always outrank policy codes.

use crate::rules::Severity;
use std::fmt;

/// An operational failure: the scan could not produce a trustworthy verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operational {
    PullFailed,
    InspectFailed,
    NoImage,
    ReportsDir,
    InvalidConfig,
    CheckError,
}

impl Operational {
    pub const ALL: [Operational; 6] = [
        Operational::PullFailed,
        Operational::InspectFailed,
        Operational::NoImage,
        Operational::ReportsDir,
        Operational::InvalidConfig,
        Operational::CheckError,
    ];

    pub fn code(self) -> u8 {
        match self {
            Operational::PullFailed => 20,
            Operational::InspectFailed => 21,
            Operational::NoImage => 22,
            Operational::ReportsDir => 23,
            Operational::InvalidConfig => 24,
            Operational::CheckError => 25,
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            Operational::PullFailed => "the image could not be pulled (or is absent with --pull never)",
            Operational::InspectFailed => "podman image inspect failed or returned unusable data",
            Operational::NoImage => "no image was given",
            Operational::ReportsDir => "the reports directory is not writable",
            Operational::InvalidConfig => "invalid configuration",
            Operational::CheckError => "a check could not be evaluated",
        }
    }

    /// Which failure to report when several images fail in one run: configuration problems
    /// first (they affect everything), then the earliest pipeline stage.
    fn rank(self) -> u8 {
        match self {
            Operational::InvalidConfig => 6,
            Operational::NoImage => 5,
            Operational::ReportsDir => 4,
            Operational::PullFailed => 3,
            Operational::InspectFailed => 2,
            Operational::CheckError => 1,
        }
    }

    pub fn worst(a: Operational, b: Operational) -> Operational {
        if b.rank() > a.rank() {
            b
        } else {
            a
        }
    }
}

impl fmt::Display for Operational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (exit {})", self.meaning(), self.code())
    }
}

/// The exit codes of policy verdicts, by highest failed severity; user-overridable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// The outcome of a run, before it becomes a process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The policy verdict: the highest severity among failed checks, if any.
    Policy(Option<Severity>),
    Operational(Operational),
}

impl Outcome {
    pub fn code(self, codes: &ExitCodes) -> u8 {
        match self {
            Outcome::Policy(s) => codes.for_severity(s),
            Outcome::Operational(o) => o.code(),
        }
    }

    /// Combine the outcomes of several images: an operational failure outranks any policy
    /// result; among policy results the most severe failure wins.
    pub fn combine(self, other: Outcome) -> Outcome {
        match (self, other) {
            (Outcome::Operational(a), Outcome::Operational(b)) => {
                Outcome::Operational(Operational::worst(a, b))
            }
            (Outcome::Operational(a), _) | (_, Outcome::Operational(a)) => Outcome::Operational(a),
            (Outcome::Policy(a), Outcome::Policy(b)) => Outcome::Policy(a.max(b)),
        }
    }
}

/// An error that ends the run with an operational exit code and one clear message.
#[derive(Debug)]
pub struct Failure {
    pub kind: Operational,
    pub message: String,
}

impl Failure {
    pub fn new(kind: Operational, message: impl Into<String>) -> Self {
        Failure { kind, message: message.into() }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Failure::new(Operational::InvalidConfig, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operational_codes_are_the_documented_ones() {
        let codes: Vec<u8> = Operational::ALL.iter().map(|o| o.code()).collect();
        assert_eq!(codes, vec![20, 21, 22, 23, 24, 25]);
    }

    #[test]
    fn operational_outranks_policy_in_either_order() {
        let op = Outcome::Operational(Operational::PullFailed);
        let crit = Outcome::Policy(Some(Severity::Critical));
        assert_eq!(op.combine(crit), op);
        assert_eq!(crit.combine(op), op);
    }

    #[test]
    fn config_error_outranks_check_error() {
        let a = Outcome::Operational(Operational::CheckError);
        let b = Outcome::Operational(Operational::InvalidConfig);
        assert_eq!(a.combine(b), b);
        assert_eq!(b.combine(a), b);
    }

    #[test]
    fn policy_codes_follow_the_worst_failure_even_when_remapped() {
        let codes = ExitCodes { critical: 1, high: 9, ..ExitCodes::default() };
        let worst = Outcome::Policy(Some(Severity::High)).combine(Outcome::Policy(Some(Severity::Critical)));
        assert_eq!(worst.code(&codes), 1);
        assert_eq!(Outcome::Policy(Some(Severity::Low)).code(&ExitCodes::default()), 15);
        assert_eq!(Outcome::Policy(Some(Severity::Medium)).code(&ExitCodes::default()), 14);
        assert_eq!(Outcome::Policy(Some(Severity::High)).code(&ExitCodes::default()), 13);
        assert_eq!(Outcome::Policy(Some(Severity::Critical)).code(&ExitCodes::default()), 12);
        assert_eq!(Outcome::Policy(Some(Severity::Informational)).code(&ExitCodes::default()), 0);
        assert_eq!(Outcome::Policy(None).code(&ExitCodes { informational: 7, ..ExitCodes::default() }), 7);
    }
}
