//! What the rules look for, beyond their code: name lists (data/), ports and limits. The
//! defaults are the documented lists; a policy extends or replaces them.

/// SSH, telnet, SNMP, the Docker daemon (plain and TLS), RDP.
pub const DEFAULT_ADMIN_PORTS: &[(u16, &str)] =
    &[(22, "tcp"), (23, "tcp"), (161, "udp"), (2375, "tcp"), (2376, "tcp"), (3389, "tcp")];

/// Settings that change what rules look for; the defaults are the documented lists.
#[derive(Debug, Clone)]
pub struct RuleSettings {
    pub privilege_tools: Vec<String>,
    pub remote_access_tools: Vec<String>,
    pub compilers: Vec<String>,
    /// Globs on installed package names that make the tool checks fail whatever their files
    /// are called; `!glob` excludes (see `package_listed`).
    pub privilege_packages: Vec<String>,
    pub remote_access_packages: Vec<String>,
    pub compiler_packages: Vec<String>,
    /// (port, protocol) pairs.
    pub admin_ports: Vec<(u16, String)>,
    pub max_layers: usize,
    /// (label key, optional glob on the value) that must be present.
    pub required_labels: Vec<(String, Option<String>)>,
    /// Required labels must be set by the image itself, not inherited from its base.
    pub labels_own: bool,
    /// Globs choosing the files secret-files reads (base name, or full path with a '/').
    pub secret_files: Vec<String>,
    /// Path globs where a secret file is listed for information (documentation, test data).
    pub secret_info_paths: Vec<String>,
    /// Globs (base name, or full path with a '/') of files unwanted-files fails on.
    pub unwanted_files: Vec<String>,
}

impl Default for RuleSettings {
    fn default() -> Self {
        RuleSettings {
            privilege_tools: name_list(include_str!("data/privilege-tools.txt")),
            remote_access_tools: name_list(include_str!("data/remote-access-tools.txt")),
            compilers: name_list(include_str!("data/compilers.txt")),
            privilege_packages: name_list(include_str!("data/privilege-packages.txt")),
            remote_access_packages: name_list(include_str!("data/remote-access-packages.txt")),
            compiler_packages: name_list(include_str!("data/compiler-packages.txt")),
            admin_ports: DEFAULT_ADMIN_PORTS.iter().map(|(p, proto)| (*p, proto.to_string())).collect(),
            max_layers: 1,
            required_labels: Vec::new(),
            labels_own: false,
            secret_files: tagged_list(SECRET_FILES, "candidate"),
            secret_info_paths: tagged_list(SECRET_FILES, "information"),
            unwanted_files: name_list(include_str!("data/unwanted-files.txt")),
        }
    }
}

/// A package name is listed when a glob of `list` matches it and no `!glob` does.
pub fn package_listed(list: &[String], name: &str) -> bool {
    let mut hit = false;
    for g in list {
        match g.strip_prefix('!') {
            Some(ex) if crate::glob::matches(ex, name) => return false,
            Some(_) => {}
            None => hit = hit || crate::glob::matches(g, name),
        }
    }
    hit
}

fn name_list(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}

const SECRET_FILES: &str = include_str!("data/secret-files.txt");

/// The values of the `tag VALUE` lines of a data list.
fn tagged_list(text: &str, tag: &str) -> Vec<String> {
    name_list(text)
        .iter()
        .filter_map(|l| l.split_once(' ').filter(|(t, _)| *t == tag).map(|(_, v)| v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_lists_match_every_ecosystem_and_spare_runtime_packages() {
        let s = RuleSettings::default();
        let listed = |l: &[String], n: &str| package_listed(l, n);
        for n in ["sudo", "sudo-ldap", "sudo-rs", "doas", "opendoas", "pkexec", "policykit-1", "polkit"] {
            assert!(listed(&s.privilege_packages, n), "{n}");
        }
        for n in ["util-linux", "login", "polkitd", "libpolkit-gobject-1-0", "sudo-ldap-doc"] {
            assert!(!listed(&s.privilege_packages, n), "{n}");
        }
        let remote = [
            "openssh-client",
            "openssh-server",
            "openssh-sftp-server",
            "openssh",
            "openssh-clients",
            "openssh-client-default",
            "dropbear-bin",
            "netcat-openbsd",
            "netcat-traditional",
            "nmap-ncat",
            "socat",
            "telnet",
            "inetutils-telnet",
            "busybox-extras",
            "rsh-client",
        ];
        for n in remote {
            assert!(listed(&s.remote_access_packages, n), "{n}");
        }
        for n in ["openssl", "libssh2-1", "openssh-doc", "netbase", "busybox", "curl"] {
            assert!(!listed(&s.remote_access_packages, n), "{n}");
        }
        let compilers = [
            "gcc",
            "gcc-12",
            "gcc-12-aarch64-linux-gnu",
            "gcc-c++",
            "g++",
            "g++-12",
            "clang",
            "clang-16",
            "clang15",
            "golang-go",
            "golang-1.19-go",
            "go",
            "rustc",
            "rust",
            "build-essential",
            "build-base",
            "gfortran-12",
            "openjdk-17-jdk-headless",
        ];
        for n in compilers {
            assert!(listed(&s.compiler_packages, n), "{n}");
        }
        let runtime = [
            "gcc-12-base",
            "gcc-14-base",
            "libgcc-s1",
            "cpp",
            "cpp-12",
            "llvm-16",
            "clang-format-16",
            "clang15-libs",
            "golang-1.19-src",
            "openjdk-17-jre-headless",
            "libstdc++6",
            "gcc-12-locales",
        ];
        for n in runtime {
            assert!(!listed(&s.compiler_packages, n), "{n}");
        }
    }
}
