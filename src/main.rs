use clap::Parser;
use oci_compliance::cli::Cli;
use oci_compliance::exit::{Exit, Failure, Signal};
use oci_compliance::model::ErrorKind;
use oci_compliance::output;
use std::process::ExitCode;

fn main() -> ExitCode {
    let exit = run();
    if let Some(message) = exit.message() {
        output::note(message);
    }
    ExitCode::from(exit.code())
}

fn run() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => Exit::Done(0),
                _ => Exit::Done(ErrorKind::InvalidConfig.code()),
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => return Exit::Failed(Failure::new(ErrorKind::CheckError, format!("cannot start the runtime: {e}"))),
    };
    let exit = runtime.block_on(run_until_signal(cli));
    if let Exit::Interrupted(_) = exit {
        // Scans running as tasks were aborted; give them a moment to be dropped (their
        // private stores unmount, their podman children are killed), and remove any authfile
        // or blob cache that is still there whatever happens.
        runtime.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(200)).await });
        oci_compliance::fsutil::remove_live_private_dirs();
    }
    // After SIGTERM/SIGINT a layer walk may still be running on a blocking thread; dropping
    // the runtime would wait for it (seconds to minutes on a big image), so do not.
    runtime.shutdown_background();
    exit
}

/// Runs until done or interrupted; an interruption drops the scan, which removes the
/// temporary authfile and kills podman children.
async fn run_until_signal(cli: Cli) -> Exit {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            return Exit::Failed(Failure::new(ErrorKind::CheckError, format!("cannot install signal handler: {e}")))
        }
    };
    tokio::select! {
        r = oci_compliance::commands::run(cli) => Exit::from(r),
        _ = tokio::signal::ctrl_c() => Exit::Interrupted(Signal::Interrupt),
        _ = term.recv() => Exit::Interrupted(Signal::Terminate),
    }
}
