//! The organisation's policy as data: which checks run and how severe they are, the failure
//! threshold, required labels, list extensions and waivers. Reading and validating a policy
//! file is `engine::policy`.

use super::vocab::Severity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Checks failing below this severity are reported but do not fail the gate.
    pub fail_on: Option<Severity>,
    /// Per-check settings, keyed by check id.
    #[serde(default)]
    pub checks: BTreeMap<String, CheckPolicy>,
    #[serde(default)]
    pub labels: LabelPolicy,
    /// Replaces the default administration-port list ("22/tcp", "161/udp", "3389").
    pub admin_ports: Option<Vec<String>>,
    /// Names added to the default lists.
    #[serde(default)]
    pub extra_privilege_tools: Vec<String>,
    #[serde(default)]
    pub extra_remote_access_tools: Vec<String>,
    #[serde(default)]
    pub extra_compilers: Vec<String>,
    /// Package-name globs added to the tool checks' package lists (`!glob` excludes).
    #[serde(default)]
    pub extra_privilege_packages: Vec<String>,
    #[serde(default)]
    pub extra_remote_access_packages: Vec<String>,
    #[serde(default)]
    pub extra_compiler_packages: Vec<String>,
    /// Globs added to secret-files' candidates: on the base name, or on the full path when
    /// the glob holds a '/'.
    #[serde(default)]
    pub extra_secret_files: Vec<String>,
    /// Globs added to the unwanted-files list: on the base name (`*.orig`), or on the full
    /// path when they hold a '/' (`/app/test/*`).
    #[serde(default)]
    pub extra_unwanted_files: Vec<String>,
    /// The most layers an image may have before too-many-layers fails (default 1).
    pub max_layers: Option<usize>,
    #[serde(default)]
    pub waivers: Vec<Waiver>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckPolicy {
    /// false: the check is skipped (reported as skipped, never as passed).
    pub enabled: Option<bool>,
    pub severity: Option<Severity>,
    /// Why the check is disabled or re-rated; shown in reports.
    pub reason: Option<String>,
    /// `own`: only violations in the image's own layers (above its base image) fail the
    /// check; the base image's stay listed, set aside. Default `all`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// Which layers' violations count toward a check's verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    #[default]
    All,
    Own,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LabelPolicy {
    #[serde(default)]
    pub required: Vec<RequiredLabel>,
    /// Required labels must be set by the image itself, not inherited from its base image
    /// (decided from the build history when it shows where a label was set).
    #[serde(default)]
    pub own: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredLabel {
    pub key: String,
    /// A glob the value must match (`*`, `?`, `[a-z]`).
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Waiver {
    pub check: String,
    /// Glob on the finding's path inside the image; omitted: the whole check.
    pub path: Option<String>,
    /// Glob on the image reference; omitted: every image.
    pub image: Option<String>,
    pub reason: String,
    /// YYYY-MM-DD; from the day after, the waiver no longer applies.
    pub expires: Option<String>,
}

impl Policy {
    pub fn enabled(&self, id: &str) -> bool {
        self.checks.get(id).and_then(|c| c.enabled).unwrap_or(true)
    }

    pub fn scope(&self, id: &str) -> Scope {
        self.checks.get(id).and_then(|c| c.scope).unwrap_or_default()
    }

    pub fn severity(&self, id: &str, default: Severity) -> Severity {
        self.checks.get(id).and_then(|c| c.severity).unwrap_or(default)
    }
}
