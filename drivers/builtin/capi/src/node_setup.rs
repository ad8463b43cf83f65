//! What every machine runs before kubeadm: the files it writes and the commands that install
//! containerd, runc and the pinned kubelet/kubeadm/kubectl (CAPH's "ubuntu" flavour). Only
//! the two version forms are filled in; `$ARCH`, `$RUNC`, `$CONTAINERD`, `$KUBERNETES_VERSION`
//! and `$TRIMMED_KUBERNETES_VERSION` stay for the machine's shell.

use serde_json::{Value, json};

const CONTAINERD: &str = "2.3.1";
const RUNC: &str = "1.2.5";

fn file(path: &str, permissions: &str, content: &str) -> Value {
    json!({"path": path, "owner": "root:root", "permissions": permissions, "content": content})
}

const CONTAINERD_UNIT: &str = "[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
LimitNOFILE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
";

const KUBELET_CONFIG: &str = "apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
authorization:
  mode: Webhook
eventRecordQPS: 5
maxPods: 220
readOnlyPort: 0
resolvConf: /etc/kubernetes/resolv.conf
serverTLSBootstrap: true
tlsCipherSuites:
- TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
- TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
- TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305
- TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
- TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305
- TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
- TLS_RSA_WITH_AES_256_GCM_SHA384
- TLS_RSA_WITH_AES_128_GCM_SHA256
";

/// The files of a control-plane machine; a worker also gets its kubelet configuration, before
/// the containerd unit.
pub fn files(worker: bool) -> Vec<Value> {
    let mut out = vec![
        file(
            "/etc/sysctl.d/99-cilium.conf",
            "0744",
            "net.ipv4.conf.lxc*.rp_filter = 0\n",
        ),
        file(
            "/etc/modules-load.d/crio.conf",
            "0744",
            "overlay\nbr_netfilter\n",
        ),
        file(
            "/etc/sysctl.d/99-kubernetes-cri.conf",
            "0744",
            "net.bridge.bridge-nf-call-iptables  = 1\nnet.bridge.bridge-nf-call-ip6tables = 1\nnet.ipv4.ip_forward                 = 1\n",
        ),
        file(
            "/etc/sysctl.d/99-kubelet.conf",
            "0744",
            "vm.overcommit_memory=1\nkernel.panic=10\nkernel.panic_on_oops=1\n",
        ),
        file(
            "/etc/kubernetes/resolv.conf",
            "0744",
            "nameserver 1.1.1.1\nnameserver 1.0.0.1\nnameserver 2606:4700:4700::1111\n",
        ),
    ];
    if worker {
        out.push(file(
            "/etc/kubernetes/kubelet/config.yaml",
            "0644",
            KUBELET_CONFIG,
        ));
    }
    out.push(file(
        "/etc/systemd/system/containerd.service",
        "0744",
        CONTAINERD_UNIT,
    ));
    out
}

/// `preKubeadmCommands`: a worker also prints its OS and kernel first, and does not pre-pull
/// the control-plane images.
pub fn commands(version_trimmed: &str, version_minor: &str, worker: bool) -> Vec<String> {
    let mut out = vec!["set -x".to_string()];
    if worker {
        out.push("grep VERSION= /etc/os-release; uname -a".into());
    }
    out.extend(
        [
            format!("export CONTAINERD={CONTAINERD}"),
            format!("export RUNC={RUNC}"),
            format!("export KUBERNETES_VERSION={version_trimmed}"),
            format!("export TRIMMED_KUBERNETES_VERSION={version_minor}"),
            "ARCH=$(dpkg --print-architecture)".into(),
            "localectl set-locale LANG=en_US.UTF-8".into(),
            "localectl set-locale LANGUAGE=en_US.UTF-8".into(),
            "apt-get update -y".into(),
            "apt-get -y install at jq unzip wget socat mtr logrotate apt-transport-https curl gnupg".into(),
            "sed -i '/swap/d' /etc/fstab".into(),
            "swapoff -a".into(),
            "modprobe overlay && modprobe br_netfilter && sysctl --system".into(),
            "wget https://github.com/opencontainers/runc/releases/download/v$RUNC/runc.$ARCH".into(),
            "wget https://github.com/opencontainers/runc/releases/download/v$RUNC/runc.sha256sum".into(),
            "sha256sum --check --ignore-missing runc.sha256sum".into(),
            "install runc.$ARCH /usr/local/sbin/runc".into(),
            "rm -f runc.$ARCH runc.sha256sum".into(),
            "wget https://github.com/containerd/containerd/releases/download/v$CONTAINERD/containerd-$CONTAINERD-linux-$ARCH.tar.gz".into(),
            "wget https://github.com/containerd/containerd/releases/download/v$CONTAINERD/containerd-$CONTAINERD-linux-$ARCH.tar.gz.sha256sum".into(),
            "sha256sum --check containerd-$CONTAINERD-linux-$ARCH.tar.gz.sha256sum".into(),
            "tar -C /usr/local -xvf containerd-$CONTAINERD-linux-$ARCH.tar.gz".into(),
            "rm -f containerd-$CONTAINERD-linux-$ARCH.tar.gz containerd-$CONTAINERD-linux-$ARCH.tar.gz.sha256sum".into(),
            "mkdir -p /etc/containerd".into(),
            "containerd config default > /etc/containerd/config.toml".into(),
            "sed -i \"s/SystemdCgroup = false/SystemdCgroup = true/\" /etc/containerd/config.toml".into(),
            "systemctl daemon-reload && systemctl enable containerd && systemctl start containerd".into(),
            "mkdir -p /etc/apt/keyrings".into(),
            "curl -fsSL https://pkgs.k8s.io/core:/stable:/v$TRIMMED_KUBERNETES_VERSION/deb/Release.key | gpg --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg".into(),
            "echo \"deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v$TRIMMED_KUBERNETES_VERSION/deb/ /\" > /etc/apt/sources.list.d/kubernetes.list".into(),
            "apt-get update".into(),
            "apt-get install -y kubelet=$KUBERNETES_VERSION-* kubeadm=$KUBERNETES_VERSION-* kubectl=$KUBERNETES_VERSION-* bash-completion".into(),
            "apt-mark hold kubelet kubectl kubeadm".into(),
            "systemctl enable kubelet".into(),
        ],
    );
    if !worker {
        out.push("kubeadm config images pull --kubernetes-version $KUBERNETES_VERSION".into());
    }
    out.push("apt-get -y autoremove && apt-get -y clean all".into());
    out
}
