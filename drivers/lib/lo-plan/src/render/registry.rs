//! Registry container configuration. The config and certificate are copied
//! into the container before it starts, so they live in its own filesystem: nothing is
//! bind-mounted from a temp file and a remote engine needs no local paths
//!. Both the official `registry` image and Debian's serve this path by default.

use crate::{Plan, Registry, RegistryKind};

pub const REGISTRY_CONFIG: &str = "/etc/docker/registry/config.yml";
pub const REGISTRY_CERT: &str = "/etc/docker/registry/tls.crt";
pub const REGISTRY_KEY: &str = "/etc/docker/registry/tls.key";
/// The local CA, for upstreams with a dev certificate (the folder is `SSL_CERT_DIR`).
pub const REGISTRY_CA: &str = "/etc/docker/registry/rootCA.pem";
pub const REGISTRY_CA_DIR: &str = "/etc/docker/registry";

const COMMON: &str = "version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
delete:
  enabled: true
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
";

/// The rendered `config.yml` of one registry.
pub fn registry_config(plan: &Plan, registry: &Registry) -> String {
    let mut out = String::from(COMMON);
    if registry.kind == RegistryKind::Mirror {
        out.push_str(&format!("proxy:\n  remoteurl: {}\n", registry.url));
    }
    if plan.tls {
        out.push_str(&format!(
            "http:\n  addr: :443\n  tls:\n    certificate: {REGISTRY_CERT}\n    key: {REGISTRY_KEY}\n"
        ));
    } else {
        out.push_str("http:\n  addr: :80\n");
    }
    out.push_str("  headers:\n    X-Content-Type-Options: [nosniff]\n");
    out
}
