//! containers/storage stores: private ones (their own graphroot, runroot, storage.conf and
//! libpod tmp_dir, removed on drop) and the environment's shared one; mounts, always undone.

use super::env::{env, Scratch, RUNROOT_BASE};
use super::process::{clean_command, ok, run, Output};
use serde_json::Value;
use std::collections::BTreeSet;
use std::ffi::{CString, OsStr};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

// ---------------------------------------------------------------------------------------
// Mounts
// ---------------------------------------------------------------------------------------

/// Mount points at or below `dir`, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v: Vec<PathBuf> = table
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(OsStr::from_bytes(&unescape_mountinfo(m))))
        .filter(|p| p.starts_with(dir))
        .collect();
    v.sort();
    v.dedup();
    // Below a mount point sorts after it: reversed, children come before their parents.
    v.reverse();
    v
}

/// A mountinfo field with its octal escapes (`\040` for a space, `\011`, `\012`, `\134`)
/// decoded: the bytes of the path.
fn unescape_mountinfo(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal.map(|d| d.iter().fold(0u32, |v, c| v * 8 + u32::from(c - b'0'))) {
            Some(v) if b[i] == b'\\' && v <= 0xff => {
                out.push(v as u8);
                i += 4;
            }
            _ => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    out
}

fn unmount(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else { return false };
    // SAFETY: a valid NUL-terminated path.
    unsafe { libc::umount2(c.as_ptr(), 0) == 0 || libc::umount2(c.as_ptr(), libc::MNT_DETACH) == 0 }
}

/// Unmount everything at or below `root`, deepest first (c/storage bind-mounts
/// `<graphroot>/overlay` onto itself, buildah mounts containers, tests mount tmpfs).
pub fn unmount_under(root: &Path) {
    for _ in 0..10 {
        let points = mounts_under(root);
        if points.is_empty() {
            return;
        }
        for p in points {
            unmount(&p);
        }
    }
    eprintln!("warning: could not unmount everything under {}", root.display());
}

/// A mount point that is unmounted when dropped.
pub struct Mount(pub PathBuf);

impl Mount {
    /// A tmpfs of `size` (e.g. "16k") at `dir`.
    pub fn tmpfs(dir: &Path, size: &str) -> Mount {
        fs::create_dir_all(dir).unwrap();
        ok(clean_command("mount").args(["-t", "tmpfs", "-o", &format!("size={size},mode=0755"), "tmpfs"]).arg(dir));
        Mount(dir.to_path_buf())
    }

    /// `dir` bind-mounted on itself, read-only.
    pub fn read_only(dir: &Path) -> Mount {
        fs::create_dir_all(dir).unwrap();
        Mount::bind_read_only(dir, dir)
    }

    /// `source` bind-mounted read-only at `target`.
    pub fn bind_read_only(source: &Path, target: &Path) -> Mount {
        ok(clean_command("mount").args(["--bind", "-o", "ro"]).arg(source).arg(target));
        let m = Mount(target.to_path_buf());
        // A bind mount ignores "ro" on some kernels until remounted.
        ok(clean_command("mount").args(["-o", "remount,bind,ro"]).arg(target));
        m
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        unmount(&self.0);
    }
}

// ---------------------------------------------------------------------------------------
// Stores
// ---------------------------------------------------------------------------------------

/// A containers/storage store and the configuration podman and buildah need to use it.
pub struct Store {
    pub storage_conf: PathBuf,
    pub containers_conf: PathBuf,
    pub graphroot: PathBuf,
    pub runroot: PathBuf,
    pub driver: String,
    home: PathBuf,
    /// The store's directory and its runroot; none for the shared store.
    dirs: Option<(Scratch, Scratch)>,
}

impl Store {
    /// A private overlay store.
    pub fn new(label: &str) -> Store {
        Store::with_driver(label, "overlay", "")
    }

    /// A private store with `driver`; `extra` is appended to storage.conf (e.g. an
    /// `[storage.options…]` table). Its containers.conf is the environment's (what runc needs
    /// on this machine) with a private libpod tmp_dir.
    pub fn with_driver(label: &str, driver: &str, extra: &str) -> Store {
        let e = env();
        let dir = Scratch::new(&format!("store-{label}"));
        let run = Scratch::new_in(Path::new(RUNROOT_BASE), "run");
        let graphroot = dir.path().join("graph");
        let runroot = run.path().to_path_buf();
        assert!(runroot.as_os_str().len() <= 50, "podman refuses a runroot this long: {}", runroot.display());
        let storage_conf = dir.path().join("storage.conf");
        fs::write(
            &storage_conf,
            format!(
                "[storage]\ndriver = \"{driver}\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n{extra}",
                graphroot.display(),
                runroot.display()
            ),
        )
        .unwrap();
        let base = fs::read_to_string(&e.containers_conf).unwrap();
        let tmp_line = format!("tmp_dir = \"{}\"", dir.path().join("libpod-tmp").display());
        let mut replaced = false;
        let mut lines: Vec<String> = base
            .lines()
            .map(|l| {
                if l.trim_start().starts_with("tmp_dir") {
                    replaced = true;
                    tmp_line.clone()
                } else {
                    l.to_string()
                }
            })
            .collect();
        if !replaced {
            match lines.iter().position(|l| l.trim() == "[engine]") {
                Some(i) => lines.insert(i + 1, tmp_line),
                None => {
                    lines.push("[engine]".into());
                    lines.push(tmp_line);
                }
            }
        }
        let containers_conf = dir.path().join("containers.conf");
        fs::write(&containers_conf, lines.join("\n") + "\n").unwrap();
        let home = dir.path().join("home");
        fs::create_dir_all(&home).unwrap();
        Store { storage_conf, containers_conf, graphroot, runroot, driver: driver.into(), home, dirs: Some((dir, run)) }
    }

    /// The shared storage of the test environment (its storage.conf and containers.conf).
    pub fn shared() -> &'static Store {
        static SHARED: OnceLock<Store> = OnceLock::new();
        SHARED.get_or_init(|| {
            let e = env();
            let conf = fs::read_to_string(&e.storage_conf).unwrap();
            let setting = |key: &str| {
                conf.lines()
                    .filter_map(|l| l.split_once('='))
                    .find(|(k, _)| k.trim() == key)
                    .map(|(_, v)| v.trim().trim_matches('"').to_string())
                    .unwrap_or_else(|| panic!("{} sets no {key}", e.storage_conf.display()))
            };
            Store {
                storage_conf: e.storage_conf.clone(),
                containers_conf: e.containers_conf.clone(),
                graphroot: setting("graphroot").into(),
                runroot: setting("runroot").into(),
                driver: setting("driver"),
                home: e.home.clone(),
                dirs: None,
            }
        })
    }

    /// The environment podman/buildah need to use this store.
    pub fn envs(&self) -> [(&'static str, &Path); 4] {
        let e = env();
        [
            ("CONTAINERS_CONF", &self.containers_conf),
            ("CONTAINERS_STORAGE_CONF", &self.storage_conf),
            ("CONTAINERS_REGISTRIES_CONF", &e.registries_conf),
            ("REGISTRY_AUTH_FILE", &e.auth_file),
        ]
    }

    /// `program` against this store, with nothing of the caller's environment.
    pub fn cmd(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = clean_command(program);
        c.env("HOME", &self.home).envs(self.envs());
        c
    }

    /// Run podman or buildah against this store, whatever its exit code.
    pub fn run<S: AsRef<OsStr>>(&self, program: &str, args: &[S]) -> Output {
        run(self.cmd(program).args(args))
    }

    /// Run podman or buildah against this store; panics with the child's output on failure.
    #[track_caller]
    pub fn tool<S: AsRef<OsStr>>(&self, program: &str, args: &[S]) -> String {
        ok(self.cmd(program).args(args))
    }

    #[track_caller]
    pub fn podman<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        self.tool("podman", args)
    }

    #[track_caller]
    pub fn buildah<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        self.tool("buildah", args)
    }

    /// `podman image inspect` of one image, parsed.
    pub fn inspect(&self, name: &str) -> Value {
        let v: Value = serde_json::from_str(&self.podman(&["image", "inspect", name])).unwrap();
        v[0].clone()
    }

    /// Image IDs in the store.
    pub fn image_ids(&self) -> BTreeSet<String> {
        let v: Value = serde_json::from_str(&self.podman(&["images", "--all", "--format", "json"])).unwrap();
        v.as_array().unwrap().iter().map(|i| i["Id"].as_str().unwrap().to_string()).collect()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        if self.dirs.is_none() {
            return;
        }
        // Leftover working containers (a failed build) pin layer mounts; the directories'
        // own drop then unmounts what is left and removes them.
        let containers = self.graphroot.join(format!("{}-containers/containers.json", self.driver));
        if fs::read_to_string(containers).map(|s| s.trim() != "[]").unwrap_or(false) {
            let _ = self.run("buildah", &["rm", "--all"]);
        }
    }
}
