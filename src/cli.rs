//! Command-line interface. Every CI setting is also an environment variable, so the job
//! image is configured by the environment alone.

use crate::podman::PullPolicy;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "oci-compliance", version, about = "Audit finished container images against build best practices")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan one or more images and write reports; the exit code gates.
    Scan(ScanArgs),
    /// List every check: id, default and effective severity, title.
    Checks {
        /// Policy file whose severities and disabled checks to show.
        #[arg(long, env = "COMPLIANCE_POLICY", value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Print a check's rationale and remediation.
    Explain {
        /// A check id, e.g. suid-files.
        id: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Image references, as podman takes them (transports included).
    #[arg(env = "COMPLIANCE_IMAGE_FULL_REF", value_name = "IMAGE")]
    pub images: Vec<String>,

    /// When to pull: always, missing (only if not in local storage) or never.
    #[arg(long, env = "COMPLIANCE_PULL", value_enum, default_value = "missing")]
    pub pull: PullPolicy,

    /// Verify the registry's TLS certificate (passed to podman login and pull).
    #[arg(long, env = "COMPLIANCE_TLS_VERIFY", value_parser = parse_bool, value_name = "BOOL")]
    pub tls_verify: Option<bool>,

    /// Where report files are written (created if missing, never emptied).
    #[arg(long, env = "COMPLIANCE_REPORTS_DIR", default_value = "reports", value_name = "DIR")]
    pub reports_dir: PathBuf,

    /// Also print the JSON report on standard output (the console report goes to stderr).
    // require_equals: without it `--json-stdout IMAGE` takes the image as the flag's value.
    #[arg(long, env = "COMPLIANCE_JSON_STDOUT", value_parser = parse_bool, default_value = "false",
          num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub json_stdout: bool,

    /// Colour in the console report (auto: only on a terminal and without NO_COLOR).
    #[arg(long, env = "COMPLIANCE_COLOR", value_enum, default_value = "auto")]
    pub color: Color,

    /// Policy file (TOML): waivers, severity overrides, required labels, thresholds.
    #[arg(long, env = "COMPLIANCE_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Failed checks below this severity are reported but do not fail the gate
    /// (overrides the policy's fail_on).
    #[arg(long, env = "COMPLIANCE_FAIL_ON", value_parser = parse_severity, value_name = "SEVERITY")]
    pub fail_on: Option<crate::rules::Severity>,

    /// The podman executable (default: podman from PATH).
    #[arg(long, env = "COMPLIANCE_PODMAN", value_name = "PATH")]
    pub podman: Option<PathBuf>,

    /// Threads walking layers in parallel (default: the number of CPUs).
    #[arg(long, env = "COMPLIANCE_WALK_THREADS", value_name = "N")]
    pub walk_threads: Option<usize>,

    /// Exit code when the worst failed check is Critical.
    #[arg(long, env = "CRITICAL_EXIT_CODE", value_parser = parse_exit_code, default_value = "12")]
    pub critical_exit_code: u8,
    /// Exit code when the worst failed check is High.
    #[arg(long, env = "HIGH_EXIT_CODE", value_parser = parse_exit_code, default_value = "13")]
    pub high_exit_code: u8,
    /// Exit code when the worst failed check is Medium.
    #[arg(long, env = "MEDIUM_EXIT_CODE", value_parser = parse_exit_code, default_value = "14")]
    pub medium_exit_code: u8,
    /// Exit code when the worst failed check is Low.
    #[arg(long, env = "LOW_EXIT_CODE", value_parser = parse_exit_code, default_value = "15")]
    pub low_exit_code: u8,
    /// Exit code when nothing above Informational failed.
    #[arg(long, env = "INFORMATIONAL_EXIT_CODE", value_parser = parse_exit_code, default_value = "0")]
    pub informational_exit_code: u8,
}

pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean (true/false, 1/0, yes/no, on/off)")),
    }
}

pub fn parse_severity(s: &str) -> Result<crate::rules::Severity, String> {
    crate::rules::Severity::parse(s.trim())
        .ok_or_else(|| format!("{s:?} is not a severity (critical, high, medium, low, informational)"))
}

pub fn parse_exit_code(s: &str) -> Result<u8, String> {
    s.trim().parse::<u8>().map_err(|_| format!("{s:?} is not an exit code (an integer from 0 to 255)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn exit_codes_must_be_integers() {
        assert_eq!(parse_exit_code("0"), Ok(0));
        assert_eq!(parse_exit_code("255"), Ok(255));
        for bad in ["-1", "256", "x", "1.5", ""] {
            assert!(parse_exit_code(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_stdout_flag_does_not_swallow_the_image() {
        let parse = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Scan(a) => (a.json_stdout, a.images),
            _ => unreachable!(),
        };
        assert_eq!(parse(&["x", "scan", "--json-stdout", "reg.io/app:1"]), (true, vec!["reg.io/app:1".to_string()]));
        assert_eq!(parse(&["x", "scan", "--json-stdout=false", "a:1"]), (false, vec!["a:1".to_string()]));
        assert_eq!(parse(&["x", "scan", "a:1", "--json-stdout"]), (true, vec!["a:1".to_string()]));
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool("FALSE"), Ok(false));
        assert_eq!(parse_bool("yes"), Ok(true));
        assert!(parse_bool("maybe").is_err());
    }
}
