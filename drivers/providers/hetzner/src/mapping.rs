//! The one table from descriptor keys (the `hcloud <type> create --<key>` flags of the original
//! provider) to the Hetzner Cloud API's create bodies (`POST /v1/<type>s`, fields as the API
//! reference names them). A key the table does not hold is an error naming it and the keys it
//! knows; nothing is passed through unmapped. A number is an index into the named resource
//! list only where the field refers to another resource: `size` stays a number.

use serde_json::{Map, Value, json};

use crate::descriptor::Entry;

/// How one descriptor key becomes part of the body.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// A string, as written.
    Text(&'static str),
    /// A whole number, as written.
    Number(&'static str),
    /// `true`/`false` (also as text).
    Flag(&'static str),
    /// The inverse of a flag at a nested path (`without-ipv4` → `public_net.enable_ipv4`).
    NotFlag(&'static str, &'static str),
    /// Another resource: an index into that list (its id), or a name/id as text.
    Ref(&'static str, &'static str),
    /// A list of other resources (index, or list of indexes, or names).
    Refs(&'static str, &'static str),
    /// Firewalls: a list of `{"firewall": id}`.
    Firewalls,
    /// `k=v[,k=v…]` into `labels`.
    Labels,
    /// A nested text field (`algorithm-type` → `algorithm.type`).
    Nested(&'static str, &'static str),
    /// Set by the provider itself, never by the descriptor.
    Provider(&'static str),
}

fn table(kind: &str) -> Option<&'static [(&'static str, Field)]> {
    use Field::*;
    Some(match kind {
        "ssh-key" => &[
            ("name", Text("name")),
            ("public-key", Text("public_key")),
            ("label", Labels),
        ],
        "floating-ip" => &[
            ("name", Text("name")),
            ("description", Text("description")),
            ("type", Text("type")),
            ("home-location", Text("home_location")),
            ("server", Ref("server", "server")),
            ("label", Labels),
        ],
        "network" => &[
            ("name", Text("name")),
            ("ip-range", Text("ip_range")),
            ("expose-routes-to-vswitch", Flag("expose_routes_to_vswitch")),
            ("label", Labels),
        ],
        "load-balancer" => &[
            ("name", Text("name")),
            ("type", Text("load_balancer_type")),
            ("location", Text("location")),
            ("network-zone", Text("network_zone")),
            ("algorithm-type", Nested("algorithm", "type")),
            ("network", Ref("network", "network")),
            ("label", Labels),
        ],
        "server" => &[
            ("name", Text("name")),
            ("type", Text("server_type")),
            ("image", Text("image")),
            ("location", Text("location")),
            ("datacenter", Text("datacenter")),
            ("ssh-key", Refs("ssh_keys", "ssh-key")),
            ("network", Refs("networks", "network")),
            ("volume", Refs("volumes", "volume")),
            ("placement-group", Ref("placement_group", "placement-group")),
            ("firewall", Firewalls),
            ("start-after-create", Flag("start_after_create")),
            ("without-ipv4", NotFlag("public_net", "enable_ipv4")),
            ("without-ipv6", NotFlag("public_net", "enable_ipv6")),
            (
                "user-data-from-file",
                Provider("the cloud-config the provider generates"),
            ),
            ("label", Labels),
        ],
        "volume" => &[
            ("name", Text("name")),
            ("size", Number("size")),
            ("location", Text("location")),
            ("server", Ref("server", "server")),
            ("format", Text("format")),
            ("automount", Flag("automount")),
            ("label", Labels),
        ],
        _ => return None,
    })
}

/// The id of entry `index` of `kind`, once it exists in the project.
pub type Ids<'a> = &'a dyn Fn(&str, usize) -> Option<u64>;

/// The create body for entry `at` (`server[2]`) of `kind`.
pub fn create_body(kind: &str, at: &str, entry: &Entry, ids: Ids) -> Result<Value, String> {
    let table = table(kind).ok_or_else(|| format!("{at}: lo does not create {kind} resources"))?;
    let mut body = Map::new();
    for (key, value) in &entry.settings {
        let Some((_, field)) = table.iter().find(|(k, _)| k == key) else {
            let known: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "{at}.{key}: not a {kind} setting lo can map onto the Hetzner API; use one of {}",
                known.join(", ")
            ));
        };
        let field_at = format!("{at}.{key}");
        apply(&mut body, *field, value, &field_at, ids)?;
    }
    Ok(Value::Object(body))
}

fn text(value: &Value, at: &str) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(format!("{at}: expected text, found {other}")),
    }
}

fn flag(value: &Value, at: &str) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
        other => Err(format!("{at}: expected true or false, found {other}")),
    }
}

/// One reference: an index (its id), or a name/id as text (the API takes either).
fn reference(value: &Value, target: &str, at: &str, ids: Ids) -> Result<Value, String> {
    match value {
        Value::Number(n) => {
            let index = n
                .as_u64()
                .ok_or_else(|| format!("{at}: {n} is not an index into {target}"))?;
            let id = ids(target, index as usize).ok_or_else(|| {
                format!(
                    "{at}: {target}[{index}] has no id yet (it is created later, or not at all)"
                )
            })?;
            Ok(json!(id))
        }
        Value::String(s) => Ok(json!(s)),
        other => Err(format!(
            "{at}: expected an index into {target} or a name, found {other}"
        )),
    }
}

fn references(value: &Value, target: &str, at: &str, ids: Ids) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| reference(v, target, &format!("{at}[{i}]"), ids))
            .collect(),
        one => Ok(vec![reference(one, target, at, ids)?]),
    }
}

fn apply(
    body: &mut Map<String, Value>,
    field: Field,
    value: &Value,
    at: &str,
    ids: Ids,
) -> Result<(), String> {
    match field {
        Field::Text(name) => {
            body.insert(name.into(), json!(text(value, at)?));
        }
        Field::Number(name) => {
            let n = match value {
                Value::Number(n) if n.is_u64() => n.clone(),
                Value::String(s) => s
                    .parse::<u64>()
                    .map(Into::into)
                    .map_err(|_| format!("{at}: {s:?} is not a whole number"))?,
                other => return Err(format!("{at}: expected a whole number, found {other}")),
            };
            body.insert(name.into(), Value::Number(n));
        }
        Field::Flag(name) => {
            body.insert(name.into(), json!(flag(value, at)?));
        }
        Field::NotFlag(parent, name) => {
            let on = !flag(value, at)?;
            let nested = body.entry(parent).or_insert_with(|| json!({}));
            nested[name] = json!(on);
        }
        Field::Ref(name, target) => {
            body.insert(name.into(), reference(value, target, at, ids)?);
        }
        Field::Refs(name, target) => {
            body.insert(
                name.into(),
                Value::Array(references(value, target, at, ids)?),
            );
        }
        Field::Firewalls => {
            let list = references(value, "firewall", at, ids)?
                .into_iter()
                .map(|id| json!({"firewall": id}))
                .collect();
            body.insert("firewalls".into(), Value::Array(list));
        }
        Field::Labels => {
            let labels = body.entry("labels").or_insert_with(|| json!({}));
            for pair in text(value, at)?
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
            {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{at}: {pair:?} is not key=value"))?;
                labels[k.trim()] = json!(v.trim());
            }
        }
        Field::Nested(parent, name) => {
            let nested = body.entry(parent).or_insert_with(|| json!({}));
            nested[name] = json!(text(value, at)?);
        }
        Field::Provider(what) => {
            return Err(format!(
                "{at}: set by the provider ({what}); remove it from the descriptor"
            ));
        }
    }
    Ok(())
}

/// A network's `#subnets` rows as the API's `subnets` (created with the network).
pub fn subnets(entry: &Entry, at: &str) -> Result<Vec<Value>, String> {
    let Some(rows) = entry.metadata.get("subnets") else {
        return Ok(Vec::new());
    };
    let rows = rows
        .as_array()
        .ok_or_else(|| format!("{at}.#subnets: must be a list"))?;
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let row_at = format!("{at}.#subnets[{i}]");
            let get = |key: &str| row.get(key).map(|v| text(v, &format!("{row_at}.{key}")));
            let mut subnet = json!({
                "type": get("type").transpose()?.unwrap_or_else(|| "cloud".into()),
                "network_zone": get("network-zone").transpose()?.ok_or_else(|| format!("{row_at}: network-zone is required"))?,
                "ip_range": get("ip-range").transpose()?.ok_or_else(|| format!("{row_at}: ip-range is required"))?,
            });
            if let Some(vswitch) = row.get("vswitch-id") {
                subnet["vswitch_id"] = json!(text(vswitch, &format!("{row_at}.vswitch-id"))?.parse::<u64>().map_err(|_| format!("{row_at}.vswitch-id: not a number"))?);
            }
            Ok(subnet)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::descriptor::Descriptor;

    const DESCRIPTOR: &str = r##"{
      "cluster_name": "edge",
      "ssh-key": [{"name": "edge-key", "public-key": "ssh-ed25519 AAAA", "label": "lok8s.dev/cluster=edge"}],
      "network": [{"name": "edge", "ip-range": "10.0.0.0/16", "label": "lok8s.dev/cluster=edge",
                   "#subnets": [{"network-zone": "eu-central", "type": "cloud", "ip-range": "10.0.1.0/24"}]}],
      "volume": [{"name": "data", "size": 50, "location": "fsn1", "automount": "false"}],
      "server": [{"name": "edge-cp-0", "type": "cx22", "image": "ubuntu-24.04", "location": "fsn1",
                  "ssh-key": [0], "network": 0, "volume": [0], "firewall": "default-fw",
                  "without-ipv6": true, "label": "lok8s.dev/cluster=edge,lok8s.dev/role=control-plane",
                  "#cloud.d": "ci"}],
      "load-balancer": [{"name": "edge-api", "type": "lb11", "location": "fsn1", "algorithm-type": "round_robin", "network": 0}]
    }"##;

    fn ids(kind: &str, index: usize) -> Option<u64> {
        match (kind, index) {
            ("ssh-key", 0) => Some(11),
            ("network", 0) => Some(22),
            ("volume", 0) => Some(33),
            _ => None,
        }
    }

    fn body(kind: &str) -> Result<Value, String> {
        let d = Descriptor::parse(DESCRIPTOR).unwrap();
        let entry = d.entries(kind).unwrap().remove(0);
        create_body(kind, &format!("{kind}[0]"), &entry, &ids)
    }

    #[test]
    fn each_resource_maps_onto_its_api_body() {
        assert_eq!(
            body("server").unwrap(),
            json!({"name": "edge-cp-0", "server_type": "cx22", "image": "ubuntu-24.04", "location": "fsn1",
                "ssh_keys": [11], "networks": [22], "volumes": [33], "firewalls": [{"firewall": "default-fw"}],
                "public_net": {"enable_ipv6": false},
                "labels": {"lok8s.dev/cluster": "edge", "lok8s.dev/role": "control-plane"}})
        );
        // A literal number stays a number where the field is a quantity.
        assert_eq!(
            body("volume").unwrap(),
            json!({"name": "data", "size": 50, "location": "fsn1", "automount": false})
        );
        assert_eq!(
            body("load-balancer").unwrap(),
            json!({"name": "edge-api", "load_balancer_type": "lb11", "location": "fsn1",
                "algorithm": {"type": "round_robin"}, "network": 22})
        );
        assert_eq!(
            body("ssh-key").unwrap(),
            json!({"name": "edge-key", "public_key": "ssh-ed25519 AAAA", "labels": {"lok8s.dev/cluster": "edge"}})
        );
        let d = Descriptor::parse(DESCRIPTOR).unwrap();
        let network = d.entries("network").unwrap().remove(0);
        assert_eq!(network.metadata.get("subnets").map(|_| ()), Some(()));
        assert_eq!(
            subnets(&network, "network[0]").unwrap(),
            [json!({"type": "cloud", "network_zone": "eu-central", "ip_range": "10.0.1.0/24"})]
        );
    }

    #[test]
    fn what_cannot_be_mapped_is_named() {
        let yaml = "server:\n- {name: a, typo: x}\n- {name: b, network: 3}\n- {name: c, user-data-from-file: ./x}\n";
        let d = Descriptor::parse(yaml).unwrap();
        let entries = d.entries("server").unwrap();
        let err = create_body("server", "server[0]", &entries[0], &ids).unwrap_err();
        assert!(
            err.starts_with("server[0].typo: not a server setting"),
            "{err}"
        );
        assert!(err.contains("ssh-key"), "{err}");
        let err = create_body("server", "server[1]", &entries[1], &ids).unwrap_err();
        assert_eq!(
            err,
            "server[1].network: network[3] has no id yet (it is created later, or not at all)"
        );
        let err = create_body("server", "server[2]", &entries[2], &ids).unwrap_err();
        assert!(err.contains("set by the provider"), "{err}");
        assert!(
            Descriptor::parse("server: {name: a}")
                .unwrap_err()
                .contains("must be a list")
        );
        assert!(create_body("firewall", "firewall[0]", &entries[0], &ids).is_err());
    }
}
