//! What the bootstrap applied, kept in the cluster (ConfigMap `kube-system/lok8s-bootstrap`):
//! per entry its addon, render digest and objects with their resourceVersions. A later run
//! compares against it to say what changed and to prune what an entry no longer renders, or
//! the objects of entries no longer listed. Namespaces and CRDs are never pruned: deleting
//! them deletes everything in them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::apply::{Applier, ObjectRef};

const NAMESPACE: &str = "kube-system";
const NAME: &str = "lok8s-bootstrap";
const KEY: &str = "entries.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub entries: BTreeMap<String, EntryRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EntryRecord {
    pub addon: String,
    pub digest: String,
    pub objects: Vec<RecordedObject>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecordedObject {
    #[serde(flatten)]
    pub object: ObjectRef,
    #[serde(rename = "resourceVersion")]
    pub resource_version: String,
}

fn record_ref() -> ObjectRef {
    ObjectRef {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some(NAMESPACE.into()),
        name: NAME.into(),
    }
}

/// Objects pruning leaves in place.
pub fn never_pruned(object: &ObjectRef) -> bool {
    matches!(
        object.kind.as_str(),
        "Namespace" | "CustomResourceDefinition"
    )
}

impl Record {
    /// The cluster's record; an empty one when there is none (or it cannot be read as one).
    pub async fn load(applier: &Applier) -> Result<Record, String> {
        let (api, _) = applier
            .api(&record_ref())
            .await
            .map_err(|e| format!("reading the bootstrap record: {e}"))?;
        let found = api
            .get_opt(NAME)
            .await
            .map_err(|e| format!("reading {NAMESPACE}/{NAME}: {e}"))?;
        Ok(found
            .and_then(|cm| {
                cm.data
                    .get("data")
                    .and_then(|d| d.get(KEY))
                    .and_then(|v| v.as_str())
                    .and_then(|text| serde_json::from_str(text).ok())
            })
            .unwrap_or_default())
    }

    pub async fn save(&self, applier: &Applier) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let cm = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": NAME, "namespace": NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": "lok8s"}},
            "data": {KEY: text}
        });
        applier
            .apply(&cm)
            .await
            .map(|_| ())
            .map_err(|e| format!("writing the bootstrap record: {e}"))
    }

    /// Objects `entry` applied last time that `now` no longer has (pruning candidates).
    pub fn dropped(&self, entry: &str, now: &[ObjectRef]) -> Vec<ObjectRef> {
        self.entries
            .get(entry)
            .map(|r| {
                r.objects
                    .iter()
                    .map(|o| o.object.clone())
                    .filter(|o| !now.contains(o))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The recorded form (with resourceVersion) of these objects of `entry`.
    pub fn recorded(&self, entry: &str, objects: &[ObjectRef]) -> Vec<RecordedObject> {
        self.entries
            .get(entry)
            .map(|r| {
                r.objects
                    .iter()
                    .filter(|o| objects.contains(&o.object))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many of `now` are new or changed since the last run (resourceVersion moved).
    pub fn changed(&self, entry: &str, now: &[(ObjectRef, String)]) -> usize {
        let before = self.entries.get(entry);
        now.iter()
            .filter(|(o, version)| {
                !before.is_some_and(|r| {
                    r.objects
                        .iter()
                        .any(|p| &p.object == o && &p.resource_version == version)
                })
            })
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(kind: &str, name: &str) -> ObjectRef {
        ObjectRef {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("x".into()),
            name: name.into(),
        }
    }

    #[test]
    fn changes_and_drops() {
        let mut record = Record::default();
        record.entries.insert(
            "a".into(),
            EntryRecord {
                addon: "catalogue:a".into(),
                digest: "d".into(),
                objects: vec![
                    RecordedObject {
                        object: obj("ConfigMap", "keep"),
                        resource_version: "1".into(),
                    },
                    RecordedObject {
                        object: obj("ConfigMap", "gone"),
                        resource_version: "1".into(),
                    },
                ],
            },
        );
        let now = vec![
            (obj("ConfigMap", "keep"), "1".to_string()),
            (obj("ConfigMap", "new"), "5".to_string()),
        ];
        assert_eq!(record.changed("a", &now), 1);
        let ids: Vec<ObjectRef> = now.iter().map(|(o, _)| o.clone()).collect();
        assert_eq!(record.dropped("a", &ids), vec![obj("ConfigMap", "gone")]);
        assert!(never_pruned(&obj("Namespace", "n")));
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), record);
    }
}
