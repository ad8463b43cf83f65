//! The `ssh` import on russh. Guards four things: connections go only to granted hosts (one
//! spelling of each host, so a grant and a pin cannot be told apart by case or a trailing
//! dot); private keys are read here, from granted paths checked before the file system is
//! touched, and never cross into the guest; host keys are pinned in the project's
//! `.lok8s/known_hosts` on first use (outside every preopen, so a driver cannot rewrite the
//! pins) and a changed key is refused; a command that outlives its call is signalled and its
//! channel closed, so nothing keeps running on the remote host.

mod batch;
mod echo;
pub mod grant;

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::keys::PublicKeyOrCertificate;
use russh::keys::{HashAlg, PrivateKeyWithHashAlg};
use russh::{ChannelMsg, Disconnect, Sig, client};
use wasmtime::component::Resource;

use crate::contract::ssh as wit;
use crate::contract::types::{DriverError, ExecOutput};
use crate::host::refusal::{Call, granted};
use grant::SshGrant;

const MAX_SESSIONS: usize = 32;
/// Commands one `exec-all` runs at once unless the operator says otherwise
/// (`LO_SSH_PARALLEL`): every host of a usual cluster.
pub const DEFAULT_PARALLEL: u16 = 16;
const MAX_OUTPUT: usize = 16 << 20;
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest private key file read.
const MAX_KEY_BYTES: u64 = 64 * 1024;
/// How long a signalled command gets to exit before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(2);

/// One driver's SSH access.
pub struct SshCtx {
    grant: SshGrant,
    project_root: PathBuf,
    known_hosts: PathBuf,
    refuse: crate::host::refusal::Refusals,
    open: usize,
    /// How many commands one `exec-all` runs at once (the operator's `LO_SSH_PARALLEL`).
    parallel: usize,
    /// Servers a watched API reported (grant entries `hcloud-servers:<origin>`).
    reported: crate::host::reported::ReportedHosts,
}

/// A connected, authenticated session (the `session` resource).
pub struct SshSession {
    handle: client::Handle<PinningHandler>,
    target: String,
    /// Where output is shown as it arrives (none outside a driver's run).
    echo: Option<crate::host::Logger>,
}

/// One spelling per host: lower case, no trailing dot, IPv6 without brackets. Anything but a
/// DNS name or an IP address is refused (it would also go into the pin file).
pub fn normalize_host(host: &str) -> Result<String, String> {
    let h = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if h.parse::<std::net::IpAddr>().is_ok() {
        return Ok(h);
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if h.len() <= 253 && h.split('.').all(label_ok) {
        return Ok(h);
    }
    Err(format!("{host:?} is not a host name or IP address"))
}

impl SshCtx {
    /// The context a grant gives a driver at `site`: pins kept in the project's
    /// `.lok8s/known_hosts`, key paths relative to its root.
    pub fn from_grant(grant: &SshGrant, site: &crate::host::Site) -> Self {
        let root = site
            .project
            .root()
            .canonicalize()
            .unwrap_or_else(|_| site.project.root().to_path_buf());
        let mut ctx = SshCtx::new(grant.clone(), root, site.hint.to_string());
        ctx.parallel = site.ssh_parallel.max(1);
        ctx
    }

    pub fn new(grant: SshGrant, project_root: PathBuf, hint: String) -> Self {
        let known_hosts = project_root.join(".lok8s").join("known_hosts");
        SshCtx {
            grant,
            project_root,
            known_hosts,
            refuse: crate::host::refusal::Refusals::new("ssh", hint),
            open: 0,
            parallel: DEFAULT_PARALLEL.into(),
            reported: crate::host::reported::ReportedHosts::default(),
        }
    }

    /// Lets the driver reach the servers the grant's watched APIs report.
    pub fn with_reported(mut self, reported: crate::host::reported::ReportedHosts) -> Self {
        self.reported = reported;
        self
    }

    /// `host` is normalised ([`normalize_host`]); so is each grant entry.
    fn host_allowed(&self, host: &str, port: u16) -> bool {
        if host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| self.reported.contains(ip))
        {
            return true;
        }
        self.grant.hosts.iter().any(|pattern| {
            if pattern == "*" {
                return true;
            }
            if crate::host::reported::is_reported_entry(pattern) {
                return false;
            }
            let (name, pattern_port) = match pattern.rsplit_once(':') {
                Some((n, p)) if !n.contains(':') || n.ends_with(']') => (n, p.parse::<u16>().ok()),
                _ => (pattern.as_str(), None),
            };
            normalize_host(name).is_ok_and(|n| n == host) && pattern_port.is_none_or(|p| p == port)
        })
    }

    /// The private key's text, if the grant covers its path: a granted file, or a file under a
    /// granted folder. The grant is checked on the path as written before anything on disk is
    /// looked at (so whether an ungranted file exists stays unknown). A project-relative key is
    /// read through the project's handle (no links, a regular file); a key elsewhere on this
    /// machine must still be under a granted path once links are resolved.
    fn key_text(&self, key: &str) -> Result<String, DriverError> {
        let refused = || {
            self.refuse.denied(
                format!("key {key:?}"),
                format!(
                    "not under a granted key path ({}); add it to ssh.keys",
                    self.grant.keys.join(", ")
                ),
            )
        };
        let absolute = |p: &str| {
            let path = Path::new(p);
            if path.is_absolute() {
                path.to_path_buf()
            } else {
                self.project_root.join(path)
            }
        };
        let wanted = absolute(key);
        let lexically = !wanted
            .components()
            .any(|c| matches!(c, Component::ParentDir))
            && self
                .grant
                .keys
                .iter()
                .any(|g| wanted.starts_with(absolute(g)));
        if !lexically {
            return Err(refused());
        }
        let not_found = |e: String| DriverError::NotFound(format!("ssh key {key:?}: {e}"));
        if !Path::new(key).is_absolute() {
            let bytes = crate::project::Inside::open(&self.project_root)
                .and_then(|root| root.read(key, MAX_KEY_BYTES))
                .map_err(|e| not_found(e.to_string()))?;
            return String::from_utf8(bytes).map_err(|_| not_found("not a text key file".into()));
        }
        let real = wanted
            .canonicalize()
            .map_err(|e| not_found(e.to_string()))?;
        let covered = self.grant.keys.iter().any(|g| {
            absolute(g)
                .canonicalize()
                .is_ok_and(|granted| real.starts_with(granted))
        });
        if !covered {
            return Err(refused());
        }
        std::fs::read_to_string(&real).map_err(|e| not_found(e.to_string()))
    }

    fn pinned(&self, target: &str) -> Option<String> {
        let text = std::fs::read_to_string(&self.known_hosts).ok()?;
        text.lines().find_map(|l| {
            let (host, fp) = l.split_once(' ')?;
            (host == target).then(|| fp.trim().to_string())
        })
    }

    fn pin(&self, target: &str, fingerprint: &str) -> Result<(), DriverError> {
        let fail = |e: std::io::Error| {
            DriverError::Failed(format!(
                "pinning the host key of {target} in {}: {e}",
                self.known_hosts.display()
            ))
        };
        if let Some(dir) = self.known_hosts.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.known_hosts)
            .map_err(fail)?;
        std::io::Write::write_all(&mut f, format!("{target} {fingerprint}\n").as_bytes())
            .map_err(fail)
    }

    async fn connect(&mut self, o: wit::ConnectOptions) -> Result<SshSession, DriverError> {
        let host = normalize_host(&o.host).map_err(|e| self.refuse.denied("connect", e))?;
        let target = if host.contains(':') {
            format!("[{host}]:{}", o.port)
        } else {
            format!("{host}:{}", o.port)
        };
        if !self.host_allowed(&host, o.port) {
            return Err(self.refuse.denied(
                format!("connect {}@{target}", o.user),
                format!("not a granted host; add \"{target}\" to ssh.hosts"),
            ));
        }
        if self.open >= MAX_SESSIONS {
            return Err(DriverError::Failed(format!(
                "ssh connect {target}: more than {MAX_SESSIONS} sessions open"
            )));
        }
        let key_text = self.key_text(&o.key)?;
        let key = russh::keys::decode_secret_key(&key_text, None).map_err(|e| {
            DriverError::Failed(format!(
                "ssh key {:?}: {e} (keys with a passphrase are not supported)",
                o.key
            ))
        })?;
        let expected = self.pinned(&target);
        let seen = Arc::new(Mutex::new(None));
        let handler = PinningHandler {
            expected: expected.clone(),
            seen: seen.clone(),
        };
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(Duration::from_secs(600)),
            ..Default::default()
        });
        let timeout = o
            .timeout_ms
            .map(|ms| Duration::from_millis(ms.into()))
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let connected = tokio::time::timeout(
            timeout,
            client::connect(config, (host.as_str(), o.port), handler),
        )
        .await;
        let mut handle = match connected {
            Err(_) => {
                return Err(DriverError::Timeout(format!(
                    "ssh connect {target}: no answer in {timeout:?}"
                )));
            }
            Ok(Ok(h)) => h,
            Ok(Err(e)) => {
                let seen = seen.lock().ok().and_then(|s| s.clone());
                return Err(match (expected, seen) {
                    (Some(pinned), Some(actual)) if pinned != actual => {
                        DriverError::Denied(format!(
                            "ssh connect {target}: the host key changed: pinned {pinned}, offered {actual}; if the machine was \
                         rebuilt, remove its line from {}",
                            self.known_hosts.display()
                        ))
                    }
                    _ => DriverError::Unavailable(format!("ssh connect {target}: {e}")),
                });
            }
        };
        let hash = handle
            .best_supported_rsa_hash()
            .await
            .ok()
            .flatten()
            .flatten();
        let auth = handle
            .authenticate_publickey(&o.user, PrivateKeyWithHashAlg::new(Arc::new(key), hash))
            .await
            .map_err(|e| DriverError::Failed(format!("ssh {}@{target}: {e}", o.user)))?;
        if !auth.success() {
            return Err(DriverError::Denied(format!(
                "ssh {}@{target}: the server refused the key {:?}",
                o.user, o.key
            )));
        }
        if expected.is_none()
            && let Some(fp) = seen.lock().ok().and_then(|s| s.clone())
        {
            self.pin(&target, &fp)?;
        }
        self.open += 1;
        Ok(SshSession {
            handle,
            target: format!("{}@{target}", o.user),
            echo: None,
        })
    }
}

impl SshSession {
    /// Runs `command`; past `deadline` it is sent TERM, then KILL, and its channel is closed.
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        deadline: Option<Instant>,
    ) -> Result<ExecOutput, DriverError> {
        self.exec_capped(command, stdin, deadline, MAX_OUTPUT).await
    }

    /// [`Self::exec`], keeping at most `cap` bytes of stdout and of stderr.
    async fn exec_capped(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        deadline: Option<Instant>,
        cap: usize,
    ) -> Result<ExecOutput, DriverError> {
        let fail = |e: russh::Error| DriverError::Failed(format!("ssh {}: {e}", self.target));
        let mut channel = self.handle.channel_open_session().await.map_err(fail)?;
        channel.exec(true, command).await.map_err(fail)?;
        if let Some(input) = stdin {
            channel.data(input).await.map_err(fail)?;
        }
        channel.eof().await.map_err(fail)?;
        let mut out = ExecOutput {
            exit_code: -1,
            stdout: Vec::new(),
            stderr: Vec::new(),
        };
        // Past the deadline: TERM, then after a grace KILL and the channel closed.
        let mut stdout_echo = echo::Echo::new(self.echo.as_ref(), &self.target);
        let mut stderr_echo = echo::Echo::new(self.echo.as_ref(), &self.target);
        let mut deadline = deadline.map(tokio::time::Instant::from_std);
        let mut signalled: Option<&str> = None;
        loop {
            let msg = match deadline {
                Some(at) => match tokio::time::timeout_at(at, channel.wait()).await {
                    Ok(msg) => msg,
                    Err(_) if signalled.is_none() => {
                        let _ = channel.signal(Sig::TERM).await;
                        signalled = Some("TERM");
                        deadline = Some(at + TERM_GRACE);
                        continue;
                    }
                    Err(_) => {
                        let _ = channel.signal(Sig::KILL).await;
                        let _ = channel.close().await;
                        signalled = Some("TERM, then KILL,");
                        break;
                    }
                },
                None => channel.wait().await,
            };
            let Some(msg) = msg else { break };
            match msg {
                ChannelMsg::Data { data } => {
                    stdout_echo.push(&data);
                    append_capped(&mut out.stdout, &data, cap)
                }
                ChannelMsg::ExtendedData { data, ext: 1 } => {
                    stderr_echo.push(&data);
                    append_capped(&mut out.stderr, &data, cap)
                }
                ChannelMsg::ExitStatus { exit_status } => out.exit_code = exit_status as i32,
                ChannelMsg::ExitSignal { signal_name, .. } => {
                    out.exit_code = -1;
                    append_capped(
                        &mut out.stderr,
                        format!("killed by signal {signal_name:?}").as_bytes(),
                        cap,
                    );
                }
                _ => {}
            }
        }
        stdout_echo.finish();
        stderr_echo.finish();
        if let Some(sig) = signalled {
            return Err(DriverError::Timeout(format!(
                "ssh {}: {command:?} was still running when the call's time ran out; it was sent {sig} and its channel closed",
                self.target
            )));
        }
        Ok(out)
    }

    async fn upload(
        &self,
        path: &str,
        contents: &[u8],
        mode: u32,
        deadline: Option<Instant>,
    ) -> Result<(), DriverError> {
        let quoted = format!("'{}'", path.replace('\'', "'\\''"));
        let command = format!("umask 077 && cat > {quoted} && chmod {mode:o} {quoted}");
        let out = self.exec(&command, Some(contents), deadline).await?;
        if out.exit_code != 0 {
            return Err(DriverError::Failed(format!(
                "ssh {}: writing {path}: exit {}: {}",
                self.target,
                out.exit_code,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }
}

fn append_capped(buf: &mut Vec<u8>, bytes: &[u8], cap: usize) {
    let room = cap.saturating_sub(buf.len());
    buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

/// Accepts the pinned host key, or any key on first use (recording it for pinning).
pub struct PinningHandler {
    expected: Option<String>,
    seen: Arc<Mutex<Option<String>>>,
}

impl client::Handler for PinningHandler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        offered: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        // Host certificates are not pinned by fingerprint here: refuse rather than guess.
        let PublicKeyOrCertificate::PublicKey { key, .. } = offered else {
            return Ok(false);
        };
        let fingerprint = key.fingerprint(HashAlg::Sha256).to_string();
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fingerprint.clone());
        }
        Ok(self
            .expected
            .as_ref()
            .is_none_or(|pinned| *pinned == fingerprint))
    }
}

impl wit::Host for super::HostState {}

/// The guest holds a `session` handle; the table holds the [`SshSession`] behind it, under the
/// same index (and a 1.2 handle is a 1.0 handle under the same index too).
fn same_index<T: 'static, U: 'static>(handle: &Resource<T>) -> Resource<U> {
    if handle.owned() {
        Resource::new_own(handle.rep())
    } else {
        Resource::new_borrow(handle.rep())
    }
}

impl wit::HostSession for super::HostState {
    async fn connect(&mut self, options: wit::ConnectOptions) -> Call<Resource<wit::Session>> {
        let ssh = granted(&mut self.ssh, "ssh")?;
        match ssh.connect(options).await {
            Ok(mut session) => {
                session.echo = Some(self.log.clone());
                let pushed = self.table.push(session)?;
                Ok(Ok(Resource::new_own(pushed.rep())))
            }
            Err(e) => Ok(Err(e)),
        }
    }

    async fn exec(
        &mut self,
        session: Resource<wit::Session>,
        command: String,
        stdin: Option<Vec<u8>>,
    ) -> Call<ExecOutput> {
        let deadline = self.command_deadline();
        let session = self.table.get(&same_index::<_, SshSession>(&session))?;
        Ok(session.exec(&command, stdin.as_deref(), deadline).await)
    }

    async fn upload(
        &mut self,
        session: Resource<wit::Session>,
        path: String,
        contents: Vec<u8>,
        mode: u32,
    ) -> Call<()> {
        let deadline = self.command_deadline();
        let session = self.table.get(&same_index::<_, SshSession>(&session))?;
        Ok(session.upload(&path, &contents, mode, deadline).await)
    }

    async fn drop(&mut self, session: Resource<wit::Session>) -> wasmtime::Result<()> {
        let session = self.table.delete(same_index::<_, SshSession>(&session))?;
        let _ = session
            .handle
            .disconnect(Disconnect::ByApplication, "", "en")
            .await;
        if let Some(ssh) = self.ssh.as_mut() {
            ssh.open = ssh.open.saturating_sub(1);
        }
        Ok(())
    }
}
