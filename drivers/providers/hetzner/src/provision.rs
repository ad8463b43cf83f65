//! Making a descriptor's resources exist (spec 7.3 provision): each entry is looked up by name,
//! created when missing (in [`CREATE_ORDER`], each type's actions waited for before the next,
//! since later types refer to earlier ones by id), then the steps that also apply to entries
//! that existed already: a network's missing `#subnets`, a load balancer's network, `#targets`
//! and `#services`, a server's `#floating-ip`. Re-runs create nothing twice. Bare-metal entries
//! (`#cloud.root: "true"`) are not cloud resources and are left to their own path.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::cloud_api::{Cloud, CloudError, Transport};
use crate::descriptor::{CREATE_ORDER, Descriptor, Entry};
use crate::mapping;

/// Why a provision stopped: a descriptor entry that cannot become a request, or the API.
#[derive(Debug, Clone, PartialEq)]
pub enum ProvisionError {
    Descriptor(String),
    Api(CloudError),
}

impl std::fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProvisionError::Descriptor(m) => write!(f, "{m}"),
            ProvisionError::Api(e) => write!(f, "{e}"),
        }
    }
}

impl From<CloudError> for ProvisionError {
    fn from(e: CloudError) -> Self {
        ProvisionError::Api(e)
    }
}

/// What a provision did: the ids of every entry, and which it created.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Provisioned {
    /// `(type, index)` → id.
    pub ids: BTreeMap<(String, usize), u64>,
    /// `(type, name)` of what this run created.
    pub created: Vec<(String, String)>,
}

impl Provisioned {
    /// The descriptor with each entry's `id` (the `hetzner.dump.json` of the original).
    pub fn dump(&self, descriptor: &Descriptor) -> Value {
        let mut document = descriptor.document.clone();
        for ((kind, index), id) in &self.ids {
            if let Some(entry) = document
                .get_mut(kind.as_str())
                .and_then(|list| list.get_mut(*index))
                .and_then(Value::as_object_mut)
            {
                entry.insert("id".into(), json!(id));
            }
        }
        Value::Object(document)
    }
}

fn is_bare_metal(entry: &Entry) -> bool {
    entry
        .metadata
        .get("cloud.root")
        .is_some_and(|v| v.as_str() == Some("true") || v.as_bool() == Some(true))
}

fn name_of<'e>(entry: &'e Entry, at: &str) -> Result<&'e str, ProvisionError> {
    entry
        .settings
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ProvisionError::Descriptor(format!("{at}.name: every entry needs a name")))
}

/// Creates what is missing. `user_data(index, entry)` gives a cloud server's cloud-config;
/// `progress` hears each step.
pub fn provision<T: Transport>(
    cloud: &Cloud<T>,
    descriptor: &Descriptor,
    user_data: &dyn Fn(usize, &Entry) -> Result<String, String>,
    progress: &mut dyn FnMut(&str),
) -> Result<Provisioned, ProvisionError> {
    let mut done = Provisioned::default();
    let mut entries: BTreeMap<&str, Vec<Entry>> = BTreeMap::new();
    for kind in CREATE_ORDER {
        entries.insert(
            kind,
            descriptor
                .entries(kind)
                .map_err(ProvisionError::Descriptor)?,
        );
    }
    // Every body is built before anything is created, so a bad entry creates nothing.
    for kind in CREATE_ORDER {
        for (i, entry) in entries[kind].iter().enumerate() {
            let at = format!("{kind}[{i}]");
            name_of(entry, &at)?;
            if !is_bare_metal(entry) {
                mapping::create_body(kind, &at, entry, &|_, _| Some(0))
                    .map_err(ProvisionError::Descriptor)?;
            }
        }
    }
    cloud.check_token()?;
    for kind in CREATE_ORDER {
        let mut actions = Vec::new();
        for (i, entry) in entries[kind].iter().enumerate() {
            let at = format!("{kind}[{i}]");
            if is_bare_metal(entry) {
                continue;
            }
            let name = name_of(entry, &at)?;
            if let Some(found) = cloud.find(kind, name)? {
                if let Some(id) = found["id"].as_u64() {
                    done.ids.insert((kind.to_string(), i), id);
                }
                continue;
            }
            let ids = |k: &str, index: usize| done.ids.get(&(k.to_string(), index)).copied();
            let mut body =
                mapping::create_body(kind, &at, entry, &ids).map_err(ProvisionError::Descriptor)?;
            match kind {
                "network" => {
                    let subnets =
                        mapping::subnets(entry, &at).map_err(ProvisionError::Descriptor)?;
                    if !subnets.is_empty() {
                        body["subnets"] = json!(subnets);
                    }
                }
                "server" => {
                    body["user_data"] = json!(
                        user_data(i, entry)
                            .map_err(|e| ProvisionError::Descriptor(format!("{at}: {e}")))?
                    );
                }
                _ => {}
            }
            progress(&format!("creating {kind} {name}"));
            let (object, started) = cloud.create(kind, &body)?;
            actions.extend(started);
            if let Some(id) = object["id"].as_u64() {
                done.ids.insert((kind.to_string(), i), id);
            }
            done.created.push((kind.to_string(), name.to_string()));
        }
        cloud.wait(&actions)?;
    }
    after_steps(cloud, &entries, &done, progress)?;
    Ok(done)
}

/// The steps for created and existing entries alike.
fn after_steps<T: Transport>(
    cloud: &Cloud<T>,
    entries: &BTreeMap<&str, Vec<Entry>>,
    done: &Provisioned,
    progress: &mut dyn FnMut(&str),
) -> Result<(), ProvisionError> {
    let id = |kind: &str, i: usize| done.ids.get(&(kind.to_string(), i)).copied();
    let mut actions = Vec::new();
    for (i, entry) in entries["network"].iter().enumerate() {
        let Some(network) = id("network", i) else {
            continue;
        };
        let at = format!("network[{i}]");
        let existing = cloud.call("GET", &format!("/networks/{network}"), None)?;
        let ranges: Vec<&str> = existing["network"]["subnets"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["ip_range"].as_str()).collect())
            .unwrap_or_default();
        for subnet in mapping::subnets(entry, &at).map_err(ProvisionError::Descriptor)? {
            if !ranges.contains(&subnet["ip_range"].as_str().unwrap_or_default()) {
                progress(&format!(
                    "adding subnet {} to network {network}",
                    subnet["ip_range"]
                ));
                actions.push(cloud.act("network", network, "add_subnet", &subnet)?);
            }
        }
    }
    for (i, entry) in entries["load-balancer"].iter().enumerate() {
        let Some(lb) = id("load-balancer", i) else {
            continue;
        };
        let at = format!("load-balancer[{i}]");
        if let Some(network) = id("network", 0) {
            match cloud.act(
                "load-balancer",
                lb,
                "attach_to_network",
                &json!({"network": network}),
            ) {
                Ok(action) => actions.push(action),
                // Attached already: what a re-run finds.
                Err(e) if e.status == 409 || e.code.contains("already") => {}
                Err(e) => return Err(e.into()),
            }
        }
        for (j, row) in rows(entry, "targets", &at)?.iter().enumerate() {
            let body = target(row, &format!("{at}.#targets[{j}]"), &id)?;
            ignore_already(
                cloud.act("load-balancer", lb, "add_target", &body),
                &mut actions,
            )?;
        }
        for (j, row) in rows(entry, "services", &at)?.iter().enumerate() {
            let row_at = format!("{at}.#services[{j}]");
            let port = |key: &str| {
                row.get(key)
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                    .ok_or_else(|| {
                        ProvisionError::Descriptor(format!(
                            "{row_at}.{key}: a port number is required"
                        ))
                    })
            };
            let body = json!({
                "protocol": row.get("protocol").and_then(Value::as_str).unwrap_or("tcp"),
                "listen_port": port("listen-port")?,
                "destination_port": port("destination-port")?,
            });
            ignore_already(
                cloud.act("load-balancer", lb, "add_service", &body),
                &mut actions,
            )?;
        }
    }
    for (i, entry) in entries["server"].iter().enumerate() {
        let (Some(server), Some(fip)) = (id("server", i), entry.metadata.get("floating-ip")) else {
            continue;
        };
        let index = fip.as_u64().ok_or_else(|| {
            ProvisionError::Descriptor(format!(
                "server[{i}].#floating-ip: an index into floating-ip"
            ))
        })? as usize;
        let Some(fip_id) = id("floating-ip", index) else {
            return Err(ProvisionError::Descriptor(format!(
                "server[{i}].#floating-ip: floating-ip[{index}] does not exist"
            )));
        };
        actions.push(cloud.act("floating-ip", fip_id, "assign", &json!({"server": server}))?);
    }
    cloud.wait(&actions)?;
    Ok(())
}

fn rows(entry: &Entry, key: &str, at: &str) -> Result<Vec<Value>, ProvisionError> {
    match entry.metadata.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(rows)) => Ok(rows.clone()),
        Some(_) => Err(ProvisionError::Descriptor(format!(
            "{at}.#{key}: must be a list"
        ))),
    }
}

/// A `#targets` row as the API's target: a server (index or name), a label selector, an IP.
fn target(
    row: &Value,
    at: &str,
    id: &dyn Fn(&str, usize) -> Option<u64>,
) -> Result<Value, ProvisionError> {
    let bad = |why: &str| ProvisionError::Descriptor(format!("{at}: {why}"));
    let value = row.get("value").ok_or_else(|| bad("value is required"))?;
    let private = row
        .get("use-private-ip")
        .map(|v| v.as_bool().unwrap_or(v.as_str() != Some("false")))
        .unwrap_or(true);
    Ok(
        match row.get("type").and_then(Value::as_str).unwrap_or("server") {
            "server" => {
                let server = match value {
                    Value::Number(n) => {
                        let index = n
                            .as_u64()
                            .ok_or_else(|| bad("a server index is a whole number"))?;
                        id("server", index as usize)
                            .ok_or_else(|| bad(&format!("server[{index}] does not exist")))?
                    }
                    Value::String(s) => s
                        .parse()
                        .map_err(|_| bad("a server is an index or an id"))?,
                    _ => return Err(bad("a server is an index or an id")),
                };
                json!({"type": "server", "server": {"id": server}, "use_private_ip": private})
            }
            "label-selector" => json!({"type": "label_selector",
            "label_selector": {"selector": value.as_str().ok_or_else(|| bad("a selector is text"))?},
            "use_private_ip": private}),
            "ip" => {
                json!({"type": "ip", "ip": {"ip": value.as_str().ok_or_else(|| bad("an ip is text"))?}})
            }
            other => {
                return Err(bad(&format!(
                    "type {other:?}: use server, label-selector or ip"
                )));
            }
        },
    )
}

/// An action the API refuses as done already (a re-run's target or service) is no error.
fn ignore_already(
    result: Result<Value, CloudError>,
    actions: &mut Vec<Value>,
) -> Result<(), ProvisionError> {
    match result {
        Ok(action) => {
            actions.push(action);
            Ok(())
        }
        Err(e)
            if e.status == 409 || e.code.contains("already") || e.message.contains("already") =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
