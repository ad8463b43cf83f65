//! A Docker engine on another machine: over ssh with the user's keys, over TCP with mutual TLS.

use std::path::{Path, PathBuf};

use super::setup::*;
use lok8s_tests::docker::inspect;

#[test]
fn a_remote_engine_is_reached_through_ssh_with_the_users_keys_and_known_hosts() {
    use lok8s_tests::sshd::{Sshd, keygen};
    // A "remote" engine: a real sshd on 127.0.0.1 in front of this machine's engine, logged
    // into with a key of a throwaway HOME (~/.ssh as OpenSSH keeps it).
    let home = tempfile::tempdir().unwrap();
    let ssh_dir = home.path().join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    keygen(&ssh_dir.join("id_ed25519"));
    let sshd = Sshd::start_for("root", &ssh_dir.join("id_ed25519.pub"));
    let docker_host = format!("ssh://root@127.0.0.1:{}", sshd.port);
    let home_text = home.path().display().to_string();
    let env = [
        ("HOME", home_text.as_str()),
        ("DOCKER_HOST", docker_host.as_str()),
    ];
    let lo = Lo::new(11, "bootstrap: []\n");

    // Its host key is not in ~/.ssh/known_hosts yet: refused, nothing created.
    lo.lo_with(&["provision", DOMAIN], &env)
        .code(1)
        .stderr_has("not in ~/.ssh/known_hosts");
    assert!(inspect("network", &lo.net).is_none());
    assert!(lo.cleanup.labelled("container").is_empty());

    // Known, the cluster is made through it, and status and destroy go the same way.
    let host_key = std::fs::read_to_string(sshd.host_key_path().with_extension("pub")).unwrap();
    let key = host_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    std::fs::write(
        ssh_dir.join("known_hosts"),
        format!("[127.0.0.1]:{} {key}\n", sshd.port),
    )
    .unwrap();
    lo.lo_with(&["provision", DOMAIN], &env).success();
    let node = inspect("container", &lo.node()).expect("a node made through the ssh engine");
    assert_eq!(node["State"]["Running"], true);
    assert!(
        sshd.log().contains("Accepted publickey for root"),
        "{}",
        sshd.log()
    );
    let status = lo.lo_with(&["status", DOMAIN, "-o", "json"], &env);
    assert_eq!(status.json()["phase"], "Running", "{}", status.stdout);
    assert_eq!(status.json()["engine"]["docker_host"], docker_host.as_str());
    lo.lo_with(&["status", DOMAIN], &env)
        .success()
        .stdout_has("(remote: ports published on 127.0.0.1 are that machine's")
        .stdout_has(&format!("run `lo tunnel {DOMAIN}`"));

    // The API is published on the engine machine's loopback: `lo tunnel` forwards a local port
    // there over its own ssh session and writes a kubeconfig naming it, until it is stopped.
    let caroot = lo.caroot.path().display().to_string();
    let mut tunnel =
        lo.p.command(&["tunnel", DOMAIN, "-o", "json"])
            .envs(env)
            .env("CAROOT", &caroot)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(tunnel.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let opened: serde_json::Value = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(e) => {
            let _ = tunnel.kill();
            let out = tunnel.wait_with_output().unwrap();
            panic!("{e}: {line:?}\n{}", String::from_utf8_lossy(&out.stderr))
        }
    };
    let local_port = opened["local_port"].as_u64().unwrap();
    assert_ne!(Some(local_port), opened["remote_port"].as_u64(), "{opened}");
    let forwarded = PathBuf::from(opened["kubeconfig"].as_str().unwrap());
    let text = std::fs::read_to_string(&forwarded).unwrap();
    assert!(
        text.contains(&format!("server: https://127.0.0.1:{local_port}")),
        "{text}"
    );
    let corefile = Api::new(&forwarded).get("/api/v1/namespaces/kube-system/configmaps/coredns");
    assert_eq!(corefile["metadata"]["name"], "coredns", "{corefile}");
    // SAFETY: signalling the child this test spawned, by its PID.
    assert_eq!(unsafe { libc::kill(tunnel.id() as i32, libc::SIGTERM) }, 0);
    let stopped = tunnel.wait_with_output().unwrap();
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    assert!(!forwarded.exists(), "the tunnel's kubeconfig outlived it");

    lo.lo_with(&["destroy", DOMAIN], &env).success();
    assert!(inspect("container", &lo.node()).is_none());
}

/// Stands in for dockerd's TLS listener (`dockerd --tlsverify -H tcp://…`): TLS with client
/// certificates required, each connection passed to this machine's engine socket. Counts the
/// connections whose client certificate verified.
struct TlsEngine {
    port: u16,
    verified: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    _runtime: tokio::runtime::Runtime,
}

impl TlsEngine {
    /// Writes `ca.pem`, `cert.pem` and `key.pem` (the client's, as the docker CLI expects them
    /// in DOCKER_CERT_PATH) into `cert_path` and starts listening on 127.0.0.1.
    fn start(cert_path: &Path) -> TlsEngine {
        use rcgen::{
            BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
        };
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |sans: Vec<String>, usage| {
            let mut params = CertificateParams::new(sans).unwrap();
            params.extended_key_usages = vec![usage];
            let key = KeyPair::generate().unwrap();
            let cert = params.signed_by(&key, &issuer).unwrap();
            (cert, key)
        };
        let (server_cert, server_key) = leaf(
            vec!["127.0.0.1".into()],
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client_cert, client_key) = leaf(vec![], ExtendedKeyUsagePurpose::ClientAuth);
        std::fs::write(cert_path.join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(cert_path.join("cert.pem"), client_cert.pem()).unwrap();
        std::fs::write(cert_path.join("key.pem"), client_key.serialize_pem()).unwrap();

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_cert.der().clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder(roots.into())
            .build()
            .unwrap();
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(server_cert.der().to_vec())],
                PrivateKeyDer::try_from(server_key.serialize_der()).unwrap(),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let verified = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = verified.clone();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, count) = (acceptor.clone(), count.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if let Ok(mut engine) =
                        tokio::net::UnixStream::connect("/var/run/docker.sock").await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut engine).await;
                    }
                });
            }
        });
        TlsEngine {
            port,
            verified,
            _runtime: runtime,
        }
    }
}

#[test]
fn a_remote_engine_is_reached_over_tcp_with_mutual_tls() {
    let certs = tempfile::tempdir().unwrap();
    let engine = TlsEngine::start(certs.path());
    let docker_host = format!("tcp://127.0.0.1:{}", engine.port);
    let cert_path = certs.path().display().to_string();
    let env = [
        ("DOCKER_HOST", docker_host.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", cert_path.as_str()),
    ];
    let lo = Lo::new(12, "bootstrap: []\n");
    lo.lo_with(&["provision", DOMAIN], &env).success();
    assert!(
        engine.verified.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "every call went through the TLS listener with the client certificate"
    );
    let node = inspect("container", &lo.node()).expect("a node made through the TLS engine");
    assert_eq!(node["State"]["Running"], true);
    lo.lo_with(&["destroy", DOMAIN], &env).success();
    assert!(inspect("container", &lo.node()).is_none());

    // Without the client certificate the engine does not answer: refused, nothing made.
    std::fs::remove_file(certs.path().join("key.pem")).unwrap();
    lo.lo_with(&["provision", DOMAIN], &env).code(1);
    assert!(inspect("container", &lo.node()).is_none());
}
