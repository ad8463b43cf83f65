//! Which `spec.bootstrap` entries a cluster spec selects, by the one rule `lo` (which applies
//! them) and the Lo driver (which installs kind's default CNI only when none of them is a CNI)
//! share: absent means the kind's default (`[cilium]` for kind Lo, `[cilium, hcloud-ccm]` for
//! KubeOne, nothing for the others);
//! `[]` and a bare `bootstrap:` (null) mean nothing; an entry is a scalar reference or a
//! single-key map whose key is the reference (`name:` in its value renames it). Pure, so it
//! compiles for the host and for guests alike.

use serde_yaml::Value;

/// Kinds whose clusters come up without a CNI and so get one when `spec.bootstrap` is absent;
/// KubeOne's, with an external cloud provider, also need Hetzner's cloud controller manager
/// before any node is initialised (the original's `cilium` and `ccm-hetzner` addons).
pub fn default_entries(kind: &str) -> &'static [&'static str] {
    match kind.to_ascii_lowercase().as_str() {
        "lo" => &["cilium"],
        "kubeone" => &["cilium", "hcloud-ccm"],
        _ => &[],
    }
}

/// The entries as written (or the kind's default when the key is absent); `Err` with the value
/// when `spec.bootstrap` is not a list. A `spec` that is not a map selects nothing (the
/// driver refuses such a spec in its own words).
pub fn selected(spec: &Value, kind: &str) -> Result<Vec<Value>, Value> {
    if spec
        .get("spec")
        .is_some_and(|s| !s.is_mapping() && !s.is_null())
    {
        return Ok(Vec::new());
    }
    let Some(found) = spec.get("spec").and_then(|s| s.get("bootstrap")) else {
        return Ok(default_entries(kind)
            .iter()
            .map(|name| Value::String((*name).to_string()))
            .collect());
    };
    match found {
        Value::Null => Ok(Vec::new()),
        Value::Sequence(items) => Ok(items.clone()),
        other => Err(other.clone()),
    }
}

/// An entry's reference and explicit `name:`, when it has the shape of an entry.
pub fn reference(item: &Value) -> Option<(String, Option<String>)> {
    match item {
        Value::String(s) => Some((s.clone(), None)),
        Value::Mapping(m) if m.len() == 1 => {
            let (key, value) = m.iter().next()?;
            let name = value
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string);
            Some((key.as_str()?.to_string(), name))
        }
        _ => None,
    }
}

/// The selected entries as (reference, explicit name); `None` when `spec.bootstrap` is not a
/// list.
pub fn references(spec: &Value, kind: &str) -> Option<Vec<(String, Option<String>)>> {
    let items = selected(spec, kind).ok()?;
    Some(items.iter().filter_map(reference).collect())
}

/// CNI addons the framework can bootstrap.
pub const CNI_ADDONS: &[&str] = &["cilium", "calico", "flannel", "antrea", "weave", "kindnet"];

/// Whether an entry installs a CNI: its addon folder's name or its explicit name starts with a
/// known CNI's. A Lo cluster without such an entry gets kind's default CNI from its node image.
pub fn is_cni(reference: &str, name: Option<&str>) -> bool {
    let folder = reference
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    [Some(folder), name].into_iter().flatten().any(|n| {
        let n = n.to_ascii_lowercase();
        CNI_ADDONS.iter().any(|c| n.starts_with(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(text: &str) -> Option<Vec<(String, Option<String>)>> {
        let doc: Value = serde_yaml::from_str(text).unwrap();
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        references(&doc, &kind)
    }

    #[test]
    fn cni_entries() {
        assert!(is_cni("cilium", None));
        assert!(is_cni("./addons/calico-operator/", None));
        assert!(is_cni("./addons/net", Some("Flannel")));
        assert!(!is_cni("metallb", None));
        assert!(
            !is_cni("./addons/my-cilium", None),
            "a prefix, not a substring"
        );
    }

    #[test]
    fn the_rule() {
        let one = |r: &str| Some(vec![(r.to_string(), None)]);
        assert_eq!(refs("kind: Lo\nspec: {}\n"), one("cilium"));
        assert_eq!(refs("kind: Capi\nspec: {}\n"), Some(vec![]));
        assert_eq!(refs("kind: Lo\nspec:\n  bootstrap:\n"), Some(vec![]));
        assert_eq!(refs("kind: Lo\nspec:\n  bootstrap: []\n"), Some(vec![]));
        assert_eq!(
            refs("kind: Lo\nspec:\n  bootstrap:\n    - cilium: {wait: true}\n"),
            one("cilium")
        );
        assert_eq!(
            refs("kind: Lo\nspec:\n  bootstrap:\n    - ./addons/net: {name: calico}\n"),
            Some(vec![("./addons/net".into(), Some("calico".into()))])
        );
        assert_eq!(refs("kind: Lo\nspec:\n  bootstrap: cilium\n"), None);
        assert_eq!(refs("kind: Lo\nspec: 3\n"), Some(vec![]));
    }
}
