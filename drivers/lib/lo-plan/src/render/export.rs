//! The `LOK8S_SPEC_*` set for bootstrap addons, from the plan alone, with the
//! effective pool (slot default included).

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
