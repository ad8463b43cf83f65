//! What a command ends with when it fails: the error, and the exit code it carries (1 for a
//! driver or framework failure, 2 for a usage error, 130 for Ctrl-C).

use std::process::ExitCode;

#[derive(Debug)]
pub struct CliError {
    pub error: anyhow::Error,
    pub code: u8,
}

impl CliError {
    /// A bad argument: exits 2, like clap's own usage errors.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            error: anyhow::anyhow!(message.into()),
            code: 2,
        }
    }

    /// A failure with its own message: exits 1.
    pub fn failed(message: impl Into<String>) -> Self {
        CliError {
            error: anyhow::anyhow!(message.into()),
            code: 1,
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code)
    }
}

/// Failures from the library exit 1; a driver stopped by Ctrl-C, the one failure that comes up
/// from inside a run with a code of its own, exits 130.
impl From<anyhow::Error> for CliError {
    fn from(error: anyhow::Error) -> Self {
        let code = if error.is::<crate::engine::instance::Interrupted>() {
            130
        } else {
            1
        };
        CliError { error, code }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        anyhow::Error::from(e).into()
    }
}

impl From<crate::project::DomainError> for CliError {
    fn from(e: crate::project::DomainError) -> Self {
        use crate::project::DomainError;
        let code = match e {
            DomainError::Invalid(_) | DomainError::Empty => 2,
            DomainError::NotFound(..) => 1,
        };
        CliError {
            error: e.into(),
            code,
        }
    }
}
