//! A shared lock on containers/storage's layer store while the scan reads layer
//! directories, the lock podman itself takes to read them (`<store>/<driver>-layers/
//! layers.lock`, a whole-file fcntl lock). A `podman rmi` or prune beside the scan then
//! waits until the walk and the file checks are done, instead of deleting files under them
//! (which reads as a smaller image, not as an error).
//!
//! fcntl locks belong to the process, and closing *any* descriptor of the file drops them,
//! so every lock this process holds is counted here and the file is closed only when the
//! last scan reading that store is done.

use std::collections::BTreeSet;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

struct Held {
    /// (st_dev, st_ino) of the lock file.
    key: (u64, u64),
    /// Every descriptor opened on it while held: none may close before the last user is done.
    files: Vec<File>,
    users: usize,
}

static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());

/// Shared locks on the stores of some layer directories; released when dropped.
#[must_use]
pub struct StoreLock {
    keys: Vec<(u64, u64)>,
}

impl StoreLock {
    /// Lock the layer store of every directory in `dirs` that containers/storage keeps (a
    /// directory elsewhere has no store to lock). Waits while a writer holds one, after
    /// calling `waiting` once with the lock file's path.
    pub fn shared(dirs: &[&Path], waiting: impl Fn(&Path)) -> StoreLock {
        let paths: BTreeSet<PathBuf> = dirs.iter().filter_map(|d| lock_file(d)).collect();
        let mut keys = Vec::new();
        for p in paths {
            if let Some(k) = acquire(&p, &waiting) {
                keys.push(k);
            }
        }
        StoreLock { keys }
    }

    /// How many stores are locked.
    pub fn stores(&self) -> usize {
        self.keys.len()
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
        for key in &self.keys {
            if let Some(i) = held.iter().position(|h| h.key == *key) {
                held[i].users -= 1;
                if held[i].users == 0 {
                    // Closing the descriptors releases the lock.
                    held.swap_remove(i);
                }
            }
        }
    }
}

/// The layer store's lock file for a layer directory: `<store>/overlay/<id>/diff` or
/// `<store>/vfs/dir/<id>`, if that is where it is.
fn lock_file(dir: &Path) -> Option<PathBuf> {
    let name = |p: &Path| p.file_name().map(|n| n.to_os_string());
    let parent = dir.parent()?;
    let (driver_dir, driver) = if name(dir)? == "diff" {
        (parent.parent()?, "overlay")
    } else if name(parent)? == "dir" {
        (parent.parent()?, "vfs")
    } else {
        return None;
    };
    if name(driver_dir)? != driver {
        return None;
    }
    let file = driver_dir.parent()?.join(format!("{driver}-layers")).join("layers.lock");
    file.is_file().then_some(file)
}

fn acquire(path: &Path, waiting: &dyn Fn(&Path)) -> Option<(u64, u64)> {
    // A store this user cannot open (another user's) is not one podman here could write.
    let file = File::open(path).ok()?;
    let st = nix::sys::stat::fstat(file.as_raw_fd()).ok()?;
    let key = (st.st_dev, st.st_ino);
    let mut told = false;
    loop {
        // Taking the lock and counting it happen together, so no other thread can close a
        // descriptor of this file in between (which would drop the lock just taken).
        {
            let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(h) = held.iter_mut().find(|h| h.key == key) {
                h.users += 1;
                h.files.push(file);
                return Some(key);
            }
            match try_read_lock(&file) {
                Ok(()) => {
                    held.push(Held { key, files: vec![file], users: 1 });
                    return Some(key);
                }
                Err(e) if e == libc::EAGAIN || e == libc::EACCES => {}
                // Locking unsupported here (e.g. some network filesystems): nothing to wait for.
                Err(_) => return None,
            }
        }
        // A writer (podman pull, rmi, build) has the store. Poll rather than block with
        // the registry held, so other scans can still release theirs meanwhile.
        if !told {
            waiting(path);
            told = true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// fcntl F_SETLK with F_RDLCK on the whole file, as containers/storage's RLock (without
/// waiting); the errno when it is not granted.
fn try_read_lock(file: &File) -> Result<(), i32> {
    let lock = libc::flock {
        l_type: libc::F_RDLCK as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    };
    loop {
        // SAFETY: the descriptor is open for the call and `lock` outlives it.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) } == 0 {
            return Ok(());
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EINTR) => continue,
            e => return Err(e.unwrap_or(0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether another process can take the write lock podman takes to delete a layer.
    fn writer_can_lock(file: &Path) -> bool {
        let script = "import fcntl,sys\nf=open(sys.argv[1],'r+b')\ntry:\n fcntl.lockf(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\nexcept OSError:\n sys.exit(1)\n";
        let st = std::process::Command::new("python3").arg("-c").arg(script).arg(file).status().expect("python3 runs");
        st.success()
    }

    fn store() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let diff = t.path().join("overlay/0123abcd/diff");
        std::fs::create_dir_all(&diff).unwrap();
        std::fs::create_dir_all(t.path().join("overlay-layers")).unwrap();
        let lock = t.path().join("overlay-layers/layers.lock");
        std::fs::write(&lock, b"").unwrap();
        (t, diff, lock)
    }

    #[test]
    fn a_scan_holds_the_store_until_its_last_user_is_done() {
        let (_t, diff, lock) = store();
        assert!(writer_can_lock(&lock));
        let first = StoreLock::shared(&[&diff, &diff], |_| panic!("nobody writes"));
        assert_eq!(first.stores(), 1);
        assert!(!writer_can_lock(&lock), "podman rmi must wait");
        // A second scan of the same store in this process, ending first, must not release
        // the first one's lock by closing its descriptor.
        let second = StoreLock::shared(&[&diff], |_| ());
        drop(second);
        assert!(!writer_can_lock(&lock));
        drop(first);
        assert!(writer_can_lock(&lock));
    }

    #[test]
    fn a_writer_makes_the_scan_wait_and_say_so() {
        let (_t, diff, lock) = store();
        let script = "import fcntl,sys,time\nf=open(sys.argv[1],'r+b')\nfcntl.lockf(f,fcntl.LOCK_EX)\nprint('held',flush=True)\ntime.sleep(1)\n";
        let mut writer = std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&lock)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(writer.stdout.take().unwrap()), &mut line).unwrap();
        let told = std::sync::atomic::AtomicUsize::new(0);
        let start = std::time::Instant::now();
        let got = StoreLock::shared(&[&diff], |p| {
            assert_eq!(p, lock);
            told.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        // Granted only once the writer let go, a second after it said "held".
        assert!(start.elapsed() >= std::time::Duration::from_millis(500), "granted while the writer held it");
        assert_eq!((got.stores(), told.into_inner()), (1, 1));
        assert!(!writer_can_lock(&lock));
        writer.wait().unwrap();
    }

    #[test]
    fn only_containers_storage_layouts_are_locked() {
        let (t, diff, _) = store();
        assert_eq!(lock_file(&diff), Some(t.path().join("overlay-layers/layers.lock")));
        let vfs = t.path().join("vfs/dir/0123abcd");
        std::fs::create_dir_all(&vfs).unwrap();
        assert_eq!(lock_file(&vfs), None, "no vfs-layers/layers.lock in this store");
        std::fs::create_dir_all(t.path().join("vfs-layers")).unwrap();
        std::fs::write(t.path().join("vfs-layers/layers.lock"), b"").unwrap();
        assert_eq!(lock_file(&vfs), Some(t.path().join("vfs-layers/layers.lock")));
        assert_eq!(lock_file(Path::new("/nonexistent/hard-vanished/diff")), None);
        assert_eq!(lock_file(&t.path().join("elsewhere/diff")), None);
        let none = StoreLock::shared(&[Path::new("/tmp")], |_| ());
        assert_eq!(none.stores(), 0);
    }
}
