//! Hardening (issue #8): hostile images, faults, credentials, concurrent scans, all with
//! real podman/buildah in the private test environment (tests/env/setup.sh; these tests
//! fail, never skip, without it), on its shared storage. Image names start with `hard-`.

use crate::support::*;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

// --- 0. how these tests build and scan ---------------------------------------------------

/// The test environment's shared storage: these tests' images live there.
fn store() -> &'static Store {
    Store::shared()
}

/// The scanner as these tests run it: on the shared storage, writing into `ws` (reports
/// through COMPLIANCE_REPORTS_DIR), TLS off for the test registry, and no colour decision
/// forced (stdout is a pipe, so "auto" means no colour).
fn scanner(ws: &Workspace) -> Scan<'_> {
    scan(store()).workspace(ws).reports_in_env().env("COMPLIANCE_TLS_VERIFY", "false").env_remove("NO_COLOR")
}

/// `oci-compliance scan ARGS` with ENVS, into `ws`.
fn scan_in(ws: &Workspace, args: &[&str], envs: &[(&str, &str)]) -> ScanOut {
    let mut s = scanner(ws).args(args);
    for (k, v) in envs {
        s = s.env(k, v);
    }
    s.run()
}

/// `localhost/<prefix>-<unique>:1`: unique per process and call, so parallel tests and
/// parallel runs never share an image.
fn unique_name(prefix: &str) -> String {
    format!("localhost/{prefix}-{}:1", unique("img"))
}

/// An image built from `tree` with `config` in the shared storage, removed when the guard
/// drops (also when the test panics).
fn build_image(name: &str, tree: &Path, config: &[(&str, &[u8])]) -> LocalImage<'static> {
    let guard = LocalImage::new(store(), name);
    build_tree(store(), name, tree, config);
    guard
}

/// A small image: /app/run, an account file for uid 1001, USER 1001:1001, an entrypoint and
/// a label; with `setuid`, also a setuid /app/helper (so its verdict is Critical).
fn small_image(name: &str, setuid: bool) -> LocalImage<'static> {
    let dir = Scratch::new("hard-tree");
    let t = dir.path();
    write_file(&t.join("app/run"), b"#!/bin/sh\necho ok\n", 0o755);
    write_file(&t.join("etc/passwd"), b"root:x:0:0::/root:/bin/sh\napp:x:1001:1001::/app:/bin/false\n", 0o644);
    write_file(&t.join("etc/group"), b"root:x:0:\napp:x:1001:\n", 0o644);
    if setuid {
        write_file(&t.join("app/helper"), b"x", 0o4755);
    }
    build_image(
        name,
        t,
        &[
            ("--user", b"1001:1001"),
            ("--entrypoint", b"[\"/app/run\"]"),
            ("--label", b"org.opencontainers.image.vendor=hardening"),
            ("--healthcheck", b"CMD /app/run"),
            ("--created-by", b"COPY app /"),
        ],
    )
}

/// A small image pushed to the test registry under `<run's repositories>/hard-<name>:1` and
/// removed locally. The returned guard removes the pulled copy when the test ends.
fn pushed_small_image(name: &str, setuid: bool) -> LocalImage<'static> {
    let local = unique_name(&format!("hard-{name}"));
    let remote = format!("{}/{}:1", env().registry, repo(&format!("hard-{name}")));
    let img = small_image(&local, setuid);
    store().push_to(&img.name, &remote);
    drop(img);
    // A copy left from an earlier run would let `--pull missing` skip the registry.
    let _ = store().run("podman", &["rmi", "--force", &remote]);
    LocalImage::new(store(), &remote)
}

/// Whether `needle` occurs in `hay`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`, recursively (for searching recorded output).
fn read_all(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

// --- 1. the hostile image ---------------------------------------------------------------

/// Names that attack whoever reads a report: invalid UTF-8, a newline, ANSI/OSC escapes,
/// HTML, a raw C1 CSI byte, the same in UTF-8, a bidi override. Each is a setuid file in
/// /opt, so each must show up, escaped, as a finding.
const HOSTILE: &[(&[u8], &str)] = &[
    (b"bad\xff\xfe", "bad\\xff\\xfe"),
    (b"new\nline", "new\\x0aline"),
    (b"\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m"),
    (b"\x1b]0;pwned\x07title", "\\x1b]0;pwned\\x07title"),
    (b"c1\x9b31m", "c1\\x9b31m"),
    (b"c1utf8\xc2\x9b31m", "c1utf8\\u{009b}31m"),
    (b"rtl\xe2\x80\xaetxt.exe", "rtl\\u{202e}txt.exe"),
    (b"back\\slash", "back\\\\slash"),
];

/// 100 directory levels: /deep/d/d/…/d.
fn deep_dir() -> String {
    let mut p = String::from("deep");
    for _ in 1..100 {
        p.push_str("/d");
    }
    p
}

fn hostile_tree(t: &Path) {
    let opt = t.join("opt");
    for (name, _) in HOSTILE {
        write_file(&opt.join(OsStr::from_bytes(name)), b"x", 0o4755);
    }
    // A name with a '/' cannot exist; this one is a directory plus a file and reads as a tag.
    write_file(&opt.join("<script>alert(1)</script>"), b"x", 0o4755);
    // Absolute links to host files: inside the image they point at themselves (a loop).
    std::fs::create_dir_all(t.join("etc")).unwrap();
    symlink("/etc/os-release", t.join("etc/os-release")).unwrap();
    symlink("/etc/passwd", t.join("etc/passwd")).unwrap();
    // A symlink loop, a looping tool name, dangling links (two with tool names).
    std::fs::create_dir_all(t.join("loop")).unwrap();
    symlink("b", t.join("loop/a")).unwrap();
    symlink("a", t.join("loop/b")).unwrap();
    std::fs::create_dir_all(t.join("usr/bin")).unwrap();
    std::fs::create_dir_all(t.join("usr/sbin")).unwrap();
    symlink("sudo", t.join("usr/bin/sudo")).unwrap();
    symlink("/nonexistent/doas", t.join("usr/bin/doas")).unwrap();
    symlink("../lib/missing/pkexec", t.join("usr/sbin/pkexec")).unwrap();
    symlink("/nowhere", t.join("opt/dangling")).unwrap();
    // `su` as a directory on PATH (holding an executable su, which is then outside PATH).
    write_file(&t.join("usr/bin/su/su"), b"x", 0o755);
    // A mode-000 directory hiding a setuid file (root reads it anyway; the scan must too).
    write_file(&t.join("opt/locked/hidden"), b"x", 0o4755);
    std::fs::set_permissions(t.join("opt/locked"), std::fs::Permissions::from_mode(0o000)).unwrap();
    // 100 levels deep, with a setuid file at the bottom.
    write_file(&t.join(deep_dir()).join("bottom"), b"x", 0o4755);
    // 0-byte files: one is an executable telnet on PATH (a tool, however empty).
    write_file(&t.join("usr/bin/telnet"), b"", 0o755);
    write_file(&t.join("opt/empty"), b"", 0o644);
    // A tool-named link outside PATH whose target name is hostile.
    let evil_bin = OsStr::from_bytes(b"\x1b[2Jx\n");
    write_file(&t.join("opt/bin").join(evil_bin), b"x", 0o755);
    std::fs::create_dir_all(t.join("opt/tools")).unwrap();
    symlink(Path::new("../bin").join(evil_bin), t.join("opt/tools/ncat")).unwrap();
    std::fs::create_dir_all(t.join("many")).unwrap();
}

/// The two bulky parts go straight into the committed layer's diff directory: through
/// `buildah copy` + `commit`, a 1 GB sparse file became 1.1 GB of real blocks and took 58 s,
/// and 200,000 files took 1 min 49 s + 53 s while holding the storage lock that every other
/// podman user of the shared test storage waits for. The scanner reads exactly these
/// directories, so what it sees is the same.
fn add_bulk(layer: &Path) {
    let many = layer.join("many");
    for i in 0..200_000 {
        std::fs::File::create(many.join(format!("f{i:06}"))).unwrap();
    }
    let huge = std::fs::File::create(layer.join("opt/huge")).unwrap();
    huge.set_len(10 << 30).unwrap();
}

#[test]
fn hostile_image_scan_completes_with_correct_verdicts_and_prints_nothing_raw() {
    env();
    let dir = Scratch::new("hard-tree");
    hostile_tree(dir.path());
    let name = unique_name("hard-hostile");
    let img = build_image(
        &name,
        dir.path(),
        &[
            ("--user", b"daemon"), // uid 1 in the host's /etc/passwd, absent from the image
            ("--created-by", b"ADD \x1b[31mhostile\ntree\x07 /"),
            ("--label", b"evil\x1b[31m=<script>alert(1)</script>\x1b]0;x\x07\xc2\x9b31m\xe2\x80\xae"),
        ],
    );
    let layer = upper_dir(store(), &img.name);
    add_bulk(&layer);

    let ws = Workspace::new("hard-ws");
    let scan = scan_in(&ws, &["--pull", "never", &img.name], &[]);
    eprintln!("hostile image scan (200,000-entry directory, 10 GiB sparse file): {:.2?}", scan.elapsed);
    scan.assert_code(12);
    assert!(scan.elapsed < Duration::from_secs(60), "took {:?}", scan.elapsed);
    assert_no_raw_controls("stdout", &scan.stdout_bytes);
    assert_no_raw_controls("stderr", &scan.stderr_bytes);
    ws.assert_no_leftovers();
    let json_file = ws.report_files().remove(0);
    let json_bytes = std::fs::read(&json_file).unwrap();
    assert_no_raw_controls("JSON report", &json_bytes);
    let r: serde_json::Value = serde_json::from_slice(&json_bytes).unwrap();

    let status = |id: &str| -> (String, String) {
        let c = r["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap();
        (c["status"].as_str().unwrap().to_string(), c["description"].as_str().unwrap().to_string())
    };
    let want = [
        ("latest-tag", "pass"),
        ("admin-ports-exposed", "pass"),
        ("root-user", "fail"),
        ("root-group", "fail"),
        ("labels-missing", "pass"),
        ("required-labels", "pass"),
        ("too-many-layers", "pass"),
        ("startup-command-missing", "fail"),
        ("suid-files", "fail"),
        ("sgid-files", "pass"),
        ("privilege-tools", "pass"),
        ("remote-access-tools", "fail"),
        ("compilers", "pass"),
        ("base-os", "pass"),
    ];
    for (id, s) in want {
        let (got, d) = status(id);
        assert_eq!(got, s, "{id}: {d}");
    }
    // Resolved inside the image, where both links loop: never the host's files.
    let (_, user) = status("root-user");
    assert_eq!(user, "USER daemon is a name but the image has no /etc/passwd: the container would not start");
    let (_, os) = status("base-os");
    assert!(os.starts_with("no os-release"), "{os}");
    let host_passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let all = [&json_bytes[..], &scan.stdout_bytes, &scan.stderr_bytes].concat();
    for line in host_passwd.lines().filter(|l| l.len() > 8) {
        assert!(!contains(&all, line.as_bytes()), "host passwd line in the output: {line}");
    }
    for field in host_passwd.lines().filter_map(|l| l.split(':').nth(5)).filter(|h| h.len() > 5) {
        assert!(!contains(&all, format!(":{field}:").as_bytes()), "host passwd field {field}");
    }
    let host_os = std::fs::read_to_string("/etc/os-release").unwrap();
    let pretty = host_os.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=")).unwrap().trim_matches('"');
    assert!(!contains(&all, pretty.as_bytes()), "host os-release in the output");

    // Every hostile name is a finding, escaped the same way in the JSON and on the console.
    let suid = r["checks"].as_array().unwrap().iter().find(|c| c["id"] == "suid-files").unwrap();
    let paths: Vec<&str> = suid["findings"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    let mut expected: Vec<String> = HOSTILE.iter().map(|(_, shown)| format!("/opt/{shown}")).collect();
    expected.push("/opt/<script>alert(1)</script>".into());
    expected.push("/opt/locked/hidden".into());
    expected.push(format!("/{}/bottom", deep_dir()));
    assert_eq!(paths.len(), expected.len(), "{paths:#?}");
    let console = scan.stdout.clone();
    for p in &expected {
        assert!(paths.contains(&p.as_str()), "{p} not among {paths:#?}");
        assert!(console.contains(p.as_str()), "{p} not on the console");
    }
    assert_eq!(status("suid-files").1, format!("{} setuid files", expected.len()));
    for f in suid["findings"].as_array().unwrap() {
        assert_eq!(f["created_by"], "ADD \\x1b[31mhostile\\x0atree\\x07 /");
        assert_eq!(f["visible"], true);
    }
    // Escaping is lossless: the JSON path unescapes to the name on disk.
    for (raw, shown) in HOSTILE {
        let back = unescape(&format!("/opt/{shown}")).unwrap();
        assert_eq!(back, [b"/opt/".as_slice(), raw].concat());
    }

    // Tools: su is a directory, sudo loops, doas and pkexec dangle: none is a tool; the
    // executable /usr/bin/su/su is outside PATH (information). telnet is 0 bytes but a tool.
    let findings = |id: &str| -> Vec<serde_json::Value> {
        r["checks"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["findings"].as_array().unwrap().clone()
    };
    let priv_tools = findings("privilege-tools");
    assert_eq!(priv_tools.len(), 1, "{priv_tools:#?}");
    assert_eq!(priv_tools[0]["path"], "/usr/bin/su/su");
    assert_eq!(priv_tools[0]["violation"], false);
    let remote = findings("remote-access-tools");
    let telnet = remote.iter().find(|f| f["path"] == "/usr/bin/telnet").expect("telnet");
    assert_eq!((telnet["violation"].as_bool(), telnet["size"].as_u64()), (Some(true), Some(0)));
    let ncat = remote.iter().find(|f| f["path"] == "/opt/tools/ncat").expect("ncat");
    assert_eq!(ncat["link_target"], "../bin/\\x1b[2Jx\\x0a");
    assert_eq!(ncat["violation"], false);
    assert!(ncat["note"].as_str().unwrap().contains("resolves to /opt/bin/\\x1b[2Jx\\x0a"), "{ncat}");

    // The whole layer was walked: the 200,000 entries and the sparse file's apparent size.
    let l = &r["layers"][0];
    assert!(l["entries"].as_u64().unwrap() > 200_000, "{l}");
    assert!(l["size"].as_u64().unwrap() >= 10 << 30, "{l}");
    assert_eq!(l["errors"].as_array().unwrap().len(), 0, "{l}");
    // The label is image-controlled too: kept exactly in the JSON (as \u escapes, C1 and
    // bidi included), never raw.
    assert_eq!(r["image"]["labels"]["evil\u{1b}[31m"], "<script>alert(1)</script>\u{1b}]0;x\u{7}\u{9b}31m\u{202e}");
    assert!(contains(&json_bytes, br"\u009b31m\u202e"));

    // The same scan with the JSON on stdout and the console on stderr.
    let ws2 = Workspace::new("hard-ws");
    let scan2 = scan_in(&ws2, &["--pull", "never", "--json-stdout", &img.name], &[]);
    scan2.assert_code(12);
    assert_no_raw_controls("stdout (JSON)", &scan2.stdout_bytes);
    assert_no_raw_controls("stderr (console)", &scan2.stderr_bytes);
    let printed: serde_json::Value = serde_json::from_slice(&scan2.stdout_bytes).unwrap();
    assert_eq!(printed["checks"], r["checks"]);

    // Colour on is the one case where ESC is expected; nothing else raw then either.
    let scan3 = scan_in(&ws2, &["--pull", "never", "--color", "always", &img.name], &[]);
    scan3.assert_code(12);
    let stripped = strip_sgr(&scan3.stdout_bytes);
    assert_no_raw_controls("stdout with colour, SGR sequences removed", &stripped);

    // A second image on top with a hostile USER: the description shows it escaped.
    let name2 = unique_name("hard-hostile-user");
    let img2 = LocalImage::new(store(), &name2);
    let user = [OsStr::new("--user"), OsStr::from_bytes(b"\x1b[2J\nroot\x07")];
    commit_layer(store(), &img.name, &name2, Commit { config: user.to_vec(), ..Commit::default() });
    let ws3 = Workspace::new("hard-ws");
    let scan4 = scan_in(&ws3, &["--pull", "never", &img2.name], &[]);
    scan4.assert_code(12);
    assert_no_raw_controls("stdout (hostile USER)", &scan4.stdout_bytes);
    assert_no_raw_controls("stderr (hostile USER)", &scan4.stderr_bytes);
    assert!(
        scan4.stdout.contains("USER \\x1b[2J\\x0aroot\\x07 is a name but the image has no /etc/passwd"),
        "{}",
        scan4.stdout
    );
    drop(img2);
    drop(img);
}

/// Removes `ESC [ digits/; m` colour sequences (what --color always adds).
fn strip_sgr(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == 0x1b && b.get(i + 1) == Some(&b'[') {
            let mut j = i + 2;
            while j < b.len() && (b[j].is_ascii_digit() || b[j] == b';') {
                j += 1;
            }
            if b.get(j) == Some(&b'm') {
                i = j + 1;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

// --- 2. faults --------------------------------------------------------------------------

/// A loopback port with nothing listening on it.
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The failure report: complete (it parses), with the same operational error.
fn assert_error_report(ws: &Workspace, code: i32) {
    let r = ws.report();
    assert_eq!(r["error"]["exit_code"], code, "{r}");
    assert_eq!(r["summary"]["exit_code"], code);
}

#[test]
fn registry_down_is_20_with_one_sentence() {
    let e = env();
    let reg = format!("127.0.0.1:{}", dead_port());
    let image = format!("{reg}/hard/down:1");
    // With credentials (podman login fails) and without (podman pull fails).
    for creds in [Some(auth_config(&reg, &e.user, &e.password)), None] {
        let ws = Workspace::new("hard-ws");
        let envs: Vec<(&str, &str)> = creds.iter().map(|c| ("DOCKER_AUTH_CONFIG", c.as_str())).collect();
        let scan = scan_in(&ws, &["--pull", "always", &image], &envs);
        scan.assert_code(20);
        scan.one_error_line(&[&reg, "connection refused"]);
        ws.assert_no_leftovers();
        assert_error_report(&ws, 20);
    }
}

#[test]
fn unauthorized_is_20_with_one_sentence() {
    let e = env();
    let image = format!("{}/hard/unauthorized:1", e.registry);
    let ws = Workspace::new("hard-ws");
    let wrong = auth_config(&e.registry, &e.user, "not-the-password");
    let scan = scan_in(&ws, &["--pull", "always", &image], &[("DOCKER_AUTH_CONFIG", &wrong)]);
    scan.assert_code(20);
    scan.one_error_line(&["podman login to", "invalid username/password"]);
    ws.assert_no_leftovers();
    // No credentials at all: the registry's 401 comes from the pull.
    let ws = Workspace::new("hard-ws");
    let scan = scan_in(&ws, &["--pull", "always", &image], &[]);
    scan.assert_code(20);
    scan.one_error_line(&["podman pull", "authentication required"]);
    ws.assert_no_leftovers();
}

#[test]
fn unknown_manifest_and_plain_404_are_20() {
    let e = env();
    let ws = Workspace::new("hard-ws");
    let image = format!("{}/hard/nope-{}:1", e.registry, std::process::id());
    let scan = scan_in(&ws, &["--pull", "always", &image], &[("DOCKER_AUTH_CONFIG", &good_auth())]);
    scan.assert_code(20);
    scan.one_error_line(&["podman pull", "manifest unknown"]);
    ws.assert_no_leftovers();
    assert_error_report(&ws, 20);

    let fake = FakeRegistry::start(Fault::NotFound);
    let ws = Workspace::new("hard-ws");
    let image = format!("{}/hard/notfound:1", fake.addr);
    let scan =
        scan_in(&ws, &["--pull", "always", &image], &[("DOCKER_AUTH_CONFIG", &auth_config(&fake.addr, "u", "p"))]);
    scan.assert_code(20);
    let line = scan.one_error_line(&["podman pull"]);
    assert!(line.contains("404") || line.contains("not found") || line.contains("manifest unknown"), "{line}");
    ws.assert_no_leftovers();
}

/// A shim that records each invocation's pid and subcommand, then runs podman.
fn pid_shim(ws: &Workspace) -> (std::path::PathBuf, std::path::PathBuf) {
    let shim = ws.path().join("podman-pids");
    let pids = ws.path().join("pids");
    script(
        &shim,
        &format!("#!/bin/sh\necho \"$$ $1\" >> '{}'\nexec '{}' \"$@\"\n", pids.display(), real_podman().display()),
    );
    (shim, pids)
}

fn pid_of(pids: &Path, subcommand: &str) -> Option<i32> {
    let text = std::fs::read_to_string(pids).ok()?;
    text.lines().filter_map(|l| l.split_once(' ')).find(|(_, c)| *c == subcommand).and_then(|(p, _)| p.parse().ok())
}

fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

fn authfiles(ws: &Workspace) -> Vec<String> {
    std::fs::read_dir(&ws.tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("oci-compliance-auth-"))
        .collect()
}

/// Start a scan of an image on a registry whose layer blob stalls; return once podman is
/// stuck half-way through the pull (the authfile exists then).
fn stalled_pull<'w>(ws: &'w Workspace, fake: &FakeRegistry) -> (RunningScan<'w>, std::path::PathBuf) {
    let (shim, pids) = pid_shim(ws);
    let image = format!("{}/hard/stall:1", fake.addr);
    let child = scanner(ws)
        .args(["--pull", "always", "--podman", shim.to_str().unwrap(), &image])
        .env("DOCKER_AUTH_CONFIG", auth_config(&fake.addr, "u", "hard-stall-secret"))
        .spawn();
    assert!(
        wait_for(Duration::from_secs(90), || fake.blob_requested.load(std::sync::atomic::Ordering::SeqCst)),
        "podman never asked for the layer blob"
    );
    assert_eq!(authfiles(ws).len(), 1, "the authfile exists while podman pulls");
    assert!(pid_of(&pids, "pull").is_some());
    (child, pids)
}

#[test]
fn pull_killed_half_way_is_20_and_leaves_nothing() {
    env();
    let fake = FakeRegistry::start(Fault::StallBlob);
    let ws = Workspace::new("hard-ws");
    let (child, pids) = stalled_pull(&ws, &fake);
    let pull = pid_of(&pids, "pull").unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pull), nix::sys::signal::Signal::SIGKILL).unwrap();
    let scan = child.finish(Duration::from_secs(60));
    scan.assert_code(20);
    scan.one_error_line(&["podman pull", "killed by signal 9 (SIGKILL)"]);
    ws.assert_no_leftovers();
    assert_error_report(&ws, 20);
}

#[test]
fn sigterm_or_sigint_during_the_pull_ends_the_scan_and_removes_the_authfile() {
    env();
    for (signal, code, word) in [
        (nix::sys::signal::Signal::SIGTERM, 143, "oci-compliance: terminated"),
        (nix::sys::signal::Signal::SIGINT, 130, "oci-compliance: interrupted"),
    ] {
        let fake = FakeRegistry::start(Fault::StallBlob);
        let ws = Workspace::new("hard-ws");
        let (child, pids) = stalled_pull(&ws, &fake);
        let pull = pid_of(&pids, "pull").unwrap();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
        let scan = child.finish(Duration::from_secs(30));
        scan.assert_code(code);
        let lines: Vec<String> =
            scan.stderr.lines().filter(|l| !l.starts_with("oci-compliance: scanning")).map(String::from).collect();
        assert_eq!(lines, vec![word.to_string()], "{signal}");
        ws.assert_no_leftovers();
        assert!(ws.report_files().is_empty(), "an interrupted scan writes no report");
        // podman was killed with the scan, not left pulling.
        assert!(wait_for(Duration::from_secs(10), || !alive(pull)), "podman pull (pid {pull}) outlived the scan");
    }
}

#[test]
fn podman_missing_is_20() {
    env();
    let ws = Workspace::new("hard-ws");
    let empty = ws.path().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let scan = scanner(&ws).arg("127.0.0.1:5055/hard/x:1").env("PATH", &empty).run();
    scan.assert_code(20);
    scan.one_error_line(&["podman not found"]);
    ws.assert_no_leftovers();
    assert!(ws.report_files().is_empty());
    // An explicit --podman that does not exist says which command could not run.
    let scan = scan_in(&ws, &["--podman", "/nonexistent/podman", "127.0.0.1:5055/hard/x:1"], &[]);
    scan.assert_code(20);
    scan.one_error_line(&["cannot run podman", "No such file or directory"]);
    ws.assert_no_leftovers();
}

#[test]
fn a_layer_directory_that_is_gone_is_25() {
    env();
    let img = small_image(&unique_name("hard-vanish"), false);
    let ws = Workspace::new("hard-ws");
    // podman as usual, except that `image inspect` points UpperDir somewhere that is gone.
    let wrapper = ws.path().join("podman-vanish");
    script(
        &wrapper,
        &format!(
            r#"#!/bin/sh
if [ "$1" = image ] && [ "$2" = inspect ]; then
    out=$('{real}' "$@") || {{ rc=$?; printf '%s\n' "$out"; exit $rc; }}
    printf '%s\n' "$out" | sed -E 's#("UpperDir": ")[^"]*#\1/nonexistent/hard-vanished/diff#'
    exit 0
fi
exec '{real}' "$@"
"#,
            real = real_podman().display()
        ),
    );
    let scan = scan_in(&ws, &["--pull", "never", "--podman", wrapper.to_str().unwrap(), &img.name], &[]);
    scan.assert_code(25);
    scan.one_error_line(&["could not be evaluated", "/nonexistent/hard-vanished/diff"]);
    ws.assert_no_leftovers();
    let r = ws.report();
    assert_eq!(r["summary"]["verdict"], "error");
    let suid = r["checks"].as_array().unwrap().iter().find(|c| c["id"] == "suid-files").unwrap();
    assert_eq!(suid["status"], "error", "a layer that was not read is never a pass");
}

#[test]
fn a_full_reports_directory_is_23_and_leaves_no_partial_report() {
    env();
    let img = pushed_small_image("full-reports", false);
    let ws = Workspace::new("hard-ws");
    let _m = Mount::tmpfs(&ws.reports, "16k");
    // Fill it up, so the report cannot be written whatever its size.
    {
        use std::io::Write;
        let mut f = std::fs::File::create(ws.reports.join("filler")).unwrap();
        while f.write_all(&[b'x'; 4096]).is_ok() {}
    }
    let scan = scan_in(&ws, &["--pull", "always", &img.name], &[("DOCKER_AUTH_CONFIG", &good_auth())]);
    scan.assert_code(23);
    scan.one_error_line(&["cannot write report", "No space left on device"]);
    ws.assert_no_leftovers();
    let names: Vec<String> = std::fs::read_dir(&ws.reports)
        .unwrap()
        .map(|d| d.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["filler".to_string()], "no partial report");
}

#[test]
fn a_read_only_reports_directory_is_23() {
    env();
    let img = small_image(&unique_name("hard-ro"), false);
    let ws = Workspace::new("hard-ws");
    let _m = Mount::read_only(&ws.reports);
    let scan = scan_in(&ws, &["--pull", "never", &img.name], &[]);
    scan.assert_code(23);
    scan.one_error_line(&["is not writable", "Read-only file system"]);
    ws.assert_no_leftovers();
    assert!(ws.report_files().is_empty());
    // A reports directory still to be created below the read-only one.
    let scan =
        scanner(&ws).args(["--pull", "never", &img.name]).env("COMPLIANCE_REPORTS_DIR", ws.reports.join("sub")).run();
    scan.assert_code(23);
    scan.one_error_line(&["cannot create reports directory", "Read-only file system"]);
}

// --- 3. credentials ---------------------------------------------------------------------

/// A podman shim that records, per call, its argv, its whole environment and, for every
/// `--authfile`, the mode/owner/type of the file and of its directory at that moment.
fn recording_shim(ws: &Workspace) -> (std::path::PathBuf, std::path::PathBuf) {
    let log = ws.path().join("calls");
    std::fs::create_dir_all(&log).unwrap();
    let shim = ws.path().join("podman-recorder");
    script(
        &shim,
        &format!(
            r#"#!/bin/bash
n=$(date +%s%N)-$$
d='{log}'
printf '%s\0' "$@" > "$d/$n.argv"
cat /proc/$$/environ > "$d/$n.env"
prev=
for a in "$@"; do
    if [ "$prev" = --authfile ]; then
        {{ stat -c '%a %u %F' "$a"; stat -c '%a %u %F' "$(dirname "$a")"; printf '%s\n' "$a"; }} > "$d/$n.authfile"
    fi
    prev=$a
done
exec '{real}' "$@"
"#,
            log = log.display(),
            real = real_podman().display()
        ),
    );
    (shim, log)
}

struct Call {
    argv: Vec<String>,
    env: Vec<u8>,
    authfile: Option<(String, String, String)>,
}

fn calls(log: &Path) -> Vec<Call> {
    let mut names: Vec<String> = std::fs::read_dir(log)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter_map(|n| n.strip_suffix(".argv").map(String::from))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let argv = std::fs::read(log.join(format!("{n}.argv"))).unwrap();
            let argv = argv
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let env = std::fs::read(log.join(format!("{n}.env"))).unwrap();
            let authfile = std::fs::read_to_string(log.join(format!("{n}.authfile"))).ok().map(|t| {
                let l: Vec<&str> = t.lines().collect();
                (l[0].to_string(), l[1].to_string(), l[2].to_string())
            });
            Call { argv, env, authfile }
        })
        .collect()
}

#[test]
fn the_password_never_reaches_a_child_and_the_authfile_is_private_and_removed() {
    let e = env();
    let img = pushed_small_image("credentials", false);
    let wrong = format!("Wr0ng-hard-{}-QZX", std::process::id());
    // (what, variables, the password they carry, exit code)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str, i32);
    let cases: Vec<Case> = vec![
        ("DOCKER_AUTH_CONFIG", vec![("DOCKER_AUTH_CONFIG", good_auth())], &e.password, 0),
        (
            "CI_REGISTRY_*",
            vec![
                ("CI_REGISTRY", e.registry.clone()),
                ("CI_REGISTRY_USER", e.user.clone()),
                ("CI_REGISTRY_PASSWORD", e.password.clone()),
            ],
            &e.password,
            0,
        ),
        (
            "DOCKER_AUTH_CONFIG, wrong password",
            vec![("DOCKER_AUTH_CONFIG", auth_config(&e.registry, &e.user, &wrong))],
            &wrong,
            20,
        ),
        (
            "CI_REGISTRY_*, wrong password",
            vec![
                ("CI_REGISTRY", e.registry.clone()),
                ("CI_REGISTRY_USER", e.user.clone()),
                ("CI_REGISTRY_PASSWORD", wrong.clone()),
            ],
            &wrong,
            20,
        ),
    ];
    for (what, vars, password, code) in cases {
        let ws = Workspace::new("hard-ws");
        let (shim, log) = recording_shim(&ws);
        let envs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let scan = scan_in(&ws, &["--pull", "always", "--podman", shim.to_str().unwrap(), &img.name], &envs);
        scan.assert_code(code);
        if code == 20 {
            scan.one_error_line(&["invalid username/password"]);
        }
        let secrets = [password.to_string(), b64(&format!("{}:{password}", e.user)), b64(password)];
        let recorded = calls(&log);
        assert!(
            recorded.iter().any(|c| c.argv.first().map(String::as_str) == Some("login")),
            "{what}: no podman login"
        );
        if code == 0 {
            assert!(recorded.iter().any(|c| c.argv.first().map(String::as_str) == Some("pull")), "{what}: no pull");
        }
        let mut seen_authfiles = 0;
        for c in &recorded {
            for s in &secrets {
                assert!(!c.argv.iter().any(|a| a.contains(s.as_str())), "{what}: secret in argv {:?}", c.argv);
                assert!(!contains(&c.env, s.as_bytes()), "{what}: secret in the environment of podman {:?}", c.argv);
            }
            for var in ["DOCKER_AUTH_CONFIG=", "CI_REGISTRY_PASSWORD="] {
                assert!(
                    !c.env.split(|&b| b == 0).any(|kv| kv.starts_with(var.as_bytes())),
                    "{what}: {var} passed to podman"
                );
            }
            if c.argv.iter().any(|a| a == "--authfile") {
                let (file, dir, path) = c.authfile.clone().expect("the shim saw the authfile");
                assert_eq!(file, "600 0 regular file", "{what}: authfile {path}");
                assert_eq!(dir, "700 0 directory", "{what}: authfile directory of {path}");
                assert!(path.starts_with(ws.tmp.to_str().unwrap()), "{what}: authfile outside TMPDIR: {path}");
                assert!(!Path::new(&path).exists(), "{what}: {path} left behind");
                assert!(!Path::new(&path).parent().unwrap().exists(), "{what}: directory of {path} left behind");
                seen_authfiles += 1;
            }
        }
        assert!(seen_authfiles >= 1, "{what}: podman was never given the private authfile");
        let mut outputs =
            vec![("stdout".to_string(), scan.stdout_bytes.clone()), ("stderr".to_string(), scan.stderr_bytes.clone())];
        outputs.extend(read_all(&ws.reports).into_iter().map(|(p, d)| (p.display().to_string(), d)));
        for (name, data) in &outputs {
            for s in &secrets {
                assert!(!contains(data, s.as_bytes()), "{what}: secret in {name}");
            }
        }
        ws.assert_no_leftovers();
    }
    // The default authfile of the test environment was never written.
    let default = std::fs::read_to_string(&e.auth_file).unwrap();
    assert!(!default.contains(&e.registry), "{default}");
}

// --- 5. concurrency ---------------------------------------------------------------------

#[test]
fn two_scans_of_different_images_at_once_on_the_same_storage_both_succeed() {
    let a = pushed_small_image("concurrent-a", false);
    let b = pushed_small_image("concurrent-b", true);
    let auth = good_auth();
    for round in 0..2 {
        let (wa, wb) = (Workspace::new("hard-ws"), Workspace::new("hard-ws"));
        let (ca, cb) = (
            scanner(&wa).args(["--pull", "always", &a.name]).env("DOCKER_AUTH_CONFIG", &auth).spawn(),
            scanner(&wb).args(["--pull", "always", &b.name]).env("DOCKER_AUTH_CONFIG", &auth).spawn(),
        );
        let (sa, sb) = (ca.finish(Duration::from_secs(180)), cb.finish(Duration::from_secs(180)));
        sa.assert_code(0);
        sb.assert_code(12);
        for (ws, img, suid) in [(&wa, &a.name, 0), (&wb, &b.name, 1)] {
            ws.assert_no_leftovers();
            let r = ws.report();
            assert_eq!(r["image"]["reference"], img.as_str(), "round {round}");
            let c = r["checks"].as_array().unwrap().iter().find(|c| c["id"] == "suid-files").unwrap();
            assert_eq!(c["findings"].as_array().unwrap().len(), suid, "round {round}: {c}");
            assert!(r["layers"][0]["errors"].as_array().unwrap().is_empty());
        }
    }
}
