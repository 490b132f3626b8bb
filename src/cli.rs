//! Command-line interface. Every CI setting is also an environment variable, so the job
//! image is configured by the environment alone.

use crate::podman::PullPolicy;
use crate::render::Format;
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
    // Boxed: the scan options dwarf the other commands.
    Scan(Box<ScanArgs>),
    /// List every check: id, default and effective severity, title.
    Checks {
        /// Policy file whose severities and disabled checks to show.
        #[arg(long, env = "COMPLIANCE_POLICY", value_name = "FILE")]
        policy: Option<PathBuf>,
        /// Instead, the coverage of a standard item by item: cis-docker-1.6, nist-800-190 or
        /// disa-cidg-2r0.6.
        #[arg(long, value_name = "ID")]
        standard: Option<String>,
    },
    /// Print a check's rationale and remediation.
    Explain {
        /// A check id, e.g. suid-files.
        id: String,
    },
    /// Combine the JSON reports of several scans into one summary; the exit code follows the
    /// same contract as `scan`, over all images.
    Merge(MergeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

/// Where images are read from (see `--source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    Auto,
    Storage,
    Registry,
}

impl From<SourceArg> for crate::model::SourceChoice {
    fn from(s: SourceArg) -> Self {
        match s {
            SourceArg::Auto => crate::model::SourceChoice::Auto,
            SourceArg::Storage => crate::model::SourceChoice::Storage,
            SourceArg::Registry => crate::model::SourceChoice::Registry,
        }
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Image references, as podman takes them (transports included).
    #[arg(env = "COMPLIANCE_IMAGE_FULL_REF", value_name = "IMAGE")]
    pub images: Vec<String>,

    /// A file listing images to scan, one reference per line (# comments, blank lines ignored).
    #[arg(long, env = "COMPLIANCE_IMAGES_FILE", value_name = "FILE")]
    pub images_file: Option<PathBuf>,

    /// Images scanned at the same time.
    #[arg(long, env = "COMPLIANCE_JOBS", default_value = "1", value_name = "N")]
    pub jobs: usize,

    /// This runner's share of the images (1-based), as GitLab's `parallel: N` sets it.
    #[arg(long, env = "CI_NODE_INDEX", value_name = "I", requires = "shard_total")]
    pub shard_index: Option<usize>,

    /// How many runners share the images.
    #[arg(long, env = "CI_NODE_TOTAL", value_name = "N")]
    pub shard_total: Option<usize>,

    /// Print the images this run would scan (after sharding) and exit.
    #[arg(long)]
    pub list_images: bool,

    /// Where images are read from: storage (podman pull into containers/storage, then the
    /// stored layers), registry (the blobs straight from the registry or archive through
    /// skopeo: no image store, no privileges), or auto: storage for containers-storage:
    /// references, image IDs, --pull never and images already in local storage (unless
    /// --pull always), registry otherwise.
    #[arg(long, env = "COMPLIANCE_SOURCE", value_enum, default_value = "auto")]
    pub source: SourceArg,

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

    /// More report formats, each written next to the JSON report as <image>.<extension>:
    /// html, markdown (.md), junit (.junit.xml), codequality (.codequality.json), sarif
    /// (.sarif), legacy-json (.legacy.json), cyclonedx (.cdx.json: an SBOM of the installed
    /// packages). Repeatable or comma-separated.
    #[arg(long = "format", env = "COMPLIANCE_FORMATS", value_parser = parse_formats, value_name = "FORMAT[,FORMAT…]")]
    pub formats: Vec<Formats>,

    /// A directory of Handlebars templates replacing built-in ones of the same file name.
    /// (An empty value means none.)
    #[arg(long = "templates", env = "COMPLIANCE_TEMPLATES_DIR", value_name = "DIR")]
    pub templates: Option<String>,

    /// Policy file (TOML): waivers, severity overrides, required labels, thresholds.
    #[arg(long, env = "COMPLIANCE_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Failed checks below this severity are reported but do not fail the gate
    /// (overrides the policy's fail_on).
    #[arg(long, env = "COMPLIANCE_FAIL_ON", value_parser = parse_severity, value_name = "SEVERITY")]
    pub fail_on: Option<crate::model::Severity>,

    /// The podman executable (default: podman from PATH).
    #[arg(long, env = "COMPLIANCE_PODMAN", value_name = "PATH")]
    pub podman: Option<PathBuf>,

    /// The skopeo executable (default: skopeo from PATH).
    #[arg(long, env = "COMPLIANCE_SKOPEO", value_name = "PATH")]
    pub skopeo: Option<PathBuf>,

    /// containers/storage root directory (podman --root); also where layer directories are
    /// looked for.
    #[arg(long, env = "COMPLIANCE_STORAGE_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// containers/storage state directory (podman --runroot).
    #[arg(long, env = "COMPLIANCE_STORAGE_RUNROOT", value_name = "DIR")]
    pub runroot: Option<PathBuf>,

    /// containers/storage driver (podman --storage-driver); overlay and vfs can be read.
    #[arg(long, env = "COMPLIANCE_STORAGE_DRIVER", value_name = "DRIVER")]
    pub storage_driver: Option<String>,

    /// The platform to scan from a multi-arch image, os/arch[/variant] (podman pull
    /// --platform); the image found must be that platform.
    #[arg(long, env = "COMPLIANCE_PLATFORM", value_parser = parse_platform, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<crate::platform::Platform>,

    /// The base image the scanned images are built on: its layers (which must be the bottom
    /// of each image's) are `base`, the rest `own`. Without it the base is taken from the
    /// image's org.opencontainers.image.base.* annotations or labels, else the build history.
    #[arg(long, env = "COMPLIANCE_BASE_IMAGE", value_name = "REF")]
    pub base_image: Option<String>,

    /// Internal: set on the re-executed scan inside podman's user namespace (rootless),
    /// which then reads the registry secrets from standard input.
    #[arg(long, hide = true)]
    pub userns_child: bool,

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

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports written by `scan`. Other outputs of this tool (.codequality.json,
    /// .legacy.json, .sarif, .junit.xml, .md, .html, scan and merge summaries) are skipped.
    #[arg(required = true, value_name = "REPORT.json")]
    pub reports: Vec<PathBuf>,

    /// Formats of the summary besides JSON: html, markdown, junit, codequality, sarif,
    /// legacy-json, cyclonedx. Repeatable or comma-separated.
    #[arg(long = "format", env = "COMPLIANCE_FORMATS", value_parser = parse_formats, value_name = "FORMAT[,FORMAT…]")]
    pub formats: Vec<Formats>,

    /// A directory of Handlebars templates replacing built-in ones of the same file name.
    /// (An empty value means none.)
    #[arg(long = "templates", env = "COMPLIANCE_TEMPLATES_DIR", value_name = "DIR")]
    pub templates: Option<String>,

    /// Where the summary files are written (created if missing, never emptied).
    #[arg(long, env = "COMPLIANCE_REPORTS_DIR", default_value = "reports", value_name = "DIR")]
    pub reports_dir: PathBuf,

    /// Base name of the merged files: <NAME>.json, <NAME>.html, … (not "summary": a
    /// multi-image scan writes its own summary.json).
    #[arg(long, env = "COMPLIANCE_MERGE_NAME", default_value = "merged", value_name = "NAME")]
    pub name: String,

    /// Colour in the console summary (auto: only on a terminal and without NO_COLOR).
    #[arg(long, env = "COMPLIANCE_COLOR", value_enum, default_value = "auto")]
    pub color: Color,

    /// Exit code when the worst failed check is Critical (default: as the reports were written).
    #[arg(long, env = "CRITICAL_EXIT_CODE", value_parser = parse_exit_code)]
    pub critical_exit_code: Option<u8>,
    /// Exit code when the worst failed check is High (default: as the reports were written).
    #[arg(long, env = "HIGH_EXIT_CODE", value_parser = parse_exit_code)]
    pub high_exit_code: Option<u8>,
    /// Exit code when the worst failed check is Medium (default: as the reports were written).
    #[arg(long, env = "MEDIUM_EXIT_CODE", value_parser = parse_exit_code)]
    pub medium_exit_code: Option<u8>,
    /// Exit code when the worst failed check is Low (default: as the reports were written).
    #[arg(long, env = "LOW_EXIT_CODE", value_parser = parse_exit_code)]
    pub low_exit_code: Option<u8>,
    /// Exit code when nothing above Informational failed (default: as the reports were written).
    #[arg(long, env = "INFORMATIONAL_EXIT_CODE", value_parser = parse_exit_code)]
    pub informational_exit_code: Option<u8>,
}

/// Formats as given once: comma- or space-separated, empty allowed (an empty
/// COMPLIANCE_FORMATS in a CI file means "none").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formats(pub Vec<Format>);

pub fn parse_formats(s: &str) -> Result<Formats, String> {
    use clap::ValueEnum;
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
        .map(|p| {
            Format::from_str(p, true).map_err(|_| {
                let known: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                format!("unknown report format {p:?} (known: {}; md for markdown)", known.join(", "))
            })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Formats)
}

/// Every format given, in order.
pub fn flatten_formats(f: &[Formats]) -> Vec<Format> {
    f.iter().flat_map(|l| l.0.iter().copied()).collect()
}

pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean (true/false, 1/0, yes/no, on/off)")),
    }
}

pub fn parse_severity(s: &str) -> Result<crate::model::Severity, String> {
    crate::model::Severity::parse(s.trim())
        .ok_or_else(|| format!("{s:?} is not a severity (critical, high, medium, low, informational)"))
}

pub fn parse_platform(s: &str) -> Result<crate::platform::Platform, String> {
    crate::platform::Platform::parse(s)
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
    fn formats_repeat_or_split_on_commas() {
        let cli = Cli::try_parse_from([
            "oci-compliance",
            "scan",
            "--format",
            "html,junit",
            "--format",
            "sarif",
            "--format",
            "md",
            "x",
        ])
        .unwrap();
        let Command::Scan(a) = cli.command else { panic!() };
        assert_eq!(flatten_formats(&a.formats), [Format::Html, Format::Junit, Format::Sarif, Format::Markdown]);
        assert!(Cli::try_parse_from(["oci-compliance", "scan", "--format", "pdf", "x"]).is_err());
        let cli =
            Cli::try_parse_from(["oci-compliance", "merge", "a.json", "b.json", "--format", "legacy-json,codequality"])
                .unwrap();
        let Command::Merge(m) = cli.command else { panic!() };
        assert_eq!(flatten_formats(&m.formats), [Format::LegacyJson, Format::Codequality]);
        assert_eq!(parse_formats(" html, JUnit ,,").unwrap().0, [Format::Html, Format::Junit]);
        assert_eq!(parse_formats("").unwrap().0, []);
        assert!(parse_formats("html,pdf").unwrap_err().contains("\"pdf\""));
        assert_eq!(m.reports.len(), 2);
        assert_eq!(m.critical_exit_code, None);
        assert!(Cli::try_parse_from(["oci-compliance", "merge"]).is_err(), "at least one report");
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
