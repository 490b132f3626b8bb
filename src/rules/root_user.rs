use super::accounts::{identity, verdict};
use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "root-user",
    title: "Container does not run as root",
    severity: Severity::Critical,
    rationale: "A process running as uid 0 inside the container is root on the host's kernel: any \
        escape through a kernel or runtime bug, a mounted socket or a writable host path gives the \
        attacker root. Images that do not set USER, or set it to a name that resolves to uid 0, run \
        their entrypoint as root. A name missing from the image's /etc/passwd is also a failure: \
        the container would not start.",
    remediation: "Create an unprivileged account in the image and set `USER <name or uid>` \
        (e.g. `USER 1001`) as the last USER instruction.",
    reads_layers: false,
    controls: &["CIS Docker 1.6 4.1", "NIST SP 800-190 4.1.2", "DISA CIDG V2R0.6 non-privileged-user"],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, _: &RuleSettings) -> Needs {
        Needs { files: super::accounts::FILES, ..Needs::default() }
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let who = identity(ctx);
        verdict(who.uid, "uid", &who.user_spec)
    }
}
