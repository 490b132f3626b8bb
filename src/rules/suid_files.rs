use super::{Context, Evaluation, Needs, RuleMeta, RuleSettings, Severity, Status};
use crate::layers::{Kind, Loc};

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "suid-files",
    title: "No setuid files",
    severity: Severity::Critical,
    rationale: "A setuid executable runs with its owner's privileges (usually root) whoever starts \
        it. Inside a container that is a ready-made privilege escalation for anyone who gets a \
        shell, and a vulnerable setuid binary is a classic container-escape first step. Files \
        deleted by a later layer are still listed (they ship in the layer), but only files visible \
        in the final image fail the check.",
    remediation: "Remove the setuid bit in the build (`chmod u-s FILE`, or \
        `find / -xdev -perm -4000 -type f -exec chmod u-s {} +` in the last layer), or remove the \
        package that installs it.",
    reads_layers: true,
};

impl super::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, _: &RuleSettings) -> Needs {
        Needs { mode_bits: 0o4000, ..Needs::default() }
    }

    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation {
        special_bit(ctx, hits, "setuid")
    }
}

/// Shared by suid-files and sgid-files: regular files with the bit fail when visible;
/// setgid directories are information.
pub(super) fn special_bit(ctx: &Context, hits: &[Loc], what: &str) -> Evaluation {
    let mut findings = Vec::new();
    let mut failing = 0;
    for &loc in hits {
        let e = ctx.fs.entry(loc);
        let visible = ctx.fs.is_visible(loc);
        match e.kind {
            Kind::File => {
                if visible {
                    failing += 1;
                }
                findings.push(ctx.finding(loc, visible, None));
            }
            Kind::Dir => findings.push(ctx.finding(loc, false, Some(format!("{what} directory, listed for information")))),
            _ => {}
        }
    }
    super::tools::sort_findings(&mut findings);
    let status = if failing > 0 { Status::Fail } else { Status::Pass };
    let hidden = findings.iter().filter(|f| !f.visible).count();
    let mut description = match failing {
        0 => format!("no {what} files in the final image"),
        1 => format!("1 {what} file"),
        n => format!("{n} {what} files"),
    };
    if hidden > 0 {
        description.push_str(&format!(" ({hidden} more in layers but not in the final image)"));
    }
    Evaluation { status, description, findings }
}
