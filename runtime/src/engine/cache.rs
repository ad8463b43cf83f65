//! Compiled components, cached in the user's cache dir under a key made of the component's
//! sha256 and the engine's compatibility hash. Entries are written atomically and carry a
//! checksum; anything that does not check out is recompiled, never fatal. Precompiled code is
//! only ever loaded from this directory, and only what this `lo` wrote there.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

use crate::lock::Verified;

/// An entry is wasmtime's serialized component followed by a trailer: magic, CRC-32 of the
/// code, code length. A trailer (not a header) leaves the file a valid artifact, so the code is
/// mapped from the file (`deserialize_file`) instead of read and copied: for an 18 MB Python
/// component that is ~6 ms instead of ~40 ms.
/// `-v2` in entry names is this format, so entries of older `lo`s are left alone, not fought over.
const MAGIC: &[u8; 8] = b"LOK8SCW2";
const TRAILER: usize = 8 + 4 + 8;

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
    /// `<user cache dir>/lok8s/compiled` (`LO_CACHE_DIR` overrides it: see `settings`).
    pub fn default_location() -> CompiledCache {
        let dir = dirs::cache_dir().map(|d| d.join("lok8s").join("compiled"));
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
            "{}-{:016x}-v2.cwasm",
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
        let problem = match std::fs::File::open(&path) {
            Ok(file) => match check_entry(&file) {
                // SAFETY: the file was written by `store` below from `Component::serialize`
                // with an engine of the same compatibility hash (part of the file name) and its
                // checksum matches; the very file checked is mapped (through its descriptor,
                // so a concurrent rename cannot swap it). Entries are only replaced whole
                // (rename), never changed in place; truncating one in place while it is mapped
                // would fault, which only someone owning the private cache dir can do.
                Ok(()) => match unsafe { Component::deserialize_file(engine, opened(&file)) } {
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

/// The path of an open file's descriptor, for wasmtime's path-only `deserialize_file`.
fn opened(file: &std::fs::File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// Checks the trailer and the code's checksum, reading the file in chunks (no copy kept).
fn check_entry(file: &std::fs::File) -> Result<(), String> {
    use std::os::unix::fs::FileExt;
    let size = file.metadata().map_err(|e| e.to_string())?.len();
    let mut trailer = [0u8; TRAILER];
    if size < TRAILER as u64 {
        return Err("bad trailer".into());
    }
    file.read_exact_at(&mut trailer, size - TRAILER as u64)
        .map_err(|e| e.to_string())?;
    let (magic, rest) = trailer.split_at(8);
    let (crc, len) = rest.split_at(4);
    if magic != MAGIC {
        return Err("bad trailer".into());
    }
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| "bad trailer")?);
    let len = u64::from_le_bytes(len.try_into().map_err(|_| "bad trailer")?);
    if len != size - TRAILER as u64 {
        return Err("truncated".into());
    }
    let mut hasher = crc32fast::Hasher::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut offset = 0u64;
    while offset < len {
        let n = chunk.len().min((len - offset) as usize);
        file.read_exact_at(&mut chunk[..n], offset)
            .map_err(|e| e.to_string())?;
        hasher.update(&chunk[..n]);
        offset += n as u64;
    }
    if hasher.finalize() != crc {
        return Err("checksum mismatch".into());
    }
    Ok(())
}

fn trailer(code: &[u8]) -> Vec<u8> {
    let mut trailer = Vec::with_capacity(TRAILER);
    trailer.extend_from_slice(MAGIC);
    trailer.extend_from_slice(&crc32fast::hash(code).to_le_bytes());
    trailer.extend_from_slice(&(code.len() as u64).to_le_bytes());
    trailer
}

fn store(path: &Path, compiled: &Component) -> std::io::Result<()> {
    let code = compiled
        .serialize()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, &code)?;
    std::io::Write::write_all(&mut tmp, &trailer(&code))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_trailer_detects_damage() {
        let check = |bytes: &[u8]| {
            let file = tempfile::tempfile().unwrap();
            std::os::unix::fs::FileExt::write_all_at(&file, bytes, 0).unwrap();
            check_entry(&file)
        };
        // More than one read chunk, so the chunked checksum is exercised.
        let code: Vec<u8> = (0..(3 << 20) + 5).map(|i| (i % 251) as u8).collect();
        let mut data = code.clone();
        data.extend_from_slice(&trailer(&code));
        assert_eq!(check(&data), Ok(()));
        let mut flipped = data.clone();
        flipped[code.len() / 2] ^= 1;
        assert_eq!(check(&flipped).unwrap_err(), "checksum mismatch");
        let mut shorter = code[1..].to_vec();
        shorter.extend_from_slice(&trailer(&code));
        assert_eq!(check(&shorter).unwrap_err(), "truncated");
        assert_eq!(check(&data[..data.len() - 1]).unwrap_err(), "bad trailer");
        assert_eq!(check(b"garbage").unwrap_err(), "bad trailer");
    }
}
