//! The operator's settings. Every environment variable `lo` reads for itself is declared once,
//! as a global argument with `env` (so `lo --help` lists them: `CI`, `LO_LOCKED`, `LO_PLAIN`,
//! `LO_CACHE_DIR`, `LO_PRIVILEGED_MODE`, `LO_SSH_PARALLEL`, `CAROOT`, `DOMAIN_NAME`, `DOCKER_HOST`), and reaches the
//! code that needs it through [`Settings`]. `USER` (the default ssh login, as OpenSSH's) is read
//! here too, by [`login_user`].

use std::path::PathBuf;

pub use crate::host::docker::PrivilegedMode;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Run only pinned drivers and never change drivers.lock (`--locked`, `LO_LOCKED`, `CI`).
    pub locked: bool,
    /// Plain progress lines, no bars (`LO_PLAIN`, `CI`, or stderr not a terminal).
    pub plain: bool,
    /// Where compiled driver code is cached; None: `<user cache dir>/lok8s/compiled`.
    pub cache_dir: Option<PathBuf>,
    /// How a privileged container is run (`LO_PRIVILEGED_MODE`).
    pub privileged_mode: PrivilegedMode,
    /// How many commands one `ssh.exec-all` runs at once (`LO_SSH_PARALLEL`).
    pub ssh_parallel: usize,
    /// The user's CA folder (`CAROOT`); None: mkcert's default.
    pub caroot: Option<PathBuf>,
    /// The domain when neither an argument nor `clusters/.active` names one (`DOMAIN_NAME`).
    pub default_domain: Option<String>,
    /// The Docker engine's address (`--docker-host`, `DOCKER_HOST`); None: the local socket.
    pub docker_host: Option<String>,
    /// The login an `ssh://host` engine address without a user means (`USER`, else root).
    pub login_user: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            locked: false,
            plain: true,
            cache_dir: None,
            privileged_mode: PrivilegedMode::Privileged,
            ssh_parallel: crate::host::ssh::DEFAULT_PARALLEL.into(),
            caroot: None,
            default_domain: None,
            docker_host: None,
            login_user: login_user(),
        }
    }
}

/// The local login name (`USER`), the user ssh assumes when an address names none.
pub fn login_user() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "root".into())
}

impl Settings {
    /// The engine address as the docker capability takes it.
    pub fn docker_engine(&self) -> crate::host::docker::Engine {
        crate::host::docker::Engine {
            address: self.docker_host.clone(),
            login_user: self.login_user.clone(),
        }
    }

    /// The compiled-code cache these settings name.
    pub fn cache(&self) -> crate::engine::cache::CompiledCache {
        match &self.cache_dir {
            Some(dir) => crate::engine::cache::CompiledCache::at(dir),
            None => crate::engine::cache::CompiledCache::default_location(),
        }
    }

    /// The user's CA folder: `CAROOT`, else `$XDG_DATA_HOME/mkcert`, else
    /// `~/.local/share/mkcert` (mkcert's own rule).
    pub fn caroot(&self) -> PathBuf {
        self.caroot.clone().unwrap_or_else(|| {
            dirs::data_dir()
                .unwrap_or_else(|| PathBuf::from("."))
                .join("mkcert")
        })
    }
}
