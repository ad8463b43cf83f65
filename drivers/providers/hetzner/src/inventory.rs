//! The provider's inventory (spec 7.3 `output`): the API endpoint (the cluster's first labelled
//! load balancer), how to log in, and every node: the labelled cloud servers as the API reports
//! them, then the descriptor's bare-metal servers (`#cloud.root: "true"` with an
//! `#external-ip`). Drivers build their host lists from it, and because the cloud addresses come
//! from the API's answers, the ssh grant `hcloud-servers:` lets the driver reach exactly them.

use serde::Serialize;
use serde_json::Value;

use crate::cloud_api::{Cloud, Transport};
use crate::cluster::CLUSTER_LABEL;
use crate::descriptor::Descriptor;
use crate::provision::ProvisionError;

pub const ROLE_LABEL: &str = "lok8s.dev/role";
pub const GROUP_LABEL: &str = "lok8s.dev/group";
pub const API_PORT: u16 = 6443;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inventory {
    pub api: Api,
    pub access: Access,
    pub nodes: Vec<Node>,
    pub network: Option<Network>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Api {
    /// The load balancer's public IPv4 address; empty without one.
    pub endpoint: String,
    pub private_endpoint: String,
    pub port: u16,
}

/// How every node is logged into.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Access {
    pub user: String,
    pub port: u16,
    /// Project-relative path of the private key (the ssh import reads it; the driver never does).
    pub private_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub name: String,
    pub role: Role,
    pub group: String,
    pub public_ip: String,
    pub private_ip: String,
    /// A dedicated (Robot) server rather than a cloud one.
    pub bare_metal: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ControlPlane,
    Worker,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Network {
    pub id: String,
    pub name: String,
    pub cidr: String,
}

/// Where the ssh key must live: the folder the driver's ssh grant names.
pub const KEY_FOLDER: &str = ".secrets/ssh/";
const DEFAULT_KEY: &str = ".secrets/ssh/id_ed25519";

/// The login of the descriptor: `sshUser` (else `cloudInit.user`, else root), `sshPort` (else
/// 22; the original forced 22) and `sshPrivateKey`, which must be a key file under
/// `.secrets/ssh/` of the project.
pub fn access(descriptor: &Descriptor) -> Result<Access, String> {
    let doc = &descriptor.document;
    let user = doc
        .get("sshUser")
        .and_then(Value::as_str)
        .or_else(|| doc.get("cloudInit")?.get("user")?.as_str())
        .unwrap_or("root")
        .to_string();
    if user.is_empty()
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(format!(
            "sshUser {user:?}: not a user name; write letters, digits, '.', '_' or '-'"
        ));
    }
    let key = doc
        .get("sshPrivateKey")
        .and_then(Value::as_str)
        .unwrap_or(DEFAULT_KEY)
        .trim_start_matches("./");
    let inside = key.strip_prefix(KEY_FOLDER).is_some_and(|rest| {
        !rest.is_empty() && !rest.split('/').any(|p| p == ".." || p.is_empty())
    });
    if !inside {
        return Err(format!(
            "sshPrivateKey {key:?}: lo reads ssh keys only from the project's {KEY_FOLDER} folder; \
             copy the key there and write sshPrivateKey: {DEFAULT_KEY}"
        ));
    }
    let port = match doc.get("sshPort") {
        None => 22,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str()?.parse().ok())
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("sshPort {v}: not a port; write a number from 1 to 65535"))?,
    };
    Ok(Access {
        user,
        port,
        private_key: key.to_string(),
    })
}

/// The inventory of the cluster `name`, read from the API now.
pub fn inventory<T: Transport>(
    cloud: &Cloud<T>,
    descriptor: &Descriptor,
    name: &str,
) -> Result<Inventory, ProvisionError> {
    let access = access(descriptor).map_err(ProvisionError::Descriptor)?;
    let selector = format!("{CLUSTER_LABEL}={name}");
    let labelled = |kind: &str| cloud.list(kind, &[("label_selector", selector.as_str())]);
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let balancer = labelled("load-balancer")?.into_iter().next();
    let api = Api {
        endpoint: balancer
            .as_ref()
            .map(|lb| text(&lb["public_net"]["ipv4"]["ip"]))
            .unwrap_or_default(),
        private_endpoint: balancer
            .as_ref()
            .map(|lb| text(&lb["private_net"][0]["ip"]))
            .unwrap_or_default(),
        port: API_PORT,
    };
    let mut nodes: Vec<Node> = labelled("server")?
        .iter()
        .map(|server| {
            let label = |key: &str| server["labels"][key].as_str().map(str::to_string);
            let public_ip = text(&server["public_net"]["ipv4"]["ip"]);
            let private_ip = server["private_net"][0]["ip"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| public_ip.clone());
            Node {
                name: text(&server["name"]),
                role: role(label(ROLE_LABEL).as_deref()),
                group: label(GROUP_LABEL).unwrap_or_else(|| "default".into()),
                public_ip,
                private_ip,
                bare_metal: false,
            }
        })
        .collect();
    nodes.sort_by(|a, b| (a.role, &a.name).cmp(&(b.role, &b.name)));
    nodes.extend(bare_metal(descriptor));
    let network = labelled("network")?.into_iter().next().map(|n| Network {
        id: n["id"]
            .as_u64()
            .map(|id| id.to_string())
            .unwrap_or_default(),
        name: text(&n["name"]),
        cidr: text(&n["ip_range"]),
    });
    Ok(Inventory {
        api,
        access,
        nodes,
        network,
    })
}

fn role(label: Option<&str>) -> Role {
    match label {
        Some("control-plane") => Role::ControlPlane,
        _ => Role::Worker,
    }
}

/// Whether the descriptor names dedicated servers (then the Robot login is needed).
pub fn has_dedicated(descriptor: &Descriptor) -> bool {
    !bare_metal(descriptor).is_empty()
}

/// The descriptor's dedicated servers with an external address.
fn bare_metal(descriptor: &Descriptor) -> Vec<Node> {
    let Ok(entries) = descriptor.entries("server") else {
        return Vec::new();
    };
    entries
        .iter()
        .filter(|e| e.metadata.get("cloud.root").and_then(Value::as_str) == Some("true"))
        .filter_map(|e| {
            let meta = |key: &str| {
                e.metadata
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            let public_ip = meta("external-ip")?;
            let control_plane = match e.metadata.get("labels") {
                Some(Value::String(s)) => s.split(',').any(|l| l.trim() == "role=control-plane"),
                Some(Value::Object(m)) => {
                    m.get("role").and_then(Value::as_str) == Some("control-plane")
                }
                _ => false,
            };
            Some(Node {
                name: e
                    .settings
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                role: if control_plane {
                    Role::ControlPlane
                } else {
                    Role::Worker
                },
                group: "dedicated".into(),
                private_ip: meta("internal-ip").unwrap_or_else(|| public_ip.clone()),
                public_ip,
                bare_metal: true,
            })
        })
        .collect()
}
