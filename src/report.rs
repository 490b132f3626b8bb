//! The one typed report every renderer reads, and the only place that turns check results
//! into an outcome (exit code).

use crate::exit::{ExitCodes, Failure, Operational, Outcome};
use crate::inspect::ImageInspect;
use crate::layers::{ImageFs, Kind, Loc};
use crate::reference::ImageRef;
use crate::filetree::FileTree;
use crate::policy::{glob_match, Policy};
use crate::rules::{Context, Rule, RuleSettings, Severity, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Bumped on any incompatible change to the JSON layout. Documented in README.md.
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
    pub tls_verify: Option<bool>,
    /// The platform asked for with --platform (the scanned one is image.os/architecture/variant).
    pub platform: Option<String>,
    /// --root / --runroot / --storage-driver, when given.
    pub storage: crate::podman::StoreOptions,
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
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleLists {
    pub privilege_tools: Vec<String>,
    pub remote_access_tools: Vec<String>,
    pub compilers: Vec<String>,
    /// `port/protocol`, e.g. `22/tcp`.
    pub admin_ports: Vec<String>,
    pub max_layers: usize,
}

/// The severity each check is judged with under `policy`, by check id.
pub fn effective_severities(policy: &Policy) -> BTreeMap<String, Severity> {
    crate::rules::all()
        .iter()
        .map(|r| (r.meta().id.to_string(), policy.severity(r.meta().id, r.meta().severity)))
        .collect()
}

impl RuleLists {
    pub fn from_settings(rules: &RuleSettings) -> RuleLists {
        RuleLists {
            privilege_tools: rules.privilege_tools.clone(),
            remote_access_tools: rules.remote_access_tools.clone(),
            compilers: rules.compilers.clone(),
            admin_ports: rules.admin_ports.iter().map(|(p, proto)| format!("{p}/{proto}")).collect(),
            max_layers: rules.max_layers,
        }
    }
}

impl SettingsInfo {
    /// Settings for a policy: the effective severities and rule lists are derived from it
    /// here, once, so every report states them and no reader has to recompute them. Platform
    /// and storage are the host's unless the caller sets them.
    pub fn new(pull: &str, tls_verify: Option<bool>, exit_codes: ExitCodes, fail_on: Severity, policy_file: Option<String>, policy: Policy) -> SettingsInfo {
        SettingsInfo {
            pull: pull.to_string(),
            tls_verify,
            platform: None,
            storage: Default::default(),
            exit_codes,
            fail_on,
            policy_file,
            severities: effective_severities(&policy),
            rule_lists: RuleLists::from_settings(&policy.rule_settings()),
            policy,
        }
    }

    /// Keys sorted at every level, no whitespace: the form the digest is taken of.
    pub fn canonical_json(&self) -> String {
        crate::canonical::to_string(&serde_json::to_value(self).expect("settings always serialise"))
    }

    pub fn digest(&self) -> String {
        format!("sha256:{}", crate::sha256::hex(self.canonical_json().as_bytes()))
    }
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
    pub storage_driver: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerInfo {
    /// 1-based, bottom to top.
    pub number: usize,
    pub diff_id: String,
    pub created_by: String,
    pub entries: usize,
    /// Sum of the apparent sizes of the layer's regular files.
    pub size: u64,
    pub whiteouts: usize,
    pub findings: usize,
    pub errors: Vec<String>,
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
    /// "applied", "expired" (it matched, but its date has passed) or "unused".
    pub status: String,
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
    pub kind: Kind,
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
    pub note: Option<String>,
    /// Set when a policy waiver covers this violation; it then no longer fails the check.
    #[serde(default)]
    pub waiver: Option<AppliedWaiver>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    /// "pass", "fail" or "error".
    pub verdict: String,
    pub exit_code: u8,
    pub worst_failed_severity: Option<Severity>,
    pub fail_on: Severity,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
    /// Failed checks per severity (every severity present, zero included).
    pub failed_by_severity: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanError {
    pub kind: String,
    pub exit_code: u8,
    pub message: String,
}

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
            let severity = policy.severity(meta.id, meta.severity);
            if !policy.enabled(meta.id) {
                let why = policy.checks.get(meta.id).and_then(|c| c.reason.clone());
                return CheckResult {
                    id: meta.id.to_string(),
                    title: meta.title.to_string(),
                    severity,
                    default_severity: meta.severity,
                    status: Status::Skipped,
                    description: match why {
                        Some(r) => format!("disabled by policy: {}", crate::escape::text(&r)),
                        None => "disabled by policy".to_string(),
                    },
                    rationale: squash(meta.rationale),
                    mitigation: squash(meta.remediation),
                    findings: Vec::new(),
                    waiver: None,
                };
            }
            let mut ev = rule.check(&ctx, &hits);
            // A partial walk cannot prove absence, nor that what it saw is the final state.
            if meta.reads_layers {
                if let Some(first) = &first_walk_error {
                    ev.status = Status::Error;
                    ev.description = format!(
                        "could not read every layer ({walk_error_count} error{}, first: {first}); seen so far: {}",
                        if walk_error_count == 1 { "" } else { "s" },
                        ev.description
                    );
                }
            }
            CheckResult {
                id: meta.id.to_string(),
                title: meta.title.to_string(),
                severity,
                default_severity: meta.severity,
                status: ev.status,
                description: ev.description,
                rationale: squash(meta.rationale),
                mitigation: squash(meta.remediation),
                findings: ev.findings,
                waiver: None,
            }
        })
        .collect()
}

/// `registry_digest`: the digest the registry gave for this reference, when it was asked.
pub fn image_info(reference: &ImageRef, image: &ImageInspect, registry_digest: Option<String>) -> ImageInfo {
    let c = &image.config;
    ImageInfo {
        reference: reference.original.clone(),
        transport: reference.transport.name().to_string(),
        registry: reference.registry.clone(),
        repository: reference.repository.clone(),
        tag: reference.effective_tag().map(String::from),
        digest: reference
            .digest
            .clone()
            .or(registry_digest)
            .or_else(|| image.digest_for(reference.repo_name().as_deref())),
        id: image.id.clone(),
        architecture: image.architecture.clone(),
        os: image.os.clone(),
        variant: image.variant.clone(),
        created: image.created.clone(),
        size: image.size,
        user: c.user.clone(),
        entrypoint: c.entrypoint.clone(),
        cmd: c.cmd.clone(),
        exposed_ports: c.exposed_ports.keys().cloned().collect(),
        labels: c.labels.clone(),
        storage_driver: image.graph_driver.name.clone(),
    }
}

pub fn layer_info(fs: &ImageFs, checks: &[CheckResult]) -> Vec<LayerInfo> {
    fs.layers
        .iter()
        .map(|l| LayerInfo {
            number: l.source.number,
            diff_id: l.source.diff_id.clone(),
            created_by: crate::escape::text(&l.source.created_by),
            entries: l.scan.entries.len(),
            size: l.scan.bytes,
            whiteouts: l.scan.entries.iter().filter(|e| e.kind == Kind::Whiteout).count(),
            findings: checks.iter().flat_map(|c| &c.findings).filter(|f| f.layer == l.source.number).count(),
            errors: l.scan.errors.clone(),
        })
        .collect()
}

impl Report {
    pub fn new(
        settings: SettingsInfo,
        image: ImageInfo,
        layers: Vec<LayerInfo>,
        checks: Vec<CheckResult>,
        waivers: Vec<WaiverUse>,
        error: Option<&Failure>,
    ) -> Report {
        let settings_digest = settings.digest();
        let mut r = Report {
            schema_version: SCHEMA_VERSION,
            tool: ToolInfo::default(),
            scanned_at: crate::time::now_rfc3339(),
            settings,
            settings_digest,
            image,
            layers,
            checks,
            waivers,
            summary: Summary {
                verdict: "pass".to_string(),
                exit_code: 0,
                worst_failed_severity: None,
                fail_on: Severity::Informational,
                passed: 0,
                failed: 0,
                skipped: 0,
                errors: 0,
                failed_by_severity: BTreeMap::new(),
            },
            error: error.map(|f| ScanError {
                kind: kind_name(f.kind).to_string(),
                exit_code: f.kind.code(),
                message: f.message.clone(),
            }),
            tree: None,
        };
        r.summarize();
        r
    }

    /// The decision: an operational error outranks the policy verdict.
    pub fn outcome(&self) -> Outcome {
        if let Some(e) = &self.error {
            if let Some(op) = Operational::ALL.into_iter().find(|o| o.code() == e.exit_code) {
                return Outcome::Operational(op);
            }
        }
        if self.checks.iter().any(|c| c.status == Status::Error) {
            return Outcome::Operational(Operational::CheckError);
        }
        let fail_on = self.settings.fail_on;
        Outcome::Policy(
            self.checks.iter().filter(|c| c.status == Status::Fail && c.severity >= fail_on).map(|c| c.severity).max(),
        )
    }

    fn summarize(&mut self) {
        let count = |s: Status| self.checks.iter().filter(|c| c.status == s).count();
        let mut by_sev = BTreeMap::new();
        for s in Severity::ALL {
            by_sev.insert(
                s.name().to_string(),
                self.checks.iter().filter(|c| c.status == Status::Fail && c.severity == s).count(),
            );
        }
        let outcome = self.outcome();
        self.summary = Summary {
            verdict: verdict_of(outcome).to_string(),
            exit_code: outcome.code(&self.settings.exit_codes),
            worst_failed_severity: self.checks.iter().filter(|c| c.status == Status::Fail).map(|c| c.severity).max(),
            fail_on: self.settings.fail_on,
            passed: count(Status::Pass),
            failed: count(Status::Fail),
            skipped: count(Status::Skipped),
            errors: count(Status::Error),
            failed_by_severity: by_sev,
        };
    }
}

/// "pass", "fail" or "error": the word for an outcome.
pub fn verdict_of(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Operational(_) => "error",
        Outcome::Policy(None) | Outcome::Policy(Some(Severity::Informational)) => "pass",
        Outcome::Policy(Some(_)) => "fail",
    }
}

fn kind_name(o: Operational) -> &'static str {
    match o {
        Operational::PullFailed => "pull-failed",
        Operational::InspectFailed => "inspect-failed",
        Operational::NoImage => "no-image",
        Operational::ReportsDir => "reports-dir",
        Operational::InvalidConfig => "invalid-config",
        Operational::CheckError => "check-error",
    }
}

/// Rule texts are wrapped in the source; reports carry them as one line.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Apply the policy's waivers to one image's results. A waiver covers violations of its
/// check whose path matches (or the whole check when it has no path), on images matching
/// its image pattern, until its expiry date. Waived findings stay in the report.
pub fn apply_waivers(checks: &mut [CheckResult], policy: &Policy, reference: &ImageRef, today: (i64, u32, u32)) -> Vec<WaiverUse> {
    let names: Vec<String> = [Some(reference.original.clone()), reference.local_name()].into_iter().flatten().collect();
    let mut uses = Vec::new();
    for (index, w) in policy.waivers.iter().enumerate() {
        let expired = w.expires.as_deref().and_then(crate::policy::parse_date).is_some_and(|d| d < today);
        let image_ok = w.image.as_deref().map_or(true, |p| names.iter().any(|n| glob_match(p, n)));
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
                        for f in c.findings.iter_mut().filter(|f| f.violation && glob_match(p, &f.path)) {
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
                (0, _) => "unused",
                (_, true) => "expired",
                (_, false) => "applied",
            }
            .to_string(),
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
