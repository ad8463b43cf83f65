//! The `tls` import: leaf certificates from the local development CA. Guards the CA key: it
//! is read here and never crosses into the guest, which gets the leaf, the leaf's key and the
//! public CA certificate. The CA is mkcert's (`$CAROOT`, else `~/.local/share/mkcert`), reused
//! as is when present and created in mkcert's layout otherwise, so `mkcert -install` trusts
//! what `lo` issues. Each SAN must match the driver's grant.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use crate::engine::bindings::lok8s::driver::tls as wit;
use crate::engine::bindings::types::DriverError;

const MAX_VALID_DAYS: u32 = 825;

/// One driver's access to the CA.
pub struct TlsCtx {
    /// SAN patterns: `*` (any), `*.example.com` (subdomains), or exact names and addresses.
    patterns: Vec<String>,
    caroot: PathBuf,
    hint: String,
}

impl TlsCtx {
    pub fn new(patterns: Vec<String>, caroot: PathBuf, hint: String) -> Self {
        TlsCtx {
            patterns,
            caroot,
            hint,
        }
    }

    /// mkcert's CAROOT: `$CAROOT`, else `$XDG_DATA_HOME/mkcert`, else `~/.local/share/mkcert`.
    pub fn default_caroot() -> PathBuf {
        if let Some(dir) = std::env::var_os("CAROOT").filter(|v| !v.is_empty()) {
            return PathBuf::from(dir);
        }
        dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("mkcert")
    }

    fn issue(&self, sans: &[String], valid_days: Option<u32>) -> Result<wit::Leaf, DriverError> {
        if sans.is_empty() {
            return Err(DriverError::Failed(
                "tls issue: give at least one DNS name or IP address".into(),
            ));
        }
        if let Some(san) = sans.iter().find(|s| !san_allowed(&self.patterns, s)) {
            return Err(DriverError::Denied(format!(
                "tls issue for {san:?}: not among the granted names [{}]; add it to tls ({})",
                self.patterns.join(", "),
                self.hint
            )));
        }
        let (ca_pem, ca_key) = load_or_create_ca(&self.caroot)?;
        let issuer =
            Issuer::from_ca_cert_pem(&ca_pem, ca_key).map_err(|e| ca_error(&self.caroot, e))?;
        let mut params = CertificateParams::new(sans.to_vec())
            .map_err(|e| DriverError::Failed(format!("tls issue: {e}")))?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "lok8s development certificate");
        dn.push(DnType::CommonName, sans[0].clone());
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
        Ok(wit::Leaf {
            certificate_pem: cert.pem(),
            private_key_pem: key.serialize_pem(),
            ca_pem,
        })
    }
}

/// Whether `san` matches one of the granted patterns.
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

/// mkcert's `rootCA.pem` and `rootCA-key.pem`, created (ECDSA P-256, 10 years) if absent.
fn load_or_create_ca(caroot: &Path) -> Result<(String, KeyPair), DriverError> {
    let cert_path = caroot.join("rootCA.pem");
    let key_path = caroot.join("rootCA-key.pem");
    if cert_path.is_file() && key_path.is_file() {
        let cert = std::fs::read_to_string(&cert_path).map_err(|e| ca_error(caroot, e))?;
        let key_pem = std::fs::read_to_string(&key_path).map_err(|e| ca_error(caroot, e))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| ca_error(caroot, e))?;
        return Ok((cert, key));
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
    dn.push(DnType::OrganizationName, "lok8s development CA");
    dn.push(DnType::CommonName, "lok8s development CA");
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
    Ok((cert.pem(), key))
}

impl wit::Host for super::HostState {
    async fn issue(
        &mut self,
        sans: Vec<String>,
        valid_days: Option<u32>,
    ) -> wasmtime::Result<Result<wit::Leaf, DriverError>> {
        let tls = self
            .tls
            .as_ref()
            .ok_or_else(|| wasmtime::format_err!("tls called without a tls grant"))?;
        Ok(tls.issue(&sans, valid_days))
    }

    async fn ca_certificate(&mut self) -> wasmtime::Result<Result<String, DriverError>> {
        let tls = self
            .tls
            .as_ref()
            .ok_or_else(|| wasmtime::format_err!("tls called without a tls grant"))?;
        Ok(load_or_create_ca(&tls.caroot).map(|(pem, _)| pem))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_new_ca_is_created_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let caroot = dir.path().join("mkcert");
        let ctx = TlsCtx::new(vec!["*".into()], caroot.clone(), String::new());
        let first = ctx.issue(&["a.test".into()], None).unwrap();
        let second = ctx
            .issue(&["b.test".into(), "127.0.0.1".into()], Some(30))
            .unwrap();
        assert_eq!(first.ca_pem, second.ca_pem);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(caroot.join("rootCA-key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
        assert!(
            !first.private_key_pem.is_empty()
                && first.certificate_pem.contains("BEGIN CERTIFICATE")
        );
        let key_text = std::fs::read_to_string(caroot.join("rootCA-key.pem")).unwrap();
        assert!(
            !first
                .private_key_pem
                .contains(key_text.lines().nth(1).unwrap()),
            "the CA key leaked into a leaf"
        );
    }
}
