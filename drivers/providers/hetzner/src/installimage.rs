//! A dedicated server in Hetzner's rescue system gets its OS from `installimage` (spec 7.3,
//! the bare-metal hook): the entry's `#installimage` config, and a post-install script that
//! gives the new system cloud-init seeded (NoCloud) with the same cloud-config a cloud server
//! gets, with cloud-init's networking left to installimage's. The script also keeps the rescue
//! system's ssh host keys, so the key pinned on first contact still matches after the reboot
//! (the original turned host-key checking off instead). Pure text here; the driver runs it.

use base64::Engine as _;

/// Present only in the rescue system.
pub const INSTALLIMAGE: &str = "/root/.oldroot/nfs/install/installimage";
/// Where the config and the post-install script go on the rescue system.
pub const CONFIG_PATH: &str = "/tmp/installimage.conf";
pub const POST_INSTALL_PATH: &str = "/tmp/lok8s-post-install";

/// Prints `<path> <base64>` for each host key file of the rescue system.
pub const LIST_HOST_KEYS: &str = "for f in /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub; \
     do [ -f \"$f\" ] && printf '%s %s\\n' \"$f\" \"$(base64 -w0 \"$f\")\"; done; true";

/// The installimage run, non-interactive.
pub fn command() -> String {
    format!("{INSTALLIMAGE} -a -c {CONFIG_PATH} -x {POST_INSTALL_PATH}")
}

/// `(path, bytes)` from [`LIST_HOST_KEYS`]' output; only `/etc/ssh/ssh_host_*` files.
pub fn parse_host_keys(listing: &str) -> Vec<(String, Vec<u8>)> {
    listing
        .lines()
        .filter_map(|line| {
            let (path, b64) = line.split_once(' ')?;
            let name = path.strip_prefix("/etc/ssh/ssh_host_")?;
            let plain = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()?;
            plain.then(|| (path.to_string(), bytes))
        })
        .collect()
}

/// The post-install script (run by installimage inside the new system): cloud-init with the
/// NoCloud seed `cloud_config` for `hostname`, and the rescue system's host keys.
pub fn post_install(hostname: &str, cloud_config: &str, host_keys: &[(String, Vec<u8>)]) -> String {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let hostname = hostname.replace('\'', "'\\''");
    let mut script = String::from(
        "#!/bin/sh\n# Written by lo (KubeOne driver): cloud-init seeded like a cloud server's.\nset -eu\n\
         export DEBIAN_FRONTEND=noninteractive\n\
         command -v cloud-init >/dev/null || { apt-get update -q && apt-get install -y -q cloud-init; }\n\
         mkdir -p /var/lib/cloud/seed/nocloud /etc/cloud/cloud.cfg.d /etc/ssh\n",
    );
    script.push_str(&format!(
        "echo '{}' | base64 -d > /var/lib/cloud/seed/nocloud/user-data\n",
        b64(cloud_config.as_bytes())
    ));
    script.push_str(&format!(
        "printf 'instance-id: lok8s-%s\\nlocal-hostname: %s\\n' '{hostname}' '{hostname}' > /var/lib/cloud/seed/nocloud/meta-data\n"
    ));
    script.push_str(
        "printf 'datasource_list: [ NoCloud, None ]\\n' > /etc/cloud/cloud.cfg.d/90-lok8s-datasource.cfg\n\
         printf 'network: {config: disabled}\\n' > /etc/cloud/cloud.cfg.d/91-lok8s-network.cfg\n",
    );
    for (path, bytes) in host_keys {
        let mode = if path.ends_with(".pub") { "644" } else { "600" };
        script.push_str(&format!(
            "echo '{}' | base64 -d > '{path}' && chmod {mode} '{path}'\n",
            b64(bytes)
        ));
    }
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_post_install_seeds_cloud_init_and_keeps_the_host_keys() {
        let listing = "/etc/ssh/ssh_host_ed25519_key a2V5\n/etc/ssh/ssh_host_ed25519_key.pub cHVi\n\
                       /etc/passwd cm9vdA==\n/etc/ssh/ssh_host_x;rm key a2V5\n";
        let keys = parse_host_keys(listing);
        assert_eq!(
            keys,
            [
                ("/etc/ssh/ssh_host_ed25519_key".to_string(), b"key".to_vec()),
                (
                    "/etc/ssh/ssh_host_ed25519_key.pub".to_string(),
                    b"pub".to_vec()
                ),
            ]
        );
        let script = post_install("metal-0", "#cloud-config\nhostname: metal-0\n", &keys);
        assert!(script.contains(&format!(
            "echo '{}' | base64 -d > /var/lib/cloud/seed/nocloud/user-data",
            base64::engine::general_purpose::STANDARD.encode("#cloud-config\nhostname: metal-0\n")
        )));
        assert!(script.contains("datasource_list: [ NoCloud, None ]"));
        assert!(script.contains("network: {config: disabled}"));
        assert!(
            script
                .contains("echo 'a2V5' | base64 -d > '/etc/ssh/ssh_host_ed25519_key' && chmod 600")
        );
        assert!(script.contains("ssh_host_ed25519_key.pub' && chmod 644"));
        assert_eq!(
            command(),
            format!("{INSTALLIMAGE} -a -c /tmp/installimage.conf -x /tmp/lok8s-post-install")
        );
    }
}
