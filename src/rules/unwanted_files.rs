use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::{Severity, Status};
use std::collections::HashSet;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "unwanted-files",
    title: "No build-context or developer files in the image",
    severity: Severity::Low,
    rationale: "A `.git` directory ships the source history (and sometimes credentials in its \
        config), `.env` files usually hold secrets, a Dockerfile or compose file documents the \
        build and deployment to an attacker, and editor or OS clutter (`.idea`, `.vscode`, \
        `.DS_Store`) shows that the whole build context was copied in unfiltered. Entries under \
        /usr/share/ are installed by distribution packages (documentation, examples) and are \
        listed for information only; so are entries a later layer deleted (they still ship in \
        their layer).",
    remediation: "Add a .containerignore/.dockerignore that excludes .git, .env*, editor \
        directories and build files; COPY only what the application needs (or the build output \
        of a multi-stage build). Add site-specific names with the policy's extra_unwanted_files.",
    reads_layers: true,
    controls: &["NIST SP 800-190 4.1.4"],
};

/// Installed by distribution packages (docs, examples, syntax files): not a leaked build context.
const PACKAGE_TREES: &[&[u8]] = &[b"/usr/share/"];

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, settings: &RuleSettings) -> Needs {
        Needs { patterns: settings.unwanted_files.clone(), ..Needs::default() }
    }

    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation {
        // A `.git` directory is one finding, not one more per `.git/…/.idea` inside it.
        let paths: HashSet<&[u8]> = hits.iter().map(|&l| &ctx.fs.entry(l).path[..]).collect();
        let under_another = |p: &[u8]| p.iter().enumerate().skip(1).any(|(i, &b)| b == b'/' && paths.contains(&p[..i]));
        let mut findings = Vec::new();
        for &loc in hits {
            let e = ctx.fs.entry(loc);
            let visible = ctx.fs.is_visible(loc);
            // A lower copy of a path the final image still shows (a directory two layers
            // wrote into) is the same finding as the visible one.
            if under_another(&e.path) || (!visible && ctx.fs.lookup(&e.path).is_some_and(|l| ctx.fs.is_visible(l))) {
                continue;
            }
            let packaged = PACKAGE_TREES.iter().any(|t| e.path.starts_with(t));
            let note = packaged.then(|| "in a distribution package's tree, listed for information".to_string());
            findings.push(ctx.finding(loc, visible && !packaged, note));
        }
        super::tools::sort_findings(&mut findings);
        let failing = findings.iter().filter(|f| f.violation).count();
        let info = findings.len() - failing;
        let mut description = match failing {
            0 => "no build-context or developer files in the final image".to_string(),
            n => format!(
                "{n} unwanted file{} or director{}",
                crate::text::plural(n, "", "s"),
                crate::text::plural(n, "y", "ies")
            ),
        };
        if info > 0 {
            description.push_str(&format!(" ({info} more deleted by a later layer or installed by packages)"));
        }
        let status = if failing > 0 { Status::Fail } else { Status::Pass };
        Evaluation { status, description, findings }
    }
}
