//! Kubeconfigs that would make a client-go-style loader act with the host's authority, and
//! kubeconfigs that are not the driver's own.

use std::fs;

use lok8s_driver_sdk::kubectl_apply as k;
use lok8s_driver_sdk::{Context, Outcome, Result};

use crate::files::exec_kubeconfig;
use crate::{attempt, io, param};

fn kubeconfig(server: &str, cluster_extra: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n{cluster_extra}\
         contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n{user}"
    )
}

/// Writes its own kubeconfig, then lists ConfigMaps through it.
fn use_own(ctx: &Context, text: String) -> Result<Outcome> {
    io(fs::write(&ctx.kubeconfig, text))?;
    list(&k::Cluster::Kubeconfig(ctx.kubeconfig.clone()))
}

fn list(cluster: &k::Cluster) -> Result<Outcome> {
    attempt(
        "kube list",
        k::list(cluster, "v1", "ConfigMap", Some("kube-system"), None),
    )
}

pub fn exec_plugin(ctx: &Context) -> Result<Outcome> {
    use_own(
        ctx,
        exec_kubeconfig(&param(ctx, "url"), &param(ctx, "marker")),
    )
}

pub fn token_file(ctx: &Context) -> Result<Outcome> {
    use_own(
        ctx,
        kubeconfig(&param(ctx, "url"), "", "    tokenFile: /etc/hostname\n"),
    )
}

pub fn auth_provider(ctx: &Context) -> Result<Outcome> {
    use_own(
        ctx,
        kubeconfig(
            &param(ctx, "url"),
            "",
            "    auth-provider:\n      name: oidc\n      config:\n        idp-issuer-url: https://127.0.0.1:1\n",
        ),
    )
}

pub fn proxy_url(ctx: &Context) -> Result<Outcome> {
    let proxy = format!("    proxy-url: http://{}\n", param(ctx, "listener"));
    use_own(
        ctx,
        kubeconfig(&param(ctx, "url"), &proxy, "    token: t\n"),
    )
}

pub fn cert_paths(ctx: &Context) -> Result<Outcome> {
    use_own(
        ctx,
        kubeconfig(
            &param(ctx, "url"),
            "",
            "    client-certificate: /etc/hostname\n    client-key: /etc/hostname\n",
        ),
    )
}

pub fn ca_path(ctx: &Context) -> Result<Outcome> {
    use_own(
        ctx,
        kubeconfig(
            &param(ctx, "url"),
            "    certificate-authority: /etc/hostname\n",
            "    token: t\n",
        ),
    )
}

pub fn server_elsewhere(ctx: &Context) -> Result<Outcome> {
    use_own(
        ctx,
        kubeconfig("https://169.254.169.254:443", "", "    token: t\n"),
    )
}

pub fn other_kubeconfig_path(_: &Context) -> Result<Outcome> {
    list(&k::Cluster::Kubeconfig(".kubeconfig/victim.yaml".into()))
}

pub fn ungranted_domain(_: &Context) -> Result<Outcome> {
    list(&k::Cluster::Domain("victim.dev".into()))
}

/// A valid kubeconfig first (lo makes a client for it and keeps it), then the same server with
/// an exec plugin: the new bytes must be vetted again, never served by the client made before.
pub fn swap_after_use(ctx: &Context) -> Result<Outcome> {
    let good = kubeconfig(
        &param(ctx, "url"),
        &format!("    certificate-authority-data: {}\n", param(ctx, "ca")),
        "    token: double\n",
    );
    io(fs::write(&ctx.kubeconfig, good))?;
    k::list(
        &k::Cluster::Kubeconfig(ctx.kubeconfig.clone()),
        "v1",
        "ConfigMap",
        Some("kube-system"),
        None,
    )?;
    exec_plugin(ctx)
}

/// Granted a namespace and the Namespace kind: reads its own namespace's object (allowed), then
/// deletes a namespace it was not granted.
pub fn foreign_namespace_object(ctx: &Context) -> Result<Outcome> {
    let own = kubeconfig(
        &param(ctx, "url"),
        &format!("    certificate-authority-data: {}\n", param(ctx, "ca")),
        "    token: double\n",
    );
    io(fs::write(&ctx.kubeconfig, own))?;
    let cluster = k::Cluster::Kubeconfig(ctx.kubeconfig.clone());
    let namespace = |name: &str| k::ObjectRef {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: name.into(),
    };
    k::get(&cluster, &namespace("kube-system"))?;
    attempt(
        "delete an ungranted namespace",
        k::delete(&cluster, &namespace("default")),
    )
}
