use super::accounts::{identity, verdict};
use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "root-group",
    title: "Container does not run with group root",
    severity: Severity::Critical,
    rationale: "A process whose primary group is gid 0 can read and write every file that is \
        group-owned by root and group-writable, in the image and on any host path mounted into the \
        container. The group is taken from USER's `:group` part, else from the user's /etc/passwd \
        entry; a numeric uid with no passwd entry and no group runs with gid 0.",
    remediation: "Give the runtime user its own primary group and set `USER <uid>:<gid>` with a \
        non-zero gid, or a name whose /etc/passwd entry has a non-zero gid.",
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
        verdict(who.gid, "gid", &who.user_spec)
    }
}
