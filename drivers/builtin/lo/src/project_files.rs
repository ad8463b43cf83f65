//! Files of the cluster: in the driver's own folder (`ctx.cluster_dir`,
//! `clusters/<domain>/.state`) `.registries.json`, the containerd `certs.d` tree (the record of
//! what nodes get; the `certs.d` folder itself is kept, only its contents are replaced) and the
//! OIDC auth-config; from the user's read-only cluster folder, the CoreDNS import folder. Paths
//! are the cluster's own, never a global default domain.

use std::fs;
use std::path::{Path, PathBuf};

use lok8s_driver_sdk::{Context, Result, tls, warn};
use lok8s_lo_plan::Plan;
use lok8s_lo_plan::render::{
    CoreDnsFile, GITIGNORE, certs_d, digest, gitignore_needs_writing, oidc_auth_config,
    registries_json,
};

use crate::failed;

fn io<T>(result: std::io::Result<T>, path: &Path) -> Result<T> {
    result.map_err(|e| failed(format!("{}: {e}", path.display())))
}

fn write(path: &Path, contents: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        io(fs::create_dir_all(dir), dir)?;
    }
    io(fs::write(path, contents), path)
}

pub fn write_registries_json(ctx: &Context, plan: &Plan) -> Result<()> {
    let path = Path::new(&ctx.cluster_dir).join(".registries.json");
    write(&path, registries_json(plan).as_bytes())
}

/// The `certs.d` files every node gets, with a digest of them all.
pub struct CertsD {
    pub files: Vec<(String, String)>,
    pub digest: String,
}

pub fn write_certs_d(ctx: &Context, plan: &Plan) -> Result<CertsD> {
    let base = Path::new(&ctx.cluster_dir).join(".containerd");
    let dir = base.join("certs.d");
    io(fs::create_dir_all(&dir), &dir)?;
    let ignore = base.join(".gitignore");
    if gitignore_needs_writing(fs::read_to_string(&ignore).ok().as_deref()) {
        write(&ignore, GITIGNORE.as_bytes())?;
    }
    let mut files = certs_d(plan);
    if plan.tls {
        files.push((".ca/rootCA.pem".into(), tls::ca_certificate()?));
    }
    // Replace the contents, keep the folder (its inode) itself.
    for entry in io(fs::read_dir(&dir), &dir)? {
        let path = io(entry, &dir)?.path();
        let removed = if path.is_dir() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
        io(removed, &path)?;
    }
    for (rel, contents) in &files {
        write(&dir.join(rel), contents.as_bytes())?;
    }
    let parts: Vec<&str> = files
        .iter()
        .flat_map(|(p, c)| [p.as_str(), c.as_str()])
        .collect();
    Ok(CertsD {
        digest: digest(&parts),
        files,
    })
}

pub fn oidc_path(ctx: &Context) -> PathBuf {
    Path::new(&ctx.cluster_dir).join(".oidc/auth-config.yaml")
}

/// Writes the auth-config when OIDC is on; empties an existing one in place when it is off.
pub fn write_oidc(ctx: &Context, plan: &Plan) -> Result<Option<String>> {
    let path = oidc_path(ctx);
    match &plan.oidc {
        Some(oidc) => {
            let text = oidc_auth_config(oidc);
            write(&path, text.as_bytes())?;
            Ok(Some(text))
        }
        None => {
            if path.exists() {
                io(fs::write(&path, b""), &path)?;
            }
            Ok(None)
        }
    }
}

/// `*.server` and `*.override` files of the CoreDNS import folder (relative to the user's
/// cluster folder, `clusters/<domain>/`), by name.
pub fn coredns_imports(ctx: &Context, plan: &Plan) -> Result<Vec<CoreDnsFile>> {
    let dir = Path::new("clusters")
        .join(&ctx.domain)
        .join(&plan.coredns.import);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".server") || name.ends_with(".override")) {
            continue;
        }
        match fs::read_to_string(entry.path()) {
            Ok(contents) => files.push(CoreDnsFile { name, contents }),
            Err(e) => warn!("skipping {}: {e}", entry.path().display()),
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}
