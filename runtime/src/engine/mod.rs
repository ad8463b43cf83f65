//! The wasmtime side: one engine per process, a compiled-code cache, and driver instances that
//! run under memory, CPU and wall-clock limits.

pub mod cache;
pub mod contract;
pub mod instance;
pub mod limits;

use std::sync::Arc;

use wasmtime::component::Linker;
use wasmtime::{Config, Engine};

use crate::host::HostState;
use crate::host::grants::Grants;
use crate::lock::Verified;
use cache::{CacheOutcome, CompiledCache};
use contract::{ContractError, Shape};
use instance::Prepared;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("starting the WebAssembly engine: {0}")]
    Engine(String),
    #[error("compiling: {0}")]
    Compile(String),
    #[error(transparent)]
    Contract(#[from] ContractError),
    #[error("linking: {0}")]
    Link(String),
}

/// The engine, its epoch ticker, the shared linker and the compiled cache.
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<HostState>>,
    cache: CompiledCache,
}

impl Runtime {
    pub fn new(cache: CompiledCache) -> Result<Runtime, LoadError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine(e.to_string()))?;
        spawn_epoch_ticker(&engine);
        let linker = crate::host::linker(&engine).map_err(|e| LoadError::Engine(e.to_string()))?;
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
            cache,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn cache(&self) -> &CompiledCache {
        &self.cache
    }

    /// Compiles (or loads from cache) verified bytes and checks the contract. `grants` None is
    /// inspection mode: every implemented interface may be imported, for describe only.
    pub fn prepare(
        &self,
        component: &Verified,
        grants: Option<&Grants>,
        grant_hint: &str,
    ) -> Result<(Prepared, Shape, CacheOutcome), LoadError> {
        let (compiled, outcome) = self
            .cache
            .load(&self.engine, component)
            .map_err(|e| LoadError::Compile(e.to_string()))?;
        let shape = contract::inspect(&self.engine, &compiled)?;
        let everything = Grants::inspection();
        contract::check_imports(&shape, grants.unwrap_or(&everything), grant_hint)?;
        let pre = self
            .linker
            .instantiate_pre(&compiled)
            .map_err(|e| LoadError::Link(e.to_string()))?;
        let lifecycle = crate::contract::lifecycle::GuestIndices::new(&pre)
            .map_err(|e| LoadError::Link(e.to_string()))?;
        let hooks = if shape.has_hooks {
            Some(
                crate::contract::hooks::GuestIndices::new(&pre)
                    .map_err(|e| LoadError::Link(e.to_string()))?,
            )
        } else {
            None
        };
        let spec_schema = if shape.has_schema {
            Some(
                crate::contract::v1_1::SpecSchemaIndices::new(&pre).ok_or_else(|| {
                    LoadError::Link(format!(
                        "exports no `schema` function in {}",
                        crate::contract::v1_1::SPEC_SCHEMA
                    ))
                })?,
            )
        } else {
            None
        };
        Ok((
            Prepared {
                pre,
                lifecycle,
                hooks,
                spec_schema,
            },
            shape,
            outcome,
        ))
    }
}

/// Advances the epoch every tick; holds only a weak reference so the engine can drop.
fn spawn_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    let _ = std::thread::Builder::new()
        .name("lo-epoch".into())
        .spawn(move || {
            loop {
                std::thread::sleep(limits::TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        });
}
