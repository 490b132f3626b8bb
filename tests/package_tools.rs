//! Issue #14 (part F): an installed package of a forbidden kind fails its check even when
//! its binaries were renamed out of PATH, and the package and its exact fix reach every CI
//! format; a tool copied in by hand is "not owned" and has no package fix. One image from
//! the Debian rootfs, scanned from storage and from the registry.
//!
//! gcc-12 is "installed" the cheap way rather than by apt (which needs the network and a
//! minute): its dpkg status stanza and `info/gcc-12.list` are written exactly as dpkg
//! writes them, with the files the list names, and then the driver is moved out of PATH by
//! hand the way a build that "hides" the compiler would (the list still names its old path).

use crate::support::*;
use serde_json::Value;
use std::fs;
use std::process::Command;

/// Version and architecture of the rootfs's gcc-12-base: gcc-12 comes from the same source.
fn gcc_base() -> (String, String) {
    let admindir = env().rootfs.join("var/lib/dpkg");
    let out = Command::new("dpkg-query")
        .arg("--admindir")
        .arg(&admindir)
        .args(["-W", "-f", "${Version} ${Architecture}", "gcc-12-base"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (v, a) = text.split_once(' ').unwrap();
    (v.to_string(), a.to_string())
}

const SETUP: &str = r#"set -eu
mkdir -p /usr/lib/gcc/x86_64-linux-gnu/12 /usr/share/doc/gcc-12 /opt/tools
install -m 755 /usr/bin/true /usr/lib/gcc/x86_64-linux-gnu/12/collect2
install -m 755 /usr/bin/true /usr/lib/gcc/x86_64-linux-gnu/12/lto-wrapper
echo 'report bugs to the Debian BTS' > /usr/share/doc/gcc-12/README.Bugs
# dpkg unpacked the driver here; the build then moved it out of PATH.
install -m 755 /usr/bin/true /opt/tools/build-helper
cat /f-ctx/gcc-12.stanza >> /var/lib/dpkg/status
install -m 644 /f-ctx/gcc-12.list /var/lib/dpkg/info/gcc-12.list
# An ssh client copied in by hand: no package owns it.
install -m 755 /usr/bin/true /usr/local/bin/ssh
rm -rf /f-ctx
"#;

fn build() -> Pushed {
    let e = env();
    let (version, arch) = gcc_base();
    let store = Store::new("f-pkgtools");
    let name = "f-pkgtools";
    let base = format!("localhost/{}:base", repo(name));
    let local = format!("localhost/{}:1", repo(name));
    let c = store.buildah(&["from", "scratch"]);
    store.buildah(&["copy", "-q", &c, &format!("{}/", e.rootfs.display()), "/"]);
    store.buildah(&["commit", "-q", &c, &base]);
    store.buildah(&["rm", &c]);
    let ctx = Scratch::new("f-pkgtools-ctx");
    fs::write(ctx.path().join("setup.sh"), SETUP).unwrap();
    fs::write(
        ctx.path().join("gcc-12.stanza"),
        format!(
            "Package: gcc-12\nStatus: install ok installed\nPriority: optional\nSection: devel\n\
             Installed-Size: 72240\nMaintainer: Debian GCC Maintainers <debian-gcc@lists.debian.org>\n\
             Architecture: {arch}\nVersion: {version}\nProvides: c-compiler\n\
             Depends: cpp-12 (= {version}), gcc-12-base (= {version})\n\
             Description: GNU C compiler\n This is the GNU C compiler, a fairly portable optimizing compiler for C.\n\
             Homepage: http://gcc.gnu.org/\n\n"
        ),
    )
    .unwrap();
    fs::write(
        ctx.path().join("gcc-12.list"),
        "/.\n/usr\n/usr/bin\n/usr/bin/x86_64-linux-gnu-gcc-12\n/usr/lib\n/usr/lib/gcc\n\
         /usr/lib/gcc/x86_64-linux-gnu\n/usr/lib/gcc/x86_64-linux-gnu/12\n\
         /usr/lib/gcc/x86_64-linux-gnu/12/collect2\n/usr/lib/gcc/x86_64-linux-gnu/12/lto-wrapper\n\
         /usr/share\n/usr/share/doc\n/usr/share/doc/gcc-12\n/usr/share/doc/gcc-12/README.Bugs\n/usr/bin/gcc-12\n",
    )
    .unwrap();
    let cf = ctx.path().join("Containerfile");
    fs::write(&cf, format!("FROM {base}\nCOPY . /f-ctx/\nRUN sh /f-ctx/setup.sh\nUSER 1001:1001\n")).unwrap();
    build_file_and_push(&store, "podman", &cf, ctx.path(), &local, name)
}

fn check<'a>(rep: &'a Value, id: &str) -> &'a Value {
    rep["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()
}

fn file<'a>(out: &'a ScanOut, suffix: &str) -> &'a str {
    &out.reports.iter().find(|(n, _)| n.ends_with(suffix)).unwrap_or_else(|| panic!("no {suffix}\n{}", out.dump())).1
}

#[test]
fn renamed_compiler_fails_by_package_and_hand_copied_ssh_is_not_owned_on_both_sources() {
    let (version, arch) = gcc_base();
    let pushed = build();
    let reference = pushed.reference();
    let formats = ["--format", "sarif,codequality,junit,legacy-json"];
    let stored = scan(&Store::new("f-pkgtools-stored")).good_auth().args(formats).arg(&reference).run();
    let fetched = fetch(&Store::new("f-pkgtools-fetched")).good_auth().args(formats).arg(&reference).run();
    let location = format!("package gcc-12 {version} ({arch}, deb) installed");
    let fix = "apt-get purge --auto-remove gcc-12";
    let mut compilers = Vec::new();
    for out in [&stored, &fetched] {
        let rep = out.report_named(&slug(&reference));
        assert_valid_report(&rep);

        // compilers: no compiler on PATH by name, but the package is installed.
        let c = check(&rep, "compilers");
        assert_eq!(c["status"], "fail", "{c}");
        let d = c["description"].as_str().unwrap();
        assert!(d.starts_with("no compilers on PATH") && d.ends_with("; package gcc-12 installed"), "{d}");
        let violations: Vec<&Value> =
            c["findings"].as_array().unwrap().iter().filter(|f| f["violation"] == true).collect();
        assert_eq!(violations.len(), 1, "{violations:?}");
        let f = violations[0];
        assert_eq!(f["path"], location.as_str());
        assert_eq!(f["kind"], "config");
        // Layers: the rootfs, COPY, RUN: the RUN step wrote info/gcc-12.list.
        assert_eq!(f["layer"], 3, "{f}");
        assert!(f["created_by"].as_str().unwrap().contains("setup.sh"), "{f}");
        assert_eq!(f["package"]["name"], "gcc-12");
        assert_eq!(f["package"]["version"], version.as_str());
        assert_eq!(f["package"]["ecosystem"], "deb");
        assert_eq!(f["fix"], fix);
        assert_eq!(
            f["note"],
            "installs /usr/lib/gcc/x86_64-linux-gnu/12/collect2, /usr/lib/gcc/x86_64-linux-gnu/12/lto-wrapper, \
             /usr/share/doc/gcc-12/README.Bugs"
        );
        assert!(c["findings"].as_array().unwrap().iter().all(|f| f["path"] != "/opt/tools/build-helper"));

        // remote-access-tools: the hand-copied ssh, not owned, no package, no fix.
        let r = check(&rep, "remote-access-tools");
        assert_eq!(r["status"], "fail");
        assert_eq!(r["description"], "1 remote-access tool on PATH: ssh; no remote-access tool package installed");
        let ssh = r["findings"].as_array().unwrap().iter().find(|f| f["path"] == "/usr/local/bin/ssh").unwrap();
        assert_eq!(ssh["not_owned"], true, "{ssh}");
        assert!(ssh.get("package").is_none() && ssh.get("fix").is_none(), "{ssh}");
        assert_eq!(
            check(&rep, "privilege-tools")["description"],
            "1 privilege tool on PATH: su; no privilege tool package installed"
        );

        // SARIF: package and fix in the result's properties and message.
        let sarif: Value = serde_json::from_str(file(out, ".sarif")).unwrap();
        let results = sarif["runs"][0]["results"].as_array().unwrap();
        let res = results
            .iter()
            .find(|x| x["ruleId"] == "compilers" && x["properties"]["path"] == location.as_str())
            .unwrap_or_else(|| panic!("{results:?}"));
        assert_eq!(res["properties"]["package"]["name"], "gcc-12");
        assert_eq!(res["properties"]["fix"], fix);
        assert!(res["message"]["text"].as_str().unwrap().ends_with(&format!("; fix: {fix}")), "{res}");
        let res = results.iter().find(|x| x["properties"]["path"] == "/usr/local/bin/ssh").unwrap();
        assert_eq!(res["properties"]["notOwned"], true);
        assert!(res["properties"].get("fix").is_none());
        assert!(res["message"]["text"].as_str().unwrap().contains("[not owned by any package: copied in by hand]"));

        // GitLab CodeQuality: in the description.
        let cq: Value = serde_json::from_str(file(out, ".codequality.json")).unwrap();
        let issues = cq.as_array().unwrap();
        let gcc = issues.iter().find(|i| i["check_name"] == "compilers").unwrap();
        let gd = gcc["description"].as_str().unwrap();
        assert!(gd.contains(&location) && gd.ends_with(&format!("; fix: {fix}")), "{gd}");
        let ssh = issues.iter().find(|i| i["location"]["path"] == "usr/local/bin/ssh").unwrap();
        assert!(ssh["description"].as_str().unwrap().contains("not owned by any package"), "{ssh}");

        // JUnit: in the failure text.
        let junit = file(out, ".junit.xml");
        assert!(junit.contains(&format!("{location} fix: {fix}")), "{junit}");
        assert!(
            junit.contains("/usr/local/bin/ssh -rwxr-xr-x 0:0 (not owned by any package: copied in by hand)\n"),
            "{junit}"
        );

        // The legacy layout: the package in Files, the exact fix in Mitigation.
        let legacy: Value = serde_json::from_str(file(out, ".legacy.json")).unwrap();
        let entries = legacy.as_object().unwrap().values().next().unwrap().as_array().unwrap();
        let e = entries.iter().find(|e| e["Title"] == "No compilers or assemblers").unwrap();
        assert!(e["Mitigation"].as_str().unwrap().ends_with(&format!(" Exact fixes: {fix}.")), "{e}");
        assert!(e["Files"].to_string().contains(&location), "{e}");
        compilers.push(c.clone());
    }
    assert_eq!(compilers[0], compilers[1], "storage and registry agree");
}
