//! What a docker grant says, as `drivers.lock` writes it (`[drivers.<kind>.grants.docker]`),
//! what a driver's request becomes, and the line `lo drivers show` prints for it.

use serde::{Deserialize, Serialize};

use crate::contract::types;
use crate::host::grants::{extend_unique, list_suffix};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct DockerGrant {
    #[serde(default)]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_networks: Vec<String>,
    /// Host paths containers may bind read-only (mounted ro, nosuid, nodev).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_paths: Vec<String>,
    /// Host paths containers may bind read-write; each must lie on a nosuid,nodev mount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writable_host_paths: Vec<String>,
    /// Image repositories it may pull and tag: `docker.io/kindest/node`, `ghcr.io/acme/*`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Host addresses beyond loopback it may publish ports on (`0.0.0.0`: every interface).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub publish: Vec<String>,
    /// Host ports below 1024.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub low_ports: bool,
    /// Spec fields (paths below `spec:`) that name a shared network: the operator, who writes
    /// the spec, grants it there (`registries.shared.network.name`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec_shared_networks: Vec<String>,
    /// Spec fields naming host folders its containers will bind (`nodes.extraMounts[].hostPath`;
    /// a sibling `readOnly: true` makes the bind read-only): checked against host-paths before
    /// the driver runs, so a refusal comes before the first container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spec_host_paths: Vec<String>,
    /// The shared networks that came from the spec, not from the grant itself: an existing one
    /// is used only if lo created it as shared (never another cluster's network).
    #[serde(skip)]
    pub spec_named: Vec<String>,
}

impl DockerGrant {
    /// What a request in `describe` asks for (images, publish addresses and low ports are the
    /// operator's to add in `drivers.lock`: the 1.0 contract cannot request them).
    pub fn from_request(r: &types::DockerAccess) -> Self {
        DockerGrant {
            privileged: r.privileged,
            shared_networks: r.shared_networks.clone(),
            host_paths: r.host_paths.clone(),
            ..Default::default()
        }
    }

    pub fn merge(&mut self, other: DockerGrant) {
        self.privileged |= other.privileged;
        self.low_ports |= other.low_ports;
        extend_unique(&mut self.shared_networks, other.shared_networks);
        extend_unique(&mut self.host_paths, other.host_paths);
        extend_unique(&mut self.writable_host_paths, other.writable_host_paths);
        extend_unique(&mut self.images, other.images);
        extend_unique(&mut self.publish, other.publish);
        extend_unique(&mut self.spec_shared_networks, other.spec_shared_networks);
        extend_unique(&mut self.spec_host_paths, other.spec_host_paths);
        extend_unique(&mut self.spec_named, other.spec_named);
    }

    pub fn line(&self) -> String {
        format!(
            "docker: objects labelled for its cluster{}{}{}{}{}{}{}{}{}",
            if self.privileged {
                "; privileged containers"
            } else {
                ""
            },
            list_suffix("; shared networks ", &self.shared_networks),
            list_suffix("; host paths (read-only) ", &self.host_paths),
            list_suffix("; host paths (read-write) ", &self.writable_host_paths),
            list_suffix("; pulls and tags of ", &self.images),
            list_suffix("; ports published on ", &self.publish),
            if self.low_ports {
                "; host ports below 1024"
            } else {
                ""
            },
            list_suffix(
                "; the shared networks the spec names in ",
                &spec_fields(&self.spec_shared_networks)
            ),
            list_suffix(
                "; host paths the spec names in ",
                &spec_fields(&self.spec_host_paths)
            ),
        )
    }
}

fn spec_fields(paths: &[String]) -> Vec<String> {
    paths.iter().map(|p| format!("spec.{p}")).collect()
}
