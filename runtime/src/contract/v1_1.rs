//! What `lok8s:driver@1.1.*` adds to 1.0: the optional `spec-schema` export. Every other
//! interface is 1.0's unchanged, so 1.0's bindings serve a 1.1 component (wasmtime resolves
//! `…@1.1.0` names to `…@1.0.0` definitions and exports by semver); only the new export is
//! looked up here, by name.

use wasmtime::component::{ComponentExportIndex, Instance, InstancePre, TypedFunc};
use wasmtime::{AsContextMut, Result};

/// The interface's name in a component, at any 1.x minor from 1.1.
pub const SPEC_SCHEMA: &str = "lok8s:driver/spec-schema@1.1.0";

/// Where `spec-schema.schema` is in a component that exports it.
#[derive(Clone)]
pub struct SpecSchemaIndices {
    schema: ComponentExportIndex,
}

impl SpecSchemaIndices {
    /// None when the component does not export `spec-schema`.
    pub fn new<T>(pre: &InstancePre<T>) -> Option<Self> {
        let component = pre.component();
        let interface = component.get_export_index(None, SPEC_SCHEMA)?;
        let schema = component.get_export_index(Some(&interface), "schema")?;
        Some(SpecSchemaIndices { schema })
    }

    /// The typed function in an instance; fails when its type is not the contract's.
    pub fn load(
        &self,
        store: impl AsContextMut,
        instance: &Instance,
    ) -> Result<TypedFunc<(), (Option<String>,)>> {
        instance.get_typed_func::<(), (Option<String>,)>(store, self.schema)
    }
}
