//! What an ssh grant says (`[drivers.<kind>.grants.ssh]`), what a request becomes, and its
//! line in `lo drivers show`.

use serde::{Deserialize, Serialize};

use crate::contract::types;
use crate::host::grants::{extend_unique, or_none};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct SshGrant {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
}

impl SshGrant {
    pub fn from_request(r: &types::SshAccess) -> Self {
        SshGrant {
            hosts: r.hosts.clone(),
            keys: r.keys.clone(),
        }
    }

    pub fn merge(&mut self, other: SshGrant) {
        extend_unique(&mut self.hosts, other.hosts);
        extend_unique(&mut self.keys, other.keys);
    }

    pub fn line(&self) -> String {
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .map(|h| crate::host::reported::shown(h))
            .collect();
        format!(
            "ssh: hosts {}; keys {}",
            or_none(&hosts),
            or_none(&self.keys)
        )
    }
}
