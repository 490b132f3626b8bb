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
            unwanted_files: name_list(include_str!("data/unwanted-files.txt")),
        }
    }
}

fn name_list(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect()
}
