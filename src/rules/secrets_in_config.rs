use super::context::Context;
use super::rule::{Evaluation, RuleMeta};
use super::secrets::{self, Secret};
use crate::layers::Loc;
use crate::model::{Finding, Severity};

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "secrets-in-config",
    title: "No secrets in environment, labels or build history",
    severity: Severity::High,
    rationale: "The image configuration (Env, labels) and its build history (every ARG, ENV and RUN \
        line as recorded in `created_by`) ship with the image and are readable by anyone who can \
        pull it (`podman image inspect`, `podman history --no-trunc`, the registry's config blob), \
        without running it. A password, token or key there is disclosed to every consumer of the \
        image and to every registry and cache it passes through, and cannot be rotated away by a \
        rebuild while an old tag remains. Flagged: a key whose whole tokens name a secret \
        (PASSWORD, PASSWD, PASS, SECRET, TOKEN, APIKEY, CREDENTIALS, API_KEY, ACCESS_KEY, \
        PRIVATE_KEY, AUTH_KEY) with a literal value, and any value in a known token format (AWS \
        access key ids, GitHub, GitLab and Slack tokens, PEM private keys, JWTs). References \
        (`$VAR`, `*_FILE` paths) are not secrets. Reports show secrets masked.",
    remediation: "Do not bake secrets into the image: pass them at run time (orchestrator secrets, \
        mounted files with a `*_FILE` variable), and use build secrets (`RUN --mount=type=secret`, \
        `buildah build --secret`) instead of ARG/ENV for values a build step needs. Rotate any \
        secret that was pushed in an image.",
    reads_layers: false,
    controls: &[
        "CIS Docker 1.6 4.10",
        "NIST SP 800-190 4.1.4",
        "DISA CIDG V2R0.6 no-build-secrets",
        "DISA CIDG V2R0.6 no-embedded-credentials",
    ],
};

fn note(s: &Secret) -> String {
    match &s.key {
        Some(k) if s.kind == secrets::SECRET_KEY => format!("{} ({}): {}", crate::escape::text(k), s.kind, s.masked),
        Some(k) => format!("{} in {}: {}", s.kind, crate::escape::text(k), s.masked),
        None => format!("{}: {}", s.kind, s.masked),
    }
}

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let config = &ctx.image.config;
        let mut findings: Vec<Finding> = Vec::new();
        let (mut env, mut labels, mut history) = (0, 0, 0);
        for entry in &config.env {
            let (key, value) = entry.split_once('=').unwrap_or((entry, ""));
            if let Some(s) = secrets::in_assignment(key, value) {
                env += 1;
                findings.push(ctx.config_finding(&format!("Env {key}"), 0, true, Some(note(&s))));
            }
        }
        for (key, value) in &config.labels {
            if let Some(s) = secrets::in_assignment(key, value) {
                labels += 1;
                findings.push(ctx.config_finding(&format!("label {key}"), 0, true, Some(note(&s))));
            }
        }
        // Which layer a step made: only when the history accounts for every layer.
        let attributable = ctx.image.layer_history().len() == ctx.fs.layers.len();
        let mut layer = 0;
        for (i, h) in ctx.image.history.iter().enumerate() {
            if !h.empty_layer {
                layer += 1;
            }
            let found = secrets::in_text(&h.created_by);
            if found.is_empty() {
                continue;
            }
            history += 1;
            let made = if attributable && !h.empty_layer { layer } else { 0 };
            let n = found.iter().map(note).collect::<Vec<_>>().join("; ");
            findings.push(ctx.config_finding(&format!("history step {}", i + 1), made, true, Some(n)));
        }
        if findings.is_empty() {
            return Evaluation::pass(format!(
                "no secrets in {} Env entr{}, {} label{} or {} history step{}",
                config.env.len(),
                crate::text::plural(config.env.len(), "y", "ies"),
                config.labels.len(),
                crate::text::plural(config.labels.len(), "", "s"),
                ctx.image.history.len(),
                crate::text::plural(ctx.image.history.len(), "", "s"),
            ));
        }
        let parts: Vec<String> =
            [(env, "Env entr", "y", "ies"), (labels, "label", "", "s"), (history, "history step", "", "s")]
                .iter()
                .filter(|p| p.0 > 0)
                .map(|&(n, what, one, many)| format!("{n} {what}{}", crate::text::plural(n, one, many)))
                .collect();
        let mut e = Evaluation::fail(format!("secrets in {}", parts.join(", ")));
        e.findings = findings;
        e
    }
}
