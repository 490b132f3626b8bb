use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "remote-access-tools",
    title: "No remote-access tools",
    severity: Severity::Critical,
    rationale: "ssh, scp, sftp, telnet, rsh and their servers, and relays such as nc, ncat and \
        socat, let an intruder open shells, move data out or pivot to other hosts. A production \
        image has no need for them; their presence turns a foothold into a base. An installed openssh, netcat, socat, telnet or \
        dropbear package fails the check too, whatever its files are called.",
    remediation: "Remove the packages that provide them (openssh-client/server, netcat-*, socat, \
        telnet, dropbear) from the final image; use a debug image or ephemeral container when \
        you need them.",
    reads_layers: true,
    controls: &[
        "CIS Docker 1.6 4.3",
        "CIS Docker 1.6 5.6",
        "NIST SP 800-190 4.1.2",
        "DISA CIDG V2R0.6 ssh-server-disabled",
    ],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, s: &RuleSettings) -> Needs {
        Needs { names: s.remote_access_tools.clone(), ..Needs::default() }
    }

    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation {
        super::tools::evaluate(
            ctx,
            hits,
            ("remote-access tool", "remote-access tools"),
            &ctx.settings.remote_access_packages,
        )
    }
}
