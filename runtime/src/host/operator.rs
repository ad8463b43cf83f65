//! Values the operator names rather than the grant: a grant entry `spec:<path>` stands for the
//! value at `spec.<path>` in the cluster spec, `env:<NAME>` for that environment variable's.
//! The operator writes both the spec and the environment; the driver writes neither, so an
//! entry of this form never lets a driver choose what it may reach. Unset values name nothing.
//! Each capability says what the value means (an origin, a CA file, a namespace, a domain).

use std::path::Path;

use serde_yaml::Value;

/// Where an operator-named value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Named {
    /// A dotted path below `spec:`.
    Spec(String),
    /// An environment variable.
    Env(String),
}

impl Named {
    /// `spec:a.b` or `env:NAME`; None for any other entry (a literal origin).
    pub fn parse(entry: &str) -> Option<Result<Named, String>> {
        let bad = |why: &str| {
            format!("grant entry {entry:?}: {why}; write spec:<field.path> or env:<NAME>")
        };
        if let Some(path) = entry.strip_prefix("spec:") {
            let ok = !path.is_empty()
                && path.split('.').all(|k| {
                    !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                });
            return Some(
                ok.then(|| Named::Spec(path.into()))
                    .ok_or_else(|| bad("not a field path")),
            );
        }
        if let Some(name) = entry.strip_prefix("env:") {
            let ok = !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !name.starts_with(|c: char| c.is_ascii_digit());
            return Some(
                ok.then(|| Named::Env(name.into()))
                    .ok_or_else(|| bad("not a variable name")),
            );
        }
        None
    }

    /// How `lo drivers show` and errors name it.
    pub fn field(&self) -> String {
        match self {
            Named::Spec(path) => format!("spec.{path}"),
            Named::Env(name) => format!("${name}"),
        }
    }

    /// The spec's node at a `spec:` path (None for an environment variable).
    fn in_spec<'v>(&self, spec: &'v Value) -> Option<&'v Value> {
        match self {
            Named::Spec(path) => path.split('.').try_fold(spec, |at, key| at.get(key)),
            Named::Env(_) => None,
        }
    }

    /// Its text, if set and not empty.
    pub fn value(&self, spec: &Value, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let text = match self {
            Named::Spec(_) => self
                .in_spec(spec)
                .and_then(Value::as_str)
                .map(str::to_string),
            Named::Env(name) => env(name),
        };
        text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
    }

    /// Whether it is set to true: a YAML boolean, or the text `true` (any case) or `1`.
    pub fn flag(&self, spec: &Value, env: &dyn Fn(&str) -> Option<String>) -> bool {
        if let Some(b) = self.in_spec(spec).and_then(Value::as_bool) {
            return b;
        }
        self.value(spec, env)
            .is_some_and(|t| t.eq_ignore_ascii_case("true") || t == "1")
    }
}

/// The operator's values for a driver: the spec's `spec:` section, the folder relative file
/// names in it start from, and the environment.
pub struct OperatorValues<'a> {
    pub spec: &'a Value,
    pub spec_dir: &'a Path,
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

/// The grant's entries with each operator-named one replaced by its value now (unset ones
/// dropped); other entries as they are.
pub fn resolve(entries: &[String], values: &OperatorValues) -> Result<Vec<String>, String> {
    resolve_with(entries, values, |_, value| Ok(value))
}

/// [`resolve`], each operator-named value passed through `map` (which may refuse it).
pub fn resolve_with(
    entries: &[String],
    values: &OperatorValues,
    map: impl Fn(&Named, String) -> Result<String, String>,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in entries {
        match Named::parse(entry) {
            None => out.push(entry.clone()),
            Some(named) => {
                let named = named?;
                if let Some(value) = named.value(values.spec, values.env) {
                    out.push(map(&named, value)?);
                }
            }
        }
    }
    Ok(out)
}

/// A grant entry as `lo drivers show` says it: `what` of an operator-named one.
pub fn shown(entry: &str, what: &str) -> String {
    match Named::parse(entry) {
        Some(Ok(_)) => format!("{what} in {}", field_of(entry)),
        _ => entry.to_string(),
    }
}

/// Where an operator-named entry reads from (`spec.kkp.caCert`, `$KKP_CA_CERT`); others as
/// written.
pub fn field_of(entry: &str) -> String {
    match Named::parse(entry) {
        Some(Ok(named)) => named.field(),
        _ => entry.to_string(),
    }
}
