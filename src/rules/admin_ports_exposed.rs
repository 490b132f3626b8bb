use super::context::Context;
use super::rule::{Evaluation, RuleMeta};
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "admin-ports-exposed",
    title: "No administration ports are exposed",
    severity: Severity::High,
    rationale: "EXPOSE of an administration port (22/tcp SSH, 23/tcp telnet, 161/udp SNMP, \
        2375-2376/tcp Docker API, 3389/tcp RDP) means the image expects to be managed from the \
        network, which bypasses the orchestrator's audited access path and widens the attack surface.",
    remediation: "Remove the EXPOSE instruction and the administration service; use the \
        orchestrator's exec/log facilities for administration.",
    reads_layers: false,
    controls: &["NIST SP 800-190 4.1.2", "DISA CIDG V2R0.6 service-ports-only"],
};

/// "8080/tcp" → (8080, "tcp"); a port with no protocol is tcp.
pub fn parse_port(spec: &str) -> Option<(u16, String)> {
    let (port, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    Some((port.trim().parse().ok()?, proto))
}

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let exposed: Vec<&String> = ctx.image.config.exposed_ports.keys().collect();
        let mut bad = Vec::new();
        for spec in &exposed {
            if let Some(p) = parse_port(spec) {
                if ctx.settings.admin_ports.contains(&p) {
                    bad.push(format!("{}/{}", p.0, p.1));
                }
            }
        }
        if bad.is_empty() {
            let shown: Vec<String> = exposed.iter().map(|s| crate::escape::text(s)).collect();
            Evaluation::pass(if shown.is_empty() {
                "no ports exposed".to_string()
            } else {
                format!("exposes {}; none is an administration port", shown.join(", "))
            })
        } else {
            Evaluation::fail(format!(
                "exposes administration port{} {}",
                crate::text::plural(bad.len(), "", "s"),
                bad.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn protocol_defaults_to_tcp() {
        assert_eq!(super::parse_port("22"), Some((22, "tcp".into())));
        assert_eq!(super::parse_port("161/UDP"), Some((161, "udp".into())));
        assert_eq!(super::parse_port("x/tcp"), None);
    }
}
