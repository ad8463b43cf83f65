//! The tls capability: leaves from the local CA that `openssl verify` accepts, a CA made by the
//! real `mkcert` binary reused as is, SANs checked against the grant, and the CA key never
//! handed to the driver. The cluster's domain is `probe.test`, so its names are the project's
//! own and the user's CA signs them (public names get the project's CA: tests/hostile.rs).

use std::process::Command;

use lok8s_tests::Project;

fn tls_project(sans: &str) -> Project {
    let p = Project::new();
    p.cluster(
        "probe.test",
        "TlsProbe",
        "tls",
        &format!("probe:\n  sans: {sans}"),
    );
    p.pin("TlsProbe", "tls-probe").success();
    p
}

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn leaves_from_a_new_ca_verify_with_openssl() {
    let p = tls_project("api.probe.test, 127.0.0.1");
    let caroot = p.path(".caroot");
    let caroot_str = caroot.to_str().unwrap();
    p.lo_env(&["provision", "probe.test"], &[("CAROOT", caroot_str)])
        .success();
    assert!(caroot.join("rootCA.pem").is_file() && caroot.join("rootCA-key.pem").is_file());
    let leaf = p.path("clusters/probe.test/.state/leaf.pem");
    let (ok, out) = openssl(&[
        "verify",
        "-CAfile",
        caroot.join("rootCA.pem").to_str().unwrap(),
        leaf.to_str().unwrap(),
    ]);
    assert!(ok, "{out}");
    let (_, text) = openssl(&["x509", "-in", leaf.to_str().unwrap(), "-noout", "-text"]);
    assert!(
        text.contains("DNS:api.probe.test") && text.contains("IP Address:127.0.0.1"),
        "{text}"
    );
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    // The key matches the leaf, and the CA key is nowhere the driver could write it.
    let (_, leaf_pub) = openssl(&["x509", "-in", leaf.to_str().unwrap(), "-noout", "-pubkey"]);
    let (_, key_pub) = openssl(&[
        "pkey",
        "-in",
        p.path("clusters/probe.test/.state/leaf-key.pem")
            .to_str()
            .unwrap(),
        "-pubout",
    ]);
    assert_eq!(leaf_pub, key_pub);
    let ca_key = std::fs::read_to_string(caroot.join("rootCA-key.pem")).unwrap();
    let ca_key_body = ca_key.lines().nth(1).unwrap();
    for file in p.files() {
        if file.starts_with(".caroot") {
            continue;
        }
        let text = std::fs::read_to_string(p.path(&file)).unwrap_or_default();
        assert!(!text.contains(ca_key_body), "{file} holds the CA key");
    }
    // Same CA on the next run.
    let first_ca = p.read("clusters/probe.test/.state/ca.pem");
    p.lo_env(&["provision", "probe.test"], &[("CAROOT", caroot_str)])
        .success();
    assert_eq!(p.read("clusters/probe.test/.state/ca.pem"), first_ca);
}

#[test]
fn a_ca_made_by_mkcert_is_reused_as_is() {
    let p = tls_project("registry.probe.test");
    let caroot = p.path(".mkcert");
    std::fs::create_dir_all(&caroot).unwrap();
    let made = Command::new("mkcert")
        .env("CAROOT", &caroot)
        .current_dir(&caroot)
        .arg("seed.probe.test")
        .output()
        .expect("mkcert is installed (apt-get install mkcert)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let before = std::fs::read(caroot.join("rootCA.pem")).unwrap();
    p.lo_env(
        &["provision", "probe.test"],
        &[("CAROOT", caroot.to_str().unwrap())],
    )
    .success();
    assert_eq!(
        std::fs::read(caroot.join("rootCA.pem")).unwrap(),
        before,
        "mkcert's CA was replaced"
    );
    assert_eq!(
        p.read("clusters/probe.test/.state/ca.pem").as_bytes(),
        before.as_slice()
    );
    let (ok, out) = openssl(&[
        "verify",
        "-CAfile",
        caroot.join("rootCA.pem").to_str().unwrap(),
        p.path("clusters/probe.test/.state/leaf.pem")
            .to_str()
            .unwrap(),
    ]);
    assert!(ok, "{out}");
}

#[test]
fn names_outside_the_grant_are_denied() {
    let p = tls_project("api.probe.test, evil.example.com");
    let caroot = p.path(".caroot");
    p.lo_env(
        &["provision", "probe.test"],
        &[("CAROOT", caroot.to_str().unwrap())],
    )
    .code(1)
    .stderr_has("denied: tls issue for \"evil.example.com\"")
    .stderr_has("[drivers.tlsprobe.grants]");
    assert!(!p.path("clusters/probe.test/.state/leaf.pem").exists());
}
