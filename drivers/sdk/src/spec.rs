//! Typed access to the cluster spec (`ctx.spec`), with errors that name the field, the value
//! and what is expected: a driver returns them as they are and `lo` prints them.

use serde_yaml::Value;

use crate::{DriverError, FieldError, Result};

/// An `invalid-spec` error for `field`.
pub fn invalid(field: &str, message: impl Into<String>) -> DriverError {
    DriverError::InvalidSpec(FieldError {
        field: field.to_string(),
        message: message.into(),
    })
}

/// A parsed `cluster.lok8s.yaml`. Paths are dotted: `spec.nodes.workers`.
pub struct Spec {
    doc: Value,
}

impl Spec {
    /// Parses the spec text `lo` hands every call.
    pub fn parse(text: &str) -> Result<Spec> {
        serde_yaml::from_str(text)
            .map(|doc| Spec { doc })
            .map_err(|e| invalid("(document)", format!("not YAML: {e}")))
    }

    /// The value at `path`; absent and `null` are both `None`.
    pub fn get(&self, path: &str) -> Option<&Value> {
        let found = path
            .split('.')
            .try_fold(&self.doc, |node, key| node.get(key))?;
        (!found.is_null()).then_some(found)
    }

    /// A string (numbers are taken as written).
    pub fn str(&self, path: &str) -> Result<Option<String>> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(invalid(
                path,
                format!("expected a string, found {}", shown(other)),
            )),
        }
    }

    /// A string that must be there; `hint` says what to write.
    pub fn required_str(&self, path: &str, hint: &str) -> Result<String> {
        self.str(path)?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| invalid(path, format!("is required: {hint}")))
    }

    /// `true` or `false` (not `"yes"`, not `1`).
    pub fn bool(&self, path: &str, default: bool) -> Result<bool> {
        match self.get(path) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(invalid(
                path,
                format!("must be true or false, found {}", shown(other)),
            )),
        }
    }

    /// A whole number within `range`.
    pub fn u32(
        &self,
        path: &str,
        default: u32,
        range: std::ops::RangeInclusive<u32>,
    ) -> Result<u32> {
        match self.get(path) {
            None => Ok(default),
            Some(Value::Number(n))
                if n.as_u64().is_some_and(|v| {
                    v <= u64::from(*range.end()) && v >= u64::from(*range.start())
                }) =>
            {
                Ok(n.as_u64().unwrap_or_default() as u32)
            }
            Some(other) => Err(invalid(
                path,
                format!(
                    "must be a whole number from {} to {}, found {}",
                    range.start(),
                    range.end(),
                    shown(other)
                ),
            )),
        }
    }

    /// A list (absent: empty).
    pub fn list(&self, path: &str) -> Result<Vec<Value>> {
        match self.get(path) {
            None => Ok(Vec::new()),
            Some(Value::Sequence(items)) => Ok(items.clone()),
            Some(other) => Err(invalid(
                path,
                format!("expected a list, found {}", shown(other)),
            )),
        }
    }
}

fn shown(v: &Value) -> String {
    serde_yaml::to_string(v)
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| format!("{v:?}"))
}
