//! Files the driver keeps next to the spec: `.registries.json` and the OIDC
//! auth-config.

use serde::Serialize;

use crate::{Oidc, Plan, RegistryKind};

#[derive(Serialize)]
struct RegistriesJson<'a> {
    shared: bool,
    tls: bool,
    port: u16,
    network: NetworkJson,
    project_network: &'a str,
    registries: Vec<RegistryJson<'a>>,
}

#[derive(Serialize)]
struct NetworkJson {
    name: String,
    cidr: String,
}

#[derive(Serialize)]
struct RegistryJson<'a> {
    name: &'a str,
    ip: String,
    url: &'a str,
    domain: &'a str,
    host: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
}

/// `.registries.json`, pretty-printed with two spaces like `jq`, keys in the original's order.
pub fn registries_json(plan: &Plan) -> String {
    let doc = RegistriesJson {
        shared: plan.shared,
        tls: plan.tls,
        port: plan.port,
        network: NetworkJson {
            name: plan.shared_network.clone(),
            cidr: plan.shared_cidr.to_string(),
        },
        project_network: &plan.network,
        registries: plan
            .registries
            .iter()
            .map(|r| {
                let framework = r.kind == RegistryKind::Framework;
                RegistryJson {
                    name: &r.name,
                    ip: r.ip.to_string(),
                    url: &r.url,
                    domain: if framework { "" } else { &r.host },
                    host: if framework { &r.host } else { "" },
                    kind: if framework { "framework" } else { "mirror" },
                }
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// The apiserver `AuthenticationConfiguration` for `spec.oidc`.
pub fn oidc_auth_config(oidc: &Oidc) -> String {
    let mut out = String::from(
        "# Rendered by lok8s from spec.oidc — apiserver StructuredAuthenticationConfiguration.\n\
         # apiserver.config.k8s.io/v1 — verified accepted by kube-apiserver v1.35.5.\n\
         apiVersion: apiserver.config.k8s.io/v1\n\
         kind: AuthenticationConfiguration\n\
         jwt:\n  - issuer:\n",
    );
    out.push_str(&format!(
        "      url: {}\n      audiences:\n        - {}\n",
        quoted(&oidc.issuer),
        quoted(&oidc.client_id)
    ));
    if !oidc.ca_bundle.is_empty() {
        out.push_str("      certificateAuthority: |\n");
        for line in oidc.ca_bundle.lines() {
            out.push_str(&format!("        {line}\n"));
        }
    }
    out.push_str(&format!(
        "    claimMappings:\n      username:\n        claim: {}\n        prefix: {}\n      groups:\n        claim: {}\n        prefix: {}\n",
        quoted(&oidc.username_claim),
        quoted(&oidc.username_prefix),
        quoted(&oidc.groups_claim),
        quoted(&oidc.groups_prefix)
    ));
    out
}
