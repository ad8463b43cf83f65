//! A project path granted beyond the driver's own folders (`files = [{ path, writable }]`).

use serde::{Deserialize, Serialize};

use crate::contract::types;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PathGrant {
    pub path: String,
    #[serde(default)]
    pub writable: bool,
}

impl PathGrant {
    pub fn from_request(r: &types::PathAccess) -> Self {
        PathGrant {
            path: r.path.clone(),
            writable: r.writable,
        }
    }

    pub fn line(&self) -> String {
        format!(
            "files: {} ({})",
            self.path,
            if self.writable {
                "read-write"
            } else {
                "read-only"
            }
        )
    }
}
