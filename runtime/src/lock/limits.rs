//! Resource limits for a driver as `drivers.lock` writes them (`[drivers.<kind>.limits]`).

use serde::{Deserialize, Serialize};

/// Resource limits for one driver; unset fields take `lo`'s defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// Guest compute time per call, host calls and waits excluded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<u64>,
    /// Wall-clock time per call, host calls and waits included; per operation below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub timeouts: std::collections::BTreeMap<String, u64>,
}

impl Limits {
    pub fn is_default(&self) -> bool {
        self == &Limits::default()
    }
}
