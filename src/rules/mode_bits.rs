//! What suid-files and sgid-files share: regular files with a special mode bit fail when
//! they are visible in the final image; directories with it are information.

use super::context::Context;
use super::rule::Evaluation;
use crate::layers::Loc;
use crate::model::{EntryKind, Status};

/// Regular files with the bit fail when visible; directories with it are information.
pub fn special_bit(ctx: &Context, hits: &[Loc], what: &str) -> Evaluation {
    let mut findings = Vec::new();
    let mut failing = 0;
    for &loc in hits {
        let e = ctx.fs.entry(loc);
        let visible = ctx.fs.is_visible(loc);
        match e.kind {
            EntryKind::File => {
                if visible {
                    failing += 1;
                }
                findings.push(ctx.finding(loc, visible, None));
            }
            EntryKind::Dir => {
                findings.push(ctx.finding(loc, false, Some(format!("{what} directory, listed for information"))))
            }
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
