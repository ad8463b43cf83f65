//! `lo tunnel`: a cluster on a remote engine (`DOCKER_HOST=ssh://…`) used from this machine.
//! Its API is published on the engine machine's loopback, so `lo` forwards a local port there
//! over its own ssh session (what `ssh -L` does) and writes a copy of the published kubeconfig
//! that names the local port. The kubeconfig is the driver's work: `lo` forwards only to a port
//! that a running container of this cluster publishes (read from the engine, by lo's labels),
//! never to an address the file names.

use std::collections::HashMap;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};

use anyhow::{Context as _, anyhow, bail};
use bollard::query_parameters::ListContainersOptionsBuilder;
use tokio::net::{TcpListener, TcpStream};

use crate::host::docker::Engine;
use crate::host::docker::engine_ssh::{self, EngineLink};
use crate::host::docker::policy::{LABEL_CLUSTER, LABEL_PROJECT};
use crate::host::kube::vetted::{self, Vetted};
use crate::project::{Inside, Project};

/// A forward ready to serve: the local listener and the kubeconfig that names it.
pub struct Tunnel {
    listener: TcpListener,
    link: EngineLink,
    folder: Inside,
    file: String,
    pub remote_port: u16,
    pub local_port: u16,
    /// The kubeconfig naming the local port (removed when the tunnel stops).
    pub kubeconfig: std::path::PathBuf,
    /// `user@host:port` of the ssh session.
    pub via: String,
}

/// The file the tunnel's kubeconfig is written to, beside the published `file`.
pub fn kubeconfig_name(file: &str) -> String {
    let stem = file.strip_suffix(".yaml").unwrap_or(file);
    format!("{stem}.tunnel.yaml")
}

/// Checks the published kubeconfig `file` of `domain`, logs in to the engine's machine, checks
/// the port against the cluster's containers and listens on 127.0.0.1:`local_port` (0: any).
pub async fn open(
    project: &Project,
    domain: &str,
    file: &str,
    engine: &Engine,
    local_port: u16,
) -> anyhow::Result<Tunnel> {
    let engine = match (engine.ssh(), engine.address.as_deref()) {
        (Some(ssh), _) => ssh.map_err(|e| anyhow!(e))?,
        (None, Some(h)) if engine.is_remote() => bail!(
            "lo tunnel forwards over ssh, and DOCKER_HOST={h:?} is not an ssh:// engine; \
             a port published there is reached at that machine's address, if its firewall allows"
        ),
        _ => bail!(
            "nothing to forward: the Docker engine is on this machine (DOCKER_HOST is not \
             ssh://…), so the kubeconfig works as it is"
        ),
    };
    let folder = project.kubeconfigs()?;
    let bytes = folder
        .read(file, vetted::MAX_BYTES)
        .with_context(|| format!("reading .kubeconfig/{file}"))?;
    let published = Vetted::parse(&bytes).with_context(|| format!(".kubeconfig/{file}"))?;
    let remote_port = loopback_port(&published)
        .with_context(|| format!(".kubeconfig/{file} cannot be forwarded"))?;

    let link = engine_ssh::open(&engine).await.map_err(|e| anyhow!(e))?;
    let docker = link
        .docker()
        .map_err(|e| anyhow!(e))?
        .negotiate_version()
        .await
        .context("the remote Docker engine")?;
    let root = project
        .root()
        .canonicalize()
        .context("the project folder")?;
    if !published_by_cluster(&docker, &root.display().to_string(), domain, remote_port).await? {
        bail!(
            "the kubeconfig names port {remote_port}, which no running container of cluster \
             {domain} publishes on {}; lo forwards only to the cluster's own ports \
             (run `lo provision {domain}` if it is stopped)",
            engine.host
        );
    }

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, local_port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{local_port}"))?;
    let local_port = listener.local_addr()?.port();
    let name = kubeconfig_name(file);
    let text = format!(
        "# Written by lo tunnel for clusters/{domain}: valid while it runs, removed when it stops.\n{}",
        published.with_port(local_port)?.to_yaml()
    );
    folder.write(&name, text.as_bytes(), 0o600)?;
    Ok(Tunnel {
        listener,
        via: link.target().to_string(),
        link,
        folder,
        remote_port,
        local_port,
        kubeconfig: project.kubeconfig_dir().join(&name),
        file: name,
    })
}

impl Tunnel {
    /// Forwards connections until `stop` completes, then removes the kubeconfig.
    pub async fn serve(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        tokio::pin!(stop);
        let link = std::sync::Arc::new(self.link);
        let result = loop {
            let accepted = tokio::select! {
                _ = &mut stop => break Ok(()),
                accepted = self.listener.accept() => accepted,
            };
            let (socket, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => break Err(anyhow!("accepting on 127.0.0.1:{}: {e}", self.local_port)),
            };
            let link = link.clone();
            let port = self.remote_port;
            tokio::spawn(async move { forward(&link, port, socket, peer).await });
        };
        self.folder.remove(&self.file)?;
        result
    }
}

async fn forward(link: &EngineLink, port: u16, mut socket: TcpStream, peer: SocketAddr) {
    match link.loopback(port, peer.port()).await {
        Ok(mut remote) => {
            let _ = tokio::io::copy_bidirectional(&mut socket, &mut remote).await;
        }
        Err(e) => eprintln!("lo tunnel: {e}"),
    }
}

/// The port of the kubeconfig's server, which must be on the engine machine's loopback.
fn loopback_port(kubeconfig: &Vetted) -> anyhow::Result<u16> {
    let server = kubeconfig
        .server()
        .ok_or_else(|| anyhow!("its current context names no server"))?;
    let uri: http::Uri = server
        .parse()
        .map_err(|e| anyhow!("server {server:?}: {e}"))?;
    let host = uri.host().unwrap_or_default();
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1") {
        bail!(
            "its server {server} is not on the engine machine's loopback; if this machine \
             reaches that address, the kubeconfig works as it is"
        );
    }
    uri.port_u16()
        .ok_or_else(|| anyhow!("its server {server} names no port"))
}

/// Whether a running container labelled for this project's `domain` publishes `port`.
async fn published_by_cluster(
    docker: &bollard::Docker,
    project: &str,
    domain: &str,
    port: u16,
) -> anyhow::Result<bool> {
    let filters = HashMap::from([(
        "label".to_string(),
        vec![
            format!("{LABEL_PROJECT}={project}"),
            format!("{LABEL_CLUSTER}={domain}"),
        ],
    )]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .filters(&filters)
                .build(),
        ))
        .await
        .context("listing the cluster's containers")?;
    Ok(containers
        .iter()
        .flat_map(|c| c.ports.iter().flatten())
        .any(|p| {
            p.public_port == Some(port)
                && matches!(
                    p.ip.as_deref(),
                    None | Some("127.0.0.1" | "0.0.0.0" | "::" | "::1")
                )
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(server: &str) -> Vetted {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: abc\n"
        );
        Vetted::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn only_loopback_servers_are_forwarded() {
        assert_eq!(
            loopback_port(&kubeconfig("https://127.0.0.1:41234")).unwrap(),
            41234
        );
        assert_eq!(
            loopback_port(&kubeconfig("https://localhost:6443")).unwrap(),
            6443
        );
        for server in [
            "https://10.0.0.5:6443",
            "https://api.example.test:6443",
            "https://127.0.0.1",
        ] {
            assert!(loopback_port(&kubeconfig(server)).is_err(), "{server}");
        }
    }

    #[test]
    fn the_copy_names_the_local_port_and_keeps_the_host() {
        let moved = kubeconfig("https://localhost:6443")
            .with_port(5000)
            .unwrap();
        assert_eq!(moved.server().as_deref(), Some("https://localhost:5000"));
        assert_eq!(kubeconfig_name("dev.yaml"), "dev.tunnel.yaml");
    }
}
