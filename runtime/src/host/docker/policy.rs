//! Who may touch what in Docker: the driver's scope labels, shared networks granted by name,
//! bind-mount sources, published ports, and privilege. Pure checks (the host facts they need
//! are passed in), so every rule has a unit test.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::host::docker::grant::DockerGrant;

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

/// Why a bind source is refused, and whether some grant could allow it (a path of the
/// project can never be bound, so its refusal points to no grant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindRefusal {
    pub message: String,
    pub grantable: bool,
}

impl BindRefusal {
    fn grant(message: String) -> Self {
        BindRefusal {
            message,
            grantable: true,
        }
    }

    fn never(message: String) -> Self {
        BindRefusal {
            message,
            grantable: false,
        }
    }
}

impl std::fmt::Display for BindRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Resolves a bind-mount source on a local engine: an absolute path under a granted host path
/// (`host-paths` for read-only mounts, `writable-host-paths` for either), after links are
/// resolved. Never a path of the project or any folder around it (drivers write there, and it
/// holds other clusters' files and the lock: files go into containers by copy-file), nor any
/// other `protected` path, nor a daemon socket or a folder holding one.
pub fn bind_source(
    grant: &DockerGrant,
    protected: &[PathBuf],
    source: &str,
    read_only: bool,
) -> Result<PathBuf, BindRefusal> {
    let path = lexical_source(grant, source, read_only)?;
    // Follow links: the source must still be where the rule above allowed.
    let real = path
        .canonicalize()
        .map_err(|e| BindRefusal::grant(format!("bind mount {source:?}: {e}; create it first")))?;
    if !covered(grant, &real, read_only, |g| {
        Path::new(g)
            .canonicalize()
            .unwrap_or_else(|_| PathBuf::from(g))
    }) {
        return Err(BindRefusal::grant(format!(
            "bind mount {source:?} resolves to {}, outside the granted host paths",
            real.display()
        )));
    }
    if let Some(p) = protected
        .iter()
        .find(|p| crate::project::overlaps(&real, p))
    {
        return Err(BindRefusal::never(format!(
            "bind mount {source:?} would expose {} (the project, or a folder lo keeps private) to a container; \
             copy files in with copy-file instead",
            p.display()
        )));
    }
    for socket in DAEMON_SOCKETS {
        let socket_real = Path::new(socket)
            .canonicalize()
            .unwrap_or_else(|_| PathBuf::from(socket));
        if socket_real.starts_with(&real) || Path::new(socket).starts_with(&real) {
            return Err(BindRefusal::never(format!(
                "bind mount {source:?} would expose the container daemon socket {socket}; never allowed"
            )));
        }
    }
    Ok(real)
}

/// The text checks every bind source passes first, local or remote engine.
fn lexical_source(
    grant: &DockerGrant,
    source: &str,
    read_only: bool,
) -> Result<PathBuf, BindRefusal> {
    let path = Path::new(source);
    if !path.is_absolute() {
        return Err(BindRefusal::never(format!(
            "bind mount {source:?}: only absolute host paths granted in host-paths can be bound; \
             files from the project go into containers with copy-file"
        )));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(BindRefusal::never(format!(
            "bind mount {source:?}: no '..' in host paths"
        )));
    }
    if !covered(grant, path, read_only, |g| PathBuf::from(g)) {
        let granted_read_only = grant.host_paths.iter().any(|g| path.starts_with(g));
        let fix = if !read_only && granted_read_only {
            "it is granted read-only: mount it read-only, or add it to writable-host-paths in the docker grant"
        } else if read_only {
            "add it to host-paths in the docker grant"
        } else {
            "add it to writable-host-paths in the docker grant, or mount it read-only"
        };
        return Err(BindRefusal::grant(format!(
            "bind mount of host path {source:?}: {fix}"
        )));
    }
    if DAEMON_SOCKETS
        .iter()
        .any(|s| Path::new(s).starts_with(path))
    {
        return Err(BindRefusal::never(format!(
            "bind mount {source:?} would expose the container daemon socket; never allowed"
        )));
    }
    Ok(path.to_path_buf())
}

fn covered(
    grant: &DockerGrant,
    path: &Path,
    read_only: bool,
    resolve: impl Fn(&str) -> PathBuf,
) -> bool {
    let writable = grant.writable_host_paths.iter();
    let readable = grant.host_paths.iter().filter(|_| read_only);
    writable
        .chain(readable)
        .any(|g| path.starts_with(resolve(g)))
}

/// Whether a container the engine may restart on its own (any restart policy but `no`) may
/// bind `source` (as resolved). The engine resolves a bind's source again at every start, and
/// restarts it makes itself are ones `lo` does not see and cannot check as it checks its own
/// starts; a source strictly inside a writable host path is one a container can meanwhile
/// replace with a link. A granted writable folder itself, or read-only ones, stay put.
pub fn restart_may_bind(grant: &DockerGrant, source: &Path) -> Result<(), String> {
    let inside_writable = grant.writable_host_paths.iter().find(|g| {
        let root = Path::new(g)
            .canonicalize()
            .unwrap_or_else(|_| PathBuf::from(g));
        source.starts_with(&root) && source != root
    });
    match inside_writable {
        Some(root) => Err(format!(
            "{} lies inside the writable host path {root}, where a container could swap it for a \
             link before the engine restarts the container on its own (a start lo does not see); \
             bind {root} itself, or use restart policy no",
            source.display()
        )),
        None => Ok(()),
    }
}

/// Whether `DOCKER_HOST` names an engine on another machine (`ssh://`, `tcp://`): then bind
/// sources are paths on that machine, which lo cannot look at.
pub fn engine_is_remote(docker_host: Option<&str>) -> bool {
    docker_host
        .is_some_and(|h| !h.is_empty() && !h.starts_with("unix://") && !h.starts_with("npipe://"))
}

/// A bind source on a remote engine: only granted absolute host paths, read-only (checked by
/// their text: the remote filesystem is out of reach, so whether a writable path is mounted
/// nosuid cannot be checked), never a daemon socket.
pub fn remote_bind_source(
    grant: &DockerGrant,
    source: &str,
    read_only: bool,
) -> Result<PathBuf, BindRefusal> {
    if !read_only {
        return Err(BindRefusal::never(format!(
            "bind mount {source:?}: the Docker engine is remote (DOCKER_HOST), where lo cannot check that a \
             writable host path is mounted nosuid,nodev; mount it read-only"
        )));
    }
    lexical_source(grant, source, read_only)
}

/// A writable bind lets a container's root write there, setuid bits and device nodes included;
/// on a nosuid,nodev mount those stay inert for everyone on the host. `mountinfo` is the text
/// of /proc/self/mountinfo.
pub fn writable_mount_ok(real: &Path, mountinfo: &str) -> Result<(), String> {
    let mut best: Option<(&str, &str)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(point), Some(options)) = (fields.get(4), fields.get(5)) else {
            continue;
        };
        let point_path = unescape_mount_point(point);
        let longer = best.is_none_or(|(b, _)| {
            unescape_mount_point(b).as_os_str().len() <= point_path.as_os_str().len()
        });
        if real.starts_with(&point_path) && longer {
            best = Some((point, options));
        }
    }
    let Some((point, options)) = best else {
        return Err(format!("{}: no mount found for it", real.display()));
    };
    let flags: Vec<&str> = options.split(',').collect();
    if flags.contains(&"nosuid") && flags.contains(&"nodev") {
        return Ok(());
    }
    Err(format!(
        "{} lies on {} mounted {options}: a container writing there as root could leave setuid programs \
         and device nodes on this machine; grant a path on a nosuid,nodev mount (such as a tmpfs or a \
         dedicated filesystem), or mount it read-only",
        real.display(),
        unescape_mount_point(point).display()
    ))
}

/// mountinfo escapes spaces, tabs, newlines and backslashes as `\NNN` (octal).
fn unescape_mount_point(field: &str) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok())
            .and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(v)) => {
                out.push(v);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from_vec(out))
}

/// Whether ports may be published on `address`: loopback always, others when the grant's
/// `publish` names them.
pub fn may_publish_on(grant: &DockerGrant, address: &str) -> bool {
    let ip = address.parse::<std::net::IpAddr>();
    ip.as_ref().is_ok_and(|ip| ip.is_loopback())
        || grant.publish.iter().any(|a| {
            a == address
                || a.parse::<std::net::IpAddr>()
                    .ok()
                    .zip(ip.as_ref().ok())
                    .is_some_and(|(a, b)| a == *b)
        })
}

/// The host address a port is published on (loopback when the driver leaves it empty), or why
/// it may not be.
pub fn port_address(
    grant: &DockerGrant,
    host_ip: &str,
    host_port: Option<u16>,
) -> Result<String, String> {
    let address = if host_ip.is_empty() {
        "127.0.0.1"
    } else {
        host_ip
    };
    if address.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("port on {address:?}: not an IP address"));
    }
    if !may_publish_on(grant, address) {
        return Err(format!(
            "port on {address}: ports are published on 127.0.0.1 unless the docker grant's publish list names the address"
        ));
    }
    if let Some(port) = host_port
        && port < 1024
        && !grant.low_ports
    {
        return Err(format!(
            "host port {port}: ports below 1024 need low-ports = true in the docker grant"
        ));
    }
    Ok(address.to_string())
}

/// Checks a container or volume name (or ID) a driver passes: the engine puts it into a URL
/// path, so nothing but Docker's own name characters.
pub fn check_object_name(what: &str, name: &str) -> Result<(), String> {
    let ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        && name.len() <= 255;
    if ok {
        return Ok(());
    }
    Err(format!(
        "{what} name {name:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit"
    ))
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
            .unwrap_err()
            .to_string();
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
        let err = labels_for(&s, &DockerGrant::default(), &asked)
            .unwrap_err()
            .to_string();
        assert!(err.contains("shared-networks"), "{err}");
        // The network's own marker does not make containers usable.
        let marker = HashMap::from([(LABEL_SHARED.to_string(), "true".to_string())]);
        assert!(!usable(&s, &grant, &marker));
    }

    #[test]
    fn engine_restarts_never_bind_what_a_container_could_swap() {
        let grant = DockerGrant {
            writable_host_paths: vec!["/srv/data".into()],
            host_paths: vec!["/opt".into()],
            ..Default::default()
        };
        assert!(restart_may_bind(&grant, Path::new("/srv/data")).is_ok());
        assert!(restart_may_bind(&grant, Path::new("/opt/x")).is_ok());
        let err = restart_may_bind(&grant, Path::new("/srv/data/sub")).unwrap_err();
        assert!(err.contains("bind /srv/data itself"), "{err}");
    }

    #[test]
    fn bind_sources_are_granted_host_paths_never_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let project = root.join("project");
        std::fs::create_dir_all(project.join("clusters/a.dev/data")).unwrap();
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        let protected = vec![project.clone()];
        let none = DockerGrant::default();
        let err = bind_source(&none, &protected, "clusters/a.dev/data", true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("copy-file"), "{err}");
        assert!(
            bind_source(&none, &protected, "/etc", true)
                .unwrap_err()
                .to_string()
                .contains("host-paths")
        );
        let data = root.join("data").display().to_string();
        let grant = DockerGrant {
            host_paths: vec![data.clone(), "/".into()],
            ..Default::default()
        };
        assert!(bind_source(&grant, &protected, &format!("{data}/sub"), true).is_ok());
        let err = bind_source(&grant, &protected, &format!("{data}/sub"), false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("granted read-only"), "{err}");
        // The project itself, a folder in it, or a folder around it.
        for inside in [project.clone(), project.join("clusters"), root.clone()] {
            let err =
                bind_source(&grant, &protected, &inside.display().to_string(), true).unwrap_err();
            assert!(!err.grantable, "no grant can allow {}", inside.display());
            let err = err.to_string();
            assert!(
                err.contains("copy-file") || err.contains("socket"),
                "{}: {err}",
                inside.display()
            );
        }
        std::os::unix::fs::symlink(&project, root.join("data/link")).unwrap();
        let err = bind_source(&grant, &protected, &format!("{data}/link"), true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("copy-file"), "{err}");
        assert!(
            bind_source(&grant, &protected, "/", true)
                .unwrap_err()
                .to_string()
                .contains("socket")
        );
        assert!(
            bind_source(&grant, &protected, "/run", true)
                .unwrap_err()
                .to_string()
                .contains("socket")
        );
        assert!(
            bind_source(&grant, &protected, &format!("{data}/../project"), true)
                .unwrap_err()
                .to_string()
                .contains("'..'")
        );
    }

    #[test]
    fn writable_binds_need_a_nosuid_nodev_mount() {
        let info = "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n\
                    30 22 0:40 / /srv/scratch rw,nosuid,nodev,relatime - tmpfs tmpfs rw\n\
                    31 22 0:41 / /srv/with\\040space rw,nosuid,nodev - tmpfs tmpfs rw\n";
        assert!(writable_mount_ok(Path::new("/srv/scratch/x"), info).is_ok());
        assert!(writable_mount_ok(Path::new("/srv/with space/y"), info).is_ok());
        let err = writable_mount_ok(Path::new("/srv/data"), info)
            .unwrap_err()
            .to_string();
        assert!(err.contains("nosuid,nodev"), "{err}");
    }

    #[test]
    fn ports_are_published_on_loopback_unless_granted() {
        let none = DockerGrant::default();
        assert_eq!(port_address(&none, "", None).unwrap(), "127.0.0.1");
        assert_eq!(port_address(&none, "::1", Some(8080)).unwrap(), "::1");
        assert!(
            port_address(&none, "0.0.0.0", None)
                .unwrap_err()
                .contains("publish")
        );
        assert!(
            port_address(&none, "127.0.0.1", Some(80))
                .unwrap_err()
                .contains("low-ports")
        );
        assert!(port_address(&none, "x", None).is_err());
        let open = DockerGrant {
            publish: vec!["0.0.0.0".into()],
            low_ports: true,
            ..Default::default()
        };
        assert!(port_address(&open, "0.0.0.0", Some(80)).is_ok());
        assert!(port_address(&open, "::", None).is_err());
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
        assert!(remote_bind_source(&grant, "/lib/modules", true).is_ok());
        let err = remote_bind_source(&grant, "clusters/a.dev/data", true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("copy-file"), "{err}");
        assert!(
            remote_bind_source(&grant, "/lib/modules", false)
                .unwrap_err()
                .to_string()
                .contains("remote")
        );
        assert!(
            remote_bind_source(&grant, "/run", true)
                .unwrap_err()
                .to_string()
                .contains("socket")
        );
        assert!(remote_bind_source(&grant, "/lib/../etc", true).is_err());
        let narrow = DockerGrant {
            host_paths: vec!["/lib/modules".into()],
            ..Default::default()
        };
        assert!(
            remote_bind_source(&narrow, "/etc", true)
                .unwrap_err()
                .to_string()
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
