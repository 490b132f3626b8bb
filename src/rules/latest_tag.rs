use super::context::Context;
use super::rule::{Evaluation, RuleMeta};
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "latest-tag",
    title: "Image is not referenced by the latest tag",
    severity: Severity::Critical,
    rationale: "`latest` (or no tag, which means latest) moves: the image that was audited is not \
        necessarily the one that gets deployed, and an incident cannot be traced back to a build. \
        A reference pinned by digest names exactly one image and passes whatever its tag.",
    remediation: "Reference the image by an immutable version tag (`app:1.4.2`) or, better, by \
        digest (`app@sha256:…`).",
    reads_layers: false,
    controls: &["NIST SP 800-190 4.2.2"],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let r = ctx.reference;
        if let Some(d) = &r.digest {
            return Evaluation::pass(format!("pinned by digest {d}"));
        }
        if let Some(id) = &r.image_id {
            return Evaluation::pass(format!("pinned by image ID {}", &id[..12.min(id.len())]));
        }
        match (r.tag.as_deref(), r.effective_tag()) {
            (Some("latest"), _) => Evaluation::fail("the reference uses the tag latest"),
            (None, Some("latest")) => Evaluation::fail("the reference has no tag, which means latest"),
            (Some(t), _) => Evaluation::pass(format!("tag {t}")),
            (None, _) => Evaluation::fail("the reference has no tag"),
        }
    }
}
