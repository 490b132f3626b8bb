//! Reading the policy file. Validated strictly: an unknown key or a bad value is a
//! configuration error naming the file, the key and what was expected.

use crate::glob;
use crate::model::Policy;
use crate::rules::{self, RuleSettings};
use std::path::Path;

pub fn load(path: &Path) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read policy file {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("policy file {}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Policy, String> {
    let p: Policy = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())?;
    validate(&p)?;
    Ok(p)
}

fn validate(p: &Policy) -> Result<(), String> {
    let known = || rules::all().iter().map(|r| r.meta().id).collect::<Vec<_>>().join(", ");
    for id in p.checks.keys() {
        if rules::find(id).is_none() {
            return Err(format!("checks.{id}: unknown check id; expected one of: {}", known()));
        }
    }
    for (i, w) in p.waivers.iter().enumerate() {
        if rules::find(&w.check).is_none() {
            return Err(format!("waivers[{i}].check: unknown check id {:?}; expected one of: {}", w.check, known()));
        }
        if w.reason.trim().is_empty() {
            return Err(format!("waivers[{i}].reason: a waiver needs a reason"));
        }
        if let Some(e) = &w.expires {
            crate::time::parse_date(e)
                .ok_or_else(|| format!("waivers[{i}].expires: expected a date YYYY-MM-DD, got {e:?}"))?;
        }
        for (key, g) in [("path", &w.path), ("image", &w.image)] {
            if let Some(g) = g {
                glob::check(g).map_err(|e| format!("waivers[{i}].{key}: {e}"))?;
            }
        }
    }
    for (i, l) in p.labels.required.iter().enumerate() {
        if l.key.trim().is_empty() {
            return Err(format!("labels.required[{i}].key: must not be empty"));
        }
        if let Some(pattern) = &l.pattern {
            glob::check(pattern).map_err(|e| format!("labels.required[{i}].pattern: {e}"))?;
        }
    }
    if let Some(ports) = &p.admin_ports {
        for (i, port) in ports.iter().enumerate() {
            parse_port(port)
                .ok_or_else(|| format!("admin_ports[{i}]: expected PORT or PORT/tcp|udp|sctp, got {port:?}"))?;
        }
    }
    for (key, list) in [
        ("extra_privilege_tools", &p.extra_privilege_tools),
        ("extra_remote_access_tools", &p.extra_remote_access_tools),
        ("extra_compilers", &p.extra_compilers),
    ] {
        if let Some(bad) = list.iter().find(|n| n.is_empty() || n.contains('/')) {
            return Err(format!("{key}: expected file names without '/', got {bad:?}"));
        }
    }
    for (key, list) in [
        ("extra_privilege_packages", &p.extra_privilege_packages),
        ("extra_remote_access_packages", &p.extra_remote_access_packages),
        ("extra_compiler_packages", &p.extra_compiler_packages),
    ] {
        for (i, g) in list.iter().enumerate() {
            let name = g.strip_prefix('!').unwrap_or(g);
            if name.is_empty() || name.contains(['/', '!']) || name.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return Err(format!(
                    "{key}[{i}]: expected a package name glob (`openssh-*`, `!openssh-doc` to exclude), got {g:?}"
                ));
            }
            glob::check(name).map_err(|e| format!("{key}[{i}]: {e}"))?;
        }
    }
    for (i, g) in p.extra_secret_files.iter().enumerate() {
        if g.trim().is_empty() || g.contains('\0') || g.ends_with('/') {
            return Err(format!(
                "extra_secret_files[{i}]: expected a file name glob or an absolute path glob, got {g:?}"
            ));
        }
        if g.contains('/') && !g.starts_with('/') && !g.starts_with('*') {
            return Err(format!(
                "extra_secret_files[{i}]: a glob with '/' matches the full path, so it must start with '/' or '*', got {g:?}"
            ));
        }
        glob::check(g).map_err(|e| format!("extra_secret_files[{i}]: {e}"))?;
    }
    for (i, g) in p.extra_unwanted_files.iter().enumerate() {
        let key = format!("extra_unwanted_files[{i}]");
        if g.is_empty() || g.contains('\0') {
            return Err(format!("{key}: expected a file name glob or an absolute path glob, got {g:?}"));
        }
        if g.contains('/') && !g.starts_with('/') && !g.starts_with('*') {
            return Err(format!(
                "{key}: a glob with '/' is on the full path and must start with '/' or '*', got {g:?}"
            ));
        }
        glob::check(g).map_err(|e| format!("{key}: {e}"))?;
    }
    if p.max_layers == Some(0) {
        return Err("max_layers: expected at least 1".into());
    }
    Ok(())
}

/// The rule settings this policy implies.
pub fn rule_settings(p: &Policy) -> RuleSettings {
    let mut s = RuleSettings::default();
    s.privilege_tools.extend(p.extra_privilege_tools.iter().cloned());
    s.remote_access_tools.extend(p.extra_remote_access_tools.iter().cloned());
    s.compilers.extend(p.extra_compilers.iter().cloned());
    s.privilege_packages.extend(p.extra_privilege_packages.iter().cloned());
    s.remote_access_packages.extend(p.extra_remote_access_packages.iter().cloned());
    s.compiler_packages.extend(p.extra_compiler_packages.iter().cloned());
    s.secret_files.extend(p.extra_secret_files.iter().cloned());
    s.unwanted_files.extend(p.extra_unwanted_files.iter().cloned());
    if let Some(ports) = &p.admin_ports {
        s.admin_ports = ports.iter().filter_map(|port| parse_port(port)).collect();
    }
    if let Some(m) = p.max_layers {
        s.max_layers = m;
    }
    s.required_labels = p.labels.required.iter().map(|l| (l.key.clone(), l.pattern.clone())).collect();
    s.labels_own = p.labels.own;
    s
}

fn parse_port(p: &str) -> Option<(u16, String)> {
    let (port, proto) = rules::admin_ports_exposed::parse_port(p)?;
    matches!(proto.as_str(), "tcp" | "udp" | "sctp").then_some((port, proto))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_policy_in_the_repo_is_valid() {
        let p = parse(include_str!("../../policy.example.toml")).unwrap();
        assert!(!p.waivers.is_empty());
        assert!(!p.labels.required.is_empty());
        assert_eq!(p.scope("suid-files"), crate::model::Scope::Own);
        assert_eq!(p.scope("compilers"), crate::model::Scope::All);
        let own = parse(include_str!("../../ci-examples/policy-own-layers.toml")).unwrap();
        assert_eq!(own.scope("privilege-tools"), crate::model::Scope::Own);
        assert_eq!(own.scope("root-user"), crate::model::Scope::All);
    }

    #[test]
    fn strict_validation_names_the_key_and_the_expectation() {
        let cases = [
            ("unknown_key = 1", "unknown field `unknown_key`"),
            ("fail_on = \"hgh\"", "unknown variant `hgh`"),
            ("[checks.no-such-check]\nenabled = false", "checks.no-such-check: unknown check id"),
            ("[checks.suid-files]\nenabeld = false", "unknown field `enabeld`"),
            ("[checks.suid-files]\nscope = \"base\"", "unknown variant `base`, expected `all` or `own`"),
            ("[checks.suid-files]\nscope = \"Own\"", "unknown variant `Own`"),
            ("[checks.suid-files]\nscope = true", "wanted string"),
            ("[[waivers]]\ncheck = \"suid-files\"\npath = \"/x\"", "missing field `reason`"),
            ("[[waivers]]\ncheck = \"suid-files\"\nreason = \" \"", "waivers[0].reason"),
            (
                "[[waivers]]\ncheck = \"suid-files\"\nreason = \"r\"\nexpires = \"31/12/2027\"",
                "waivers[0].expires: expected a date YYYY-MM-DD",
            ),
            ("admin_ports = [\"ssh\"]", "admin_ports[0]: expected PORT"),
            ("max_layers = 0", "max_layers: expected at least 1"),
            ("extra_secret_files = [\"\"]", "extra_secret_files[0]: expected a file name glob"),
            ("extra_secret_files = [\"conf/*.secret\"]", "extra_secret_files[0]: a glob with '/'"),
            ("extra_secret_files = [\"*.jks\", \"[a-z\"]", "extra_secret_files[1]: unterminated ["),
            ("extra_secret_files = \"*.jks\"", "invalid type"),
            ("max_layers = \"five\"", "invalid type"),
            ("extra_unwanted_files = [\"\"]", "extra_unwanted_files[0]: expected a file name glob"),
            ("extra_unwanted_files = [\"*.bak\", \"app/x\"]", "extra_unwanted_files[1]: a glob with '/'"),
            ("extra_unwanted_files = [\"[ab\"]", "extra_unwanted_files[0]: unterminated ["),
            ("extra_unwanted_files = \"*.bak\"", "invalid type"),
            ("extra_compiler_packages = [\"\"]", "extra_compiler_packages[0]: expected a package name glob"),
            ("extra_privilege_packages = [\"run as\"]", "extra_privilege_packages[0]: expected a package name glob"),
            ("extra_remote_access_packages = [\"mosh\", \"!\"]", "extra_remote_access_packages[1]: expected"),
            ("extra_remote_access_packages = [\"usr/bin/x\"]", "extra_remote_access_packages[0]: expected"),
            ("extra_compiler_packages = [\"!!gcc\"]", "extra_compiler_packages[0]: expected"),
            ("extra_compiler_packages = [\"gcc-[0-9\"]", "extra_compiler_packages[0]: unterminated ["),
            ("extra_compiler_packages = \"tcc\"", "invalid type"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
