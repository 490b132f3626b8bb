use super::context::Context;
use super::rule::{Evaluation, Needs, RuleMeta};
use super::secrets::{self, mask};
use super::settings::RuleSettings;
use crate::layers::Loc;
use crate::model::{EntryKind, Severity, Status};

pub struct Rule;

/// The most of a candidate file this check reads. A bigger candidate fails unverified.
pub const MAX_SECRET_FILE: u64 = 1 << 20;

static META: RuleMeta = RuleMeta {
    id: "secret-files",
    title: "No private keys or credential files in any layer",
    severity: Severity::Critical,
    rationale: "A private key (PEM, OpenSSH, PuTTY, PKCS#12) or a credentials file (Docker \
        config.json with auth, .git-credentials, .netrc, .npmrc, .pypirc, AWS credentials, a \
        kubeconfig with a token or client key) in an image gives whoever pulls it the identity \
        it belongs to. A file deleted by a later layer still ships in its own layer's blob and is \
        extracted by anyone with `tar`, so every layer counts, not only the final image. Files \
        are chosen by name (a policy can add globs) and then verified by content: a certificate \
        in a .pem is not a secret. A candidate over 1 MiB is not read and fails as unverified. \
        Keys in package documentation and test data are listed for information.",
    remediation: "Remove the file in the layer that adds it (not in a later one: squashing or a \
        multi-stage build that copies only what the application needs), mount keys and \
        credentials at run time (orchestrator secrets, `RUN --mount=type=secret` during the \
        build), and rotate every key or credential that was pushed in an image.",
    reads_layers: true,
    controls: &["CIS Docker 1.6 4.10", "NIST SP 800-190 4.1.4", "DISA CIDG V2R0.6 no-embedded-credentials"],
};

/// What a candidate file turned out to hold.
enum Verdict {
    Secret(String),
    Clean,
}

/// `key` + separators + value on one line of `line`: the value, when it is a real one.
fn value_after<'t>(line: &'t str, key: &str, separators: &[char]) -> Option<&'t str> {
    let rest = line.trim_start().strip_prefix(key)?;
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(separators)?;
    let v = rest.trim().trim_matches(['"', '\'']);
    (!v.is_empty() && !secrets::is_reference(v)).then_some(v)
}

fn found(what: &str, value: &str) -> Verdict {
    Verdict::Secret(format!("{what}: {}", mask(value)))
}

/// Decide from the content alone, then from what the file's name says it is.
fn verify(path: &[u8], data: &[u8]) -> Verdict {
    let text = String::from_utf8_lossy(data);
    if let Some(&(s, e, _)) = secrets::token_spans(&text).iter().find(|s| s.2 == "private key") {
        let first = text[s..e].lines().next().unwrap_or("");
        return Verdict::Secret(format!("private key ({})", crate::escape::text(first.trim_matches('-'))));
    }
    if text.starts_with("PuTTY-User-Key-File-") {
        return Verdict::Secret("PuTTY private key".into());
    }
    if text.contains("-----BEGIN PGP PRIVATE KEY BLOCK-----") {
        return Verdict::Secret("PGP private key".into());
    }
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let ends = |s: &[u8]| path.ends_with(s);
    // PKCS#12 is DER (a SEQUENCE): its keys are encrypted, so it cannot be verified further.
    if (name.ends_with(b".p12") || name.ends_with(b".pfx")) && data.first() == Some(&0x30) {
        return Verdict::Secret("PKCS#12 key store".into());
    }
    if ends(b"/.docker/config.json") {
        return docker_config(data);
    }
    let lines = || text.lines();
    let first = |key: &str, seps: &[char]| lines().find_map(|l| value_after(l, key, seps));
    match name {
        b".git-credentials" => {
            // https://user:password@host
            lines()
                .filter_map(|l| l.trim().split_once("://").map(|(_, r)| r))
                .filter_map(|r| r.split_once('@').map(|(cred, _)| cred))
                .find_map(|cred| cred.split_once(':').map(|(_, p)| p).filter(|p| !p.is_empty()))
                .map_or(Verdict::Clean, |p| found("git credential password", p))
        }
        b".netrc" | b"_netrc" => {
            let mut words = text.split_whitespace();
            while let Some(w) = words.next() {
                if w == "password" {
                    if let Some(p) = words.next() {
                        return found("netrc password", p);
                    }
                }
            }
            Verdict::Clean
        }
        b".npmrc" => lines()
            .filter_map(|l| l.split_once('='))
            .find(|(k, v)| {
                let k = k.trim();
                let v = v.trim().trim_matches(['"', '\'']);
                (k.ends_with("_authToken") || k.ends_with("_auth") || k.ends_with("_password"))
                    && !v.is_empty()
                    && !secrets::is_reference(v)
            })
            .map_or(Verdict::Clean, |(k, v)| found(&format!("npm {}", crate::escape::text(k.trim())), v.trim())),
        b".pypirc" => first("password", &['=', ':']).map_or(Verdict::Clean, |v| found("PyPI password", v)),
        _ if ends(b"/.aws/credentials") => {
            first("aws_secret_access_key", &['=']).map_or(Verdict::Clean, |v| found("AWS secret access key", v))
        }
        _ if ends(b"/.kube/config") || name == b"kubeconfig" || name.ends_with(b".kubeconfig") => {
            match (first("token", &[':']), first("client-key-data", &[':'])) {
                (Some(t), _) => found("kubeconfig token", t),
                (None, Some(k)) => found("kubeconfig client-key-data", k),
                _ => Verdict::Clean,
            }
        }
        _ => Verdict::Clean,
    }
}

/// A Docker config.json holds a credential when an `auths` entry has `auth` or
/// `identitytoken` (credential helpers keep theirs elsewhere).
fn docker_config(data: &[u8]) -> Verdict {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        // Unparsable: look for the keys anyway rather than pass what a client might accept.
        let text = String::from_utf8_lossy(data);
        return if text.contains("\"auth\"") || text.contains("\"identitytoken\"") {
            Verdict::Secret("registry credential in an unparsable config.json".into())
        } else {
            Verdict::Clean
        };
    };
    let auths = v.get("auths").and_then(|a| a.as_object());
    for (registry, entry) in auths.into_iter().flatten() {
        for key in ["auth", "identitytoken"] {
            if let Some(s) = entry.get(key).and_then(|s| s.as_str()).filter(|s| !s.is_empty()) {
                return found(&format!("registry {key} for {}", crate::escape::text(registry)), s);
            }
        }
    }
    Verdict::Clean
}

fn information_path(ctx: &Context, path: &[u8]) -> bool {
    let p = String::from_utf8_lossy(path);
    ctx.settings.secret_info_paths.iter().any(|g| crate::glob::matches(g, &p))
}

impl super::rule::Rule for Rule {
    fn meta(&self) -> &'static RuleMeta {
        &META
    }

    fn needs(&self, s: &RuleSettings) -> Needs {
        Needs { patterns: s.secret_files.clone(), read_patterns: true, ..Needs::default() }
    }

    fn check(&self, ctx: &Context, hits: &[Loc]) -> Evaluation {
        let mut findings = Vec::new();
        let (mut checked, mut secrets_found, mut info, mut errors) = (0usize, 0usize, 0usize, Vec::new());
        for &loc in hits {
            let e = ctx.fs.entry(loc);
            // A link or directory named like a key holds none; its target is checked where it is.
            if e.kind != EntryKind::File {
                continue;
            }
            checked += 1;
            let informational = information_path(ctx, &e.path);
            let note = if e.size > MAX_SECRET_FILE {
                // Unverified is not clean: fail it, so it is removed or waived by path.
                Some(format!(
                    "{} bytes, too big to verify (limit {} bytes): treated as a secret",
                    e.size, MAX_SECRET_FILE
                ))
            } else {
                match ctx.fs.read_entry(loc, MAX_SECRET_FILE) {
                    Ok(data) => match verify(&e.path, &data) {
                        Verdict::Secret(what) => Some(what),
                        Verdict::Clean => None,
                    },
                    Err(err) => {
                        errors.push(err);
                        continue;
                    }
                }
            };
            let Some(note) = note else { continue };
            if informational {
                info += 1;
                findings.push(ctx.finding(loc, false, Some(format!("{note}; in documentation or test data"))));
            } else {
                secrets_found += 1;
                findings.push(ctx.finding(loc, true, Some(note)));
            }
        }
        let info_text = match info {
            0 => String::new(),
            n => format!(" ({n} in documentation or test data listed for information)"),
        };
        let mut ev = if !errors.is_empty() {
            Evaluation {
                status: Status::Error,
                description: format!(
                    "{} candidate file{} could not be read (first: {}); {secrets_found} secret file{} among the others",
                    errors.len(),
                    crate::text::plural(errors.len(), "", "s"),
                    errors[0],
                    crate::text::plural(secrets_found, "", "s"),
                ),
                findings: Vec::new(),
            }
        } else if secrets_found > 0 {
            let hidden = findings.iter().filter(|f| f.violation && !f.visible).count();
            let hidden = match hidden {
                0 => String::new(),
                n => format!(", {n} of them deleted later but still in their layer"),
            };
            Evaluation::fail(format!(
                "{secrets_found} file{} with a private key or credential{hidden}{info_text}",
                crate::text::plural(secrets_found, "", "s")
            ))
        } else {
            Evaluation::pass(format!(
                "no private keys or credentials in {checked} candidate file{}{info_text}",
                crate::text::plural(checked, "", "s")
            ))
        };
        ev.findings = findings;
        ev
    }
}
