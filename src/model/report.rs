//! One image's report: the typed data every renderer and `merge` read. Serialised, it is the
//! JSON report (docs/report-v1.schema.json); fields are only ever added within a schema
//! version.

use super::outcome::{ExitCodes, Outcome};
use super::policy::Policy;
use super::tree::FileTree;
use super::vocab::{
    EntryKind, ErrorKind, Severity, SeverityCounts, Source, SourceChoice, Status, Verdict, WaiverStatus,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Bumped on any incompatible change to the JSON layout.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: ToolInfo,
    pub scanned_at: String,
    pub settings: SettingsInfo,
    /// `sha256:` of the canonical JSON of `settings` (keys sorted, no whitespace): two
    /// reports with the same digest were judged by the same settings.
    #[serde(default)]
    pub settings_digest: String,
    pub image: ImageInfo,
    pub layers: Vec<LayerInfo>,
    pub checks: Vec<CheckResult>,
    /// Every waiver of the policy and what became of it on this image.
    pub waivers: Vec<WaiverUse>,
    pub summary: Summary,
    /// Set when the scan stopped before the checks could run (pull, inspect, storage).
    pub error: Option<ScanError>,
    /// A bounded summary of the final image's file tree (absent when the scan stopped early).
    #[serde(default)]
    pub tree: Option<FileTree>,
    /// The image's package databases and what they list (absent when the scan stopped early).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<PackagesInfo>,
    /// Which of the image's layers are its base image's, and how that was found (absent when
    /// the scan stopped early).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseInfo>,
}

/// Where the image's base ends: its bottom `layers` layers are the base image's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct BaseInfo {
    pub found_by: BaseFoundBy,
    /// The base image as named (escaped): the option, the annotation or label, or the
    /// history's `FROM`.
    pub reference: Option<String>,
    /// The base's manifest digest, when known.
    pub digest: Option<String>,
    /// How many of the image's layers (bottom first) are the base's; 0 when none was found.
    pub layers: usize,
    /// What was tried and why it was not used (escaped).
    pub note: Option<String>,
}

impl BaseInfo {
    /// A boundary was found: findings can be told apart by origin.
    pub fn found(&self) -> bool {
        self.found_by != BaseFoundBy::None
    }

    /// One line for people: where the base is and how that was found, or why none was.
    pub fn describe(&self) -> String {
        let how = match self.found_by {
            BaseFoundBy::Option => "--base-image",
            BaseFoundBy::Annotation => "the image's org.opencontainers.image.base.* annotations",
            BaseFoundBy::Label => "the image's org.opencontainers.image.base.* labels",
            BaseFoundBy::History => "the FROM in the build history",
            BaseFoundBy::None => {
                return format!("none found: {}", self.note.as_deref().unwrap_or("nothing names it"));
            }
        };
        format!(
            "{}: the bottom {} layer{}, found by {how}",
            self.reference.as_deref().unwrap_or("unnamed"),
            self.layers,
            if self.layers == 1 { "" } else { "s" }
        )
    }

    pub fn origin_of(&self, layer: usize) -> Origin {
        match layer {
            // Layer 0: the image's own configuration.
            0 => Origin::Own,
            n if n <= self.layers => Origin::Base,
            _ => Origin::Own,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BaseFoundBy {
    /// `--base-image` / COMPLIANCE_BASE_IMAGE.
    Option,
    /// The `org.opencontainers.image.base.*` annotations.
    Annotation,
    /// The `org.opencontainers.image.base.*` labels.
    Label,
    /// The `FROM <ref>` comment buildah and podman write at a build's first step.
    History,
    #[default]
    None,
}

impl BaseFoundBy {
    pub fn name(self) -> &'static str {
        match self {
            BaseFoundBy::Option => "option",
            BaseFoundBy::Annotation => "annotation",
            BaseFoundBy::Label => "label",
            BaseFoundBy::History => "history",
            BaseFoundBy::None => "none",
        }
    }
}

/// Whether a layer (or a finding in it) comes from the base image or the image's own build.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Base,
    #[default]
    Own,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackagesInfo {
    /// One per ecosystem (deb, apk, rpm).
    pub databases: Vec<PackageDbInfo>,
    pub installed: Vec<InstalledPackage>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackageDbInfo {
    pub ecosystem: String,
    /// `found`, `absent` or `unreadable`.
    pub status: String,
    /// Why it is unreadable, or what part of a found one could not be read (escaped).
    pub reason: Option<String>,
    pub count: usize,
}

/// Every string escaped (`crate::escape::text`): the database is image content.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstalledPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// dpkg source package, apk origin, rpm source rpm; null when none differs.
    pub source: Option<String>,
    pub ecosystem: String,
    pub purl: String,
}

/// The package that owns a finding's path (escaped).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PackageRef {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub ecosystem: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

impl Default for ToolInfo {
    fn default() -> Self {
        ToolInfo { name: env!("CARGO_PKG_NAME").to_string(), version: env!("CARGO_PKG_VERSION").to_string() }
    }
}

/// The effective settings of a scan: everything that can change a verdict or an exit code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettingsInfo {
    pub pull: String,
    /// Where images are read from (`auto`: decided per image; `image.source` says how).
    #[serde(default)]
    pub source: SourceChoice,
    pub tls_verify: Option<bool>,
    /// The platform asked for with --platform (the scanned one is image.os/architecture/variant).
    pub platform: Option<String>,
    /// --root / --runroot / --storage-driver, when given.
    pub storage: StoreOptions,
    pub exit_codes: ExitCodes,
    /// Failed checks below this severity do not count towards the exit code.
    pub fail_on: Severity,
    /// The policy file, if one was given.
    pub policy_file: Option<String>,
    /// The policy in effect (defaults when no file was given).
    #[serde(default)]
    pub policy: Policy,
    /// The severity each check was judged with (after the policy), by check id.
    #[serde(default)]
    pub severities: BTreeMap<String, Severity>,
    /// The name lists and limits the checks used (defaults plus the policy's additions).
    #[serde(default)]
    pub rule_lists: RuleLists,
    /// --base-image, when given (it decides which findings a `scope = "own"` check counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_image: Option<String>,
}

/// Which containers/storage store podman works on. Unset fields leave podman's own
/// configuration (CONTAINERS_STORAGE_CONF, storage.conf) in charge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreOptions {
    pub root: Option<PathBuf>,
    pub runroot: Option<PathBuf>,
    pub driver: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleLists {
    pub privilege_tools: Vec<String>,
    pub remote_access_tools: Vec<String>,
    pub compilers: Vec<String>,
    /// Package-name globs (`!glob` excludes) of the three tool checks; absent in reports
    /// written before the package lists existed.
    #[serde(default)]
    pub privilege_packages: Vec<String>,
    #[serde(default)]
    pub remote_access_packages: Vec<String>,
    #[serde(default)]
    pub compiler_packages: Vec<String>,
    /// `port/protocol`, e.g. `22/tcp`.
    pub admin_ports: Vec<String>,
    pub max_layers: usize,
    /// Globs unwanted-files looks for; absent in reports written before the check existed.
    #[serde(default)]
    pub unwanted_files: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageInfo {
    /// The reference exactly as given.
    pub reference: String,
    pub transport: String,
    pub registry: Option<String>,
    pub repository: Option<String>,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub id: String,
    pub architecture: String,
    pub os: String,
    pub variant: String,
    pub created: String,
    pub size: u64,
    pub user: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub exposed_ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// The storage driver the layers were read from (empty for the registry source).
    pub storage_driver: String,
    /// Where this image's files were read from (absent: a scan that stopped before).
    #[serde(default)]
    pub source: Option<Source>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerInfo {
    /// 1-based, bottom to top.
    pub number: usize,
    pub diff_id: String,
    pub created_by: String,
    /// The build steps that made this layer, one by one (escaped); `created_by` joins them.
    #[serde(default)]
    pub steps: Vec<String>,
    pub entries: usize,
    /// Sum of the apparent sizes of the layer's regular files.
    pub size: u64,
    pub whiteouts: usize,
    pub findings: usize,
    pub errors: Vec<String>,
    /// `base` for the base image's layers; every layer is `own` when no base was found.
    #[serde(default)]
    pub origin: Origin,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    pub id: String,
    pub title: String,
    /// The effective severity (after policy overrides).
    pub severity: Severity,
    pub default_severity: Severity,
    pub status: Status,
    pub description: String,
    /// Why the check matters (the same text as `explain`).
    #[serde(default)]
    pub rationale: String,
    pub mitigation: String,
    /// The items of published standards this check implements ("CIS Docker 1.6 4.8").
    #[serde(default)]
    pub controls: Vec<String>,
    pub findings: Vec<Finding>,
    /// A waiver that covers the whole check (one with no path), when it applied.
    #[serde(default)]
    pub waiver: Option<AppliedWaiver>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppliedWaiver {
    /// Index into the policy's waivers.
    pub index: usize,
    pub reason: String,
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WaiverUse {
    pub index: usize,
    pub check: String,
    pub path: Option<String>,
    pub image: Option<String>,
    pub reason: String,
    pub expires: Option<String>,
    pub status: WaiverStatus,
    pub matched: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Finding {
    /// Absolute path inside the image; non-UTF-8 bytes and controls escaped losslessly.
    pub path: String,
    /// 1-based number of the layer that added this entry.
    pub layer: usize,
    pub layer_digest: String,
    pub created_by: String,
    pub kind: EntryKind,
    /// Octal permission bits including setuid/setgid/sticky, e.g. "4755".
    pub mode: String,
    pub permissions: String,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub link_target: Option<String>,
    /// Still present in the final image (false: deleted or replaced by a later layer).
    pub visible: bool,
    /// This finding is what makes the check fail (false: listed for information).
    pub violation: bool,
    /// The layer it points at is the base image's or the image's own (configuration: own).
    #[serde(default)]
    pub origin: Origin,
    /// false: a base-image violation set aside by the policy's `scope = "own"`; it no longer
    /// fails the check.
    #[serde(default = "yes")]
    pub counted: bool,
    pub note: Option<String>,
    /// Set when a policy waiver covers this violation; it then no longer fails the check.
    #[serde(default)]
    pub waiver: Option<AppliedWaiver>,
    /// The installed package that owns this path in the final image. Only for visible file
    /// findings and only when a package database was found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageRef>,
    /// A package database was found and no package owns this visible path: it was copied
    /// in by hand. False when nothing can be said (no database, a hidden or config finding).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub not_owned: bool,
    /// The exact command that removes this finding (`apt-get purge --auto-remove PKG`,
    /// `apk del PKG`, `dnf remove PKG`, `chmod u-s PATH`), when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
impl Finding {
    /// A visible own violation at `path` in layer 1, owned by nothing known: tests change
    /// what they are about with struct update syntax.
    pub fn test(path: &str, kind: EntryKind) -> Finding {
        Finding {
            path: path.into(),
            layer: 1,
            layer_digest: String::new(),
            created_by: String::new(),
            kind,
            mode: "0755".into(),
            permissions: String::new(),
            uid: 0,
            gid: 0,
            size: 0,
            link_target: None,
            visible: true,
            violation: true,
            origin: Origin::Own,
            counted: true,
            note: None,
            waiver: None,
            package: None,
            not_owned: false,
            fix: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub verdict: Verdict,
    pub exit_code: u8,
    pub worst_failed_severity: Option<Severity>,
    pub fail_on: Severity,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
    /// Failed checks per severity.
    pub failed_by_severity: SeverityCounts,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanError {
    pub kind: ErrorKind,
    pub exit_code: u8,
    pub message: String,
}

impl Report {
    /// The decision: an operational error outranks the policy verdict; failed checks below
    /// `fail_on` do not count.
    pub fn outcome(&self) -> Outcome {
        outcome_of(&self.checks, self.error.as_ref(), self.settings.fail_on)
    }
}

fn outcome_of(checks: &[CheckResult], error: Option<&ScanError>, fail_on: Severity) -> Outcome {
    if let Some(e) = error {
        return Outcome::Operational(e.kind);
    }
    if checks.iter().any(|c| c.status == Status::Error) {
        return Outcome::Operational(ErrorKind::CheckError);
    }
    Outcome::Policy(
        checks.iter().filter(|c| c.status == Status::Fail && c.severity >= fail_on).map(|c| c.severity).max(),
    )
}

impl Summary {
    /// The summary that checks, an error and the settings imply.
    pub fn of(checks: &[CheckResult], error: Option<&ScanError>, settings: &SettingsInfo) -> Summary {
        let count = |s: Status| checks.iter().filter(|c| c.status == s).count();
        let failed = || checks.iter().filter(|c| c.status == Status::Fail).map(|c| c.severity);
        let outcome = outcome_of(checks, error, settings.fail_on);
        Summary {
            verdict: outcome.verdict(),
            exit_code: outcome.code(&settings.exit_codes),
            worst_failed_severity: failed().max(),
            fail_on: settings.fail_on,
            passed: count(Status::Pass),
            failed: count(Status::Fail),
            skipped: count(Status::Skipped),
            errors: count(Status::Error),
            failed_by_severity: SeverityCounts::of(failed()),
        }
    }
}
