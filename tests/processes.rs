//! What the scan runs: a scan of an image already in storage starts podman once (inspect)
//! and nothing else — no find, no shell, no process per name in the lists. And what it
//! holds: containers/storage's shared layer-store lock while it reads layer files.

use crate::support::*;
use std::ffi::OsString;

/// Scan `image` (already in `store`, exit 12 expected) under `strace -f -e FILTER`; the log.
fn traced_scan(store: &Store, image: &str, filter: &str) -> String {
    let work = Scratch::new("trace");
    let trace = work.path().join("trace");
    let mut strace = ["strace", "-f", "-qq", "-e", filter, "-e", "signal=none", "-o"].map(OsString::from).to_vec();
    strace.push(trace.clone().into());
    let out = scan(store)
        .prefix(&strace)
        .args(["--pull", "never", "--color", "never"])
        .arg(format!("containers-storage:{image}"))
        .run();
    assert_eq!(out.code, Some(12), "strace (apt-get install strace) runs the scanner\n{}", out.dump());
    std::fs::read_to_string(&trace).unwrap()
}

#[test]
fn a_local_scan_runs_one_podman_and_no_find_or_shell() {
    let store = Store::new("procs");
    let spec = ImageSpec::new(vec![layer(
        "ADD tree",
        vec![file("/usr/bin/su", 0o4755, "x"), exe("/usr/bin/gcc-12"), link("/usr/bin/gcc", "gcc-12"), exe("/bin/sh")],
    )]);
    build_scratch(&store, "localhost/procs:1", &spec);

    let log = traced_scan(&store, "localhost/procs:1", "trace=execve,execveat");
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
        assert!(!programs.iter().any(|p| p.rsplit('/').next() == Some(banned)), "{banned} was run: {programs:?}");
    }
    assert!(log.contains("\"image\", \"inspect\""), "the one podman call is the inspect:\n{log}");
}

/// The scan reads layer directories under the shared lock podman takes to read them, so a
/// `podman rmi` beside it waits instead of deleting files from under the walk.
#[test]
fn layer_files_are_read_under_the_layer_store_read_lock() {
    let store = Store::new("lock");
    let spec = ImageSpec::new(vec![
        layer("ADD base", vec![file("/usr/bin/su", 0o4755, "x"), exe("/bin/sh")]),
        layer("ADD app", vec![file("/app/run", 0o755, "y")]),
    ]);
    build_scratch(&store, "localhost/lock:1", &spec);
    let lock_file = store.graphroot.join("overlay-layers/layers.lock");
    assert!(lock_file.is_file(), "containers/storage keeps {}", lock_file.display());

    // The premise: podman 4's rmi waits while another process holds the read lock.
    build_scratch(&store, "localhost/lock-victim:1", &ImageSpec::new(vec![layer("ADD v", vec![exe("/v")])]));
    let mut holder = clean_command("python3")
        .arg("-c")
        .arg(
            "import fcntl,sys,time\nf=open(sys.argv[1],'rb')\nfcntl.lockf(f,fcntl.LOCK_SH)\n\
             print('held',flush=True)\nsys.stdin.read()\n",
        )
        .arg(&lock_file)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "held");
    let mut rmi = store.cmd("podman");
    rmi.args(["rmi", "localhost/lock-victim:1"]).stdout(std::process::Stdio::null());
    let mut rmi = rmi.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(rmi.try_wait().unwrap().is_none(), "podman rmi went ahead under a read lock");
    drop(holder.stdin.take());
    holder.wait().unwrap();
    assert!(rmi.wait().unwrap().success());

    // The scan: the lock file is opened and read-locked before any layer directory is
    // opened, and closed (unlocked) only after the last one is read.
    let log = traced_scan(&store, "localhost/lock:1", "trace=openat,fcntl,close,getdents64");
    let lines: Vec<&str> = log.lines().collect();
    // podman (traced too) locks the file as well, opened read-write; the scanner opens it
    // read-only, and locks and closes it on the same thread.
    let lock_path = lock_file.to_str().unwrap();
    let opened: Vec<(usize, &str, String)> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.contains("openat(") && l.contains(lock_path) && l.contains("O_RDONLY") && !l.contains("= -1")
        })
        .filter_map(|(i, l)| {
            let pid = l.split_whitespace().next()?;
            let fd = l.rsplit("= ").next()?.trim().to_string();
            Some((i, pid, fd))
        })
        .collect();
    let layer_opens: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            l.contains("openat(") && l.contains("/overlay/") && l.contains("/diff\"") && !l.contains("= -1")
        })
        .map(|(i, _)| i)
        .collect();
    assert!(!layer_opens.is_empty(), "the scan opened no layer directory:\n{log}");
    let (first_layer, last_read) = (layer_opens[0], lines.iter().rposition(|l| l.contains("getdents64(")).unwrap());
    let held = opened.iter().find_map(|(i, pid, fd)| {
        let locked = lines[*i..].iter().position(|l| {
            l.starts_with(pid)
                && l.contains(&format!("fcntl({fd}, F_SETLK"))
                && l.contains("F_RDLCK")
                && l.trim_end().ends_with("= 0")
        })? + i;
        let closed =
            lines[locked..].iter().position(|l| l.starts_with(pid) && l.contains(&format!("close({fd})")))? + locked;
        (locked < first_layer).then_some((locked, closed))
    });
    let (locked, closed) =
        held.unwrap_or_else(|| panic!("no read lock on {lock_path} before the layers were opened:\n{log}"));
    assert!(
        locked < first_layer && closed > last_read,
        "lock {locked}, first layer {first_layer}, last read {last_read}, unlock {closed}"
    );
}
