//! The checks. One file per rule; each declares its id, title, default severity, rationale
//! and remediation next to its code, and what the single layer walk must hand it.

mod accounts;
mod classifier;
mod context;
mod mode_bits;
mod patterns;
mod rule;
pub mod secrets;
mod settings;
pub mod standards;
mod tools;

pub mod account_hygiene;
pub mod admin_ports_exposed;
pub mod base_os;
pub mod build_hygiene;
pub mod compilers;
pub mod file_capabilities;
pub mod healthcheck_missing;
pub mod labels_missing;
pub mod latest_tag;
pub mod privilege_tools;
pub mod privileged_ports_exposed;
pub mod remote_access_tools;
pub mod required_labels;
pub mod root_group;
pub mod root_user;
pub mod secret_files;
pub mod secrets_in_config;
pub mod sgid_files;
pub mod startup_command_missing;
pub mod suid_files;
pub mod too_many_layers;
pub mod unwanted_files;
pub mod world_writable;

pub use classifier::Classifier;
pub use context::{Context, FileRead, MAX_FILE_READ, STANDARD_PATH};
pub use rule::{Evaluation, Needs, Rule, RuleMeta};
pub use settings::{RuleSettings, DEFAULT_ADMIN_PORTS};

/// Every rule, in report order.
pub fn all() -> &'static [&'static dyn Rule] {
    &[
        &latest_tag::Rule,
        &admin_ports_exposed::Rule,
        &privileged_ports_exposed::Rule,
        &root_user::Rule,
        &root_group::Rule,
        &labels_missing::Rule,
        &required_labels::Rule,
        &too_many_layers::Rule,
        &startup_command_missing::Rule,
        &suid_files::Rule,
        &sgid_files::Rule,
        &file_capabilities::Rule,
        &world_writable::Rule,
        &account_hygiene::Rule,
        &privilege_tools::Rule,
        &remote_access_tools::Rule,
        &compilers::Rule,
        &secrets_in_config::Rule,
        &secret_files::Rule,
        &healthcheck_missing::Rule,
        &build_hygiene::Rule,
        &unwanted_files::Rule,
        &base_os::Rule,
    ]
}

pub fn find(id: &str) -> Option<&'static dyn Rule> {
    all().iter().copied().find(|r| r.meta().id == id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_stable_kebab_case_and_documented() {
        let mut seen = HashSet::new();
        for r in all() {
            let m = r.meta();
            assert!(seen.insert(m.id), "duplicate id {}", m.id);
            assert!(
                m.id.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') && !m.id.starts_with('-'),
                "{} is not kebab-case",
                m.id
            );
            assert!(!m.title.is_empty() && m.rationale.len() > 40 && m.remediation.len() > 20, "{} undocumented", m.id);
            assert!(find(m.id).is_some());
            for c in m.controls {
                assert!(
                    ["CIS Docker 1.6 4.", "CIS Docker 1.6 5.", "NIST SP 800-190 4.", "DISA CIDG V2R0.6 "]
                        .iter()
                        .any(|p| c.starts_with(p)),
                    "{}: unknown standard in {c:?}",
                    m.id
                );
            }
        }
        assert!(all().len() <= 64, "rule slots are bits of a u64");
    }

    #[test]
    fn the_documented_ids_and_severities() {
        let got: Vec<(&str, Severity)> = all().iter().map(|r| (r.meta().id, r.meta().severity)).collect();
        use Severity::*;
        assert_eq!(
            got,
            vec![
                ("latest-tag", Critical),
                ("admin-ports-exposed", High),
                ("privileged-ports-exposed", Medium),
                ("root-user", Critical),
                ("root-group", Critical),
                ("labels-missing", Low),
                ("required-labels", Low),
                ("too-many-layers", Low),
                ("startup-command-missing", Low),
                ("suid-files", Critical),
                ("sgid-files", Critical),
                ("file-capabilities", High),
                ("world-writable", Medium),
                ("account-hygiene", High),
                ("privilege-tools", Critical),
                ("remote-access-tools", Critical),
                ("compilers", Medium),
                ("secrets-in-config", High),
                ("secret-files", Critical),
                ("healthcheck-missing", Low),
                ("build-hygiene", Low),
                ("unwanted-files", Low),
                ("base-os", Informational),
            ]
        );
    }

    #[test]
    fn default_tool_lists_are_exactly_the_documented_ones() {
        let s = RuleSettings::default();
        assert_eq!(s.privilege_tools, ["su", "sudo", "sudoedit", "doas", "pkexec"]);
        assert_eq!(
            s.remote_access_tools,
            [
                "ssh",
                "sshd",
                "scp",
                "sftp",
                "nc",
                "nc.openbsd",
                "nc.traditional",
                "ncat",
                "netcat",
                "socat",
                "telnet",
                "telnetd",
                "in.telnetd",
                "dropbear",
                "dbclient",
                "rsh",
                "rlogin",
                "rexec"
            ]
        );
        for c in [
            "gcc", "g++", "cc", "c++", "clang", "tcc", "gfortran", "gccgo", "go", "rustc", "javac", "ghc", "fpc",
            "nasm", "as",
        ] {
            assert!(s.compilers.iter().any(|x| x == c), "{c} missing");
        }
    }
}

#[cfg(test)]
mod rule_tests;
