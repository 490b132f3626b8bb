//! DOCKER_AUTH_CONFIG JSON (the pure parser: a file is never read here): never a panic,
//! and what it accepts is usable and never printed with its secret.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci_compliance::auth::{normalize_registry, parse_docker_auth_json, Credentials, Secret};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let Ok(entries) = parse_docker_auth_json(s, "DOCKER_AUTH_CONFIG") else { return };
    for e in &entries {
        assert!(!e.key.is_empty());
        let shown = format!("{e:?}");
        match &e.secret {
            Secret::UserPassword { username, password } => {
                assert!(!username.is_empty());
                // Unless the password also occurs in what may be shown (the key, the user
                // name, the fixed words), it must not be in the debug output.
                let may_show = format!("AuthEntry {{ key: {:?}, secret: UserPassword({username:?}, <redacted>) }}", e.key);
                if !password.is_empty() && !may_show.contains(password.as_str()) {
                    assert!(!shown.contains(password.as_str()), "{shown}");
                }
            }
            Secret::IdentityToken(t) => assert!(!t.is_empty()),
        }
    }
    let _ = normalize_registry(s);
    let creds = Credentials { entries, ci_registry: None };
    for e in &creds.entries {
        let (reg, repo) = e.key.split_once('/').unwrap_or((&e.key, "x"));
        assert!(creds.for_image(reg, repo).is_some(), "an entry's own registry finds a credential");
    }
});
