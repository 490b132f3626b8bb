use super::context::Context;
use super::rule::{Evaluation, RuleMeta};
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "healthcheck-missing",
    title: "Image declares a HEALTHCHECK",
    severity: Severity::Low,
    rationale: "A HEALTHCHECK lets the engine (podman, Docker, Swarm) notice a container that runs \
        but no longer serves, and restart or replace it; without one a hung service stays up and \
        looks healthy. Only the docker image format can carry a healthcheck: an OCI-format image \
        has no field for it, so it never has one (orchestrators such as Kubernetes use their own \
        probes instead, which this scan cannot see).",
    remediation: "Add a HEALTHCHECK instruction (e.g. `HEALTHCHECK CMD curl -fsS http://localhost:8080/health \
        || exit 1`) and build in the docker format (`podman build --format docker`, `buildah commit \
        --format docker`); or waive this check where the orchestrator's own probes are mandatory.",
    reads_layers: false,
    controls: &["CIS Docker 1.6 4.6"],
};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let test = ctx.image.config.healthcheck.as_ref().map(|h| h.test.as_slice()).unwrap_or_default();
        match test.first().map(String::as_str) {
            Some("NONE") => Evaluation::fail("the healthcheck is disabled (HEALTHCHECK NONE)"),
            Some(kind) => Evaluation::pass(format!(
                "HEALTHCHECK {} {}",
                crate::escape::text(kind),
                super::build_hygiene::shorten(&test[1..].join(" "), 80)
            )),
            // The format, not the builder's choice, is why: say so rather than a bare "missing".
            None if ctx.image.manifest_type == OCI_MANIFEST => Evaluation::fail(
                "no HEALTHCHECK: the image is in the OCI format, which cannot carry one (build with --format docker)",
            ),
            None => Evaluation::fail("no HEALTHCHECK"),
        }
    }
}
