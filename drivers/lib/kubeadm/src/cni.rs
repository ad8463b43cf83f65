//! kind's default CNI manifest handling: a manifest marked
//! "would you kindly template this file" gets its `{{ .PodSubnet }}`; one marked "would you
//! kindly patch this file" gets `CONTROL_PLANE_ENDPOINT` on container 0 of every apps/v1
//! DaemonSet.

use serde_yaml::{Mapping, Value};

const TEMPLATE_MARKER: &str = "would you kindly template this file";
const PATCH_MARKER: &str = "would you kindly patch this file";

pub fn default_cni_manifest(
    manifest: &str,
    pod_subnet: &str,
    endpoint: &str,
) -> Result<String, String> {
    let mut text = manifest.to_string();
    if text.contains(TEMPLATE_MARKER) {
        text = text
            .replace("{{ .PodSubnet }}", pod_subnet)
            .replace("{{.PodSubnet}}", pod_subnet);
    }
    if !text.contains(PATCH_MARKER) {
        return Ok(text);
    }
    let mut docs = Vec::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let mut value = <Value as serde::Deserialize>::deserialize(doc)
            .map_err(|e| format!("default-cni.yaml is not YAML: {e}"))?;
        if value.is_null() {
            continue;
        }
        if value["kind"] == "DaemonSet" && value["apiVersion"] == "apps/v1" {
            let env = value["spec"]["template"]["spec"]["containers"][0]
                .as_mapping_mut()
                .ok_or("default-cni.yaml: a DaemonSet without containers")?
                .entry("env".into())
                .or_insert(Value::Sequence(vec![]));
            let mut var = Mapping::new();
            var.insert("name".into(), "CONTROL_PLANE_ENDPOINT".into());
            var.insert("value".into(), endpoint.into());
            env.as_sequence_mut()
                .ok_or("default-cni.yaml: env is not a list")?
                .push(Value::Mapping(var));
        }
        docs.push(serde_yaml::to_string(&value).map_err(|e| e.to_string())?);
    }
    Ok(docs.join("---\n"))
}
