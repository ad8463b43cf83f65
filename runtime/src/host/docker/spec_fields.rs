//! The part of a docker grant the cluster spec completes. The operator writes the spec, so a
//! spec field the grant lists under `spec-shared-networks` grants the network it names; a field
//! under `spec-host-paths` names a host folder the driver will bind, which is checked against
//! the grant here, before the driver runs, so the refusal comes before the first container.
//! The driver never writes the spec: nothing here widens what a driver can choose on its own.

use std::path::PathBuf;

use serde_yaml::{Mapping, Value};

use crate::host::docker::grant::DockerGrant;
use crate::host::docker::{networks, policy};

/// One value a spec path reached: its field as the user reads it, the value, and the map that
/// holds it (for siblings such as `readOnly`).
struct Found<'a> {
    field: String,
    value: &'a Value,
    parent: &'a Mapping,
}

/// The values at `path` below `spec:`: keys split by `.`, `key[]` stepping into each item of
/// a list. Absent or wrong-shaped sections reach nothing (the driver reports the shape).
fn find<'a>(spec: &'a Value, path: &str) -> Vec<Found<'a>> {
    let mut at: Vec<(String, &Value)> = vec![("spec".into(), spec)];
    let steps: Vec<&str> = path.split('.').collect();
    let mut found = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let (key, each) = match step.strip_suffix("[]") {
            Some(key) => (key, true),
            None => (*step, false),
        };
        let last = i + 1 == steps.len();
        let mut next = Vec::new();
        for (field, value) in at {
            let Some(map) = value.as_mapping() else {
                continue;
            };
            let Some(child) = map.get(key) else {
                continue;
            };
            let field = format!("{field}.{key}");
            if last && !each {
                found.push(Found {
                    field,
                    value: child,
                    parent: map,
                });
            } else if each {
                for (n, item) in child.as_sequence().into_iter().flatten().enumerate() {
                    next.push((format!("{field}[{n}]"), item));
                }
            } else {
                next.push((field, child));
            }
        }
        at = next;
    }
    found
}

/// The `spec:` section of a cluster spec's text (null when it has none or does not parse).
pub fn spec_section(text: &str) -> Value {
    serde_yaml::from_str::<Value>(text)
        .ok()
        .and_then(|doc| doc.get("spec").cloned())
        .unwrap_or(Value::Null)
}

/// Grants the shared networks the spec names in the fields the grant lists. A value that is
/// not a usable network name grants nothing (the driver's own check names the field).
pub fn complete(grant: &mut DockerGrant, spec: &Value) {
    let named: Vec<String> = grant
        .spec_shared_networks
        .iter()
        .flat_map(|path| find(spec, path))
        .filter_map(|f| f.value.as_str().map(str::to_string))
        .filter(|name| networks::check_name(name).is_ok())
        .collect();
    for name in named {
        if !grant.shared_networks.contains(&name) {
            grant.shared_networks.push(name.clone());
            grant.spec_named.push(name);
        }
    }
}

/// Every host folder the spec names in the grant's `spec-host-paths` fields, checked as the
/// bind itself will be; each refusal names the field. `remote`: the engine is on another
/// machine, whose paths are checked by their text only.
pub fn check_host_paths(
    grant: &DockerGrant,
    spec: &Value,
    protected: &[PathBuf],
    remote: bool,
) -> Vec<String> {
    let mut refusals = Vec::new();
    for path in &grant.spec_host_paths {
        for found in find(spec, path) {
            let Some(source) = found.value.as_str() else {
                continue;
            };
            let read_only = found.parent.get("readOnly") == Some(&Value::Bool(true));
            let checked = if remote {
                policy::remote_bind_source(grant, source, read_only)
            } else {
                policy::bind_source(grant, protected, source, read_only)
            };
            if let Err(refusal) = checked {
                refusals.push(format!("{}: {refusal}", found.field));
            }
        }
    }
    refusals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    fn lo_grant() -> DockerGrant {
        DockerGrant {
            shared_networks: vec!["lok8s-registries".into()],
            host_paths: vec!["/lib/modules".into()],
            spec_shared_networks: vec!["registries.shared.network.name".into()],
            spec_host_paths: vec!["nodes.extraMounts[].hostPath".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_spec_named_shared_network_is_granted_and_remembered_as_spec_named() {
        let mut grant = lo_grant();
        complete(
            &mut grant,
            &spec("registries:\n  shared:\n    network:\n      name: team-mirrors\n"),
        );
        assert_eq!(grant.shared_networks, ["lok8s-registries", "team-mirrors"]);
        assert_eq!(grant.spec_named, ["team-mirrors"]);
    }

    #[test]
    fn unusable_or_absent_names_grant_nothing() {
        for text in [
            "registries:\n  shared:\n    network:\n      name: host\n",
            "registries:\n  shared:\n    network:\n      name: \"container:abc\"\n",
            "registries:\n  shared:\n    network:\n      name: 7\n",
            "registries:\n  shared: true\n",
            "registries: [1, 2]\n",
            "nodes: {}\n",
        ] {
            let mut grant = lo_grant();
            complete(&mut grant, &spec(text));
            assert_eq!(grant.shared_networks, ["lok8s-registries"], "{text}");
            assert!(grant.spec_named.is_empty(), "{text}");
        }
    }

    #[test]
    fn host_paths_outside_the_grant_are_named_by_field() {
        let text = "nodes:\n  extraMounts:\n    - hostPath: /lib/modules\n      containerPath: /m\n      readOnly: true\n    - hostPath: /srv/data\n      containerPath: /data\n    - hostPath: 3\n";
        let refusals = check_host_paths(&lo_grant(), &spec(text), &[], true);
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        assert!(
            refusals[0].starts_with("spec.nodes.extraMounts[1].hostPath: "),
            "{refusals:?}"
        );
        assert!(refusals[0].contains("/srv/data"), "{refusals:?}");
    }

    #[test]
    fn read_only_binds_pass_where_only_read_only_paths_are_granted() {
        let text =
            "nodes:\n  extraMounts:\n    - hostPath: /lib/modules\n      containerPath: /m\n";
        let refusals = check_host_paths(&lo_grant(), &spec(text), &[], true);
        assert_eq!(refusals.len(), 1, "{refusals:?}");
        let text = "nodes:\n  extraMounts:\n    - hostPath: /lib/modules\n      containerPath: /m\n      readOnly: true\n";
        assert!(check_host_paths(&lo_grant(), &spec(text), &[], true).is_empty());
    }

    #[test]
    fn the_spec_section_of_broken_text_is_null() {
        assert_eq!(spec_section("kind: Lo\nspec: [\n"), Value::Null);
        assert_eq!(spec_section("kind: Lo\n"), Value::Null);
        assert_eq!(
            spec_section("kind: Lo\nspec:\n  a: 1\n").get("a"),
            Some(&Value::from(1))
        );
    }
}
