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

/// The apk database of the real Alpine rootfs, read with a few lines of its documented format
/// (`P:` name, `V:` version): the oracle for the scan's package list.
fn apk_packages() -> Vec<(String, String)> {
    let db = fs::read_to_string(env().alpine_rootfs.join("lib/apk/db/installed")).unwrap();
    let mut out = Vec::new();
    for stanza in db.split("\n\n").filter(|s| !s.trim().is_empty()) {
        let field = |k: &str| stanza.lines().find_map(|l| l.strip_prefix(k)).unwrap_or_default().to_string();
        out.push((field("P:"), field("V:")));
    }
    out
}

#[test]
fn a_real_alpine_image_names_apk_packages_and_fails_on_its_sudo_package() {
    let e = env();
    let name = "e-alpine";
    let store = Store::new(name);
    let local = format!("localhost/{}:3.23", repo(name));
    let id = build_tree(&store, &local, &e.alpine_rootfs, &[("--user", b"1001:1001")]);
    let pushed = push_all(&store, &local, name, &id, &["3.23"]);
    let reference = pushed.reference();
    let out = scan(&Store::new("e-alpine-scan")).good_auth().args(["--format", "cyclonedx"]).arg(&reference).run();
    let rep = out.report_named(&slug(&reference));
    assert_valid_report(&rep);
    let want = apk_packages();
    assert!(want.len() > 40 && want.iter().any(|(n, _)| n == "sudo"), "{want:?}");

    let dbs = rep["packages"]["databases"].as_array().unwrap();
    let apk = dbs.iter().find(|d| d["ecosystem"] == "apk").unwrap_or_else(|| panic!("{dbs:?}"));
    assert_eq!((apk["status"].as_str(), apk["count"].as_u64()), (Some("found"), Some(want.len() as u64)), "{apk}");
    let list = rep["packages"]["installed"].as_array().unwrap();
    let got: Vec<(String, String)> = list
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["version"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(got, want, "every package of apk's database, in its order, with its version");
    let musl = list.iter().find(|p| p["name"] == "musl").unwrap();
    let (_, musl_version) = want.iter().find(|(n, _)| n == "musl").unwrap();
    assert_eq!(musl["purl"], format!("pkg:apk/alpine/musl@{musl_version}?arch=x86_64"), "{musl}");

    // sudo: fails privilege-tools by name and as an installed package, and suid-files,
    // each with apk's exact fix.
    let (_, sudo_version) = want.iter().find(|(n, _)| n == "sudo").unwrap();
    let priv_tools = check(&rep, "privilege-tools");
    assert_eq!(priv_tools["status"], "fail", "{priv_tools}");
    let pkg = finding(&rep, "privilege-tools", &format!("package sudo {sudo_version} (x86_64, apk) installed"));
    assert_eq!(pkg["fix"], "apk del sudo", "{pkg}");
    assert!(pkg["note"].as_str().unwrap().contains("/usr/bin/sudo"), "{pkg}");
    assert_eq!(pkg["layer"], 1, "the layer of its files: {pkg}");
    let file = finding(&rep, "suid-files", "/usr/bin/sudo");
    assert_eq!((file["package"]["name"].as_str(), file["package"]["ecosystem"].as_str()), (Some("sudo"), Some("apk")));
    assert_eq!(file["fix"], "apk del sudo", "{file}");
    assert!(check(&rep, "base-os")["description"].as_str().unwrap().contains("Alpine Linux"), "{rep}");

    let cdx = out.reports.iter().find(|(n, _)| n.ends_with(".cdx.json")).unwrap_or_else(|| panic!("{}", out.dump()));
    let bom: Value = serde_json::from_str(&cdx.1).unwrap();
    assert_valid_cyclonedx(&bom);
    assert_eq!(bom["components"].as_array().unwrap().len(), want.len());
}
