//! Where an entry's addon lives: `/<path>` is project-relative, `./<path>` and `../<path>`
//! are relative to `clusters/<domain>/`, and a bare name is the project's
//! `.lok8s/addons/<name>/` or else the catalogue built into `lo`. An addon is a kustomization
//! folder; a chart addon's kustomization has `helmCharts`. Folders a driver can write
//! (`.kubeconfig/`, `clusters/*/.state/`) are never addons: their content would be rendered
//! with lo's tools and applied with the cluster's admin credentials.

use include_dir::{Dir, include_dir};
use serde_yaml::Value;

use super::BootstrapError;
use crate::project::{Entry as FsEntry, Project, STATE_DIR};

static CATALOGUE: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/addons");

const KUSTOMIZATION_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];
const MAX_FILE: u64 = 1 << 20;

/// Where an addon's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A folder of the project, project-relative.
    Project(String),
    /// A folder of the catalogue built into `lo`.
    Catalogue(String),
}

#[derive(Debug, Clone)]
pub struct Addon {
    pub source: Source,
    /// For messages: the project-relative folder, or `catalogue:<name>`.
    pub shown: String,
    pub is_chart: bool,
    pub kustomization: Value,
}

impl Addon {
    /// The charts its kustomization renders: (name, version, repo).
    pub fn charts(&self) -> Vec<(String, String, String)> {
        let text = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or("-").to_string();
        self.kustomization
            .get("helmCharts")
            .and_then(Value::as_sequence)
            .map(|charts| {
                charts
                    .iter()
                    .map(|c| (text(c, "name"), text(c, "version"), text(c, "repo")))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Resolves references for one domain of one project.
pub struct Addons {
    project: Project,
    domain: String,
    /// Project folders some driver's `files` grant may write (project-relative).
    granted_writable: Vec<String>,
}

impl Addons {
    pub fn new(project: &Project, domain: &str) -> Addons {
        Addons {
            project: project.clone(),
            domain: domain.to_string(),
            granted_writable: Vec::new(),
        }
    }

    /// Also refuses addons inside these project folders (writable `files` grants of any driver).
    pub fn refusing_writable(mut self, folders: &[String]) -> Addons {
        self.granted_writable = folders
            .iter()
            .map(|f| f.trim_matches('/').to_string())
            .filter(|f| !f.is_empty())
            .collect();
        self
    }

    pub fn resolve(&self, reference: &str) -> Result<Addon, BootstrapError> {
        let not_found = |looked: String| {
            BootstrapError::problem(
                format!("addon not found: {looked}"),
                "create the folder with a kustomization.yaml, or name an addon `lo addons` lists",
            )
        };
        let rel = if let Some(rest) = reference.strip_prefix('/') {
            normalize(rest, reference)?
        } else if reference.starts_with("./") || reference.starts_with("../") {
            normalize(&format!("clusters/{}/{reference}", self.domain), reference)?
        } else {
            let rel = normalize(&format!(".lok8s/addons/{reference}"), reference)?;
            if !self.exists(&rel)? {
                return match catalogue(reference) {
                    Some(addon) => Ok(addon),
                    None => Err(not_found(format!(
                        "no {rel}/ in the project and no {reference:?} in lo's catalogue ({})",
                        catalogue_names().join(", ")
                    ))),
                };
            }
            rel
        };
        let granted = self.granted_writable.iter().find(|g| {
            let (a, b) = (format!("{rel}/"), format!("{g}/"));
            a.starts_with(&b) || b.starts_with(&a)
        });
        if driver_writable(&rel) || granted.is_some() {
            let why = granted.map_or_else(String::new, |g| {
                format!(" (a writable files grant in drivers.lock covers {g}/)")
            });
            return Err(BootstrapError::problem(
                format!("{reference:?} resolves to {rel}, a folder drivers can write{why}"),
                "keep addons in folders only you write, such as clusters/<domain>/addons/",
            ));
        }
        if !self.exists(&rel)? {
            return Err(not_found(format!("{rel}/ does not exist")));
        }
        let dir = self
            .project
            .inside()
            .and_then(|root| root.subdir(&rel, false));
        let dir = dir.map_err(|e| BootstrapError::problem(e.to_string(), "use a plain folder"))?;
        let Some(name) = KUSTOMIZATION_NAMES
            .iter()
            .find(|n| matches!(dir.kind(n), Ok(Some(FsEntry::File))))
        else {
            return Err(BootstrapError::problem(
                format!("{rel}/ has no kustomization.yaml"),
                "an addon is a kustomization folder: add a kustomization.yaml listing its resources",
            ));
        };
        let bytes = dir
            .read(name, MAX_FILE)
            .map_err(|e| BootstrapError::problem(e.to_string(), "make it a regular file"))?;
        let kustomization = parse_kustomization(&bytes, &format!("{rel}/{name}"))?;
        Ok(Addon {
            is_chart: has_charts(&kustomization),
            shown: rel.clone(),
            source: Source::Project(rel),
            kustomization,
        })
    }

    fn exists(&self, rel: &str) -> Result<bool, BootstrapError> {
        let root = self
            .project
            .inside()
            .map_err(|e| BootstrapError::problem(e.to_string(), "check the project folder"))?;
        match root.subdir(rel, false) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(BootstrapError::problem(e.to_string(), "use a plain folder")),
        }
    }

    /// The project's own addons (`.lok8s/addons/*`), then the catalogue's not shadowed by them.
    pub fn list(&self) -> Vec<(String, Result<Addon, BootstrapError>)> {
        let mut found: Vec<(String, Result<Addon, BootstrapError>)> = Vec::new();
        let own = self
            .project
            .inside()
            .and_then(|root| root.subdir(".lok8s/addons", false));
        if let Ok(own) = own
            && let Ok(entries) = std::fs::read_dir(own.shown())
        {
            let mut names: Vec<String> = entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with('.'))
                .collect();
            names.sort();
            for name in names {
                let resolved = self.resolve(&name);
                found.push((name, resolved));
            }
        }
        for name in catalogue_names() {
            if !found.iter().any(|(n, _)| n == name) {
                found.push((
                    name.to_string(),
                    catalogue(name).ok_or_else(|| unreachable_addon(name)),
                ));
            }
        }
        found
    }
}

fn unreachable_addon(name: &str) -> BootstrapError {
    BootstrapError::problem(format!("catalogue addon {name} is broken"), "report it")
}

/// A project-relative path with `.` and `..` resolved lexically; `..` past the root is refused.
fn normalize(path: &str, reference: &str) -> Result<String, BootstrapError> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(BootstrapError::problem(
                        format!("{reference:?} leads outside the project"),
                        "keep addons inside the project: /<path> is project-relative, ./<path> is relative to clusters/<domain>/",
                    ));
                }
            }
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Err(BootstrapError::problem(
            format!("{reference:?} names the project itself"),
            "name the addon's own folder",
        ));
    }
    Ok(parts.join("/"))
}

fn driver_writable(rel: &str) -> bool {
    let parts: Vec<&str> = rel.split('/').collect();
    parts[0] == ".kubeconfig" || (parts[0] == "clusters" && parts.get(2) == Some(&STATE_DIR))
}

fn has_charts(kustomization: &Value) -> bool {
    kustomization
        .get("helmCharts")
        .and_then(Value::as_sequence)
        .is_some_and(|c| !c.is_empty())
}

fn parse_kustomization(bytes: &[u8], shown: &str) -> Result<Value, BootstrapError> {
    let value: Value = serde_yaml::from_slice(bytes).map_err(|e| {
        BootstrapError::problem(
            format!("{shown}: invalid YAML: {e}"),
            "fix the kustomization",
        )
    })?;
    if !value.is_mapping() {
        return Err(BootstrapError::problem(
            format!("{shown}: is not a map"),
            "a kustomization is a map with resources:, helmCharts: and so on",
        ));
    }
    Ok(value)
}

/// The catalogue's addon names, sorted.
pub fn catalogue_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = CATALOGUE
        .dirs()
        .filter_map(|d| d.path().file_name()?.to_str())
        .collect();
    names.sort();
    names
}

fn catalogue(name: &str) -> Option<Addon> {
    let dir = CATALOGUE.get_dir(name)?;
    let file = dir.get_file(format!("{name}/kustomization.yaml"))?;
    let kustomization = parse_kustomization(file.contents(), &format!("catalogue:{name}")).ok()?;
    Some(Addon {
        source: Source::Catalogue(name.to_string()),
        shown: format!("catalogue:{name}"),
        is_chart: has_charts(&kustomization),
        kustomization,
    })
}

/// A catalogue addon's files: (path inside the addon, contents).
pub fn catalogue_files(name: &str) -> Vec<(String, &'static [u8])> {
    fn walk(dir: &'static Dir<'static>, base: &str, out: &mut Vec<(String, &'static [u8])>) {
        for f in dir.files() {
            let path = f.path().to_string_lossy();
            let inner = path.strip_prefix(&format!("{base}/")).unwrap_or(&path);
            out.push((inner.to_string(), f.contents()));
        }
        for d in dir.dirs() {
            walk(d, base, out);
        }
    }
    let mut out = Vec::new();
    if let Some(dir) = CATALOGUE.get_dir(name) {
        walk(dir, name, &mut out);
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_stay_in_the_project() {
        assert_eq!(
            normalize("clusters/a.dev/./x/../y", "r").unwrap(),
            "clusters/a.dev/y"
        );
        assert!(normalize("clusters/a.dev/../../../etc", "r").is_err());
        assert!(driver_writable("clusters/a.dev/.state/x"));
        assert!(driver_writable(".kubeconfig/.drivers/a.dev"));
        assert!(!driver_writable("clusters/a.dev/addons/x"));
    }

    #[test]
    fn folders_a_files_grant_may_write_are_never_rendered() {
        let dir = tempfile::tempdir().unwrap();
        for folder in ["shared/addons/x", "clusters/a.dev/addons/y"] {
            std::fs::create_dir_all(dir.path().join(folder)).unwrap();
            std::fs::write(
                dir.path().join(folder).join("kustomization.yaml"),
                "resources: []\n",
            )
            .unwrap();
        }
        let project = Project::at(dir.path()).unwrap();
        let addons = Addons::new(&project, "a.dev").refusing_writable(&["shared/".into()]);
        let err = addons.resolve("/shared/addons/x").unwrap_err().to_string();
        assert!(err.contains("covers shared/"), "{err}");
        // A grant of a folder inside the addon is refused too; others' addons are not.
        let inner =
            Addons::new(&project, "a.dev").refusing_writable(&["shared/addons/x/sub".into()]);
        assert!(inner.resolve("/shared/addons/x").is_err());
        assert!(addons.resolve("./addons/y").is_ok());
        let sibling =
            Addons::new(&project, "a.dev").refusing_writable(&["shared/addons/xy".into()]);
        assert!(
            sibling.resolve("/shared/addons/x").is_ok(),
            "a name prefix is not a folder"
        );
    }

    #[test]
    fn the_catalogue_is_complete() {
        let names = catalogue_names();
        for required in [
            "cert-manager",
            "cilium",
            "local-path-provisioner",
            "metallb",
            "metrics-server",
        ] {
            assert!(names.contains(&required), "{names:?}");
            let addon = catalogue(required).expect(required);
            assert!(!catalogue_files(required).is_empty());
            if required != "local-path-provisioner" {
                assert!(addon.is_chart, "{required}");
            }
        }
    }
}
