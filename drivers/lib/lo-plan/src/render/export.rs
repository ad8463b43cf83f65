//! The `LOK8S_SPEC_*` set for bootstrap addons, from the plan alone, with the
//! effective pool (slot default included); and the variables the original exported for
//! its other consumers (Tilt, image builds, tests): `LOK8S_REGISTRY_*`, `LOK8S_NETWORK_*`,
//! node counts and `KIND_EXPERIMENTAL_DOCKER_NETWORK`.

use crate::Plan;

pub const POD_SUBNET: &str = "10.244.0.0/16";
pub const SERVICE_SUBNET: &str = "10.96.0.0/12";

pub fn export(plan: &Plan) -> Vec<(String, String)> {
    let oidc = plan.oidc.as_ref();
    let build = |name: &str| {
        plan.registries
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.ip.to_string())
            .unwrap_or_default()
    };
    let pool = plan.lb_pool.map(|(s, e)| (s.to_string(), e.to_string()));
    let vars: Vec<(&str, String)> = vec![
        ("CLUSTER_NAME", plan.cluster_name.clone()),
        ("CLUSTER_DOMAIN", plan.domain.clone()),
        ("CLUSTER_NAMESPACE", plan.namespace.clone()),
        (
            "KUBERNETES_VERSION",
            plan.kubernetes_version.clone().unwrap_or_default(),
        ),
        ("DNS_DOMAINFILTER", plan.dns_domain_filter.clone()),
        (
            "OIDC_ISSUER",
            oidc.map(|o| o.issuer.clone()).unwrap_or_default(),
        ),
        (
            "OIDC_CLIENTID",
            oidc.map(|o| o.client_id.clone()).unwrap_or_default(),
        ),
        (
            "OIDC_CABUNDLE",
            oidc.map(|o| o.ca_bundle.clone()).unwrap_or_default(),
        ),
        (
            "OIDC_USERNAMECLAIM",
            oidc.map_or("sub".into(), |o| o.username_claim.clone()),
        ),
        (
            "OIDC_USERNAMEPREFIX",
            oidc.map_or("oidc:".into(), |o| o.username_prefix.clone()),
        ),
        (
            "OIDC_GROUPSCLAIM",
            oidc.map_or("groups".into(), |o| o.groups_claim.clone()),
        ),
        (
            "OIDC_GROUPSPREFIX",
            oidc.map_or("oidc:".into(), |o| o.groups_prefix.clone()),
        ),
        ("NETWORK_NAME", plan.network.clone()),
        ("NETWORK_SUBNET", plan.cidr.to_string()),
        ("NETWORK_BASE_IP", plan.cidr.base.to_string()),
        ("REGISTRY_PREFIX", plan.registry_prefix.clone()),
        ("REGISTRY_BUILD_HOST", "lok8s.local".into()),
        ("REGISTRY_CACHE_HOST", "lok8s.cache".into()),
        ("REGISTRY_BUILD_IP", build("build")),
        ("REGISTRY_CACHE_IP", build("cache")),
        (
            "LOADBALANCER_POOL",
            pool.as_ref()
                .map(|(s, e)| format!("{s}-{e}"))
                .unwrap_or_default(),
        ),
        (
            "LOADBALANCER_POOL_START",
            pool.as_ref().map(|p| p.0.clone()).unwrap_or_default(),
        ),
        (
            "LOADBALANCER_POOL_END",
            pool.as_ref().map(|p| p.1.clone()).unwrap_or_default(),
        ),
        ("KIND_PODSUBNET", POD_SUBNET.into()),
        ("KIND_SERVICESUBNET", SERVICE_SUBNET.into()),
    ];
    vars.into_iter()
        .map(|(k, v)| (format!("LOK8S_SPEC_{k}"), v))
        .collect()
}

/// The variables that consumers of a Lo cluster read (`lo env` prints them). `LOK8S_REGISTRY_JSON` is the
/// driver's to add: it knows where `.registries.json` is.
pub fn consumer_env(plan: &Plan) -> Vec<(String, String)> {
    let (registry_network, registry_cidr) = if plan.shared {
        (plan.shared_network.clone(), plan.shared_cidr.to_string())
    } else {
        (plan.network.clone(), plan.cidr.to_string())
    };
    let mut vars: Vec<(String, String)> = plan
        .registries
        .iter()
        .map(|r| {
            let name = if r.name.is_empty() {
                "NULL".to_string()
            } else {
                r.name.to_uppercase().replace('-', "_")
            };
            (format!("LOK8S_REGISTRY_IP_{name}"), r.ip.to_string())
        })
        .collect();
    let pool = plan
        .lb_pool
        .map(|(s, e)| format!("{s}-{e}"))
        .unwrap_or_default();
    let more: Vec<(&str, String)> = vec![
        ("KIND_EXPERIMENTAL_DOCKER_NETWORK", plan.network.clone()),
        ("LOK8S_NETWORK_CIDR", plan.cidr.to_string()),
        ("LOK8S_NETWORK_SUBNET", plan.cidr.to_string()),
        ("LOK8S_NETWORK_BASE_IP", plan.cidr.base.to_string()),
        ("LOK8S_REGISTRY_SHARED", plan.shared.to_string()),
        ("LOK8S_REGISTRY_TLS", plan.tls.to_string()),
        ("LOK8S_REGISTRY_PORT", plan.port.to_string()),
        ("LOK8S_REGISTRY_NETWORK", registry_network),
        ("LOK8S_REGISTRY_NETWORK_CIDR", registry_cidr),
        ("LOK8S_CP_COUNT", plan.nodes.control_plane.to_string()),
        ("LOK8S_WORKER_COUNT", plan.nodes.workers.to_string()),
        ("LOK8S_HOST_PORTS", plan.nodes.host_ports.to_string()),
        (
            "LOK8S_EXTRA_MOUNTS_COUNT",
            plan.extra_mounts.len().to_string(),
        ),
        (
            "LOK8S_MAX_CONCURRENT_DOWNLOADS",
            plan.nodes.max_concurrent_downloads.to_string(),
        ),
        ("LOK8S_LB_POOL", pool),
    ];
    vars.extend(more.into_iter().map(|(k, v)| (k.to_string(), v)));
    vars
}
