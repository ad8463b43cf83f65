//! What a component claims to be, read from its type before anything runs: the contract
//! version it was built against, whether it exports the optional hooks, and whether every
//! import is one this `lo` implements and the driver's grant allows. Refusals list every
//! offending import at once, with what would allow it.

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::CONTRACT;
use crate::host;
use crate::host::grants::Grants;

const PACKAGE: &str = "lok8s:driver";

/// The contract-relevant shape of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// The highest `lok8s:driver` version among its imports and exports.
    pub contract: (u64, u64, u64),
    pub has_hooks: bool,
    /// Whether it exports `spec-schema` (contract 1.1 and up).
    pub has_schema: bool,
    /// Every import name, as the component spells it.
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    #[error("not a lok8s driver: it exports no `{PACKAGE}/lifecycle` interface (exports: {0})")]
    NotADriver(String),
    #[error(
        "built against contract {PACKAGE}@{found}; this lo ({lo}) supports {PACKAGE}@{major}.{minor}.x and older 1.x: \
         upgrade lo to a release that supports contract {found_major}.{found_minor}, or rebuild the driver against {major}.{minor}",
        lo = crate::VERSION, major = CONTRACT.0, minor = CONTRACT.1
    )]
    Newer {
        found: String,
        found_major: u64,
        found_minor: u64,
    },
    #[error(
        "built against contract {PACKAGE}@{found}, a different major version than this lo's {major}.x; rebuild the driver against {PACKAGE}@{major}.{minor}",
        major = CONTRACT.0, minor = CONTRACT.1
    )]
    OtherMajor { found: String },
    #[error("imports what it may not use:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Imports(Vec<String>),
    #[error(
        "describe() says contract {said:?}, but the component is built against {PACKAGE}@{built}"
    )]
    Inconsistent { said: String, built: String },
}

/// Reads the component's imports and exports and checks the contract version.
pub fn inspect(engine: &Engine, component: &Component) -> Result<Shape, ContractError> {
    let ty = component.component_type();
    let imports: Vec<String> = ty
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let exports: Vec<String> = ty
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let mut newest: Option<(u64, u64, u64)> = None;
    let mut has_lifecycle = false;
    let mut has_hooks = false;
    let mut has_schema = false;
    for name in imports.iter().chain(&exports) {
        if let Some((iface, version)) = ours(name) {
            let v = version.unwrap_or((0, 0, 0));
            newest = Some(newest.map_or(v, |n| n.max(v)));
            if exports.contains(name) {
                has_lifecycle |= iface == "lifecycle";
                has_hooks |= iface == "hooks";
                has_schema |= iface == "spec-schema";
            }
        }
    }
    let contract = newest.unwrap_or((0, 0, 0));
    let found = format!("{}.{}.{}", contract.0, contract.1, contract.2);
    if newest.is_some() && contract.0 != CONTRACT.0 {
        return Err(ContractError::OtherMajor { found });
    }
    if contract.0 == CONTRACT.0 && contract.1 > CONTRACT.1 {
        return Err(ContractError::Newer {
            found,
            found_major: contract.0,
            found_minor: contract.1,
        });
    }
    if !has_lifecycle {
        return Err(ContractError::NotADriver(if exports.is_empty() {
            "none".into()
        } else {
            exports.join(", ")
        }));
    }
    Ok(Shape {
        contract,
        has_hooks,
        has_schema,
        imports,
        exports,
    })
}

/// Every import must be WASI's baseline, an always-linked interface, or one granted.
pub fn check_imports(
    shape: &Shape,
    grants: &Grants,
    grant_hint: &str,
) -> Result<(), ContractError> {
    let mut problems = Vec::new();
    for name in &shape.imports {
        if let Some((iface, _)) = ours(name) {
            if host::ALWAYS_LINKED.contains(&iface) {
                continue;
            }
            if host::NOT_YET_IMPLEMENTED.contains(&iface) {
                problems.push(format!(
                    "{name}: lo {} does not implement the `{iface}` capability yet; a driver that imports it cannot run on this lo",
                    crate::VERSION
                ));
            } else if host::IMPLEMENTED_BY_GRANT.contains(&iface) {
                if !grants.allows_interface(iface) {
                    problems.push(format!("{name}: not granted; {grant_hint}"));
                }
            } else {
                problems.push(format!(
                    "{name}: not an interface of {PACKAGE}@{}.{}",
                    CONTRACT.0, CONTRACT.1
                ));
            }
        } else if !host::WASI_ALLOWED
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            let why = if name.starts_with("wasi:http/") {
                "drivers get no raw network access; use the contract's `http` import"
            } else {
                "not part of the lok8s driver contract"
            };
            problems.push(format!("{name}: {why}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ContractError::Imports(problems))
    }
}

/// Checks that what describe() reports matches the component's type.
pub fn check_described(shape: &Shape, said: &str) -> Result<(), ContractError> {
    let built = format!(
        "{}.{}.{}",
        shape.contract.0, shape.contract.1, shape.contract.2
    );
    match parse_version(said) {
        Some((major, minor, _)) if (major, minor) == (shape.contract.0, shape.contract.1) => Ok(()),
        _ => Err(ContractError::Inconsistent {
            said: said.to_string(),
            built,
        }),
    }
}

/// `lok8s:driver/<iface>@<version>` -> (iface, version).
/// A contract version: (major, minor, patch).
type Version = (u64, u64, u64);

fn ours(name: &str) -> Option<(&str, Option<Version>)> {
    let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
    match rest.split_once('@') {
        Some((iface, version)) => Some((iface, parse_version(version))),
        None => Some((rest, None)),
    }
}

fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let mut parts = text.split(['.', '-', '+']).map(|p| p.parse::<u64>());
    Some((
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(imports: &[&str]) -> Shape {
        Shape {
            contract: (1, 0, 0),
            has_hooks: false,
            has_schema: false,
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: vec!["lok8s:driver/lifecycle@1.0.0".into()],
        }
    }

    #[test]
    fn names_parse() {
        assert_eq!(
            ours("lok8s:driver/log@1.2.3"),
            Some(("log", Some((1, 2, 3))))
        );
        assert_eq!(ours("wasi:io/streams@0.2.6"), None);
    }

    #[test]
    fn baseline_wasi_and_log_are_free() {
        let s = shape(&[
            "wasi:cli/environment@0.2.6",
            "wasi:io/streams@0.2.6",
            "lok8s:driver/log@1.0.0",
            "lok8s:driver/types@1.0.0",
        ]);
        check_imports(&s, &Grants::default(), "").unwrap();
    }

    #[test]
    fn every_offending_import_is_listed() {
        let s = shape(&[
            "lok8s:driver/docker@1.0.0",
            "lok8s:driver/kubectl-apply@1.0.0",
            "lok8s:driver/teleport@1.0.0",
            "wasi:sockets/tcp@0.2.6",
            "wasi:http/outgoing-handler@0.2.6",
            "acme:evil/steal",
        ]);
        let err = check_imports(&s, &Grants::default(), "grant it")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("lok8s:driver/docker@1.0.0: not granted; grant it"),
            "{err}"
        );
        assert!(
            err.contains("lok8s:driver/kubectl-apply@1.0.0: not granted"),
            "{err}"
        );
        assert!(
            err.contains("lok8s:driver/teleport@1.0.0: not an interface of lok8s:driver@1.2"),
            "{err}"
        );
        assert!(
            err.contains("wasi:http/outgoing-handler@0.2.6: drivers get no raw network"),
            "{err}"
        );
        // Linked for language runtimes, refused at use (see the raw-socket hostile test).
        assert!(!err.contains("wasi:sockets"), "{err}");
        assert!(err.contains("acme:evil/steal: not part"), "{err}");
    }

    #[test]
    fn described_contract_must_match() {
        let s = shape(&[]);
        check_described(&s, "1.0.0").unwrap();
        assert!(check_described(&s, "2.0.0").is_err());
    }
}
