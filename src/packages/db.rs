//! What the package databases hold, whichever ecosystem: the model the readers fill and
//! the small helpers they share (a leaf: the readers and the dispatch in mod.rs import it).

use std::collections::HashMap;

/// The largest database file read (dpkg `status`, apk `installed`, one dpkg `.list`).
/// A full Debian desktop's status is about 10 MB; anything larger is reported, not read.
pub const MAX_TEXT_DB: u64 = 64 << 20;
/// The largest rpmdb.sqlite read (a full Fedora workstation's is about 150 MB).
pub const MAX_RPMDB: u64 = 512 << 20;
/// Owned paths kept over all packages of one database; more makes it `Unreadable`.
pub const MAX_FILES: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    Deb,
    Apk,
    Rpm,
}

impl Ecosystem {
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::Apk => "apk",
            Ecosystem::Rpm => "rpm",
        }
    }
}

/// Image content: print with `crate::escape::text`, never raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    /// As the database spells it: dpkg `[epoch:]upstream[-revision]`, apk `x.y-rN`,
    /// rpm `[epoch:]version-release`.
    pub version: String,
    /// `amd64`, `x86_64`, `noarch`, `all`…; empty when the database has none.
    pub arch: String,
    /// dpkg: the `Source:` package name (None when it equals `name`); apk: `o:` origin;
    /// rpm: the SOURCERPM file name (`bash-5.2.26-3.fc40.src.rpm`).
    pub source: Option<String>,
    /// dpkg only: the version in `Source: name (version)`, when it differs.
    pub source_version: Option<String>,
    pub ecosystem: Ecosystem,
    /// Absolute paths the package owns (directories included), as the database lists them:
    /// not canonical (`/bin/ls` on a merged-usr image), see `PackageDb::index_canonical`.
    pub files: Vec<Vec<u8>>,
}

/// From the image's os-release, for package URLs (`pkg:deb/debian/…?distro=debian-12`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distro {
    pub id: String,
    pub version_id: Option<String>,
}

#[derive(Debug)]
pub struct PackageDb {
    pub ecosystem: Ecosystem,
    pub packages: Vec<Package>,
    pub distro: Option<Distro>,
    /// Parts of the database that could not be read (a missing `.list`, a bad rpm header):
    /// the packages are still listed, with what was readable.
    pub notes: Vec<String>,
    /// Path → indexes into `packages`, in database order; built on first use (by spelling
    /// alone) unless `index_canonical` built it first: an image's scan builds it once.
    index: std::sync::OnceLock<HashMap<Vec<u8>, Vec<u32>>>,
}

impl PackageDb {
    pub fn new(ecosystem: Ecosystem, packages: Vec<Package>, notes: Vec<String>) -> PackageDb {
        PackageDb { ecosystem, packages, distro: None, notes, index: std::sync::OnceLock::new() }
    }

    /// (Re)build the owner index. `resolve_dir` maps a directory of the image to its
    /// canonical path, following the image's symlinks inside the image root (for an
    /// `ImageFs`: `|d| fs.resolve_dir(d)`); None when it does not resolve. Every listed path
    /// is indexed under its own spelling and under its canonical parent + base name, so
    /// `/bin/ls` listed by dpkg is found as `/usr/bin/ls` when `/bin -> usr/bin`. The last
    /// component is never resolved: a package owns the link itself, not what it points to.
    pub fn index_canonical(&mut self, resolve_dir: impl Fn(&[u8]) -> Option<Vec<u8>>) {
        self.index = std::sync::OnceLock::from(self.build_index(resolve_dir));
    }

    fn build_index(&self, resolve_dir: impl Fn(&[u8]) -> Option<Vec<u8>>) -> HashMap<Vec<u8>, Vec<u32>> {
        let mut index: HashMap<Vec<u8>, Vec<u32>> = HashMap::new();
        let mut dirs: HashMap<Vec<u8>, Option<Vec<u8>>> = HashMap::new();
        for (i, p) in self.packages.iter().enumerate() {
            for f in &p.files {
                let mut add = |k: Vec<u8>| {
                    let owners = index.entry(k).or_default();
                    if owners.last() != Some(&(i as u32)) {
                        owners.push(i as u32);
                    }
                };
                add(f.clone());
                let Some(slash) = f.iter().rposition(|&b| b == b'/') else { continue };
                let (parent, base) = (&f[..slash.max(1)], &f[slash + 1..]);
                if base.is_empty() {
                    continue;
                }
                let canon = dirs.entry(parent.to_vec()).or_insert_with(|| resolve_dir(parent));
                if let Some(c) = canon {
                    let mut k = c.clone();
                    if k.last() != Some(&b'/') {
                        k.push(b'/');
                    }
                    k.extend_from_slice(base);
                    if k != *f {
                        add(k);
                    }
                }
            }
        }
        index
    }

    /// The first package (in database order) that lists this path, by its own spelling or,
    /// after `index_canonical`, by its canonical one. Directories are often listed by many
    /// packages: see `owners`.
    pub fn owner(&self, path: &[u8]) -> Option<&Package> {
        self.owners(path).next()
    }

    pub fn owners<'a>(&'a self, path: &[u8]) -> impl Iterator<Item = &'a Package> + 'a {
        let path = match path {
            [rest @ .., b'/'] if !rest.is_empty() => rest,
            p => p,
        };
        let index = self.index.get_or_init(|| self.build_index(|_| None));
        index.get(path).into_iter().flatten().map(move |&i| &self.packages[i as usize])
    }

    /// Packages whose name matches a shell glob (`crate::glob`: `openssh-*`, `python3.1?`).
    pub fn installed<'a>(&'a self, name_glob: &'a str) -> impl Iterator<Item = &'a Package> + 'a {
        self.packages.iter().filter(move |p| crate::glob::matches(name_glob, &p.name))
    }
}

#[derive(Debug)]
pub enum DbStatus {
    Found(PackageDb),
    Absent,
    /// `path` is the image path of the database that could not be used.
    Unreadable {
        path: String,
        reason: String,
    },
}

/// What the databases are read from: the final image's files, every path absolute and
/// resolved inside the image root.
pub trait FileSource {
    /// The file's bytes, following symlinks inside the image. Ok(None) when nothing is
    /// there; Err when something is there but cannot be read or is larger than `limit`
    /// (the contract of `ImageFs::read_file`).
    fn read_file(&self, path: &[u8], limit: u64) -> Result<Option<Vec<u8>>, String>;
    /// The entry names of a directory (following symlinks inside the image). Ok(None)
    /// when no directory is there.
    fn list_dir(&self, path: &[u8]) -> Result<Option<Vec<Vec<u8>>>, String>;
}

/// The files the databases are read from, for sources that keep only declared files (layers
/// streamed from a registry): this list does not depend on the rules. Exact paths, plus the
/// dpkg `info/*.list` and `status.d/*` files by pattern.
pub fn is_db_file(path: &[u8]) -> bool {
    const EXACT: [&[u8]; 12] = [
        b"/var/lib/dpkg/status",
        b"/lib/apk/db/installed",
        b"/usr/lib/sysimage/rpm/rpmdb.sqlite",
        b"/usr/lib/sysimage/rpm/rpmdb.sqlite-wal",
        b"/usr/lib/sysimage/rpm/Packages",
        b"/usr/lib/sysimage/rpm/Packages.db",
        b"/var/lib/rpm/rpmdb.sqlite",
        b"/var/lib/rpm/rpmdb.sqlite-wal",
        b"/var/lib/rpm/Packages",
        b"/var/lib/rpm/Packages.db",
        b"/etc/os-release",
        b"/usr/lib/os-release",
    ];
    let in_dir = |dir: &[u8]| path.strip_prefix(dir).is_some_and(|n| !n.is_empty() && !n.contains(&b'/'));
    EXACT.contains(&path)
        || (in_dir(b"/var/lib/dpkg/info/") && path.ends_with(b".list"))
        || in_dir(b"/var/lib/dpkg/status.d/")
}

/// `crate::escape` for an image path in a reason.
pub(crate) fn shown(path: &[u8]) -> String {
    crate::escape::bytes(path)
}

/// Lines of a text database, tolerant of CRLF and invalid UTF-8.
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
