//! The words every report is written in, each an enum with exactly one string form (the
//! serde name) and one label for people.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Most severe first: the order of every table.
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Informational];

    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::Informational => "informational",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Severity::Critical => "CRITICAL",
            Severity::High => "HIGH",
            Severity::Medium => "MEDIUM",
            Severity::Low => "LOW",
            Severity::Informational => "INFO",
        }
    }

    /// The name in title case, for prose and report headings.
    pub fn title(self) -> &'static str {
        match self {
            Severity::Critical => "Critical",
            Severity::High => "High",
            Severity::Medium => "Medium",
            Severity::Low => "Low",
            Severity::Informational => "Informational",
        }
    }

    /// A severity name, case-insensitive; `info` is accepted for informational.
    pub fn parse(s: &str) -> Option<Severity> {
        if s.eq_ignore_ascii_case("info") {
            return Some(Severity::Informational);
        }
        Severity::ALL.into_iter().find(|v| v.name().eq_ignore_ascii_case(s))
    }
}

/// How one check ended on one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// Disabled by policy.
    Skipped,
    /// Could not be evaluated; never a pass.
    Error,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Pass, Status::Fail, Status::Skipped, Status::Error];

    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skipped => "skipped",
            Status::Error => "error",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skipped => "SKIP",
            Status::Error => "ERROR",
        }
    }
}

/// The verdict on an image, or on many: what the exit code says in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// The scan could not produce a trustworthy verdict (exit 20-25).
    Error,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Error => "ERROR",
        }
    }
}

/// An operational failure: the scan could not produce a trustworthy verdict. Each has a
/// fixed exit code that outranks any policy result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    PullFailed,
    InspectFailed,
    NoImage,
    ReportsDir,
    InvalidConfig,
    CheckError,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::PullFailed,
        ErrorKind::InspectFailed,
        ErrorKind::NoImage,
        ErrorKind::ReportsDir,
        ErrorKind::InvalidConfig,
        ErrorKind::CheckError,
    ];

    pub fn code(self) -> u8 {
        match self {
            ErrorKind::PullFailed => 20,
            ErrorKind::InspectFailed => 21,
            ErrorKind::NoImage => 22,
            ErrorKind::ReportsDir => 23,
            ErrorKind::InvalidConfig => 24,
            ErrorKind::CheckError => 25,
        }
    }

    /// The serde name, as reports write it.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::PullFailed => "pull-failed",
            ErrorKind::InspectFailed => "inspect-failed",
            ErrorKind::NoImage => "no-image",
            ErrorKind::ReportsDir => "reports-dir",
            ErrorKind::InvalidConfig => "invalid-config",
            ErrorKind::CheckError => "check-error",
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            ErrorKind::PullFailed => "the image could not be pulled (or is absent with --pull never)",
            ErrorKind::InspectFailed => "podman image inspect failed or returned unusable data",
            ErrorKind::NoImage => "no image was given",
            ErrorKind::ReportsDir => "the reports directory is not writable",
            ErrorKind::InvalidConfig => "invalid configuration",
            ErrorKind::CheckError => "a check could not be evaluated",
        }
    }

    /// Which failure to report when several images fail in one run: configuration problems
    /// first (they affect everything), then the earliest pipeline stage.
    fn rank(self) -> u8 {
        match self {
            ErrorKind::InvalidConfig => 6,
            ErrorKind::NoImage => 5,
            ErrorKind::ReportsDir => 4,
            ErrorKind::PullFailed => 3,
            ErrorKind::InspectFailed => 2,
            ErrorKind::CheckError => 1,
        }
    }

    pub fn worst(a: ErrorKind, b: ErrorKind) -> ErrorKind {
        if b.rank() > a.rank() {
            b
        } else {
            a
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (exit {})", self.meaning(), self.code())
    }
}

/// Where an image's files are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// containers/storage: `podman pull` if needed, then the stored layer directories.
    Storage,
    /// The manifest, config and layer blobs, from the registry or the archive, through skopeo;
    /// no image store, no privileges.
    Registry,
}

impl Source {
    pub fn name(self) -> &'static str {
        match self {
            Source::Storage => "storage",
            Source::Registry => "registry",
        }
    }
}

/// The source a run asks for: one of the two, or `auto` (decided per image).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceChoice {
    /// `storage` for `containers-storage:` references, image IDs, `--pull never` and images
    /// already in local storage (unless `--pull always`); `registry` otherwise.
    Auto,
    /// Reports written before the choice existed read the stored layers.
    #[default]
    Storage,
    Registry,
}

impl SourceChoice {
    pub fn name(self) -> &'static str {
        match self {
            SourceChoice::Auto => "auto",
            SourceChoice::Storage => "storage",
            SourceChoice::Registry => "registry",
        }
    }
}

/// What became of a policy waiver on one image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaiverStatus {
    Applied,
    /// It matched, but its date has passed: it no longer applies.
    Expired,
    /// It matched nothing on this image.
    Unused,
}

impl WaiverStatus {
    pub fn name(self) -> &'static str {
        match self {
            WaiverStatus::Applied => "applied",
            WaiverStatus::Expired => "expired",
            WaiverStatus::Unused => "unused",
        }
    }
}

/// What a path in a layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
    /// An overlay whiteout: the path is deleted from the layers below.
    Whiteout,
    /// Not a file: a finding about the image's configuration or history (an `Env` entry, a
    /// label, a build step). Walks never produce it.
    Config,
}

impl EntryKind {
    /// The first character of `ls -l`.
    pub fn symbol(self) -> char {
        match self {
            EntryKind::File => '-',
            EntryKind::Dir => 'd',
            EntryKind::Symlink => 'l',
            EntryKind::CharDevice => 'c',
            EntryKind::BlockDevice => 'b',
            EntryKind::Fifo => 'p',
            EntryKind::Socket => 's',
            EntryKind::Whiteout => 'w',
            EntryKind::Config => '=',
        }
    }

    /// `ls -l` style permissions of an entry of this kind, e.g. `-rwsr-xr-x`; empty for
    /// a configuration finding, which has none.
    pub fn permissions(self, mode: u32) -> String {
        if self == EntryKind::Config {
            return String::new();
        }
        let bit = |mask: u32, c: char| if mode & mask != 0 { c } else { '-' };
        let exec = |x: u32, special: u32, set: char, unset: char| match (mode & x != 0, mode & special != 0) {
            (true, true) => set,
            (false, true) => unset,
            (true, false) => 'x',
            (false, false) => '-',
        };
        [
            self.symbol(),
            bit(0o400, 'r'),
            bit(0o200, 'w'),
            exec(0o100, 0o4000, 's', 'S'),
            bit(0o040, 'r'),
            bit(0o020, 'w'),
            exec(0o010, 0o2000, 's', 'S'),
            bit(0o004, 'r'),
            bit(0o002, 'w'),
            exec(0o001, 0o1000, 't', 'T'),
        ]
        .into_iter()
        .collect()
    }
}

/// Counts per severity. A struct, not a map, so every severity is always present and the
/// JSON keys keep one order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub informational: usize,
    pub low: usize,
    pub medium: usize,
}

impl SeverityCounts {
    pub fn get(&self, s: Severity) -> usize {
        match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Informational => self.informational,
        }
    }

    pub fn add(&mut self, s: Severity) {
        match s {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            Severity::Low => self.low += 1,
            Severity::Informational => self.informational += 1,
        }
    }

    /// Every severity with its count, most severe first.
    pub fn iter(&self) -> impl Iterator<Item = (Severity, usize)> + '_ {
        Severity::ALL.into_iter().map(|s| (s, self.get(s)))
    }

    /// Counts the severities given.
    pub fn of(severities: impl IntoIterator<Item = Severity>) -> SeverityCounts {
        let mut c = SeverityCounts::default();
        severities.into_iter().for_each(|s| c.add(s));
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_has_one_string_form() {
        for s in Severity::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
            assert_eq!(Severity::parse(s.name()), Some(s));
        }
        assert_eq!(Severity::parse("INFO"), Some(Severity::Informational));
        for s in Status::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
        for v in [Verdict::Pass, Verdict::Fail, Verdict::Error] {
            assert_eq!(serde_json::to_value(v).unwrap(), v.name());
        }
        for k in ErrorKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
        for w in [WaiverStatus::Applied, WaiverStatus::Expired, WaiverStatus::Unused] {
            assert_eq!(serde_json::to_value(w).unwrap(), w.name());
        }
    }

    #[test]
    fn severity_counts_serialise_every_severity_in_name_order() {
        let c = SeverityCounts::of([Severity::High, Severity::High, Severity::Low]);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"critical":0,"high":2,"informational":0,"low":1,"medium":0}"#
        );
        assert_eq!(c.get(Severity::High), 2);
    }

    #[test]
    fn permissions_string() {
        assert_eq!(EntryKind::File.permissions(0o4755), "-rwsr-xr-x");
        assert_eq!(EntryKind::Dir.permissions(0o2644), "drw-r-Sr--");
        assert_eq!(EntryKind::Dir.permissions(0o1777), "drwxrwxrwt");
    }
}
