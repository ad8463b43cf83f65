//! Origins and CA files the operator names rather than the grant: an http grant entry
//! `spec:<path>` is the origin of the URL at `spec.<path>` in the cluster spec, `env:<NAME>` the
//! origin of the URL in that environment variable; an `http-trust` entry of the same form names
//! a CA file (PEM) trusted for the driver's requests besides the system roots. The operator
//! writes both the spec and the environment; the driver writes neither, so nothing here lets a
//! driver choose where it may connect. Unset values name nothing.

use std::path::PathBuf;

pub use crate::host::operator::{Named, OperatorValues};

/// The grant's entries with each operator-named one replaced by the origin it names now.
pub fn resolve_origins(entries: &[String], values: &OperatorValues) -> Result<Vec<String>, String> {
    crate::host::operator::resolve_with(entries, values, |named, url| {
        origin_of(&url).map_err(|why| {
            // An environment variable's value is not repeated: it could be a secret set by mistake.
            let shown = match named {
                Named::Spec(_) => format!("{} = {url:?}", named.field()),
                Named::Env(_) => named.field(),
            };
            format!("{shown}: {why}; write the API's address as https://host[:port]")
        })
    })
}

/// `scheme://host:port` of an http(s) URL.
fn origin_of(url: &str) -> Result<String, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("a URL with credentials in it is not an API address".into());
    }
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme {:?} is not http or https",
            parsed.scheme()
        ));
    }
    let host = parsed.host_str().ok_or("no host")?;
    let port = parsed.port_or_known_default().ok_or("no port")?;
    Ok(format!("{}://{host}:{port}", parsed.scheme()))
}

/// The CA certificates the `http-trust` entries name, read and parsed now (a relative spec
/// path starts from the spec's folder, as the user reads it).
pub fn trusted_cas(
    entries: &[String],
    values: &OperatorValues,
) -> Result<Vec<reqwest::Certificate>, String> {
    let mut out = Vec::new();
    for entry in entries {
        let named = Named::parse(entry).unwrap_or_else(|| {
            Err(format!(
                "http-trust entry {entry:?}: write spec:<field.path> or env:<NAME>"
            ))
        })?;
        let Some(file) = named.value(values.spec, values.env) else {
            continue;
        };
        let path = match (&named, PathBuf::from(&file)) {
            (Named::Spec(_), p) if p.is_relative() => values.spec_dir.join(p),
            (_, p) => p,
        };
        let field = named.field();
        let pem = std::fs::read(&path).map_err(|e| {
            format!(
                "{field} points to a missing file: {file} ({}: {e}); name a PEM CA certificate",
                path.display()
            )
        })?;
        // The parse error would quote the file; say only what it is not.
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                format!("{field} = {file}: not a PEM certificate; name the CA's certificate file")
            })?;
        out.extend(certs);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_yaml::Value;
    use std::path::Path;

    fn spec() -> Value {
        serde_yaml::from_str("kkp: {apiUrl: 'https://kkp.example.test:8443/', caCert: ca.pem}\nbad: {url: 'ftp://x'}")
            .unwrap()
    }

    #[test]
    fn operator_named_entries_become_the_origins_they_name_now() {
        let spec = spec();
        let env = |name: &str| (name == "KKP_API_URL").then(|| "https://10.0.0.1".to_string());
        let values = OperatorValues {
            spec: &spec,
            spec_dir: Path::new("/nowhere"),
            env: &env,
        };
        let entries = [
            "https://fixed.test:443",
            "spec:kkp.apiUrl",
            "env:KKP_API_URL",
            "env:UNSET",
            "spec:kkp.none",
        ]
        .map(String::from);
        assert_eq!(
            resolve_origins(&entries, &values).unwrap(),
            [
                "https://fixed.test:443",
                "https://kkp.example.test:8443",
                "https://10.0.0.1:443"
            ]
        );
        let err = resolve_origins(&["spec:bad.url".into()], &values).unwrap_err();
        assert!(
            err.starts_with("spec.bad.url = \"ftp://x\": the scheme"),
            "{err}"
        );
        assert!(Named::parse("spec:a..b").unwrap().is_err());
        assert!(Named::parse("env:1X").unwrap().is_err());
    }

    #[test]
    fn a_trusted_ca_is_read_from_the_spec_folder_and_must_be_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec();
        let env = |_: &str| None;
        let values = OperatorValues {
            spec: &spec,
            spec_dir: dir.path(),
            env: &env,
        };
        let entries = ["spec:kkp.caCert".to_string()];
        let err = trusted_cas(&entries, &values).unwrap_err();
        assert!(
            err.starts_with("spec.kkp.caCert points to a missing file: ca.pem"),
            "{err}"
        );
        std::fs::write(dir.path().join("ca.pem"), "secret text, not a certificate").unwrap();
        let err = trusted_cas(&entries, &values).unwrap_err();
        assert!(!err.contains("secret text"), "{err}");
        let ca = rcgen::generate_simple_self_signed(vec!["ca.test".into()]).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).unwrap();
        assert_eq!(trusted_cas(&entries, &values).unwrap().len(), 1);
    }
}
