use super::*;
use std::collections::BTreeSet;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

fn write(root: &Path, path: &str, data: &[u8]) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn found(s: DbStatus) -> PackageDb {
    match s {
        DbStatus::Found(db) => db,
        other => panic!("expected a database, got {other:?}"),
    }
}

fn names(db: &PackageDb) -> BTreeSet<String> {
    db.packages.iter().map(|p| p.name.clone()).collect()
}

fn test_rootfs() -> PathBuf {
    let r = std::env::var_os("OCIC_TEST_ROOTFS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/oci-compliance-test/rootfs/debian-minbase"));
    assert!(r.join("var/lib/dpkg/status").is_file(), "no Debian rootfs at {}: run tests/env/setup.sh", r.display());
    r
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (run tests/env/setup.sh)"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn dpkg_on_the_debian_rootfs_matches_dpkg_query() {
    let root = test_rootfs();
    let src = DirSource::new(&root);
    let all = read(&src);
    assert_eq!(all.iter().map(|(e, _)| *e).collect::<Vec<_>>(), [Ecosystem::Deb, Ecosystem::Apk, Ecosystem::Rpm]);
    let mut it = all.into_iter();
    let mut db = found(it.next().unwrap().1);
    assert!(matches!(it.next().unwrap().1, DbStatus::Absent));
    assert!(matches!(it.next().unwrap().1, DbStatus::Absent));
    assert!(db.notes.is_empty(), "{:?}", db.notes);
    assert_eq!(db.distro.as_ref().map(|d| d.id.as_str()), Some("debian"));

    let admindir = root.join("var/lib/dpkg");
    let q = run(Command::new("dpkg-query").arg("--admindir").arg(&admindir).args([
        "-W",
        "-f",
        "${db:Status-Abbrev}|${Package}|${Version}|${Architecture}|${source:Package}|${source:Version}\n",
    ]));
    let want: BTreeSet<(String, String, String, String, String)> = q
        .lines()
        .filter(|l| l.starts_with("ii"))
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f[1].into(), f[2].into(), f[3].into(), f[4].into(), f[5].into())
        })
        .collect();
    assert!(want.len() > 50, "{q}");
    let got: BTreeSet<(String, String, String, String, String)> = db
        .packages
        .iter()
        .map(|p| {
            let src = p.source.clone().unwrap_or_else(|| p.name.clone());
            let src_ver = p.source_version.clone().unwrap_or_else(|| p.version.clone());
            (p.name.clone(), p.version.clone(), p.arch.clone(), src, src_ver)
        })
        .collect();
    assert_eq!(got, want);

    // Files as `dpkg-query -L` lists them, for a Multi-Arch: same package too.
    for name in ["coreutils", "libc6"] {
        let listed = run(Command::new("dpkg-query").arg("--admindir").arg(&admindir).args(["-L", name]));
        let want: BTreeSet<Vec<u8>> =
            listed.lines().filter(|l| l.starts_with('/') && *l != "/.").map(|l| l.as_bytes().to_vec()).collect();
        let p = db.installed(name).next().unwrap();
        assert_eq!(p.files.iter().cloned().collect::<BTreeSet<_>>(), want, "{name}");
    }

    // /bin -> usr/bin: dpkg lists /bin/ls, the image has it at /usr/bin/ls.
    assert!(std::fs::symlink_metadata(root.join("bin")).unwrap().file_type().is_symlink());
    assert_eq!(db.owner(b"/bin/ls").map(|p| p.name.as_str()), Some("coreutils"));
    assert!(db.owner(b"/usr/bin/ls").is_none(), "found before the index knows the image's links");
    db.index_canonical(|d| src.resolve_dir(d));
    assert_eq!(db.owner(b"/usr/bin/ls").map(|p| p.name.as_str()), Some("coreutils"));
    assert_eq!(db.owner(b"/usr/bin/su").map(|p| p.name.as_str()), Some("util-linux"));
    assert_eq!(db.owner(b"/usr/lib/x86_64-linux-gnu/libc.so.6").map(|p| p.name.as_str()), Some("libc6"));
    assert!(db.owner(b"/usr/bin/no-such-tool").is_none());
    // A directory many packages list: every one of them, in database order.
    let usr_bin: Vec<&str> = db.owners(b"/usr/bin/").map(|p| p.name.as_str()).collect();
    assert!(usr_bin.len() > 10 && usr_bin.contains(&"coreutils"), "{usr_bin:?}");

    let libs: Vec<&str> = db.installed("lib*").map(|p| p.name.as_str()).collect();
    assert!(libs.contains(&"libc6") && libs.iter().all(|n| n.starts_with("lib")), "{libs:?}");
    assert_eq!(db.installed("openssh-*").count(), 0);
}

#[test]
fn dpkg_status_only_lists_installed_packages_and_finds_multiarch_lists() {
    let t = tempfile::tempdir().unwrap();
    let status = "Package: tool\nStatus: install ok installed\nVersion: 1:2.0-1\nArchitecture: amd64\n\
        Source: tool-src (2.0-0.1)\nDescription: x\n more text\n Package: not-a-field\n\n\
        Package: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n\
        Package: half\nStatus: install reinstreq half-installed\nVersion: 1\n\n\
        Package: held\nStatus: hold ok installed\nVersion: 3\nArchitecture: all\nSource: held\n\n\
        Package: libm\r\nStatus: install ok installed\r\nVersion: 4\r\nArchitecture: amd64\r\nSource: libm-src\r\n\r\n\
        Package: ../../../etc\nStatus: install ok installed\nVersion: 5\n\n\
        Status: install ok installed\nVersion: 6\n";
    write(t.path(), "/var/lib/dpkg/status", status.as_bytes());
    write(t.path(), "/var/lib/dpkg/info/tool.list", b"/.\n/usr\n/usr/bin\n/usr/bin/tool\n\n/etc/tool/\n");
    write(t.path(), "/var/lib/dpkg/info/libm:amd64.list", b"/usr/lib/libm.so\n");
    write(t.path(), "/var/lib/dpkg/info/libm.list", b"/wrong\n");
    write(t.path(), "/etc/passwd.list", b"/should/not/be/read\n");
    let db = found(dpkg::read(&DirSource::new(t.path())));
    assert_eq!(names(&db), ["../../../etc", "held", "libm", "tool"].map(String::from).into());
    let tool = db.installed("tool").next().unwrap();
    assert_eq!(
        (tool.version.as_str(), tool.arch.as_str(), tool.source.as_deref(), tool.source_version.as_deref()),
        ("1:2.0-1", "amd64", Some("tool-src"), Some("2.0-0.1"))
    );
    let files: Vec<&[u8]> = tool.files.iter().map(Vec::as_slice).collect();
    assert_eq!(files, [&b"/usr"[..], b"/usr/bin", b"/usr/bin/tool", b"/etc/tool"]);
    let held = db.installed("held").next().unwrap();
    assert_eq!((held.source.as_deref(), held.files.len()), (None, 0));
    let libm = db.installed("libm").next().unwrap();
    assert_eq!((libm.source.as_deref(), libm.source_version.as_deref()), (Some("libm-src"), None));
    assert_eq!(libm.files, [b"/usr/lib/libm.so".to_vec()]);
    assert!(db.installed("../../../etc").next().unwrap().files.is_empty());
    assert_eq!(db.owner(b"/usr/bin/tool").unwrap().name, "tool");
    assert_eq!(db.owner(b"/etc/tool/").unwrap().name, "tool");
}

#[test]
fn dpkg_distroless_status_d() {
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    // As distroless ships it: one stanza per file, no Status, md5sums with relative paths.
    write(
        r,
        "/var/lib/dpkg/status.d/base-files",
        b"Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\nMaintainer: x\n",
    );
    write(
        r,
        "/var/lib/dpkg/status.d/base-files.md5sums",
        b"d41d8cd98f00b204e9800998ecf8427e  etc/debian_version\n0123  usr/lib/os-release\n",
    );
    write(
        r,
        "/var/lib/dpkg/status.d/libssl3",
        b"Package: libssl3\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl (3.0.11-1~deb12u2)\n",
    );
    write(r, "/var/lib/dpkg/status.d/libssl3.md5sums", b"aa  usr/lib/x86_64-linux-gnu/libssl.so.3\n");
    write(r, "/var/lib/dpkg/status.d/removed", b"Package: removed\nStatus: purge ok not-installed\n");
    write(r, "/var/lib/dpkg/status.d/junk", b"\x00\xff\x1b[31m\n:\n");
    std::fs::create_dir_all(r.join("usr/lib")).unwrap();
    symlink("usr/lib", r.join("lib")).unwrap();
    let src = DirSource::new(r);
    let mut db = found(dpkg::read(&src));
    assert_eq!(names(&db), ["base-files", "libssl3"].map(String::from).into());
    let ssl = db.installed("libssl3").next().unwrap();
    assert_eq!((ssl.source.as_deref(), ssl.source_version.as_deref()), (Some("openssl"), None));
    assert_eq!(db.owner(b"/etc/debian_version").unwrap().name, "base-files");
    assert_eq!(db.owner(b"/usr/lib/x86_64-linux-gnu/libssl.so.3").unwrap().name, "libssl3");
    db.index_canonical(|d| src.resolve_dir(d));
    assert_eq!(db.owner(b"/usr/lib/os-release").unwrap().name, "base-files");

    // Neither status nor status.d: no database; an unreadable status: says so.
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(dpkg::read(&DirSource::new(empty.path())), DbStatus::Absent));
    std::fs::create_dir_all(empty.path().join("var/lib/dpkg/status")).unwrap();
    match dpkg::read(&DirSource::new(empty.path())) {
        DbStatus::Unreadable { path, reason } => {
            assert_eq!(path, "/var/lib/dpkg/status");
            assert!(reason.contains("not a regular file"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn apk_installed_db() {
    let t = tempfile::tempdir().unwrap();
    let installed = b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nA:x86_64\nS:383152\nI:622592\no:musl\nF:lib\nR:ld-musl-x86_64.so.1\na:0:0:755\nZ:Q1xyz=\nR:libc.musl-x86_64.so.1\n\n\
        P:busybox\nV:1.36.1-r5\nA:x86_64\no:busybox\nR:top-level-file\nF:bin\nR:busybox\nF:etc/\nR:securetty\nF:etc/busybox-paths.d\n\
        \n\nP:\nV:nameless\nR:x\n\nZ:no-package\n\nP:alpine-baselayout-data\r\nV:3.4.3-r1\r\nF:etc\r\nR:hosts\r\n";
    write(t.path(), "/lib/apk/db/installed", installed);
    let mut db = found(apk::read(&DirSource::new(t.path())));
    assert_eq!(db.packages.len(), 3);
    let musl = &db.packages[0];
    assert_eq!(
        (musl.name.as_str(), musl.version.as_str(), musl.arch.as_str(), musl.source.as_deref()),
        ("musl", "1.2.4-r2", "x86_64", Some("musl"))
    );
    assert_eq!(
        musl.files,
        [b"/lib".to_vec(), b"/lib/ld-musl-x86_64.so.1".to_vec(), b"/lib/libc.musl-x86_64.so.1".to_vec()]
    );
    let bb = &db.packages[1];
    let want: Vec<&[u8]> =
        vec![b"/top-level-file", b"/bin", b"/bin/busybox", b"/etc", b"/etc/securetty", b"/etc/busybox-paths.d"];
    assert_eq!(bb.files.iter().map(Vec::as_slice).collect::<Vec<_>>(), want);
    assert_eq!(db.packages[2].files, [b"/etc".to_vec(), b"/etc/hosts".to_vec()]);
    assert_eq!(db.owner(b"/bin/busybox").unwrap().name, "busybox");
    // /etc is listed by two packages; both own it.
    assert_eq!(db.owners(b"/etc").map(|p| p.name.as_str()).collect::<Vec<_>>(), ["busybox", "alpine-baselayout-data"]);
    // Canonical lookups: /bin -> /usr/bin in this image.
    std::fs::create_dir_all(t.path().join("usr/bin")).unwrap();
    symlink("/usr/bin", t.path().join("bin")).unwrap();
    let src = DirSource::new(t.path());
    db.index_canonical(|d| src.resolve_dir(d));
    assert_eq!(db.owner(b"/usr/bin/busybox").unwrap().name, "busybox");
    assert_eq!(db.owner(b"/bin/busybox").unwrap().name, "busybox");
}

/// An rpm built and installed (database only) with the real rpm tools, in the sqlite
/// backend current Fedora/RHEL/UBI use. One package has enough files for its header to
/// need overflow pages, and there are enough packages for an interior b-tree page.
fn build_rpmdb(dir: &Path) -> PathBuf {
    let mut spec = String::from(
        "Name: ocic-demo\nVersion: 1.2\nRelease: 3\nEpoch: 2\nSummary: demo\nLicense: MIT\nBuildArch: noarch\n\
         %description\ndemo\n",
    );
    for i in 0..24 {
        spec += &format!("%package sub{i}\nSummary: s\n%description sub{i}\ns\n");
    }
    spec += "%package big\nSummary: b\nVersion: 9.9\n%description big\nb\n";
    spec += "%install\nmkdir -p %{buildroot}/usr/bin %{buildroot}/etc/ocic %{buildroot}/usr/share/ocic-big\n\
             echo hi > %{buildroot}/usr/bin/ocic-tool\necho x > %{buildroot}/etc/ocic/conf\n";
    for i in 0..24 {
        spec += &format!("echo {i} > %{{buildroot}}/usr/bin/ocic-sub{i}\n");
    }
    spec += "for i in $(seq 1 600); do echo $i > %{buildroot}/usr/share/ocic-big/file-with-a-long-name-$i; done\n";
    spec += "%files\n/usr/bin/ocic-tool\n%dir /etc/ocic\n/etc/ocic/conf\n";
    for i in 0..24 {
        spec += &format!("%files sub{i}\n/usr/bin/ocic-sub{i}\n");
    }
    spec += "%files big\n/usr/share/ocic-big\n";
    std::fs::write(dir.join("t.spec"), spec).unwrap();
    let top = dir.join("top");
    run(Command::new("rpmbuild")
        .arg("-bb")
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .arg(dir.join("t.spec")));
    let db = dir.join("root/var/lib/rpm");
    std::fs::create_dir_all(&db).unwrap();
    let backend = ["--define", "_db_backend sqlite"];
    run(Command::new("rpm").arg("--dbpath").arg(&db).args(backend).arg("--initdb"));
    let rpms: Vec<PathBuf> = std::fs::read_dir(top.join("RPMS/noarch")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(rpms.len(), 26);
    run(Command::new("rpm")
        .arg("--dbpath")
        .arg(&db)
        .args(backend)
        .args(["-i", "--justdb", "--nodeps", "--ignorearch"])
        .args(&rpms));
    db
}

#[test]
fn rpm_sqlite_db_written_by_rpm() {
    let t = tempfile::tempdir().unwrap();
    let dbdir = build_rpmdb(t.path());
    let root = t.path().join("root");
    let mut db = found(rpm::read(&DirSource::new(&root)));
    assert!(db.notes.is_empty(), "{:?}", db.notes);

    let q = run(Command::new("rpm").arg("--dbpath").arg(&dbdir).args([
        "-qa",
        "--qf",
        "%{NAME}|%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}|%{ARCH}|%{SOURCERPM}\\n",
    ]));
    let want: BTreeSet<String> = q.lines().map(String::from).collect();
    assert_eq!(want.len(), 26, "{q}");
    let got: BTreeSet<String> = db
        .packages
        .iter()
        .map(|p| format!("{}|{}|{}|{}", p.name, p.version, p.arch, p.source.as_deref().unwrap_or("(none)")))
        .collect();
    assert_eq!(got, want);
    let demo = db.installed("ocic-demo").next().unwrap();
    assert_eq!(demo.version, "2:1.2-3");

    for name in ["ocic-demo", "ocic-demo-big", "ocic-demo-sub7"] {
        let listed = run(Command::new("rpm").arg("--dbpath").arg(&dbdir).args(["-ql", name]));
        let want: BTreeSet<Vec<u8>> = listed.lines().map(|l| l.as_bytes().to_vec()).collect();
        let p = db.installed(name).next().unwrap();
        assert_eq!(p.files.iter().cloned().collect::<BTreeSet<_>>(), want, "{name}");
    }
    assert_eq!(db.installed("ocic-demo-big").next().unwrap().files.len(), 601);
    assert_eq!(db.installed("ocic-demo-sub*").count(), 24);
    assert_eq!(db.owner(b"/usr/bin/ocic-sub11").unwrap().name, "ocic-demo-sub11");
    assert_eq!(db.owner(b"/usr/share/ocic-big/file-with-a-long-name-599").unwrap().name, "ocic-demo-big");

    // Fedora's layout: the database in /usr/lib/sysimage/rpm, /var/lib/rpm a link to it.
    std::fs::create_dir_all(root.join("usr/lib/sysimage")).unwrap();
    std::fs::rename(&dbdir, root.join("usr/lib/sysimage/rpm")).unwrap();
    symlink("../../usr/lib/sysimage/rpm", &dbdir).unwrap();
    db = found(rpm::read(&DirSource::new(&root)));
    assert_eq!(db.packages.len(), 26);
}

#[test]
fn rpm_damaged_or_unsupported_databases_are_unreadable_never_a_panic() {
    let t = tempfile::tempdir().unwrap();
    let dbdir = build_rpmdb(t.path());
    let data = std::fs::read(dbdir.join("rpmdb.sqlite")).unwrap();
    let root = t.path().join("root");

    // Every truncation and many byte flips: Found or Unreadable, no panic, bounded work.
    let mut notes = Vec::new();
    for len in (0..data.len()).step_by(997) {
        let _ = rpm::parse_db(&data[..len], &mut notes);
    }
    for at in (0..data.len()).step_by(211) {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut d = data.clone();
            d[at] ^= flip;
            let _ = rpm::parse_db(&d, &mut notes);
        }
    }
    assert!(rpm::parse_db(&data[..data.len() / 2], &mut notes).is_err());
    assert!(rpm::parse_db(b"not sqlite", &mut notes).is_err());

    std::fs::write(dbdir.join("rpmdb.sqlite"), &data[..5000]).unwrap();
    assert!(matches!(rpm::read(&DirSource::new(&root)), DbStatus::Unreadable { .. }));

    // BerkeleyDB (RHEL/UBI 8, CentOS 7) and ndb (SUSE): reported, not guessed.
    std::fs::remove_file(dbdir.join("rpmdb.sqlite")).unwrap();
    std::fs::write(dbdir.join("Packages"), b"\0\0\0\0\x61\x15\x06\0").unwrap();
    match rpm::read(&DirSource::new(&root)) {
        DbStatus::Unreadable { path, reason } => {
            assert_eq!(path, "/var/lib/rpm/Packages");
            assert!(reason.contains("package database not readable") && reason.contains("BerkeleyDB"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    std::fs::remove_file(dbdir.join("Packages")).unwrap();
    std::fs::write(dbdir.join("Packages.db"), b"RpmP").unwrap();
    assert!(matches!(rpm::read(&DirSource::new(&root)), DbStatus::Unreadable { reason, .. } if reason.contains("ndb")));
    std::fs::remove_file(dbdir.join("Packages.db")).unwrap();
    assert!(matches!(rpm::read(&DirSource::new(&root)), DbStatus::Absent));
}

#[test]
fn rpm_headers_are_bounds_checked() {
    // il=1, dl=4, NAME as a string at offset 0 with no NUL in the store.
    let mut h = vec![0, 0, 0, 1, 0, 0, 0, 4];
    h.extend_from_slice(&[0, 0, 0x03, 0xe8, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1]);
    h.extend_from_slice(b"abcd");
    assert!(rpm::parse_header(&h).is_err());
    let n = h.len();
    h[n - 1] = 0;
    assert_eq!(rpm::parse_header(&h).unwrap().name, "abc");
    // A huge count for a string array: refused, not allocated.
    let mut big = vec![0, 0, 0, 2, 0, 0, 0, 4];
    big.extend_from_slice(&[0, 0, 0x03, 0xe8, 0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 1]);
    big.extend_from_slice(&[0, 0, 0x04, 0x5d, 0, 0, 0, 8, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    big.extend_from_slice(b"abc\0");
    assert!(rpm::parse_header(&big).is_err());
    assert!(rpm::parse_header(&[0xff; 8]).is_err());
    assert!(rpm::parse_header(&[]).is_err());
}

#[test]
fn dir_source_never_leaves_its_root() {
    let outside = tempfile::tempdir().unwrap();
    write(outside.path(), "/installed", b"P:host-package\nV:1\n");
    let t = tempfile::tempdir().unwrap();
    let r = t.path();
    std::fs::create_dir_all(r.join("lib/apk/db")).unwrap();
    // Relative with more `..` than the depth, and absolute: both stay inside the root.
    let up = format!("../../../../../../../../..{}/installed", outside.path().display());
    symlink(&up, r.join("lib/apk/db/installed")).unwrap();
    let src = DirSource::new(r);
    assert!(matches!(apk::read(&src), DbStatus::Absent));
    std::fs::remove_file(r.join("lib/apk/db/installed")).unwrap();
    symlink(outside.path().join("installed"), r.join("lib/apk/db/installed")).unwrap();
    assert!(matches!(apk::read(&src), DbStatus::Absent));
    // The same target inside the root is read.
    write(r, &format!("{}/installed", outside.path().display()), b"P:image-package\nV:1\n");
    assert_eq!(names(&found(apk::read(&src))), ["image-package".to_string()].into());
    // A link loop is nothing there.
    std::fs::remove_file(r.join("lib/apk/db/installed")).unwrap();
    symlink("installed", r.join("lib/apk/db/installed")).unwrap();
    assert!(matches!(apk::read(&src), DbStatus::Absent));
    // Too large: reported with the bound.
    let t2 = tempfile::tempdir().unwrap();
    let f = std::fs::File::create({
        std::fs::create_dir_all(t2.path().join("lib/apk/db")).unwrap();
        t2.path().join("lib/apk/db/installed")
    })
    .unwrap();
    f.set_len(MAX_TEXT_DB + 1).unwrap();
    match apk::read(&DirSource::new(t2.path())) {
        DbStatus::Unreadable { path, reason } => {
            assert_eq!(path, "/lib/apk/db/installed");
            assert!(reason.contains(&MAX_TEXT_DB.to_string()), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn rpmdb_with_small_pages_reads_the_header_through_its_overflow_chain() {
    // The fuzz seed: one real rpm header (1948 bytes) in a database of 512-byte pages, so
    // it spans a leaf page and several overflow pages.
    let db = include_bytes!("../../fuzz/seeds/packages/rpmdb.sqlite");
    let header = include_bytes!("../../fuzz/seeds/packages/rpm-header");
    assert_eq!(u16::from_be_bytes([db[16], db[17]]), 512);
    let mut notes = Vec::new();
    let got = rpm::parse_db(db, &mut notes).unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(got, [rpm::parse_header(header).unwrap()]);
    assert!(!got[0].files.is_empty());
}

/// An rpm header the fuzzer found: whatever it parses to, every package has a name and
/// owns absolute paths only.
#[test]
fn fuzzed_rpm_header_gives_well_formed_packages() {
    let data = include_bytes!("testdata/fuzz-rpm-header-1");
    let check = |p: &Package| {
        assert!(!p.name.is_empty(), "{p:?}");
        for f in &p.files {
            assert!(f.starts_with(b"/"), "{p:?}");
        }
    };
    if let Ok(p) = rpm::parse_header(data) {
        check(&p);
    }
    let mut notes = Vec::new();
    if let Ok(ps) = rpm::parse_db(data, &mut notes) {
        ps.iter().for_each(check);
    }
    for st in dpkg::stanzas(data) {
        for need_status in [true, false] {
            if let Some(p) = dpkg::package(&st, need_status) {
                check(&p);
            }
        }
    }
    if let Ok(ps) = apk::parse(data) {
        ps.iter().for_each(check);
    }
}
