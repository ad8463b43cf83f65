//! Which Docker engine `lo` talks to: the operator's `--docker-host` / `DOCKER_HOST`, read once
//! by the settings and handed here, so the capability, the spec checks and `lo tunnel` agree.

use bollard::Docker;

use super::engine_ssh::{self, SshEngine};

const LOCAL_SOCKET: &str = "unix:///var/run/docker.sock";

/// An engine address and the login an `ssh://host` address without a user means.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    /// `unix://…`, `tcp://…`, `ssh://…`; None: the local socket.
    pub address: Option<String>,
    pub login_user: String,
}

impl Engine {
    /// On another machine (`ssh://`, `tcp://`): bind sources are paths there, out of lo's sight.
    pub fn is_remote(&self) -> bool {
        super::policy::engine_is_remote(self.address.as_deref())
    }

    /// The ssh engine this address names, if it is `ssh://…`.
    pub fn ssh(&self) -> Option<Result<SshEngine, String>> {
        let address = self.address.as_deref()?;
        address
            .starts_with("ssh://")
            .then(|| SshEngine::parse(address, &self.login_user))
    }

    /// A client for this engine, its API version negotiated.
    pub async fn connect(&self) -> Result<Docker, String> {
        let client = match self.ssh() {
            Some(ssh) => engine_ssh::connect(&ssh?).await?,
            None => {
                let address = self.address.as_deref().unwrap_or(LOCAL_SOCKET);
                Docker::connect_with_host(address).map_err(|e| e.to_string())?
            }
        };
        client.negotiate_version().await.map_err(|e| e.to_string())
    }
}
