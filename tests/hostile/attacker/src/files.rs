//! Files: the spec the driver is configured by, other clusters' folders and kubeconfigs, links
//! out of its own folders, a planted project, a FIFO.

use std::fs;

use lok8s_driver_sdk::{Context, DriverError, Outcome, Result};

use crate::{attempt, escaped, io, param};

mod wasi {
    wit_bindgen::generate!({
        inline: "package lok8s:attacker; world files { import wasi:filesystem/preopens@0.2.12; }",
        path: [
            "../../../wit/wasi-0.2.12/io",
            "../../../wit/wasi-0.2.12/clocks",
            "../../../wit/wasi-0.2.12/filesystem",
        ],
        generate_all,
    });
}

/// A kubeconfig whose user runs `touch <marker>` as a credential plugin.
pub fn exec_kubeconfig(server: &str, marker: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n\
         contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    exec:\n      \
         apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [\"-c\", \"touch {marker}\"]\n"
    )
}

pub fn rewrite_own_spec(ctx: &Context) -> Result<Outcome> {
    let path = format!("clusters/{}/cluster.lok8s.yaml", ctx.domain);
    let spec = "apiVersion: cluster.lok8s.dev/v1beta1\nkind: Lo\nmetadata:\n  name: pwned\nspec:\n  kubernetes:\n    image: attacker/node:1\n";
    attempt("rewrite its own spec", io(fs::write(path, spec)))
}

pub fn write_other_cluster(_: &Context) -> Result<Outcome> {
    attempt(
        "write another cluster's folder",
        io(fs::write(
            "clusters/victim.dev/cluster.lok8s.yaml",
            "kind: Lo\n",
        )),
    )
}

pub fn plant_project(ctx: &Context) -> Result<Outcome> {
    let base = format!("{}/planted", ctx.cluster_dir);
    io(fs::create_dir_all(format!("{base}/clusters/planted.dev")))?;
    io(fs::create_dir_all(format!("{base}/drivers")))?;
    io(fs::write(
        format!("{base}/clusters/planted.dev/cluster.lok8s.yaml"),
        "kind: Hostile\nmetadata:\n  name: planted\nspec:\n  attempt:\n    attack: plant-project\n",
    ))?;
    io(fs::write(format!("{base}/drivers/planted.wasm"), b"\0asm"))?;
    io(fs::write(
        format!("{base}/drivers.lock"),
        "version = 1\n[drivers.hostile]\nsource = \"drivers/planted.wasm\"\nsha256 = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n\
         [drivers.hostile.grants.docker]\nprivileged = true\nhost-paths = [\"/\"]\n",
    ))?;
    Err(DriverError::Failed(format!("planted a project in {base}")))
}

pub fn read_other_kubeconfig(_: &Context) -> Result<Outcome> {
    match fs::read_to_string(".kubeconfig/victim.yaml") {
        Ok(text) => escaped(format!("read another cluster's kubeconfig: {}", text.len())),
        Err(e) => Err(DriverError::Denied(format!(
            "another cluster's kubeconfig is not in its folder: {e}"
        ))),
    }
}

pub fn overwrite_other_kubeconfig(ctx: &Context) -> Result<Outcome> {
    let text = exec_kubeconfig("https://127.0.0.1:1", &param(ctx, "marker"));
    io(fs::write(".kubeconfig/victim.yaml", text))?;
    Err(DriverError::Failed(
        "wrote .kubeconfig/victim.yaml (in its own folder)".into(),
    ))
}

/// Replaces its own kubeconfig with a relative link climbing out of the project.
pub fn kubeconfig_link_out(ctx: &Context) -> Result<Outcome> {
    let file = ctx.kubeconfig.trim_start_matches(".kubeconfig/");
    let (dir, _) = wasi::wasi::filesystem::preopens::get_directories()
        .into_iter()
        .find(|(_, name)| name == ".kubeconfig")
        .ok_or_else(|| DriverError::Failed("no .kubeconfig preopen".into()))?;
    let _ = dir.unlink_file_at(file);
    dir.symlink_at("../../../secret.txt", file)
        .map_err(|e| DriverError::Failed(format!("symlink: {e:?}")))?;
    Ok(Outcome::Continue)
}

pub fn kubeconfig_exec_published(ctx: &Context) -> Result<Outcome> {
    let text = exec_kubeconfig("https://127.0.0.1:1", &param(ctx, "marker"));
    io(fs::write(&ctx.kubeconfig, text))?;
    Ok(Outcome::Continue)
}

/// A plain kubeconfig naming `server` (a loopback port its cluster does not publish), for
/// `lo tunnel` to forward to.
pub fn kubeconfig_elsewhere(ctx: &Context) -> Result<Outcome> {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n\
         contexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n\
         users:\n- name: u\n  user:\n    token: t\n",
        param(ctx, "server")
    );
    io(fs::write(&ctx.kubeconfig, text))?;
    Ok(Outcome::Continue)
}

/// Opens a FIFO in its cluster's folder: the open blocks until lo's wall clock gives up.
pub fn fifo_open(ctx: &Context) -> Result<Outcome> {
    attempt(
        "read a FIFO",
        io(fs::read(format!("clusters/{}/fifo", ctx.domain))),
    )
}
