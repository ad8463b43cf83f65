//! Several control planes behind kind's load balancer.

use super::setup::*;
use lok8s_tests::docker::{docker, inspect};
use lok8s_tests::images::haproxy_image;

#[test]
fn three_control_planes_sit_behind_kinds_load_balancer() {
    let lo = Lo::with_kubernetes(
        10,
        &format!(", loadBalancerImage: {}", haproxy_image()),
        "nodes: {controlPlane: 3, workers: 2}\nbootstrap: []\n",
    );
    let lb = format!("{}-external-load-balancer", lo.name);
    let control_planes: Vec<String> = ["", "2", "3"]
        .iter()
        .map(|n| format!("{}-control-plane{n}", lo.name))
        .collect();
    let workers: Vec<String> = ["", "2"]
        .iter()
        .map(|n| format!("{}-worker{n}", lo.name))
        .collect();
    lo.lo(&["provision", DOMAIN])
        .success()
        .stderr_has("==> load balancer");

    // The load balancer, as kind labels it: unprivileged, on the project network at .100,
    // the API port published on 127.0.0.1.
    let c = inspect("container", &lb).expect("the load balancer");
    assert_eq!(
        c["Config"]["Labels"]["io.x-k8s.kind.cluster"],
        lo.name.as_str()
    );
    assert_eq!(
        c["Config"]["Labels"]["io.x-k8s.kind.role"],
        "external-load-balancer"
    );
    assert_eq!(c["HostConfig"]["Privileged"], false);
    assert!(c["HostConfig"]["CapAdd"].is_null(), "{}", c["HostConfig"]);
    assert_eq!(
        c["NetworkSettings"]["Networks"][&lo.net]["IPAMConfig"]["IPv4Address"],
        "10.214.10.100"
    );
    let api = &c["NetworkSettings"]["Ports"]["6443/tcp"][0];
    assert_eq!(api["HostIp"], "127.0.0.1");
    let lb_port = api["HostPort"].as_str().unwrap().to_string();
    // haproxy was given every control plane by address, and re-read it (a config that does
    // not parse would have stopped the master, PID 1).
    let cfg = lo.exec(&lb, "cat /usr/local/etc/haproxy/haproxy.cfg");
    let servers: Vec<&str> = cfg
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("server "))
        .collect();
    assert_eq!(
        servers,
        [
            "server loe2e10-control-plane 10.214.10.151:6443 check check-ssl verify none",
            "server loe2e10-control-plane2 10.214.10.152:6443 check check-ssl verify none",
            "server loe2e10-control-plane3 10.214.10.153:6443 check check-ssl verify none",
        ]
    );
    assert_eq!(inspect("container", &lb).unwrap()["State"]["Running"], true);

    // kubeadm: init on the first, the others join through the load balancer; control planes
    // first got the cluster's CA and keys (the stand-in's join refuses without them, and
    // signs its serving certificate with that CA).
    let first_calls = lo.exec(&control_planes[0], "cat /kind/calls.log");
    assert!(first_calls.contains("kubeadm init"), "{first_calls}");
    assert!(
        !first_calls.contains("taint"),
        "several nodes: the control plane stays tainted"
    );
    let ca = lo.exec(&control_planes[0], "cat /etc/kubernetes/pki/ca.crt");
    for node in control_planes[1..].iter().chain(&workers) {
        assert_eq!(
            lo.exec(node, "cat /kind/calls.log"),
            "kubeadm join --config /kind/kubeadm.conf --v=6",
            "{node}"
        );
        let conf = lo.exec(node, "cat /kind/kubeadm.conf");
        assert!(
            conf.contains("apiServerEndpoint: \"loe2e10-external-load-balancer:6443\""),
            "{conf}"
        );
    }
    for (node, ip) in control_planes[1..]
        .iter()
        .zip(["10.214.10.152", "10.214.10.153"])
    {
        assert_eq!(
            lo.exec(node, "cat /etc/kubernetes/pki/ca.crt"),
            ca,
            "{node}"
        );
        let conf = lo.exec(node, "cat /kind/kubeadm.conf");
        assert!(
            conf.contains(&format!(
                "controlPlane:\n  localAPIEndpoint:\n    advertiseAddress: \"{ip}\""
            )),
            "{conf}"
        );
        let c = inspect("container", node).unwrap();
        assert_eq!(c["Config"]["Labels"]["io.x-k8s.kind.role"], "control-plane");
    }
    for node in &workers {
        assert!(
            lo.exec(
                node,
                "test -f /etc/kubernetes/pki/ca.key && echo copied || echo no"
            ) == "no"
        );
        assert!(
            !lo.exec(node, "cat /kind/kubeadm.conf")
                .contains("controlPlane:")
        );
    }
    let conf = lo.exec(&control_planes[0], "cat /kind/kubeadm.conf");
    assert!(
        conf.contains("controlPlaneEndpoint: \"loe2e10-external-load-balancer:6443\""),
        "{conf}"
    );

    // The kubeconfig goes through the load balancer, and the cluster answers there.
    let kc_path = lo.p.path(&format!(".kubeconfig/{}.yaml", lo.name));
    let kc = lo.p.read(&format!(".kubeconfig/{}.yaml", lo.name));
    assert!(
        kc.contains(&format!("server: https://127.0.0.1:{lb_port}")),
        "{kc}"
    );
    let client = Api::new(&kc_path);
    let regs = client.get("/api/v1/namespaces/kube-system/configmaps/lok8s-registries");
    assert_eq!(regs["data"]["build.port"], "443");
    let status = lo.lo(&["status", DOMAIN, "-o", "json"]);
    assert_eq!(status.json()["phase"], "Running", "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("3 control planes, 2 workers, API load balancer running"),
        "{}",
        status.stdout
    );

    // A re-run changes nothing: same containers, no kubeadm call, the same configuration.
    let all: Vec<String> = control_planes
        .iter()
        .chain(&workers)
        .chain(std::iter::once(&lb))
        .cloned()
        .collect();
    let ids: Vec<String> = all.iter().map(|c| lo.id(c)).collect();
    let calls: Vec<String> = control_planes
        .iter()
        .chain(&workers)
        .map(|n| lo.exec(n, "cat /kind/calls.log"))
        .collect();
    lo.lo(&["provision", DOMAIN]).success();
    assert_eq!(all.iter().map(|c| lo.id(c)).collect::<Vec<_>>(), ids);
    assert_eq!(
        control_planes
            .iter()
            .chain(&workers)
            .map(|n| lo.exec(n, "cat /kind/calls.log"))
            .collect::<Vec<_>>(),
        calls
    );
    assert_eq!(lo.exec(&lb, "cat /usr/local/etc/haproxy/haproxy.cfg"), cfg);

    // A stopped load balancer is Degraded; provision starts it and the API answers again.
    docker(&["stop", "-t", "1", &lb]);
    assert_eq!(
        lo.lo(&["status", DOMAIN, "-o", "json"]).json()["phase"],
        "Degraded"
    );
    lo.lo(&["provision", DOMAIN]).success();
    assert_eq!(lo.id(&lb), ids[ids.len() - 1]);

    // Destroy removes all six containers.
    lo.lo(&["destroy", DOMAIN]).success();
    for c in &all {
        assert!(inspect("container", c).is_none(), "{c} survived destroy");
    }
}
