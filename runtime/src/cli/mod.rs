//! The `lo` command line: parses, dispatches each command once, prints. Data goes to stdout (as
//! JSON with `-o json`), progress and errors to stderr. Exit codes: 0 ok, 1 failure, 2 usage,
//! 130 Ctrl-C, carried by [`error::CliError`].

mod args;
mod commands;
mod context;
mod error;
mod print;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};
pub use error::CliError;

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

async fn run(cli: Cli) -> Result<(), CliError> {
    use commands::{addons, author, cluster, domains, drivers, env, schema};
    match cli.command.clone() {
        None => {
            use clap::CommandFactory;
            Cli::command().print_help().map_err(anyhow::Error::from)?;
            Ok(())
        }
        Some(Command::Provision {
            target,
            bootstrap_only,
            bootstrap,
        }) => cluster::provision(&cli, target, bootstrap_only, &bootstrap).await,
        Some(Command::Bootstrap { target, bootstrap }) => {
            cluster::provision(&cli, target, true, &bootstrap).await
        }
        Some(Command::Addons { names }) => addons::run(&cli, &names),
        Some(Command::Destroy { target }) => cluster::destroy(&cli, target).await,
        Some(Command::Status { target }) => cluster::status(&cli, target).await,
        Some(Command::Kubeconfig { target }) => cluster::kubeconfig(&cli, target).await,
        Some(Command::Tunnel { target, port }) => cluster::tunnel(&cli, target, port).await,
        Some(Command::Env { target }) => env::run(&cli, target).await,
        Some(Command::Use { target }) => domains::run(&cli, target),
        Some(Command::Schema { kind }) => schema::run(&cli, &kind).await,
        Some(Command::Drivers { command }) => Ok(drivers::run(&cli, command).await?),
        Some(Command::Driver { command }) => author::run(&cli, command).await,
        Some(Command::Version) => {
            print::version(&cli);
            Ok(())
        }
    }
}

fn report(e: &CliError) -> ExitCode {
    // Driver names, versions and trap backtraces are guest-controlled text.
    eprintln!(
        "error: {}",
        crate::sanitize::clean(&format!("{:#}", e.error))
    );
    e.exit_code()
}
