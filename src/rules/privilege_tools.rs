use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "privilege-tools",
    title: "No privilege-switching tools",
    severity: Severity::Critical,
    rationale: "su, sudo, sudoedit, doas and pkexec exist to become another user, normally root. \
        A container has no interactive administrator, so their only use in production is an \
        attacker's. A match counts when it is an executable (or a symlink resolving inside the \
        image to one) in a PATH or standard bin/sbin directory; the same name elsewhere \
        (/etc/pam.d/su) does not. An installed sudo, doas or polkit package fails the check too, \
        whatever its files are called.",
    remediation: "Do not install sudo/doas/policykit; remove su (`rm /bin/su` or the package \
        providing it, e.g. `dpkg --purge --force-remove-essential login` on Debian) in the build.",
    reads_layers: true,
    controls: &["CIS Docker 1.6 4.3", "NIST SP 800-190 4.1.2", "DISA CIDG V2R0.6 no-escalation-permissions"],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, s: &RuleSettings) -> Needs {
        Needs { names: s.privilege_tools.clone(), ..Needs::default() }
    }

    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation {
        super::tools::evaluate(ctx, hits, ("privilege tool", "privilege tools"), &ctx.settings.privilege_packages)
    }
}
