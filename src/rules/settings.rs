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
