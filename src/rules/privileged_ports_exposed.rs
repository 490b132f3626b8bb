use super::context::Context;
use super::rule::{Evaluation, RuleMeta};
use crate::layers::Loc;
use crate::model::Severity;

pub struct Rule;

static META: RuleMeta = RuleMeta {
    id: "privileged-ports-exposed",
    title: "Only non-privileged ports are exposed",
    severity: Severity::Medium,
    rationale: "A port below 1024 can only be bound by root or with CAP_NET_BIND_SERVICE, so an \
        image that EXPOSEs one expects to run with that privilege. A service in a container can \
        listen on a high port and the platform maps it to whatever the clients need.",
    remediation: "Make the service listen on a port of 1024 or above (e.g. 8080 instead of 80, \
        8443 instead of 443) and EXPOSE that; map it to the public port in the service or \
        ingress definition. A port that must stay can be waived with its location, \
        `ExposedPorts 443/tcp`.",
    reads_layers: false,
    controls: &["DISA CIDG V2R0.6 non-privileged-ports"],
};

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn check(&self, ctx: &Context, _hits: &[Loc]) -> Evaluation {
        let mut findings = Vec::new();
        let mut high = Vec::new();
        for spec in ctx.image.config.exposed_ports.keys() {
            match super::admin_ports_exposed::parse_port(spec) {
                // Port 0 means "any free port": not a privileged bind.
                Some((port, proto)) if (1..1024).contains(&port) => findings.push(ctx.config_finding(
                    &format!("ExposedPorts {port}/{proto}"),
                    0,
                    true,
                    Some(format!("port {port} is below 1024: binding it needs root or CAP_NET_BIND_SERVICE")),
                )),
                Some((port, proto)) => high.push(format!("{port}/{proto}")),
                // An EXPOSE that names no port cannot be judged as one: say so rather than pass it.
                None => findings.push(ctx.config_finding(
                    &format!("ExposedPorts {spec}"),
                    0,
                    true,
                    Some("not a port number: what it exposes cannot be told".to_string()),
                )),
            }
        }
        if findings.is_empty() {
            return Evaluation::pass(match high.is_empty() {
                true => "no ports exposed".to_string(),
                false => format!("exposes only non-privileged ports ({})", high.join(", ")),
            });
        }
        let shown: Vec<&str> = findings.iter().map(|f| f.path.trim_start_matches("ExposedPorts ")).collect();
        let mut ev = Evaluation::fail(format!(
            "exposes {} port{} below 1024 or not a port: {}",
            findings.len(),
            crate::text::plural(findings.len(), "", "s"),
            shown.join(", ")
        ));
        ev.findings = findings;
        ev
    }
}
