//! Publishing a driver's kubeconfig. A driver writes `.kubeconfig/<name>.yaml` in its own
//! folder (`.kubeconfig/.drivers/<domain>/`); after each call `lo` reads it there without
//! following links, vets it (no exec plugins, auth providers, file references or proxies) and
//! writes what passed to the project's `.kubeconfig/<name>.yaml`, readable by its owner only,
//! where the user's kubectl and other drivers (by domain) find it. The published file names the
//! domain it came from, so two clusters with one `metadata.name` cannot overwrite each other.
//! It may name only API servers its driver's own grant reaches (`kube.servers`, this machine
//! by default): other drivers and the user send requests wherever it points.

use std::path::PathBuf;

use anyhow::{Context as _, bail};

use crate::host::http::allowlist::Allowlist;
use crate::host::kube::vetted::{self, Vetted};
use crate::project::{Inside, Project};

fn marker(domain: &str) -> String {
    format!(
        "# Published by lo for clusters/{domain}: lo rewrites this file from what the driver writes.\n"
    )
}

/// The domain a published file names in its first line, if any.
fn owner(text: &str) -> Option<&str> {
    text.lines()
        .next()?
        .strip_prefix("# Published by lo for clusters/")?
        .split(':')
        .next()
}

/// The origin (`https://host:port`) of the API server in the kubeconfig lo published for
/// `domain`, if any. lo vetted it when it published it (or the user wrote it; a driver cannot
/// write there), so a later run may go on naming it though nothing in that run reports it
/// again (a load balancer a provider's API reported at provision, `host::reported`).
pub fn published_origin(project: &Project, domain: &str, file: &str) -> Option<String> {
    let bytes = project
        .inside()
        .ok()?
        .subdir(".kubeconfig", false)
        .ok()?
        .read(file, vetted::MAX_BYTES)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    if owner(&text) != Some(domain) {
        return None;
    }
    let server = Vetted::parse(text.as_bytes()).ok()?.server()?;
    let url = reqwest::Url::parse(&server).ok()?;
    Some(format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str()?,
        url.port_or_known_default()?
    ))
}

/// Before a call: a cluster provisioned before its driver had a folder of its own gets its
/// published kubeconfig there, so the driver finds what it wrote last time.
pub fn seed(project: &Project, staged: &Inside, domain: &str, file: &str) -> anyhow::Result<()> {
    if staged.kind(file)?.is_some() {
        return Ok(());
    }
    let Ok(published) = project.kubeconfigs() else {
        return Ok(());
    };
    let text = match published.read(file, vetted::MAX_BYTES) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if owner(&text).is_some_and(|o| o != domain) {
        return Ok(());
    }
    staged.write(file, text.as_bytes(), 0o600)?;
    Ok(())
}

/// After a call: publishes what the driver left (or removes the published copy when the driver
/// removed its own). Returns the published path.
pub fn publish(
    project: &Project,
    staged: &Inside,
    domain: &str,
    file: &str,
    servers: &Allowlist,
) -> anyhow::Result<Option<PathBuf>> {
    let shown = format!(".kubeconfig/{file}");
    let root = project.inside()?;
    let published = root.subdir(".kubeconfig", true)?;
    let existing = match published.read(file, vetted::MAX_BYTES) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e).with_context(|| format!("reading {shown}")),
    };
    if let Some(other) = existing.as_deref().and_then(owner).filter(|o| *o != domain) {
        bail!(
            "{shown} belongs to cluster {other}, which has the same metadata.name; give one of them another name"
        );
    }
    let bytes = match staged.read(file, vetted::MAX_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => {
            if existing.is_some() {
                published.remove(file)?;
            }
            return Ok(None);
        }
        Err(e) => return Err(e).with_context(|| format!("the driver's {shown}")),
    };
    let vetted = Vetted::parse(&bytes)
        .and_then(|v| v.check_servers(servers).map(|()| v))
        .with_context(|| format!("the driver wrote {shown}, which lo will not publish"))?;
    let text = format!("{}{}", marker(domain), vetted.to_yaml());
    if existing.as_deref() != Some(text.as_str()) {
        published.write(file, text.as_bytes(), 0o600)?;
    }
    Ok(Some(project.kubeconfig_dir().join(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KC: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:6443\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: abc\n";

    fn local() -> Allowlist {
        vetted::servers_rule(&[], &[]).unwrap()
    }

    fn setup() -> (tempfile::TempDir, Project, Inside) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clusters/a.dev")).unwrap();
        std::fs::create_dir_all(dir.path().join(".kubeconfig/.drivers/a.dev")).unwrap();
        let project = Project::at(dir.path()).unwrap();
        let staged = project
            .inside()
            .unwrap()
            .subdir(".kubeconfig/.drivers/a.dev", false)
            .unwrap();
        (dir, project, staged)
    }

    #[test]
    fn a_published_server_stays_allowed_for_its_own_domain_only() {
        let (_dir, project, staged) = setup();
        let far = KC.replace("https://127.0.0.1:6443", "https://192.0.2.9:6443");
        staged.write("dev.yaml", far.as_bytes(), 0o644).unwrap();
        let granted = vetted::servers_rule(&[], &["https://192.0.2.9:*".into()]).unwrap();
        publish(&project, &staged, "a.dev", "dev.yaml", &granted).unwrap();
        assert_eq!(
            published_origin(&project, "a.dev", "dev.yaml").as_deref(),
            Some("https://192.0.2.9:6443")
        );
        assert_eq!(published_origin(&project, "b.dev", "dev.yaml"), None);
        assert_eq!(published_origin(&project, "a.dev", "other.yaml"), None);
    }

    #[test]
    fn publishes_vetted_owner_only_and_removes_with_the_driver() {
        let (dir, project, staged) = setup();
        staged.write("dev.yaml", KC.as_bytes(), 0o644).unwrap();
        let path = publish(&project, &staged, "a.dev", "dev.yaml", &local())
            .unwrap()
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("# Published by lo for clusters/a.dev:"),
            "{text}"
        );
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        staged.remove("dev.yaml").unwrap();
        assert!(
            publish(&project, &staged, "a.dev", "dev.yaml", &local())
                .unwrap()
                .is_none()
        );
        assert!(!dir.path().join(".kubeconfig/dev.yaml").exists());
    }

    #[test]
    fn refuses_exec_plugins_and_links_and_other_clusters_files() {
        let (dir, project, staged) = setup();
        let exec = KC.replace("    token: abc\n", "    exec:\n      command: /bin/sh\n      apiVersion: client.authentication.k8s.io/v1\n");
        staged.write("dev.yaml", exec.as_bytes(), 0o644).unwrap();
        let err = format!(
            "{:#}",
            publish(&project, &staged, "a.dev", "dev.yaml", &local()).unwrap_err()
        );
        assert!(err.contains("exec"), "{err}");
        assert!(!dir.path().join(".kubeconfig/dev.yaml").exists());
        staged.remove("dev.yaml").unwrap();
        std::os::unix::fs::symlink(
            "/etc/passwd",
            dir.path().join(".kubeconfig/.drivers/a.dev/dev.yaml"),
        )
        .unwrap();
        let err = publish(&project, &staged, "a.dev", "dev.yaml", &local()).unwrap_err();
        assert!(format!("{err:#}").contains("is a link"), "{err:#}");
        staged.remove("dev.yaml").unwrap();
        std::fs::write(
            dir.path().join(".kubeconfig/dev.yaml"),
            format!("{}{KC}", marker("b.dev")),
        )
        .unwrap();
        staged.write("dev.yaml", KC.as_bytes(), 0o644).unwrap();
        let err = publish(&project, &staged, "a.dev", "dev.yaml", &local())
            .unwrap_err()
            .to_string();
        assert!(err.contains("belongs to cluster b.dev"), "{err}");
    }

    #[test]
    fn refuses_servers_the_publisher_may_not_reach() {
        let (dir, project, staged) = setup();
        let far = KC.replace("https://127.0.0.1:6443", "https://192.0.2.7:6443");
        staged.write("dev.yaml", far.as_bytes(), 0o644).unwrap();
        let err = format!(
            "{:#}",
            publish(&project, &staged, "a.dev", "dev.yaml", &local()).unwrap_err()
        );
        assert!(err.contains("clusters[c].cluster.server"), "{err}");
        assert!(err.contains("kube.servers"), "{err}");
        assert!(!dir.path().join(".kubeconfig/dev.yaml").exists());
        let granted = vetted::servers_rule(&["https://192.0.2.7:6443".into()], &[]).unwrap();
        publish(&project, &staged, "a.dev", "dev.yaml", &granted)
            .unwrap()
            .unwrap();
        assert!(dir.path().join(".kubeconfig/dev.yaml").exists());
    }

    #[test]
    fn seeds_the_drivers_folder_from_an_older_publication() {
        let (dir, project, staged) = setup();
        std::fs::write(dir.path().join(".kubeconfig/dev.yaml"), KC).unwrap();
        seed(&project, &staged, "a.dev", "dev.yaml").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".kubeconfig/.drivers/a.dev/dev.yaml"))
                .unwrap(),
            KC
        );
    }
}
