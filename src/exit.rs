//! How a run ends: an error that stops it with an operational code, and the process exit
//! status every end maps to. The codes themselves are the model's (`ErrorKind`,
//! `ExitCodes`, `Outcome`).

use crate::model::ErrorKind;
use std::fmt;

/// An error that ends the run with an operational exit code and one clear message.
#[derive(Debug)]
pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure { kind, message: message.into() }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Failure::new(ErrorKind::InvalidConfig, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// A signal that ended the run early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

/// Every way a run ends, as `main` maps it to the process exit status.
#[derive(Debug)]
pub enum Exit {
    /// The command ran to its end; the code is its outcome under the exit-code contract.
    Done(u8),
    /// The command stopped on an operational error.
    Failed(Failure),
    Interrupted(Signal),
}

impl Exit {
    pub fn code(&self) -> u8 {
        match self {
            Exit::Done(code) => *code,
            Exit::Failed(f) => f.kind.code(),
            // 128 + the signal number, as shells report it.
            Exit::Interrupted(Signal::Interrupt) => 130,
            Exit::Interrupted(Signal::Terminate) => 143,
        }
    }

    /// The one line to print on stderr for this end, if any.
    pub fn message(&self) -> Option<String> {
        match self {
            Exit::Done(_) => None,
            Exit::Failed(f) => Some(format!("error: {f}")),
            Exit::Interrupted(Signal::Interrupt) => Some("interrupted".to_string()),
            Exit::Interrupted(Signal::Terminate) => Some("terminated".to_string()),
        }
    }
}

impl From<Result<u8, Failure>> for Exit {
    fn from(r: Result<u8, Failure>) -> Exit {
        match r {
            Ok(code) => Exit::Done(code),
            Err(f) => Exit::Failed(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_end_has_its_documented_code() {
        assert_eq!(Exit::Done(12).code(), 12);
        assert_eq!(Exit::Done(0).code(), 0);
        for kind in ErrorKind::ALL {
            assert_eq!(Exit::Failed(Failure::new(kind, "x")).code(), kind.code());
        }
        assert_eq!(Exit::Interrupted(Signal::Interrupt).code(), 130);
        assert_eq!(Exit::Interrupted(Signal::Terminate).code(), 143);
    }

    #[test]
    fn failures_keep_their_message() {
        let e = Exit::from(Err(Failure::config("bad flag --x")));
        assert_eq!(e.code(), 24);
        assert_eq!(e.message().as_deref(), Some("error: bad flag --x"));
        assert_eq!(Exit::from(Ok(14)).message(), None);
    }
}
