//! Who may touch what in Docker: the driver's scope labels, shared networks granted by name,
//! bind-mount sources, and privilege. Pure checks, so every rule has a unit test.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::lock::DockerGrant;

pub const LABEL_PROJECT: &str = "dev.lok8s.project";
pub const LABEL_CLUSTER: &str = "dev.lok8s.cluster";
pub const LABEL_DRIVER: &str = "dev.lok8s.driver";
/// Marks an object shared between projects: a shared network (value `true`), or a container or
/// volume that belongs to the granted shared network named by the value (shared registry
/// mirrors). A driver asks for it by setting this label itself; lo accepts it only for a
/// shared network in the driver's grant.
pub const LABEL_SHARED: &str = "dev.lok8s.shared";
const RESERVED_PREFIX: &str = "dev.lok8s.";

/// Docker daemon sockets: never mountable, nor any folder that contains one.
const DAEMON_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
];

/// The labels that make an object this driver's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The project root's absolute path: two projects never share a scope.
    pub project: String,
    /// The cluster's domain.
    pub cluster: String,
    /// The lower-case kind the driver runs for.
    pub driver: String,
}

impl Scope {
    pub fn labels(&self) -> Vec<(String, String)> {
        vec![
            (LABEL_PROJECT.into(), self.project.clone()),
            (LABEL_CLUSTER.into(), self.cluster.clone()),
            (LABEL_DRIVER.into(), self.driver.clone()),
        ]
    }

    /// Whether an object with these labels belongs to this driver's cluster.
    pub fn owns(&self, labels: &HashMap<String, String>) -> bool {
        labels.get(LABEL_PROJECT) == Some(&self.project)
            && labels.get(LABEL_CLUSTER) == Some(&self.cluster)
    }

    /// Guest labels plus the scope labels; a guest may not set `dev.lok8s.*` itself.
    pub fn merge(&self, guest: &[(String, String)]) -> Result<HashMap<String, String>, String> {
        let mut labels = HashMap::new();
        for (k, v) in guest {
            if k.starts_with(RESERVED_PREFIX) {
                return Err(format!(
                    "label {k:?}: labels under {RESERVED_PREFIX} are set by lo"
                ));
            }
            labels.insert(k.clone(), v.clone());
        }
        labels.extend(self.labels());
        Ok(labels)
    }
}

/// Whether a shared network name is granted.
pub fn shared(grant: &DockerGrant, network: &str) -> bool {
    grant.shared_networks.iter().any(|n| n == network)
}

/// Whether a driver may touch an object with these labels: its own cluster's, or one shared
/// through a network in its grant.
pub fn usable(scope: &Scope, grant: &DockerGrant, labels: &HashMap<String, String>) -> bool {
    scope.owns(labels)
        || labels
            .get(LABEL_SHARED)
            .is_some_and(|net| net != "true" && shared(grant, net))
}

/// Labels for a new container or volume: the guest's plus the scope labels, or, when the guest
/// asks for `dev.lok8s.shared=<network>` with a granted shared network, that label alone
/// instead of the scope (the object outlives any one project's cluster).
pub fn labels_for(
    scope: &Scope,
    grant: &DockerGrant,
    guest: &[(String, String)],
) -> Result<HashMap<String, String>, String> {
    let Some((_, net)) = guest.iter().find(|(k, _)| k == LABEL_SHARED) else {
        return scope.merge(guest);
    };
    if !shared(grant, net) {
        return Err(format!(
            "label {LABEL_SHARED}={net:?}: only a shared network in the grant (shared-networks) can own objects"
        ));
    }
    let rest: Vec<(String, String)> = guest
        .iter()
        .filter(|(k, _)| k != LABEL_SHARED)
        .cloned()
        .collect();
    let mut labels = scope.merge(&rest)?;
    labels.retain(|k, _| !k.starts_with(RESERVED_PREFIX));
    labels.insert(LABEL_SHARED.into(), net.clone());
    Ok(labels)
}

/// Resolves a bind-mount source: a project-relative path (inside the project, no `..`), or an
/// absolute path under a granted host path. Never a Docker socket or a folder holding one.
pub fn bind_source(
    grant: &DockerGrant,
    project_root: &Path,
    source: &str,
) -> Result<PathBuf, String> {
    let path = Path::new(source);
    let resolved = if path.is_absolute() {
        let inside_grant = grant.host_paths.iter().any(|g| path.starts_with(g));
        if !inside_grant {
            return Err(format!(
                "bind mount of host path {source:?}: add it to host-paths in the docker grant"
            ));
        }
        path.to_path_buf()
    } else {
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(format!(
                "bind mount {source:?}: a project-relative path may not climb out with '..'"
            ));
        }
        project_root.join(path)
    };
    // Follow links: the source must still be where the rule above allowed.
    let real = resolved.canonicalize().map_err(|e| {
        format!(
            "bind mount {source:?}: {} ({e}); create it first",
            resolved.display()
        )
    })?;
    if !path.is_absolute() && !real.starts_with(project_root) {
        return Err(format!(
            "bind mount {source:?} resolves to {}, outside the project",
            real.display()
        ));
    }
    if path.is_absolute() && !grant.host_paths.iter().any(|g| real.starts_with(g)) {
        return Err(format!(
            "bind mount {source:?} resolves to {}, outside the granted host paths",
            real.display()
        ));
    }
    for socket in DAEMON_SOCKETS {
        let socket_real = Path::new(socket)
            .canonicalize()
            .unwrap_or_else(|_| PathBuf::from(socket));
        if socket_real.starts_with(&real) || Path::new(socket).starts_with(&real) {
            return Err(format!(
                "bind mount {source:?} would expose the container daemon socket {socket}; never allowed"
            ));
        }
    }
    Ok(real)
}

/// Whether `DOCKER_HOST` names an engine on another machine (`ssh://`, `tcp://`): then bind
/// sources are paths on that machine, which lo cannot look at.
pub fn engine_is_remote(docker_host: Option<&str>) -> bool {
    docker_host
        .is_some_and(|h| !h.is_empty() && !h.starts_with("unix://") && !h.starts_with("npipe://"))
}

/// A bind source on a remote engine: only granted absolute host paths (checked by their
/// text: the remote filesystem is out of reach), never a daemon socket. Project paths do not
/// exist there, so they are refused rather than silently mounted as empty folders.
pub fn remote_bind_source(grant: &DockerGrant, source: &str) -> Result<PathBuf, String> {
    let path = Path::new(source);
    if !path.is_absolute() {
        return Err(format!(
            "bind mount {source:?}: the Docker engine is remote (DOCKER_HOST), where project paths do not exist; copy files into the container instead"
        ));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!("bind mount {source:?}: no '..' in host paths"));
    }
    if !grant.host_paths.iter().any(|g| path.starts_with(g)) {
        return Err(format!(
            "bind mount of host path {source:?}: add it to host-paths in the docker grant"
        ));
    }
    if DAEMON_SOCKETS
        .iter()
        .any(|s| Path::new(s).starts_with(path))
    {
        return Err(format!(
            "bind mount {source:?} would expose the container daemon socket; never allowed"
        ));
    }
    Ok(path.to_path_buf())
}

/// Security options that loosen confinement need the privileged grant.
pub fn security_opt_allowed(grant: &DockerGrant, opt: &str) -> bool {
    grant.privileged || opt == "no-new-privileges" || opt == "no-new-privileges:true"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope {
            project: "/p".into(),
            cluster: "a.dev".into(),
            driver: "lo".into(),
        }
    }

    #[test]
    fn ownership_needs_project_and_cluster() {
        let s = scope();
        let mut labels: HashMap<String, String> = s.labels().into_iter().collect();
        assert!(s.owns(&labels));
        labels.insert(LABEL_CLUSTER.into(), "b.dev".into());
        assert!(!s.owns(&labels));
        assert!(!s.owns(&HashMap::new()));
    }

    #[test]
    fn guests_cannot_forge_scope_labels() {
        let s = scope();
        let err = s
            .merge(&[(LABEL_CLUSTER.into(), "other".into())])
            .unwrap_err();
        assert!(err.contains("set by lo"), "{err}");
        let merged = s
            .merge(&[("io.x-k8s.kind.cluster".into(), "dev".into())])
            .unwrap();
        assert_eq!(merged[LABEL_PROJECT], "/p");
        assert_eq!(merged["io.x-k8s.kind.cluster"], "dev");
    }

    #[test]
    fn shared_objects_need_a_granted_shared_network() {
        let s = scope();
        let grant = DockerGrant {
            shared_networks: vec!["lok8s-registries".into()],
            ..Default::default()
        };
        let asked = [(LABEL_SHARED.to_string(), "lok8s-registries".to_string())];
        let labels = labels_for(&s, &grant, &asked).unwrap();
        assert_eq!(labels[LABEL_SHARED], "lok8s-registries");
        assert!(!labels.contains_key(LABEL_PROJECT), "{labels:?}");
        assert!(usable(&s, &grant, &labels));
        let other = Scope {
            project: "/q".into(),
            ..scope()
        };
        assert!(
            usable(&other, &grant, &labels),
            "any project granted the network"
        );
        assert!(!usable(&s, &DockerGrant::default(), &labels));
        let err = labels_for(&s, &DockerGrant::default(), &asked).unwrap_err();
        assert!(err.contains("shared-networks"), "{err}");
        // The network's own marker does not make containers usable.
        let marker = HashMap::from([(LABEL_SHARED.to_string(), "true".to_string())]);
        assert!(!usable(&s, &grant, &marker));
    }

    #[test]
    fn bind_sources() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("clusters/a.dev/data")).unwrap();
        let none = DockerGrant::default();
        assert_eq!(
            bind_source(&none, &root, "clusters/a.dev/data").unwrap(),
            root.join("clusters/a.dev/data")
        );
        assert!(
            bind_source(&none, &root, "../x")
                .unwrap_err()
                .contains("'..'")
        );
        assert!(
            bind_source(&none, &root, "/etc")
                .unwrap_err()
                .contains("host-paths")
        );
        std::os::unix::fs::symlink("/etc", root.join("clusters/a.dev/link")).unwrap();
        assert!(
            bind_source(&none, &root, "clusters/a.dev/link")
                .unwrap_err()
                .contains("outside the project")
        );
        let etc = DockerGrant {
            host_paths: vec!["/etc".into()],
            ..Default::default()
        };
        assert!(bind_source(&etc, &root, "/etc").is_ok());
        let run = DockerGrant {
            host_paths: vec!["/".into()],
            ..Default::default()
        };
        assert!(
            bind_source(&run, &root, "/")
                .unwrap_err()
                .contains("daemon socket")
        );
        assert!(
            bind_source(&run, &root, "/run")
                .unwrap_err()
                .contains("daemon socket")
        );
    }

    #[test]
    fn remote_engines_get_granted_host_paths_only() {
        assert!(engine_is_remote(Some("ssh://root@203.0.113.7")));
        assert!(engine_is_remote(Some("tcp://127.0.0.1:2375")));
        assert!(!engine_is_remote(Some("unix:///var/run/docker.sock")));
        assert!(!engine_is_remote(None));
        let grant = DockerGrant {
            host_paths: vec!["/lib/modules".into(), "/".into()],
            ..Default::default()
        };
        assert!(remote_bind_source(&grant, "/lib/modules").is_ok());
        let err = remote_bind_source(&grant, "clusters/a.dev/data").unwrap_err();
        assert!(err.contains("remote"), "{err}");
        assert!(
            remote_bind_source(&grant, "/run")
                .unwrap_err()
                .contains("socket")
        );
        assert!(remote_bind_source(&grant, "/lib/../etc").is_err());
        let narrow = DockerGrant {
            host_paths: vec!["/lib/modules".into()],
            ..Default::default()
        };
        assert!(
            remote_bind_source(&narrow, "/etc")
                .unwrap_err()
                .contains("host-paths")
        );
    }

    #[test]
    fn loosening_security_options_need_privilege() {
        let none = DockerGrant::default();
        assert!(security_opt_allowed(&none, "no-new-privileges"));
        assert!(!security_opt_allowed(&none, "seccomp=unconfined"));
        let privileged = DockerGrant {
            privileged: true,
            ..Default::default()
        };
        assert!(security_opt_allowed(&privileged, "seccomp=unconfined"));
    }
}
