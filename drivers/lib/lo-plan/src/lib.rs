//! The Lo driver's plan: everything it derives from a cluster spec before touching Docker —
//! slot, project and shared networks, registry IPs, names and hosts, node counts, load-balancer
//! pool — with every error collected and named by field (the original printed them and carried
//! on; here any error stops provision before anything is created). Pure code: the Lo component
//! uses it, and its rules are unit-tested natively against the behaviour specification's worked
//! examples.

mod ip;
mod plan;
pub mod render;

pub use ip::{Cidr, Ipv4};
pub use plan::{
    CoreDns, DEFAULT_KUBERNETES_VERSION, DEFAULT_LOAD_BALANCER_IMAGE, DnsHost, ExtraMount,
    FieldError, LoadBalancer, Node, Nodes, Oidc, Plan, Registry, RegistryKind, bootstrap_node_name,
    bootstrap_references, load_balancer_name, plan,
};
