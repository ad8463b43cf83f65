//! The containerd patch kind would apply from `containerdConfigPatches`: `config_path` for the
//! `certs.d` tree and `max_concurrent_downloads` in the table containerd actually reads it
//! from (the original put it under `.containerd`, where it is ignored). Version 2
//! (containerd 1.x) and version 3 (containerd 2.x) configs name that table differently.

use toml_edit::{DocumentMut, Item, Table, value};

/// The patched config, or `None` when it already says so (no containerd restart needed).
pub fn patch_containerd_config(
    existing: &str,
    max_downloads: u32,
) -> Result<Option<String>, String> {
    let mut doc: DocumentMut = existing
        .parse()
        .map_err(|e| format!("/etc/containerd/config.toml is not TOML: {e}"))?;
    let version = doc.get("version").and_then(Item::as_integer).unwrap_or(1);
    let plugin = match version {
        2 => "io.containerd.grpc.v1.cri",
        3 => "io.containerd.cri.v1.images",
        other => {
            return Err(format!(
                "/etc/containerd/config.toml has version = {other}; the node image must ship version 2 or 3"
            ));
        }
    };
    let plugins = table(doc.as_table_mut(), "plugins");
    let cri = table(plugins, plugin);
    cri["max_concurrent_downloads"] = value(i64::from(max_downloads));
    let registry = table(cri, "registry");
    registry["config_path"] = value("/etc/containerd/certs.d");
    let patched = doc.to_string();
    Ok((patched != existing).then_some(patched))
}

fn table<'a>(parent: &'a mut Table, key: &str) -> &'a mut Table {
    if !parent.get(key).is_some_and(Item::is_table) {
        let mut t = Table::new();
        t.set_implicit(true);
        parent.insert(key, Item::Table(t));
    }
    parent[key].as_table_mut().expect("just made a table")
}
