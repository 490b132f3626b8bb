//! file-capabilities, world-writable and account-hygiene (issue #13 part B) on an image
//! built with buildah: a setcap'ed executable, world-writable paths and a shadow with an
//! empty password, scanned from storage and through the registry. Image names start with
//! `b-`.

use crate::support::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn findings(report: &Value, id: &str) -> (String, Vec<(String, bool, bool, String)>) {
    let c = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap();
    let mut f: Vec<(String, bool, bool, String)> = c["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
            (s("path"), f["violation"] == true, f["visible"] == true, s("note"))
        })
        .collect();
    f.sort();
    (c["status"].as_str().unwrap().to_string(), f)
}

fn assert_findings(report: &Value, how: &str) {
    let (status, caps) = findings(report, "file-capabilities");
    assert_eq!(status, "fail", "{how}: {caps:?}");
    assert_eq!(
        caps,
        [
            (
                "/usr/bin/gone".into(),
                false,
                false,
                "cap_sys_admin+ep; not in the final image: deleted or replaced by layer 3".into()
            ),
            ("/usr/bin/ping".into(), true, true, "cap_net_raw+ep".into()),
        ],
        "{how}"
    );
    let (status, ww) = findings(report, "world-writable");
    assert_eq!(status, "fail", "{how}");
    let paths: Vec<(&str, bool)> = ww.iter().map(|f| (f.0.as_str(), f.1)).collect();
    assert_eq!(paths, [("/etc/app.conf", true), ("/srv/shared", true)], "{how}: /tmp is sticky: {ww:?}");
    let (status, acc) = findings(report, "account-hygiene");
    assert_eq!(status, "fail", "{how}");
    let acc: Vec<(&str, bool, &str)> = acc.iter().map(|f| (f.0.as_str(), f.1, f.3.as_str())).collect();
    assert_eq!(
        acc,
        [("/etc/shadow: account guest", true, "empty password in /etc/shadow and login shell /bin/sh")],
        "{how}"
    );
}

#[test]
fn capabilities_world_writable_and_accounts_from_storage_and_registry() {
    let store = Store::new("b-hygiene");
    let local = format!("localhost/{}:1", repo("b-hygiene"));
    let ctx = Scratch::new("b-hygiene-tree");
    let t = ctx.path();
    write_file(&t.join("usr/bin/ping"), b"#!/bin/sh\n", 0o755);
    write_file(&t.join("usr/bin/gone"), b"#!/bin/sh\n", 0o755);
    write_file(&t.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\nguest:x:1001:1001::/:/bin/sh\n", 0o644);
    write_file(&t.join("etc/shadow"), b"root:*:19000:0:99999:7:::\nguest::19000:0:99999:7:::\n", 0o640);
    write_file(&t.join("etc/group"), b"root:x:0:\nguest:x:1001:\n", 0o644);
    write_file(&t.join("etc/app.conf"), b"k=v\n", 0o644);
    std::fs::create_dir_all(t.join("srv/shared")).unwrap();
    std::fs::create_dir_all(t.join("tmp")).unwrap();
    let config: &[(&str, &[u8])] = &[("--user", b"1001:1001"), ("--entrypoint", b"[\"/usr/bin/ping\"]")];
    build_tree(&store, &format!("{local}-base"), t, config);
    // Capabilities and modes as a RUN step would leave them (a copy keeps neither).
    let run = |cmd: &mut Command| assert!(cmd.status().unwrap().success(), "{cmd:?}");
    edit_layer(&store, &format!("{local}-base"), &format!("{local}-caps"), |root: &Path| {
        run(Command::new("setcap").arg("cap_net_raw+ep").arg(root.join("usr/bin/ping")));
        run(Command::new("setcap").arg("cap_sys_admin+ep").arg(root.join("usr/bin/gone")));
        run(Command::new("chmod").arg("0666").arg(root.join("etc/app.conf")));
        run(Command::new("chmod").arg("0777").arg(root.join("srv/shared")));
        run(Command::new("chmod").arg("1777").arg(root.join("tmp")));
    });
    edit_layer(&store, &format!("{local}-caps"), &local, |root: &Path| {
        std::fs::remove_file(root.join("usr/bin/gone")).unwrap();
    });
    let _guards: Vec<LocalImage> = [format!("{local}-base"), format!("{local}-caps"), local.clone()]
        .iter()
        .map(|n| LocalImage::new(&store, n))
        .collect();

    let stored = scan(&store).arg(&local).run();
    let report = stored.report();
    assert_valid_report(&report);
    assert_eq!(report["image"]["source"], "storage");
    assert_findings(&report, "storage");

    store.push(&local, &repo("b-hygiene"), "1");
    let remote = format!("{}/{}:1", env().registry, repo("b-hygiene"));
    let fetched = fetch(&Store::new("b-hygiene-fetch")).good_auth().arg(&remote).run();
    let report = fetched.report();
    assert_valid_report(&report);
    assert_eq!(report["image"]["source"], "registry");
    assert_findings(&report, "registry");
}

/// Rootless (vfs here): `setcap` in the user's namespace stores a v3 capability whose rootid
/// is the user's host uid. The scanner re-executes inside that namespace, where the kernel
/// shows it as the plain v2 capability the image means; from the host it reads as v3 with
/// that rootid. Both decode to the same capability.
#[test]
fn rootless_stored_capabilities_read_as_the_image_means_them() {
    let user = rootless_user();
    let work = user.workdir("b-rootless-caps");
    let bin = work.path.join("oci-compliance");
    std::fs::copy(BIN, &bin).unwrap();
    // Named uniquely: the user's store outlives the test.
    let tool = unique("b-ping");
    write_file(&work.path.join("tree/usr/bin").join(&tool), b"#!/bin/sh\n", 0o755);
    user.chown(&work.path);
    let name = format!("localhost/{}:1", unique("b-rootless-caps"));
    let as_user = |args: &[&str]| ok(user.cmd(&[], args[0]).args(&args[1..]));
    let c = as_user(&["buildah", "from", "scratch"]);
    as_user(&["buildah", "copy", "--chown", "0:0", &c, work.path.join("tree").to_str().unwrap(), "/"]);
    as_user(&[
        "buildah",
        "unshare",
        "sh",
        "-c",
        &format!("setcap cap_net_raw+ep \"$(buildah mount {c})/usr/bin/{tool}\""),
    ]);
    as_user(&["buildah", "commit", "-q", "--rm", &c, &name]);
    struct Rmi<'a>(&'a User, String);
    impl Drop for Rmi<'_> {
        fn drop(&mut self) {
            let _ = self.0.cmd(&[], "podman").arg("rmi").arg("-f").arg(&self.1).output();
        }
    }
    let _rmi = Rmi(&user, name.clone());

    // What the stored file carries, seen from the host and from the namespace.
    let driver = as_user(&["podman", "info", "--format", "{{.Store.GraphDriverName}}"]);
    let graphroot = as_user(&["podman", "info", "--format", "{{.Store.GraphRoot}}"]);
    // vfs keeps each layer as a whole tree under <graphroot>/vfs/dir/<id>.
    let ping = std::fs::read_dir(Path::new(&graphroot).join(&driver).join("dir"))
        .unwrap()
        .map(|d| d.unwrap().path().join("usr/bin").join(&tool))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no layer of the {driver} store under {graphroot} holds {tool}"));
    let hex =
        |out: String| out.lines().find_map(|l| l.strip_prefix("security.capability=0x")).unwrap_or("").to_string();
    let host = hex(ok(Command::new("getfattr").args(["-e", "hex", "-n", "security.capability"]).arg(&ping)));
    let inside = hex(as_user(&[
        "podman",
        "unshare",
        "getfattr",
        "-e",
        "hex",
        "-n",
        "security.capability",
        ping.to_str().unwrap(),
    ]));
    eprintln!("rootless {driver}: host sees {host}, the user namespace sees {inside}");
    assert!(host.starts_with("01000003") && host.len() == 48, "v3 with a rootid on the host: {host}");
    assert_eq!(u32::from_str_radix(&host[40..48], 16).unwrap().swap_bytes(), user.uid, "rootid is the user");
    assert!(inside.starts_with("01000002") && inside.len() == 40, "v2 inside: {inside}");

    let reports = work.path.join("reports");
    let mut cmd =
        user.cmd(&[("COMPLIANCE_SOURCE", "storage"), ("COMPLIANCE_JSON_STDOUT", "true"), ("NO_COLOR", "1")], &bin);
    cmd.arg("scan").arg("--reports-dir").arg(&reports).args(["--pull", "never", &name]);
    let s = ScanOut::capture(&mut cmd, &reports);
    let c = s.stdout_json["checks"].as_array().unwrap().iter().find(|c| c["id"] == "file-capabilities").unwrap();
    assert_eq!(c["status"], "fail", "{}", s.dump());
    let f = &c["findings"][0];
    assert_eq!(f["path"].as_str(), Some(format!("/usr/bin/{tool}").as_str()), "{c}");
    assert_eq!(f["note"].as_str(), Some("cap_net_raw+ep"), "{c}");
}
