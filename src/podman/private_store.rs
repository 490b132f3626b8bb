//! A temporary containers/storage store of this run's own, for archive inputs: loading an
//! archive must not add anything to the host's storage. The directory is created 0700;
//! when the value is dropped everything mounted below it is unmounted (a failed podman
//! call on fresh storage leaves `<root>/overlay` mounted on itself) and it is removed.

use super::{StoreOptions, MAX_RUNROOT};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub struct PrivateStore {
    dir: PathBuf,
    /// The runroot, when it could not live in `dir` (see MAX_RUNROOT).
    run_dir: Option<PathBuf>,
    options: StoreOptions,
}

impl PrivateStore {
    /// A new empty store under $TMPDIR, else /var/tmp (image-sized data; /tmp is often a
    /// small tmpfs), using `driver` or podman's configured one.
    pub fn create(driver: Option<String>) -> Result<PrivateStore, String> {
        let base = std::env::var_os("TMPDIR")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| "/var/tmp".into());
        PrivateStore::create_in(&base, driver)
    }

    pub fn create_in(base: &Path, driver: Option<String>) -> Result<PrivateStore, String> {
        let dir = private_dir(base, "oci-compliance-store-")?;
        let mut store = PrivateStore { dir: dir.clone(), run_dir: None, options: StoreOptions::default() };
        let mut runroot = dir.join("run");
        if runroot.as_os_str().len() > MAX_RUNROOT {
            // Only lock files and state live there: a short path in /tmp will do.
            runroot = private_dir(Path::new("/tmp"), "ocic-run-")?;
            store.run_dir = Some(runroot.clone());
        }
        store.options = StoreOptions { root: Some(dir.join("root")), runroot: Some(runroot), driver };
        Ok(store)
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// A new directory only we can enter, kept until we remove it ourselves: a TempDir would
/// delete through a mount left behind.
fn private_dir(base: &Path, prefix: &str) -> Result<PathBuf, String> {
    tempfile::Builder::new()
        .prefix(prefix)
        // Set at mkdir time: never briefly open to others.
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir_in(base)
        .map(tempfile::TempDir::keep)
        .map_err(|e| format!("cannot create a private store in {}: {e}", base.display()))
}

impl Drop for PrivateStore {
    fn drop(&mut self) {
        for dir in std::iter::once(&self.dir).chain(&self.run_dir) {
            if let Err(e) = remove(dir) {
                eprintln!("oci-compliance: warning: {e}");
            }
        }
    }
}

/// Unmount everything at or below `dir`, then delete it; nothing is deleted while anything
/// below it is still mounted.
pub fn remove(dir: &Path) -> Result<(), String> {
    for _ in 0..10 {
        let mounts = mounts_under(dir)?;
        if mounts.is_empty() {
            return std::fs::remove_dir_all(dir)
                .map_err(|e| format!("cannot remove private store {}: {e}", dir.display()));
        }
        for m in mounts {
            unmount(&m);
        }
    }
    Err(format!("private store {} still has mounts after unmounting; left in place", dir.display()))
}

/// Mount points at or below `dir` in this mount namespace, deepest first.
pub fn mounts_under(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let table = std::fs::read("/proc/self/mountinfo").map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    let mut v: Vec<PathBuf> = table
        .split(|&b| b == b'\n')
        .filter_map(|line| line.split(|&b| b == b' ').nth(4))
        .map(|field| PathBuf::from(std::ffi::OsStr::from_bytes(&unescape(field))))
        .filter(|p| p.starts_with(dir))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.as_os_str().len()));
    v.dedup();
    Ok(v)
}

fn unmount(p: &Path) {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else { return };
    // SAFETY: c is a NUL-terminated path that outlives both calls.
    unsafe {
        if libc::umount2(c.as_ptr(), 0) != 0 {
            // Busy (a podman child killed mid-call may still hold it): detach it instead.
            libc::umount2(c.as_ptr(), libc::MNT_DETACH);
        }
    }
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && i + 3 < field.len() && field[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b)) {
            out.push((field[i + 1] - b'0') * 64 + (field[i + 2] - b'0') * 8 + (field[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape(br"/a\040b\134c"), b"/a b\\c");
        assert_eq!(unescape(br"/x\04"), br"/x\04");
    }

    #[test]
    fn private_and_removed_with_its_mounts() {
        let base = tempfile::tempdir().unwrap();
        let long = base.path().join("a-long-enough-directory-name-for-the-runroot-limit");
        std::fs::create_dir(&long).unwrap();
        let store = PrivateStore::create_in(&long, Some("vfs".into())).unwrap();
        let run = store.options().runroot.clone().unwrap();
        assert!(run.as_os_str().len() <= MAX_RUNROOT && run.starts_with("/tmp"), "{}", run.display());
        assert_eq!(std::fs::metadata(&run).unwrap().permissions().mode() & 0o777, 0o700);
        let dir = store.path().to_path_buf();
        assert!(dir.starts_with(base.path()));
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(store.options().globals().len(), 6);
        // What a failed podman call leaves: <root>/overlay bind-mounted on itself.
        let ov = dir.join("root/overlay");
        std::fs::create_dir_all(&ov).unwrap();
        std::fs::write(ov.join("f"), b"x").unwrap();
        let c = CString::new(ov.as_os_str().as_bytes()).unwrap();
        let r = unsafe { libc::mount(c.as_ptr(), c.as_ptr(), std::ptr::null(), libc::MS_BIND, std::ptr::null()) };
        assert_eq!(r, 0, "bind mount needs root");
        assert_eq!(mounts_under(&dir).unwrap(), vec![ov.clone()]);
        drop(store);
        assert!(!dir.exists());
        assert!(!run.exists());
        assert!(mounts_under(base.path()).unwrap().is_empty());
    }
}
