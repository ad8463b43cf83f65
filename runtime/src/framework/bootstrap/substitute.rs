//! What happens to a render's text after kustomize: `$NAME` / `${NAME}` of whitelisted
//! variables (`LOK8S_SPEC_*`, `LOK8S_USER_*`) replaced inside string values, with GNU
//! envsubst's rules (any other `$…` stays as written), and container `env` values made strings.
//! Substituting parsed values rather than text keeps a value's type (a string stays a string)
//! and keeps a value from becoming YAML structure, whoever supplied it.

use std::collections::BTreeMap;

use serde_json::Value;

/// Variables whose names the render substitutes.
pub fn whitelisted(name: &str) -> bool {
    name.starts_with("LOK8S_SPEC_") || name.starts_with("LOK8S_USER_")
}

/// Replaces whitelisted variables in `text`; unknown names and malformed references stay.
pub fn substitute_text(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) if is_name(&braced[..end]) => (&braced[..end], end + 2),
                _ => ("", 0),
            }
        } else {
            let end = after
                .char_indices()
                .find(|&(i, c)| {
                    !(c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
                })
                .map_or(after.len(), |(i, _)| i);
            (&after[..end], end)
        };
        match vars
            .get(name)
            .filter(|_| !name.is_empty() && whitelisted(name))
        {
            Some(value) => {
                out.push_str(value);
                rest = &after[consumed..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_name(text: &str) -> bool {
    super::entries::is_variable_name(text)
}

/// Substitutes inside every string value (map keys are left alone).
pub fn substitute(value: &mut Value, vars: &BTreeMap<String, String>) {
    match value {
        Value::String(s) if s.contains('$') => *s = substitute_text(s, vars),
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, vars)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, vars)),
        _ => {}
    }
}

/// Container `env` entries with a `value` get it as a string: Helm writes numbers and
/// booleans unquoted, and the API refuses them.
pub fn stringify_env_values(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(env)) = map.get_mut("env") {
                for item in env.iter_mut() {
                    if let Some(v) = item.get_mut("value") {
                        match v {
                            Value::Number(n) => *v = Value::String(n.to_string()),
                            Value::Bool(b) => *v = Value::String(b.to_string()),
                            _ => {}
                        }
                    }
                }
            }
            map.values_mut().for_each(stringify_env_values);
        }
        Value::Array(items) => items.iter_mut().for_each(stringify_env_values),
        _ => {}
    }
}

/// Helm values layering: maps merge key by key, anything else in `top` replaces `base`.
pub fn deep_merge(base: &mut serde_yaml::Value, top: serde_yaml::Value) {
    match (base, top) {
        (serde_yaml::Value::Mapping(b), serde_yaml::Value::Mapping(t)) => {
            for (k, v) in t {
                match b.get_mut(&k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, t) => *b = t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> BTreeMap<String, String> {
        [
            ("LOK8S_SPEC_POOL", "10.0.0.1-10.0.0.9"),
            ("LOK8S_USER_EMPTY", ""),
            ("LOK8S_SPEC_LEVEL", "3"),
            ("HOME", "/root"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    #[test]
    fn gnu_whitelist_rules() {
        for (input, expected) in [
            ("$LOK8S_SPEC_POOL", "10.0.0.1-10.0.0.9"),
            ("${LOK8S_SPEC_POOL}", "10.0.0.1-10.0.0.9"),
            ("a-${LOK8S_SPEC_POOL}-b", "a-10.0.0.1-10.0.0.9-b"),
            ("$LOK8S_SPEC_POOLX", "$LOK8S_SPEC_POOLX"),
            ("[$LOK8S_USER_EMPTY]", "[]"),
            ("$HOME ${HOME}", "$HOME ${HOME}"),
            ("$LOK8S_SPEC_UNSET", "$LOK8S_SPEC_UNSET"),
            ("${LOK8S_SPEC_POOL:-x}", "${LOK8S_SPEC_POOL:-x}"),
            ("${LOK8S_SPEC_POOL", "${LOK8S_SPEC_POOL"),
            ("$$LOK8S_SPEC_LEVEL", "$3"),
            ("cost: 5$", "cost: 5$"),
            ("${}", "${}"),
        ] {
            assert_eq!(substitute_text(input, &vars()), expected, "{input}");
        }
    }

    #[test]
    fn values_keep_their_type_and_never_become_structure() {
        let mut doc = json!({"data": {"level": "${LOK8S_SPEC_LEVEL}", "n": 3}});
        substitute(&mut doc, &vars());
        assert_eq!(doc["data"]["level"], json!("3"));
        let mut hostile = BTreeMap::new();
        hostile.insert(
            "LOK8S_SPEC_POOL".to_string(),
            "x\n---\nkind: ClusterRoleBinding".to_string(),
        );
        let mut doc = json!({"spec": {"addresses": ["$LOK8S_SPEC_POOL"]}});
        substitute(&mut doc, &hostile);
        assert_eq!(
            doc["spec"]["addresses"][0],
            json!("x\n---\nkind: ClusterRoleBinding")
        );
    }

    #[test]
    fn env_values_become_strings() {
        let mut doc = json!({"spec": {"containers": [{"env": [
            {"name": "A", "value": 1}, {"name": "B", "value": true},
            {"name": "C", "valueFrom": {"x": 1}}, {"name": "D", "value": "d"}]}]}});
        stringify_env_values(&mut doc);
        let env = &doc["spec"]["containers"][0]["env"];
        assert_eq!(env[0]["value"], json!("1"));
        assert_eq!(env[1]["value"], json!("true"));
        assert_eq!(env[2]["valueFrom"]["x"], json!(1));
        assert_eq!(env[3]["value"], json!("d"));
    }

    #[test]
    fn values_merge_maps_and_replace_the_rest() {
        let mut base: serde_yaml::Value =
            serde_yaml::from_str("a: {b: 1, c: [1, 2]}\nd: x\n").unwrap();
        let top: serde_yaml::Value = serde_yaml::from_str("a: {c: [3]}\nd: null\ne: 1\n").unwrap();
        deep_merge(&mut base, top);
        let expected: serde_yaml::Value =
            serde_yaml::from_str("a: {b: 1, c: [3]}\nd: null\ne: 1\n").unwrap();
        assert_eq!(base, expected);
    }
}
