//! `spec.bootstrap`: which entries run, and each entry's grammar. An entry is a scalar
//! `<ref>` or a single-key map `{<ref>: <value>}`; a value with any reserved key (`values`,
//! `env`, `wait`, `dependsOn`, `name`) uses those keys, any other map is the chart's inline
//! values. Everything here is checked before anything is created.

use serde_yaml::{Mapping, Value};

use super::BootstrapError;
use super::addons::{Addon, Addons};

const RESERVED: &[&str] = &["values", "env", "wait", "dependsOn", "name"];

/// One entry of the plan.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Position in `spec.bootstrap` (0 for a default entry).
    pub index: usize,
    /// `<ref>` as written.
    pub reference: String,
    /// The entry's identity: `name:` or the directory's last component.
    pub name: String,
    pub explicit_name: bool,
    pub addon: Addon,
    /// Inline chart values (`values:` or the legacy whole map).
    pub values: Option<Mapping>,
    /// `env:` pairs, each one value (never split on newlines).
    pub env: Vec<(String, String)>,
    /// A gate: everything before it finishes first, everything after waits for it.
    pub wait: bool,
    pub depends_on: Vec<String>,
}

/// What `spec.bootstrap` selects (the rule the Lo driver reads too: `lok8s-bootstrap-refs`):
/// the list as written, or the kind's default when the key is absent; `[]` and a bare
/// `bootstrap:` (null) both mean none.
pub fn selected(spec: &Value, kind: &str) -> Result<Vec<Value>, BootstrapError> {
    lok8s_bootstrap_refs::selected(spec, kind).map_err(|other| {
        BootstrapError::field(
            "spec.bootstrap",
            format!("must be a list of addon entries, got {}", describe(&other)),
            "write it as a list, such as `bootstrap: [cilium, metallb]`, or `bootstrap: []` for none",
        )
    })
}

/// The selected entries as (reference, explicit name), unresolved.
pub fn references(
    spec: &Value,
    kind: &str,
) -> Result<Vec<(String, Option<String>)>, BootstrapError> {
    Ok(selected(spec, kind)?
        .iter()
        .filter_map(lok8s_bootstrap_refs::reference)
        .collect())
}

/// Parses every entry in order and resolves its addon; the first failing entry is the error.
pub fn parse_all(items: &[Value], addons: &Addons) -> Result<Vec<Entry>, BootstrapError> {
    items
        .iter()
        .enumerate()
        .map(|(index, item)| parse(index, item, addons))
        .collect()
}

fn parse(index: usize, item: &Value, addons: &Addons) -> Result<Entry, BootstrapError> {
    let field = format!("spec.bootstrap[{index}]");
    let (reference, value) = match item {
        Value::String(s) => (s.clone(), None),
        Value::Mapping(map) if map.len() == 1 => {
            let (key, value) = map.iter().next().expect("one key");
            let Value::String(reference) = key else {
                return Err(BootstrapError::field(
                    &field,
                    format!("the key {} is not an addon reference", describe(key)),
                    "name the addon with a string, such as `- metallb: {wait: true}`",
                ));
            };
            (reference.clone(), Some(value))
        }
        Value::Mapping(map) => {
            return Err(BootstrapError::field(
                &field,
                format!(
                    "an entry is a single-key map, this one has {} keys",
                    map.len()
                ),
                "indent the settings under the addon's name: `- metallb:\\n    wait: true`",
            ));
        }
        other => {
            return Err(BootstrapError::field(
                &field,
                format!("{} is not an addon reference", describe(other)),
                "name the addon with a string (`- cilium`), a project path (`- /addons/x`) or a cluster path (`- ./addons/x`)",
            ));
        }
    };
    if reference.trim().is_empty() {
        return Err(BootstrapError::field(
            &field,
            "the addon reference is empty".into(),
            "name an addon, such as `- cilium`",
        ));
    }
    let field = format!("{field} ({reference})");
    let addon = addons.resolve(&reference).map_err(|e| e.at(&field))?;
    let mut entry = Entry {
        index,
        name: default_name(&reference),
        reference,
        explicit_name: false,
        addon,
        values: None,
        env: Vec::new(),
        wait: false,
        depends_on: Vec::new(),
    };
    match value {
        None | Some(Value::Null) => {}
        Some(Value::Mapping(map)) if !map.keys().any(is_reserved) => {
            // The legacy form: the whole map is the chart's values.
            require_chart(&entry, &field, "inline values")?;
            entry.values = Some(map.clone());
        }
        Some(Value::Mapping(map)) => read_reserved(&mut entry, map, &field)?,
        Some(other) => {
            return Err(BootstrapError::field(
                &field,
                format!(
                    "the value must be a map of values/env/wait/dependsOn/name or chart values, got {}",
                    describe(other)
                ),
                "write `- addon: {wait: true}` or leave the value out",
            ));
        }
    }
    Ok(entry)
}

fn is_reserved(key: &Value) -> bool {
    key.as_str().is_some_and(|k| RESERVED.contains(&k))
}

fn read_reserved(entry: &mut Entry, map: &Mapping, field: &str) -> Result<(), BootstrapError> {
    if let Some(unknown) = map.keys().find(|k| !is_reserved(k)) {
        return Err(BootstrapError::field(
            field,
            format!(
                "{} is not one of values, env, wait, dependsOn, name",
                describe(unknown)
            ),
            "put chart values under `values:`",
        ));
    }
    if let Some(name) = map.get("name") {
        entry.name = entry_name(name, &format!("{field}.name"))?;
        entry.explicit_name = true;
    }
    if let Some(wait) = map.get("wait") {
        entry.wait = match wait {
            Value::Bool(b) => *b,
            Value::Null => false,
            // Read as text by the original, so the quoted forms stay valid.
            Value::String(s) if s == "true" => true,
            Value::String(s) if s == "false" => false,
            other => {
                return Err(BootstrapError::field(
                    &format!("{field}.wait"),
                    format!("{} is not true or false", describe(other)),
                    "use `wait: true` to make this entry a gate, or leave it out",
                ));
            }
        };
    }
    if let Some(values) = map.get("values") {
        require_chart(entry, field, "`values:`")?;
        entry.values = match values {
            Value::Null => None,
            Value::Mapping(m) => Some(m.clone()),
            other => {
                return Err(BootstrapError::field(
                    &format!("{field}.values"),
                    format!("must be a map of chart values, got {}", describe(other)),
                    "write the chart's values as a map under `values:`",
                ));
            }
        };
    }
    if let Some(env) = map.get("env") {
        entry.env = read_env(env, &format!("{field}.env"))?;
    }
    if let Some(depends) = map.get("dependsOn") {
        entry.depends_on = read_depends_on(depends, &format!("{field}.dependsOn"))?;
    }
    Ok(())
}

fn require_chart(entry: &Entry, field: &str, what: &str) -> Result<(), BootstrapError> {
    if entry.addon.is_chart {
        return Ok(());
    }
    Err(BootstrapError::field(
        field,
        format!(
            "{what} only apply to chart addons, and {} has no helmCharts in its kustomization",
            entry.addon.shown
        ),
        "remove them, or use an addon that renders a Helm chart",
    ))
}

fn entry_name(value: &Value, field: &str) -> Result<String, BootstrapError> {
    let Value::String(name) = value else {
        return Err(BootstrapError::field(
            field,
            format!("{} is not a string", describe(value)),
            "quote it: `name: \"my-addon\"`",
        ));
    };
    if name.is_empty() {
        return Err(BootstrapError::field(
            field,
            "is empty".into(),
            "give the entry a name, or leave `name:` out to use the addon's",
        ));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(BootstrapError::field(
            field,
            format!("{name:?} is not a valid entry name"),
            "use letters, digits, '.', '_' and '-'",
        ));
    }
    Ok(name.clone())
}

fn read_env(value: &Value, field: &str) -> Result<Vec<(String, String)>, BootstrapError> {
    let map = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Mapping(m) => m,
        other => {
            return Err(BootstrapError::field(
                field,
                format!("must be a map of NAME: value, got {}", describe(other)),
                "write `env: {LOK8S_USER_REPLICAS: 2}`",
            ));
        }
    };
    let mut pairs = Vec::new();
    let mut nested = Vec::new();
    for (key, value) in map {
        let key = scalar_text(key).unwrap_or_default();
        if !is_variable_name(&key) {
            return Err(BootstrapError::field(
                field,
                format!("{key:?} is not an environment variable name"),
                "use letters, digits and '_', not starting with a digit",
            ));
        }
        match scalar_text(value) {
            Some(text) => pairs.push((key, text)),
            None => nested.push(key),
        }
    }
    if !nested.is_empty() {
        return Err(BootstrapError::field(
            field,
            format!("values must be scalars; {} are not", nested.join(", ")),
            "chart values go under `values:`",
        ));
    }
    Ok(pairs)
}

fn read_depends_on(value: &Value, field: &str) -> Result<Vec<String>, BootstrapError> {
    let Value::Sequence(items) = value else {
        return Err(BootstrapError::field(
            field,
            format!("must be a list of entry names, got {}", describe(value)),
            "write `dependsOn: [cert-manager]`",
        ));
    };
    items
        .iter()
        .map(|item| match item {
            Value::Null => Err(BootstrapError::field(
                field,
                "has an empty element".into(),
                "list entry names only",
            )),
            other => scalar_text(other).ok_or_else(|| {
                BootstrapError::field(
                    field,
                    format!("{} is not an entry name", describe(other)),
                    "list entry names only, such as `dependsOn: [cert-manager]`",
                )
            }),
        })
        .collect()
}

/// `name: x`-style identities: the last path component of the reference.
fn default_name(reference: &str) -> String {
    reference
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(reference)
        .to_string()
}

pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A scalar's text as YAML wrote it (`true`, `1`, `null`); None for maps and lists.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Null => Some("null".into()),
        Value::Tagged(t) => scalar_text(&t.value),
        Value::Sequence(_) | Value::Mapping(_) => None,
    }
}

/// A value's YAML type and text, for messages.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("{s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a map".into(),
        Value::Tagged(t) => format!("a value tagged {}", t.tag),
    }
}
