//! The same step on several nodes at once, through [`NodeShell::run_each`]: every command
//! runs even when another fails, and the error names every node that failed.

use crate::{NodeShell, Output, checked};

/// One command of [`NodeShell::run_each`].
#[derive(Debug, Clone)]
pub struct Command<'a> {
    pub node: &'a str,
    pub argv: Vec<&'a str>,
    pub stdin: Option<&'a [u8]>,
}

impl<'a> Command<'a> {
    /// The same command on each node.
    pub fn on_each(
        nodes: impl IntoIterator<Item = &'a str>,
        argv: &[&'a str],
        stdin: Option<&'a [u8]>,
    ) -> Vec<Command<'a>> {
        nodes
            .into_iter()
            .map(|node| Command {
                node,
                argv: argv.to_vec(),
                stdin,
            })
            .collect()
    }
}

/// Runs commands that must all succeed; the outputs come in the order asked.
pub fn run_ok_each(
    sh: &mut dyn NodeShell,
    commands: &[Command<'_>],
) -> Result<Vec<Output>, String> {
    let answers = sh.run_each(commands);
    let mut outputs = Vec::with_capacity(commands.len());
    let mut failures = Vec::new();
    for (command, answer) in commands.iter().zip(answers) {
        match answer.and_then(|out| checked(command.node, &command.argv, out)) {
            Ok(out) => outputs.push(out),
            Err(e) => failures.push(e),
        }
    }
    if !failures.is_empty() {
        return Err(failures.join("\n"));
    }
    if outputs.len() != commands.len() {
        return Err(format!(
            "{} commands asked, {} answered",
            commands.len(),
            outputs.len()
        ));
    }
    Ok(outputs)
}

/// Writes one file per entry (node, path, contents) at the same time, creating its folder.
pub fn write_file_each(
    sh: &mut dyn NodeShell,
    files: &[(&str, &str, &[u8])],
) -> Result<(), String> {
    const WRITE: &str = "mkdir -p \"$(dirname \"$1\")\" && cp /dev/stdin \"$1\"";
    let commands: Vec<Command<'_>> = files
        .iter()
        .map(|(node, path, contents)| Command {
            node,
            argv: vec!["sh", "-c", WRITE, "sh", path],
            stdin: Some(contents),
        })
        .collect();
    run_ok_each(sh, &commands).map(|_| ())
}
