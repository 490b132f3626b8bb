use super::context::Context;
use super::rule::{Evaluation, RuleMeta};
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "labels-missing",
    title: "Image has labels",
    severity: Severity::Low,
    rationale: "Labels (org.opencontainers.image.vendor, version, source, revision…) are how an \
        operator finds out who built an image, from what, and whom to call. An image with none \
        cannot be traced to its supplier or source.",
    remediation: "Add LABEL instructions, at least the OCI annotations \
        org.opencontainers.image.vendor, .version, .source and .revision.",
    reads_layers: false,
    controls: &["NIST SP 800-190 4.1.5"],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let n = ctx.image.config.labels.len();
        if n == 0 {
            Evaluation::fail("the image has no labels")
        } else {
            Evaluation::pass(format!("{n} label{}", crate::text::plural(n, "", "s")))
        }
    }
}
