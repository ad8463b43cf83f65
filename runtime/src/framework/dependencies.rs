//! Clusters a driver reaches by domain (its grant's `kube.clusters`, the operator's values
//! resolved, such as Capi's management cluster): `lo provision` provisions each one first that
//! has a spec in the project but no kubeconfig yet. When the grant's `create-local-when` flag is
//! true in the spec, a domain without a spec gets one written by lo (a Lo cluster on this
//! machine: Capi's `spec.managementCluster.local`), which lo destroys again with the last
//! cluster that asked for it, unless the user took the spec over by deleting its first line.
//! Only the operator's spec and environment decide any of this, never the driver.

use anyhow::{Context as _, anyhow};
use sha2::{Digest, Sha256};

use crate::host::grants::Grants;
use crate::host::operator::{self, Named, OperatorValues};
use crate::project::{Inside, Project, SpecFile};

/// The first line of a spec lo writes; while it is there, lo owns the cluster.
pub const WRITTEN_BY_LO: &str = "# lok8s: written by lo";
/// Who asked for each cluster lo created (one domain per line).
const USERS_DIR: &str = ".lok8s/local-clusters";

/// What a cluster's driver reaches by domain.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Needs {
    /// Granted domains (not `*`, not the cluster's own), as the operator's values name them.
    pub domains: Vec<String>,
    /// The spec field of the grant's `create-local-when` flag, when the operator set it true.
    pub create_local: Option<String>,
}

/// What the grant of a cluster's driver says it reaches, with the operator's values now.
pub fn needs(grants: &Grants, values: &OperatorValues, own: &str) -> anyhow::Result<Needs> {
    let Some(kube) = &grants.kube else {
        return Ok(Needs::default());
    };
    let mut domains = operator::resolve(&kube.clusters, values).map_err(|e| anyhow!(e))?;
    domains.retain(|d| d != "*" && d != own);
    domains.dedup();
    let create_local = match &kube.create_local_when {
        None => None,
        Some(entry) => {
            let named = Named::parse(entry)
                .unwrap_or_else(|| {
                    Err(format!(
                        "kube.create-local-when {entry:?}: write spec:<field.path>"
                    ))
                })
                .map_err(|e| anyhow!(e))?;
            named.flag(values.spec, values.env).then(|| named.field())
        }
    };
    Ok(Needs {
        domains,
        create_local,
    })
}

/// What `lo provision` does for one needed domain before the driver runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Its spec exists and its kubeconfig does not: provision it.
    Provision(String),
    /// No spec, and the flag asks for a local cluster: write its spec, then provision it.
    CreateLocal(String),
}

/// The steps for `needs` in this project (a domain with a kubeconfig needs none; one with
/// neither spec nor flag is left to the driver, which says what is missing).
pub fn steps(project: &Project, needs: &Needs) -> Vec<Step> {
    let mut out = Vec::new();
    for domain in &needs.domains {
        if crate::project::validate_domain(domain).is_err()
            || project.published_kubeconfig(domain, 1 << 20).is_ok()
        {
            continue;
        }
        match SpecFile::load(project, domain) {
            Ok(SpecFile::Cluster(_)) => out.push(Step::Provision(domain.clone())),
            Err(crate::project::SpecError::Missing(_)) if needs.create_local.is_some() => {
                out.push(Step::CreateLocal(domain.clone()))
            }
            // A deployment domain has no cluster of its own.
            Ok(SpecFile::Deploy { .. }) | Err(crate::project::SpecError::Missing(_)) => {}
            // A spec that does not load: its provision says why.
            Err(_) => out.push(Step::Provision(domain.clone())),
        }
    }
    out
}

/// The Lo spec lo writes for a local cluster `domain` that `asked_by` needs: one node on a
/// network of its own (10.126.<n>.0/24, `n` from the domain), no registry mirrors (nothing is
/// pulled through the internet at start), the node image's default CNI.
pub fn local_spec(domain: &str, asked_by: &str, flag: &str) -> String {
    let digest = Sha256::digest(domain.as_bytes());
    let subnet = u32::from(digest[0]) % 254 + 1;
    let network = format!(
        "lomgmt-{:02x}{:02x}{:02x}{:02x}",
        digest[1], digest[2], digest[3], digest[4]
    );
    let name: String = domain
        .chars()
        .map(|c| if c == '.' || c == '_' { '-' } else { c })
        .collect();
    format!(
        "{WRITTEN_BY_LO} for {asked_by} ({flag}: true); it destroys this cluster with the last \
         cluster that needs it. Delete this line to keep it.\n\
         # A local management cluster: one node on this machine. Edit freely (the network if \
         10.126.{subnet}.0/24 is taken).\n\
         apiVersion: cluster.lok8s.dev/v1beta1\n\
         kind: Lo\n\
         metadata:\n  name: {name}\n\
         spec:\n  cluster:\n    domain: {domain}\n\
         \x20 network:\n    name: {network}\n    cidr: 10.126.{subnet}.0/24\n\
         \x20 registries:\n    shared:\n      enabled: false\n    mirrors: []\n\
         \x20 bootstrap: []\n"
    )
}

/// Writes `clusters/<domain>/cluster.lok8s.yaml` (refusing to replace one).
pub fn write_local_spec(project: &Project, domain: &str, text: &str) -> anyhow::Result<String> {
    let folder = project
        .inside()?
        .subdir(&format!("clusters/{domain}"), true)?;
    if folder.kind("cluster.lok8s.yaml")?.is_some() {
        return Err(anyhow!(
            "clusters/{domain}/cluster.lok8s.yaml appeared while lo was about to write it; run again"
        ));
    }
    folder.write("cluster.lok8s.yaml", text.as_bytes(), 0o644)?;
    Ok(format!("clusters/{domain}/cluster.lok8s.yaml"))
}

/// Whether lo still owns `domain`'s spec (its first line is lo's).
pub fn written_by_lo(project: &Project, domain: &str) -> bool {
    project
        .inside()
        .and_then(|root| root.read(&format!("clusters/{domain}/cluster.lok8s.yaml"), 1 << 20))
        .is_ok_and(|bytes| bytes.starts_with(WRITTEN_BY_LO.as_bytes()))
}

fn users_dir(project: &Project, create: bool) -> anyhow::Result<Inside> {
    Ok(project.inside()?.subdir(USERS_DIR, create)?)
}

/// The clusters recorded as needing the local cluster `domain`.
pub fn users(project: &Project, domain: &str) -> Vec<String> {
    users_dir(project, false)
        .ok()
        .and_then(|dir| dir.read(domain, 1 << 20).ok())
        .map(|bytes| {
            String::from_utf8_lossy(&bytes)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Records (`add`) or forgets `user` as needing the local cluster `domain`; returns who is
/// left.
pub fn record_user(
    project: &Project,
    domain: &str,
    user: &str,
    add: bool,
) -> anyhow::Result<Vec<String>> {
    let mut list = users(project, domain);
    list.retain(|u| u != user);
    if add {
        list.push(user.to_string());
    }
    let dir = users_dir(project, true)?;
    if list.is_empty() {
        dir.remove(domain)?;
    } else {
        let text: String = list.iter().map(|u| format!("{u}\n")).collect();
        dir.write(domain, text.as_bytes(), 0o644)
            .with_context(|| format!("recording that {user} needs {domain}"))?;
    }
    Ok(list)
}

/// Forgets every cluster recorded as needing `domain` (it is gone).
pub fn forget(project: &Project, domain: &str) -> anyhow::Result<()> {
    if let Ok(dir) = users_dir(project, false) {
        dir.remove(domain)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::kube::grant::KubeGrant;

    fn project() -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clusters")).unwrap();
        let p = Project::at(dir.path()).unwrap();
        (dir, p)
    }

    fn grants(clusters: &[&str], flag: Option<&str>) -> Grants {
        Grants {
            kube: Some(KubeGrant {
                clusters: clusters.iter().map(|s| s.to_string()).collect(),
                create_local_when: flag.map(str::to_string),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn needs_of(spec: &str, g: &Grants) -> anyhow::Result<Needs> {
        let spec: serde_yaml::Value = serde_yaml::from_str(spec).unwrap();
        let env = |_: &str| None;
        let values = OperatorValues {
            spec: &spec,
            spec_dir: std::path::Path::new("."),
            env: &env,
        };
        needs(g, &values, "prod.test")
    }

    #[test]
    fn needs_follow_the_operators_spec_only() {
        let g = grants(
            &["spec:managementCluster.domain", "*", "prod.test"],
            Some("spec:managementCluster.local"),
        );
        let n = needs_of("managementCluster: {domain: mgmt.test, local: true}", &g).unwrap();
        assert_eq!(n.domains, ["mgmt.test"]);
        assert_eq!(
            n.create_local.as_deref(),
            Some("spec.managementCluster.local")
        );
        let n = needs_of(
            "managementCluster: {domain: mgmt.test, local: \"false\"}",
            &g,
        )
        .unwrap();
        assert_eq!(n.create_local, None);
        let n = needs_of("cluster: {}", &g).unwrap();
        assert!(n.domains.is_empty());
        let bad = grants(&[], Some("managementCluster.local"));
        assert!(
            needs_of("{}", &bad)
                .unwrap_err()
                .to_string()
                .contains("create-local-when")
        );
    }

    #[test]
    fn steps_skip_published_clusters_and_create_only_when_asked() {
        let (_d, p) = project();
        let needs = Needs {
            domains: vec!["a.test".into(), "b.test".into(), "c.test".into()],
            create_local: None,
        };
        std::fs::create_dir_all(p.root().join("clusters/a.test")).unwrap();
        std::fs::write(
            p.root().join("clusters/a.test/cluster.lok8s.yaml"),
            "kind: Lo\nmetadata: {name: a}\n",
        )
        .unwrap();
        std::fs::create_dir_all(p.root().join(".kubeconfig")).unwrap();
        std::fs::write(p.root().join(".kubeconfig/secret.b.test.yaml"), "x").unwrap();
        assert_eq!(steps(&p, &needs), [Step::Provision("a.test".into())]);
        let asked = Needs {
            create_local: Some("spec.managementCluster.local".into()),
            ..needs
        };
        assert_eq!(
            steps(&p, &asked),
            [
                Step::Provision("a.test".into()),
                Step::CreateLocal("c.test".into())
            ]
        );
    }

    #[test]
    fn a_written_spec_is_a_valid_lo_spec_owned_until_its_first_line_goes() {
        let (_d, p) = project();
        let text = local_spec(
            "mgmt.example.com",
            "prod.test",
            "spec.managementCluster.local",
        );
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(yaml["kind"], "Lo");
        assert_eq!(yaml["metadata"]["name"], "mgmt-example-com");
        assert_eq!(yaml["spec"]["cluster"]["domain"], "mgmt.example.com");
        assert!(yaml["spec"]["network"]["name"].as_str().unwrap().len() <= 15);
        assert_eq!(
            text,
            local_spec(
                "mgmt.example.com",
                "prod.test",
                "spec.managementCluster.local"
            )
        );
        write_local_spec(&p, "mgmt.example.com", &text).unwrap();
        assert!(written_by_lo(&p, "mgmt.example.com"));
        assert!(
            write_local_spec(&p, "mgmt.example.com", &text).is_err(),
            "never replaced"
        );
        let path = p
            .root()
            .join("clusters/mgmt.example.com/cluster.lok8s.yaml");
        let kept: String = text.lines().skip(1).map(|l| format!("{l}\n")).collect();
        std::fs::write(&path, kept).unwrap();
        assert!(!written_by_lo(&p, "mgmt.example.com"));
    }

    #[test]
    fn users_are_recorded_once_and_forgotten() {
        let (_d, p) = project();
        assert_eq!(
            record_user(&p, "m.test", "a.test", true).unwrap(),
            ["a.test"]
        );
        assert_eq!(
            record_user(&p, "m.test", "a.test", true).unwrap(),
            ["a.test"]
        );
        assert_eq!(
            record_user(&p, "m.test", "b.test", true).unwrap(),
            ["a.test", "b.test"]
        );
        assert_eq!(
            record_user(&p, "m.test", "a.test", false).unwrap(),
            ["b.test"]
        );
        assert!(
            record_user(&p, "m.test", "b.test", false)
                .unwrap()
                .is_empty()
        );
        assert!(!p.root().join(".lok8s/local-clusters/m.test").exists());
    }
}
