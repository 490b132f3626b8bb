//! Issue #14 (parts F and H): an installed package of a forbidden kind fails its check even
//! when its binaries were renamed out of PATH, and the package and its exact fix reach every
//! CI format; a tool copied in by hand is "not owned" and has no package fix. One image from
//! the Debian rootfs, scanned from storage and from the registry.
//!
//! gcc-12 is installed for real: the host's dpkg installs the host Debian's own gcc-12 .deb
//! (downloaded once by `tests/env/setup.sh`) into a mount of the working container, so dpkg
//! itself writes the status stanza and `info/gcc-12.list`. `--force-depends` leaves out its
//! dependencies (cpp-12, binutils, libgcc-12-dev, …: tens of MB more, and the check reads only
//! gcc-12's own stanza and list). The driver is then moved out of PATH by hand the way a
//! build that "hides" the compiler would; dpkg's list still names its old path.

use crate::support::*;
use serde_json::Value;
use std::cell::RefCell;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where the build hides the compiler driver.
const HIDDEN: &str = "/opt/hidden/cc";

/// The cached .deb and what its control file says.
struct Deb {
    path: PathBuf,
    version: String,
    arch: String,
}

fn gcc_deb() -> Deb {
    let path =
        env().gcc_deb.clone().unwrap_or_else(|| panic!("the env file names no OCIC_TEST_GCC_DEB\n=> {SETUP_HINT}"));
    let field = |f: &str| ok(clean_command("dpkg-deb").arg("--field").arg(&path).arg(f));
    assert_eq!(field("Package"), "gcc-12", "{}", path.display());
    Deb { version: field("Version"), arch: field("Architecture"), path }
}

/// What the package finding's note must say, read off the container's files: the files (not
/// directories) that dpkg's list names and that are still there, executables first, each
/// group in path order, the first 8 then how many more.
fn expected_note(root: &Path, list: &str) -> String {
    let root = fs::canonicalize(root).unwrap();
    let mut files: Vec<(bool, &str)> = Vec::new();
    for p in list.lines() {
        let host = root.join(p.trim_start_matches('/'));
        // The scanner names files by their canonical path: no symlinked directory on the way.
        if let Ok(parent) = fs::canonicalize(host.parent().unwrap()) {
            assert_eq!(parent, host.parent().unwrap(), "{p} goes through a symlink");
        }
        let Ok(md) = fs::symlink_metadata(&host) else { continue };
        if !md.is_dir() {
            files.push((!(md.is_file() && md.permissions().mode() & 0o111 != 0), p));
        }
    }
    files.sort();
    let shown: Vec<&str> = files.iter().take(8).map(|(_, p)| *p).collect();
    let more = files.len().saturating_sub(8);
    format!("installs {}{}", shown.join(", "), if more > 0 { format!(" and {more} more") } else { String::new() })
}

struct Built {
    pushed: Pushed,
    /// The dpkg layer's history entry.
    created_by: String,
    note: String,
    /// The driver's path in dpkg's list, e.g. /usr/bin/x86_64-linux-gnu-gcc-12.
    driver: String,
}

fn build(deb: &Deb) -> Built {
    let e = env();
    let store = Store::new("h-pkgtools");
    let name = "h-pkgtools";
    let base = format!("localhost/{}:base", repo(name));
    let local = format!("localhost/{}:1", repo(name));
    build_tree(&store, &base, &e.rootfs, &[]);
    let deb_name = deb.path.file_name().unwrap().to_str().unwrap();
    let found = RefCell::new((String::new(), String::new()));
    let install = |root: &Path| {
        ok(clean_command("dpkg")
            .arg(format!("--root={}", root.display()))
            .args(["--force-depends", "-i"])
            .arg(&deb.path));
        let admindir = root.join("var/lib/dpkg");
        let status = ok(clean_command("dpkg-query").arg(format!("--admindir={}", admindir.display())).args([
            "-W",
            "-f",
            "${db:Status-Abbrev}${Version}",
            "gcc-12",
        ]));
        assert_eq!(status, format!("ii {}", deb.version), "dpkg installed and configured gcc-12");
        let list = fs::read_to_string(admindir.join("info/gcc-12.list")).unwrap();
        // The driver: /usr/bin/*-gcc-12 (<triplet>-gcc-12, a real binary; gcc-12 links to it).
        let drivers: Vec<&str> =
            list.lines().filter(|p| p.starts_with("/usr/bin/") && p.ends_with("-gcc-12")).collect();
        assert_eq!(drivers.len(), 1, "{list}");
        let driver = drivers[0].to_string();
        assert!(fs::symlink_metadata(root.join(&driver[1..])).unwrap().is_file(), "{driver}");
        assert!(list.lines().any(|p| p == "/usr/bin/gcc-12"), "{list}");
        fs::create_dir_all(root.join("opt/hidden")).unwrap();
        fs::rename(root.join(&driver[1..]), root.join(&HIDDEN[1..])).unwrap();
        fs::remove_file(root.join("usr/bin/gcc-12")).unwrap();
        // An ssh client copied in by hand: no package owns it.
        write_file(&root.join("usr/local/bin/ssh"), &fs::read(root.join("usr/bin/true")).unwrap(), 0o755);
        *found.borrow_mut() = (driver, expected_note(root, &list));
    };
    let created_by = format!(
        "dpkg --force-depends -i {deb_name} && mkdir /opt/hidden && mv /usr/bin/*-gcc-12 {HIDDEN} && rm /usr/bin/gcc-12 \
         && install -m 755 /usr/bin/true /usr/local/bin/ssh"
    );
    let config = ["--created-by", created_by.as_str(), "--user", "1001:1001"].map(OsStr::new).to_vec();
    let id = commit_layer(&store, &base, &local, Commit { edit: Some(&install), config, ..Commit::default() });
    let (driver, note) = found.into_inner();
    Built { pushed: push_all(&store, &local, name, &id, &["1"]), created_by, note, driver }
}

fn check<'a>(rep: &'a Value, id: &str) -> &'a Value {
    rep["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()
}

fn file<'a>(out: &'a ScanOut, suffix: &str) -> &'a str {
    &out.reports.iter().find(|(n, _)| n.ends_with(suffix)).unwrap_or_else(|| panic!("no {suffix}\n{}", out.dump())).1
}

#[test]
fn renamed_compiler_fails_by_package_and_hand_copied_ssh_is_not_owned_on_both_sources() {
    let deb = gcc_deb();
    let (version, arch) = (&deb.version, &deb.arch);
    let built = build(&deb);
    let reference = built.pushed.reference();
    let formats = ["--format", "sarif,codequality,junit,legacy-json"];
    let stored = scan(&Store::new("h-pkgtools-stored")).good_auth().args(formats).arg(&reference).run();
    let fetched = fetch(&Store::new("h-pkgtools-fetched")).good_auth().args(formats).arg(&reference).run();
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
        // Layers: the rootfs, then the dpkg step, which wrote info/gcc-12.list.
        assert_eq!(f["layer"], 2, "{f}");
        assert_eq!(f["created_by"], built.created_by.as_str(), "{f}");
        assert_eq!(f["package"]["name"], "gcc-12");
        // The version and architecture dpkg-deb reads in the .deb's control file.
        assert_eq!(f["package"]["version"], version.as_str());
        assert_eq!(f["package"]["arch"], arch.as_str());
        assert_eq!(f["package"]["ecosystem"], "deb");
        assert_eq!(f["fix"], fix);
        assert_eq!(f["note"], built.note.as_str());
        // dpkg's list still names the driver's old path, where nothing is left, and nothing
        // tells the scanner where it went: the note shows it under neither name.
        let note = f["note"].as_str().unwrap();
        assert!(!note.contains(&built.driver) && !note.contains(HIDDEN), "{note}");
        // Named cc, the hidden driver matches by name but is not on PATH: listed for
        // information only, and not owned (dpkg's list names its old path).
        let hidden = c["findings"].as_array().unwrap().iter().find(|f| f["path"] == HIDDEN);
        let hidden = hidden.unwrap_or_else(|| panic!("{c}"));
        assert_eq!((&hidden["violation"], &hidden["not_owned"]), (&Value::Bool(false), &Value::Bool(true)), "{hidden}");
        assert_eq!(hidden["note"], "executable outside PATH");
        assert!(d.contains(" (1 other match listed for information); "), "{d}");

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
