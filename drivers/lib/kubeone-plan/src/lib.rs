//! The KubeOne driver's plan, pure code the component runs and native tests check:
//! - [`settings`]: the spec's fields (spec 2.1) with their defaults and validation messages;
//! - [`manifest`]: `kubeone.yaml`, a `KubeOneCluster` (v1beta2) the real `kubeone` would accept,
//!   kept as the cluster's readable record;
//! - [`kubeadm_config`]: each host's kubeadm configuration and kubelet patch;
//! - [`prerequisites`]: the script that readies a Debian or Ubuntu host;
//! - [`install`]: KubeOne's task list over a [`lok8s_kubeadm::NodeShell`] (ssh in the driver).

pub mod install;
pub mod kubeadm_config;
pub mod manifest;
pub mod prerequisites;
pub mod settings;

pub use settings::{FieldError, Settings, export, settings};
