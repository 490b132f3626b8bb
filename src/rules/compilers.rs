use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "compilers",
    title: "No compilers or assemblers",
    severity: Severity::Medium,
    rationale: "A compiler in a runtime image lets an intruder build exploits and tools in place \
        instead of having to bring binaries, and usually means build-time dependencies leaked into \
        production. Versioned and cross forms (gcc-12, x86_64-linux-gnu-gcc-12) count, and so does an installed compiler package (gcc-12, \
        golang-go, rustc) whatever its files are called.",
    remediation: "Use a multi-stage build: compile in a builder stage and copy only the artefacts \
        into a runtime stage without build-essential, golang, rustc, JDK, etc.",
    reads_layers: true,
    controls: &["CIS Docker 1.6 4.3", "NIST SP 800-190 4.1.2"],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, s: &RuleSettings) -> Needs {
        Needs { names: s.compilers.clone(), versioned_names: true, ..Needs::default() }
    }

    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation {
        super::tools::evaluate(ctx, hits, ("compiler", "compilers"), &ctx.settings.compiler_packages)
    }
}
