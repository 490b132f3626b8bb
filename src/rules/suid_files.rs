use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "suid-files",
    title: "No setuid files",
    severity: Severity::Critical,
    rationale: "A setuid executable runs with its owner's privileges (usually root) whoever starts \
        it. Inside a container that is a ready-made privilege escalation for anyone who gets a \
        shell, and a vulnerable setuid binary is a classic container-escape first step. Files \
        deleted by a later layer are still listed (they ship in the layer), but only files visible \
        in the final image fail the check.",
    remediation: "Remove the setuid bit in the build (`chmod u-s FILE`, or \
        `find / -xdev -perm -4000 -type f -exec chmod u-s {} +` in the last layer), or remove the \
        package that installs it.",
    reads_layers: true,
    controls: &["CIS Docker 1.6 4.8", "NIST SP 800-190 4.1.2", "DISA CIDG V2R0.6 no-escalation-permissions"],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, _: &RuleSettings) -> Needs {
        Needs { mode_bits: 0o4000, ..Needs::default() }
    }

    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation {
        super::mode_bits::special_bit(ctx, hits, "setuid")
    }
}
