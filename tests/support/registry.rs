//! The local registry of the test environment (htpasswd auth, plain HTTP on 127.0.0.1), its
//! credentials in the forms users hand them to the scanner, and a fake registry that
//! misbehaves on purpose.

use super::env::{env, run_id};
use super::sha256_hex;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Standard base64 (the registry's Basic auth and Docker's `auth` field).
pub fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// `user:password` of the test registry, for `--creds`.
pub fn creds() -> String {
    let e = env();
    format!("{}:{}", e.user, e.password)
}

/// A repository path unique to this process: `ocic-it/<run>/<name>`.
pub fn repo(name: &str) -> String {
    format!("ocic-it/{}/{name}", run_id())
}

/// Docker config.json text (DOCKER_AUTH_CONFIG) with a base64 `auth` entry for `registry`.
pub fn auth_config(registry: &str, user: &str, password: &str) -> String {
    serde_json::json!({"auths": {registry: {"auth": b64(&format!("{user}:{password}"))}}}).to_string()
}

/// Docker config.json text with `username`/`password` for the test registry.
pub fn auth_config_plain(user: &str, password: &str) -> String {
    serde_json::json!({"auths": {env().registry.clone(): {"username": user, "password": password}}}).to_string()
}

/// The right credentials for the test registry, as GitLab users set them.
pub fn good_auth() -> String {
    let e = env();
    auth_config(&e.registry, &e.user, &e.password)
}

/// `GET /v2/` over plain HTTP; returns the status code.
pub fn registry_status(registry: &str, creds: Option<(&str, &str)>) -> Result<u16, String> {
    let mut s = TcpStream::connect(registry).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut req = format!("GET /v2/ HTTP/1.0\r\nHost: {registry}\r\n");
    if let Some((u, p)) = creds {
        req.push_str(&format!("Authorization: Basic {}\r\n", b64(&format!("{u}:{p}"))));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&resp);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(|| format!("bad HTTP answer {text:?}"))
}

// ---------------------------------------------------------------------------------------
// A registry that misbehaves
// ---------------------------------------------------------------------------------------

/// How the fake registry misbehaves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fault {
    /// Every manifest is a plain 404 (no registry error body).
    NotFound,
    /// Manifest and config are served; the layer blob sends its headers and 1 KiB of a
    /// promised 1 MiB, then stalls (for at most two minutes).
    StallBlob,
}

/// A registry on 127.0.0.1 that accepts any credentials and then fails as told. Its
/// threads stop by themselves: connections close after at most two minutes.
pub struct FakeRegistry {
    pub addr: String,
    pub blob_requested: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        let _ = TcpStream::connect(&self.addr);
    }
}

/// What the fake registry serves: manifest, config, config digest, layer digest.
struct Served {
    manifest: String,
    config: String,
    config_digest: String,
    layer: String,
}

impl FakeRegistry {
    pub fn start(fault: Fault) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let blob_requested = Arc::new(AtomicBool::new(false));
        // A layer digest nobody has: the pull must fetch it.
        let layer = format!("sha256:{}", sha256_hex(format!("hard-layer-{addr}-{:?}", Instant::now()).as_bytes()));
        let config = format!(
            concat!(
                r#"{{"architecture":"amd64","os":"linux","config":{{}},"#,
                r#""rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#
            ),
            layer
        );
        let config_digest = format!("sha256:{}", sha256_hex(config.as_bytes()));
        let manifest = format!(
            concat!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","#,
                r#""config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"#,
                r#""layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":1048576}}]}}"#
            ),
            config_digest,
            config.len(),
            layer
        );
        let served = Arc::new(Served { manifest, config, config_digest, layer });
        let (s, b) = (stop.clone(), blob_requested.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (s, b, served) = (s.clone(), b.clone(), served.clone());
                std::thread::spawn(move || serve(conn, fault, &served, &s, &b));
            }
        });
        FakeRegistry { addr, blob_requested, stop }
    }
}

fn serve(mut conn: TcpStream, fault: Fault, served: &Served, stop: &AtomicBool, blob: &AtomicBool) {
    let Served { manifest, config, config_digest, layer } = served;
    conn.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // One request per connection is enough for podman (it reconnects).
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            // A TLS ClientHello (podman tries https first) is not HTTP: hang up.
            if buf.first() == Some(&0x16) || buf.len() > 65536 {
                return;
            }
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let mut parts = head.split_whitespace();
        let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let body_allowed = method != "HEAD";
        let reply = |conn: &mut TcpStream, status: &str, ctype: &str, body: &[u8]| {
            let h = format!(
                "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\
                 Docker-Distribution-Api-Version: registry/2.0\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(h.as_bytes());
            if body_allowed {
                let _ = conn.write_all(body);
            }
        };
        if path == "/v2/" || path == "/v2" {
            reply(&mut conn, "200 OK", "application/json", b"{}");
        } else if path.contains("/manifests/") {
            match fault {
                Fault::NotFound => reply(&mut conn, "404 Not Found", "text/plain", b"404 page not found\n"),
                Fault::StallBlob => {
                    reply(&mut conn, "200 OK", "application/vnd.oci.image.manifest.v1+json", manifest.as_bytes())
                }
            }
        } else if path.ends_with(&format!("/blobs/{config_digest}")) {
            reply(&mut conn, "200 OK", "application/octet-stream", config.as_bytes());
        } else if path.ends_with(&format!("/blobs/{layer}")) {
            blob.store(true, Ordering::SeqCst);
            let h = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n";
            let _ = conn.write_all(h.as_bytes());
            let _ = conn.write_all(&[0u8; 1024]);
            let until = Instant::now() + Duration::from_secs(120);
            while Instant::now() < until && !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
            }
            return;
        } else {
            reply(&mut conn, "404 Not Found", "text/plain", b"not found\n");
        }
    }
}
