//! The integration tests: one binary, one module per area, and the helpers they share in
//! `support`. Most need root and the environment of `tests/env/setup.sh` (they fail, never
//! skip, without it); `cli` and `reports` need neither.
//!
//!     cargo test --release --test tests               # all of them
//!     cargo test --release --test tests -- scan::     # one area

mod support;

mod base;
mod build_hygiene;
mod cli;
mod hardening;
mod host;
mod hygiene;
mod package_tools;
mod packages;
mod policy;
mod processes;
mod registry;
mod reports;
mod scan;
mod secrets;
mod structure;
