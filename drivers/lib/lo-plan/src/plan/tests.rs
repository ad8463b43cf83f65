//! The behaviour specification's worked examples and the original's bugs
//! that the plan fixes.

use super::*;

fn spec(name: &str, body: &str) -> String {
    let mut text = format!("kind: Lo\nmetadata:\n  name: {name}\nspec:\n");
    for line in body.lines() {
        text.push_str(&format!("  {line}\n"));
    }
    text
}

fn ips(p: &Plan) -> Vec<String> {
    p.registries
        .iter()
        .map(|r| format!("{} {} {} {}", r.name, r.ip, r.container, r.network))
        .collect()
}

#[test]
fn slots() {
    assert_eq!(slot("lok8s.dev"), Some(125));
    assert_eq!(slot("42.lok8s.dev"), Some(42));
    assert_eq!(slot("199.lok8s.dev"), Some(199));
    for none in [
        "test.lok8s.dev",
        "test-50.lok8s.dev",
        "200.lok8s.dev",
        "1.lok8s.dev",
        "050.lok8s.dev",
        "example.com",
        "",
    ] {
        assert_eq!(slot(none), None, "{none}");
    }
}

#[test]
fn slot_42_example() {
    let p = plan(
        &spec("lok8s-example", "cluster:\n  domain: 42.lok8s.dev"),
        "42.lok8s.dev",
    )
    .unwrap();
    assert_eq!(
        (p.slot, p.network.as_str(), p.cidr.to_string().as_str()),
        (Some(42), "lok8s-example", "10.125.42.0/24")
    );
    assert_eq!(
        ips(&p),
        [
            "build 10.125.42.101 lok8s-example-registry-build lok8s-example",
            "cache 10.125.42.102 lok8s-example-registry-cache lok8s-example",
            "io-docker 10.125.200.2 lok8s-registry-io-docker lok8s-registries",
            "io-quay 10.125.200.3 lok8s-registry-io-quay lok8s-registries",
            "io-k8s 10.125.200.4 lok8s-registry-io-k8s lok8s-registries",
            "io-ghcr 10.125.200.5 lok8s-registry-io-ghcr lok8s-registries",
        ]
    );
    let pool = p.lb_pool.map(|(a, b)| format!("{a}-{b}"));
    assert_eq!(pool.as_deref(), Some("10.125.42.125-10.125.42.150"));
    assert!(!p.nodes.host_ports);
    assert_eq!((p.tls, p.port), (true, 443));
    let hosts: Vec<&str> = p.registries.iter().map(|r| r.host.as_str()).collect();
    assert_eq!(
        hosts,
        [
            "lok8s.local",
            "lok8s.cache",
            "docker.io",
            "quay.io",
            "registry.k8s.io",
            "ghcr.io"
        ]
    );
}

#[test]
fn slot_125_and_126_examples() {
    let p = plan(&spec("local", "cluster:\n  domain: lok8s.dev"), "lok8s.dev").unwrap();
    assert_eq!(
        (p.network.as_str(), p.cidr.to_string().as_str()),
        ("local", "10.125.125.0/24")
    );
    assert_eq!(
        ips(&p)[0],
        "build 10.125.125.101 local-registry-build local"
    );
    assert!(p.nodes.host_ports);
    let p = plan(&spec("e2e-noop", ""), "126.lok8s.dev").unwrap();
    assert_eq!(p.cidr.to_string(), "10.125.126.0/24");
    assert_eq!(
        ips(&p)[1],
        "cache 10.125.126.102 e2e-noop-registry-cache e2e-noop"
    );
    assert!(!p.nodes.host_ports);
}

#[test]
fn custom_network_example() {
    let body = "cluster:\n  domain: test-50.lok8s.dev\nnetwork:\n  name: lok8s-test\n  cidr: 10.125.50.0/24\nregistries:\n  shared:\n    enabled: false";
    let p = plan(&spec("test-custom-net", body), "x").unwrap();
    assert_eq!(p.slot, None);
    assert_eq!(
        ips(&p)[0],
        "build 10.125.50.101 lok8s-test-registry-build lok8s-test"
    );
    assert_eq!(
        ips(&p)[2],
        "io-docker 10.125.50.103 lok8s-test-registry-io-docker lok8s-test"
    );
    assert_eq!(
        ips(&p)[5],
        "io-ghcr 10.125.50.106 lok8s-test-registry-io-ghcr lok8s-test"
    );
    assert_eq!(p.lb_pool, None);
}

#[test]
fn explicit_network_outside_slots() {
    let p = plan(
        &spec(
            "prod",
            "cluster:\n  domain: prod.example.com\nnetwork:\n  name: prod\n  cidr: 192.168.1.0/24",
        ),
        "x",
    )
    .unwrap();
    assert_eq!(ips(&p)[0], "build 192.168.1.101 prod-registry-build prod");
    assert_eq!(
        ips(&p)[2],
        "io-docker 10.125.200.2 lok8s-registry-io-docker lok8s-registries"
    );
}

#[test]
fn missing_network_outside_slots_names_both_fields() {
    let errors = plan(
        &spec("test-local", "cluster:\n  domain: test.lok8s.dev"),
        "x",
    )
    .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["spec.network.name", "spec.network.cidr"]);
}

#[test]
fn unshared_mirrors_on_a_network_named_lok8s_are_refused() {
    // The original's no-shared fixture: its mirrors took the shared mirrors' names.
    let body = "network:\n  name: lok8s\n  cidr: 10.125.125.0/24\nregistries:\n  shared:\n    enabled: false";
    let errors = plan(&spec("test-no-shared", body), "test.lok8s.dev").unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.field == "spec.network.name" && e.message.contains("collides")),
        "{errors:?}"
    );
}

#[test]
fn original_bugs_are_validation_errors_now() {
    // The original: node counts and the Kubernetes version were not validated.
    let errors = plan(
        &spec(
            "a",
            "nodes:\n  controlPlane: 0\n  workers: 500\nkubernetes:\n  version: latest",
        ),
        "42.lok8s.dev",
    )
    .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.nodes.controlPlane",
            "spec.nodes.workers",
            "spec.kubernetes.version"
        ]
    );
    // The original: `false` was read as `true`.
    let p = plan(
        &spec(
            "a",
            "registries:\n  tls: false\n  shared:\n    enabled: false",
        ),
        "42.lok8s.dev",
    )
    .unwrap();
    assert_eq!((p.tls, p.port, p.shared), (false, 80, false));
    // The original: an empty mirror list means no mirrors; a nameless mirror is an error.
    let p = plan(&spec("a", "registries:\n  mirrors: []"), "42.lok8s.dev").unwrap();
    assert_eq!(p.registries.len(), 2);
    let errors = plan(
        &spec("a", "registries:\n  mirrors:\n    - url: https://quay.io"),
        "42.lok8s.dev",
    )
    .unwrap_err();
    assert_eq!(errors[0].field, "spec.registries.mirrors[0].name");
}

#[test]
fn mirror_rules() {
    let body = "registries:\n  mirrors:\n    - name: Build\n      url: https://x.io\n    - name: cache\n      url: https://y.io\n    - name: mine\n      url: ftp://z\n    - name: local\n      url: http://my.registry:5000/v2";
    let errors = plan(&spec("a", body), "42.lok8s.dev").unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.registries.mirrors[0].name",
            "spec.registries.mirrors[1].name",
            "spec.registries.mirrors[2].url"
        ]
    );
    let ok = plan(
        &spec(
            "a",
            "registries:\n  mirrors:\n    - name: local\n      url: http://my.registry:5000/v2",
        ),
        "42.lok8s.dev",
    )
    .unwrap();
    assert_eq!(ok.registries[2].host, "my.registry:5000");
}

#[test]
fn pool_and_subnet_checks() {
    let errors = plan(
        &spec("a", "loadBalancer:\n  pool: 10.125.43.1-10.125.43.9"),
        "42.lok8s.dev",
    )
    .unwrap_err();
    assert_eq!(errors[0].field, "spec.loadBalancer.pool");
    let errors = plan(
        &spec("a", "loadBalancer:\n  pool: 10.125.42.150-10.125.42.125"),
        "42.lok8s.dev",
    )
    .unwrap_err();
    assert!(errors[0].message.contains("start is after the end"));
    let errors = plan(
        &spec("a", "network:\n  cidr: 10.125.42.0/26"),
        "42.lok8s.dev",
    )
    .unwrap_err();
    assert!(
        errors.iter().any(|e| e
            .message
            .contains("registry \"build\" would get 10.125.42.101")),
        "{errors:?}"
    );
}

#[test]
fn nodes_get_kind_names_and_fixed_addresses() {
    let p = plan(
        &spec(
            "dev",
            "cluster:\n  domain: 42.lok8s.dev\nnodes:\n  workers: 2",
        ),
        "42.lok8s.dev",
    )
    .unwrap();
    let nodes: Vec<String> = p
        .node_list
        .iter()
        .map(|n| format!("{} {} {}", n.name, n.control_plane, n.ip))
        .collect();
    assert_eq!(
        nodes,
        [
            "dev-control-plane true 10.125.42.151",
            "dev-worker false 10.125.42.152",
            "dev-worker2 false 10.125.42.153"
        ]
    );
    assert_eq!(p.node_image, "kindest/node:v1.36.1");
    let too_many = plan(
        &spec(
            "dev",
            "network: {name: n1, cidr: 10.1.2.0/25}\nregistries: {mirrors: []}",
        ),
        "x.test",
    )
    .unwrap_err();
    assert!(
        too_many.iter().any(|e| e.field == "spec.nodes"),
        "{too_many:?}"
    );
}

#[test]
fn errata_mirror_without_host_and_gateway_without_pool_are_errors() {
    // Errata 4: `https:///v2/` kept a container but got no certs.d entry.
    let errors = plan(
        &spec(
            "x",
            "network: {name: n1, cidr: 10.1.2.0/24}\nregistries:\n  mirrors:\n    - {name: bad, url: \"https:///v2/\"}\ncoredns:\n  hosts:\n    - {name: a.test, target: gateway}\noidc: {issuer: \"http://id.test\", clientID: c}",
        ),
        "x.test",
    )
    .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert!(
        fields.contains(&"spec.registries.mirrors[0].url"),
        "{errors:?}"
    );
    assert!(
        fields.contains(&"spec.coredns.hosts[0].target"),
        "{errors:?}"
    );
    // The original: an http issuer is an error before anything is created.
    assert!(fields.contains(&"spec.oidc.issuer"), "{errors:?}");
}

#[test]
fn remote_features_not_built_are_refused_not_ignored() {
    // The original: expose and remote CI mode returned success whatever happened.
    let errors = plan(
        &spec("a", "remote:\n  mode: ci\n  expose: true"),
        "42.lok8s.dev",
    )
    .unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["spec.remote.expose", "spec.remote.mode"]);
    assert!(
        plan(
            &spec("a", "remote:\n  mode: docker\n  expose: false"),
            "42.lok8s.dev"
        )
        .is_ok()
    );
}

#[test]
fn default_cni_only_without_a_cni_addon() {
    let cni = |body: &str| plan(&spec("a", body), "42.lok8s.dev").unwrap().default_cni;
    assert!(!cni(""), "Lo's default bootstrap is cilium");
    assert!(!cni("bootstrap:\n  - cilium"));
    assert!(!cni("bootstrap:\n  - cilium: {wait: true}"));
    assert!(!cni("bootstrap:\n  - ./addons/calico"));
    assert!(!cni("bootstrap:\n  - ./addons/net: {name: calico}"));
    assert!(cni("bootstrap: []"));
    assert!(cni("bootstrap:"), "a bare bootstrap: selects nothing");
    assert!(cni("bootstrap:\n  - metallb"));
}

#[test]
fn what_the_original_accepted_is_accepted() {
    // A single pool address is a pool of one; it is also the gateway.
    let p = plan(
        &spec("a", "loadBalancer:\n  pool: 10.125.42.140"),
        "42.lok8s.dev",
    )
    .unwrap();
    let pool = p.lb_pool.map(|(a, b)| format!("{a}-{b}"));
    assert_eq!(pool.as_deref(), Some("10.125.42.140-10.125.42.140"));
    // Quoted booleans were read as text by the original.
    let p = plan(
        &spec(
            "a",
            "registries:\n  tls: \"false\"\nnodes:\n  hostPorts: \"true\"",
        ),
        "42.lok8s.dev",
    )
    .unwrap();
    assert_eq!((p.tls, p.port, p.nodes.host_ports), (false, 80, true));
    let errors = plan(&spec("a", "registries:\n  tls: \"no\""), "42.lok8s.dev").unwrap_err();
    assert_eq!(errors[0].field, "spec.registries.tls", "{errors:?}");
}

#[test]
fn a_full_shared_network_names_the_shared_field() {
    let body =
        "registries:\n  shared:\n    network:\n      name: team-mirrors\n      cidr: 10.99.0.0/31";
    let errors = plan(&spec("a", body), "42.lok8s.dev").unwrap_err();
    assert!(
        errors
            .iter()
            .all(|e| e.field == "spec.registries.shared.network.cidr"),
        "{errors:?}"
    );
}

#[test]
fn a_section_of_the_wrong_shape_is_an_error_not_defaults() {
    for (body, field, words) in [
        ("nodes: 3\n", "spec.nodes", "must be a map of fields, got 3"),
        (
            "nodes: \"../../etc\"\n",
            "spec.nodes",
            "got the text \"../../etc\"",
        ),
        ("kubernetes: false\n", "spec.kubernetes", "got false"),
        ("registries: true\n", "spec.registries", "got true"),
        ("loadBalancer: \"x\"\n", "spec.loadBalancer", "got the text"),
        ("coredns: false\n", "spec.coredns", "got false"),
        (
            "registries:\n  shared: -1\n",
            "spec.registries.shared",
            "got -1",
        ),
        (
            "kubernetes:\n  image: \"\\n\"\n",
            "spec.kubernetes.image",
            "is blank",
        ),
        (
            "loadBalancer:\n  pool: \" \"\n",
            "spec.loadBalancer.pool",
            "is blank",
        ),
    ] {
        let errors = plan(&spec("dev", body), "lok8s.dev").expect_err(body);
        assert!(
            errors
                .iter()
                .any(|e| e.field == field && e.message.contains(words)),
            "{body}: {errors:?}"
        );
    }
    // Null sections are absent, as before.
    assert!(plan(&spec("dev", "nodes:\noidc: ~\n"), "lok8s.dev").is_ok());
}

#[test]
fn values_the_original_accepted_by_mistake_are_refused() {
    let long = "m".repeat(64);
    for (body, field) in [
        (
            format!("registries:\n  mirrors:\n    - {{name: {long}, url: https://x.test}}\n"),
            "spec.registries.mirrors[0].name",
        ),
        (
            "coredns:\n  hosts:\n    - {name: \"*\", target: 10.0.0.1}\n".into(),
            "spec.coredns.hosts[0].name",
        ),
        (
            "coredns:\n  hosts:\n    - {name: \"*.test\", target: 10.0.0.1}\n".into(),
            "spec.coredns.hosts[0].name",
        ),
        (
            "coredns:\n  hosts:\n    - {name: \"a..b\", target: 10.0.0.1}\n".into(),
            "spec.coredns.hosts[0].name",
        ),
        (
            "oidc: {issuer: \"https://id.test\", clientID: -1}\n".into(),
            "spec.oidc.clientID",
        ),
        (
            "nodes:\n  extraMounts:\n    - {hostPath: \"*\", containerPath: /x}\n".into(),
            "spec.nodes.extraMounts[0].hostPath",
        ),
        (
            "nodes:\n  extraMounts:\n    - {hostPath: -1, containerPath: /x}\n".into(),
            "spec.nodes.extraMounts[0].hostPath",
        ),
        (
            "nodes:\n  extraMounts:\n    - {hostPath: data, containerPath: /x}\n".into(),
            "spec.nodes.extraMounts[0].hostPath",
        ),
        (
            "nodes:\n  extraMounts:\n    - {hostPath: /srv/../etc, containerPath: /x}\n".into(),
            "spec.nodes.extraMounts[0].hostPath",
        ),
    ] {
        let errors = plan(&spec("dev", &body), "lok8s.dev").expect_err(&body);
        assert!(
            errors.iter().any(|e| e.field == field),
            "{body}: {errors:?}"
        );
    }
    // What stays valid.
    let ok = "coredns:\n  hosts:\n    - {name: \"*.apps.test\", target: 10.0.0.1}\n    - {name: apps.lok8s.test, target: gateway}\noidc: {issuer: \"https://id.test\", clientID: kubectl}\nnodes:\n  extraMounts:\n    - {hostPath: /srv/data, containerPath: /data, readOnly: true}\n";
    let p = plan(&spec("dev", ok), "lok8s.dev").unwrap();
    assert_eq!(p.extra_mounts.len(), 1);
}

#[test]
fn several_control_planes_get_kinds_load_balancer_in_front() {
    let p = plan(
        &spec(
            "ha",
            "network: {name: ha-net, cidr: 10.214.40.0/24}\nnodes: {controlPlane: 3, workers: 2}",
        ),
        "ha.test",
    )
    .unwrap();
    let lb = p.load_balancer.as_ref().expect("a load balancer");
    assert_eq!(lb.name, "ha-external-load-balancer");
    assert_eq!(lb.ip.to_string(), "10.214.40.100");
    let names: Vec<(&str, bool, String)> = p
        .node_list
        .iter()
        .map(|n| (n.name.as_str(), n.control_plane, n.ip.to_string()))
        .collect();
    assert_eq!(
        names,
        [
            ("ha-control-plane", true, "10.214.40.151".to_string()),
            ("ha-control-plane2", true, "10.214.40.152".to_string()),
            ("ha-control-plane3", true, "10.214.40.153".to_string()),
            ("ha-worker", false, "10.214.40.154".to_string()),
            ("ha-worker2", false, "10.214.40.155".to_string()),
        ]
    );
    let single = plan(
        &spec("one", "network: {name: one-net, cidr: 10.214.41.0/24}"),
        "one.test",
    )
    .unwrap();
    assert_eq!(single.load_balancer, None);

    // A pool that takes the load balancer's address is refused, naming it.
    let errors = plan(
        &spec(
            "ha",
            "network: {name: ha-net, cidr: 10.214.40.0/24}\nnodes: {controlPlane: 2}\nloadBalancer: {pool: 10.214.40.90-10.214.40.100}",
        ),
        "ha.test",
    )
    .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "spec.loadBalancer.pool");
    assert!(
        errors[0].message.contains("API load balancer"),
        "{errors:?}"
    );
}
