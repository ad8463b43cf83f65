//! A Docker engine on another machine over ssh (`DOCKER_HOST=ssh://[user@]host[:port]`), reached
//! the way the docker CLI reaches it: one ssh session, and for each API connection a channel
//! running `docker system dial-stdio` there, which speaks the engine's HTTP API on its stdio.
//! `lo`'s own client (russh), with OpenSSH's files: the host key must already be in
//! `~/.ssh/known_hosts` (never learnt silently), and the first of `~/.ssh/id_ed25519`,
//! `id_ecdsa`, `id_rsa` the server accepts logs in. Keys with a passphrase and ssh-agent are
//! not used.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, BollardRequest, Docker};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use russh::client;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The engine API's own read timeout, as bollard's other transports use (seconds).
const API_TIMEOUT: u64 = 120;
const KEY_FILES: [&str; 3] = ["id_ed25519", "id_ecdsa", "id_rsa"];

/// Where `DOCKER_HOST=ssh://…` points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshEngine {
    pub user: String,
    pub host: String,
    pub port: u16,
}

impl SshEngine {
    /// Parses `ssh://[user@]host[:port]` (no path); the user defaults to `login_user`.
    pub fn parse(docker_host: &str, login_user: &str) -> Result<SshEngine, String> {
        let rest = docker_host
            .strip_prefix("ssh://")
            .ok_or_else(|| format!("DOCKER_HOST={docker_host:?} is not an ssh:// address"))?;
        let bad = |why: &str| {
            format!(
                "DOCKER_HOST={docker_host:?}: {why}; write ssh://user@host or ssh://user@host:port"
            )
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') || authority.is_empty() {
            return Err(bad("a path is not supported"));
        }
        let (user, hostport) = match authority.rsplit_once('@') {
            Some((user, hostport)) => (user.to_string(), hostport),
            None => (login_user.to_string(), authority),
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') || host.ends_with(']') => (
                host.trim_start_matches('[').trim_end_matches(']'),
                port.parse::<u16>()
                    .map_err(|_| bad("the port is not a number"))?,
            ),
            _ => (hostport, 22),
        };
        if user.is_empty() || host.is_empty() {
            return Err(bad("the user or host is empty"));
        }
        Ok(SshEngine {
            user,
            host: host.to_string(),
            port,
        })
    }

    fn target(&self) -> String {
        format!("{}@{}:{}", self.user, self.host, self.port)
    }
}

/// Accepts only a host key `~/.ssh/known_hosts` lists for this host and port.
struct KnownHosts {
    host: String,
    port: u16,
    refusal: Arc<Mutex<Option<String>>>,
}

impl client::Handler for KnownHosts {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // known_hosts pins keys; a host certificate would need its CA line: not read here.
        let PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            return Ok(false);
        };
        let verdict = russh::keys::check_known_hosts(&self.host, self.port, key);
        let refusal = match verdict {
            Ok(true) => return Ok(true),
            Ok(false) => format!(
                "its host key ({}) is not in ~/.ssh/known_hosts; check it, then add it (ssh -p {} {} once, or ssh-keyscan)",
                key.fingerprint(HashAlg::Sha256),
                self.port,
                self.host
            ),
            Err(russh::keys::Error::KeyChanged { line }) => format!(
                "its host key changed (~/.ssh/known_hosts line {line} has another); if the machine was rebuilt, fix that line"
            ),
            Err(e) => format!("~/.ssh/known_hosts: {e}"),
        };
        if let Ok(mut slot) = self.refusal.lock() {
            *slot = Some(refusal);
        }
        Ok(false)
    }
}

/// An authenticated ssh session to the engine's machine.
pub struct EngineLink {
    target: String,
    host: String,
    tunnel: Arc<Tunnel>,
}

/// Logs in to the engine's machine (known host, the user's key).
pub async fn open(engine: &SshEngine) -> Result<EngineLink, String> {
    let target = engine.target();
    let refusal = Arc::new(Mutex::new(None));
    let handler = KnownHosts {
        host: engine.host.clone(),
        port: engine.port,
        refusal: refusal.clone(),
    };
    let config = Arc::new(client::Config {
        inactivity_timeout: Some(Duration::from_secs(600)),
        keepalive_interval: Some(Duration::from_secs(30)),
        ..Default::default()
    });
    let connected = tokio::time::timeout(
        CONNECT_TIMEOUT,
        client::connect(config, (engine.host.as_str(), engine.port), handler),
    )
    .await
    .map_err(|_| format!("ssh {target}: no answer in {CONNECT_TIMEOUT:?}"))?;
    let mut handle = connected.map_err(|e| match refusal.lock().ok().and_then(|r| r.clone()) {
        Some(why) => format!("ssh {target}: {why}"),
        None => format!("ssh {target}: {e}"),
    })?;
    authenticate(&mut handle, engine, &target).await?;
    Ok(EngineLink {
        target,
        host: engine.host.clone(),
        tunnel: Arc::new(Tunnel {
            handle,
            idle: Mutex::new(Vec::new()),
        }),
    })
}

/// A client for the engine behind `engine`, over one authenticated ssh session.
pub async fn connect(engine: &SshEngine) -> Result<Docker, String> {
    open(engine).await?.docker()
}

impl EngineLink {
    /// The engine's API over this session.
    pub fn docker(&self) -> Result<Docker, String> {
        let tunnel = self.tunnel.clone();
        let transport = move |request: BollardRequest| {
            let tunnel = tunnel.clone();
            async move { tunnel.round_trip(request).await }
        };
        Docker::connect_with_custom_transport(
            transport,
            Some(format!("http://{}", self.host)),
            API_TIMEOUT,
            API_DEFAULT_VERSION,
        )
        .map_err(|e| format!("ssh {}: {e}", self.target))
    }

    /// A TCP connection from the engine's machine to `port` on its own loopback (ssh's
    /// direct-tcpip, as `ssh -L` opens), for a peer of ours at `origin_port`.
    pub async fn loopback(
        &self,
        port: u16,
        origin_port: u16,
    ) -> Result<russh::ChannelStream<client::Msg>, String> {
        let channel = self
            .tunnel
            .handle
            .channel_open_direct_tcpip("127.0.0.1", port.into(), "127.0.0.1", origin_port.into())
            .await
            .map_err(|e| format!("ssh {}: forwarding to 127.0.0.1:{port}: {e}", self.target))?;
        Ok(channel.into_stream())
    }

    /// `user@host:port` of the session.
    pub fn target(&self) -> &str {
        &self.target
    }
}

fn key_files() -> Vec<PathBuf> {
    let Some(home) = std::env::home_dir() else {
        return Vec::new();
    };
    KEY_FILES
        .iter()
        .map(|name| home.join(".ssh").join(name))
        .filter(|p| p.is_file())
        .collect()
}

async fn authenticate(
    handle: &mut client::Handle<KnownHosts>,
    engine: &SshEngine,
    target: &str,
) -> Result<(), String> {
    let keys = key_files();
    if keys.is_empty() {
        return Err(format!(
            "ssh {target}: no key in ~/.ssh ({}); lo logs in with one of them",
            KEY_FILES.join(", ")
        ));
    }
    let mut tried = Vec::new();
    for path in &keys {
        let Some(key) = read_key(path) else {
            tried.push(format!("{} (unreadable, or has a passphrase)", shown(path)));
            continue;
        };
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten();
        let auth = handle
            .authenticate_publickey(
                &engine.user,
                PrivateKeyWithHashAlg::new(Arc::new(key), hash),
            )
            .await
            .map_err(|e| format!("ssh {target}: {e}"))?;
        if auth.success() {
            return Ok(());
        }
        tried.push(format!("{} (refused)", shown(path)));
    }
    Err(format!(
        "ssh {target}: no key was accepted: {}",
        tried.join(", ")
    ))
}

fn read_key(path: &Path) -> Option<russh::keys::PrivateKey> {
    let text = std::fs::read_to_string(path).ok()?;
    russh::keys::decode_secret_key(&text, None).ok()
}

fn shown(path: &Path) -> String {
    path.file_name()
        .map(|n| format!("~/.ssh/{}", n.to_string_lossy()))
        .unwrap_or_else(|| path.display().to_string())
}

/// The ssh session and the engine connections it keeps open for the next request (each one a
/// remote `docker system dial-stdio` process, so reusing them saves a process per call).
struct Tunnel {
    handle: client::Handle<KnownHosts>,
    idle: Mutex<Vec<SendRequest<EngineBody>>>,
}

/// The body type of bollard's requests (bollard does not export its name).
type EngineBody = <BollardRequest as BodyOf>::Body;

trait BodyOf {
    type Body;
}

impl<B> BodyOf for hyper::Request<B> {
    type Body = B;
}

/// At most this many idle engine connections are kept.
const IDLE_MAX: usize = 4;

impl Tunnel {
    /// One API request, on an idle connection if one is ready, else on a new channel.
    async fn round_trip(
        &self,
        request: BollardRequest,
    ) -> Result<hyper::Response<hyper::body::Incoming>, bollard::errors::Error> {
        let reused = self.idle.lock().ok().and_then(|mut idle| {
            // Busy ones (a body still being read) or closed ones (upgraded, ended) are dropped.
            std::iter::from_fn(|| idle.pop()).find(SendRequest::is_ready)
        });
        let mut sender = match reused {
            Some(sender) => sender,
            None => self.open().await?,
        };
        let response = sender.send_request(origin_form(request)?).await?;
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_MAX
        {
            idle.push(sender);
        }
        Ok(response)
    }

    /// A new engine connection: a channel running `docker system dial-stdio`.
    async fn open(&self) -> Result<SendRequest<EngineBody>, bollard::errors::Error> {
        let channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| io_error(format!("ssh channel: {e}")))?;
        channel
            .exec(true, "docker system dial-stdio")
            .await
            .map_err(|e| io_error(format!("ssh exec docker system dial-stdio: {e}")))?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(channel.into_stream())).await?;
        // Streams (logs, attach) outlive the call that opened them, and exec's hijacked stream
        // is an HTTP upgrade of the connection.
        tokio::spawn(async move {
            let _ = connection.with_upgrades().await;
        });
        Ok(sender)
    }
}

fn io_error(e: String) -> bollard::errors::Error {
    bollard::errors::Error::IOError {
        err: std::io::Error::other(e),
    }
}

/// Over a connection of its own a request names its path only (origin form).
fn origin_form(request: BollardRequest) -> Result<BollardRequest, bollard::errors::Error> {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    parts.uri = path
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| io_error(e.to_string()))?;
    parts.headers.insert(
        hyper::header::HOST,
        hyper::header::HeaderValue::from_static("docker"),
    );
    Ok(hyper::Request::from_parts(parts, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hosts_parse_like_the_docker_cli_reads_them() {
        let e = SshEngine::parse("ssh://deploy@build.example.test:2222", "me").unwrap();
        assert_eq!(
            (e.user.as_str(), e.host.as_str(), e.port),
            ("deploy", "build.example.test", 2222)
        );
        let e = SshEngine::parse("ssh://root@[::1]:22/", "me").unwrap();
        assert_eq!((e.host.as_str(), e.port), ("::1", 22));
        let e = SshEngine::parse("ssh://ops@10.0.0.5", "me").unwrap();
        assert_eq!(e.port, 22);
        let e = SshEngine::parse("ssh://build.example.test", "me").unwrap();
        assert_eq!(e.user, "me");
        for bad in [
            "ssh://",
            "ssh://u@h:port",
            "ssh://u@h/var/run/docker.sock",
            "ssh://@h",
            "tcp://h:2376",
        ] {
            assert!(SshEngine::parse(bad, "me").is_err(), "{bad}");
        }
    }
}
