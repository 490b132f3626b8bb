use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "sgid-files",
    title: "No setgid files",
    severity: Severity::Critical,
    rationale: "A setgid executable runs with its group's privileges whoever starts it (e.g. \
        group shadow can read password hashes). Like setuid, it turns any shell in the container \
        into a privilege escalation. Setgid directories (which only make new files inherit the \
        group) are listed as information and do not fail.",
    remediation: "Remove the setgid bit in the build (`chmod g-s FILE`, or \
        `find / -xdev -perm -2000 -type f -exec chmod g-s {} +` in the last layer).",
    reads_layers: true,
    controls: &["CIS Docker 1.6 4.8", "NIST SP 800-190 4.1.2", "DISA CIDG V2R0.6 no-escalation-permissions"],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, _: &RuleSettings) -> Needs {
        Needs { mode_bits: 0o2000, ..Needs::default() }
    }

    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation {
        super::mode_bits::special_bit(ctx, hits, "setgid")
    }
}
