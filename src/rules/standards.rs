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
                manual: "The image is checked for SSH servers and clients; what a running container starts is                     the runtime's to verify.",
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
    let mut s = format!("{}\n\n", standard.title);
    let mut automated = 0;
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
        s.push_str(&format!("{:<6} {:<9} {}\n", item.id, state, item.title));
        if !checks.is_empty() {
            s.push_str(&format!("{:16} checks: {}\n", "", checks.join(", ")));
        }
        if !item.manual.is_empty() {
            s.push_str(&format!("{:16} person: {}\n", "", crate::text::squash(item.manual)));
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
                if c.starts_with("DISA ") {
                    continue;
                }
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
    }
}
