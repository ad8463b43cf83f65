//! Dedicated servers still in Hetzner's rescue system get their OS before the install (spec
//! 7.3, the bare-metal hook): the entry's `#installimage` config (a file in the cluster's
//! folder) and the post-install script go up by stdin, installimage runs, the server reboots,
//! and lo waits (at most 60 tries, 5 s apart) until the new system answers, then for cloud-init
//! (at most 600 s, counted on the server). A server not in rescue mode is left as it is.

use std::time::Duration;

use lok8s_driver_sdk::spec::invalid;
use lok8s_driver_sdk::{Context, Result, failed, log, warn};
use lok8s_kubeadm::{NodeShell, run_ok};
use lok8s_provider_hetzner::descriptor::Descriptor;
use lok8s_provider_hetzner::installimage::{
    self, CONFIG_PATH, INSTALLIMAGE, LIST_HOST_KEYS, POST_INSTALL_PATH,
};
use lok8s_provider_hetzner::inventory::Inventory;
use serde_json::Value;

use crate::provider;
use crate::shell::SshShell;

const REBOOT_TRIES: u32 = 60;
const REBOOT_PAUSE: Duration = Duration::from_secs(5);

pub fn install_dedicated(
    ctx: &Context,
    shell: &mut SshShell,
    descriptor: &Descriptor,
    inventory: &Inventory,
) -> Result<()> {
    let entries = descriptor
        .entries("server")
        .map_err(|e| invalid("spec.provider.config.server", e))?;
    for node in inventory.nodes.iter().filter(|n| n.bare_metal) {
        let in_rescue = shell
            .run(&node.name, &["test", "-x", INSTALLIMAGE], None)
            .map_err(failed)?
            .code
            == 0;
        if !in_rescue {
            continue;
        }
        let Some(entry) = entries
            .iter()
            .find(|e| e.settings.get("name").and_then(Value::as_str) == Some(&node.name))
        else {
            continue;
        };
        let Some(file) = entry.metadata.get("installimage").and_then(Value::as_str) else {
            warn!(
                "{}: rescue mode but no installimage config specified — skipping install",
                node.name
            );
            continue;
        };
        let config = std::fs::read(format!("clusters/{}/{file}", ctx.domain)).map_err(|e| {
            invalid(
                "spec.provider.config.server",
                format!(
                    "{}: #installimage {file:?} cannot be read in clusters/{}/ ({e})",
                    node.name, ctx.domain
                ),
            )
        })?;
        log::phase_step(&format!("{}: installimage (rescue mode)", node.name));
        let keys =
            run_ok(shell, &node.name, &["sh", "-c", LIST_HOST_KEYS], None).map_err(failed)?;
        let keys = installimage::parse_host_keys(&String::from_utf8_lossy(&keys.stdout));
        let user_data = provider::user_data(descriptor, entry)
            .map_err(|e| invalid("spec.provider.config.server", e))?;
        let script = installimage::post_install(&node.name, &user_data, &keys);
        upload(shell, &node.name, CONFIG_PATH, &config, "600")?;
        upload(
            shell,
            &node.name,
            POST_INSTALL_PATH,
            script.as_bytes(),
            "700",
        )?;
        run_ok(
            shell,
            &node.name,
            &["sh", "-c", &installimage::command()],
            None,
        )
        .map_err(|e| failed(format!("installimage failed on {}: {e}", node.public_ip)))?;
        // Detached, so this command answers before the connection goes.
        shell
            .run(
                &node.name,
                &["sh", "-c", "(sleep 1; reboot) >/dev/null 2>&1 &"],
                None,
            )
            .map_err(failed)?;
        shell.forget(&node.name);
        wait_rebooted(shell, &node.name, &node.public_ip)?;
        let cloud_init =
            "command -v cloud-init >/dev/null || exit 0; timeout 600 cloud-init status --wait";
        run_ok(shell, &node.name, &["sh", "-c", cloud_init], None).map_err(|e| {
            failed(format!(
                "{}: cloud-init did not finish after installimage: {e}",
                node.name
            ))
        })?;
    }
    Ok(())
}

fn upload(shell: &mut SshShell, node: &str, path: &str, bytes: &[u8], mode: &str) -> Result<()> {
    let write = format!("umask 077 && cat > {path} && chmod {mode} {path}");
    run_ok(shell, node, &["sh", "-c", &write], Some(bytes))
        .map(|_| ())
        .map_err(failed)
}

/// Until the server answers from its new system (the rescue system's installimage is gone).
fn wait_rebooted(shell: &mut SshShell, node: &str, address: &str) -> Result<()> {
    for _ in 0..REBOOT_TRIES {
        std::thread::sleep(REBOOT_PAUSE);
        match shell.run(node, &["test", "-x", INSTALLIMAGE], None) {
            Ok(out) if out.code != 0 => return Ok(()),
            // Still the rescue system (not gone down yet), or not up again.
            _ => shell.forget(node),
        }
    }
    Err(failed(format!(
        "server {address} not reachable after installimage reboot ({REBOOT_TRIES} tries, {} s apart)",
        REBOOT_PAUSE.as_secs()
    )))
}
