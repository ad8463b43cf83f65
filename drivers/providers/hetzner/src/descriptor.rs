//! The provider config ("descriptor"): top-level settings plus arrays of resources named after
//! their Hetzner types (`ssh-key`, `floating-ip`, `network`, `load-balancer`, `server`,
//! `volume`). In an entry a key starting with `#` is metadata for the provider's own steps
//! (`#subnets`, `#targets`, `#services`, `#cloud.root`, …); every other key is a setting of the
//! resource, which [`crate::mapping`] turns into the API's field.

use serde_json::{Map, Value};

/// The resource types the provider creates, in creation order.
pub const CREATE_ORDER: [&str; 6] = [
    "ssh-key",
    "floating-ip",
    "network",
    "load-balancer",
    "server",
    "volume",
];

/// A parsed descriptor.
#[derive(Debug, Clone)]
pub struct Descriptor {
    pub cluster_name: Option<String>,
    /// The whole document, for the settings this build does not type yet (`cloudInit`, keys).
    pub document: Map<String, Value>,
}

/// One resource entry: its settings and its `#` metadata, kept apart.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Entry {
    pub settings: Map<String, Value>,
    pub metadata: Map<String, Value>,
}

impl Descriptor {
    /// JSON or YAML text (JSON is YAML, so one parser reads both).
    pub fn parse(text: &str) -> Result<Descriptor, String> {
        let value: Value = serde_yaml::from_str(text)
            .map_err(|e| format!("the provider config is neither JSON nor YAML: {e}"))?;
        let Value::Object(document) = value else {
            return Err("the provider config must be a map of settings and resource lists".into());
        };
        for kind in CREATE_ORDER {
            if let Some(list) = document.get(kind)
                && !list.is_array()
            {
                return Err(format!("{kind}: must be a list of {kind} entries"));
            }
        }
        Ok(Descriptor {
            cluster_name: document
                .get("cluster_name")
                .and_then(Value::as_str)
                .map(str::to_string),
            document,
        })
    }

    /// The entries of one resource type, in order.
    pub fn entries(&self, kind: &str) -> Result<Vec<Entry>, String> {
        let Some(list) = self.document.get(kind).and_then(Value::as_array) else {
            return Ok(Vec::new());
        };
        list.iter()
            .enumerate()
            .map(|(i, item)| {
                let Value::Object(map) = item else {
                    return Err(format!("{kind}[{i}]: must be a map of settings"));
                };
                let mut entry = Entry::default();
                for (key, value) in map {
                    match key.strip_prefix('#') {
                        Some(meta) => entry.metadata.insert(meta.to_string(), value.clone()),
                        None => entry.settings.insert(key.clone(), value.clone()),
                    };
                }
                Ok(entry)
            })
            .collect()
    }
}
