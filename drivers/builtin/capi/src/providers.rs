//! Cluster API on the management cluster, the way `clusterctl init` installs it: cert-manager
//! first (the providers' webhooks need its certificates), then the pinned core, kubeadm
//! bootstrap, kubeadm control-plane and Hetzner providers, each from its release's component
//! file fetched over the http import, its `${VAR:=default}` variables filled in, applied
//! server-side, and its Deployments waited for. What is installed already is left alone.
//! `CAPI_PROVIDER_MIRROR` replaces `https://github.com` (an air-gapped mirror, or a test's
//! server) with the same paths below it.

use lok8s_driver_sdk::kubectl_apply::{self as kube, ApplyOptions, Cluster, ObjectRef, WaitFor};
use lok8s_driver_sdk::{Result, env, failed, http, info};

/// One component file and the Deployment whose presence means it is installed.
struct Component {
    what: &'static str,
    /// `<owner>/<repo>/releases/download/<version>/<file>` below the release host.
    path: &'static str,
    installed: (&'static str, &'static str),
}

const CERT_MANAGER: Component = Component {
    what: "cert-manager v1.18.2",
    path: "cert-manager/cert-manager/releases/download/v1.18.2/cert-manager.yaml",
    installed: ("cert-manager", "cert-manager-webhook"),
};

const PROVIDERS: [Component; 4] = [
    Component {
        what: "Cluster API v1.13.2",
        path: "kubernetes-sigs/cluster-api/releases/download/v1.13.2/core-components.yaml",
        installed: ("capi-system", "capi-controller-manager"),
    },
    Component {
        what: "kubeadm bootstrap v1.13.2",
        path: "kubernetes-sigs/cluster-api/releases/download/v1.13.2/bootstrap-components.yaml",
        installed: (
            "capi-kubeadm-bootstrap-system",
            "capi-kubeadm-bootstrap-controller-manager",
        ),
    },
    Component {
        what: "kubeadm control plane v1.13.2",
        path: "kubernetes-sigs/cluster-api/releases/download/v1.13.2/control-plane-components.yaml",
        installed: (
            "capi-kubeadm-control-plane-system",
            "capi-kubeadm-control-plane-controller-manager",
        ),
    },
    Component {
        what: "Hetzner provider (CAPH) v1.1.7",
        path: "syself/cluster-api-provider-hetzner/releases/download/v1.1.7/infrastructure-components.yaml",
        installed: ("caph-system", "caph-controller-manager"),
    },
];

const RELEASES: &str = "https://github.com";
/// How long a component's Deployments may take to roll out.
const ROLLOUT_SECONDS: u32 = 600;

fn deployment(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        api_version: "apps/v1".into(),
        kind: "Deployment".into(),
        namespace: Some(namespace.into()),
        name: name.into(),
    }
}

/// Installs whatever of cert-manager and the providers is missing on `mgmt`.
pub fn ensure(mgmt: &Cluster) -> Result<()> {
    let base = env::var("CAPI_PROVIDER_MIRROR").unwrap_or_else(|| RELEASES.into());
    let base = base.trim_end_matches('/');
    for component in std::iter::once(&CERT_MANAGER).chain(PROVIDERS.iter()) {
        let (namespace, name) = component.installed;
        if kube::get(mgmt, &deployment(namespace, name))?.is_some() {
            info!("{} is installed", component.what);
            continue;
        }
        info!("installing {}", component.what);
        let url = format!("{base}/{}", component.path);
        let text = fetch(&url)?;
        let text = substitute(&text).map_err(|missing| {
            failed(format!(
                "{url} needs the variables {} and lo sets none of them; install {} by hand (clusterctl init) or use a mirror whose files have defaults",
                missing.join(", "),
                component.what
            ))
        })?;
        // The release files own what they define, as clusterctl's overwriting install does
        // (a CRD a previous install or another tool applied is taken over, not refused).
        let options = ApplyOptions {
            field_manager: "lok8s-capi".into(),
            force: true,
        };
        let applied = kube::apply(mgmt, &text, &options)?;
        for object in applied.iter().map(|a| &a.object) {
            if object.kind == "Deployment" {
                kube::wait(mgmt, object, &WaitFor::Ready, ROLLOUT_SECONDS)?;
            }
        }
    }
    Ok(())
}

fn fetch(url: &str) -> Result<String> {
    let response = http::send(&http::Request {
        method: "GET".into(),
        url: url.into(),
        headers: vec![("Accept".into(), "application/octet-stream".into())],
        body: None,
        timeout_ms: Some(120_000),
    })?;
    if response.status != 200 {
        return Err(failed(format!("GET {url}: HTTP {}", response.status)));
    }
    String::from_utf8(response.body).map_err(|_| failed(format!("GET {url}: not text")))
}

/// Fills in `${NAME:=default}` and `${NAME:-default}` with their defaults, as clusterctl does
/// when the variable is unset; the names of `${NAME}` without one come back as the error.
pub fn substitute(text: &str) -> std::result::Result<String, Vec<String>> {
    let mut out = String::with_capacity(text.len());
    let mut missing: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let inner = &after[..end];
        let (name, default) = match inner.find([':', '=', '-']) {
            Some(i) => {
                let op = &inner[i..];
                let default = op
                    .strip_prefix(":=")
                    .or_else(|| op.strip_prefix(":-"))
                    .or_else(|| op.strip_prefix('='))
                    .or_else(|| op.strip_prefix('-'));
                (&inner[..i], default)
            }
            None => (inner, None),
        };
        let is_name = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        match (is_name, default) {
            (true, Some(value)) => out.push_str(value),
            (true, None) => {
                if !missing.iter().any(|m| m == name) {
                    missing.push(name.to_string());
                }
            }
            // Not a variable reference: kept as written.
            (false, _) => out.push_str(&rest[start..start + 3 + end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}
