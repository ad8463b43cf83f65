//! The script that readies a host (KubeOne's prerequisites, spec 2.8 step 2), for Debian and
//! Ubuntu: swap off, the kernel modules and sysctls Kubernetes networking needs, containerd,
//! and kubeadm, kubelet and kubectl pinned to the cluster's version from pkgs.k8s.io (held, so
//! an unattended upgrade cannot move them). Run with `sh -s`; every step is safe to repeat, and
//! the packages are left alone when the pinned kubeadm is already there.

use lok8s_kubeadm::Version;

/// The probe a host answers first: `key=value` lines ([`Probe::parse`]).
pub const PROBE: &str = r#"set -u
. /etc/os-release 2>/dev/null || true
echo "os=${ID:-unknown}"
echo "os_version=${VERSION_ID:-}"
echo "kubeadm=$(kubeadm version -o short 2>/dev/null || true)"
for f in admin kubelet; do
  if [ -f /etc/kubernetes/$f.conf ]; then echo "$f=yes"; else echo "$f=no"; fi
done
"#;

/// What a host reported.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    pub os: String,
    pub os_version: String,
    /// The installed kubeadm's version, if any.
    pub kubeadm: Option<Version>,
    /// `/etc/kubernetes/admin.conf` exists (a control plane that ran init or join).
    pub admin_conf: bool,
    /// `/etc/kubernetes/kubelet.conf` exists (the host joined a cluster).
    pub kubelet_conf: bool,
}

impl Probe {
    pub fn parse(text: &str) -> Probe {
        let mut probe = Probe::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match key {
                "os" => probe.os = value.to_string(),
                "os_version" => probe.os_version = value.to_string(),
                "kubeadm" => probe.kubeadm = Version::parse(value),
                "admin" => probe.admin_conf = value == "yes",
                "kubelet" => probe.kubelet_conf = value == "yes",
                _ => {}
            }
        }
        probe
    }

    /// Whether this driver can install on the host's OS.
    pub fn supported(&self) -> bool {
        matches!(self.os.as_str(), "debian" | "ubuntu")
    }
}

/// Where containerd reads further configuration from (the registry logins).
pub const CONTAINERD_DROP_INS: &str = "/etc/containerd/conf.d";
/// The registry logins' drop-in, readable by root only.
pub const REGISTRY_LOGINS: &str = "/etc/containerd/conf.d/lok8s-registries.toml";

/// A registry containerd logs in to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub host: String,
    pub username: String,
    pub password: String,
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The containerd drop-in with each registry's login (CRI plugin, config version 2).
pub fn registry_logins(logins: &[Login]) -> String {
    let mut out =
        String::from("# Written by lo (the KubeOne driver): registry logins\nversion = 2\n");
    for login in logins {
        out.push_str(&format!(
            "\n[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.{}.auth]\n  username = {}\n  password = {}\n",
            toml_string(&login.host),
            toml_string(&login.username),
            toml_string(&login.password)
        ));
    }
    out
}

/// The script for `version`.
pub fn script(version: Version) -> String {
    let minor = format!("v{}.{}", version.major, version.minor);
    let package = format!("{}.{}.{}-*", version.major, version.minor, version.patch);
    format!(
        r#"set -eu
export DEBIAN_FRONTEND=noninteractive
swapoff -a
sed -i '/\sswap\s/s/^/#/' /etc/fstab 2>/dev/null || true
mkdir -p /etc/modules-load.d /etc/sysctl.d
printf 'overlay\nbr_netfilter\n' > /etc/modules-load.d/lok8s.conf
modprobe overlay
modprobe br_netfilter
printf 'net.bridge.bridge-nf-call-iptables = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward = 1\n' > /etc/sysctl.d/99-lok8s.conf
sysctl --system >/dev/null
if [ "$(kubeadm version -o short 2>/dev/null || true)" != "{version}" ]; then
  apt-get update -q
  apt-get install -y -q apt-transport-https ca-certificates curl gpg containerd
  mkdir -p /etc/apt/keyrings
  curl -fsSL https://pkgs.k8s.io/core:/stable:/{minor}/deb/Release.key | gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg
  echo 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/{minor}/deb/ /' > /etc/apt/sources.list.d/kubernetes.list
  apt-get update -q
  apt-mark unhold kubeadm kubelet kubectl >/dev/null 2>&1 || true
  apt-get install -y -q --allow-downgrades kubeadm='{package}' kubelet='{package}' kubectl='{package}'
  apt-mark hold kubeadm kubelet kubectl
fi
mkdir -p /etc/containerd
if ! grep -q 'SystemdCgroup = true' /etc/containerd/config.toml 2>/dev/null; then
  containerd config default | sed 's/SystemdCgroup = false/SystemdCgroup = true/' > /etc/containerd/config.toml
  systemctl restart containerd
fi
mkdir -p {CONTAINERD_DROP_INS}
if ! grep -q '^imports' /etc/containerd/config.toml; then
  sed -i '1i imports = ["{CONTAINERD_DROP_INS}/*.toml"]' /etc/containerd/config.toml
  systemctl restart containerd
fi
systemctl enable --now containerd
systemctl enable kubelet
echo prerequisites-done
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_reads_back() {
        let p = Probe::parse(
            "os=debian\nos_version=\"12\"\nkubeadm=v1.31.4\nadmin=no\nkubelet=yes\nnoise\n",
        );
        assert_eq!(p.os, "debian");
        assert_eq!(p.os_version, "12");
        assert_eq!(p.kubeadm, Some(Version::new(1, 31, 4)));
        assert!(!p.admin_conf && p.kubelet_conf && p.supported());
        assert_eq!(Probe::parse("os=fedora\nkubeadm=\n").kubeadm, None);
        assert!(!Probe::parse("os=fedora\n").supported());
    }

    #[test]
    fn the_script_pins_the_version_and_skips_packages_already_there() {
        let s = script(Version::new(1, 31, 4));
        assert!(s.contains("!= \"v1.31.4\" ]"), "{s}");
        assert!(s.contains("core:/stable:/v1.31/deb/"));
        assert!(s.contains("kubeadm='1.31.4-*' kubelet='1.31.4-*' kubectl='1.31.4-*'"));
        assert!(s.ends_with("echo prerequisites-done\n"));
        assert!(
            s.contains("sed -i '1i imports = [\"/etc/containerd/conf.d/*.toml\"]'"),
            "{s}"
        );
    }

    #[test]
    fn registry_logins_are_quoted_toml() {
        let text = registry_logins(&[Login {
            host: "registry.test:5000".into(),
            username: "robot".into(),
            password: "p\"w\\d".into(),
        }]);
        assert!(text.contains(
            "[plugins.\"io.containerd.grpc.v1.cri\".registry.configs.\"registry.test:5000\".auth]\n  username = \"robot\"\n  password = \"p\\\"w\\\\d\"\n"
        ), "{text}");
    }
}
