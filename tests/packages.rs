//! Issue #14: the package databases in scans and reports, end to end on a Debian rootfs
//! (debootstrap, merged-usr: dpkg lists `/bin/su`, the image has `/usr/bin/su`), scanned
//! from storage and from the registry.

use crate::support::*;
use serde_json::Value;
use std::fs;
use std::process::Command;

/// The rootfs plus one layer with a setuid file copied in by hand.
fn build() -> Pushed {
    let e = env();
    let store = Store::new("e-packages");
    let name = "e-packages";
    let base = format!("localhost/{}:base", repo(name));
    let local = format!("localhost/{}:1", repo(name));
    let c = store.buildah(&["from", "scratch"]);
    store.buildah(&["copy", "-q", &c, &format!("{}/", e.rootfs.display()), "/"]);
    store.buildah(&["commit", "-q", &c, &base]);
    store.buildah(&["rm", &c]);
    let ctx = Scratch::new("e-packages-ctx");
    let cf = ctx.path().join("Containerfile");
    fs::write(
        &cf,
        format!("FROM {base}\nRUN install -m 4755 /usr/bin/true /usr/local/bin/e-copied-suid\nUSER 1001:1001\n"),
    )
    .unwrap();
    build_file_and_push(&store, "podman", &cf, ctx.path(), &local, name)
}

fn finding<'a>(rep: &'a Value, check: &str, path: &str) -> &'a Value {
    let c = rep["checks"].as_array().unwrap().iter().find(|c| c["id"] == check).unwrap();
    c["findings"].as_array().unwrap().iter().find(|f| f["path"] == path).unwrap_or_else(|| panic!("{check}: no {path}"))
}

/// `dpkg-query -W` over the rootfs's own database: the oracle for the package count.
fn dpkg_count() -> usize {
    let admindir = env().rootfs.join("var/lib/dpkg");
    let out = Command::new("dpkg-query").arg("--admindir").arg(&admindir).arg("-W").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).count()
}

#[test]
fn findings_name_packages_and_the_sbom_lists_them_on_both_sources() {
    let pushed = build();
    let reference = pushed.reference();
    let stored = scan(&Store::new("e-pkg-stored")).good_auth().args(["--format", "cyclonedx"]).arg(&reference).run();
    let fetched = fetch(&Store::new("e-pkg-fetched")).good_auth().args(["--format", "cyclonedx"]).arg(&reference).run();
    let want = dpkg_count();
    assert!(want > 50, "a debootstrap minbase lists more packages than {want}");
    let mut installed = Vec::new();
    for out in [&stored, &fetched] {
        let rep = out.report_named(&slug(&reference));
        assert_valid_report(&rep);
        let su = finding(&rep, "suid-files", "/usr/bin/su");
        assert_eq!(su["package"]["name"], "util-linux", "{su}");
        assert_eq!(su["package"]["ecosystem"], "deb");
        assert!(su.get("not_owned").is_none());
        assert_eq!(su["fix"], "apt-get purge --auto-remove util-linux");
        let copied = finding(&rep, "suid-files", "/usr/local/bin/e-copied-suid");
        assert_eq!(copied["not_owned"], true, "{copied}");
        assert!(copied.get("package").is_none());
        assert_eq!(copied["fix"], "chmod u-s /usr/local/bin/e-copied-suid");
        let dbs = rep["packages"]["databases"].as_array().unwrap();
        assert_eq!(dbs[0]["status"], "found", "{dbs:?}");
        assert_eq!(dbs[0]["count"].as_u64(), Some(want as u64));
        let list = rep["packages"]["installed"].as_array().unwrap();
        assert_eq!(list.len(), want);
        let coreutils = list.iter().find(|p| p["name"] == "coreutils").unwrap();
        assert!(coreutils["purl"].as_str().unwrap().starts_with("pkg:deb/debian/coreutils@"), "{coreutils}");
        let cdx =
            out.reports.iter().find(|(n, _)| n.ends_with(".cdx.json")).unwrap_or_else(|| panic!("{}", out.dump()));
        let bom: Value = serde_json::from_str(&cdx.1).unwrap();
        assert_valid_cyclonedx(&bom);
        assert_eq!(bom["components"].as_array().unwrap().len(), want);
        assert_eq!(bom["metadata"]["component"]["hashes"][0]["content"], pushed.digest.trim_start_matches("sha256:"));
        // The console report says the same.
        let console = out.stdout.lines().chain(out.stderr.lines()).collect::<Vec<_>>();
        let line = |p: &str| console.iter().find(|l| l.contains(p)).unwrap_or_else(|| panic!("{p}\n{}", out.dump()));
        assert!(line("/usr/bin/su  -rws").contains("from package util-linux "), "{}", out.dump());
        assert!(line("/usr/local/bin/e-copied-suid  -rws").contains("not owned by any package: copied in by hand"));
        assert!(console.iter().any(|l| l.contains(&format!("packages: deb: {want} packages"))), "{}", out.dump());
        installed.push(rep["packages"].clone());
    }
    assert_eq!(installed[0], installed[1], "storage and registry list the same packages");
}
