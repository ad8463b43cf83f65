//! The `tls` import: leaf certificates from a local CA. Guards the CA keys (read here, never in
//! the guest, which gets the leaf, its key and the public CA) and what a leaf can impersonate:
//! - every SAN is a well-formed DNS name (a wildcard only as the whole first label) or an IP
//!   address, and matches the driver's grant;
//! - the CA the user trusts (mkcert's `$CAROOT`, which `mkcert -install` adds to the system
//!   store) signs only the project's own names: the cluster's domain, `lok8s.local`,
//!   `lok8s.cache`, `localhost` and private or loopback addresses. Anything else (a mirror
//!   standing in for docker.io, say) is signed by the project's own CA in `.lok8s/project-ca/`,
//!   which only the cluster's nodes trust, so nothing `lo` issues can pass for a public site on
//!   the user's machine;
//! - `lo` never writes into a CA folder that already holds a certificate, and checks that key
//!   and certificate belong together before signing.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use crate::contract::tls as wit;
use crate::contract::types::DriverError;
use crate::host::refusal::Call;

const MAX_VALID_DAYS: u32 = 825;
const MAX_SANS: usize = 100;
/// Names `lo` itself gives registries inside clusters (lok8s-driver: the build and cache
/// registries), never public sites.
const OWN_SUFFIXES: &[&str] = &["lok8s.local", "lok8s.cache", "localhost"];

/// Which CA signs a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// mkcert's CA, trusted by the user's machine.
    User,
    /// The project's CA, trusted only by the cluster's nodes.
    Project,
}

/// One driver's access to the CAs.
pub struct TlsCtx {
    /// SAN patterns: `*` (any), `*.example.com` (names below it), or exact names and addresses.
    patterns: Vec<String>,
    /// The user's CA folder (mkcert's layout).
    caroot: PathBuf,
    /// The project's own CA folder.
    project_ca: PathBuf,
    /// The cluster's domain: names under it are the project's own.
    domain: String,
    refuse: crate::host::refusal::Refusals,
}

/// A SAN after its syntax was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Dns(String),
    Ip(IpAddr),
}

/// Checks a SAN's syntax: an IP address, or a DNS name of 1–63-character labels of letters,
/// digits and '-' (not at either end), at most 253 characters, with `*` only as the whole
/// first label of a name of at least two more labels.
pub fn parse_san(san: &str) -> Result<San, String> {
    if let Ok(ip) = san.parse::<IpAddr>() {
        return Ok(San::Ip(ip));
    }
    let name = san.to_ascii_lowercase();
    let bad = |why: &str| Err(format!("{san:?} is not a DNS name or IP address: {why}"));
    if name.is_empty() || name.len() > 253 {
        return bad("empty or longer than 253 characters");
    }
    let labels: Vec<&str> = name.split('.').collect();
    for (i, label) in labels.iter().enumerate() {
        if *label == "*" {
            if i != 0 {
                return bad("'*' may only be the whole first label");
            }
            if labels.len() < 3 {
                return bad("a wildcard needs at least two labels after it");
            }
            continue;
        }
        let ok = !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return bad("labels are 1-63 letters, digits or '-', not starting or ending with '-'");
        }
    }
    Ok(San::Dns(name))
}

impl TlsCtx {
    pub fn new(
        patterns: Vec<String>,
        caroot: PathBuf,
        project_ca: PathBuf,
        domain: String,
        hint: String,
    ) -> Self {
        TlsCtx {
            patterns,
            caroot,
            project_ca,
            domain: domain.to_ascii_lowercase(),
            refuse: crate::host::refusal::Refusals::new("tls", hint),
        }
    }

    /// The context a grant gives a driver at `site`: the user's CA for the cluster's own
    /// names, the project's CA (`.lok8s/project-ca/`) for the rest.
    pub fn from_grant(patterns: &[String], site: &crate::host::Site) -> Self {
        TlsCtx::new(
            patterns.to_vec(),
            site.caroot.to_path_buf(),
            site.project.root().join(".lok8s").join("project-ca"),
            site.domain.to_string(),
            site.hint.to_string(),
        )
    }

    /// Which CA signs a leaf for these SANs.
    pub fn signer(&self, sans: &[San]) -> Signer {
        let own_name = |name: &str| {
            let under = |suffix: &str| name == suffix || name.ends_with(&format!(".{suffix}"));
            (!self.domain.is_empty() && under(&self.domain))
                || OWN_SUFFIXES.iter().any(|s| under(s))
        };
        let own_ip = |ip: &IpAddr| match ip {
            IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
            IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
        };
        let own = sans.iter().all(|s| match s {
            San::Dns(name) => own_name(name),
            San::Ip(ip) => own_ip(ip),
        });
        if own { Signer::User } else { Signer::Project }
    }

    fn issue(
        &self,
        sans: &[String],
        valid_days: Option<u32>,
    ) -> Result<(wit::Leaf, Option<String>), DriverError> {
        if sans.is_empty() || sans.len() > MAX_SANS {
            return Err(DriverError::Failed(format!(
                "tls issue: give from 1 to {MAX_SANS} DNS names or IP addresses"
            )));
        }
        let mut parsed = Vec::new();
        for san in sans {
            let checked = parse_san(san)
                .map_err(|e| self.refuse.never("issue", crate::sanitize::clean(&e)))?;
            let text = match &checked {
                San::Dns(n) => n.clone(),
                San::Ip(ip) => ip.to_string(),
            };
            if !san_allowed(&self.patterns, &text) {
                return Err(self.refuse.denied(
                    format!("issue for {san:?}"),
                    format!(
                        "not among the granted names [{}]; add it to tls",
                        self.patterns.join(", ")
                    ),
                ));
            }
            parsed.push(checked);
        }
        let signer = self.signer(&parsed);
        let (ca_pem, ca_key, note) = match signer {
            Signer::User => load_or_create_ca(&self.caroot, "lok8s development CA")?,
            Signer::Project => {
                load_or_create_ca(&self.project_ca, "lok8s project CA (cluster nodes only)")?
            }
        };
        let issuer =
            Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(|e| ca_error(&self.caroot, e))?;
        let names: Vec<String> = parsed
            .iter()
            .map(|s| match s {
                San::Dns(n) => n.clone(),
                San::Ip(ip) => ip.to_string(),
            })
            .collect();
        let mut params = CertificateParams::new(names.clone())
            .map_err(|e| DriverError::Failed(format!("tls issue: {e}")))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "lok8s development certificate");
        dn.push(DnType::CommonName, names[0].clone());
        params.distinguished_name = dn;
        let days = valid_days
            .unwrap_or(MAX_VALID_DAYS)
            .clamp(1, MAX_VALID_DAYS);
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(days));
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let key =
            KeyPair::generate().map_err(|e| DriverError::Failed(format!("tls issue: {e}")))?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(|e| DriverError::Failed(format!("tls issue: {e}")))?;
        Ok((
            wit::Leaf {
                certificate_pem: cert.pem(),
                private_key_pem: key.serialize_pem(),
                ca_pem,
            },
            note,
        ))
    }
}

/// A leaf for `lo`'s own use (the bootstrap's certificate generators, which the user's addons
/// ask for), signed under the same rule as a driver's: the user's CA for the project's own
/// names, the project's CA otherwise. Returns the certificate, its key and the signing CA.
pub fn issue_for_lo(
    caroot: &Path,
    project_ca: &Path,
    domain: &str,
    sans: &[String],
) -> Result<(String, String, String), String> {
    let ctx = TlsCtx::new(
        vec!["*".into()],
        caroot.to_path_buf(),
        project_ca.to_path_buf(),
        domain.to_string(),
        String::new(),
    );
    let (leaf, _) = ctx.issue(sans, None).map_err(|e| match e {
        DriverError::Failed(m) | DriverError::Denied(m) | DriverError::NotFound(m) => m,
        other => format!("{other:?}"),
    })?;
    Ok((leaf.certificate_pem, leaf.private_key_pem, leaf.ca_pem))
}

impl TlsCtx {
    /// Both CAs' certificates, one PEM bundle: what a cluster's nodes trust.
    fn ca_bundle(&self) -> Result<(String, Option<String>), DriverError> {
        let (user, _, note) = load_or_create_ca(&self.caroot, "lok8s development CA")?;
        let (project, _, _) =
            load_or_create_ca(&self.project_ca, "lok8s project CA (cluster nodes only)")?;
        Ok((format!("{}\n{}", user.trim_end(), project), note))
    }
}

/// Whether `san` (syntax checked) matches one of the granted patterns.
pub fn san_allowed(patterns: &[String], san: &str) -> bool {
    let san = san.to_ascii_lowercase();
    patterns.iter().any(|p| {
        let p = p.to_ascii_lowercase();
        if p == "*" || p == san {
            return true;
        }
        match p.strip_prefix("*.") {
            // A wildcard grant covers names below it, never IP addresses.
            Some(suffix) => san.parse::<IpAddr>().is_err() && san.ends_with(&format!(".{suffix}")),
            None => false,
        }
    })
}

fn ca_error(caroot: &Path, e: impl std::fmt::Display) -> DriverError {
    DriverError::Failed(format!("the local CA in {}: {e}", caroot.display()))
}

/// A CA folder in mkcert's layout (`rootCA.pem`, `rootCA-key.pem`): used when both are there
/// and belong together, created (ECDSA P-256, 10 years) when neither is, refused otherwise.
/// The note says how to trust a CA `lo` just created.
fn load_or_create_ca(
    caroot: &Path,
    title: &str,
) -> Result<(String, KeyPair, Option<String>), DriverError> {
    let cert_path = caroot.join("rootCA.pem");
    let key_path = caroot.join("rootCA-key.pem");
    match (cert_path.is_file(), key_path.is_file()) {
        (true, true) => {
            let cert = std::fs::read_to_string(&cert_path).map_err(|e| ca_error(caroot, e))?;
            let key_pem = std::fs::read_to_string(&key_path).map_err(|e| ca_error(caroot, e))?;
            let key = KeyPair::from_pem(&key_pem).map_err(|e| ca_error(caroot, e))?;
            if !key_matches(&cert, &key) {
                return Err(ca_error(
                    caroot,
                    "rootCA-key.pem is not the key of rootCA.pem; lo signs nothing with it. Restore the CA's own key, or point CAROOT at another folder",
                ));
            }
            return Ok((cert, key, None));
        }
        (true, false) => {
            return Err(ca_error(
                caroot,
                "rootCA.pem is there but its key (rootCA-key.pem) is not, and lo never writes a second key beside a CA \
                 certificate. Point CAROOT at the folder that holds both (mkcert -CAROOT shows mkcert's), or at an empty folder for a new CA",
            ));
        }
        (false, true) => {
            return Err(ca_error(
                caroot,
                "rootCA-key.pem is there without rootCA.pem; restore the certificate, or point CAROOT at an empty folder",
            ));
        }
        (false, false) => {}
    }
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(caroot)
        .map_err(|e| ca_error(caroot, e))?;
    let key = KeyPair::generate().map_err(|e| ca_error(caroot, e))?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, title);
    dn.push(DnType::CommonName, title);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
    let cert = params.self_signed(&key).map_err(|e| ca_error(caroot, e))?;
    let write = |path: &Path, text: &str, mode: u32| -> Result<(), DriverError> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(|e| ca_error(caroot, e))?;
        std::io::Write::write_all(&mut f, text.as_bytes()).map_err(|e| ca_error(caroot, e))
    };
    write(&key_path, &key.serialize_pem(), 0o400)?;
    write(&cert_path, &cert.pem(), 0o644)?;
    let note = format!(
        "created {title} in {}; lo does not install it anywhere. To trust it on this machine: CAROOT={} mkcert -install",
        caroot.display(),
        caroot.display()
    );
    Ok((cert.pem(), key, Some(note)))
}

/// Whether `key` is the key of the certificate in `cert_pem`.
fn key_matches(cert_pem: &str, key: &KeyPair) -> bool {
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()) else {
        return false;
    };
    let Ok(cert) = pem.parse_x509() else {
        return false;
    };
    cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw()
}

impl wit::Host for super::HostState {
    async fn issue(&mut self, sans: Vec<String>, valid_days: Option<u32>) -> Call<wit::Leaf> {
        let tls = crate::host::refusal::granted(&mut self.tls, "tls")?;
        Ok(tls.issue(&sans, valid_days).map(|(leaf, note)| {
            if let Some(note) = note {
                self.log.host_note(&note);
            }
            leaf
        }))
    }

    async fn ca_certificate(&mut self) -> Call<String> {
        let tls = crate::host::refusal::granted(&mut self.tls, "tls")?;
        Ok(tls.ca_bundle().map(|(pem, note)| {
            if let Some(note) = note {
                self.log.host_note(&note);
            }
            pem
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(dir: &Path, patterns: &[&str]) -> TlsCtx {
        TlsCtx::new(
            patterns.iter().map(|s| s.to_string()).collect(),
            dir.join("mkcert"),
            dir.join("project-ca"),
            "dev.example.com".into(),
            String::new(),
        )
    }

    #[test]
    fn san_patterns() {
        let p = vec!["*.probe.test".to_string(), "127.0.0.1".to_string()];
        assert!(san_allowed(&p, "a.probe.test"));
        assert!(san_allowed(&p, "A.B.Probe.Test"));
        assert!(!san_allowed(&p, "probe.test"));
        assert!(!san_allowed(&p, "evilprobe.test"));
        assert!(san_allowed(&p, "127.0.0.1"));
        assert!(!san_allowed(&p, "10.0.0.1"));
        assert!(san_allowed(&["*".to_string()], "anything.example"));
        assert!(!san_allowed(&[], "a.probe.test"));
    }

    #[test]
    fn san_syntax() {
        for ok in ["a.dev.test", "*.dev.test", "x-1.y", "10.0.0.1", "::1"] {
            assert!(parse_san(ok).is_ok(), "{ok}");
        }
        for bad in [
            "*.*.dev.test",
            ".dev.test",
            "evil.*.dev.test",
            "*.test",
            "a\0b.test",
            "a\nb.test",
            "a b.test",
            "-a.test",
            "a..test",
            "",
            &"a".repeat(64),
        ] {
            assert!(parse_san(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_user_ca_signs_only_the_projects_own_names() {
        let dir = tempfile::tempdir().unwrap();
        let t = ctx(dir.path(), &["*"]);
        let signer = |names: &[&str]| {
            let sans: Vec<San> = names.iter().map(|n| parse_san(n).unwrap()).collect();
            t.signer(&sans)
        };
        assert_eq!(signer(&["lok8s.local", "10.125.42.101"]), Signer::User);
        assert_eq!(signer(&["api.dev.example.com", "127.0.0.1"]), Signer::User);
        assert_eq!(signer(&["docker.io", "10.125.42.102"]), Signer::Project);
        assert_eq!(signer(&["lok8s.local", "8.8.8.8"]), Signer::Project);
        assert_eq!(signer(&["example.com"]), Signer::Project);
        let (mirror, _) = t.issue(&["docker.io".into()], None).unwrap();
        let (build, note) = t.issue(&["lok8s.local".into()], None).unwrap();
        assert!(note.is_some(), "the user's CA was made now");
        assert_ne!(
            mirror.ca_pem, build.ca_pem,
            "a public name is never signed by the user's CA"
        );
        let (_, note) = t.issue(&["lok8s.local".into()], None).unwrap();
        assert!(note.is_none(), "the note comes once, when the CA is made");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("project-ca/rootCA.pem")).unwrap(),
            mirror.ca_pem
        );
        let (bundle, _) = t.ca_bundle().unwrap();
        assert!(bundle.contains(build.ca_pem.trim()) && bundle.contains(mirror.ca_pem.trim()));
    }

    #[test]
    fn a_new_ca_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let t = ctx(dir.path(), &["*"]);
        let (first, note) = t.issue(&["a.dev.example.com".into()], None).unwrap();
        assert!(note.unwrap().contains("mkcert -install"));
        let (second, _) = t
            .issue(&["b.dev.example.com".into(), "127.0.0.1".into()], Some(30))
            .unwrap();
        assert_eq!(first.ca_pem, second.ca_pem);
        use std::os::unix::fs::PermissionsExt;
        let caroot = dir.path().join("mkcert");
        let mode = std::fs::metadata(caroot.join("rootCA-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
        let key_text = std::fs::read_to_string(caroot.join("rootCA-key.pem")).unwrap();
        assert!(
            !first
                .private_key_pem
                .contains(key_text.lines().nth(1).unwrap()),
            "the CA key leaked into a leaf"
        );
    }

    #[test]
    fn a_ca_folder_with_a_certificate_but_no_key_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let t = ctx(dir.path(), &["*"]);
        t.issue(&["lok8s.local".into()], None).unwrap();
        let caroot = dir.path().join("mkcert");
        std::fs::remove_file(caroot.join("rootCA-key.pem")).unwrap();
        let before = std::fs::read_dir(&caroot).unwrap().count();
        let err = t.issue(&["lok8s.local".into()], None).unwrap_err();
        assert!(
            format!("{err:?}").contains("never writes a second key"),
            "{err:?}"
        );
        assert_eq!(std::fs::read_dir(&caroot).unwrap().count(), before);
        // A key that is not the certificate's.
        std::fs::write(
            caroot.join("rootCA-key.pem"),
            KeyPair::generate().unwrap().serialize_pem(),
        )
        .unwrap();
        let err = t.issue(&["lok8s.local".into()], None).unwrap_err();
        assert!(
            format!("{err:?}").contains("is not the key of rootCA.pem"),
            "{err:?}"
        );
    }
}
