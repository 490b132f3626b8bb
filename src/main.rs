use clap::Parser;
use oci_compliance::cli::Cli;
use oci_compliance::exit::Operational;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(Operational::InvalidConfig.code()),
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("oci-compliance: error: cannot start the runtime: {e}");
            return ExitCode::from(Operational::CheckError.code());
        }
    };
    let code = runtime.block_on(run(cli));
    if code == 130 || code == 143 {
        // Interrupted: scans running as tasks were aborted; give them a moment to be dropped
        // (their private stores unmount, their podman children are killed), and remove any
        // authfile that is still there whatever happens.
        runtime.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(200)).await });
        oci_compliance::podman::auth::remove_live_authfiles();
    }
    // After SIGTERM/SIGINT a layer walk may still be running on a blocking thread; dropping
    // the runtime would wait for it (seconds to minutes on a big image), so do not.
    runtime.shutdown_background();
    ExitCode::from(code)
}

/// Runs until done or interrupted; an interruption drops the scan, which removes the
/// temporary authfile and kills podman children.
async fn run(cli: Cli) -> u8 {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("oci-compliance: error: cannot install signal handler: {e}");
            return Operational::CheckError.code();
        }
    };
    tokio::select! {
        r = oci_compliance::app::run(cli) => match r {
            Ok(code) => code,
            Err(f) => {
                eprintln!("oci-compliance: error: {f}");
                f.kind.code()
            }
        },
        _ = tokio::signal::ctrl_c() => { eprintln!("oci-compliance: interrupted"); 130 }
        _ = term.recv() => { eprintln!("oci-compliance: terminated"); 143 }
    }
}
