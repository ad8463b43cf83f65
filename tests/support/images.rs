//! Test images built locally with `docker import` (nothing can be pulled here):
//! - [`registry_image`] stands in for the `registry:2` image: Debian's real `docker-registry`
//!   (distribution 2.8) on a busybox rootfs, with a no-auth default config.
//! - [`haproxy_image`] stands in for `kindest/haproxy`: Debian's real haproxy.
//! - [`node_image`] stands in for `kindest/node`: a busybox rootfs honouring the node-image
//!   contract kind relies on, with `kubeadm`, `kubectl` and the API server played by the
//!   `lok8s-node-standin` binary (see tests/standin/).
//!
//! Each image carries a label with the sha256 of its exact content (a reproducible tar of the
//! rootfs plus the image settings), and is rebuilt when that differs, so a stale image never
//! masks a change. Builds hold a lock file, so concurrent test binaries are safe.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::docker::{busybox_rootfs, docker};

/// The registry image's tag.
pub const REGISTRY_IMAGE: &str = "lok8s-test/registry:2";
/// The node image's tag; the version is what `/kind/version` says.
pub const NODE_IMAGE: &str = "lok8s-test/node:v1.35.0";
/// The stand-in for `rancher/k3s` (the example drivers' K3s kind).
pub const K3S_IMAGE: &str = "lok8s-test/k3s:v1.31.4-k3s1";
/// The stand-in for kind's haproxy load balancer image.
pub const HAPROXY_IMAGE: &str = "lok8s-test/haproxy:2.6";
/// The Kubernetes version the node image claims.
pub const NODE_VERSION: &str = "v1.35.0";
/// Where the stand-in binary sits inside the node image.
pub const NODE_STANDIN_PATH: &str = "/usr/local/bin/lok8s-node-standin";

const CONTENT_LABEL: &str = "dev.lok8s.test.content-sha256";

/// A real registry (`docker-registry` serving `/etc/docker/registry/config.yml` on :5000,
/// plain HTTP, no auth, storage in `/var/lib/registry`). A driver may replace the config and
/// add `tls.crt`/`tls.key` in `/etc/docker/registry/` before starting the container.
pub fn registry_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let changes = [
            r#"ENTRYPOINT ["/usr/bin/docker-registry"]"#,
            r#"CMD ["serve", "/etc/docker/registry/config.yml"]"#,
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "EXPOSE 5000",
            "VOLUME /var/lib/registry",
        ];
        build(REGISTRY_IMAGE, &changes, |r| {
        install(&docker_registry_binary(), r, "usr/bin/docker-registry");
        write(
            r,
            "etc/docker/registry/config.yml",
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/registry\n  \
             delete:\n    enabled: true\nhttp:\n  addr: :5000\n",
        );
        fs::create_dir_all(r.join("var/lib/registry")).unwrap();
        });
    });
    REGISTRY_IMAGE
}

/// The stand-in node image, with `standin` (an integration test passes
/// `env!("CARGO_BIN_EXE_lok8s-node-standin")`) as its kubeadm, kubectl and API server.
/// Rebuilt whenever the binary changes. The first call in a process decides the binary.
pub fn node_image(standin: &Path) -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let changes = [
            r#"ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]"#,
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV container=docker",
        ];
        build(NODE_IMAGE, &changes, |r| {
            install_standin(standin, r);
            for tool in ["kubeadm", "kubectl"] {
                let wrapper = format!(
                    "#!/bin/sh\n# lok8s test stand-in for {tool}\n\
                     exec {NODE_STANDIN_PATH} {tool} \"$@\"\n"
                );
                write_executable(r, &format!("usr/bin/{tool}"), &wrapper);
            }
            // kind runs `bash -c` for containerd patches; busybox has no bash applet.
            write_executable(r, "bin/bash", "#!/bin/sh\nexec /bin/sh \"$@\"\n");
            write_executable(r, "usr/local/bin/entrypoint", NODE_ENTRYPOINT);
            write(r, "kind/version", &format!("{NODE_VERSION}\n"));
            write(r, "kind/manifests/default-cni.yaml", DEFAULT_CNI);
            write(r, "kind/manifests/default-storage.yaml", DEFAULT_STORAGE);
            write(r, "etc/containerd/config.toml", CONTAINERD_CONFIG);
            fs::create_dir_all(r.join("etc/kubernetes/manifests")).unwrap();
            fs::create_dir_all(r.join("sbin")).unwrap();
        });
    });
    NODE_IMAGE
}

/// Copies the stand-in binary (and its libraries) into the rootfs.
pub(crate) fn install_standin(standin: &Path, r: &Path) {
    let bin = NODE_STANDIN_PATH.trim_start_matches('/');
    install(standin, r, bin);
    // Debug builds carry tens of MB of debug info the image does not need.
    let _ = Command::new("strip")
        .arg("--strip-debug")
        .arg(r.join(bin))
        .status();
}

/// kind's HA load balancer image (`kindest/haproxy`, kind v0.31): Debian's real haproxy 2.6
/// on a busybox rootfs (`kill`, `cp`, `mkdir`), run as kind's image runs it (master-worker,
/// foreground: PID 1 reloads on SIGHUP), with its placeholder config listening on 6443.
/// (`docker import` takes no STOPSIGNAL: it stops on SIGTERM, kind's on SIGUSR1.)
pub fn haproxy_image() -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let changes = [
            r#"ENTRYPOINT ["/usr/sbin/haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]"#,
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ];
        build(HAPROXY_IMAGE, &changes, |r| {
            let (binary, libs) = haproxy_binary();
            install_with(&binary, r, "usr/sbin/haproxy", &libs);
            write(
                r,
                "usr/local/etc/haproxy/haproxy.cfg",
                "defaults\n  timeout connect 5s\n  timeout client 50s\n  timeout server 50s\n\nfrontend control-plane\n  bind 0.0.0.0:6443\n  mode tcp\n  \
                 default_backend kube-apiservers\n\nbackend kube-apiservers\n  mode tcp\n",
            );
        });
    });
    HAPROXY_IMAGE
}

/// Debian's haproxy and the libraries it needs that the host may lack, fetched once with
/// `apt-get download` into the shared test cache: the binary and the folder of those
/// libraries.
fn haproxy_binary() -> (PathBuf, PathBuf) {
    let dir = crate::shared_cache().join("haproxy");
    let root = dir.join("root");
    let binary = root.join("usr/sbin/haproxy");
    let libs = root.join("usr/lib/x86_64-linux-gnu");
    if binary.is_file() {
        return (binary, libs);
    }
    fs::create_dir_all(&dir).unwrap();
    let download = || {
        Command::new("apt-get")
            .args(["download", "-q"])
            .args(HAPROXY_PACKAGES)
            .current_dir(&dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    // A machine whose package lists were never fetched (or were cleaned) fetches them once.
    if !download() {
        run(Command::new("apt-get").args(["update", "-qq"]));
        assert!(download(), "apt-get download {HAPROXY_PACKAGES:?} failed");
    }
    for deb in fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()) {
        if deb.extension().is_some_and(|e| e == "deb") {
            run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
        }
    }
    assert!(
        binary.is_file(),
        "the haproxy package has no usr/sbin/haproxy"
    );
    (binary, libs)
}

/// The haproxy package and its libraries outside a minimal Debian.
const HAPROXY_PACKAGES: [&str; 4] = [
    "haproxy",
    "liblua5.3-0",
    "libopentracing-c-wrapper0",
    "libopentracing1",
];

/// The stand-in k3s image: `k3s server` (the image's default command) writes
/// `/etc/rancher/k3s/k3s.yaml` and serves the API double on 6443 (tests/standin/k3s.rs).
pub fn k3s_image(standin: &Path) -> &'static str {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let changes = [
            r#"ENTRYPOINT ["/bin/k3s"]"#,
            r#"CMD ["server"]"#,
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ];
        build(K3S_IMAGE, &changes, |r| {
            install_standin(standin, r);
            write_executable(
                r,
                "bin/k3s",
                &format!("#!/bin/sh\n# lok8s test stand-in for k3s\nexec {NODE_STANDIN_PATH} k3s \"$@\"\n"),
            );
            fs::create_dir_all(r.join("kind")).unwrap();
        });
    });
    K3S_IMAGE
}

/// Stands in for kindest/node's entrypoint and systemd: prints the boot lines kind waits for
/// (the cgroup v1 one on stderr, as the real entrypoint does), then keeps the API double
/// running once `kubeadm init` has written the serving certificate. SIGTERM stops it at once
/// (the real image stops with SIGRTMIN+3; `docker rm -f` does not care).
pub(crate) const NODE_ENTRYPOINT: &str = r#"#!/bin/sh
# lok8s test stand-in for kindest/node's entrypoint and systemd.
echo 'INFO: detected cgroup v1' >&2
echo '[  OK  ] Reached target Multi-User System.'
child=
trap '[ -n "$child" ] && kill $child 2>/dev/null; exit 0' TERM INT
while :; do
  if [ -f /etc/kubernetes/pki/apiserver.crt ]; then
    /usr/local/bin/lok8s-node-standin serve &
    child=$!
    wait $child
    child=
  fi
  sleep 0.2 &
  wait $!
done
"#;

/// A small kindnet-like manifest, with both markers kind looks for.
const DEFAULT_CNI: &str = r#"# kindnetd networking manifest (lok8s test stand-in)
# would you kindly template this file
# would you kindly patch this file
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: kindnet
rules:
- apiGroups: [""]
  resources: [nodes]
  verbs: [list, watch, patch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: kindnet
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: kindnet
subjects:
- kind: ServiceAccount
  name: kindnet
  namespace: kube-system
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: kindnet
  namespace: kube-system
---
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kindnet
  namespace: kube-system
  labels:
    app: kindnet
    k8s-app: kindnet
    tier: node
spec:
  selector:
    matchLabels:
      app: kindnet
  template:
    metadata:
      labels:
        app: kindnet
        k8s-app: kindnet
        tier: node
    spec:
      hostNetwork: true
      tolerations:
      - operator: Exists
      serviceAccountName: kindnet
      containers:
      - name: kindnet-cni
        image: docker.io/kindest/kindnetd:v20250512-df8de77b
        env:
        - name: HOST_IP
          valueFrom:
            fieldRef:
              fieldPath: status.hostIP
        - name: POD_IP
          valueFrom:
            fieldRef:
              fieldPath: status.podIP
        - name: POD_SUBNET
          value: {{ .PodSubnet }}
        volumeMounts:
        - name: cni-cfg
          mountPath: /etc/cni/net.d
        - name: xtables-lock
          mountPath: /run/xtables.lock
        - name: lib-modules
          mountPath: /lib/modules
          readOnly: true
        securityContext:
          privileged: false
          capabilities:
            add: [NET_RAW, NET_ADMIN]
      volumes:
      - name: cni-cfg
        hostPath:
          path: /etc/cni/net.d
          type: DirectoryOrCreate
      - name: xtables-lock
        hostPath:
          path: /run/xtables.lock
          type: FileOrCreate
      - name: lib-modules
        hostPath:
          path: /lib/modules
"#;

/// A small local-path-provisioner-like manifest whose StorageClass `standard` is the default.
const DEFAULT_STORAGE: &str = r#"apiVersion: v1
kind: Namespace
metadata:
  name: local-path-storage
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: local-path-provisioner-service-account
  namespace: local-path-storage
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: local-path-provisioner
  namespace: local-path-storage
spec:
  replicas: 1
  selector:
    matchLabels:
      app: local-path-provisioner
  template:
    metadata:
      labels:
        app: local-path-provisioner
    spec:
      serviceAccountName: local-path-provisioner-service-account
      containers:
      - name: local-path-provisioner
        image: docker.io/kindest/local-path-provisioner:v20250214-acbabc1a
        command: [local-path-provisioner, --debug, start, --helper-image, docker.io/kindest/local-path-helper:v20241212-8ac705d0, --config, /etc/config/config.json]
        volumeMounts:
        - name: config-volume
          mountPath: /etc/config/
      volumes:
      - name: config-volume
        configMap:
          name: local-path-config
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations:
    storageclass.kubernetes.io/is-default-class: "true"
provisioner: rancher.io/local-path
volumeBindingMode: WaitForFirstConsumer
reclaimPolicy: Delete
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-path-config
  namespace: local-path-storage
data:
  config.json: |-
    {"nodePathMap": [{"node": "DEFAULT_PATH_FOR_NON_LISTED_NODES", "paths": ["/var/local-path-provisioner"]}]}
"#;

const CONTAINERD_CONFIG: &str = r#"version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10"
  restrict_oom_score_adj = false

[plugins."io.containerd.grpc.v1.cri".containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
  SystemdCgroup = true
"#;

/// Builds `tag` from a busybox rootfs that `fill` completes, with the Dockerfile-style
/// `changes`, holding the build lock.
pub(crate) fn build(tag: &str, changes: &[&str], fill: impl FnOnce(&Path)) {
    let _lock = build_lock();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("rootfs");
    busybox_rootfs(&root);
    fill(&root);
    import(tag, &root, changes);
}

/// Held while an image is built: one builder at a time across test processes.
fn build_lock() -> fs::File {
    let path = crate::shared_cache().join("images.lock");
    let file = fs::File::create(&path).expect("creating the image build lock");
    file.lock().expect("taking the image build lock");
    file
}

/// Debian's docker-registry binary: the installed one, else the package fetched once with
/// `apt-get download` into the shared test cache and unpacked there.
fn docker_registry_binary() -> PathBuf {
    let installed = PathBuf::from("/usr/bin/docker-registry");
    if installed.is_file() {
        return installed;
    }
    let dir = crate::shared_cache().join("docker-registry");
    let unpacked = dir.join("root/usr/bin/docker-registry");
    if unpacked.is_file() {
        return unpacked;
    }
    fs::create_dir_all(&dir).unwrap();
    // Needs the apt lists (`apt-get update`) and a Debian mirror, once per target dir.
    run(Command::new("apt-get")
        .args(["download", "-q", "docker-registry"])
        .current_dir(&dir));
    let deb = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("apt-get download left a docker-registry .deb");
    run(Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(dir.join("root")));
    assert!(
        unpacked.is_file(),
        "{} has no usr/bin/docker-registry",
        deb.display()
    );
    unpacked
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Copies an executable to `rel` under the rootfs `root`, with the shared libraries `ldd`
/// lists at the same paths.
pub(crate) fn install(bin: &Path, root: &Path, rel: &str) {
    install_with(bin, root, rel, Path::new("/nonexistent"));
}

/// [`install`], finding libraries in `extra_libs` too; those land in the image's
/// `usr/lib/x86_64-linux-gnu`.
pub(crate) fn install_with(bin: &Path, root: &Path, rel: &str, extra_libs: &Path) {
    let dest = root.join(rel);
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    fs::copy(bin, &dest).unwrap_or_else(|e| panic!("copying {}: {e}", bin.display()));
    fs::set_permissions(&dest, fs::Permissions::from_mode(0o755)).unwrap();
    // A static binary makes ldd exit non-zero with no paths: nothing to copy.
    let out = Command::new("ldd")
        .arg(bin)
        .env("LD_LIBRARY_PATH", extra_libs)
        .output()
        .expect("running ldd");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(lib) = line.split_whitespace().find(|w| w.starts_with('/')) else {
            continue;
        };
        let dest = match Path::new(lib).strip_prefix(extra_libs) {
            Ok(name) => root.join("usr/lib/x86_64-linux-gnu").join(name),
            Err(_) => root.join(lib.trim_start_matches('/')),
        };
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(lib, &dest).unwrap_or_else(|e| panic!("copying {lib}: {e}"));
    }
}

pub(crate) fn write(root: &Path, rel: &str, contents: &str) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, contents).unwrap();
}

pub(crate) fn write_executable(root: &Path, rel: &str, contents: &str) {
    write(root, rel, contents);
    fs::set_permissions(root.join(rel), fs::Permissions::from_mode(0o755)).unwrap();
}

/// Imports the rootfs as `tag` with the Dockerfile-style `changes`, unless the image there
/// already has exactly this content.
fn import(tag: &str, root: &Path, changes: &[&str]) {
    fs::set_permissions(root, fs::Permissions::from_mode(0o755)).unwrap();
    let tar = root.with_extension("tar");
    let _ = fs::remove_file(&tar);
    run(Command::new("tar")
        .args([
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
        ])
        .arg("-C")
        .arg(root)
        .arg("-cf")
        .arg(&tar)
        .arg("."));
    let mut hash = Sha256::new();
    hash.update(fs::read(&tar).unwrap());
    for change in changes {
        hash.update(change.as_bytes());
        hash.update(b"\n");
    }
    let content = format!("{:x}", hash.finalize());
    let format = format!("{{{{.Id}}}} {{{{index .Config.Labels \"{CONTENT_LABEL}\"}}}}");
    let (code, current) = docker(&["image", "inspect", "--format", &format, tag]);
    let (old_id, old_content) = current.split_once(' ').unwrap_or_default();
    if code == 0 && old_content == content {
        return;
    }
    let mut cmd = Command::new("docker");
    cmd.arg("import");
    for change in changes {
        cmd.arg("--change").arg(change);
    }
    cmd.arg("--change")
        .arg(format!("LABEL {CONTENT_LABEL}={content}"))
        .arg(&tar)
        .arg(tag);
    run(&mut cmd);
    if code == 0 {
        // The replaced image, unless a container still uses it.
        let _ = docker(&["image", "rm", old_id]);
    }
}
