//! The cloud-config a Hetzner server boots with, as a pure function of a file tree (the
//! user's `cloudInit.path`, else the built-in library), the modules the server asks for
//! (`#cloud.d`), the access user and keys, and the server's own settings (`CLOUD_ENV_*`).
//!
//! Every file type is looked up in the same order: for each module, `cloud.d/<module>/` of the
//! user's tree, then of the library (when the user has a tree of their own); last the user's
//! tree root (the library's root only when there is no user tree). `write_files/<path>` becomes
//! `/<path>` on the server, the first one found per target winning; a `<file>.stat` beside it
//! may set `owner`, `permissions`, `execute: remote` (the file is a generator run on the
//! server), `envsubst: true` or a list of names, and `runcmd: true`. `execute: true` (run it
//! here, at generation time) is refused: a driver runs no programs.

use std::collections::BTreeMap;

use serde_yaml::{Mapping, Value};

/// Files by path relative to a tree's root (`cloud.d/ci/packages`, `write_files/etc/x`).
pub type Tree = BTreeMap<String, Vec<u8>>;

/// What one server's cloud-config is made from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The user's tree; None: the built-in library alone.
    pub user_tree: Option<&'a Tree>,
    pub library: &'a Tree,
    /// `#cloud.d`: module names, in order.
    pub modules: Vec<String>,
    /// The access user and group (`root` when unset).
    pub user: String,
    pub group: String,
    /// Public keys for the access user (the `*.pub` files the caller read).
    pub public_keys: Vec<String>,
    /// The server's settings, exported on the server and available to `envsubst`.
    pub env: Vec<(String, String)>,
}

/// Where to look, in order: (tree, prefix).
fn roots<'a>(inputs: &Inputs<'a>) -> Vec<(&'a Tree, String)> {
    let main = inputs.user_tree.unwrap_or(inputs.library);
    let mut out = Vec::new();
    for module in &inputs.modules {
        out.push((main, format!("cloud.d/{module}/")));
        if inputs.user_tree.is_some() {
            out.push((inputs.library, format!("cloud.d/{module}/")));
        }
    }
    out.push((main, String::new()));
    out
}

fn text(bytes: &[u8], at: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{at}: not UTF-8 text"))
}

/// The lines of every `name` file in search order, blank lines dropped, a line equal to the
/// one before it dropped.
fn lines(inputs: &Inputs, name: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for (tree, prefix) in roots(inputs) {
        let path = format!("{prefix}{name}");
        if let Some(bytes) = tree.get(&path) {
            for line in text(bytes, &path)?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
            {
                if out.last().map(String::as_str) != Some(line) {
                    out.push(line.to_string());
                }
            }
        }
    }
    Ok(out)
}

/// A `.stat` file's settings.
#[derive(Debug, Default)]
struct Stat {
    owner: Option<String>,
    permissions: Option<String>,
    remote: bool,
    envsubst: Option<Option<Vec<String>>>,
    runcmd: bool,
}

fn stat(bytes: &[u8], at: &str) -> Result<Stat, String> {
    let value: Value = serde_yaml::from_slice(bytes).map_err(|e| format!("{at}: {e}"))?;
    let Value::Mapping(map) = value else {
        return Err(format!("{at}: must be a map of settings"));
    };
    let mut out = Stat::default();
    for (key, value) in map {
        let key = key.as_str().unwrap_or_default().to_string();
        let shown = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        match key.as_str() {
            "owner" => out.owner = Some(shown(&value)),
            "permissions" => out.permissions = Some(shown(&value)),
            "execute" => match shown(&value).as_str() {
                "remote" => out.remote = true,
                "false" => {}
                "true" => {
                    return Err(format!(
                        "{at}: execute: true runs the file on this machine, which a driver cannot; use execute: remote (it runs on the server)"
                    ));
                }
                other => return Err(format!("{at}: execute: {other:?}; write remote or false")),
            },
            "envsubst" => {
                out.envsubst = match &value {
                    Value::Bool(true) => Some(None),
                    Value::Bool(false) => None,
                    Value::Sequence(names) => Some(Some(names.iter().map(shown).collect())),
                    Value::String(s) if s == "true" => Some(None),
                    Value::String(s) => Some(Some(
                        s.split([',', ' '])
                            .filter(|n| !n.is_empty())
                            .map(str::to_string)
                            .collect(),
                    )),
                    other => {
                        return Err(format!(
                            "{at}: envsubst: {}; write true or a list of names",
                            shown(other)
                        ));
                    }
                }
            }
            "runcmd" => out.runcmd = shown(&value) == "true",
            other => {
                return Err(format!(
                    "{at}: {other:?} is not a .stat setting (owner, permissions, execute, envsubst, runcmd)"
                ));
            }
        }
    }
    Ok(out)
}

/// `${NAME}` replaced with the value from `env` (names outside `only`, when given, kept).
fn envsubst(content: &str, env: &[(String, String)], only: Option<&[String]>) -> String {
    let mut out = content.to_string();
    for (name, value) in env {
        if only.is_some_and(|names| !names.contains(name)) {
            continue;
        }
        out = out.replace(&format!("${{{name}}}"), value);
    }
    out
}

fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The cloud-config text, `#cloud-config` first.
pub fn generate(inputs: &Inputs) -> Result<String, String> {
    let root_disabled = !inputs.user.is_empty() && inputs.user != "root";
    let mut doc = Mapping::new();
    let mut put = |k: &str, v: Value| {
        doc.insert(Value::String(k.into()), v);
    };
    put("package_update", Value::Bool(true));
    put("package_upgrade", Value::Bool(true));
    put("package_reboot_if_required", Value::Bool(true));
    if root_disabled {
        put("disable_root", Value::Bool(true));
    }
    put("ssh_pwauth", Value::Bool(false));
    put(
        "mounts",
        serde_yaml::to_value(vec![vec![
            "tmpfs",
            "/run/shm",
            "tmpfs",
            "ro,noexec,nosuid,nodev",
            "0",
            "0",
        ]])
        .unwrap_or_default(),
    );
    if inputs.modules.iter().any(|m| m == "ceph-osd") {
        put(
            "growpart",
            serde_yaml::from_str("{mode: \"off\"}").unwrap_or_default(),
        );
    }
    let packages = lines(inputs, "packages")?;
    if !packages.is_empty() {
        put(
            "packages",
            serde_yaml::to_value(&packages).unwrap_or_default(),
        );
    }
    let nameservers = lines(inputs, "nameservers")?;
    if !nameservers.is_empty() {
        put("manage_resolv_conf", Value::Bool(true));
        let mut resolv = Mapping::new();
        resolv.insert(
            "nameservers".into(),
            serde_yaml::to_value(&nameservers).unwrap_or_default(),
        );
        put("resolv_conf", Value::Mapping(resolv));
    }
    let (files, materialise, executables) = write_files(inputs)?;
    if !files.is_empty() {
        put("write_files", Value::Sequence(files));
    }
    if root_disabled {
        let user: Value = serde_yaml::to_value(serde_yaml::Mapping::from_iter([
            ("name".into(), Value::String(inputs.user.clone())),
            ("lock_passwd".into(), Value::Bool(true)),
            ("shell".into(), "/bin/bash".into()),
            ("groups".into(), "docker".into()),
            ("sudo".into(), "ALL=(ALL) NOPASSWD:ALL".into()),
            (
                "ssh_authorized_keys".into(),
                serde_yaml::to_value(&inputs.public_keys).unwrap_or_default(),
            ),
        ]))
        .unwrap_or_default();
        put("users", Value::Sequence(vec![user]));
    }
    let mut runcmd = vec!["cloud-init single --name write_files --frequency once".to_string()];
    runcmd.extend(
        inputs
            .env
            .iter()
            .map(|(k, v)| format!("export {k}={}", shell_quote(v))),
    );
    runcmd.extend(materialise);
    runcmd.extend(executables);
    put("runcmd", serde_yaml::to_value(&runcmd).unwrap_or_default());
    put(
        "final_message",
        "lok8s: cloud-init finished after $UPTIME seconds".into(),
    );
    let body = serde_yaml::to_string(&Value::Mapping(doc)).map_err(|e| e.to_string())?;
    Ok(format!("#cloud-config\n{body}"))
}

type WriteFiles = (Vec<Value>, Vec<String>, Vec<String>);

/// `write_files` entries, the commands that materialise remote generators, and the sorted
/// executables to run.
fn write_files(inputs: &Inputs) -> Result<WriteFiles, String> {
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    let mut files = Vec::new();
    let mut materialise = Vec::new();
    let mut executables = Vec::new();
    let default_owner = format!("{}:{}", or_root(&inputs.user), or_root(&inputs.group));
    for (tree, prefix) in roots(inputs) {
        let base = format!("{prefix}write_files/");
        for (path, bytes) in tree.range(base.clone()..) {
            let Some(rest) = path.strip_prefix(&base) else {
                break;
            };
            if rest.ends_with(".stat") {
                continue;
            }
            let target = format!("/{rest}");
            if seen.insert(target.clone(), ()).is_some() {
                continue;
            }
            let stat = match tree.get(&format!("{path}.stat")) {
                Some(s) => stat(s, &format!("{path}.stat"))?,
                None => Stat::default(),
            };
            let owner = stat.owner.clone().unwrap_or_else(|| default_owner.clone());
            let permissions = stat.permissions.clone().unwrap_or_else(|| "0655".into());
            let mut content = bytes.clone();
            if let Some(only) = &stat.envsubst {
                let text = text(bytes, path)?;
                content = envsubst(&text, &inputs.env, only.as_deref()).into_bytes();
            }
            let (written, mode) = if stat.remote {
                materialise.push(format!(
                    "bash {target}.lok8s-gen > {target} && chmod {permissions} {target} && chown {owner} {target} && rm -f {target}.lok8s-gen"
                ));
                (format!("{target}.lok8s-gen"), "0700".to_string())
            } else {
                (target.clone(), permissions)
            };
            if stat.runcmd {
                executables.push(target.clone());
            }
            let entry: Value = serde_yaml::to_value(Mapping::from_iter([
                ("encoding".into(), "b64".into()),
                ("content".into(), Value::String(base64(&content))),
                ("path".into(), Value::String(written)),
                ("owner".into(), Value::String(owner)),
                ("permissions".into(), Value::String(mode)),
            ]))
            .unwrap_or_default();
            files.push(entry);
        }
    }
    executables.sort();
    Ok((files, materialise, executables))
}

fn or_root(name: &str) -> &str {
    if name.is_empty() { "root" } else { name }
}

/// The built-in library: what every server gets (Docker, curl, jq, resolvers, the Docker daemon
/// and sshd settings) and the `ceph-osd` and `ci` modules.
pub fn library() -> Tree {
    let files: [(&str, &str); 12] = [
        ("packages", "docker.io\ncurl\njq\n"),
        ("nameservers", "1.1.1.1\n8.8.8.8\n"),
        (
            "write_files/etc/docker/daemon.json",
            "{\n  \"insecure-registries\": [\"10.125.0.0/16\"],\n  \"log-driver\": \"json-file\",\n  \"log-opts\": {\"max-size\": \"10m\", \"max-file\": \"3\"}\n}\n",
        ),
        (
            "write_files/etc/docker/daemon.json.stat",
            "owner: root:root\npermissions: \"0644\"\n",
        ),
        (
            "write_files/etc/ssh/sshd_config.d/lok8s.conf",
            "MaxSessions 64\nMaxStartups 64:30:128\n",
        ),
        (
            "write_files/etc/ssh/sshd_config.d/lok8s.conf.stat",
            "owner: root:root\npermissions: \"0644\"\n",
        ),
        (
            "write_files/bootstrap/restart-sshd.sh",
            "#!/bin/sh\nsystemctl restart ssh || systemctl restart sshd\n",
        ),
        (
            "write_files/bootstrap/restart-sshd.sh.stat",
            "owner: root:root\npermissions: \"0700\"\nruncmd: true\n",
        ),
        (
            "cloud.d/ceph-osd/packages",
            "gdisk\ncloud-guest-utils\nparted\n",
        ),
        (
            "cloud.d/ceph-osd/write_files/opt/lok8s/ceph-osd-partition.sh",
            "#!/bin/sh\n# Leaves the rest of the system disk unpartitioned for a Ceph OSD.\nset -eu\ndisk=$(lsblk -ndo pkname \"$(findmnt -no source /)\")\nsgdisk -n 0:0:0 -t 0:8300 \"/dev/$disk\" || true\npartprobe \"/dev/$disk\"\n",
        ),
        (
            "cloud.d/ceph-osd/write_files/opt/lok8s/ceph-osd-partition.sh.stat",
            "permissions: \"0700\"\nruncmd: true\n",
        ),
        ("cloud.d/ci/packages", "git\nmake\n"),
    ];
    let mut tree: Tree = files
        .iter()
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect();
    tree.insert(
        "cloud.d/ci/write_files/bootstrap/install-tools.sh".into(),
        b"#!/bin/sh\nset -eu\napt-get install -y build-essential\n".to_vec(),
    );
    tree.insert(
        "cloud.d/ci/write_files/bootstrap/install-tools.sh.stat".into(),
        b"permissions: \"0700\"\nruncmd: true\n".to_vec(),
    );
    tree
}

/// The library for Kubernetes nodes that kubeadm readies over ssh (KubeOne): the built-in one
/// without Docker (spec 9, bug 21: the original gave them the Lo-oriented Docker package and
/// its `daemon.json`; the node's containerd comes from the install's prerequisites).
pub fn kubeadm_node_library() -> Tree {
    let mut tree = library();
    tree.retain(|path, _| !path.starts_with("write_files/etc/docker/"));
    tree.insert("packages".into(), b"curl\njq\n".to_vec());
    tree
}

#[cfg(test)]
mod tests;
