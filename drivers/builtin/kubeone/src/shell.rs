//! kubeadm's "run this on node N" over the ssh import: one session per host, opened on first
//! use and reused, as the provider's inventory gives the host (its public address, the login of
//! the descriptor). Commands run as root: directly when the login is root, else through
//! `sudo -n` (no password prompt can hang a run).

use std::collections::BTreeMap;

use lok8s_driver_sdk::ssh;
use lok8s_kubeadm::{NodeShell, Output};
use lok8s_provider_hetzner::inventory::Access;

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

impl NodeShell for SshShell {
    fn run(&mut self, node: &str, argv: &[&str], stdin: Option<&[u8]>) -> Result<Output, String> {
        let mut command = argv.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ");
        if self.access.user != "root" {
            command = format!("sudo -n {command}");
        }
        let out = self
            .session(node)?
            .exec(&command, stdin)
            .map_err(|e| format!("{node}: {}", lok8s_driver_sdk::message(&e)))?;
        Ok(Output {
            code: out.exit_code,
            stdout: out.stdout,
            stderr: out.stderr,
        })
    }
}
