use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::{EntryKind, Severity, Status};

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "world-writable",
    title: "No world-writable files or directories",
    severity: Severity::Medium,
    rationale: "A file anyone may write can be changed by every process in the container, whatever \
        its user: a world-writable script, library or configuration file is a way for a \
        compromised low-privilege process to get code run by another user, often root at the next \
        start. A world-writable directory without the sticky bit lets anyone delete or replace the \
        files in it. Directories with the sticky bit (/tmp, /var/tmp) pass; symlinks never count \
        (their mode means nothing). Entries deleted by a later layer are listed for information.",
    remediation: "Remove write permission for others in the build (`chmod o-w PATH`, or \
        `find / -xdev -perm -0002 ! -type l ! -perm -1000 -exec chmod o-w {} +` in the last \
        layer), or set the sticky bit on shared scratch directories (`chmod 1777 DIR`).",
    reads_layers: true,
    controls: &["NIST SP 800-190 4.1.2"],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, _: &RuleSettings) -> Needs {
        Needs { mode_bits: 0o002, ..Needs::default() }
    }

    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation {
        let mut findings = Vec::new();
        let (mut files, mut dirs) = (0, 0);
        for &loc in hits {
            let e = ctx.fs.entry(loc);
            let note = match e.kind {
                EntryKind::File => "writable by anyone",
                EntryKind::Dir if e.mode & 0o1000 == 0 => {
                    "directory writable by anyone without the sticky bit: anyone may delete or replace its files"
                }
                _ => continue,
            };
            let visible = ctx.fs.is_visible(loc);
            if visible {
                match e.kind {
                    EntryKind::File => files += 1,
                    _ => dirs += 1,
                }
            }
            findings.push(ctx.finding(loc, visible, Some(note.into())));
        }
        super::tools::sort_findings(&mut findings);
        let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let f = count(files, "world-writable file", "world-writable files");
        let d = count(dirs, "world-writable directory", "world-writable directories") + " without the sticky bit";
        let mut description = match (files, dirs) {
            (0, 0) => "no world-writable file or directory without the sticky bit in the final image".to_string(),
            (_, 0) => f,
            (0, _) => d,
            _ => format!("{f} and {d}"),
        };
        let hidden = findings.iter().filter(|f| !f.visible).count();
        if hidden > 0 {
            description.push_str(&format!(" ({hidden} more in layers but not in the final image)"));
        }
        let status = if files + dirs > 0 { Status::Fail } else { Status::Pass };
        Evaluation { status, description, findings }
    }
}
