//! The published standards the checks map to, item by item, so that a committee can see
//! which items this tool automates and which need a person. Rules name items in their
//! `controls` as `"<standard label> <item>"` (e.g. "CIS Docker 1.6 4.8").

pub struct Standard {
    /// Command-line id: `oci-compliance checks --standard ID`.
    pub id: &'static str,
    /// How rules' `controls` name it.
    pub label: &'static str,
    pub title: &'static str,
    pub items: &'static [Item],
}

pub struct Item {
    pub id: &'static str,
    pub title: &'static str,
    /// What a person must do for this item when no check covers it (or covers only part).
    pub manual: &'static str,
}

pub static STANDARDS: &[Standard] = &[
    Standard {
        id: "cis-docker-1.6",
        label: "CIS Docker 1.6",
        title: "CIS Docker Benchmark v1.6.0, section 4: Container Images and Build File Configuration (and 5.6, sshd in containers)",
        items: &[
            Item { id: "4.1", title: "Ensure that a user for the container has been created", manual: "" },
            Item {
                id: "4.2",
                title: "Ensure that containers use only trusted base images",
                manual: "Whether a base image is trusted is an organisational decision: review the base OS the \
                    report records against the approved list.",
            },
            Item {
                id: "4.3",
                title: "Ensure that unnecessary packages are not installed in the container",
                manual: "The checks find privilege tools, remote-access tools and compilers; whether any other \
                    package is necessary needs a person who knows the application.",
            },
            Item {
                id: "4.4",
                title: "Ensure images are scanned and rebuilt to include security patches",
                manual: "Needs a vulnerability scanner and a rebuild process; not checked here.",
            },
            Item {
                id: "4.5",
                title: "Ensure Content trust for Docker is Enabled",
                manual: "A setting of the hosts that pull images (signature policy), not of an image.",
            },
            Item {
                id: "4.6",
                title: "Ensure that HEALTHCHECK instructions have been added to container images",
                manual: "",
            },
            Item { id: "4.7", title: "Ensure update instructions are not used alone in Dockerfiles", manual: "" },
            Item { id: "4.8", title: "Ensure setuid and setgid permissions are removed", manual: "" },
            Item { id: "4.9", title: "Ensure that COPY is used instead of ADD in Dockerfiles", manual: "" },
            Item { id: "4.10", title: "Ensure secrets are not stored in Dockerfiles", manual: "" },
            Item {
                id: "4.11",
                title: "Ensure only verified packages are installed",
                manual: "Needs the build's package sources and their signing keys: review the build, not the image.",
            },
            Item {
                id: "4.12",
                title: "Ensure all signed artifacts are validated",
                manual: "Needs the signatures and the policy that validates them at pull time.",
            },
            Item {
                id: "5.6",
                title: "Ensure sshd is not run within containers",
                manual: "The image is checked for SSH servers and clients; what a running container starts is \
                    the runtime's to verify.",
            },
        ],
    },
    Standard {
        id: "nist-800-190",
        label: "NIST SP 800-190",
        title: "NIST SP 800-190 Application Container Security Guide, 4.1 Image risks (and 4.2.2)",
        items: &[
            Item {
                id: "4.1.1",
                title: "Image vulnerabilities",
                manual: "Needs a vulnerability scanner against the image's packages.",
            },
            Item { id: "4.1.2", title: "Image configuration defects", manual: "" },
            Item { id: "4.1.3", title: "Embedded malware", manual: "Needs a malware scanner over the image's files." },
            Item { id: "4.1.4", title: "Embedded clear text secrets", manual: "" },
            Item {
                id: "4.1.5",
                title: "Use of untrusted images",
                manual: "The checks record the base OS and labels; whether the source is trusted is a person's call.",
            },
            Item { id: "4.2.2", title: "Stale images in registries", manual: "" },
        ],
    },
    Standard {
        id: "disa-cidg-2r0.6",
        label: "DISA CIDG V2R0.6",
        title: "DISA Container Image Creation and Deployment Guide, Version 2 Release 0.6 (November 2020), \
            section 2: Container Image Creation. Items are named here by what they require, with the \
            guide's CCI, not by section number.",
        items: &[
            Item {
                id: "no-build-secrets",
                title: "Created without confidential data in the build files (CCI-000366)",
                manual: "The image's Env, labels and build history are checked; the Dockerfile and build \
                    context themselves are not part of the image and need a review of the build.",
            },
            Item { id: "ssh-server-disabled", title: "Built with the SSH server daemon disabled (CCI-000381)", manual: "" },
            Item {
                id: "essential-capabilities",
                title: "Created with only essential capabilities (CCI-000381)",
                manual: "File capabilities in the image are checked; the capabilities a container is \
                    started with are set by the platform.",
            },
            Item { id: "non-privileged-ports", title: "Exposes only non-privileged ports (CCI-001762)", manual: "" },
            Item {
                id: "service-ports-only",
                title: "Enables only the ports used by the service implemented (CCI-001762)",
                manual: "Which ports the service needs is known to its owner: compare the exposed ports the \
                    report lists with the service's documentation.",
            },
            Item { id: "non-privileged-user", title: "Created to execute as a non-privileged user (CCI-002235)", manual: "" },
            Item {
                id: "no-escalation-permissions",
                title: "Permissions removed from executables that allow running software at higher privileges \
                    (CCI-002235)",
                manual: "",
            },
            Item {
                id: "tls-registry-pulls",
                title: "Image creation uses TLS 1.2 or higher for registry pulls (CCI-002418)",
                manual: "A setting of the build hosts and registries, not of the image; this tool itself \
                    verifies TLS unless COMPLIANCE_TLS_VERIFY=false.",
            },
            Item { id: "no-embedded-credentials", title: "Clear of embedded credentials (CCI-002367)", manual: "" },
            Item {
                id: "minimal-cached-layers",
                title: "Built with minimal cached layers (CCI-002617)",
                manual: "The layer count and package-manager caches left in layers are checked; whether \
                    build caching was used appropriately needs the build's configuration.",
            },
        ],
    },
];

pub fn find(id: &str) -> Option<&'static Standard> {
    STANDARDS.iter().find(|s| s.id == id)
}

/// The standard and item a rule's control names, when it is one of ours.
pub fn resolve(control: &str) -> Option<(&'static Standard, &'static Item)> {
    STANDARDS.iter().find_map(|s| {
        let item = control.strip_prefix(s.label)?.strip_prefix(' ')?;
        s.items.iter().find(|i| i.id == item).map(|i| (s, i))
    })
}

/// `checks --standard ID`: every item with the checks that implement it, or what a person
/// must do.
pub fn coverage(standard: &Standard) -> String {
    let mut s = format!("{}\n\n", crate::text::squash(standard.title));
    let mut automated = 0;
    let w = standard.items.iter().map(|i| i.id.len()).max().unwrap_or(0).max(6);
    for item in standard.items {
        let control = format!("{} {}", standard.label, item.id);
        let checks: Vec<&str> = super::all()
            .iter()
            .map(|r| r.meta())
            .filter(|m| m.controls.contains(&control.as_str()))
            .map(|m| m.id)
            .collect();
        let state = match (checks.is_empty(), item.manual.is_empty()) {
            (false, true) => "automated",
            (false, false) => "partly",
            (true, _) => "manual",
        };
        if !checks.is_empty() {
            automated += 1;
        }
        s.push_str(&format!("{:<w$} {:<9} {}\n", item.id, state, crate::text::squash(item.title)));
        if !checks.is_empty() {
            s.push_str(&format!("{:pad$}checks: {}\n", "", checks.join(", "), pad = w + 11));
        }
        if !item.manual.is_empty() {
            s.push_str(&format!("{:pad$}person: {}\n", "", crate::text::squash(item.manual), pad = w + 11));
        }
    }
    s.push_str(&format!("\n{automated} of {} items have checks\n", standard.items.len()));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_a_rule_names_is_an_item_of_a_known_standard() {
        for r in super::super::all() {
            for c in r.meta().controls {
                assert!(resolve(c).is_some(), "{}: {c:?} is not an item of a known standard", r.meta().id);
            }
        }
    }

    #[test]
    fn an_item_without_checks_says_what_a_person_must_do() {
        for s in STANDARDS {
            for item in s.items {
                let control = format!("{} {}", s.label, item.id);
                let covered = super::super::all().iter().any(|r| r.meta().controls.contains(&control.as_str()));
                assert!(covered || !item.manual.is_empty(), "{control} has neither a check nor a manual note");
            }
        }
    }

    #[test]
    fn coverage_lists_items_with_their_checks() {
        let text = coverage(find("cis-docker-1.6").unwrap());
        let line = |id: &str| text.lines().find(|l| l.starts_with(&format!("{id:<6} "))).unwrap().to_string();
        assert!(line("4.8").contains("automated"), "{text}");
        assert!(text.contains("checks: suid-files, sgid-files"), "{text}");
        assert!(line("4.4").contains("manual"), "{text}");
        assert!(line("4.3").contains("partly"), "{text}");
        assert!(text.contains("items have checks"), "{text}");

        let disa = coverage(find("disa-cidg-2r0.6").unwrap());
        let line = |id: &str| disa.lines().find(|l| l.starts_with(&format!("{id} "))).unwrap().to_string();
        assert!(line("non-privileged-ports").contains("automated"), "{disa}");
        assert!(disa.contains("checks: privileged-ports-exposed"), "{disa}");
        assert!(line("tls-registry-pulls").contains("manual"), "{disa}");
        assert!(line("no-escalation-permissions").contains("automated"), "{disa}");
    }
}
