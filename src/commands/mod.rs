//! The subcommands. Each returns the process exit code its run decided, or the failure
//! that stopped it.

mod checks;
pub mod merge;
mod scan;

use crate::cli::{Cli, Command};
use crate::config::{ProcessEnv, ScanConfig};
use crate::exit::Failure;

pub async fn run(cli: Cli) -> Result<u8, Failure> {
    match cli.command {
        Command::Checks { policy, standard: Some(id) } => checks::standard(&id, policy.as_deref()),
        Command::Checks { policy, standard: None } => checks::checks(policy.as_deref()),
        Command::Explain { id } => checks::explain_id(&id),
        Command::Scan(args) => {
            let cfg = if args.userns_child {
                let env = crate::userns::ChildEnv(crate::userns::child_setup()?);
                ScanConfig::from_args(*args, &env)?
            } else {
                ScanConfig::from_args(*args, &ProcessEnv)?
            };
            scan::scan(cfg).await
        }
        Command::Merge(args) => merge::merge(args, &ProcessEnv),
    }
}
