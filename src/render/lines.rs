//! What the one-line formats (SARIF, CodeQuality) say of a finding beyond its location.

/// What a finding says about packages, for the one-line formats (SARIF message, CodeQuality
/// description): the owning package of a file, or that no package owns it, then the fix.
/// An installed-package finding names its package in its location already.
pub fn package_text(f: &crate::model::Finding) -> String {
    let mut s = String::new();
    match &f.package {
        Some(p) if f.kind != crate::model::EntryKind::Config => {
            s.push_str(&format!(" [package {} {} ({})]", p.name, p.version, p.ecosystem))
        }
        _ if f.not_owned => s.push_str(" [not owned by any package: copied in by hand]"),
        _ => {}
    }
    if let Some(fix) = &f.fix {
        s.push_str(&format!("; fix: {fix}"));
    }
    s
}

/// The stable part of a finding for fingerprints: an installed-package finding is the same
/// issue whatever version the next build installs.
pub fn fingerprint_key(f: &crate::model::Finding) -> String {
    match &f.package {
        Some(p) if f.kind == crate::model::EntryKind::Config => format!("package {}", p.name),
        _ => f.path.clone(),
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{EntryKind, Finding, PackageRef};

    fn finding(kind: EntryKind, path: &str, version: &str) -> Finding {
        Finding {
            package: Some(PackageRef {
                name: "socat".into(),
                version: version.into(),
                arch: "amd64".into(),
                ecosystem: "deb".into(),
            }),
            not_owned: false,
            fix: Some("apt-get purge --auto-remove socat".into()),
            ..Finding::test(path, kind)
        }
    }

    #[test]
    fn package_findings_keep_their_fingerprint_across_versions() {
        let a = finding(EntryKind::Config, "package socat 1.7.4.4-2 (amd64, deb) installed", "1.7.4.4-2");
        let b = finding(EntryKind::Config, "package socat 1.8.0.0-1 (amd64, deb) installed", "1.8.0.0-1");
        assert_eq!(super::fingerprint_key(&a), "package socat");
        assert_eq!(super::fingerprint_key(&a), super::fingerprint_key(&b));
        let file = finding(EntryKind::File, "/usr/bin/socat", "1.7.4.4-2");
        assert_eq!(super::fingerprint_key(&file), "/usr/bin/socat");
        assert_eq!(super::package_text(&a), "; fix: apt-get purge --auto-remove socat");
        assert_eq!(
            super::package_text(&file),
            " [package socat 1.7.4.4-2 (deb)]; fix: apt-get purge --auto-remove socat"
        );
        let copied = Finding { package: None, not_owned: true, fix: None, ..file };
        assert_eq!(super::package_text(&copied), " [not owned by any package: copied in by hand]");
    }
}
