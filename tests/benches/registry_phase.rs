//! The Lo driver's registry phase (networks, registry containers with config and certificate,
//! `certs.d`, `.registries.json`) through the component, against the same Docker work issued
//! as direct bollard calls by this program, in the same run; and a warm re-provision that
//! changes nothing. Goals: component within 1.3x of direct; warm re-provision under 1 s.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, EndpointIpamConfig, EndpointSettings, HostConfig, Ipam, IpamConfig, Mount,
    MountType, NetworkCreateRequest, NetworkingConfig, RestartPolicy, RestartPolicyNameEnum,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, RemoveVolumeOptions,
    UploadToContainerOptions,
};
use lok8s_lo_plan::render::{
    REGISTRY_CA, REGISTRY_CA_DIR, REGISTRY_CERT, REGISTRY_CONFIG, REGISTRY_KEY, certs_d,
    registries_json, registry_config,
};
use lok8s_tests::Project;
use lok8s_tests::docker::{Cleanup, docker};
use lok8s_tests::images::{node_image, registry_image};

const DOMAIN: &str = "bench.test";

fn spec(node: &str, registry: &str, net: &str, n: u8) -> String {
    format!(
        "cluster: {{domain: {DOMAIN}}}\nnetwork: {{name: {net}, cidr: 10.214.{n}.0/24}}\n\
         kubernetes: {{version: v1.35.0, image: {node}}}\nbootstrap: []\n\
         registries:\n  image: {registry}\n  shared: {{enabled: false}}\n  mirrors:\n{}",
        // Four mirrors, like the default set, pulling through the project's own cache so no
        // traffic leaves the bench's network.
        ["io-docker", "io-quay", "io-k8s", "io-ghcr"]
            .iter()
            .map(|m| format!("    - {{name: {m}, url: \"https://10.214.{n}.102\"}}\n"))
            .collect::<String>()
    )
}

fn tar_of(path: &str, contents: &[u8], mode: u32) -> Vec<u8> {
    let name = Path::new(path).file_name().unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_size(contents.len() as u64);
    header.set_mode(mode);
    header.set_cksum();
    let mut archive = tar::Builder::new(Vec::new());
    archive.append_data(&mut header, name, contents).unwrap();
    archive.into_inner().unwrap()
}

/// The registry phase as direct engine calls: what the component asks the host to do.
async fn direct(
    plan: &lok8s_lo_plan::Plan,
    dir: &Path,
    ca: &rcgen::Issuer<'_, rcgen::KeyPair>,
    ca_pem: &str,
) {
    let docker = Docker::connect_with_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    std::fs::write(dir.join(".registries.json"), registries_json(plan)).unwrap();
    assert!(docker.inspect_network(&plan.network, None).await.is_err());
    docker
        .create_network(NetworkCreateRequest {
            name: plan.network.clone(),
            driver: Some("bridge".into()),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(plan.cidr.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    for reg in &plan.registries {
        assert!(
            docker
                .inspect_container(&reg.container, None)
                .await
                .is_err()
        );
        docker.inspect_image(&plan.registry_image).await.unwrap();
        docker
            .create_volume(VolumeCreateRequest {
                name: Some(reg.container.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        let body = ContainerCreateBody {
            image: Some(plan.registry_image.clone()),
            env: Some(vec![format!("SSL_CERT_DIR={REGISTRY_CA_DIR}")]),
            labels: Some(HashMap::from([(
                "lok8s.dev/role".to_string(),
                "registry".to_string(),
            )])),
            host_config: Some(HostConfig {
                mounts: Some(vec![Mount {
                    typ: Some(MountType::VOLUME),
                    source: Some(reg.container.clone()),
                    target: Some("/var/lib/registry".into()),
                    ..Default::default()
                }]),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::ALWAYS),
                    ..Default::default()
                }),
                network_mode: Some(reg.network.clone()),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    reg.network.clone(),
                    EndpointSettings {
                        ipam_config: Some(EndpointIpamConfig {
                            ipv4_address: Some(reg.ip.to_string()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        let options = CreateContainerOptions {
            name: Some(reg.container.clone()),
            ..Default::default()
        };
        docker.create_container(Some(options), body).await.unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec![reg.host.clone(), reg.ip.to_string()]).unwrap();
        params.distinguished_name.push(
            rcgen::DnType::OrganizationName,
            "lok8s development certificate",
        );
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, ca).unwrap();
        for (path, bytes, mode) in [
            (
                REGISTRY_CONFIG,
                registry_config(plan, reg).into_bytes(),
                0o644,
            ),
            (REGISTRY_CERT, cert.pem().into_bytes(), 0o644),
            (REGISTRY_KEY, key.serialize_pem().into_bytes(), 0o600),
            (REGISTRY_CA, ca_pem.as_bytes().to_vec(), 0o644),
        ] {
            let options = UploadToContainerOptions {
                path: "/etc/docker/registry".into(),
                ..Default::default()
            };
            docker
                .upload_to_container(
                    &reg.container,
                    Some(options),
                    bollard::body_full(tar_of(path, &bytes, mode).into()),
                )
                .await
                .unwrap();
        }
        docker.start_container(&reg.container, None).await.unwrap();
    }
    let filters = HashMap::from([(
        "label".to_string(),
        vec!["lok8s.dev/role=registry".to_string()],
    )]);
    docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .unwrap();
    let certs = dir.join(".containerd/certs.d");
    for (rel, text) in certs_d(plan) {
        let path = certs.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

async fn remove_direct(plan: &lok8s_lo_plan::Plan) {
    let docker = Docker::connect_with_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    for reg in &plan.registries {
        let _ = docker
            .remove_container(
                &reg.container,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                }),
            )
            .await;
        let _ = docker
            .remove_volume(&reg.container, Some(RemoveVolumeOptions { force: true }))
            .await;
    }
    let _ = docker.remove_network(&plan.network).await;
}

fn phase_seconds(stdout: &str, title: &str) -> f64 {
    let v: serde_json::Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    v["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == title)
        .unwrap_or_else(|| panic!("no {title} phase: {stdout}"))["seconds"]
        .as_f64()
        .unwrap()
}

pub fn run(standin: &Path, missed: &mut Vec<String>) {
    let node = node_image(standin);
    let registry = registry_image();
    let caroot = tempfile::tempdir().unwrap();
    let caroot_s = caroot.path().display().to_string();
    let env = [
        ("LO_PRIVILEGED_MODE", "capabilities"),
        ("CAROOT", caroot_s.as_str()),
    ];
    let rounds = 3;
    let (mut component, mut direct_times, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Through the component: a fresh project, then a re-provision that changes nothing.
        let p = Project::new();
        let _cleanup = Cleanup::new(p.root());
        let net = format!("lobench{round}");
        p.cluster(
            DOMAIN,
            "Lo",
            &format!("lobench{round}"),
            &spec(node, registry, &net, 90),
        );
        let out = p.lo_env(&["provision", DOMAIN, "-o", "json"], &env);
        out.success();
        component.push(Duration::from_secs_f64(phase_seconds(
            &out.stdout,
            "registries",
        )));
        let start = Instant::now();
        p.lo_env(&["provision", DOMAIN, "-o", "json"], &env)
            .success();
        warm.push(start.elapsed());
        p.lo_env(&["destroy", DOMAIN], &env).success();
        docker(&["network", "rm", &net]);

        // Direct: the same containers, files and certificates from this process.
        let plan = lok8s_lo_plan::plan(
            &p.read(&format!("clusters/{DOMAIN}/cluster.lok8s.yaml")),
            DOMAIN,
        )
        .unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca = rcgen::Issuer::new(ca_params, ca_key);
        let ca_pem = ca_cert.pem();
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let start = Instant::now();
        rt.block_on(direct(&plan, dir.path(), &ca, &ca_pem));
        direct_times.push(start.elapsed());
        rt.block_on(remove_direct(&plan));
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (c, d, w) = (median(component), median(direct_times), median(warm));
    let ratio = c.as_secs_f64() / d.as_secs_f64();
    println!(
        "\nLo registry phase (6 registries, TLS): component {c:.2?}, direct bollard {d:.2?} ({ratio:.2}x); warm re-provision {w:.2?} (median of {rounds})"
    );
    if ratio > 1.3 {
        missed.push(format!(
            "Lo registry phase {ratio:.2}x the direct path (goal <= 1.3x)"
        ));
    }
    if w > Duration::from_secs(1) {
        missed.push(format!("warm Lo re-provision took {w:?} (goal < 1 s)"));
    }
}
