//! Rendering one entry: its addon folder (a copy when values are layered or the addon comes
//! from the catalogue), `kustomize build` or `kubectl kustomize` (with Helm support for chart
//! addons) run with only the entry's environment, then substitution and checks on the parsed
//! objects. Values layering for chart addons, lowest first: `values.yaml`,
//! `values.<kind>.yaml`, `values.<provider>.yaml`, the entry's inline values; merged into one
//! file that becomes the first chart's `valuesFile`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt as _;

use super::BootstrapError;
use super::addons::{Source, catalogue_files};
use super::entries::Entry;
use super::secrets;
use super::substitute::{deep_merge, stringify_env_values, substitute};
use crate::project::{Entry as FsEntry, Inside, Project};

/// How long one render may take (charts are downloaded during it).
const RENDER_TIMEOUT: Duration = Duration::from_secs(600);
const MAX_OUTPUT: usize = 64 << 20;
/// Files copied from a project addon: enough for any kustomization, not a runaway tree.
const MAX_COPY_FILES: usize = 2000;
const MAX_COPY_FILE: u64 = 16 << 20;
const MERGED_VALUES: &str = "values.lok8s-merged.yaml";

/// Environment variables a render keeps from lo's own: where tools are, where Helm keeps its
/// cache, and proxies for chart downloads. Nothing else of lo's environment reaches it.
const KEPT_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "XDG_CACHE_HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "HELM_CACHE_HOME",
    "HELM_CONFIG_HOME",
    "HELM_DATA_HOME",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
    "https_proxy",
    "http_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "TMPDIR",
];

/// The program that renders kustomizations.
#[derive(Debug, Clone)]
pub enum Renderer {
    /// `kustomize build`.
    Kustomize(PathBuf),
    /// `kubectl kustomize`.
    Kubectl(PathBuf),
}

impl Renderer {
    /// `kustomize` on PATH, else `kubectl` (which embeds kustomize).
    pub fn find() -> Result<Renderer, BootstrapError> {
        if let Some(p) = on_path("kustomize") {
            return Ok(Renderer::Kustomize(p));
        }
        if let Some(p) = on_path("kubectl") {
            return Ok(Renderer::Kubectl(p));
        }
        Err(BootstrapError::problem(
            "rendering addons needs kustomize or kubectl, and neither is on PATH".into(),
            "install kubectl (https://kubernetes.io/docs/tasks/tools/) or kustomize",
        ))
    }

    fn command(&self, dir: &Path, helm: bool) -> tokio::process::Command {
        let (program, args): (&Path, &[&str]) = match self {
            Renderer::Kustomize(p) => (p, &["build"]),
            Renderer::Kubectl(p) => (p, &["kustomize"]),
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(args);
        if helm {
            cmd.arg("--enable-helm");
        }
        cmd.arg(dir);
        cmd
    }
}

/// A program's path on PATH.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// What an entry rendered to.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub objects: Vec<Value>,
    /// sha256 of the objects as applied, for the record.
    pub digest: String,
}

/// What a render may use besides the entry.
pub struct RenderContext<'a> {
    pub project: &'a Project,
    pub renderer: &'a Renderer,
    /// The cluster's kind, lower-cased (`values.<kind>.yaml`).
    pub kind: &'a str,
    /// `spec.provider.name` (`values.<provider>.yaml`).
    pub provider: Option<&'a str>,
    /// Variables the render substitutes (whitelisted names only are used).
    pub vars: &'a BTreeMap<String, String>,
    /// Where secrets generators' certificates come from.
    pub certs: super::certs::Certs<'a>,
}

pub async fn render(entry: &Entry, cx: &RenderContext<'_>) -> Result<Rendered, BootstrapError> {
    let scratch = tempfile::Builder::new()
        .prefix("lok8s-render-")
        .tempdir()
        .map_err(|e| BootstrapError::problem(format!("temporary folder: {e}"), "check TMPDIR"))?;
    let dir = build_dir(entry, cx, scratch.path())?;
    let mut cmd = cx.renderer.command(&dir, entry.addon.is_chart);
    cmd.env_clear();
    for name in KEPT_ENV {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    for (k, v) in &entry.env {
        cmd.env(k, v);
    }
    let text = run(cmd, entry).await?;
    let mut vars = cx.vars.clone();
    vars.extend(entry.env.iter().cloned());
    parse(&text, &vars, entry)
}

/// The folder to build: the project's own when nothing is layered, else a private copy.
fn build_dir(
    entry: &Entry,
    cx: &RenderContext<'_>,
    scratch: &Path,
) -> Result<PathBuf, BootstrapError> {
    let copy = scratch.join("addon");
    let io = |e: std::io::Error| {
        BootstrapError::problem(format!("{}: {e}", copy.display()), "check TMPDIR")
    };
    match &entry.addon.source {
        Source::Catalogue(name) => {
            for (path, bytes) in catalogue_files(name) {
                let target = copy.join(&path);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).map_err(io)?;
                }
                std::fs::write(&target, bytes).map_err(io)?;
            }
        }
        Source::Project(rel) => {
            let layered =
                entry.addon.is_chart || secrets::has_generators(&entry.addon.kustomization);
            if !layered {
                return Ok(cx.project.root().join(rel));
            }
            let from = cx
                .project
                .inside()
                .and_then(|root| root.subdir(rel, false))
                .map_err(|e| BootstrapError::problem(e.to_string(), "use a plain folder"))?;
            let mut budget = MAX_COPY_FILES;
            copy_tree(&from, &copy, &mut budget)?;
        }
    }
    if entry.addon.is_chart {
        layer_values(entry, cx, &copy)?;
    }
    if secrets::has_generators(&entry.addon.kustomization) {
        // The entry's own `env:` first, then lo's environment (the user's).
        secrets::expand(
            entry,
            &copy,
            |name| {
                let own = entry.env.iter().find(|(k, _)| k == name);
                own.map(|(_, v)| v.clone())
                    .or_else(|| std::env::var(name).ok())
            },
            cx.certs,
        )?;
    }
    Ok(copy)
}

/// Copies a folder without following links (a link in an addon folder is refused).
fn copy_tree(from: &Inside, to: &Path, budget: &mut usize) -> Result<(), BootstrapError> {
    let fail =
        |e: String| BootstrapError::problem(e, "keep addon folders to plain files and folders");
    std::fs::create_dir_all(to).map_err(|e| fail(format!("{}: {e}", to.display())))?;
    let names = std::fs::read_dir(from.shown())
        .map_err(|e| fail(format!("{}: {e}", from.shown().display())))?;
    for name in names.flatten() {
        let name = name.file_name().to_string_lossy().into_owned();
        *budget = budget.checked_sub(1).ok_or_else(|| {
            fail(format!(
                "{}: more than {MAX_COPY_FILES} files",
                from.shown().display()
            ))
        })?;
        match from.kind(&name).map_err(|e| fail(e.to_string()))? {
            Some(FsEntry::Dir) => {
                let sub = from.subdir(&name, false).map_err(|e| fail(e.to_string()))?;
                copy_tree(&sub, &to.join(&name), budget)?;
            }
            Some(FsEntry::File) => {
                let bytes = from
                    .read(&name, MAX_COPY_FILE)
                    .map_err(|e| fail(e.to_string()))?;
                std::fs::write(to.join(&name), bytes).map_err(|e| fail(e.to_string()))?;
            }
            Some(FsEntry::Link) => {
                return Err(fail(format!(
                    "{}/{name} is a link; lo copies chart addons without following links",
                    from.shown().display()
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

fn layer_values(entry: &Entry, cx: &RenderContext<'_>, dir: &Path) -> Result<(), BootstrapError> {
    // The chart's own `valuesFile` (a plain file of the addon) is the lowest layer, so layering
    // never discards it.
    let own = entry
        .addon
        .kustomization
        .get("helmCharts")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("valuesFile"))
        .and_then(serde_yaml::Value::as_str)
        .filter(|f| crate::project::relative(f).is_ok() && *f != "values.yaml")
        .map(str::to_string);
    let mut candidates: Vec<String> = own.into_iter().collect();
    candidates.push("values.yaml".to_string());
    candidates.push(format!("values.{}.yaml", cx.kind));
    if let Some(p) = cx.provider.filter(|p| !p.is_empty()) {
        candidates.push(format!("values.{p}.yaml"));
    }
    let mut merged = serde_yaml::Value::Mapping(Default::default());
    for file in &candidates {
        let path = dir.join(file);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let layer: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| {
            BootstrapError::problem(
                format!("{}/{file}: invalid YAML: {e}", entry.addon.shown),
                "fix the values file",
            )
        })?;
        if !layer.is_null() {
            deep_merge(&mut merged, layer);
        }
    }
    if let Some(inline) = &entry.values {
        deep_merge(&mut merged, serde_yaml::Value::Mapping(inline.clone()));
    }
    let write = |path: PathBuf, text: String| {
        std::fs::write(&path, text).map_err(|e| {
            BootstrapError::problem(format!("{}: {e}", path.display()), "check TMPDIR")
        })
    };
    let yaml = |v: &serde_yaml::Value| serde_yaml::to_string(v).unwrap_or_default();
    write(dir.join(MERGED_VALUES), yaml(&merged))?;
    let mut kustomization = entry.addon.kustomization.clone();
    if let Some(first) = kustomization
        .get_mut("helmCharts")
        .and_then(|c| c.as_sequence_mut())
        .and_then(|c| c.first_mut())
        .and_then(|c| c.as_mapping_mut())
    {
        first.insert("valuesFile".into(), MERGED_VALUES.into());
    }
    let name = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .into_iter()
        .find(|n| dir.join(n).is_file())
        .unwrap_or("kustomization.yaml");
    write(dir.join(name), yaml(&kustomization))
}

async fn run(mut cmd: tokio::process::Command, entry: &Entry) -> Result<String, BootstrapError> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| {
        BootstrapError::problem(
            format!("starting the renderer: {e}"),
            "check kubectl or kustomize",
        )
    })?;
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let read = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut stdout = (&mut stdout).take(MAX_OUTPUT as u64 + 1);
        let mut stderr = (&mut stderr).take(1 << 20);
        let (a, b) = tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        a.and(b).map(|_| (out, err))
    };
    let (out, err) = match tokio::time::timeout(RENDER_TIMEOUT, read).await {
        Ok(Ok(both)) => both,
        Ok(Err(e)) => {
            return Err(BootstrapError::problem(
                format!("reading the render: {e}"),
                "retry",
            ));
        }
        Err(_) => {
            return Err(BootstrapError::problem(
                format!(
                    "rendering {} took longer than {}s",
                    entry.addon.shown,
                    RENDER_TIMEOUT.as_secs()
                ),
                "check the chart repository is reachable",
            ));
        }
    };
    let status = child
        .wait()
        .await
        .map_err(|e| BootstrapError::problem(format!("the renderer: {e}"), "retry"))?;
    if !status.success() {
        let why = crate::sanitize::clean(String::from_utf8_lossy(&err).trim());
        let fix = if why.contains("helm") && why.contains("executable file not found") {
            "install Helm 3 (https://helm.sh/docs/intro/install/)"
        } else {
            "fix the addon's kustomization"
        };
        return Err(BootstrapError::problem(
            format!("rendering {} failed: {why}", entry.addon.shown),
            fix,
        ));
    }
    if out.len() > MAX_OUTPUT {
        return Err(BootstrapError::problem(
            format!(
                "{} rendered more than {} MiB",
                entry.addon.shown,
                MAX_OUTPUT >> 20
            ),
            "split the addon",
        ));
    }
    String::from_utf8(out).map_err(|_| {
        BootstrapError::problem(
            format!("{} rendered text that is not UTF-8", entry.addon.shown),
            "fix the addon",
        )
    })
}

/// Parses the render, substitutes and checks each object.
fn parse(
    text: &str,
    vars: &BTreeMap<String, String>,
    entry: &Entry,
) -> Result<Rendered, BootstrapError> {
    use serde::Deserialize as _;
    let mut objects = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(text) {
        let value = Value::deserialize(doc).map_err(|e| {
            BootstrapError::problem(
                format!("{} rendered invalid YAML: {e}", entry.addon.shown),
                "fix the addon",
            )
        })?;
        if value.is_null() {
            continue;
        }
        let mut value = value;
        substitute(&mut value, vars);
        stringify_env_values(&mut value);
        check_object(&value, entry)?;
        objects.push(value);
    }
    if objects.is_empty() {
        return Err(BootstrapError::problem(
            format!("{} rendered no objects", entry.addon.shown),
            "list its manifests under resources: (or its chart under helmCharts:)",
        ));
    }
    let mut hasher = Sha256::new();
    for o in &objects {
        hasher.update(o.to_string().as_bytes());
        hasher.update(b"\n");
    }
    Ok(Rendered {
        objects,
        digest: hex::encode(hasher.finalize()),
    })
}

fn check_object(value: &Value, entry: &Entry) -> Result<(), BootstrapError> {
    let text = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let name = value
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if text("apiVersion").is_none() || text("kind").is_none() || name.is_none() {
        let shown: String = value.to_string().chars().take(120).collect();
        return Err(BootstrapError::problem(
            format!(
                "{} rendered an object without apiVersion, kind or metadata.name: {shown}",
                entry.addon.shown
            ),
            "fix the manifest",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::bootstrap::addons::{Addon, Source};

    fn layered(
        files: &[(&str, &str)],
        kustomization: &str,
        inline: Option<&str>,
    ) -> serde_yaml::Value {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("clusters")).unwrap();
        let project = Project::at(root.path()).unwrap();
        let dir = root.path().join("copy");
        std::fs::create_dir(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let entry = Entry {
            index: 0,
            reference: "chart".into(),
            name: "chart".into(),
            explicit_name: false,
            addon: Addon {
                source: Source::Project("chart".into()),
                shown: "chart".into(),
                is_chart: true,
                kustomization: serde_yaml::from_str(kustomization).unwrap(),
            },
            values: inline.map(|v| serde_yaml::from_str(v).unwrap()),
            env: Vec::new(),
            wait: false,
            depends_on: Vec::new(),
        };
        let vars = BTreeMap::new();
        let cx = RenderContext {
            project: &project,
            renderer: &Renderer::Kubectl(PathBuf::from("/nonexistent")),
            kind: "lo",
            provider: Some("hetzner"),
            vars: &vars,
            certs: super::super::certs::Certs::NoCa,
        };
        layer_values(&entry, &cx, &dir).unwrap();
        let written: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(dir.join("kustomization.yaml")).unwrap())
                .unwrap();
        assert_eq!(written["helmCharts"][0]["valuesFile"], MERGED_VALUES);
        serde_yaml::from_str(&std::fs::read_to_string(dir.join(MERGED_VALUES)).unwrap()).unwrap()
    }

    #[test]
    fn values_stack_base_kind_provider_inline() {
        let merged = layered(
            &[
                ("own.yaml", "a: own\nkeep: own\n"),
                ("values.yaml", "a: base\nb: base\nnested: {x: 1, y: 1}\n"),
                ("values.lo.yaml", "b: kind\nnested: {y: 2}\n"),
                ("values.hetzner.yaml", "c: provider\n"),
                ("values.kubeone.yaml", "b: other kind\n"),
            ],
            "helmCharts:\n  - {name: x, repo: https://charts.example.test, version: 1.0.0, valuesFile: own.yaml}\n",
            Some("c: inline\nnested: {z: 3}\n"),
        );
        let expect: serde_yaml::Value = serde_yaml::from_str(
            "a: base\nkeep: own\nb: kind\nnested: {x: 1, y: 2, z: 3}\nc: inline\n",
        )
        .unwrap();
        assert_eq!(merged, expect);
    }

    #[test]
    fn no_values_files_gives_the_inline_values() {
        let merged = layered(
            &[],
            "helmCharts:\n  - {name: x, repo: https://charts.example.test, version: 1.0.0}\n",
            Some("only: inline\n"),
        );
        assert_eq!(merged["only"], "inline");
    }
}
