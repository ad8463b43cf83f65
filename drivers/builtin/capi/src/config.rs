//! What the Capi driver reads from the spec, checked before anything is sent: every field that
//! goes into an object name is a valid name, the version and the ssh key are required, and the
//! provider is one this build generates (Hetzner Cloud).

use std::time::Duration;

use lok8s_driver_sdk::spec::{Spec, invalid};
use lok8s_driver_sdk::{Result, env};
use serde_yaml::Value;

/// One `spec.workers.<pool>`.
#[derive(Debug, Clone)]
pub struct Pool {
    pub name: String,
    pub replicas: u32,
    pub server_type: String,
}

/// Waits and retries (`CAPI_*` variables; the defaults are the original driver's).
#[derive(Debug, Clone)]
pub struct Tuning {
    /// Between applies while the providers' webhooks start (15 s, 10 attempts).
    pub apply_retry_delay: Duration,
    pub apply_attempts: u32,
    /// The Cluster's `Provisioned` wait (900 s), polled every `wait_interval` (10 s).
    pub wait_timeout: Duration,
    pub wait_interval: Duration,
    /// The Cluster's deletion (600 s).
    pub delete_timeout: Duration,
}

impl Tuning {
    fn from_env() -> Result<Tuning> {
        Ok(Tuning {
            apply_retry_delay: env::seconds("CAPI_APPLY_RETRY_DELAY", 15)?,
            apply_attempts: env::count("CAPI_APPLY_ATTEMPTS", 10)?.clamp(1, 100) as u32,
            wait_timeout: env::seconds("CAPI_WAIT_TIMEOUT", 900)?,
            wait_interval: env::seconds("CAPI_WAIT_INTERVAL", 10)?,
            delete_timeout: env::seconds("CAPI_DELETE_TIMEOUT", 600)?,
        })
    }
}

/// A Capi cluster as the spec describes it.
#[derive(Debug, Clone)]
pub struct Capi {
    pub name: String,
    pub namespace: String,
    /// The `lok8s.dev/domain` label: `spec.cluster.domain`, else the spec's folder name.
    pub domain: String,
    pub management: String,
    pub local_management: bool,
    /// `v1.31.10` as written; `trimmed` without the `v`, `minor` without the patch.
    pub version: String,
    pub version_trimmed: String,
    pub version_minor: String,
    pub region: String,
    pub ssh_key: String,
    pub image: String,
    pub network: bool,
    pub placement_groups: bool,
    pub secret_name: String,
    pub cp_replicas: u32,
    pub cp_type: String,
    pub pools: Vec<Pool>,
    pub tuning: Tuning,
}

/// A DNS-1123 label: what Kubernetes accepts as a name part (lower case, digits, `-`).
fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// The first of `paths` that is set.
fn first_str(spec: &Spec, paths: &[&str]) -> Result<Option<(String, String)>> {
    for path in paths {
        if let Some(v) = spec.str(path)?.filter(|v| !v.trim().is_empty()) {
            return Ok(Some((path.to_string(), v.trim().to_string())));
        }
    }
    Ok(None)
}

/// `spec.provider.name`, else hetzner when `spec.hcloud` is there, else aws for `spec.aws`.
fn provider(spec: &Spec) -> Result<String> {
    if let Some(name) = spec
        .str("spec.provider.name")?
        .filter(|n| !n.trim().is_empty())
    {
        return Ok(name.trim().to_string());
    }
    if spec.get("spec.hcloud").is_some() {
        return Ok("hetzner".into());
    }
    if spec.get("spec.aws").is_some() {
        return Ok("aws".into());
    }
    Err(invalid(
        "spec.provider.name",
        "is required: the infrastructure provider, hetzner",
    ))
}

fn pools(spec: &Spec, name: &str) -> Result<Vec<Pool>> {
    let Some(workers) = spec.get("spec.workers") else {
        return Ok(Vec::new());
    };
    let Value::Mapping(map) = workers else {
        return Err(invalid(
            "spec.workers",
            "must be a map of pool name to pool",
        ));
    };
    let mut out = Vec::new();
    for (key, _) in map {
        let pool = key.as_str().unwrap_or_default().to_string();
        if !is_label(&pool) || name.len() + 1 + pool.len() > 63 {
            return Err(invalid(
                "spec.workers",
                format!(
                    "pool name {pool:?} is not usable: it names objects {name}-{pool}, so use lower-case letters, digits and '-' (at most {} characters here)",
                    62usize.saturating_sub(name.len())
                ),
            ));
        }
        let field = format!("spec.workers.{pool}");
        out.push(Pool {
            replicas: spec.u32(&format!("{field}.replicas"), 1, 0..=1000)?,
            server_type: spec
                .str(&format!("{field}.type"))?
                .unwrap_or_else(|| "cax11".into()),
            name: pool,
        });
    }
    Ok(out)
}

impl Capi {
    /// Reads and checks the spec; `domain` is the spec's folder (the label's default).
    pub fn load(spec_text: &str, domain: &str) -> Result<Capi> {
        let spec = Spec::parse(spec_text)?;
        let name = spec.required_str("metadata.name", "the cluster's name")?;
        if !is_label(&name) || name.len() > 40 {
            return Err(invalid(
                "metadata.name",
                format!(
                    "{name:?} names the Cluster API objects: use at most 40 lower-case letters, digits and '-'"
                ),
            ));
        }
        let management = spec
            .str("spec.managementCluster.domain")?
            .filter(|d| !d.trim().is_empty())
            .ok_or_else(|| {
                invalid(
                    "spec.managementCluster.domain",
                    "is required: the domain of the management cluster that runs Cluster API (its kubeconfig is under .kubeconfig/)",
                )
            })?;
        if management == domain {
            return Err(invalid(
                "spec.managementCluster.domain",
                format!(
                    "{management:?} is this cluster's own domain: a cluster that manages itself (bootstrap, then clusterctl move) is not in this build; name another cluster's domain"
                ),
            ));
        }
        let provider = provider(&spec)?;
        if provider != "hetzner" {
            return Err(invalid(
                "spec.provider.name",
                format!("CAPI provider {provider:?} is not supported yet (only hetzner)"),
            ));
        }
        let version = spec.required_str(
            "spec.kubernetes.version",
            "the Kubernetes version, such as v1.31.10",
        )?;
        let trimmed = version.trim().trim_start_matches('v').to_string();
        let parts: Vec<&str> = trimmed.split('.').collect();
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(invalid(
                "spec.kubernetes.version",
                format!(
                    "{version:?} is not a Kubernetes version: write major.minor.patch, such as v1.31.10"
                ),
            ));
        }
        let namespace = spec
            .str("spec.cluster.namespace")?
            .unwrap_or_else(|| "default".into());
        if !is_label(&namespace) {
            return Err(invalid(
                "spec.cluster.namespace",
                format!(
                    "{namespace:?} is not a namespace name: lower-case letters, digits and '-'"
                ),
            ));
        }
        let (_, ssh_key) = first_str(&spec, &["spec.provider.config.sshKeyName", "spec.hcloud.sshKeyName"])?
            .ok_or_else(|| {
                invalid(
                    "spec.provider.config.sshKeyName",
                    "is required for the hetzner CAPI provider: the name of an ssh key in the Hetzner project",
                )
            })?;
        let region = first_str(
            &spec,
            &["spec.provider.config.region", "spec.hcloud.region"],
        )?
        .map(|(_, r)| r)
        .unwrap_or_else(|| "fsn1".into());
        let secret_name = first_str(
            &spec,
            &[
                "spec.credentials.secretName",
                "spec.provider.credentials.secretRef",
            ],
        )?
        .map(|(_, s)| s)
        .unwrap_or_else(|| format!("{name}-credentials"));
        if !is_label(&secret_name) {
            return Err(invalid(
                "spec.credentials.secretName",
                format!("{secret_name:?} is not a Secret name: lower-case letters, digits and '-'"),
            ));
        }
        Ok(Capi {
            domain: spec
                .str("spec.cluster.domain")?
                .filter(|d| !d.trim().is_empty())
                .unwrap_or_else(|| domain.to_string()),
            local_management: spec.bool("spec.managementCluster.local", false)?,
            version_minor: parts[..2].join("."),
            version_trimmed: trimmed.clone(),
            version: version.trim().to_string(),
            region,
            ssh_key,
            image: spec
                .str("spec.provider.config.image")?
                .unwrap_or_else(|| "ubuntu-24.04".into()),
            network: spec.bool("spec.provider.config.network.enabled", false)?,
            placement_groups: spec.bool("spec.provider.config.placementGroups", false)?,
            secret_name,
            cp_replicas: spec.u32("spec.controlPlane.replicas", 1, 1..=99)?,
            cp_type: spec
                .str("spec.controlPlane.type")?
                .unwrap_or_else(|| "cax11".into()),
            pools: pools(&spec, &name)?,
            tuning: Tuning::from_env()?,
            management,
            namespace,
            name,
        })
    }
}
