//! oci-compliance: audit finished container images against build best practices.
//!
//! The pipeline runs in one direction:
//! reference → acquire (podman) → inspect → walk layers → rules → report → render → exit code.

pub mod app;
pub mod canonical;
pub mod cli;
pub mod config;
pub mod escape;
pub mod etc_files;
pub mod exit;
pub mod filetree;
pub mod fsutil;
pub mod inspect;
pub mod layers;
pub mod merge;
pub mod podman;
pub mod platform;
pub mod policy;
pub mod reference;
pub mod render;
pub mod report;
pub mod rules;
pub mod sha256;
pub mod time;
pub mod userns;
#[cfg(test)]
pub mod testutil;
