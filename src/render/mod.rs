//! Renderers: each takes the report model and produces bytes. None decides the exit code.

pub mod console;
pub mod json;
