//! What the Kkp driver reads from the spec and its granted environment, checked before any
//! request: every credential problem is reported at once, and spec errors name the field.

use std::time::Duration;

use lok8s_driver_sdk::spec::{Spec, invalid};
use lok8s_driver_sdk::{Result, env, failed};
use serde_yaml::Value;

/// The cloud a KKP cluster runs in, as KKP's API names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    Hetzner,
    Aws,
    /// KKP's "bring your own" nodes (`byo` or `bringyourown` in the spec).
    BringYourOwn,
}

impl Provider {
    fn parse(name: &str) -> Option<Provider> {
        match name {
            "hetzner" => Some(Provider::Hetzner),
            "aws" => Some(Provider::Aws),
            "byo" | "bringyourown" => Some(Provider::BringYourOwn),
            _ => None,
        }
    }

    /// The key under `cluster.spec.cloud`.
    pub fn api_name(&self) -> &'static str {
        match self {
            Provider::Hetzner => "hetzner",
            Provider::Aws => "aws",
            Provider::BringYourOwn => "bringyourown",
        }
    }
}

/// One `spec.workers.<pool>`.
#[derive(Debug, Clone)]
pub struct Pool {
    pub name: String,
    pub replicas: u32,
    pub flavor: String,
    pub os: String,
    pub min: u32,
    pub max: u32,
}

/// Polling and retry tuning (`KKP_*` variables, the original's defaults).
#[derive(Debug, Clone)]
pub struct Tuning {
    pub max_retries: u32,
    pub retry_delay: Duration,
    pub wait_timeout: Duration,
    pub wait_interval: Duration,
}

impl Tuning {
    /// `KKP_MAX_RETRIES` (3), `KKP_RETRY_DELAY` (2 s), `KKP_WAIT_TIMEOUT` (600 s),
    /// `KKP_WAIT_INTERVAL` (10 s).
    fn from_env() -> Result<Tuning> {
        Ok(Tuning {
            max_retries: env::count("KKP_MAX_RETRIES", 3)?.clamp(1, 20) as u32,
            retry_delay: env::seconds("KKP_RETRY_DELAY", 2)?,
            wait_timeout: env::seconds("KKP_WAIT_TIMEOUT", 600)?,
            wait_interval: env::seconds("KKP_WAIT_INTERVAL", 10)?,
        })
    }
}

/// Everything a Kkp call needs, validated.
#[derive(Debug, Clone)]
pub struct Kkp {
    pub name: String,
    pub version: String,
    pub api_url: String,
    pub project_id: String,
    pub datacenter: String,
    pub preset: Option<String>,
    pub provider: Provider,
    pub pools: Vec<Pool>,
    pub token: String,
    /// Cloud credentials for the create body (none with a preset or bring-your-own).
    pub cloud: Vec<(&'static str, String)>,
    pub tuning: Tuning,
    /// Ask KKP to delete the cluster's volumes and load balancers with it.
    pub delete_volumes: bool,
    pub delete_load_balancers: bool,
}

/// The API's base URL in effect (`KKP_API_URL` wins over `spec.kkp.apiUrl`), https only, no
/// trailing slash.
pub fn api_url(spec: &Spec) -> Result<String> {
    let (field, url) = match env::var("KKP_API_URL") {
        Some(url) => ("KKP_API_URL", url),
        None => match spec
            .str("spec.kkp.apiUrl")?
            .filter(|u| !u.trim().is_empty())
        {
            Some(url) => ("spec.kkp.apiUrl", url),
            None => {
                return Err(invalid(
                    "spec.kkp.apiUrl",
                    "is required (or set KKP_API_URL): the KKP API's address, such as https://kkp.example.com",
                ));
            }
        },
    };
    let url = url.trim().trim_end_matches('/').to_string();
    if !url.starts_with("https://") {
        let message = format!(
            "KKP API URL must use HTTPS: {url}; plain HTTP is not allowed for security reasons"
        );
        return Err(if field == "KKP_API_URL" {
            failed(message)
        } else {
            invalid(field, message)
        });
    }
    Ok(url)
}

/// The provider name: `spec.provider.name`, or `spec.provider` as a string; hetzner when
/// absent (one default for the body and the credential check alike).
fn provider(spec: &Spec) -> Result<Provider> {
    let (field, name) = match spec.get("spec.provider") {
        None => return Ok(Provider::Hetzner),
        Some(Value::String(s)) => ("spec.provider", s.clone()),
        Some(Value::Mapping(_)) => (
            "spec.provider.name",
            spec.str("spec.provider.name")?
                .unwrap_or_else(|| "hetzner".into()),
        ),
        Some(_) => {
            return Err(invalid(
                "spec.provider",
                "must be a provider name or a map with name",
            ));
        }
    };
    Provider::parse(name.trim()).ok_or_else(|| {
        invalid(
            field,
            format!("unsupported KKP provider {name:?}; use hetzner, aws or byo"),
        )
    })
}

fn pools(spec: &Spec) -> Result<Vec<Pool>> {
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
        let name = key.as_str().unwrap_or_default().to_string();
        let field = format!("spec.workers.{name}");
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(invalid(
                "spec.workers",
                format!(
                    "invalid worker pool name {name:?}: use letters, digits and hyphens, starting with a letter or digit"
                ),
            ));
        }
        let flavor = match spec.str(&format!("{field}.flavor"))? {
            Some(f) if !f.trim().is_empty() => f,
            _ => spec
                .str(&format!("{field}.type"))?
                .filter(|t| !t.trim().is_empty())
                .ok_or_else(|| {
                    invalid(
                        &format!("{field}.flavor"),
                        "is required: the node size, such as cpx31 (or set type)",
                    )
                })?,
        };
        out.push(Pool {
            replicas: spec.u32(&format!("{field}.replicas"), 1, 0..=1000)?,
            os: spec
                .str(&format!("{field}.operatingSystem"))?
                .unwrap_or_else(|| "ubuntu".into()),
            min: spec.u32(&format!("{field}.autoscaler.min"), 0, 0..=1000)?,
            max: spec.u32(&format!("{field}.autoscaler.max"), 0, 0..=1000)?,
            name,
            flavor,
        });
    }
    Ok(out)
}

impl Kkp {
    /// Reads and checks everything; nothing has been sent when this fails.
    pub fn load(spec_text: &str, name: &str) -> Result<Kkp> {
        let spec = Spec::parse(spec_text)?;
        let provider = provider(&spec)?;
        let preset = spec
            .str("spec.kkp.preset")?
            .filter(|p| !p.trim().is_empty());
        let pools = pools(&spec)?;
        let version = spec.required_str(
            "spec.kubernetes.version",
            "the Kubernetes version KKP installs, such as 1.31.4",
        )?;
        let project_id = spec.required_str("spec.kkp.projectId", "the KKP project's ID")?;
        let datacenter = spec.required_str(
            "spec.kkp.datacenter",
            "the KKP datacenter (seed location), such as hetzner-fsn1",
        )?;
        let mut problems = Vec::new();
        let token = env::var("KKP_TOKEN");
        if token.is_none() {
            problems.push("KKP_TOKEN env var is required for KKP API authentication".to_string());
        }
        let api_url = match api_url(&spec) {
            Ok(url) => Some(url),
            Err(e) => {
                problems.push(lok8s_driver_sdk::message(&e));
                None
            }
        };
        let mut cloud = Vec::new();
        if preset.is_none() {
            let needed: &[(&str, &'static str)] = match provider {
                Provider::Hetzner => &[("HCLOUD_TOKEN", "token")],
                Provider::Aws => &[
                    ("AWS_ACCESS_KEY_ID", "accessKeyID"),
                    ("AWS_SECRET_ACCESS_KEY", "secretAccessKey"),
                ],
                Provider::BringYourOwn => &[],
            };
            for (var, key) in needed {
                match env::var(var) {
                    Some(value) => cloud.push((*key, value)),
                    None => {
                        problems.push(format!("required environment variable {var} is not set"))
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(failed(format!(
                "{} credential validation error(s): {}",
                problems.len(),
                problems.join("; ")
            )));
        }
        let tuning = Tuning::from_env()?;
        Ok(Kkp {
            name: name.to_string(),
            version,
            api_url: api_url.unwrap_or_default(),
            project_id,
            datacenter,
            preset,
            provider,
            pools,
            token: token.unwrap_or_default(),
            cloud,
            tuning,
            delete_volumes: spec.bool("spec.kkp.deleteVolumes", false)?,
            delete_load_balancers: spec.bool("spec.kkp.deleteLoadBalancers", false)?,
        })
    }

    /// What status and destroy need: the API and token, no cloud credentials or pools.
    pub fn load_for_api(spec_text: &str, name: &str) -> Result<Kkp> {
        let spec = Spec::parse(spec_text)?;
        let token = env::var("KKP_TOKEN")
            .ok_or_else(|| failed("KKP_TOKEN env var is required for KKP API authentication"))?;
        Ok(Kkp {
            name: name.to_string(),
            version: String::new(),
            api_url: api_url(&spec)?,
            project_id: String::new(),
            datacenter: String::new(),
            preset: None,
            provider: provider(&spec)?,
            pools: Vec::new(),
            token,
            cloud: Vec::new(),
            tuning: Tuning::from_env()?,
            delete_volumes: spec.bool("spec.kkp.deleteVolumes", false)?,
            delete_load_balancers: spec.bool("spec.kkp.deleteLoadBalancers", false)?,
        })
    }
}
