//! The JSON bodies the driver sends: a cluster and a machine deployment, as KKP's v2 API takes
//! them, and the health predicates it reads back.

use serde_json::{Map, Value, json};

use crate::config::{Kkp, Pool, Provider};

/// `POST /api/v2/projects/{p}/clusters`.
pub fn cluster(kkp: &Kkp) -> Value {
    let mut cloud = Map::new();
    cloud.insert("dc".into(), json!(kkp.datacenter));
    let mut body_cluster = Map::new();
    body_cluster.insert("name".into(), json!(kkp.name));
    match &kkp.preset {
        Some(preset) => {
            cloud.insert(kkp.provider.api_name().into(), json!({}));
            // `presetName` as the original sent it; `credential` is where KKP's API reads a
            // preset from, so both are set.
            cloud.insert("presetName".into(), json!(preset));
            body_cluster.insert("credential".into(), json!(preset));
        }
        None => {
            let credentials: Map<String, Value> = kkp
                .cloud
                .iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            cloud.insert(kkp.provider.api_name().into(), Value::Object(credentials));
        }
    }
    body_cluster.insert(
        "spec".into(),
        json!({ "version": kkp.version, "cloud": Value::Object(cloud) }),
    );
    json!({ "cluster": Value::Object(body_cluster) })
}

/// `POST …/clusters/{c}/machinedeployments` for one worker pool.
pub fn machine_deployment(provider: &Provider, pool: &Pool) -> Value {
    let cloud = match provider {
        Provider::Hetzner => json!({ "hetzner": { "type": pool.flavor } }),
        Provider::Aws => json!({ "aws": { "instanceType": pool.flavor } }),
        // Bring-your-own nodes join by hand: KKP has no machine template for them.
        Provider::BringYourOwn => json!({ "bringyourown": {} }),
    };
    let mut spec = Map::new();
    spec.insert("replicas".into(), json!(pool.replicas));
    spec.insert(
        "template".into(),
        json!({ "cloud": cloud, "operatingSystem": { pool.os.clone(): {} } }),
    );
    if pool.min > 0 || pool.max > 0 {
        spec.insert("minReplicas".into(), json!(pool.min));
        spec.insert("maxReplicas".into(), json!(pool.max));
    }
    json!({ "name": pool.name, "spec": Value::Object(spec) })
}

/// The control plane's components that must be up for the cluster to be healthy.
pub const CORE: [&str; 4] = ["apiserver", "etcd", "controller", "scheduler"];
/// What machine deployments need before they can be created.
pub const NODE_COMPONENTS: [&str; 2] = ["machineController", "operatingSystemManager"];

/// Whether each of `components` is up in a `/health` answer (`HealthStatusUp`, or `1` from
/// older KKP releases); a missing one is not.
pub fn all_up(health: &Value, components: &[&str]) -> bool {
    components.iter().all(|c| match health.get(*c) {
        Some(Value::String(s)) => s == "HealthStatusUp",
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        _ => false,
    })
}

/// The components of `components` that are not up, for messages.
pub fn down<'a>(health: &Value, components: &[&'a str]) -> Vec<&'a str> {
    components
        .iter()
        .copied()
        .filter(|c| !all_up(health, &[c]))
        .collect()
}
