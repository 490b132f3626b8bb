use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "base-os",
    title: "Base operating system",
    severity: Severity::Informational,
    rationale: "Knowing the distribution and release an image is built on tells the reviewer which \
        security advisories apply and when support ends. This check never fails; it records \
        NAME and VERSION_ID from os-release, or that the image has none (scratch, distroless).",
    remediation: "Build on a supported, maintained release and rebuild when it publishes fixes.",
    reads_layers: true,
    controls: &["CIS Docker 1.6 4.2", "NIST SP 800-190 4.1.5"],
};

/// Where os-release(5) is looked for, in order.
const OS_RELEASE: &[&str] = &["/etc/os-release", "/usr/lib/os-release"];

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, _: &RuleSettings) -> Needs {
        Needs { files: OS_RELEASE, ..Needs::default() }
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        for path in OS_RELEASE {
            match ctx.read_parsed(path, crate::etc_files::parse_os_release) {
                Err(e) => return Evaluation::error(e),
                Ok(None) => continue,
                Ok(Some(fields)) => {
                    let get = |k: &str| fields.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
                    let name = get("NAME").or(get("ID")).unwrap_or("unnamed OS");
                    let d = match get("VERSION_ID") {
                        Some(v) => format!("{name} {v}"),
                        None => name.to_string(),
                    };
                    return Evaluation::pass(crate::escape::text(&d));
                }
            }
        }
        Evaluation::pass("no os-release: no distribution base (scratch or distroless)")
    }
}
