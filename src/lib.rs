//! oci-compliance: audit finished container images against build best practices.
//!
//! The pipeline runs in one direction:
//! reference → acquire (podman) → layers → rules (engine) → report model → render → exit code.
//!
//! - `model`: the report and its vocabulary (a leaf: serde only);
//! - `engine`: an image with its layers read → a report (rules, waivers, summary, policy);
//! - `commands`: `scan`, `merge`, `checks`/`explain`; `pipeline` runs one image;
//! - `output`: every file and message a run writes; `render`: report → bytes.

pub mod aggregate;
pub mod auth;
pub mod base;
pub mod canonical;
pub mod cli;
pub mod command;
pub mod commands;
pub mod config;
pub mod engine;
pub mod escape;
pub mod etc_files;
pub mod exit;
pub mod fsutil;
pub mod glob;
pub mod inspect;
pub mod layers;
pub mod model;
pub mod oci;
pub mod output;
pub mod packages;
pub mod pipeline;
pub mod platform;
pub mod podman;
pub mod reference;
pub mod render;
pub mod rules;
pub mod sha256;
pub mod skopeo;
#[cfg(test)]
pub mod testutil;
pub mod text;
pub mod time;
pub mod userns;
