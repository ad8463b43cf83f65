//! The `kubeadm` stand-in: what kind's and the KubeOne driver's kubeadm calls need from real
//! kubeadm. `init` writes what kubeadm's certs and kubeconfig phases write (PKI under
//! `/etc/kubernetes/pki`, ECDSA P-256 keys where kubeadm uses RSA, and
//! `/etc/kubernetes/admin.conf`); no control plane is started here: the node's entrypoint
//! starts `lok8s-node-standin serve` once the serving certificate exists. `token create
//! --print-join-command` prints a fresh token and the CA's public key hash as kubeadm computes
//! it (sha256 of the certificate's SubjectPublicKeyInfo); `join` checks a given hash is well-formed
//! (it cannot ask the API for the CA), and fails while `/kind/fail-join` exists; `version -o short`
//! prints `/kind/version`; `reset` removes what init and join wrote.

use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// While this file exists, `join` fails as kubeadm does when the API server cannot be reached.
const FAIL_JOIN: &str = "/kind/fail-join";
/// kind always passes this path.
const KIND_CONFIG: &str = "/kind/kubeadm.conf";
const PKI: &str = "/etc/kubernetes/pki";
const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";

pub fn run(args: &[String]) -> i32 {
    crate::record("kubeadm", args);
    let result = match args.first().map(String::as_str) {
        Some("init") => init(&args[1..]),
        Some("join") => join(&args[1..]),
        Some("token") if args.iter().any(|a| a == "--print-join-command") => print_join_command(),
        Some("version") => version(),
        Some("reset") => reset(),
        _ => Ok(()),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kubeadm (lok8s stand-in): {e}");
            1
        }
    }
}

/// The value of `--config=<path>` or `--config <path>`: a file that exists.
fn config_path(args: &[String]) -> Result<&str, String> {
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let path = if let Some(path) = arg.strip_prefix("--config=") {
            path
        } else if arg == "--config" {
            it.next().ok_or("--config needs a path")?
        } else {
            continue;
        };
        if !Path::new(path).is_file() {
            return Err(format!(
                "--config {path:?}: no such file (kind writes {KIND_CONFIG})"
            ));
        }
        return Ok(path);
    }
    Err(format!(
        "no --config given; kind passes --config={KIND_CONFIG}"
    ))
}

/// The documents of a multi-document YAML file; empty documents are skipped.
fn documents(path: &str) -> Result<Vec<Value>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?;
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let value =
            Value::deserialize(doc).map_err(|e| format!("{path} is not valid YAML: {e}"))?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    Ok(docs)
}

/// The document of `kind`, or an error naming the kinds that are there.
fn document<'a>(docs: &'a [Value], path: &str, kind: &str) -> Result<&'a Value, String> {
    docs.iter().find(|d| d["kind"] == kind).ok_or_else(|| {
        let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
        format!("{path} has no {kind} document (found kinds: {kinds:?})")
    })
}

fn join(args: &[String]) -> Result<(), String> {
    let path = config_path(args)?;
    if Path::new("/etc/kubernetes/kubelet.conf").is_file() {
        // Real kubeadm's preflight refuses this; kind never joins a node twice.
        println!(
            "[preflight] this node already belongs to a cluster (lok8s stand-in): nothing to do"
        );
        return Ok(());
    }
    if Path::new(FAIL_JOIN).exists() {
        return Err(format!(
            "[preflight] couldn't validate the identity of the API Server: connection refused \
             (lok8s stand-in: {FAIL_JOIN} exists)"
        ));
    }
    let docs = documents(path)?;
    let join = document(&docs, path, "JoinConfiguration")?;
    for hash in join["discovery"]["bootstrapToken"]["caCertHashes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let hash = hash.as_str().unwrap_or_default();
        let well_formed = hash
            .strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()));
        if !well_formed {
            return Err(format!(
                "{path}: caCertHashes entry {hash:?} is not sha256:<64 hex digits>"
            ));
        }
    }
    let endpoint = join["discovery"]["bootstrapToken"]["apiServerEndpoint"]
        .as_str()
        .ok_or_else(|| {
            format!("{path}: JoinConfiguration has no discovery.bootstrapToken.apiServerEndpoint")
        })?;
    if join["controlPlane"].is_object() {
        let advertise = join["controlPlane"]["localAPIEndpoint"]["advertiseAddress"]
            .as_str()
            .ok_or_else(|| {
                format!("{path}: JoinConfiguration.controlPlane has no localAPIEndpoint.advertiseAddress")
            })?;
        join_control_plane(advertise)?;
    }
    kubelet_conf(endpoint)?;
    println!("This node has joined the cluster (lok8s stand-in).");
    Ok(())
}

/// `sha256:<hex>` of the cluster CA's SubjectPublicKeyInfo, kubeadm's discovery hash.
fn ca_cert_hash() -> Result<String, String> {
    use sha2::{Digest, Sha256};
    let pem =
        fs::read(Path::new(PKI).join("ca.crt")).map_err(|e| format!("reading ca.crt: {e}"))?;
    let (_, parsed) = x509_parser::pem::parse_x509_pem(&pem).map_err(|e| e.to_string())?;
    let cert = parsed.parse_x509().map_err(|e| e.to_string())?;
    let digest = Sha256::digest(cert.public_key().raw);
    Ok(format!(
        "sha256:{}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    ))
}

/// A bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`) from the kernel's randomness.
fn new_token() -> Result<String, String> {
    let mut bytes = [0u8; 22];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
        .map_err(|e| format!("reading /dev/urandom: {e}"))?;
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let chars: String = bytes
        .iter()
        .map(|b| alphabet[*b as usize % 36] as char)
        .collect();
    Ok(format!("{}.{}", &chars[..6], &chars[6..]))
}

fn print_join_command() -> Result<(), String> {
    let admin = fs::read_to_string(ADMIN_CONF)
        .map_err(|e| format!("{ADMIN_CONF}: {e}: kubeadm init has not run here"))?;
    let doc: Value = serde_yaml::from_str(&admin).map_err(|e| e.to_string())?;
    let server = doc["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap_or_default();
    let endpoint = server.trim_start_matches("https://");
    println!(
        "kubeadm join {endpoint} --token {} --discovery-token-ca-cert-hash {} ",
        new_token()?,
        ca_cert_hash()?
    );
    Ok(())
}

fn version() -> Result<(), String> {
    let v = fs::read_to_string("/kind/version").map_err(|e| format!("/kind/version: {e}"))?;
    println!("{}", v.trim());
    Ok(())
}

/// What `kubeadm reset` undoes here: the kubeconfigs, the PKI, the kubelet's and kubeadm's files.
fn reset() -> Result<(), String> {
    for file in [ADMIN_CONF, "/etc/kubernetes/kubelet.conf", API_UPSTREAM] {
        let _ = fs::remove_file(file);
    }
    let _ = fs::remove_dir_all(PKI);
    println!("[reset] Deleted contents of /etc/kubernetes (lok8s stand-in)");
    Ok(())
}

/// What kind copies from the bootstrap control plane before another one joins; without
/// `--certificate-key`, kubeadm needs them on disk.
const SHARED_FILES: [&str; 9] = [
    "/etc/kubernetes/admin.conf",
    "/etc/kubernetes/pki/ca.crt",
    "/etc/kubernetes/pki/ca.key",
    "/etc/kubernetes/pki/front-proxy-ca.crt",
    "/etc/kubernetes/pki/front-proxy-ca.key",
    "/etc/kubernetes/pki/sa.pub",
    "/etc/kubernetes/pki/sa.key",
    "/etc/kubernetes/pki/etcd/ca.crt",
    "/etc/kubernetes/pki/etcd/ca.key",
];

/// Where `serve` on a joined control plane sends API connections (see serve.rs).
pub(crate) const API_UPSTREAM: &str = "/kind/standin-api-upstream";

/// `kubeadm join` with `controlPlane:`: the shared CA must be there (and match its key), the
/// node gets an API serving certificate from it. Every real API server shares one etcd; here
/// the joined node's API forwards to the bootstrap control plane's (kind's name without the
/// trailing number), so all of them show one cluster.
fn join_control_plane(advertise: &str) -> Result<(), String> {
    for path in SHARED_FILES {
        if !Path::new(path).is_file() {
            return Err(format!(
                "joining as a control plane: {path} is missing; without --certificate-key the cluster's \
                 certificates must be copied from the first control plane first (kind copies them)"
            ));
        }
    }
    let ca = Ca::load(Path::new(PKI), "ca").map_err(|e| format!("the cluster CA: {e}"))?;
    let hostname = hostname();
    // kind's bootstrap node has no number ("dev-control-plane"); numbered names start at 0.
    let mut bootstrap = hostname
        .trim_end_matches(|c: char| c.is_ascii_digit())
        .to_string();
    if bootstrap.ends_with('-') {
        bootstrap.push('0');
    }
    let mut sans = vec![
        hostname.clone(),
        advertise.to_string(),
        "localhost".to_string(),
        "127.0.0.1".to_string(),
    ];
    sans.dedup();
    let (cert, key) = ca
        .issue(
            "kube-apiserver",
            None,
            &sans,
            ExtendedKeyUsagePurpose::ServerAuth,
        )
        .map_err(|e| format!("issuing the API serving certificate: {e}"))?;
    let pki = Path::new(PKI);
    write_file(
        Path::new(API_UPSTREAM),
        &format!("{bootstrap}:6443\n"),
        0o644,
    )
    .map_err(|e| format!("writing {API_UPSTREAM}: {e}"))?;
    write_file(&pki.join("apiserver.key"), &key, 0o600)
        .and_then(|()| write_file(&pki.join("apiserver.crt"), &cert, 0o644))
        .map_err(|e| format!("writing the API serving certificate: {e}"))?;
    println!("[control-plane-join] API server serving cert signed by the shared CA for {sans:?}");
    wait_for_api_server()
}

/// kubeadm returns only once the node's API server answers ("[wait-control-plane]"); the
/// entrypoint starts `serve` when the serving certificate appears.
fn wait_for_api_server() -> Result<(), String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::net::TcpStream::connect("127.0.0.1:6443").is_err() {
        if std::time::Instant::now() > deadline {
            return Err("the API server did not listen on 6443 within 30s".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(())
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// What init and join leave for the kubelet: `/etc/kubernetes/kubelet.conf` (drivers check it
/// to know a node already joined). Credentials are not modelled.
fn kubelet_conf(endpoint: &str) -> Result<(), String> {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: default-cluster\n  cluster:\n    server: https://{endpoint}\n\
         contexts:\n- name: default-auth@default-cluster\n  context:\n    cluster: default-cluster\n    user: default-auth\n\
         current-context: default-auth@default-cluster\nusers:\n- name: default-auth\n  user: {{}}\n"
    );
    write_file(Path::new("/etc/kubernetes/kubelet.conf"), &text, 0o600)
        .map_err(|e| format!("writing /etc/kubernetes/kubelet.conf: {e}"))
}

fn init(args: &[String]) -> Result<(), String> {
    let path = config_path(args)?;
    let docs = documents(path)?;
    let cluster = document(&docs, path, "ClusterConfiguration")?;
    let init = document(&docs, path, "InitConfiguration")?;
    let cluster_name = cluster["clusterName"].as_str().unwrap_or("kubernetes");
    let advertise = init["localAPIEndpoint"]["advertiseAddress"].as_str();
    let bind_port = init["localAPIEndpoint"]["bindPort"]
        .as_u64()
        .unwrap_or(6443);
    let endpoint = match (cluster["controlPlaneEndpoint"].as_str(), advertise) {
        (Some(endpoint), _) => endpoint.to_string(),
        (None, Some(address)) => format!("{address}:{bind_port}"),
        (None, None) => {
            return Err(format!(
                "{path}: neither ClusterConfiguration.controlPlaneEndpoint nor \
                 InitConfiguration.localAPIEndpoint.advertiseAddress is set"
            ));
        }
    };
    let endpoint_host = endpoint
        .rsplit_once(':')
        .map_or(endpoint.as_str(), |(host, _)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let hostname = hostname();
    let service_ip = first_service_ip(cluster["networking"]["serviceSubnet"].as_str());
    let mut sans: Vec<String> = Vec::new();
    let fixed = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        &hostname,
        "localhost",
        "127.0.0.1",
        &service_ip,
        advertise.unwrap_or_default(),
        endpoint_host,
    ];
    let cert_sans = cluster["apiServer"]["certSANs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    for san in fixed.into_iter().chain(cert_sans) {
        if !san.is_empty() && !sans.iter().any(|s| s == san) {
            sans.push(san.to_string());
        }
    }
    let admin = write_pki(&sans).map_err(|e| format!("writing {PKI}: {e}"))?;
    println!("[certs] apiserver serving cert is signed for DNS names and IPs {sans:?}");
    write_admin_conf(&admin, cluster_name, &endpoint)
        .map_err(|e| format!("writing {ADMIN_CONF}: {e}"))?;
    println!("[kubeconfig] Writing \"admin.conf\" kubeconfig file");
    kubelet_conf(&endpoint)?;
    wait_for_api_server()?;
    println!("\nYour Kubernetes control-plane has initialized successfully! (lok8s stand-in)");
    Ok(())
}

/// The first address of the service subnet (the `kubernetes` Service's ClusterIP).
fn first_service_ip(subnet: Option<&str>) -> String {
    let network = subnet
        .and_then(|s| s.split(',').next())
        .and_then(|cidr| cidr.split('/').next())
        .and_then(|ip| ip.trim().parse::<IpAddr>().ok());
    match network {
        Some(IpAddr::V4(ip)) => std::net::Ipv4Addr::from(u32::from(ip) + 1).to_string(),
        Some(IpAddr::V6(ip)) => std::net::Ipv6Addr::from(u128::from(ip) + 1).to_string(),
        None => "10.96.0.1".to_string(),
    }
}

/// A self-signed CA, as kubeadm makes for the cluster, front proxy and etcd.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
}

fn rcgen_error(e: rcgen::Error) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl Ca {
    fn new(common_name: &str) -> std::io::Result<Ca> {
        let mut params = CertificateParams::new(Vec::new()).map_err(rcgen_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
            KeyUsagePurpose::KeyCertSign,
        ];
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let cert_pem = params.self_signed(&key).map_err(rcgen_error)?.pem();
        Ok(Ca {
            issuer: Issuer::new(params, key),
            cert_pem,
        })
    }

    /// A leaf (certificate PEM, key PEM) signed by this CA.
    fn issue(
        &self,
        common_name: &str,
        organization: Option<&str>,
        sans: &[String],
        usage: ExtendedKeyUsagePurpose,
    ) -> std::io::Result<(String, String)> {
        let mut params = CertificateParams::new(sans.to_vec()).map_err(rcgen_error)?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        if let Some(org) = organization {
            params
                .distinguished_name
                .push(DnType::OrganizationName, org);
        }
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(rcgen_error)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// The CA kubeadm wrote (or a driver copied) as `<stem>.crt` and `<stem>.key` in `dir`;
    /// a key that does not match the certificate is an error.
    fn load(dir: &Path, stem: &str) -> std::io::Result<Ca> {
        let cert_pem = fs::read_to_string(dir.join(format!("{stem}.crt")))?;
        let key_pem = fs::read_to_string(dir.join(format!("{stem}.key")))?;
        let key = KeyPair::from_pem(&key_pem).map_err(rcgen_error)?;
        let (_, parsed) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let cert = parsed
            .parse_x509()
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(std::io::Error::other(format!(
                "{stem}.key is not the key of {stem}.crt"
            )));
        }
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(rcgen_error)?;
        Ok(Ca { issuer, cert_pem })
    }

    fn write(&self, dir: &Path, stem: &str) -> std::io::Result<()> {
        write_file(&dir.join(format!("{stem}.crt")), &self.cert_pem, 0o644)?;
        write_file(
            &dir.join(format!("{stem}.key")),
            &self.issuer.key().serialize_pem(),
            0o600,
        )
    }
}

fn write_file(path: &Path, contents: &str, mode: u32) -> std::io::Result<()> {
    fs::create_dir_all(path.parent().unwrap())?;
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    std::io::Write::write_all(&mut file, contents.as_bytes())
}

/// What admin.conf embeds: the admin's client certificate and key, and the cluster CA.
pub(crate) struct AdminCredentials {
    cert: String,
    key: String,
    ca: String,
}

/// Writes the PKI; returns the admin's credentials, signed by the cluster CA.
pub(crate) fn write_pki(sans: &[String]) -> std::io::Result<AdminCredentials> {
    let pki = Path::new(PKI);
    let ca = Ca::new("kubernetes")?;
    ca.write(pki, "ca")?;
    Ca::new("front-proxy-ca")?.write(pki, "front-proxy-ca")?;
    Ca::new("etcd-ca")?.write(&pki.join("etcd"), "ca")?;
    let sa = KeyPair::generate().map_err(rcgen_error)?;
    write_file(&pki.join("sa.key"), &sa.serialize_pem(), 0o600)?;
    write_file(&pki.join("sa.pub"), &sa.public_key_pem(), 0o644)?;
    // Written last: the node's entrypoint starts the API server when this file appears.
    let (cert, key) = ca.issue(
        "kube-apiserver",
        None,
        sans,
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    write_file(&pki.join("apiserver.key"), &key, 0o600)?;
    write_file(&pki.join("apiserver.crt"), &cert, 0o644)?;
    let (cert, key) = ca.issue(
        "kubernetes-admin",
        Some("system:masters"),
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    )?;
    Ok(AdminCredentials {
        cert,
        key,
        ca: ca.cert_pem,
    })
}

pub(crate) fn write_admin_conf(
    admin: &AdminCredentials,
    cluster_name: &str,
    endpoint: &str,
) -> std::io::Result<()> {
    let AdminCredentials { cert, key, ca } = admin;
    let user = "kubernetes-admin";
    let context = format!("{user}@{cluster_name}");
    let config = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": cluster_name, "cluster": {
            "server": format!("https://{endpoint}"),
            "certificate-authority-data": BASE64.encode(ca),
        }}],
        "users": [{"name": user, "user": {
            "client-certificate-data": BASE64.encode(cert),
            "client-key-data": BASE64.encode(key),
        }}],
        "contexts": [{"name": context, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": context,
    });
    let yaml = serde_yaml::to_string(&config).map_err(std::io::Error::other)?;
    write_file(Path::new(ADMIN_CONF), &yaml, 0o600)
}
