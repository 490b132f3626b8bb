//! What a rule is: its metadata, what it asks of the single layer walk, and what it
//! concludes about an image.

use super::context::Context;
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::{Finding, Severity, Status};

/// What a rule is, independent of any image.
#[derive(Debug)]
pub struct RuleMeta {
    /// Stable kebab-case id; never renamed once released.
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// Why this matters, for `explain`.
    pub rationale: &'static str,
    /// How to fix it; also the `mitigation` of every result.
    pub remediation: &'static str,
    /// The verdict depends on the layer walk; a walk error makes it `error`.
    pub reads_layers: bool,
    /// The controls of published standards this check implements, e.g. "CIS Docker 1.6
    /// 4.8" or "NIST SP 800-190 4.1.2"; empty when none applies.
    pub controls: &'static [&'static str],
}

impl RuleMeta {
    /// The rationale as one line (it is wrapped in the source).
    pub fn rationale_text(&self) -> String {
        crate::text::squash(self.rationale)
    }

    /// The remediation as one line.
    pub fn remediation_text(&self) -> String {
        crate::text::squash(self.remediation)
    }
}

/// What the single layer walk must hand a rule.
#[derive(Debug, Default, Clone)]
pub struct Needs {
    /// Entries with exactly these base names.
    pub names: Vec<String>,
    /// Also match versioned and cross-toolchain forms of `names` (gcc-12,
    /// x86_64-linux-gnu-gcc-12).
    pub versioned_names: bool,
    /// Entries with any of these mode bits (e.g. setuid).
    pub mode_bits: u32,
    /// Globs (`*`, `?`, `[…]`) on the base name of entries of any kind but whiteouts, or on
    /// the full path when the glob holds a `/` (`*` then also spans `/`): `*.pem`, `.git`,
    /// `/var/cache/apk/*`, `*/.docker/config.json`. Keep them shaped `prefix*suffix` where you
    /// can: those are matched without the glob engine.
    pub patterns: Vec<String>,
    /// The content of regular files matching `patterns`, in every layer, is read
    /// (`ImageFs::read_entry`): a source that streams layers keeps them while it reads them.
    pub read_patterns: bool,
    /// Files whose content the rule reads (absolute paths in the image): a source that
    /// streams layers keeps these while it reads them.
    pub files: &'static [&'static str],
    /// The `security.capability` xattr of executable regular files (one extra lookup each on
    /// a walk; tar streams carry it anyway).
    pub capabilities: bool,
}

/// What a rule concluded about one image.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub status: Status,
    /// One sentence about what this image showed.
    pub description: String,
    pub findings: Vec<Finding>,
}

impl Evaluation {
    pub fn pass(description: impl Into<String>) -> Self {
        Evaluation { status: Status::Pass, description: description.into(), findings: Vec::new() }
    }
    pub fn fail(description: impl Into<String>) -> Self {
        Evaluation { status: Status::Fail, description: description.into(), findings: Vec::new() }
    }
    pub fn error(description: impl Into<String>) -> Self {
        Evaluation { status: Status::Error, description: description.into(), findings: Vec::new() }
    }
}

pub trait Rule: Sync {
    fn meta(&self) -> &'static RuleMeta;
    fn needs(&self, _settings: &RuleSettings) -> Needs {
        Needs::default()
    }
    /// `hits`: the entries (of any layer, visible or not) the walk matched to `needs`.
    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation;
}
