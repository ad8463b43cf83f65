//! The spec's provider (Hetzner) as this driver reaches it: the provider config inline
//! (`spec.provider.config`) or in a file of the cluster folder (`spec.provider.configRef`), the
//! token from `HCLOUD_TOKEN`, the API at `HCLOUD_ENDPOINT` (as the hcloud CLI reads it) or the
//! public one, the Robot login for dedicated servers, requests through the http import.

use std::time::Duration;

use lok8s_driver_sdk::spec::{Spec, invalid};
use lok8s_driver_sdk::{Context, DriverError, Result, env, failed, http};
use lok8s_provider_hetzner::cloud_api::{self, Cloud, CloudError, Transport};
use lok8s_provider_hetzner::descriptor::Descriptor;

/// The http import as the provider's transport.
pub struct Http;

impl Transport for Http {
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
        timeout: Duration,
    ) -> std::result::Result<cloud_api::Answer, String> {
        let response = http::send(&http::Request {
            method: method.into(),
            url: url.into(),
            headers: headers.to_vec(),
            body,
            timeout_ms: Some(timeout.as_millis().min(u32::MAX.into()) as u32),
        })
        .map_err(|e| lok8s_driver_sdk::message(&e))?;
        Ok((response.status, response.headers, response.body))
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }

    fn now(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// The provider config of the spec.
fn descriptor(ctx: &Context) -> Result<Descriptor> {
    let spec = Spec::parse(&ctx.spec)?;
    match spec.str("spec.provider.name")?.as_deref() {
        Some("hetzner") => {}
        Some(other) => {
            return Err(invalid(
                "spec.provider.name",
                format!("{other:?} is not a provider of this build; use hetzner"),
            ));
        }
        None => {
            return Err(invalid(
                "spec.provider.name",
                "is required: the KubeOne driver's machines come from a provider (hetzner)",
            ));
        }
    }
    let text = match spec.str("spec.provider.configRef")? {
        Some(rel) => {
            let path = std::path::Path::new("clusters")
                .join(&ctx.domain)
                .join(&rel);
            std::fs::read_to_string(&path).map_err(|e| {
                invalid(
                    "spec.provider.configRef",
                    format!("{rel:?} cannot be read in clusters/{}/ ({e})", ctx.domain),
                )
            })?
        }
        None => match spec.get("spec.provider.config") {
            Some(config) => serde_json::to_string(config).unwrap_or_default(),
            None => "{}".into(),
        },
    };
    Descriptor::parse(&text).map_err(|e| invalid("spec.provider.config", e))
}

/// The token, or what to set.
pub fn token() -> Result<String> {
    env::var("HCLOUD_TOKEN").ok_or_else(|| {
        failed("required environment variable HCLOUD_TOKEN is not set (the Hetzner Cloud project's API token)")
    })
}

/// The Robot webservice's address and login for a cluster with dedicated servers:
/// `HROBOT_USER` and `HROBOT_PASSWORD`, at `HROBOT_ENDPOINT` or the public service.
pub fn robot_login() -> Result<(String, String, String)> {
    let (Some(user), Some(password)) = (env::var("HROBOT_USER"), env::var("HROBOT_PASSWORD"))
    else {
        return Err(failed(
            "the spec has dedicated servers (#cloud.root): set HROBOT_USER and HROBOT_PASSWORD \
             (the Hetzner Robot webservice login) so lo can find them",
        ));
    };
    let endpoint = env::var("HROBOT_ENDPOINT")
        .unwrap_or_else(|| lok8s_provider_hetzner::robot_api::ENDPOINT.into());
    Ok((endpoint, user, password))
}

/// The client, with `HCLOUD_POLL_INTERVAL` (as the hcloud CLI reads it: `500ms`, `2s`) between
/// polls of running actions.
pub fn cloud<'t>(token: &str, transport: &'t Http) -> Result<Cloud<'t, Http>> {
    let endpoint = env::var("HCLOUD_ENDPOINT").unwrap_or_else(|| cloud_api::ENDPOINT.into());
    let mut cloud = Cloud::new(&endpoint, token, transport);
    if let Some(text) = env::var("HCLOUD_POLL_INTERVAL") {
        cloud.tuning.action_interval = interval(&text).ok_or_else(|| {
            failed(format!(
                "HCLOUD_POLL_INTERVAL={text:?} is not a duration; write it as 500ms or 2s"
            ))
        })?;
    }
    Ok(cloud)
}

/// `500ms`, `2s` (at most a minute).
fn interval(text: &str) -> Option<Duration> {
    let text = text.trim();
    let duration = if let Some(ms) = text.strip_suffix("ms") {
        Duration::from_millis(ms.parse().ok()?)
    } else {
        Duration::from_secs(text.strip_suffix('s')?.parse().ok()?)
    };
    (duration <= Duration::from_secs(60)).then_some(duration)
}

/// A Cloud API failure as a driver error: refused credentials and rate limits by their kind.
pub fn error(e: CloudError) -> DriverError {
    match e.status {
        401 | 403 => DriverError::Denied(format!("{e} (check HCLOUD_TOKEN)")),
        0 | 429 | 500..=599 => DriverError::Unavailable(e.to_string()),
        _ => DriverError::Failed(e.to_string()),
    }
}

/// The descriptor and the cluster name it labels resources with (`lok8s.dev/cluster`).
pub fn config(ctx: &Context) -> Result<(Descriptor, String)> {
    let descriptor = descriptor(ctx)?;
    let name = lok8s_provider_hetzner::cluster::cluster_name(&descriptor)
        .map_err(|e| invalid("spec.provider.config.cluster_name", e))?;
    Ok((descriptor, name))
}

/// A cloud server's cloud-config (spec 7.5) from the built-in library for kubeadm nodes (no
/// Docker: bug 21): the entry's `#cloud.d`
/// modules, the descriptor's `cloudInit.user`/`group`, the entry's settings as its environment.
pub fn user_data(
    descriptor: &Descriptor,
    entry: &lok8s_provider_hetzner::descriptor::Entry,
) -> std::result::Result<String, String> {
    use lok8s_provider_hetzner::cloud_config::{Inputs, generate, kubeadm_node_library};
    let doc = &descriptor.document;
    let init = |key: &str| {
        doc.get("cloudInit")
            .and_then(|c| c.get(key))
            .and_then(serde_json::Value::as_str)
            .unwrap_or("root")
            .to_string()
    };
    let modules = match entry.metadata.get("cloud.d") {
        Some(serde_json::Value::String(s)) => s
            .split([',', ' '])
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect(),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .filter_map(|m| m.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    let env = entry
        .settings
        .iter()
        .filter_map(|(k, v)| {
            let value = match v {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => return None,
            };
            let key: String = k
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            Some((format!("CLOUD_ENV_{key}"), value))
        })
        .collect();
    let library = kubeadm_node_library();
    generate(&Inputs {
        user_tree: None,
        library: &library,
        modules,
        user: init("user"),
        group: init("group"),
        public_keys: Vec::new(),
        env,
    })
}
