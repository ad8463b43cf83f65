//! The built-in Lo driver end to end on the real dockerd: networks, registries served over TLS
//! (checked with openssl against the dev CA through a port published on 127.0.0.1), the
//! `certs.d` tree on disk and in the nodes, kind-compatible node containers driven through
//! `docker exec` (the stand-in node image records kubeadm and kubectl calls and serves the
//! Kubernetes API double on 6443), the cluster objects read back through the published port,
//! convergence, status, destroy, and the original's bugs each failing on the
//! original behaviour. Needs a running dockerd (`.ci/run` starts one).

mod setup;

mod ha;
mod lifecycle;
mod mounts_and_networks;
mod registries;
mod remote_engine;
