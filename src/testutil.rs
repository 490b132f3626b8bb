//! Test helpers: layer trees built in temporary directories, exactly as containers/storage
//! lays them out (whiteouts as 0/0 character devices, opaque directories as xattrs), and
//! an image made of them. Creating device nodes and trusted.* xattrs needs root.

use crate::inspect::{ImageConfig, ImageInspect};
use crate::layers::{self, ImageFs, LayerSource};
use crate::model::CheckResult;
use crate::reference::ImageRef;
use crate::rules::{self, Classifier, RuleSettings};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

pub struct Tree {
    pub root: PathBuf,
}

impl Tree {
    pub fn new(base: &Path, name: &str) -> Tree {
        let root = base.join(name);
        std::fs::create_dir_all(&root).unwrap();
        Tree { root }
    }

    fn at(&self, p: impl AsRef<[u8]>) -> PathBuf {
        let p = p.as_ref();
        let rel = p.strip_prefix(b"/").unwrap_or(p);
        let full = self.root.join(std::ffi::OsStr::from_bytes(rel));
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        full
    }

    pub fn file(&self, p: impl AsRef<[u8]>, mode: u32) -> &Self {
        self.file_with(p, mode, b"x")
    }

    pub fn file_with(&self, p: impl AsRef<[u8]>, mode: u32, content: &[u8]) -> &Self {
        let f = self.at(p);
        std::fs::write(&f, content).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    pub fn dir(&self, p: impl AsRef<[u8]>, mode: u32) -> &Self {
        let d = self.at(p);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).unwrap();
        self
    }

    pub fn link(&self, p: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> &Self {
        symlink(std::ffi::OsStr::from_bytes(target.as_ref()), self.at(p)).unwrap();
        self
    }

    /// An overlay whiteout: a character device 0/0.
    pub fn whiteout(&self, p: impl AsRef<[u8]>) -> &Self {
        let f = self.at(p);
        nix::sys::stat::mknod(&f, nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::from_bits_truncate(0), 0)
            .expect("mknod needs root");
        self
    }

    /// File capabilities set the way image builds set them (`setcap`, libcap2-bin).
    pub fn setcap(&self, p: impl AsRef<[u8]>, caps: &str) -> &Self {
        let f = self.at(p);
        let out = std::process::Command::new("setcap").arg(caps).arg(&f).output().expect("setcap (libcap2-bin)");
        assert!(out.status.success(), "setcap {caps}: {}", String::from_utf8_lossy(&out.stderr));
        self
    }

    /// A raw xattr on an entry itself (a link is not followed).
    pub fn xattr(&self, p: impl AsRef<[u8]>, name: &str, value: &[u8]) -> &Self {
        let f = CString::new(self.at(p).as_os_str().as_bytes()).unwrap();
        let n = CString::new(name).unwrap();
        // SAFETY: NUL-terminated strings and a live buffer.
        let r =
            unsafe { libc::lsetxattr(f.as_ptr(), n.as_ptr(), value.as_ptr() as *const libc::c_void, value.len(), 0) };
        assert_eq!(r, 0, "lsetxattr {name}: {}", std::io::Error::last_os_error());
        self
    }

    /// An opaque directory, marked the way the kernel's overlayfs marks it.
    pub fn opaque(&self, p: impl AsRef<[u8]>) -> &Self {
        let d = self.at(p);
        std::fs::create_dir_all(&d).unwrap();
        let c = CString::new(d.as_os_str().as_bytes()).unwrap();
        let r = unsafe {
            libc::setxattr(
                c.as_ptr(),
                b"trusted.overlay.opaque\0".as_ptr() as *const libc::c_char,
                b"y".as_ptr() as *const libc::c_void,
                1,
                0,
            )
        };
        assert_eq!(r, 0, "setxattr trusted.overlay.opaque needs root");
        self
    }
}

/// Layers (bottom first) plus an image config, scanned the way the app scans.
pub struct Image {
    pub dir: tempfile::TempDir,
    pub layers: Vec<Tree>,
    pub inspect: ImageInspect,
    pub reference: ImageRef,
    pub settings: RuleSettings,
    pub policy: crate::model::Policy,
}

impl Image {
    pub fn new(layer_count: usize) -> Image {
        let dir = tempfile::tempdir().unwrap();
        let layers = (0..layer_count).map(|i| Tree::new(dir.path(), &format!("l{i}"))).collect();
        let inspect = ImageInspect {
            config: ImageConfig { user: "1000:1000".into(), ..Default::default() },
            ..Default::default()
        };
        Image {
            dir,
            layers,
            inspect,
            reference: ImageRef::parse("example.com/app:1.0").unwrap(),
            settings: RuleSettings::default(),
            policy: Default::default(),
        }
    }

    pub fn layer(&self, i: usize) -> &Tree {
        &self.layers[i]
    }

    pub fn sources(&self) -> Vec<LayerSource> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, t)| LayerSource {
                number: i + 1,
                files: layers::LayerFiles::Dir(t.root.clone()),
                diff_id: format!("sha256:{:064x}", i + 1),
                created_by: format!("step {}", i + 1),
                steps: vec![format!("step {}", i + 1)],
            })
            .collect()
    }

    pub fn fs(&self) -> ImageFs {
        let classifier = Classifier::new(rules::all(), &self.settings);
        layers::scan(self.sources(), &classifier, 2)
    }

    pub fn checks(&self) -> Vec<CheckResult> {
        let fs = self.fs();
        let mut checks =
            crate::engine::run_checks(&self.reference, &self.inspect, &fs, &self.policy, &self.settings, rules::all());
        crate::engine::apply_waivers(&mut checks, &self.policy, &self.reference, crate::time::today());
        checks
    }

    pub fn check(&self, id: &str) -> CheckResult {
        self.checks().into_iter().find(|c| c.id == id).unwrap()
    }
}

// secret-files fixtures, shared by the rule tests and the tar-stream test.

pub const TEST_RSA_KEY: &str =
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAtestkeymaterialnotarealkeyAAAA\n-----END RSA PRIVATE KEY-----\n";
pub const TEST_CERT: &str =
    "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBa\n-----END CERTIFICATE-----\n";

/// The layers of an image full of secret-file cases, shared with the tar-stream test.
pub fn secret_files_image() -> Image {
    let img = Image::new(3);
    img.layer(0)
        .file_with("/etc/ssl/certs/public.pem", 0o644, TEST_CERT.as_bytes())
        .file_with("/etc/ssl/private/server.pem", 0o600, format!("{TEST_CERT}{TEST_RSA_KEY}").as_bytes())
        .file_with("/root/.ssh/id_rsa.pub", 0o644, b"ssh-rsa AAAAB3NzaC1yc2E root@host\n")
        .file_with("/root/.ssh/id_ed25519", 0o600, b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n-----END OPENSSH PRIVATE KEY-----\n")
        .file_with("/build/deploy.key", 0o600, TEST_RSA_KEY.as_bytes())
        .file_with("/usr/share/doc/openssl/example.key", 0o644, TEST_RSA_KEY.as_bytes())
        .file_with("/usr/lib/python3/site-packages/pkg/tests/data/k.pem", 0o644, TEST_RSA_KEY.as_bytes())
        .file_with("/home/app/.docker/config.json", 0o600, br#"{"auths":{"registry.example.com":{"auth":"dXNlcjpzM2NyM3QtcmVnaXN0cnk="}}}"#)
        .file_with("/home/ci/.docker/config.json", 0o600, br#"{"credsStore":"pass","auths":{"r.example":{}}}"#)
        .file_with("/home/app/.npmrc", 0o600, b"registry=https://r.example/\n//r.example/:_authToken=npm-t0ken-value-xyz\n")
        .file_with("/home/ci/.npmrc", 0o600, b"//r.example/:_authToken=${NPM_TOKEN}\n")
        .file_with("/root/.aws/credentials", 0o600, b"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n")
        .file_with("/root/.kube/config", 0o600, b"users:\n- name: u\n  user:\n    token: kube-t0ken-value-abc\n")
        .file_with("/root/.netrc", 0o600, b"machine example.com login me password netrc-pa55word\n")
        .file_with("/root/.git-credentials", 0o600, b"https://me:git-pa55word@github.com\n")
        .file_with("/root/.pypirc", 0o600, b"[pypi]\nusername = __token__\npassword = pypi-t0ken-value\n")
        .link("/root/.ssh/id_rsa", "/etc/shadow")
        .file_with("/big/huge.pem", 0o644, &vec![b'A'; (1 << 20) + 1]);
    img.layer(1).file_with("/tmp/leaked.pem", 0o600, TEST_RSA_KEY.as_bytes());
    img.layer(2).whiteout("/tmp/leaked.pem").file_with("/etc/ssl/certs/public.pem", 0o644, TEST_CERT.as_bytes());
    img
}

/// The raw secrets `secret_files_image` holds: no output may contain them.
pub const SECRET_FILE_VALUES: &[&str] = &[
    "dXNlcjpzM2NyM3QtcmVnaXN0cnk=",
    "npm-t0ken-value-xyz",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "kube-t0ken-value-abc",
    "netrc-pa55word",
    "git-pa55word",
    "pypi-t0ken-value",
    "MIIEowIBAAKCAQEAtestkeymaterial",
];

pub fn secret_file_verdicts(c: &crate::model::CheckResult) -> Vec<(String, usize, bool, bool)> {
    let mut v: Vec<_> = c.findings.iter().map(|f| (f.path.clone(), f.layer, f.visible, f.violation)).collect();
    v.sort();
    v
}
