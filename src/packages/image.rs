//! The package databases of one scanned image, read once after the merge: who owns a
//! path, what is installed, and what could not be read. Never trusted for safety: checks
//! judge files the same with or without them; ownership only annotates findings.

use super::{DbStatus, Distro, Ecosystem, FileSource, Package};
use crate::layers::ImageFs;

pub struct ImagePackages {
    /// Deb, Apk, Rpm in that order; empty when the databases were not read.
    pub dbs: Vec<(Ecosystem, DbStatus)>,
}

/// Who owns a path of the final image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership<'a> {
    /// No database was found (or none could be read): nothing can be said.
    Unknown,
    /// A database was found and no package lists the path.
    NotOwned,
    Owned(&'a Package),
}

static NONE: ImagePackages = ImagePackages { dbs: Vec::new() };

impl ImagePackages {
    /// Read every database of the final image and index it by canonical path.
    pub fn read(fs: &ImageFs) -> ImagePackages {
        let mut dbs = super::read(fs);
        for (_, s) in &mut dbs {
            if let DbStatus::Found(db) = s {
                db.index_canonical(|d| fs.resolve_dir(d));
            }
        }
        ImagePackages { dbs }
    }

    /// No databases at all (a context built without them).
    pub fn none() -> &'static ImagePackages {
        &NONE
    }

    pub fn found(&self) -> impl Iterator<Item = &super::PackageDb> {
        self.dbs.iter().filter_map(|(_, s)| match s {
            DbStatus::Found(db) => Some(db),
            _ => None,
        })
    }

    /// The owner of a canonical path of the final image (first found database first).
    /// "Not owned" only when every found database was read whole: a package whose file
    /// list could not be read might own the path.
    pub fn owner(&self, path: &[u8]) -> Ownership<'_> {
        let (mut any, mut whole) = (false, true);
        for db in self.found() {
            any = true;
            whole &= db.notes.is_empty();
            if let Some(p) = db.owner(path) {
                return Ownership::Owned(p);
            }
        }
        match any && whole {
            true => Ownership::NotOwned,
            false => Ownership::Unknown,
        }
    }
}

/// The package databases read the final image through the same resolution as the rules.
impl FileSource for ImageFs {
    fn read_file(&self, path: &[u8], limit: u64) -> Result<Option<Vec<u8>>, String> {
        ImageFs::read_file(self, path, limit)
    }

    fn list_dir(&self, path: &[u8]) -> Result<Option<Vec<Vec<u8>>>, String> {
        let Some(dir) = self.resolve_dir(path) else { return Ok(None) };
        let mut names: Vec<Vec<u8>> =
            self.visible_entries().filter(|(_, e)| e.dir() == &dir[..]).map(|(_, e)| e.name().to_vec()).collect();
        names.sort();
        names.dedup();
        Ok(Some(names))
    }
}

/// The package URL (https://github.com/package-url/purl-spec) of an installed package:
/// `pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=debian-12`, `pkg:apk/alpine/NAME@VERSION?arch=ARCH`,
/// `pkg:rpm/fedora/NAME@VERSION?arch=ARCH&epoch=1`. Every part percent-encoded.
pub fn purl(p: &Package, distro: Option<&Distro>) -> String {
    let (ty, default_ns) = match p.ecosystem {
        Ecosystem::Deb => ("deb", Some("debian")),
        Ecosystem::Apk => ("apk", Some("alpine")),
        Ecosystem::Rpm => ("rpm", None),
    };
    let namespace = distro.map(|d| d.id.to_ascii_lowercase()).or(default_ns.map(String::from));
    let mut version = p.version.as_str();
    let mut epoch = None;
    // rpm's epoch is a qualifier in purl; dpkg keeps it in the version (as Debian's own purls do).
    if p.ecosystem == Ecosystem::Rpm {
        if let Some((e, v)) =
            version.split_once(':').filter(|(e, _)| !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()))
        {
            epoch = Some(e);
            version = v;
        }
    }
    let mut s = format!("pkg:{ty}/");
    if let Some(ns) = namespace.filter(|n| !n.is_empty()) {
        s.push_str(&pct(&ns));
        s.push('/');
    }
    s.push_str(&pct(&p.name));
    if !version.is_empty() {
        s.push('@');
        s.push_str(&pct(version));
    }
    let mut q: Vec<(&str, String)> = Vec::new();
    if !p.arch.is_empty() {
        q.push(("arch", p.arch.clone()));
    }
    if let Some(d) = distro.filter(|_| p.ecosystem == Ecosystem::Deb) {
        if let Some(v) = d.version_id.as_deref().filter(|v| !v.is_empty()) {
            q.push(("distro", format!("{}-{v}", d.id.to_ascii_lowercase())));
        }
    }
    if let Some(e) = epoch {
        q.push(("epoch", e.to_string()));
    }
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&pct(v));
    }
    s
}

/// Percent-encode everything but the unreserved characters (RFC 3986).
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The command that removes a package, when its name is one a shell can take as is
/// (the name comes from the image's database: anything else gets no command).
pub fn remove_command(p: &Package) -> Option<String> {
    let plain = |s: &str| {
        !s.is_empty()
            && !s.starts_with('-')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_'))
    };
    if !plain(&p.name) {
        return None;
    }
    Some(match p.ecosystem {
        Ecosystem::Deb => format!("apt-get purge --auto-remove {}", p.name),
        Ecosystem::Apk => format!("apk del {}", p.name),
        Ecosystem::Rpm => format!("dnf remove {}", p.name),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(eco: Ecosystem, name: &str, version: &str, arch: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            source: None,
            source_version: None,
            ecosystem: eco,
            files: Vec::new(),
        }
    }

    #[test]
    fn purls_follow_the_spec() {
        let deb12 = Distro { id: "debian".into(), version_id: Some("12".into()) };
        let p = pkg(Ecosystem::Deb, "openssh-client", "1:9.2p1-2+deb12u3", "amd64");
        assert_eq!(
            purl(&p, Some(&deb12)),
            "pkg:deb/debian/openssh-client@1%3A9.2p1-2%2Bdeb12u3?arch=amd64&distro=debian-12"
        );
        let p = pkg(Ecosystem::Apk, "socat", "1.8.0.0-r0", "x86_64");
        assert_eq!(purl(&p, None), "pkg:apk/alpine/socat@1.8.0.0-r0?arch=x86_64");
        let fedora = Distro { id: "fedora".into(), version_id: Some("40".into()) };
        let p = pkg(Ecosystem::Rpm, "sudo", "2:1.9.15-2.p5.fc40", "x86_64");
        assert_eq!(purl(&p, Some(&fedora)), "pkg:rpm/fedora/sudo@1.9.15-2.p5.fc40?arch=x86_64&epoch=2");
        assert_eq!(purl(&pkg(Ecosystem::Rpm, "a b", "1", ""), None), "pkg:rpm/a%20b@1");
    }

    #[test]
    fn removal_commands_only_for_plain_names() {
        assert_eq!(
            remove_command(&pkg(Ecosystem::Deb, "openssh-client", "1", "")).as_deref(),
            Some("apt-get purge --auto-remove openssh-client")
        );
        assert_eq!(remove_command(&pkg(Ecosystem::Apk, "socat", "1", "")).as_deref(), Some("apk del socat"));
        assert_eq!(remove_command(&pkg(Ecosystem::Rpm, "sudo", "1", "")).as_deref(), Some("dnf remove sudo"));
        for bad in ["a;rm -rf /", "-y", "", "a b", "x$(id)"] {
            assert_eq!(remove_command(&pkg(Ecosystem::Deb, bad, "1", "")), None, "{bad}");
        }
    }

    use crate::model::{CheckResult, PackageRef, Status};
    use crate::testutil::Image;

    const STATUS: &[u8] =
        b"Package: util-linux\nStatus: install ok installed\nVersion: 2.38.1-5+deb12u3\nArchitecture: amd64\n\n\
Package: sudo\nStatus: install ok installed\nVersion: 1.9.13p3-1+deb12u1\nArchitecture: amd64\n\n";

    /// merged-usr: /bin -> usr/bin, the .list names /bin/su. sudo's file is deleted by layer 2.
    fn image(db: Option<&[u8]>) -> Image {
        let img = Image::new(2);
        img.layer(0).dir("/usr/bin", 0o755).link("/bin", "usr/bin").file("/usr/bin/su", 0o4755);
        img.layer(0).file("/usr/bin/sudo", 0o4755).file("/usr/local/bin/it's", 0o4755);
        if let Some(db) = db {
            img.layer(0).file_with("/var/lib/dpkg/status", 0o644, db);
            img.layer(0).file_with("/var/lib/dpkg/info/util-linux.list", 0o644, b"/.\n/bin\n/bin/su\n");
            img.layer(0).file_with("/var/lib/dpkg/info/sudo.list", 0o644, b"/usr/bin/sudo\n");
        }
        img.layer(1).whiteout("/usr/bin/sudo");
        img
    }

    fn suid(img: &Image) -> CheckResult {
        img.check("suid-files")
    }

    #[test]
    fn findings_name_their_package_or_say_copied_in() {
        let c = suid(&image(Some(STATUS)));
        let f = |p: &str| c.findings.iter().find(|f| f.path == p).unwrap_or_else(|| panic!("{p}: {c:?}"));
        let su = f("/usr/bin/su");
        let want = PackageRef {
            name: "util-linux".into(),
            version: "2.38.1-5+deb12u3".into(),
            arch: "amd64".into(),
            ecosystem: "deb".into(),
        };
        assert_eq!(su.package.as_ref(), Some(&want));
        assert!(!su.not_owned);
        assert_eq!(su.fix.as_deref(), Some("apt-get purge --auto-remove util-linux"));
        let copied = f("/usr/local/bin/it's");
        assert_eq!((copied.package.as_ref(), copied.not_owned), (None, true));
        assert_eq!(copied.fix.as_deref(), Some("chmod u-s '/usr/local/bin/it'\\''s'"));
        // Deleted by a later layer: the final database does not describe it either way.
        let sudo = f("/usr/bin/sudo");
        assert!(!sudo.visible);
        assert_eq!((sudo.package.as_ref(), sudo.not_owned, sudo.fix.as_ref()), (None, false, None));
    }

    #[test]
    fn an_unlisted_directory_is_not_called_copied_in() {
        // dpkg's base-files makes /var/mail in its postinst: no .list names it.
        let img = image(Some(STATUS));
        img.layer(0).dir("/var/mail", 0o2775).file("/usr/local/bin/tool", 0o2755);
        let c = img.check("sgid-files");
        let f = |p: &str| c.findings.iter().find(|f| f.path == p).unwrap_or_else(|| panic!("{p}: {c:?}"));
        assert_eq!((f("/var/mail").package.as_ref(), f("/var/mail").not_owned), (None, false));
        assert!(f("/usr/local/bin/tool").not_owned);
    }

    #[test]
    fn a_partly_read_database_names_owners_but_never_says_not_owned() {
        let img = image(Some(STATUS));
        // sudo's file list cannot be read: it might own anything.
        img.layer(1).dir("/var/lib/dpkg/info/sudo.list", 0o755);
        let c = suid(&img);
        let f = |p: &str| c.findings.iter().find(|f| f.path == p).unwrap();
        assert_eq!(f("/usr/bin/su").package.as_ref().map(|p| p.name.as_str()), Some("util-linux"));
        let copied = f("/usr/local/bin/it's");
        assert_eq!((copied.package.as_ref(), copied.not_owned, copied.fix.as_ref()), (None, false, None));
        let info = crate::engine::packages_info(&ImagePackages::read(&img.fs()));
        assert!(info.databases[0].reason.as_deref().unwrap().contains("sudo.list"), "{info:?}");
    }

    #[test]
    fn without_a_readable_database_findings_are_as_before() {
        let with = image(Some(STATUS)).checks();
        // Absent; and unreadable (status is a directory).
        let absent = image(None).checks();
        let broken = image(None);
        broken.layer(0).dir("/var/lib/dpkg/status", 0o755);
        let broken = broken.checks();
        for other in [&absent, &broken] {
            for (a, b) in with.iter().zip(other.iter()) {
                assert_eq!((&a.id, a.status), (&b.id, b.status));
                // File findings are as before; installed-package findings exist only with a database.
                let paths = |c: &CheckResult| {
                    c.findings
                        .iter()
                        .filter(|f| f.kind != crate::model::EntryKind::Config)
                        .map(|f| (f.path.clone(), f.violation))
                        .collect::<Vec<_>>()
                };
                assert_eq!(paths(a), paths(b), "{}", a.id);
            }
            let c = other.iter().find(|c| c.id == "suid-files").unwrap();
            assert_eq!(c.status, Status::Fail);
            for f in &c.findings {
                assert_eq!((f.package.as_ref(), f.not_owned, f.fix.as_ref()), (None, false, None), "{}", f.path);
            }
        }
        let img = image(None);
        img.layer(0).dir("/var/lib/dpkg/status", 0o755);
        let info = crate::engine::packages_info(&ImagePackages::read(&img.fs()));
        assert_eq!(info.databases[0].status, "unreadable");
        assert!(info.databases[0].reason.as_deref().unwrap().contains("/var/lib/dpkg/status"), "{info:?}");
        assert!(info.installed.is_empty());
        let info = crate::engine::packages_info(&ImagePackages::read(&image(Some(STATUS)).fs()));
        let names: Vec<_> = info.installed.iter().map(|p| (p.name.as_str(), p.purl.as_str())).collect();
        assert_eq!(
            names,
            [
                ("util-linux", "pkg:deb/debian/util-linux@2.38.1-5%2Bdeb12u3?arch=amd64"),
                ("sudo", "pkg:deb/debian/sudo@1.9.13p3-1%2Bdeb12u1?arch=amd64")
            ]
        );
        assert_eq!((info.databases[0].status.as_str(), info.databases[0].count), ("found", 2));
    }
}
