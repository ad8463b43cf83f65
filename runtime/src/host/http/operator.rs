//! Origins and CA files the operator names rather than the grant: an http grant entry
//! `spec:<path>` is the origin of the URL at `spec.<path>` in the cluster spec, `env:<NAME>` the
//! origin of the URL in that environment variable; an `http-trust` entry of the same form names
//! a CA file (PEM) trusted for the driver's requests besides the system roots. The operator
//! writes both the spec and the environment; the driver writes neither, so nothing here lets a
//! driver choose where it may connect. Unset values name nothing.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// Where an operator-named value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A dotted path below `spec:`.
    Spec(String),
    /// An environment variable.
    Env(String),
}

impl Named {
    /// `spec:a.b` or `env:NAME`; None for any other entry (a literal origin).
    pub fn parse(entry: &str) -> Option<Result<Named, String>> {
        let bad = |why: &str| {
            format!("grant entry {entry:?}: {why}; write spec:<field.path> or env:<NAME>")
        };
        if let Some(path) = entry.strip_prefix("spec:") {
            let ok = !path.is_empty()
                && path.split('.').all(|k| {
                    !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                });
            return Some(
                ok.then(|| Named::Spec(path.into()))
                    .ok_or_else(|| bad("not a field path")),
            );
        }
        if let Some(name) = entry.strip_prefix("env:") {
            let ok = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            return Some(
                ok.then(|| Named::Env(name.into()))
                    .ok_or_else(|| bad("not a variable name")),
            );
        }
        None
    }

    /// How `lo drivers show` and errors name it.
    pub fn field(&self) -> String {
        match self {
            Named::Spec(path) => format!("spec.{path}"),
            Named::Env(name) => format!("${name}"),
        }
    }

    /// Its text, if set and not empty.
    fn value(&self, spec: &Value, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let text = match self {
            Named::Spec(path) => path
                .split('.')
                .try_fold(spec, |at, key| at.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_string),
            Named::Env(name) => env(name),
        };
        text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
    }
}

/// An http grant entry as `lo drivers show` says it.
pub fn shown(entry: &str) -> String {
    match Named::parse(entry) {
        Some(Ok(named)) => format!("the origin in {}", named.field()),
        _ => entry.to_string(),
    }
}

/// The operator's values for a driver: the spec's `spec:` section, the folder relative file
/// names in it start from, and the environment.
pub struct OperatorValues<'a> {
    pub spec: &'a Value,
    pub spec_dir: &'a Path,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// The grant's entries with each operator-named one replaced by the origin it names now.
pub fn resolve_origins(entries: &[String], values: &OperatorValues) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in entries {
        let named = match Named::parse(entry) {
            None => {
                out.push(entry.clone());
                continue;
            }
            Some(named) => named?,
        };
        let Some(url) = named.value(values.spec, values.env) else {
            continue;
        };
        out.push(origin_of(&url).map_err(|why| {
            // An environment variable's value is not repeated: it could be a secret set by mistake.
            let shown = match named {
                Named::Spec(_) => format!("{} = {url:?}", named.field()),
                Named::Env(_) => named.field(),
            };
            format!("{shown}: {why}; write the API's address as https://host[:port]")
        })?);
    }
    Ok(out)
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
