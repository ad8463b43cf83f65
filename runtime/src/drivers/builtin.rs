//! Built-in driver components, their shipped grants and spec schemas, embedded at build time
//! by `build.rs`.

use crate::host::grants::Grants;

include!(concat!(env!("OUT_DIR"), "/builtin_drivers.rs"));

/// A driver compiled into `lo`.
pub struct Builtin {
    pub kind: &'static str,
    pub component: &'static [u8],
    grant: &'static str,
    /// The JSON Schema of its cluster spec (`drivers/<kind>/schema.json`).
    pub schema: &'static str,
}

impl Builtin {
    /// What `lo` grants this driver (`drivers/<kind>/grant.toml`).
    pub fn grants(&self) -> Grants {
        toml::from_str(self.grant).unwrap_or_default()
    }
}

/// The built-in driver for a kind (case-insensitive).
pub fn find(kind: &str) -> Option<Builtin> {
    let key = kind.to_ascii_lowercase();
    all().find(|b| b.kind == key)
}

pub fn all() -> impl Iterator<Item = Builtin> {
    EMBEDDED
        .iter()
        .map(|(kind, component, grant, schema)| Builtin {
            kind,
            component,
            grant,
            schema,
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn shipped_grants_parse() {
        for builtin in super::all() {
            let parsed: Result<crate::host::grants::Grants, _> = toml::from_str(builtin.grant);
            assert!(
                parsed.is_ok(),
                "drivers/{}/grant.toml: {:?}",
                builtin.kind,
                parsed.err()
            );
        }
        assert!(super::find("LO").is_some());
    }
}
