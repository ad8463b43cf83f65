//! Files and objects rendered from a [`Plan`](crate::Plan): registry configs, the containerd
//! `certs.d` tree, `.registries.json`, the OIDC auth-config, the cluster's ConfigMaps and
//! CoreDNS objects, the containerd patch and the `LOK8S_SPEC_*` export set. Pure text, byte
//! for byte as the behaviour specification gives it where it gives it.

mod certs_d;
mod cluster_objects;
mod containerd;
mod coredns;
mod export;
mod files;
mod load_balancer;
mod registry;

pub use certs_d::{CA_PATH_IN_NODE, GITIGNORE, certs_d, gitignore_needs_writing};
pub use cluster_objects::{local_registry_hosting, lok8s_registries};
pub use containerd::patch_containerd_config;
pub use coredns::{
    COREFILE, CoreDnsFile, coredns_custom, coredns_deployment_patch, coredns_external,
    corefile_configmap, custom_files,
};
pub use export::{POD_SUBNET, SERVICE_SUBNET, consumer_env, export};
pub use files::{oidc_auth_config, registries_json};
pub use load_balancer::{HAPROXY_CONFIG, haproxy_config};
pub use registry::{
    REGISTRY_CA, REGISTRY_CA_DIR, REGISTRY_CERT, REGISTRY_CONFIG, REGISTRY_KEY, registry_config,
};

/// A stable hash of text (FNV-1a 64), for "did this change" labels and annotations.
pub fn digest(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for part in parts {
        for b in part.bytes().chain([0u8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x100000001b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests;
