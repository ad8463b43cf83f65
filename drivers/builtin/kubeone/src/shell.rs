//! kubeadm's "run this on node N" over the ssh import: one session per host, opened on first
//! use and reused, as the provider's inventory gives the host (its public address, the login of
//! the descriptor). Commands run as root: directly when the login is root, else through
//! `sudo -n` (no password prompt can hang a run). Commands for several hosts go out in one
//! `ssh.exec-all`, so they run at the same time.

use std::collections::BTreeMap;

use lok8s_driver_sdk::{DriverError, ssh};
use lok8s_kubeadm::{Command, NodeShell, Output};
use lok8s_provider_hetzner::inventory::Access;

/// Most requests one `ssh.exec-all` takes.
const MAX_BATCH: usize = 32;

/// How long connecting to one host may take.
const CONNECT_TIMEOUT_MS: u32 = 20_000;

pub struct SshShell {
    access: Access,
    /// Host name → public address.
    addresses: BTreeMap<String, String>,
    sessions: BTreeMap<String, ssh::Session>,
}

impl SshShell {
    pub fn new(access: Access, addresses: BTreeMap<String, String>) -> SshShell {
        SshShell {
            access,
            addresses,
            sessions: BTreeMap::new(),
        }
    }

    /// Drops `node`'s session (its server rebooted); the next command connects again.
    pub fn forget(&mut self, node: &str) {
        self.sessions.remove(node);
    }

    fn session(&mut self, node: &str) -> Result<&ssh::Session, String> {
        if !self.sessions.contains_key(node) {
            let host = self
                .addresses
                .get(node)
                .ok_or_else(|| format!("{node} is not a host of this cluster's inventory"))?;
            let session = ssh::Session::connect(&ssh::ConnectOptions {
                host: host.clone(),
                port: self.access.port,
                user: self.access.user.clone(),
                key: self.access.private_key.clone(),
                timeout_ms: Some(CONNECT_TIMEOUT_MS),
            })
            .map_err(|e| format!("{node} ({host}): {}", lok8s_driver_sdk::message(&e)))?;
            self.sessions.insert(node.to_string(), session);
        }
        Ok(&self.sessions[node])
    }
}

/// One argument for a POSIX shell.
fn quote(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', "'\\''"))
}

impl SshShell {
    /// The command line for the login: as is for root, else through `sudo -n`.
    fn command_line(&self, argv: &[&str]) -> String {
        let command = argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
        if self.access.user == "root" {
            command
        } else {
            format!("sudo -n {command}")
        }
    }
}

fn output(node: &str, answer: Result<ssh::ExecOutput, DriverError>) -> Result<Output, String> {
    let out = answer.map_err(|e| format!("{node}: {}", lok8s_driver_sdk::message(&e)))?;
    Ok(Output {
        code: out.exit_code,
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

impl NodeShell for SshShell {
    fn run(&mut self, node: &str, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output, String> {
        let command = self.command_line(argv);
        output(node, self.session(node)?.exec(&command, stdin))
    }

    fn run_each(&mut self, commands: &[Command<'_>]) -> Vec<Result<Output, String>> {
        // Connect first (each host once); a host that cannot be reached answers with that.
        let connected: Vec<Result<(), String>> = commands
            .iter()
            .map(|c| self.session(c.node).map(|_| ()))
            .collect();
        let lines: Vec<String> = commands
            .iter()
            .map(|c| self.command_line(&c.argv))
            .collect();
        let mut asked = Vec::new();
        let mut requests = Vec::new();
        for (i, command) in commands.iter().enumerate() {
            if connected[i].is_ok() {
                asked.push(i);
                requests.push(ssh::ExecRequest {
                    session: &self.sessions[command.node],
                    command: lines[i].clone(),
                    stdin: command.stdin.map(<[u8]>::to_vec),
                });
            }
        }
        // The import takes at most MAX_BATCH requests per call.
        let mut answers = requests
            .chunks(MAX_BATCH)
            .flat_map(ssh::exec_all)
            .collect::<Vec<_>>()
            .into_iter();
        let mut results: Vec<Result<Output, String>> = connected
            .into_iter()
            .map(|c| c.and(Err(String::new())))
            .collect();
        for i in asked {
            results[i] = match answers.next() {
                Some(answer) => output(commands[i].node, answer),
                None => Err(format!("{}: no answer from ssh exec-all", commands[i].node)),
            };
        }
        results
    }
}
