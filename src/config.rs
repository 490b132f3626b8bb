//! Validated settings for a scan, built once from flags and environment before any podman
//! call. Anything wrong here is an invalid configuration (exit 24), except a missing image
//! (22) and an unwritable reports directory (23).

use crate::auth::{self, AuthEntry, Credentials, Secret};
use crate::cli::{Color, ScanArgs};
use crate::exit::Failure;
use crate::model::Policy;
use crate::model::Severity;
use crate::model::{ErrorKind, ExitCodes};
use crate::model::{SourceChoice, StoreOptions};
use crate::platform::Platform;
use crate::podman::{AcquireOptions, PullPolicy};
use crate::reference::{ImageRef, Transport};
use crate::render::{Format, Renderer};
use crate::rules::RuleSettings;
use std::path::PathBuf;

#[derive(Debug)]
pub struct ScanConfig {
    pub images: Vec<ImageRef>,
    /// Images in the whole list, before sharding.
    pub total_images: usize,
    pub jobs: usize,
    pub list_images: bool,
    pub acquire: AcquireOptions,
    pub source: SourceChoice,
    /// The skopeo executable (default: skopeo from PATH).
    pub skopeo: Option<PathBuf>,
    pub reports_dir: PathBuf,
    pub json_stdout: bool,
    pub color: bool,
    pub podman: Option<PathBuf>,
    /// --root / --runroot / --storage-driver for every podman call.
    pub storage: StoreOptions,
    /// Running as the re-executed scan inside podman's user namespace.
    pub userns_child: bool,
    pub walk_threads: usize,
    pub exit_codes: ExitCodes,
    pub rules: RuleSettings,
    pub policy: Policy,
    pub policy_file: Option<PathBuf>,
    pub fail_on: Severity,
    /// Formats written besides JSON, each once, in a fixed order.
    pub formats: Vec<Format>,
    pub renderer: Renderer,
    /// --base-image: the base every image is measured against.
    pub base_image: Option<ImageRef>,
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
    /// The podman to run, with this run's store options as global flags.
    pub fn podman_program(&self) -> Result<crate::command::Program, Failure> {
        let mut program = crate::command::Program::locate("podman", self.podman.clone())
            .map_err(|e| Failure::new(ErrorKind::PullFailed, e))?;
        program.global = self.storage.globals();
        Ok(program)
    }

    pub fn from_args(args: ScanArgs, env: &dyn Env) -> Result<ScanConfig, Failure> {
        let mut names: Vec<String> = args.images.iter().flat_map(|s| s.split_whitespace()).map(String::from).collect();
        if let Some(f) = &args.images_file {
            let text = std::fs::read_to_string(f)
                .map_err(|e| Failure::config(format!("cannot read images file {}: {e}", f.display())))?;
            names.extend(image_list(&text));
        }
        // The same reference twice would be scanned twice (maybe by two shards) into the
        // same report file: keep the first.
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        let images =
            names.iter().map(|s| ImageRef::parse(s).map_err(Failure::config)).collect::<Result<Vec<_>, _>>()?;
        if images.is_empty() {
            return Err(Failure::new(
                ErrorKind::NoImage,
                "no image given: pass IMAGE arguments, --images-file, or set COMPLIANCE_IMAGE_FULL_REF",
            ));
        }
        let total_images = images.len();
        // Sharding applies to image lists only: GitLab also sets CI_NODE_* for
        // `parallel: matrix` jobs, where each job names its own image.
        let (index, total) =
            if args.images_file.is_some() { (args.shard_index, args.shard_total) } else { (None, None) };
        let images = match (index, total) {
            (None, None) => images,
            (Some(i), Some(n)) if i >= 1 && i <= n => shard(images, i, n),
            // GitLab sets CI_NODE_TOTAL=1 (and no index) in every job without `parallel:`.
            (None, Some(1)) => images,
            (None, Some(_)) => return Err(Failure::config("CI_NODE_TOTAL is set but CI_NODE_INDEX is not")),
            (i, n) => {
                return Err(Failure::config(format!(
                    "shard index {} of {}: the index must be between 1 and the total",
                    i.map_or("-".into(), |v| v.to_string()),
                    n.map_or("-".into(), |v| v.to_string())
                )))
            }
        };
        if args.jobs == 0 {
            return Err(Failure::config("--jobs must be at least 1"));
        }
        if args.source == crate::cli::SourceArg::Registry {
            if args.pull == PullPolicy::Never {
                return Err(Failure::config(
                    "--source registry reads the image from its registry or archive; with --pull never use \
                     --source storage (or auto)",
                ));
            }
            if let Some(r) = images.iter().find(|r| r.transport == Transport::ContainersStorage || r.image_id.is_some())
            {
                return Err(Failure::config(format!(
                    "{} names an image in local storage; --source registry cannot read it (use storage or auto)",
                    crate::escape::text(&r.original)
                )));
            }
        }
        let credentials = credentials(env)?;
        let policy = match &args.policy {
            Some(p) => crate::engine::policy::load(p).map_err(Failure::config)?,
            None => Policy::default(),
        };
        let fail_on = args.fail_on.or(policy.fail_on).unwrap_or(Severity::Informational);
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
        let storage = StoreOptions {
            root: absolute(args.root, "--root")?,
            runroot: absolute(args.runroot, "--runroot")?,
            driver: match args.storage_driver.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(d) if d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') => {
                    Some(d.to_string())
                }
                Some(d) => return Err(Failure::config(format!("invalid --storage-driver {d:?}"))),
            },
        };
        if let Some(r) = &storage.runroot {
            if r.as_os_str().len() > crate::podman::MAX_RUNROOT {
                return Err(Failure::config(format!(
                    "--runroot {} is longer than the {} characters podman accepts",
                    r.display(),
                    crate::podman::MAX_RUNROOT
                )));
            }
        }
        let renderer = load_renderer(args.templates.as_deref())?;
        let base_image = match args.base_image.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(b) => Some(ImageRef::parse(b).map_err(|e| Failure::config(format!("--base-image: {e}")))?),
        };
        let cfg = ScanConfig {
            images,
            total_images,
            jobs: args.jobs,
            list_images: args.list_images,
            acquire: AcquireOptions {
                pull: args.pull,
                tls_verify: args.tls_verify,
                credentials,
                platform: args.platform,
            },
            source: args.source.into(),
            skopeo: args.skopeo,
            reports_dir: args.reports_dir,
            json_stdout: args.json_stdout,
            color,
            podman: args.podman,
            storage,
            userns_child: args.userns_child,
            walk_threads,
            exit_codes: ExitCodes {
                critical: args.critical_exit_code,
                high: args.high_exit_code,
                medium: args.medium_exit_code,
                low: args.low_exit_code,
                informational: args.informational_exit_code,
            },
            rules: crate::engine::policy::rule_settings(&policy),
            policy,
            policy_file: args.policy,
            fail_on,
            formats: extra_formats(&crate::cli::flatten_formats(&args.formats)),
            renderer,
            base_image,
        };
        crate::fsutil::ensure_writable_dir(&cfg.reports_dir).map_err(|e| Failure::new(ErrorKind::ReportsDir, e))?;
        Ok(cfg)
    }

    pub fn pull_policy(&self) -> PullPolicy {
        self.acquire.pull
    }

    pub fn platform(&self) -> Option<&Platform> {
        self.acquire.platform.as_ref()
    }
}

/// Store paths are made absolute here, so podman, the report and a re-executed scan all
/// mean the same directory. An empty value (e.g. an empty variable) means unset.
fn absolute(p: Option<PathBuf>, flag: &str) -> Result<Option<PathBuf>, Failure> {
    match p {
        None => Ok(None),
        Some(p) if p.as_os_str().is_empty() => Ok(None),
        Some(p) if p.is_absolute() => Ok(Some(p)),
        Some(p) => std::env::current_dir()
            .map(|cwd| Some(cwd.join(p)))
            .map_err(|e| Failure::config(format!("{flag}: cannot resolve a relative path: {e}"))),
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

/// References in an images file: one per line, `#` starts a comment.
pub fn image_list(text: &str) -> Vec<String> {
    text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).filter(|l| !l.is_empty()).map(String::from).collect()
}

/// Runner `index` (1-based) of `total` takes every total-th image starting at its own
/// position, so each image is scanned by exactly one runner and shards differ by at most one.
pub fn shard<T>(items: Vec<T>, index: usize, total: usize) -> Vec<T> {
    items.into_iter().enumerate().filter(|(i, _)| i % total == index - 1).map(|(_, x)| x).collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use std::collections::HashMap;

    struct MapEnv(HashMap<&'static str, String>);
    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn build(args: &[&str], env: &[(&'static str, &str)]) -> Result<ScanConfig, Failure> {
        let dir = tempfile::tempdir().unwrap();
        let reports = dir.path().join("r");
        let mut argv = vec!["oci-compliance", "scan", "--reports-dir", reports.to_str().unwrap()];
        argv.extend_from_slice(args);
        let Command::Scan(a) = Cli::try_parse_from(argv).unwrap().command else { unreachable!() };
        ScanConfig::from_args(*a, &MapEnv(env.iter().map(|(k, v)| (*k, v.to_string())).collect()))
    }

    #[test]
    fn shards_cover_every_image_exactly_once() {
        for count in 0..40usize {
            for total in 1..9 {
                let mut seen = vec![0; count];
                let mut sizes = Vec::new();
                for index in 1..=total {
                    let s = shard((0..count).collect(), index, total);
                    sizes.push(s.len());
                    for i in s {
                        seen[i] += 1;
                    }
                }
                assert!(seen.iter().all(|&n| n == 1), "{count} images over {total}");
                assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
            }
        }
    }

    #[test]
    fn images_file_and_bad_shards() {
        assert_eq!(image_list("a:1\n# c\n\n  b:2  # why\n"), ["a:1", "b:2"]);
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("images.txt");
        std::fs::write(&list, "x.io/a:1\nx.io/b:1\nx.io/c:1\n").unwrap();
        let f = list.to_str().unwrap();
        let e = build(&["--images-file", f, "--shard-index", "3", "--shard-total", "2"], &[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidConfig);
        let c = build(&["--images-file", f, "--shard-index", "2", "--shard-total", "2"], &[]).unwrap();
        assert_eq!(c.images.iter().map(|i| i.original.as_str()).collect::<Vec<_>>(), ["x.io/b:1"]);
        assert_eq!(c.total_images, 3);
        let c = build(&["--images-file", f, "x.io/a:1", "--shard-total", "1"], &[]).unwrap();
        assert_eq!(c.images.len(), 3, "a job without parallel: has CI_NODE_TOTAL=1 only; duplicates dropped");
        // Matrix jobs name their own image: CI_NODE_* must not shard it away.
        let c = build(&["x.io/a:1", "--shard-index", "2", "--shard-total", "2"], &[]).unwrap();
        assert_eq!(c.images.len(), 1);
    }

    #[test]
    fn no_image_is_22() {
        assert_eq!(build(&[], &[]).unwrap_err().kind, ErrorKind::NoImage);
    }

    #[test]
    fn bad_reference_and_bad_auth_are_24() {
        assert_eq!(build(&["Bad:Ref:"], &[]).unwrap_err().kind, ErrorKind::InvalidConfig);
        let e = build(&["x.io/a:1"], &[("DOCKER_AUTH_CONFIG", "{not json")]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidConfig);
        assert!(e.message.contains("DOCKER_AUTH_CONFIG"));
    }

    #[test]
    fn ci_registry_needs_all_three_variables() {
        let c = build(&["x.io/a:1"], &[("CI_REGISTRY", "x.io"), ("CI_REGISTRY_USER", "u")]).unwrap();
        assert!(c.acquire.credentials.is_empty());
        let c =
            build(&["x.io/a:1"], &[("CI_REGISTRY", "x.io"), ("CI_REGISTRY_USER", "u"), ("CI_REGISTRY_PASSWORD", "p")])
                .unwrap();
        assert_eq!(c.acquire.credentials.for_image("x.io", "a").unwrap().key, "x.io");
    }

    #[test]
    fn fail_on_flag_beats_the_policy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.toml");
        std::fs::write(&p, "fail_on = \"high\"\n").unwrap();
        let c = build(&["x.io/a:1", "--policy", p.to_str().unwrap()], &[]).unwrap();
        assert_eq!(c.fail_on, Severity::High);
        let c = build(&["x.io/a:1", "--policy", p.to_str().unwrap(), "--fail-on", "low"], &[]).unwrap();
        assert_eq!(c.fail_on, Severity::Low);
        std::fs::write(&p, "fail_on = 3\n").unwrap();
        let e = build(&["x.io/a:1", "--policy", p.to_str().unwrap()], &[]).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidConfig);
        assert!(e.message.contains(p.to_str().unwrap()), "{}", e.message);
    }
}
