//! Report files are written atomically: a temporary file in the same directory, flushed,
//! then renamed over the target, so a reader never sees a partial report and a failure
//! leaves nothing behind.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Create the directory if needed and prove it is writable (without leaving anything).
pub fn ensure_writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create reports directory {}: {e}", dir.display()))?;
    tempfile::Builder::new()
        .prefix(".oci-compliance-probe-")
        .tempfile_in(dir)
        .map(drop)
        .map_err(|e| format!("reports directory {} is not writable: {}", dir.display(), os_error(&e)))
}

/// The OS's own words for an I/O error. tempfile appends ` at path "<its temporary file>"`,
/// a name that is gone by the time anyone reads the message (and its inner error is not
/// reachable through `source()`), so that suffix is cut.
fn os_error(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" at path \"") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

pub fn write_atomic(dir: &Path, name: &str, data: &[u8]) -> Result<PathBuf, String> {
    let target = dir.join(name);
    let fail = |e: std::io::Error| format!("cannot write report {}: {}", target.display(), os_error(&e));
    let mut tmp = tempfile::Builder::new().prefix(".oci-compliance-").suffix(".tmp").tempfile_in(dir).map_err(fail)?;
    tmp.write_all(data).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    // Reports are artefacts for others to read; the temp file starts private.
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(fail)?;
    tmp.persist(&target).map_err(|e| fail(e.error))?;
    Ok(target)
}

/// A private temporary directory (0700) for what must never outlive the run or be read by
/// others (authfiles, fetched blobs): removed when dropped, and by `remove_live_private_dirs`
/// on SIGINT/SIGTERM, when its owner may never be dropped.
pub struct PrivateDir {
    dir: tempfile::TempDir,
}

/// Private directories alive right now, for the signal path.
static LIVE: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

impl PrivateDir {
    /// A new `prefix…` directory in `parent`.
    pub fn create_in(parent: &Path, prefix: &str) -> std::io::Result<PrivateDir> {
        let dir = tempfile::Builder::new()
            .prefix(prefix)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(parent)?;
        LIVE.lock().unwrap_or_else(|p| p.into_inner()).push(dir.path().to_path_buf());
        Ok(PrivateDir { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        LIVE.lock().unwrap_or_else(|p| p.into_inner()).retain(|d| d != self.dir.path());
    }
}

/// Whether `dir` is a private directory the signal path would remove.
pub fn is_live_private_dir(dir: &Path) -> bool {
    LIVE.lock().unwrap_or_else(|p| p.into_inner()).iter().any(|d| d == dir)
}

/// Remove every private directory still alive (called on SIGINT/SIGTERM).
pub fn remove_live_private_dirs() {
    let dirs = std::mem::take(&mut *LIVE.lock().unwrap_or_else(|p| p.into_inner()));
    for d in dirs {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_and_leaves_no_temp_files() {
        let d = tempfile::tempdir().unwrap();
        write_atomic(d.path(), "r.json", b"one").unwrap();
        write_atomic(d.path(), "r.json", b"two").unwrap();
        assert_eq!(std::fs::read(d.path().join("r.json")).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn errors_do_not_name_the_vanished_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let gone = d.path().join("gone");
        let err = write_atomic(&gone, "r.json", b"x").unwrap_err();
        assert_eq!(
            err,
            format!("cannot write report {}/r.json: No such file or directory (os error 2)", gone.display())
        );
        let probe = tempfile::Builder::new().tempfile_in(&gone).unwrap_err();
        assert!(probe.to_string().contains("at path"), "tempfile still adds it: {probe}");
    }

    #[test]
    fn unwritable_directory_is_reported() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("file");
        std::fs::write(&f, b"x").unwrap();
        let err = ensure_writable_dir(&f.join("sub")).unwrap_err();
        assert!(err.contains("cannot create reports directory"), "{err}");
    }
}
