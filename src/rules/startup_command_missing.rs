use super::context::Context;
use super::rule::{Evaluation, RuleMeta};
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "startup-command-missing",
    title: "Image declares a startup command",
    severity: Severity::Low,
    rationale: "Without ENTRYPOINT or CMD the image does nothing on its own: whoever deploys it \
        must supply a command, so what actually runs is decided outside the audited artefact.",
    remediation: "Set ENTRYPOINT (exec form, e.g. `ENTRYPOINT [\"/app/server\"]`) and/or CMD.",
    reads_layers: false,
    controls: &[],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let c = &ctx.image.config;
        let show = |v: &[String]| crate::escape::text(&serde_json::to_string(v).unwrap_or_default());
        match (c.entrypoint.is_empty(), c.cmd.is_empty()) {
            (true, true) => Evaluation::fail("neither ENTRYPOINT nor CMD is set"),
            (false, true) => Evaluation::pass(format!("ENTRYPOINT {}", show(&c.entrypoint))),
            (true, false) => Evaluation::pass(format!("CMD {}", show(&c.cmd))),
            (false, false) => Evaluation::pass(format!("ENTRYPOINT {} CMD {}", show(&c.entrypoint), show(&c.cmd))),
        }
    }
}
