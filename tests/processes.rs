//! What the scan runs: a scan of an image already in storage starts podman once (inspect)
//! and nothing else — no find, no shell, no process per name in the lists.

mod common;

use common::*;
use std::process::Command;

#[test]
fn a_local_scan_runs_one_podman_and_no_find_or_shell() {
    let store = Storage::new("procs");
    let spec = ImageSpec::new(vec![layer(
        "ADD tree",
        vec![file("/usr/bin/su", 0o4755, "x"), exe("/usr/bin/gcc-12"), link("/usr/bin/gcc", "gcc-12"), exe("/bin/sh")],
    )]);
    build_scratch(&store, "localhost/procs:1", &spec);

    let work = temp_dir("procs-trace");
    let trace = work.path().join("trace");
    let reports = work.path().join("reports");
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-qq", "-e", "trace=execve,execveat", "-e", "signal=none", "-o"])
        .arg(&trace)
        .arg(BIN)
        .args(["scan", "--pull", "never", "--color", "never", "--reports-dir"])
        .arg(&reports)
        .arg("containers-storage:localhost/procs:1")
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    for (k, v) in store.envs() {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("strace (apt-get install strace) runs the scanner");
    assert_eq!(out.status.code(), Some(12), "{}", String::from_utf8_lossy(&out.stderr));

    let log = std::fs::read_to_string(&trace).unwrap();
    // Successful execs only: "… execve("/usr/bin/podman", [...], ...) = 0".
    let programs: Vec<String> = log
        .lines()
        .filter(|l| l.contains("execve") && l.trim_end().ends_with("= 0"))
        .filter_map(|l| l.split('"').nth(1).map(String::from))
        .collect();
    assert!(programs.first().is_some_and(|p| p.ends_with("/oci-compliance")), "{programs:?}");
    let name = |p: &String| p.rsplit('/').next().unwrap_or("").to_string();
    // podman itself runs `conmon --version`; that is podman's business, not the scanner's.
    let others: Vec<String> = programs.iter().skip(1).map(name).filter(|n| n != "conmon").collect();
    assert_eq!(others, ["podman"], "exactly one podman and nothing else expected\n{log}");
    for banned in ["find", "sh", "bash", "dash", "xargs", "stat", "ls"] {
        assert!(
            !programs.iter().any(|p| p.rsplit('/').next() == Some(banned)),
            "{banned} was run: {programs:?}"
        );
    }
    assert!(log.contains("\"image\", \"inspect\""), "the one podman call is the inspect:\n{log}");
}
