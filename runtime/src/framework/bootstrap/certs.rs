//! Certificates a secrets generator asks for (`cert: {hosts: [...]}`): a leaf for those hosts,
//! signed under the tls capability's rule (the user's CA for the project's own names, the
//! project's CA otherwise), cached in `.lok8s/secrets/<domain>/` (a folder no driver grant can
//! reach), so a re-run applies the same Secret until the hosts change or the leaf nears its end.

use std::path::{Path, PathBuf};

use crate::project::{Inside, Project};

/// A cached leaf is replaced this long before it expires.
const RENEW_BEFORE_DAYS: i64 = 30;

/// What a `cert:` generator makes: `tls.crt`, `tls.key`, `ca.crt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaf {
    pub cert: String,
    pub key: String,
    pub ca: String,
}

/// How a render gets leaves: issued (and cached), left empty in a dry run (nothing is issued
/// or written), or refused when the run was given no CA folder.
#[derive(Debug, Clone, Copy)]
pub enum Certs<'a> {
    Issue(&'a CertSource),
    DryRun,
    NoCa,
}

impl Certs<'_> {
    pub fn leaf(&self, id: &str, hosts: &[String]) -> Result<Leaf, String> {
        match self {
            Certs::Issue(source) => source.leaf(id, hosts),
            Certs::DryRun => Ok(Leaf {
                cert: String::new(),
                key: String::new(),
                ca: String::new(),
            }),
            Certs::NoCa => Err("this run has no CA folder (CAROOT) to sign certificates".into()),
        }
    }
}

/// Where leaves come from for one cluster.
#[derive(Debug, Clone)]
pub struct CertSource {
    caroot: PathBuf,
    project_ca: PathBuf,
    domain: String,
    project: Project,
}

/// Largest cached file `lo` reads back.
const MAX_CACHED: u64 = 64 << 10;

impl CertSource {
    pub fn new(project: &Project, domain: &str, caroot: &Path) -> Self {
        CertSource {
            caroot: caroot.to_path_buf(),
            project_ca: project.root().join(".lok8s").join("project-ca"),
            domain: domain.to_string(),
            project: project.clone(),
        }
    }

    /// `.lok8s/secrets/<domain>/`, created owner-only, reached without following links.
    fn cache(&self) -> Result<Inside, String> {
        use std::os::unix::fs::DirBuilderExt;
        let rel = format!(".lok8s/secrets/{}", self.domain);
        let path = self.project.root().join(&rel);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        self.project
            .inside()
            .and_then(|root| root.subdir(&rel, false))
            .map_err(|e| e.to_string())
    }

    /// The leaf for Secret `id` (`<namespace>.<name>`) and `hosts`: the cached one when it
    /// was made for exactly these hosts and is not near its end, else a new one (cached).
    pub fn leaf(&self, id: &str, hosts: &[String]) -> Result<Leaf, String> {
        let cache = self.cache()?;
        let file = |ext: &str| format!("Secret.{id}.{ext}");
        let wanted = format!("{}\n", hosts.join("\n"));
        let read = |ext: &str| {
            let bytes = cache.read(&file(ext), MAX_CACHED).ok()?;
            String::from_utf8(bytes).ok()
        };
        if let (Some(cert), Some(key), Some(ca), Some(saved)) = (
            read("tls.crt"),
            read("tls.key"),
            read("ca.crt"),
            read("hosts"),
        ) && saved == wanted
            && fresh(&cert)
        {
            return Ok(Leaf { cert, key, ca });
        }
        let (cert, key, ca) =
            crate::host::tls::issue_for_lo(&self.caroot, &self.project_ca, &self.domain, hosts)?;
        for (ext, text) in [
            ("tls.key", &key),
            ("tls.crt", &cert),
            ("ca.crt", &ca),
            ("hosts", &wanted),
        ] {
            cache
                .write(&file(ext), text.as_bytes(), 0o600)
                .map_err(|e| e.to_string())?;
        }
        Ok(Leaf { cert, key, ca })
    }
}

/// Whether the certificate is valid for at least [`RENEW_BEFORE_DAYS`] more.
fn fresh(cert_pem: &str) -> bool {
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()) else {
        return false;
    };
    let Ok(cert) = pem.parse_x509() else {
        return false;
    };
    let renew_at = time::OffsetDateTime::now_utc() + time::Duration::days(RENEW_BEFORE_DAYS);
    cert.validity().not_after.to_datetime() > renew_at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leaf_is_cached_for_its_hosts_and_remade_when_they_change() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("clusters")).unwrap();
        let project = Project::at(dir.path()).unwrap();
        let caroot = dir.path().join("ca");
        let source = CertSource::new(&project, "a.dev", &caroot);
        let hosts = vec!["web.a.dev".to_string(), "10.1.2.3".to_string()];
        let first = source.leaf("demo.web-tls", &hosts).unwrap();
        assert_eq!(source.leaf("demo.web-tls", &hosts).unwrap(), first);
        let key = dir
            .path()
            .join(".lok8s/secrets/a.dev/Secret.demo.web-tls.tls.key");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // The project's own names are signed by the user's CA.
        assert_eq!(
            first.ca,
            std::fs::read_to_string(caroot.join("rootCA.pem")).unwrap()
        );
        let other = source
            .leaf("demo.web-tls", &["api.a.dev".to_string()])
            .unwrap();
        assert_ne!(other.cert, first.cert);
        // A public name is signed by the project's CA, which only the cluster trusts.
        let public = source
            .leaf("demo.pub", &["example.com".to_string()])
            .unwrap();
        assert_eq!(
            public.ca,
            std::fs::read_to_string(dir.path().join(".lok8s/project-ca/rootCA.pem")).unwrap()
        );
    }
}
