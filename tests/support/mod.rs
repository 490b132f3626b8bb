//! What the integration tests share, one file per kind of helper:
//!
//! - `env`: the test environment `tests/env/setup.sh` wrote (read once, from the state dir's
//!   `env` file), unique names and scratch directories under the state dir;
//! - `process`: running children with a clean environment, a timeout and both pipes drained;
//! - `store`: private containers/storage stores (and the environment's shared one), mounts
//!   and how they are always undone;
//! - `registry`: the local htpasswd registry, credentials, DOCKER_AUTH_CONFIG, a fake
//!   registry that misbehaves on purpose;
//! - `image`: images built with buildah (from scratch, copy, config, commit) and pushed;
//! - `scanner`: runs of the real `oci-compliance` binary, stand-ins for podman, output checks;
//! - `report`: reading the JSON report;
//! - `user`: an unprivileged user for rootless runs;
//! - `fixture`: fixed reports for the golden-file tests (no podman, no clock).
//!
//! Every child gets an explicit environment, never the developer's shell's: these tests
//! fail, never skip, when the environment is missing or broken.

pub mod env;
pub mod fixture;
pub mod image;
pub mod process;
pub mod registry;
pub mod report;
pub mod scanner;
pub mod schema;
pub mod store;
pub mod user;

pub use env::*;
pub use image::*;
pub use process::*;
pub use registry::*;
pub use report::*;
pub use scanner::*;
pub use schema::*;
pub use store::*;
pub use user::*;

// Every path into the library the tests use, and the only place that names one: when the
// library's modules move, this is the list to update.
pub use oci_compliance::aggregate::summarize;
pub use oci_compliance::engine::policy::parse as parse_policy;
pub use oci_compliance::engine::settings::settings_info;
pub use oci_compliance::engine::tree::{build as build_file_tree, TreeEntry};
pub use oci_compliance::engine::{apply_waivers, new_report};
pub use oci_compliance::escape::{bytes as escape_bytes, is_invisible, text as escape_text, unescape};
pub use oci_compliance::exit::Failure;
pub use oci_compliance::model::{
    BaseFoundBy, BaseInfo, CheckResult, EntryKind, ErrorKind, ExitCodes, FileTree, Finding, ImageInfo,
    InstalledPackage, LayerInfo, MergedSummary, Origin, PackageDbInfo, PackageRef, PackagesInfo, Policy, Report,
    SettingsInfo, Severity, Source, Status, TreeLimits, Verdict,
};
pub use oci_compliance::reference::ImageRef;
pub use oci_compliance::render::{Format, Renderer};
pub use oci_compliance::rules::{all as all_rules, find as find_rule};
pub use oci_compliance::sha256::hex as sha256_hex;
