//! Validated settings for a scan, built once from flags and environment before any podman
//! call. Anything wrong here is an invalid configuration (exit 24), except a missing image
//! (22) and an unwritable reports directory (23).

use crate::cli::{Color, ScanArgs};
use crate::exit::{ExitCodes, Failure, Operational};
use crate::podman::auth::{self, AuthEntry, Credentials, Secret};
use crate::podman::{AcquireOptions, PullPolicy};
use crate::reference::ImageRef;
use crate::render::{Format, Renderer};
use crate::rules::RuleSettings;
use std::path::PathBuf;

#[derive(Debug)]
pub struct ScanConfig {
    pub images: Vec<ImageRef>,
    pub acquire: AcquireOptions,
    pub reports_dir: PathBuf,
    pub json_stdout: bool,
    pub color: bool,
    pub podman: Option<PathBuf>,
    pub walk_threads: usize,
    pub exit_codes: ExitCodes,
    pub rules: RuleSettings,
    /// Formats written besides JSON, each once, in a fixed order.
    pub formats: Vec<Format>,
    pub renderer: Renderer,
}

/// The process environment, as this tool reads it (injectable for tests).
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl ScanConfig {
    pub fn from_args(args: ScanArgs, env: &dyn Env) -> Result<ScanConfig, Failure> {
        let images = args
            .images
            .iter()
            .flat_map(|s| s.split_whitespace())
            .map(|s| ImageRef::parse(s).map_err(Failure::config))
            .collect::<Result<Vec<_>, _>>()?;
        if images.is_empty() {
            return Err(Failure::new(
                Operational::NoImage,
                "no image given: pass IMAGE arguments or set COMPLIANCE_IMAGE_FULL_REF",
            ));
        }
        let credentials = credentials(env)?;
        let color = match args.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => {
                use std::io::IsTerminal;
                env.var("NO_COLOR").is_none() && std::io::stdout().is_terminal()
            }
        };
        let walk_threads = match args.walk_threads {
            Some(0) => return Err(Failure::config("--walk-threads must be at least 1")),
            Some(n) => n,
            None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        };
        let renderer = load_renderer(args.templates.as_deref())?;
        let cfg = ScanConfig {
            images,
            acquire: AcquireOptions { pull: args.pull, tls_verify: args.tls_verify, credentials },
            reports_dir: args.reports_dir,
            json_stdout: args.json_stdout,
            color,
            podman: args.podman,
            walk_threads,
            exit_codes: ExitCodes {
                critical: args.critical_exit_code,
                high: args.high_exit_code,
                medium: args.medium_exit_code,
                low: args.low_exit_code,
                informational: args.informational_exit_code,
            },
            rules: RuleSettings::default(),
            formats: extra_formats(&crate::cli::flatten_formats(&args.formats)),
            renderer,
        };
        crate::fsutil::ensure_writable_dir(&cfg.reports_dir).map_err(|e| Failure::new(Operational::ReportsDir, e))?;
        Ok(cfg)
    }

    pub fn pull_policy(&self) -> PullPolicy {
        self.acquire.pull
    }
}

/// The formats to write besides JSON (always written): deduplicated, in a fixed order.
pub fn extra_formats(asked: &[Format]) -> Vec<Format> {
    let mut f: Vec<Format> = asked.iter().copied().filter(|f| *f != Format::Json).collect();
    f.sort();
    f.dedup();
    f
}

/// Compile the templates, built-in or overridden; a broken user template is invalid
/// configuration, reported before any podman call.
pub fn load_renderer(dir: Option<&str>) -> Result<Renderer, Failure> {
    Renderer::new(dir.filter(|d| !d.is_empty()).map(std::path::Path::new)).map_err(Failure::config)
}

/// DOCKER_AUTH_CONFIG first; CI_REGISTRY_* as the fallback for their own registry.
fn credentials(env: &dyn Env) -> Result<Credentials, Failure> {
    let entries = match env.var("DOCKER_AUTH_CONFIG") {
        Some(v) => auth::parse_docker_auth_config(&v).map_err(Failure::config)?,
        None => Vec::new(),
    };
    let ci_registry = match (env.var("CI_REGISTRY"), env.var("CI_REGISTRY_USER"), env.var("CI_REGISTRY_PASSWORD")) {
        (Some(r), Some(u), Some(p)) => Some(AuthEntry {
            key: auth::normalize_registry(&r),
            secret: Secret::UserPassword { username: u, password: p },
        }),
        _ => None,
    };
    Ok(Credentials { entries, ci_registry })
}
