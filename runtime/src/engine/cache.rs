//! Compiled components, cached in the user's cache dir under a key made of the component's
//! sha256 and the engine's compatibility hash. Entries are written atomically and carry a
//! checksum; anything that does not check out is recompiled, never fatal. Precompiled code is
//! only ever loaded from this directory, and only what this `lo` wrote there.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::lock::Verified;

const MAGIC: &[u8; 8] = b"LOK8SCW1";
const HEADER: usize = 8 + 4 + 8;

/// How a component was obtained, for `-v` output and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheOutcome {
    Hit,
    Compiled,
    /// A cache entry existed but was unusable; it was replaced.
    Recompiled(String),
    /// No usable cache directory; compiled in memory.
    Uncached(String),
}

pub struct CompiledCache {
    dir: Option<PathBuf>,
}

impl CompiledCache {
    /// `LO_CACHE_DIR`, else `<user cache dir>/lok8s/compiled`.
    pub fn default_location() -> CompiledCache {
        let dir = std::env::var_os("LO_CACHE_DIR")
            .map(PathBuf::from)
            .or_else(|| dirs::cache_dir().map(|d| d.join("lok8s").join("compiled")));
        CompiledCache { dir }
    }

    pub fn at(dir: impl Into<PathBuf>) -> CompiledCache {
        CompiledCache {
            dir: Some(dir.into()),
        }
    }

    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The file for this component under this engine.
    pub fn entry_path(&self, engine: &Engine, component: &Verified) -> Option<PathBuf> {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let name = format!(
            "{}-{:016x}.cwasm",
            component.digest().hex(),
            hasher.finish()
        );
        self.dir.as_ref().map(|d| d.join(name))
    }

    /// Loads the compiled component, compiling (and caching) it when needed.
    pub fn load(
        &self,
        engine: &Engine,
        component: &Verified,
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let usable = match &self.dir {
            None => Err("no cache directory".to_string()),
            Some(dir) => private_dir(dir),
        };
        let (Some(path), Ok(())) = (self.entry_path(engine, component), usable.clone()) else {
            let compiled = Component::new(engine, component.bytes())?;
            return Ok((
                compiled,
                CacheOutcome::Uncached(usable.err().unwrap_or_default()),
            ));
        };
        let problem = match std::fs::read(&path) {
            Ok(data) => match unwrap_entry(&data) {
                // SAFETY: the bytes were written by `store` below from `Component::serialize`
                // with an engine of the same compatibility hash (part of the file name), and
                // their checksum matches, so they are what wasmtime produced.
                Ok(code) => match unsafe { Component::deserialize(engine, code) } {
                    Ok(compiled) => return Ok((compiled, CacheOutcome::Hit)),
                    Err(e) => Some(format!("unusable cache entry {}: {e}", path.display())),
                },
                Err(why) => Some(format!("corrupt cache entry {}: {why}", path.display())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => Some(format!("unreadable cache entry {}: {e}", path.display())),
        };
        let compiled = Component::new(engine, component.bytes())?;
        let outcome = match (store(&path, &compiled), problem) {
            (Err(e), _) => {
                CacheOutcome::Uncached(format!("could not write {}: {e}", path.display()))
            }
            (Ok(()), Some(problem)) => CacheOutcome::Recompiled(problem),
            (Ok(()), None) => CacheOutcome::Compiled,
        };
        Ok((compiled, outcome))
    }
}

/// Native code is only loaded from a directory that no other user can write: creates it with
/// mode 0700, and refuses one owned by someone else or writable by group or others.
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "{} is not private to this user (owner {}, mode {:o}); compiled code is not cached there",
            dir.display(),
            meta.uid(),
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

fn unwrap_entry(data: &[u8]) -> Result<&[u8], &'static str> {
    if data.len() < HEADER || &data[..8] != MAGIC {
        return Err("bad header");
    }
    let crc = u32::from_le_bytes(data[8..12].try_into().map_err(|_| "bad header")?);
    let len = u64::from_le_bytes(data[12..20].try_into().map_err(|_| "bad header")?);
    let code = &data[HEADER..];
    if code.len() as u64 != len {
        return Err("truncated");
    }
    if crc32fast::hash(code) != crc {
        return Err("checksum mismatch");
    }
    Ok(code)
}

fn store(path: &Path, compiled: &Component) -> std::io::Result<()> {
    let code = compiled
        .serialize()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut header = Vec::with_capacity(HEADER);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&crc32fast::hash(&code).to_le_bytes());
    header.extend_from_slice(&(code.len() as u64).to_le_bytes());
    std::io::Write::write_all(&mut tmp, &header)?;
    std::io::Write::write_all(&mut tmp, &code)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_framing_detects_damage() {
        let code = b"compiled code".to_vec();
        let mut data = MAGIC.to_vec();
        data.extend_from_slice(&crc32fast::hash(&code).to_le_bytes());
        data.extend_from_slice(&(code.len() as u64).to_le_bytes());
        data.extend_from_slice(&code);
        assert_eq!(unwrap_entry(&data).unwrap(), code.as_slice());
        let mut flipped = data.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(unwrap_entry(&flipped), Err("checksum mismatch"));
        assert_eq!(unwrap_entry(&data[..data.len() - 1]), Err("truncated"));
        assert_eq!(unwrap_entry(b"garbage"), Err("bad header"));
    }
}
