//! An unprivileged user, for rootless runs.

use super::env::unique;
use super::process::{clean_command, ok, DEFAULT_PATH};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const ROOTLESS_USER: &str = "ocictest";

pub struct User {
    pub name: &'static str,
    pub uid: u32,
    pub home: PathBuf,
}

/// The test user with a home and a subordinate uid/gid range (created once, reused).
pub fn rootless_user() -> User {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let name = ROOTLESS_USER;
    let exists = clean_command("id").arg("-u").arg(name).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if exists.map(|s| !s.success()).unwrap_or(true) {
        ok(clean_command("useradd").args(["-m", "-s", "/bin/bash", name]));
    }
    // useradd may already have given it a range (SUB_UID_* in login.defs); add one only
    // when it has none, from a block no other entry uses.
    for (file, flag) in [("/etc/subuid", "--add-subuids"), ("/etc/subgid", "--add-subgids")] {
        let text = fs::read_to_string(file).unwrap_or_default();
        if !text.lines().any(|l| l.starts_with(&format!("{name}:"))) {
            let top = text
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    Some(f.get(1)?.parse::<u64>().ok()? + f.get(2)?.parse::<u64>().ok()?)
                })
                .max()
                .unwrap_or(100000)
                .max(100000);
            ok(clean_command("usermod").arg(flag).arg(format!("{top}-{}", top + 65535)).arg(name));
        }
    }
    let uid: u32 = ok(clean_command("id").arg("-u").arg(name)).parse().unwrap();
    let home = ok(clean_command("sh").arg("-c").arg(format!("getent passwd {name} | cut -d: -f6")));
    User { name, uid, home: PathBuf::from(home) }
}

impl User {
    /// `program args…` as this user, with a minimal login-like environment (no containers
    /// config of the root test environment: its files are root's).
    pub fn cmd(&self, envs: &[(&str, &str)], program: impl AsRef<OsStr>) -> Command {
        let mut c = clean_command("runuser");
        c.args(["-u", self.name, "--", "env", "-i"])
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("USER={}", self.name))
            .arg(format!("LOGNAME={}", self.name))
            .arg(format!("PATH={DEFAULT_PATH}"))
            .args(envs.iter().map(|(k, v)| format!("{k}={v}")))
            .arg(program)
            .current_dir(&self.home);
        c
    }

    /// A directory in the user's home, owned by the user, removed on drop.
    pub fn workdir(&self, label: &str) -> UserDir {
        let path = self.home.join(unique(label));
        fs::create_dir_all(&path).unwrap();
        self.chown(&path);
        UserDir { path }
    }

    pub fn chown(&self, p: &Path) {
        ok(clean_command("chown").arg("-R").arg(format!("{}:", self.name)).arg(p));
    }
}

pub struct UserDir {
    pub path: PathBuf,
}

impl Drop for UserDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
