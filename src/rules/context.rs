//! Everything a rule may look at: the reference, the image's config and its files as the
//! layers show them. Rules never run podman or read outside this view.

use super::settings::RuleSettings;
use crate::inspect::ImageInspect;
use crate::layers::{ImageFs, Loc};
use crate::model::Finding;
use crate::reference::ImageRef;
use std::collections::HashSet;
use std::sync::OnceLock;

pub struct Context<'a> {
    pub reference: &'a ImageRef,
    pub image: &'a ImageInspect,
    pub fs: &'a ImageFs,
    pub settings: &'a RuleSettings,
    packages: &'a crate::packages::image::ImagePackages,
    tool_dirs: OnceLock<HashSet<Vec<u8>>>,
    passwd: OnceLock<FileRead<Vec<crate::etc_files::PasswdEntry>>>,
    group: OnceLock<FileRead<Vec<crate::etc_files::GroupEntry>>>,
    shadow: OnceLock<FileRead<Vec<crate::etc_files::ShadowEntry>>>,
}

/// A file read from the image: absent, parsed, or unreadable (with why).
pub type FileRead<T> = Result<Option<T>, String>;

/// Files this tool reads from images are small; anything bigger is suspicious.
pub const MAX_FILE_READ: u64 = 16 << 20;

impl<'a> Context<'a> {
    pub fn new(reference: &'a ImageRef, image: &'a ImageInspect, fs: &'a ImageFs, settings: &'a RuleSettings) -> Self {
        Context {
            reference,
            image,
            fs,
            settings,
            packages: crate::packages::image::ImagePackages::none(),
            tool_dirs: OnceLock::new(),
            passwd: OnceLock::new(),
            group: OnceLock::new(),
            shadow: OnceLock::new(),
        }
    }

    /// The image's package databases, read once by the engine (without them: none found).
    pub fn with_packages(mut self, packages: &'a crate::packages::image::ImagePackages) -> Self {
        self.packages = packages;
        self
    }

    /// Who owns which path: annotation only, never a reason to pass or fail a file.
    pub fn packages(&self) -> &crate::packages::image::ImagePackages {
        self.packages
    }

    /// Read and parse a file of the final image. If any layer could not be walked, the
    /// file's presence cannot be trusted either way.
    pub fn read_parsed<T>(&self, path: &str, parse: impl Fn(&[u8]) -> T) -> FileRead<T> {
        if let Some(e) = self.fs.walk_errors().next() {
            return Err(format!("cannot trust {path}: a layer could not be read completely ({e})"));
        }
        Ok(self.fs.read_file(path.as_bytes(), MAX_FILE_READ)?.map(|d| parse(&d)))
    }

    pub fn passwd(&self) -> &FileRead<Vec<crate::etc_files::PasswdEntry>> {
        self.passwd.get_or_init(|| self.read_parsed("/etc/passwd", crate::etc_files::parse_passwd))
    }

    pub fn group(&self) -> &FileRead<Vec<crate::etc_files::GroupEntry>> {
        self.group.get_or_init(|| self.read_parsed("/etc/group", crate::etc_files::parse_group))
    }

    pub fn shadow(&self) -> &FileRead<Vec<crate::etc_files::ShadowEntry>> {
        self.shadow.get_or_init(|| self.read_parsed("/etc/shadow", crate::etc_files::parse_shadow))
    }

    /// Canonical directories where an executable counts as an installed tool: the image's
    /// PATH (from its config, else the standard one) plus the standard bin/sbin
    /// directories, each resolved through the image's own symlinks (/bin -> usr/bin).
    pub fn tool_dirs(&self) -> &HashSet<Vec<u8>> {
        self.tool_dirs.get_or_init(|| {
            let path = self.image.config.env_var("PATH").unwrap_or(STANDARD_PATH);
            path.split(':')
                .chain(STANDARD_PATH.split(':'))
                .filter(|d| d.starts_with('/'))
                .filter_map(|d| self.fs.resolve_dir(d.as_bytes()))
                .collect()
        })
    }

    /// A finding about the configuration or the build history, not a file. `location` names
    /// where it is (`Env DB_PASSWORD`, `label api.token`, `history step 4`); `layer` is the
    /// 1-based layer a history step made, or 0 when it made none or the finding is in the
    /// config. Configuration findings are always visible: the config ships whole.
    pub fn config_finding(&self, location: &str, layer: usize, violation: bool, note: Option<String>) -> Finding {
        let source = layer.checked_sub(1).and_then(|i| self.fs.layers.get(i)).map(|l| &l.source);
        Finding {
            path: crate::escape::text(location),
            layer,
            layer_digest: source.map(|s| s.diff_id.clone()).unwrap_or_default(),
            created_by: source.map(|s| crate::escape::text(&super::secrets::redact(&s.created_by))).unwrap_or_default(),
            kind: crate::model::EntryKind::Config,
            mode: "0000".into(),
            permissions: String::new(),
            uid: 0,
            gid: 0,
            size: 0,
            link_target: None,
            visible: true,
            violation,
            origin: crate::model::Origin::Own,
            counted: true,
            note,
            waiver: None,
            package: None,
            not_owned: false,
            fix: None,
        }
    }

    /// A finding about one entry, with its layer attribution and visibility.
    pub fn finding(&self, loc: Loc, violation: bool, note: Option<String>) -> Finding {
        let e = self.fs.entry(loc);
        let layer = &self.fs.layers[loc.layer as usize].source;
        let hidden_by = self.fs.hidden_by(loc);
        let note = match (note, hidden_by) {
            (n, None) => n,
            (n, Some(h)) => {
                let what = format!("not in the final image: deleted or replaced by layer {}", h + 1);
                Some(match n {
                    Some(n) => format!("{n}; {what}"),
                    None => what,
                })
            }
        };
        // The final image's database describes only the final image: a deleted or replaced
        // entry gets no owner, neither a package nor "not owned".
        let owner = match hidden_by {
            None => self.packages.owner(&e.path),
            Some(_) => crate::packages::image::Ownership::Unknown,
        };
        let package = match owner {
            crate::packages::image::Ownership::Owned(p) => Some(crate::model::PackageRef {
                name: crate::escape::text(&p.name),
                version: crate::escape::text(&p.version),
                arch: crate::escape::text(&p.arch),
                ecosystem: p.ecosystem.as_str().to_string(),
            }),
            _ => None,
        };
        Finding {
            path: crate::escape::bytes(&e.path),
            layer: layer.number,
            layer_digest: layer.diff_id.clone(),
            created_by: crate::escape::text(&super::secrets::redact(&layer.created_by)),
            kind: e.kind,
            mode: format!("{:04o}", e.mode),
            permissions: e.kind.permissions(e.mode),
            uid: e.uid,
            gid: e.gid,
            size: e.size,
            link_target: e.link.as_deref().map(crate::escape::bytes),
            visible: hidden_by.is_none(),
            violation,
            origin: crate::model::Origin::Own,
            counted: true,
            note,
            waiver: None,
            package,
            // Maintainer scripts create directories no file list names (/var/mail): an
            // unlisted directory is no sign of a hand copy.
            not_owned: owner == crate::packages::image::Ownership::NotOwned && e.kind != crate::model::EntryKind::Dir,
            fix: None,
        }
    }
}

pub const STANDARD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
