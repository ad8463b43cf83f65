//! The `lo` command line: parses, calls the library, prints. Data goes to stdout (as JSON with
//! `-o json`), progress and errors to stderr. Exit codes: 0 ok, 1 failure, 2 usage, 130 Ctrl-C.

mod args;
mod drivers;
mod lifecycle;
mod print;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};

/// A bad argument: exits 2 like clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e),
    };
    // A driver's file call can still be blocked on a worker thread after its run was abandoned
    // (the wall clock ran out while it opened a FIFO): exit without waiting for it.
    runtime.shutdown_background();
    code
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.clone() {
        None => {
            use clap::CommandFactory;
            Cli::command().print_help()?;
            Ok(())
        }
        Some(Command::Drivers { command }) => drivers::run(&cli, command).await,
        Some(Command::Driver { command }) => drivers::author(&cli, command).await,
        Some(Command::Version) => {
            print::version(&cli);
            Ok(())
        }
        Some(command) => lifecycle::run(&cli, command).await,
    }
}

fn report(e: &anyhow::Error) -> ExitCode {
    // Driver names, versions and trap backtraces are guest-controlled text.
    eprintln!("error: {}", crate::sanitize::clean(&format!("{e:#}")));
    if e.downcast_ref::<crate::lifecycle::Interrupted>().is_some() {
        return ExitCode::from(130);
    }
    let usage = e.downcast_ref::<UsageError>().is_some()
        || matches!(
            e.downcast_ref::<crate::project::DomainError>(),
            Some(crate::project::DomainError::Invalid(_) | crate::project::DomainError::Empty)
        );
    ExitCode::from(if usage { 2 } else { 1 })
}
