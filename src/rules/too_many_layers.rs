use super::context::Context;
use super::rule::{Evaluation, RuleMeta};
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "too-many-layers",
    title: "Image is squashed to its allowed number of layers",
    severity: Severity::Low,
    rationale: "Every layer is shipped, including files that later layers delete: secrets, \
        compilers and caches removed in a later step still sit in the image for anyone who pulls \
        it. A single-layer (squashed) image ships exactly what it runs.",
    remediation: "Build with a multi-stage Containerfile copying only the result into the final \
        stage, or squash (`podman build --squash-all`).",
    reads_layers: false,
    controls: &["DISA CIDG V2R0.6 minimal-cached-layers"],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let n = ctx.fs.layers.len().max(ctx.image.root_fs.layers.len());
        let max = ctx.settings.max_layers;
        let d = format!("{n} layer{} (at most {max} allowed)", crate::text::plural(n, "", "s"));
        if n > max {
            Evaluation::fail(d)
        } else {
            Evaluation::pass(d)
        }
    }
}
