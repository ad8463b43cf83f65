//! Loading `clusters/<domain>/cluster.lok8s.yaml` (or `deploy.lok8s.yaml`): only what `lo`
//! itself needs (kind, name); the rest of the spec is the driver's to validate.

use std::path::PathBuf;

use super::Project;

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error(
        "no cluster.lok8s.yaml or deploy.lok8s.yaml in clusters/{0}/ (create one, or pick another domain with 'lo use')"
    )]
    Missing(String),
    #[error("{file}: {message}")]
    Unreadable { file: String, message: String },
    #[error("{file}:{line}:{column}: invalid YAML: {message}")]
    Yaml {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {field}: {message}")]
    Field {
        file: String,
        field: &'static str,
        message: String,
    },
    #[error(
        "cannot {action} {domain}: it is a deployment domain (clusters/{domain}/deploy.lok8s.yaml); \
         deployment domains reference a cluster through spec.clusterRef.domain{target}"
    )]
    DeployDomain {
        domain: String,
        action: &'static str,
        target: String,
    },
}

/// A cluster domain's spec: what `lo` reads from it plus the full text for the driver.
#[derive(Debug, Clone)]
pub struct ClusterSpec {
    pub domain: String,
    /// Project-relative path, `clusters/<domain>/cluster.lok8s.yaml`.
    pub file: String,
    pub path: PathBuf,
    pub text: String,
    /// `kind:` as written.
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
}

#[derive(Debug, Clone)]
pub enum SpecFile {
    Cluster(ClusterSpec),
    /// A deployment domain and the cluster domain it references, if any.
    Deploy {
        domain: String,
        cluster_ref: Option<String>,
    },
}

impl SpecFile {
    /// Loads the domain's spec; a cluster spec wins when both files exist.
    pub fn load(project: &Project, domain: &str) -> Result<SpecFile, SpecError> {
        let dir = project.clusters_dir().join(domain);
        let cluster = dir.join("cluster.lok8s.yaml");
        let folder = project
            .inside()
            .and_then(|root| root.subdir(&format!("clusters/{domain}"), false));
        let present = |name: &str| {
            folder
                .as_ref()
                .ok()
                .and_then(|f| f.kind(name).ok().flatten())
                .is_some()
        };
        if present("cluster.lok8s.yaml") {
            let file = format!("clusters/{domain}/cluster.lok8s.yaml");
            let text = read(&folder, "cluster.lok8s.yaml", &file)?;
            let doc = parse(&text, &file)?;
            let kind = string_field(
                &doc,
                &["kind"],
                "kind",
                &file,
                "set it to the cluster kind, such as `kind: Lo`",
            )?;
            check_kind(&kind, &file)?;
            let name = string_field(
                &doc,
                &["metadata", "name"],
                "metadata.name",
                &file,
                "set the cluster's name, such as `metadata:\\n  name: dev`",
            )?;
            check_name(&name, &file)?;
            Ok(SpecFile::Cluster(ClusterSpec {
                domain: domain.to_string(),
                file,
                path: cluster,
                text,
                kind,
                name,
            }))
        } else if present("deploy.lok8s.yaml") {
            let file = format!("clusters/{domain}/deploy.lok8s.yaml");
            let doc = parse(&read(&folder, "deploy.lok8s.yaml", &file)?, &file)?;
            let cluster_ref = lookup(&doc, &["spec", "clusterRef", "domain"])
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string);
            if let Some(target) = &cluster_ref {
                super::validate_domain(target).map_err(|e| SpecError::Field {
                    file: file.clone(),
                    field: "spec.clusterRef.domain",
                    message: e.to_string(),
                })?;
            }
            Ok(SpecFile::Deploy {
                domain: domain.to_string(),
                cluster_ref,
            })
        } else {
            Err(SpecError::Missing(domain.to_string()))
        }
    }

    /// The cluster spec, or a clear refusal for a deployment domain.
    pub fn into_cluster(self, action: &'static str) -> Result<ClusterSpec, SpecError> {
        match self {
            SpecFile::Cluster(spec) => Ok(spec),
            SpecFile::Deploy {
                domain,
                cluster_ref,
            } => {
                let target = match cluster_ref {
                    Some(r) => {
                        format!(" ({r}): run it on that domain, or use 'lo deploy {domain}'")
                    }
                    None => String::new(),
                };
                Err(SpecError::DeployDomain {
                    domain,
                    action,
                    target,
                })
            }
        }
    }

    /// `kind:` for listings (`Deploy` for deployment domains).
    pub fn kind_label(&self) -> String {
        match self {
            SpecFile::Cluster(spec) => spec.kind.clone(),
            SpecFile::Deploy { cluster_ref, .. } => {
                format!("Deploy -> {}", cluster_ref.as_deref().unwrap_or("?"))
            }
        }
    }
}

/// Reads a spec file through the domain folder's handle: a regular file of that name, never a
/// link (to keep a planted link from making `lo` read other files into `ctx.spec`), never a
/// FIFO, at most 1 MiB.
fn read(
    folder: &Result<super::Inside, super::InsideError>,
    name: &str,
    file: &str,
) -> Result<String, SpecError> {
    let unreadable = |message: String| SpecError::Unreadable {
        file: file.to_string(),
        message,
    };
    let folder = folder.as_ref().map_err(|e| unreadable(e.to_string()))?;
    let bytes = folder.read(name, 1 << 20).map_err(|e| match e {
        super::InsideError::Link { .. } => unreadable(
            "is a link, which lo does not follow for specs; replace the link with the file itself"
                .into(),
        ),
        other => unreadable(other.to_string()),
    })?;
    String::from_utf8(bytes).map_err(|_| unreadable("is not UTF-8".into()))
}

fn parse(text: &str, file: &str) -> Result<serde_yaml::Value, SpecError> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((0, 0));
        SpecError::Yaml {
            file: file.to_string(),
            line,
            column,
            message: e.to_string(),
        }
    })?;
    if !doc.is_mapping() {
        return Err(SpecError::Unreadable {
            file: file.to_string(),
            message: "expected a mapping with apiVersion, kind, metadata and spec at the top level"
                .into(),
        });
    }
    Ok(doc)
}

fn lookup<'a>(doc: &'a serde_yaml::Value, path: &[&str]) -> Option<&'a serde_yaml::Value> {
    path.iter().try_fold(doc, |node, key| node.get(*key))
}

fn string_field(
    doc: &serde_yaml::Value,
    path: &[&str],
    field: &'static str,
    file: &str,
    fix: &str,
) -> Result<String, SpecError> {
    let err = |message: String| SpecError::Field {
        file: file.to_string(),
        field,
        message,
    };
    match lookup(doc, path) {
        None | Some(serde_yaml::Value::Null) => Err(err(format!("missing; {fix}"))),
        Some(serde_yaml::Value::String(s)) if s.trim().is_empty() => {
            Err(err(format!("is empty; {fix}")))
        }
        Some(serde_yaml::Value::String(s)) => Ok(s.clone()),
        Some(other) => Err(err(format!(
            "expected a string, found {}; {fix}",
            yaml_type(other)
        ))),
    }
}

fn check_kind(kind: &str, file: &str) -> Result<(), SpecError> {
    let ok = kind.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && kind.len() <= 63;
    if ok {
        return Ok(());
    }
    Err(SpecError::Field {
        file: file.to_string(),
        field: "kind",
        message: format!(
            "{kind:?} is not a kind name (a letter, then letters, digits or '-', such as Lo or KubeOne)"
        ),
    })
}

/// The name becomes `.kubeconfig/<name>.yaml` and Docker object names: a DNS label keeps both safe.
fn check_name(name: &str, file: &str) -> Result<(), SpecError> {
    let ok = name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        return Ok(());
    }
    Err(SpecError::Field {
        file: file.to_string(),
        field: "metadata.name",
        message: format!(
            "{name:?} is not allowed: use lowercase letters, digits and '-', at most 63 characters, \
             starting and ending with a letter or digit (such as dev)"
        ),
    })
}

fn yaml_type(value: &serde_yaml::Value) -> &'static str {
    match value {
        serde_yaml::Value::Null => "null",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_with(domain: &str, file: &str, text: &str) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("clusters").join(domain);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(file), text).unwrap();
        let project = Project::at(dir.path()).unwrap();
        (dir, project)
    }

    #[test]
    fn loads_kind_and_name() {
        let (_d, p) = project_with(
            "a.dev",
            "cluster.lok8s.yaml",
            "kind: Lo\nmetadata:\n  name: dev\n",
        );
        let SpecFile::Cluster(spec) = SpecFile::load(&p, "a.dev").unwrap() else {
            panic!()
        };
        assert_eq!((spec.kind.as_str(), spec.name.as_str()), ("Lo", "dev"));
    }

    #[test]
    fn yaml_errors_carry_line_and_column() {
        let (_d, p) = project_with(
            "a.dev",
            "cluster.lok8s.yaml",
            "kind: Lo\nmetadata:\n  name: [dev\n",
        );
        let err = SpecFile::load(&p, "a.dev").unwrap_err().to_string();
        assert!(
            err.starts_with("clusters/a.dev/cluster.lok8s.yaml:"),
            "{err}"
        );
        assert!(err.contains("invalid YAML"), "{err}");
    }

    #[test]
    fn missing_and_bad_fields_are_named() {
        let (_d, p) = project_with("a.dev", "cluster.lok8s.yaml", "kind: Lo\nmetadata: {}\n");
        let err = SpecFile::load(&p, "a.dev").unwrap_err().to_string();
        assert!(err.contains("metadata.name: missing"), "{err}");
        let (_d, p) = project_with(
            "a.dev",
            "cluster.lok8s.yaml",
            "kind: Lo\nmetadata:\n  name: ../x\n",
        );
        let err = SpecFile::load(&p, "a.dev").unwrap_err().to_string();
        assert!(
            err.contains("metadata.name: \"../x\" is not allowed"),
            "{err}"
        );
        let (_d, p) = project_with(
            "a.dev",
            "cluster.lok8s.yaml",
            "kind: 7\nmetadata:\n  name: x\n",
        );
        let err = SpecFile::load(&p, "a.dev").unwrap_err().to_string();
        assert!(
            err.contains("kind: expected a string, found a number"),
            "{err}"
        );
    }

    #[test]
    fn deploy_domains_are_refused_with_their_reference() {
        let (_d, p) = project_with(
            "app.dev",
            "deploy.lok8s.yaml",
            "kind: Deploy\nspec:\n  clusterRef:\n    domain: c.dev\n",
        );
        let err = SpecFile::load(&p, "app.dev")
            .unwrap()
            .into_cluster("provision")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("deployment domain") && err.contains("c.dev"),
            "{err}"
        );
    }
}
