//! The external kubeconfig: admin.conf with its one cluster, user and
//! context renamed (`kind-<cluster>` for kind's nodes) and the server pointed where the API is
//! published.

use serde_yaml::{Mapping, Value};

fn only_entry<'a>(doc: &'a mut Value, key: &str) -> Result<&'a mut Mapping, String> {
    let list = doc
        .get_mut(key)
        .and_then(Value::as_sequence_mut)
        .filter(|l| l.len() == 1)
        .ok_or_else(|| format!("admin.conf must hold exactly one entry in {key:?}"))?;
    list[0]
        .as_mapping_mut()
        .ok_or_else(|| format!("admin.conf: {key}[0] is not a mapping"))
}

pub fn external_kubeconfig(
    admin_conf: &str,
    cluster: &str,
    server: &str,
) -> Result<String, String> {
    named_kubeconfig(admin_conf, &format!("kind-{cluster}"), server)
}

/// admin.conf with its cluster, user and context named `name` and the server pointed at `server`.
pub fn named_kubeconfig(admin_conf: &str, name: &str, server: &str) -> Result<String, String> {
    let mut doc: Value =
        serde_yaml::from_str(admin_conf).map_err(|e| format!("admin.conf is not YAML: {e}"))?;
    let name = Value::from(name);
    let c = only_entry(&mut doc, "clusters")?;
    c.insert("name".into(), name.clone());
    let inner = c
        .get_mut("cluster")
        .and_then(Value::as_mapping_mut)
        .ok_or("admin.conf: clusters[0].cluster is missing")?;
    inner.insert("server".into(), Value::from(server));
    only_entry(&mut doc, "users")?.insert("name".into(), name.clone());
    let ctx = only_entry(&mut doc, "contexts")?;
    ctx.insert("name".into(), name.clone());
    let mut context = Mapping::new();
    context.insert("cluster".into(), name.clone());
    context.insert("user".into(), name.clone());
    ctx.insert("context".into(), Value::Mapping(context));
    doc.as_mapping_mut()
        .ok_or("admin.conf is not a mapping")?
        .insert("current-context".into(), name);
    serde_yaml::to_string(&doc).map_err(|e| e.to_string())
}
