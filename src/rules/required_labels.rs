use super::context::Context;
use super::rule::{Evaluation, RuleMeta};
use crate::glob;
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "required-labels",
    title: "Image carries the labels the policy requires",
    severity: Severity::Low,
    rationale: "An acceptance programme usually names the labels every delivered image must carry \
        (vendor, version, product, component…) so that inventories, licensing and incident \
        response can rely on them. A label inherited from the base image describes the base, not \
        the delivered product, so a policy can demand that required labels are set by the image \
        itself; that is decided from the build history when it shows where a label was set. With \
        no required labels in the policy this check passes.",
    remediation: "Add the missing LABEL instructions (e.g. `LABEL org.opencontainers.image.vendor=\"ACME\"`) \
        in the image's own Containerfile, with values matching the policy's patterns.",
    reads_layers: false,
    controls: &["NIST SP 800-190 4.1.5"],
};

/// Where the build history says a label was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Own,
    Inherited,
    Unknown,
}

/// Decide a label's origin from History. buildah/podman comment each build step with
/// `FROM <parent>`: the first step of a build names the base image, later steps name the
/// previous step's intermediate image by hex ID. So the image's own build starts at the last
/// entry whose FROM names something other than a hex ID.
pub fn origin(image: &crate::inspect::ImageInspect, key: &str) -> Origin {
    let Some(start) = crate::base::build_start(image) else { return Origin::Unknown };
    let mut found: Option<Origin> = None;
    for (i, h) in image.history.iter().enumerate() {
        if label_keys(&h.created_by).iter().any(|k| k == key) {
            found = Some(if i >= start { Origin::Own } else { Origin::Inherited });
        }
    }
    found.unwrap_or(Origin::Unknown)
}

/// Keys set by a `LABEL k=v k2="v 2"` instruction recorded in created_by.
fn label_keys(created_by: &str) -> Vec<String> {
    let Some(pos) = created_by.find("LABEL ") else { return Vec::new() };
    let rest = &created_by[pos + 6..];
    let mut keys = Vec::new();
    let mut token = String::new();
    let mut quote: Option<char> = None;
    let mut chars = rest.chars().peekable();
    let flush = |t: &mut String, keys: &mut Vec<String>| {
        if let Some((k, _)) = t.split_once('=') {
            keys.push(k.trim_matches('"').to_string());
        }
        t.clear();
    };
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"') | (None, '\'') => {
                quote = Some(c);
                token.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                token.push(c);
            }
            (_, '\\') => {
                token.push(c);
                if let Some(n) = chars.next() {
                    token.push(n);
                }
            }
            (None, c) if c.is_whitespace() => flush(&mut token, &mut keys),
            (_, c) => token.push(c),
        }
    }
    flush(&mut token, &mut keys);
    keys
}

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let required = &ctx.settings.required_labels;
        if required.is_empty() {
            return Evaluation::pass("the policy requires no labels");
        }
        let labels = &ctx.image.config.labels;
        let mut problems = Vec::new();
        let mut unknown_origin = Vec::new();
        for (key, pattern) in required {
            let shown = crate::escape::text(key);
            match labels.get(key) {
                None => problems.push(format!("{shown} is missing")),
                Some(v) => {
                    if let Some(p) = pattern {
                        if !glob::matches(p, v) {
                            problems.push(format!(
                                "{shown}={:?} does not match {p:?}",
                                crate::escape::text(&super::secrets::redact_value(key, v))
                            ));
                            continue;
                        }
                    }
                    if ctx.settings.labels_own {
                        match origin(ctx.image, key) {
                            Origin::Inherited => problems.push(format!("{shown} is inherited from the base image")),
                            Origin::Unknown => unknown_origin.push(shown),
                            Origin::Own => {}
                        }
                    }
                }
            }
        }
        if problems.is_empty() {
            let mut d = format!(
                "all {} required label{} present",
                required.len(),
                crate::text::plural(required.len(), "", "s")
            );
            if !unknown_origin.is_empty() {
                d.push_str(&format!(" (history does not show where {} was set)", unknown_origin.join(", ")));
            }
            Evaluation::pass(d)
        } else {
            Evaluation::fail(problems.join("; "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_from_history() {
        assert_eq!(label_keys(r#"/bin/sh -c #(nop) LABEL a=1 "b.c"="x y" d='q'"#), ["a", "b.c", "d"]);
        assert_eq!(label_keys("LABEL org.opencontainers.image.vendor=ACME"), ["org.opencontainers.image.vendor"]);
        assert!(label_keys("RUN echo LABELS").is_empty());
    }

    #[test]
    fn origin_follows_the_from_marker() {
        let img = crate::inspect::parse(
            br#"[{"History":[
            {"created_by":"LABEL vendor=base"},
            {"created_by":"ADD x","comment":"FROM base:1"},
            {"created_by":"LABEL product=p","comment":"FROM 0089bd86b112","empty_layer":true}]}]"#,
        )
        .unwrap();
        assert_eq!(origin(&img, "vendor"), Origin::Inherited);
        assert_eq!(origin(&img, "product"), Origin::Own);
        assert_eq!(origin(&img, "nope"), Origin::Unknown);
        let no_marker = crate::inspect::parse(br#"[{"History":[{"created_by":"LABEL a=1"}]}]"#).unwrap();
        assert_eq!(origin(&no_marker, "a"), Origin::Unknown);
    }
}
