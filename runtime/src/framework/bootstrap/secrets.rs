//! The secrets generator: an addon's `generators:` entry whose file is
//! `apiVersion: secrets.lok8s.dev/v1`, `kind: Secret` becomes a plain Secret before the render,
//! its values taken from `lo`'s environment (the user's, never the driver's), so credentials
//! such as `HCLOUD_TOKEN` reach the cluster without being written in the project:
//!
//! ```yaml
//! apiVersion: secrets.lok8s.dev/v1
//! kind: Secret
//! metadata: {name: hcloud, namespace: kube-system}
//! type: Opaque              # default
//! env: {token: HCLOUD_TOKEN}                 # required: unset or empty fails the entry
//! optionalEnv: {robot-user: HROBOT_USER}     # left out when unset
//! ```
//! or a certificate: `cert: {hosts: [web.example.dev, 10.0.0.5]}` gives `tls.crt`, `tls.key`
//! and `ca.crt` (type `kubernetes.io/tls` unless `type` says otherwise), the same leaf on every
//! run until the hosts change ([`super::certs`]).
//! Values are never printed: errors name the variable, not its value.

use std::path::Path;

use base64::Engine as _;
use serde_yaml::{Mapping, Value};

use super::BootstrapError;
use super::certs::Certs;
use super::entries::{Entry, is_variable_name};

pub const API_VERSION: &str = "secrets.lok8s.dev/v1";

/// Whether the kustomization lists generators (the addon is then built from a copy).
pub fn has_generators(kustomization: &Value) -> bool {
    kustomization
        .get("generators")
        .and_then(Value::as_sequence)
        .is_some_and(|g| !g.is_empty())
}

/// Turns each secrets.lok8s.dev generator of the kustomization in `dir` (a private copy) into
/// a resource; other generators are left to the renderer.
pub fn expand(
    entry: &Entry,
    dir: &Path,
    env: impl Fn(&str) -> Option<String>,
    certs: Certs<'_>,
) -> Result<(), BootstrapError> {
    let fail = |problem: String, fix: &str| {
        BootstrapError::problem(format!("{}: {problem}", entry.addon.shown), fix)
    };
    let name = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .into_iter()
        .find(|n| dir.join(n).is_file())
        .ok_or_else(|| fail("no kustomization".into(), "add a kustomization.yaml"))?;
    let text = std::fs::read_to_string(dir.join(name))
        .map_err(|e| fail(e.to_string(), "check the addon"))?;
    let mut kustomization: Value = serde_yaml::from_str(&text)
        .map_err(|e| fail(format!("{name}: {e}"), "fix the kustomization"))?;
    let Some(generators) = kustomization
        .get("generators")
        .and_then(Value::as_sequence)
        .cloned()
    else {
        return Ok(());
    };
    let mut kept = Vec::new();
    let mut made = Vec::new();
    for (i, item) in generators.into_iter().enumerate() {
        let Some(rel) = item
            .as_str()
            .filter(|r| crate::project::relative(r).is_ok())
        else {
            kept.push(item);
            continue;
        };
        let Ok(source) = std::fs::read_to_string(dir.join(rel)) else {
            kept.push(item);
            continue;
        };
        let spec: Value = match serde_yaml::from_str(&source) {
            Ok(v) => v,
            Err(_) => {
                kept.push(item);
                continue;
            }
        };
        if spec.get("apiVersion").and_then(Value::as_str) != Some(API_VERSION) {
            kept.push(item);
            continue;
        }
        let secret =
            secret(&spec, rel, &env, certs).map_err(|(problem, fix)| fail(problem, &fix))?;
        let file = format!("lok8s-generated-secret-{i}.yaml");
        let text = serde_yaml::to_string(&secret).map_err(|e| fail(e.to_string(), "retry"))?;
        std::fs::write(dir.join(&file), text).map_err(|e| fail(e.to_string(), "check TMPDIR"))?;
        made.push(Value::String(file));
    }
    if made.is_empty() {
        return Ok(());
    }
    let map = kustomization
        .as_mapping_mut()
        .ok_or_else(|| fail("the kustomization is not a map".into(), "fix it"))?;
    if kept.is_empty() {
        map.remove("generators");
    } else {
        map.insert("generators".into(), Value::Sequence(kept));
    }
    let resources = map
        .entry("resources".into())
        .or_insert_with(|| Value::Sequence(Vec::new()));
    let Some(list) = resources.as_sequence_mut() else {
        return Err(fail(
            "resources is not a list".into(),
            "fix the kustomization",
        ));
    };
    list.extend(made);
    let text = serde_yaml::to_string(&kustomization).map_err(|e| fail(e.to_string(), "retry"))?;
    std::fs::write(dir.join(name), text).map_err(|e| fail(e.to_string(), "check TMPDIR"))
}

/// The Secret a generator describes.
fn secret(
    spec: &Value,
    rel: &str,
    env: &impl Fn(&str) -> Option<String>,
    certs: Certs<'_>,
) -> Result<Value, (String, String)> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let name = text(spec.get("metadata").and_then(|m| m.get("name"))).ok_or_else(|| {
        (
            format!("{rel}: metadata.name is required"),
            "name the Secret".to_string(),
        )
    })?;
    let mut metadata = Mapping::new();
    metadata.insert("name".into(), name.clone().into());
    if let Some(ns) = text(spec.get("metadata").and_then(|m| m.get("namespace"))) {
        metadata.insert("namespace".into(), ns.into());
    }
    let mut data = Mapping::new();
    for (field, required) in [("env", true), ("optionalEnv", false)] {
        let Some(pairs) = spec.get(field) else {
            continue;
        };
        let pairs = pairs.as_mapping().ok_or_else(|| {
            (
                format!("{rel}: {field} must be a map of key: VARIABLE"),
                format!("write it as `{field}: {{token: HCLOUD_TOKEN}}`"),
            )
        })?;
        for (key, variable) in pairs {
            let (Some(key), Some(variable)) = (key.as_str(), variable.as_str()) else {
                return Err((
                    format!("{rel}: {field} must map keys to variable names"),
                    "use text keys and names".into(),
                ));
            };
            if !is_variable_name(variable) {
                return Err((
                    format!("{rel}: {field}.{key}: {variable:?} is not a variable name"),
                    "name an environment variable".into(),
                ));
            }
            match env(variable).filter(|v| !v.is_empty()) {
                Some(value) => {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
                    data.insert(key.into(), encoded.into());
                }
                None if required => {
                    return Err((
                        format!("Secret {name} needs {variable} (for key {key}), which is not set"),
                        format!("export {variable} before running lo"),
                    ));
                }
                None => {}
            }
        }
    }
    let certified = match spec.get("cert") {
        Some(cert) => {
            let hosts = cert_hosts(cert).ok_or_else(|| {
                (
                    format!("{rel}: cert.hosts must be a list of DNS names or IP addresses"),
                    "write it as `cert: {hosts: [web.example.dev]}`".to_string(),
                )
            })?;
            let id = format!(
                "{}.{name}",
                text(spec.get("metadata").and_then(|m| m.get("namespace")))
                    .unwrap_or_else(|| "default".into())
            );
            let leaf = certs.leaf(&id, &hosts).map_err(|e| {
                (
                    format!("Secret {name}: cert: {e}"),
                    "give hosts the CA may sign (lo's tls rules), and a CAROOT lo can use"
                        .to_string(),
                )
            })?;
            let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
            data.insert("tls.crt".into(), b64(&leaf.cert).into());
            data.insert("tls.key".into(), b64(&leaf.key).into());
            data.insert("ca.crt".into(), b64(&leaf.ca).into());
            true
        }
        None => false,
    };
    let default_type = if certified {
        "kubernetes.io/tls"
    } else {
        "Opaque"
    };
    let mut secret = Mapping::new();
    secret.insert("apiVersion".into(), "v1".into());
    secret.insert("kind".into(), "Secret".into());
    secret.insert("metadata".into(), Value::Mapping(metadata));
    secret.insert(
        "type".into(),
        text(spec.get("type"))
            .unwrap_or_else(|| default_type.into())
            .into(),
    );
    secret.insert("data".into(), Value::Mapping(data));
    Ok(Value::Mapping(secret))
}

/// `cert.hosts`: a non-empty list of text.
fn cert_hosts(cert: &Value) -> Option<Vec<String>> {
    let hosts: Vec<String> = cert
        .get("hosts")?
        .as_sequence()?
        .iter()
        .map(|h| h.as_str().map(str::to_string))
        .collect::<Option<_>>()?;
    (!hosts.is_empty()).then_some(hosts)
}
