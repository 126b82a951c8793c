//! How a verb ends: the process exit codes every verb shares (docs/exit-codes.md lists the same),
//! and [`Stop`], the error that ends a verb with one of them.

use std::process::ExitCode;

/// Process exit codes shared by every verb; docs/exit-codes.md lists the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Done; also a deploy that found nothing to change.
    Success = 0,
    /// An unexpected error (I/O, AWS unreachable or refusing, credentials, bug).
    Failure = 1,
    /// Bad flags or stage file, or a confirmation that CI cannot give (pass `--yes`).
    Usage = 2,
    /// Some inputs were rejected as bad input; the rest succeeded.
    Rejected = 3,
    /// A built binary cannot run on Lambda (GLIBC newer than 2.34, wrong architecture).
    Incompatible = 4,
    /// The deploy failed and CloudFormation rolled the stack back.
    RolledBack = 5,
    /// The deploy failed without a rollback: the change set was refused, or the rollback failed.
    DeployFailed = 6,
    /// The stack deployed, but a step after it (site upload, invalidation) failed.
    PostDeployFailed = 7,
    /// The stack deployed; the CloudFront invalidation was still running when the wait ran out.
    InvalidationPending = 8,
    /// Someone answered "no" at the prompt; nothing changed.
    Declined = 9,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// An error that ends a verb with a specific exit code; its message says what to do next.
#[derive(Debug)]
pub struct Stop {
    pub exit: Exit,
    pub message: String,
}

impl Stop {
    pub fn new(exit: Exit, message: impl Into<String>) -> Stop {
        Stop { exit, message: message.into() }
    }
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Stop {}

/// The exit code an error stands for: its own for a [`Stop`], usage for a bad stage file.
pub fn exit_of(err: &anyhow::Error) -> Exit {
    if let Some(stop) = err.downcast_ref::<Stop>() {
        stop.exit
    } else if err.downcast_ref::<crate::stage::StageError>().is_some() {
        Exit::Usage
    } else {
        Exit::Failure
    }
}
