//! A driver's JSON Schema of its cluster spec. Built-in drivers ship one
//! (`drivers/builtin/<kind>/schema.json`); `lo schema <kind>` prints it for editors
//! (yaml-language-server), and `lo provision` validates the spec with it before the driver
//! starts. A schema node may carry `errorMessage` (the spec's own words for what is wrong);
//! otherwise the validator's message is shown. A pinned component may publish one (contract
//! 1.1, `spec-schema`): the driver wrote it, so it is compiled with no reference resolution
//! beyond the document (no files, no network) and linear-time patterns, and its size is capped.

use jsonschema::{PatternOptions, Validator};
use serde_json::Value;

/// Largest schema `lo` compiles.
pub const MAX_SCHEMA_BYTES: usize = 1 << 20;

/// The most problems reported at once: the first ones are what to fix first.
const MAX_ERRORS: usize = 20;

/// One place the spec breaks the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// The field as the user reads it: `spec.nodes.extraMounts[0].hostPath`.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for SchemaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Parses and compiles a schema (JSON text): what `lo driver check` and `lo provision` ask
/// of a driver's schema. `$ref`s outside the document fail here, since nothing is fetched.
pub fn compile(schema: &str) -> Result<(Value, Validator), String> {
    if schema.len() > MAX_SCHEMA_BYTES {
        return Err(format!(
            "the driver's schema is {} bytes; lo reads at most {MAX_SCHEMA_BYTES}",
            schema.len()
        ));
    }
    let value: Value = serde_json::from_str(schema)
        .map_err(|e| format!("the driver's schema is not JSON: {e}"))?;
    let validator = jsonschema::options()
        .with_pattern_options(PatternOptions::regex())
        .build(&value)
        .map_err(|e| format!("the driver's schema is not a valid JSON Schema: {e}"))?;
    Ok((value, validator))
}

/// Validates a cluster spec's YAML text against `schema` (JSON text).
pub fn validate(schema: &str, spec_text: &str) -> Result<(), Vec<SchemaError>> {
    let (schema, validator) = compile(schema).map_err(|message| {
        vec![SchemaError {
            field: "(schema)".into(),
            message,
        }]
    })?;
    let document = as_json(spec_text)?;
    let mut errors: Vec<SchemaError> = validator
        .iter_errors(&document)
        .map(|e| {
            let field = field_name(&e.instance_path().to_string());
            let message = match own_message(&schema, &e.schema_path().to_string()) {
                Some(words) => format!("{words} (got {})", shown(e.instance())),
                None => e.to_string(),
            };
            SchemaError { field, message }
        })
        .collect();
    errors.sort_by(|a, b| a.field.cmp(&b.field));
    errors.dedup();
    errors.truncate(MAX_ERRORS);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// The spec as JSON, the data model a JSON Schema speaks (YAML keys must be text).
fn as_json(spec_text: &str) -> Result<Value, Vec<SchemaError>> {
    let fail = |message: String| {
        vec![SchemaError {
            field: "(document)".into(),
            message,
        }]
    };
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(spec_text).map_err(|e| fail(format!("not YAML: {e}")))?;
    serde_json::to_value(yaml).map_err(|e| fail(format!("not JSON-compatible YAML: {e}")))
}

/// `/spec/nodes/extraMounts/0/hostPath` → `spec.nodes.extraMounts[0].hostPath`.
fn field_name(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() && !out.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    if out.is_empty() {
        "(document)".into()
    } else {
        out
    }
}

/// The `errorMessage` of the schema node a failing keyword belongs to, looking up through
/// `anyOf`/`oneOf`/`allOf` branches to the property's own node, never beyond it.
fn own_message(schema: &Value, keyword_pointer: &str) -> Option<String> {
    let mut segments: Vec<&str> = keyword_pointer.split('/').skip(1).collect();
    // Words about the value; what is missing or extra in a map, the validator says best.
    if let Some(
        "required"
        | "additionalProperties"
        | "unevaluatedProperties"
        | "dependentRequired"
        | "minProperties"
        | "maxProperties",
    ) = segments.pop()
    {
        return None;
    }
    loop {
        let node = segments.iter().try_fold(schema, |node, s| match node {
            // A local reference: the walk goes on in the definition it names.
            Value::Object(map) if *s == "$ref" => map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
                .and_then(|pointer| schema.pointer(pointer)),
            Value::Object(map) => map.get(*s),
            Value::Array(items) => s.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })?;
        if let Some(words) = node.get("errorMessage").and_then(Value::as_str) {
            return Some(words.to_string());
        }
        match segments.as_slice() {
            [.., "anyOf" | "oneOf" | "allOf", index] if index.parse::<usize>().is_ok() => {
                segments.truncate(segments.len() - 2);
            }
            _ => return None,
        }
    }
}

/// A value as it appears in an error: compact, and short.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"{
      "$schema": "https://json-schema.org/draft/2020-12/schema",
      "type": "object",
      "properties": {
        "spec": {
          "type": "object",
          "properties": {
            "nodes": {
              "type": "object",
              "errorMessage": "must be a map of fields",
              "properties": {
                "workers": {"type": "integer", "minimum": 0},
                "extraMounts": {"type": "array", "items": {
                  "type": "object",
                  "properties": {"hostPath": {"anyOf": [{"type": "string", "pattern": "^/"}],
                    "errorMessage": "must be an absolute path"}}
                }}
              }
            }
          }
        }
      }
    }"#;

    #[test]
    fn a_drivers_schema_reaches_nothing_outside_itself() {
        let file = r#"{"$ref": "file:///etc/passwd"}"#;
        assert!(compile(file).is_err());
        let remote = r#"{"$ref": "http://127.0.0.1:9/schema.json"}"#;
        assert!(compile(remote).is_err());
        // Look-around would need a backtracking engine; plain patterns are linear.
        let lookahead = r#"{"type": "string", "pattern": "^(?=a)a$"}"#;
        assert!(
            compile(lookahead)
                .unwrap_err()
                .contains("not a valid JSON Schema")
        );
        let big = format!(r#"{{"description": "{}"}}"#, "x".repeat(MAX_SCHEMA_BYTES));
        assert!(compile(&big).unwrap_err().contains("at most"));
        assert!(compile(r#"{"type": "object"}"#).is_ok());
    }

    #[test]
    fn fields_are_named_as_the_user_reads_them_with_the_schemas_words() {
        let errors = validate(SCHEMA, "spec:\n  nodes: 3\n").unwrap_err();
        assert_eq!(
            errors,
            [SchemaError {
                field: "spec.nodes".into(),
                message: "must be a map of fields (got 3)".into()
            }]
        );
        let errors = validate(
            SCHEMA,
            "spec:\n  nodes:\n    workers: -1\n    extraMounts:\n      - hostPath: data\n",
        )
        .unwrap_err();
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert_eq!(
            shown[0],
            "spec.nodes.extraMounts[0].hostPath: must be an absolute path (got \"data\")"
        );
        assert!(
            shown[1].starts_with("spec.nodes.workers: -1 is less than the minimum of 0"),
            "{shown:?}"
        );
        assert!(validate(SCHEMA, "spec:\n  nodes:\n    workers: 2\n").is_ok());
    }

    #[test]
    fn text_that_is_not_a_json_document_is_named() {
        let errors = validate(SCHEMA, "spec: [\n").unwrap_err();
        assert_eq!(errors[0].field, "(document)");
        let errors = validate(SCHEMA, "? [a]\n: 1\n").unwrap_err();
        assert_eq!(errors[0].field, "(document)");
    }

    #[test]
    fn the_lo_schema_accepts_the_projects_examples() {
        let lo = crate::drivers::builtin::find("lo").unwrap();
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let mut checked = 0;
        for entry in walk(&examples) {
            let text = std::fs::read_to_string(&entry).unwrap();
            if entry.ends_with("cluster.lok8s.yaml") && text.contains("kind: Lo") {
                validate(lo.schema, &text).unwrap_or_else(|e| panic!("{}: {e:?}", entry.display()));
                checked += 1;
            }
        }
        assert!(checked > 0, "no Lo example under {}", examples.display());
    }

    #[test]
    fn the_lo_schema_reads_bootstrap_entries_as_lo_does() {
        let lo = crate::drivers::builtin::find("lo").unwrap();
        let spec = |entries: &str| {
            format!(
                "apiVersion: cluster.lok8s.dev/v1beta1\nkind: Lo\nmetadata:\n  name: dev\nspec:\n  bootstrap:\n{entries}"
            )
        };
        for ok in [
            "    - cilium\n",
            "    - ./addons/x:\n        wait: \"true\"\n        dependsOn: [cilium]\n",
            "    - metallb:\n        replicas: 2\n",
            "    - metallb:\n",
        ] {
            validate(lo.schema, &spec(ok)).unwrap_or_else(|e| panic!("{ok}: {e:?}"));
        }
        // A number is not a reference, and a settings map with a stray key is a typo (lo's
        // bootstrap refuses both before anything runs).
        for bad in [
            "    - 42\n",
            "    - metallb:\n        wait: true\n        replicas: 2\n",
        ] {
            assert!(validate(lo.schema, &spec(bad)).is_err(), "{bad}");
        }
    }

    fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    #[test]
    fn every_built_in_schema_is_a_valid_json_schema() {
        for builtin in crate::drivers::builtin::all() {
            let schema: Value = serde_json::from_str(builtin.schema)
                .unwrap_or_else(|e| panic!("drivers/builtin/{}/schema.json: {e}", builtin.kind));
            assert!(
                jsonschema::meta::is_valid(&schema),
                "drivers/builtin/{}/schema.json breaks the 2020-12 meta-schema",
                builtin.kind
            );
            jsonschema::validator_for(&schema).unwrap();
        }
    }
}
