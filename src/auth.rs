//! Registry credentials from the CI environment: `DOCKER_AUTH_CONFIG` (Docker config.json
//! text, or a path to such a file) or `CI_REGISTRY_*`, turned into a private temporary
//! authfile and a `podman login` with the password on stdin. The user's own podman/docker
//! auth files are never written; the temporary one is removed when this value is dropped.

use crate::fsutil::PrivateDir;
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    UserPassword { username: String, password: String },
    IdentityToken(String),
}

// Never print a credential, even in debug output.
impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::UserPassword { username, .. } => write!(f, "UserPassword({username:?}, <redacted>)"),
            Secret::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEntry {
    /// Normalised key: `host[:port]` or `host[:port]/namespace`.
    pub key: String,
    pub secret: Secret,
}

/// The parsed credentials available to this run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub entries: Vec<AuthEntry>,
    /// CI_REGISTRY / CI_REGISTRY_USER / CI_REGISTRY_PASSWORD, used when no entry matches.
    pub ci_registry: Option<AuthEntry>,
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: Option<BTreeMap<String, RawAuth>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// Parse the value of DOCKER_AUTH_CONFIG: JSON text, or the path of a file holding it.
/// Errors never quote the secret material.
pub fn parse_docker_auth_config(value: &str) -> Result<Vec<AuthEntry>, String> {
    let trimmed = value.trim();
    if trimmed.starts_with('{') {
        return parse_docker_auth_json(trimmed, "DOCKER_AUTH_CONFIG");
    }
    let path = Path::new(trimmed);
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("DOCKER_AUTH_CONFIG is neither JSON nor a readable file ({}: {e})", path.display()))?;
    parse_docker_auth_json(&text, &format!("DOCKER_AUTH_CONFIG file {}", path.display()))
}

/// Parse Docker config.json text; `source` names it in errors. Pure (never touches the
/// filesystem), so it can be fuzzed.
pub fn parse_docker_auth_json(json: &str, source: &str) -> Result<Vec<AuthEntry>, String> {
    let cfg: DockerConfig = serde_json::from_str(json).map_err(|e| {
        // serde's message carries only a position and a category, never the input.
        format!("{source} is not valid Docker config JSON: {}", json_error_message(&e))
    })?;
    let mut out = Vec::new();
    for (raw_key, raw) in cfg.auths.unwrap_or_default() {
        let key = normalize_registry(&raw_key);
        if key.is_empty() {
            return Err(format!("{source}: auths has an empty registry key"));
        }
        let at = format!("{source}: auths[{:?}]", crate::escape::text(&raw_key));
        let secret = if let Some(token) = raw.identitytoken.filter(|t| !t.is_empty()) {
            Secret::IdentityToken(token)
        } else if let (Some(u), Some(p)) = (&raw.username, &raw.password) {
            Secret::UserPassword { username: u.clone(), password: p.clone() }
        } else if let Some(a) = raw.auth.as_deref().filter(|a| !a.trim().is_empty()) {
            decode_basic(a).map_err(|why| format!("{at}.auth {why}"))?
        } else {
            return Err(format!("{at} has neither auth, username/password nor identitytoken"));
        };
        if let Secret::UserPassword { username, .. } = &secret {
            if username.is_empty() {
                return Err(format!("{at} has an empty username"));
            }
        }
        out.push(AuthEntry { key, secret });
    }
    Ok(out)
}

/// Where and what kind of JSON error, without quoting the input (it holds secrets).
fn json_error_message(e: &serde_json::Error) -> String {
    let what = match e.classify() {
        serde_json::error::Category::Io => "I/O error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected structure",
        serde_json::error::Category::Eof => "unexpected end of input",
    };
    format!("{what} at line {} column {}", e.line(), e.column())
}

fn decode_basic(b64: &str) -> Result<Secret, String> {
    let cleaned: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&cleaned)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(cleaned.trim_end_matches('=')))
        .map_err(|_| "is not valid base64".to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "does not decode to UTF-8 text".to_string())?;
    match text.split_once(':') {
        Some((u, p)) if !u.is_empty() => Ok(Secret::UserPassword { username: u.to_string(), password: p.to_string() }),
        _ => Err("does not decode to user:password".to_string()),
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; `https://reg:5000/` → `reg:5000`.
pub fn normalize_registry(key: &str) -> String {
    let k = key.trim();
    let k = k.strip_prefix("https://").or_else(|| k.strip_prefix("http://")).unwrap_or(k);
    let k = k.trim_end_matches('/');
    let (host, path) = match k.split_once('/') {
        Some((h, p)) => (h, p),
        None => (k, ""),
    };
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        h => h,
    };
    // Docker Hub's legacy key carries an API version path, not a namespace.
    let path = if path == "v1" || path == "v2" { "" } else { path };
    if path.is_empty() {
        host.to_string()
    } else {
        format!("{host}/{path}")
    }
}

impl Credentials {
    /// The credential for `registry/repository`: the most specific auths entry, else the
    /// CI_REGISTRY credential if it names the same registry. Credentials are never sent to
    /// a registry they were not given for.
    pub fn for_image(&self, registry: &str, repository: &str) -> Option<&AuthEntry> {
        let full = format!("{registry}/{repository}");
        self.entries
            .iter()
            .filter(|e| e.key == registry || full == e.key || full.starts_with(&format!("{}/", e.key)))
            .max_by_key(|e| e.key.len())
            .or_else(|| self.ci_registry.as_ref().filter(|e| e.key == registry))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.ci_registry.is_none()
    }
}

/// A private directory holding the authfile; removed (with the file) on drop.
pub struct AuthFile {
    dir: PrivateDir,
    path: PathBuf,
}

impl AuthFile {
    /// Write every auths entry into a fresh 0600 file inside a fresh 0700 directory.
    pub fn create(creds: &Credentials) -> Result<AuthFile, String> {
        let dir = PrivateDir::create_in(&std::env::temp_dir(), "oci-compliance-auth-")
            .map_err(|e| format!("cannot create a private directory for the registry authfile: {e}"))?;
        let path = dir.path().join("auth.json");
        let mut auths = serde_json::Map::new();
        for e in creds.entries.iter().chain(creds.ci_registry.iter()) {
            let v = match &e.secret {
                Secret::UserPassword { username, password } => serde_json::json!({
                    "auth": base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
                }),
                Secret::IdentityToken(t) => serde_json::json!({ "identitytoken": t }),
            };
            auths.insert(e.key.clone(), v);
        }
        let body = serde_json::to_vec(&serde_json::json!({ "auths": auths })).map_err(|e| e.to_string())?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        f.write_all(&body).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        Ok(AuthFile { dir, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn gitlab_style_config() {
        let b = base64::engine::general_purpose::STANDARD.encode("ci:s3cr:et");
        let cfg = format!(
            r#"{{"auths":{{"https://reg.example:5000/":{{"auth":"{b}"}},"tok.example":{{"identitytoken":"T"}},"u.example/ns":{{"username":"a","password":"b"}}}}}}"#
        );
        let e = parse_docker_auth_config(&cfg).unwrap();
        let reg = e.iter().find(|e| e.key == "reg.example:5000").unwrap();
        assert_eq!(reg.secret, Secret::UserPassword { username: "ci".into(), password: "s3cr:et".into() });
        assert!(e.iter().any(|e| e.key == "tok.example" && e.secret == Secret::IdentityToken("T".into())));
        assert!(e.iter().any(|e| e.key == "u.example/ns"));
    }

    #[test]
    fn docker_hub_legacy_key() {
        assert_eq!(normalize_registry("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalize_registry("127.0.0.1:5055"), "127.0.0.1:5055");
    }

    #[test]
    fn malformed_values_are_clear_and_never_echo_secrets() {
        for bad in [
            r#"{"auths":{"r":{"auth":"%%%notbase64"}}}"#,
            r#"{"auths":{"r":{"auth":"bm9jb2xvbg=="}}}"#, // "nocolon"
            r#"{"auths":{"r":{}}}"#,
            r#"{"auths":{"r":{"auth":"s3cretvalue"#,
            "/nonexistent/s3cretvalue.json",
        ] {
            let err = parse_docker_auth_config(bad).unwrap_err();
            assert!(err.contains("DOCKER_AUTH_CONFIG"), "{err}");
            assert!(!err.contains("bm9jb2xvbg") && !err.contains("%%%") && !err.contains("nocolon"), "{err}");
            if !bad.starts_with('/') {
                assert!(!err.contains("s3cretvalue"), "{err}");
            }
        }
    }

    #[test]
    fn credentials_go_only_to_their_registry() {
        let creds = Credentials {
            entries: vec![
                AuthEntry { key: "a.io".into(), secret: Secret::IdentityToken("1".into()) },
                AuthEntry { key: "a.io/team".into(), secret: Secret::IdentityToken("2".into()) },
            ],
            ci_registry: Some(AuthEntry { key: "ci.io".into(), secret: Secret::IdentityToken("3".into()) }),
        };
        assert_eq!(creds.for_image("a.io", "team/app").unwrap().key, "a.io/team");
        assert_eq!(creds.for_image("a.io", "other/app").unwrap().key, "a.io");
        assert_eq!(creds.for_image("a.io", "teamx/app").unwrap().key, "a.io");
        assert_eq!(creds.for_image("ci.io", "x").unwrap().key, "ci.io");
        assert!(creds.for_image("evil.io", "x").is_none());
    }

    #[test]
    fn authfile_is_private_and_removed_on_drop() {
        let creds = Credentials {
            entries: vec![AuthEntry {
                key: "r".into(),
                secret: Secret::UserPassword { username: "u".into(), password: "p".into() },
            }],
            ci_registry: None,
        };
        let f = AuthFile::create(&creds).unwrap();
        let (file, dir) = (f.path().to_path_buf(), f.dir().to_path_buf());
        assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
        assert_eq!(v["auths"]["r"]["auth"], "dTpw");
        drop(f);
        assert!(!file.exists() && !dir.exists());
    }

    #[test]
    fn debug_output_redacts() {
        let s = Secret::UserPassword { username: "u".into(), password: "hunter2".into() };
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
