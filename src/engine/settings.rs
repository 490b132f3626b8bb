//! The settings a report states: derived from the policy once, so every report carries the
//! effective severities and rule lists and no reader has to recompute them.

use crate::model::{ExitCodes, Policy, RuleLists, SettingsInfo, Severity, SourceChoice};
use crate::rules::{self, RuleSettings};
use std::collections::BTreeMap;

/// The severity each check is judged with under `policy`, by check id.
pub fn effective_severities(policy: &Policy) -> BTreeMap<String, Severity> {
    rules::all().iter().map(|r| (r.meta().id.to_string(), policy.severity(r.meta().id, r.meta().severity))).collect()
}

pub fn rule_lists(rules: &RuleSettings) -> RuleLists {
    RuleLists {
        privilege_tools: rules.privilege_tools.clone(),
        remote_access_tools: rules.remote_access_tools.clone(),
        compilers: rules.compilers.clone(),
        privilege_packages: rules.privilege_packages.clone(),
        remote_access_packages: rules.remote_access_packages.clone(),
        compiler_packages: rules.compiler_packages.clone(),
        admin_ports: rules.admin_ports.iter().map(|(p, proto)| format!("{p}/{proto}")).collect(),
        max_layers: rules.max_layers,
        unwanted_files: rules.unwanted_files.clone(),
    }
}

/// Settings for a policy. Platform and storage are the host's unless the caller sets them.
pub fn settings_info(
    pull: &str,
    tls_verify: Option<bool>,
    exit_codes: ExitCodes,
    fail_on: Severity,
    policy_file: Option<String>,
    policy: Policy,
) -> SettingsInfo {
    SettingsInfo {
        pull: pull.to_string(),
        source: SourceChoice::default(),
        tls_verify,
        platform: None,
        storage: Default::default(),
        exit_codes,
        fail_on,
        policy_file,
        severities: effective_severities(&policy),
        rule_lists: rule_lists(&super::policy::rule_settings(&policy)),
        base_image: None,
        policy,
    }
}
