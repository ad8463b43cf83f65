//! The operator's settings. Every environment variable `lo` reads for itself is declared once,
//! as a global argument with `env` (so `lo --help` lists them: `CI`, `LO_LOCKED`, `LO_PLAIN`,
//! `LO_CACHE_DIR`, `LO_PRIVILEGED_MODE`, `CAROOT`, `DOMAIN_NAME`), and reaches the code that
//! needs it through [`Settings`]. `DOCKER_HOST` stays Docker's: bollard reads it to connect, and
//! the docker capability reads it to tell a remote engine.

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
    /// The user's CA folder (`CAROOT`); None: mkcert's default.
    pub caroot: Option<PathBuf>,
    /// The domain when neither an argument nor `clusters/.active` names one (`DOMAIN_NAME`).
    pub default_domain: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            locked: false,
            plain: true,
            cache_dir: None,
            privileged_mode: PrivilegedMode::Privileged,
            caroot: None,
            default_domain: None,
        }
    }
}

impl Settings {
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
