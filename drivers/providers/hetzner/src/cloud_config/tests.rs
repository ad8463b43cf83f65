use super::*;

fn parsed(text: &str) -> Value {
    assert!(text.starts_with("#cloud-config\n"), "{text}");
    serde_yaml::from_str(text).unwrap()
}

fn inputs<'a>(user_tree: Option<&'a Tree>, library: &'a Tree, modules: &[&str]) -> Inputs<'a> {
    Inputs {
        user_tree,
        library,
        modules: modules.iter().map(|m| m.to_string()).collect(),
        user: "root".into(),
        group: "root".into(),
        public_keys: vec![],
        env: vec![
            ("NAME".into(), "edge-cp-0".into()),
            ("ROLE".into(), "it's".into()),
        ],
    }
}

fn tree(files: &[(&str, &str)]) -> Tree {
    files
        .iter()
        .map(|(p, c)| (p.to_string(), c.as_bytes().to_vec()))
        .collect()
}

fn decoded(entry: &Value) -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(entry["content"].as_str().unwrap())
        .unwrap();
    String::from_utf8(bytes).unwrap()
}

fn file<'a>(doc: &'a Value, path: &str) -> &'a Value {
    doc["write_files"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("no {path} in {doc:?}"))
}

#[test]
fn the_library_alone_gives_every_server_its_base() {
    let lib = library();
    let doc = parsed(&generate(&inputs(None, &lib, &[])).unwrap());
    assert_eq!(
        doc["packages"],
        serde_yaml::from_str::<Value>("[docker.io, curl, jq]").unwrap()
    );
    assert_eq!(
        doc["resolv_conf"]["nameservers"],
        serde_yaml::from_str::<Value>("[1.1.1.1, 8.8.8.8]").unwrap()
    );
    assert_eq!(doc["ssh_pwauth"], false);
    assert!(doc.get("disable_root").is_none() && doc.get("users").is_none());
    assert!(decoded(file(&doc, "/etc/docker/daemon.json")).contains("10.125.0.0/16"));
    assert_eq!(file(&doc, "/etc/docker/daemon.json")["permissions"], "0644");
    let runcmd: Vec<String> = serde_yaml::from_value(doc["runcmd"].clone()).unwrap();
    assert_eq!(
        runcmd,
        [
            "cloud-init single --name write_files --frequency once",
            "export NAME='edge-cp-0'",
            "export ROLE='it'\\''s'",
            "/bootstrap/restart-sshd.sh",
        ]
    );
    assert!(doc.get("growpart").is_none());
}

#[test]
fn kubeadm_nodes_get_the_base_without_docker() {
    let lib = kubeadm_node_library();
    let text = generate(&inputs(None, &lib, &["ci"])).unwrap();
    let doc = parsed(&text);
    assert_eq!(
        doc["packages"],
        serde_yaml::from_str::<Value>("[git, make, curl, jq]").unwrap()
    );
    assert!(!text.contains("docker"), "{text}");
    assert_eq!(
        file(&doc, "/etc/ssh/sshd_config.d/lok8s.conf")["permissions"],
        "0644"
    );
}

#[test]
fn modules_come_first_then_the_users_root_and_the_first_file_per_target_wins() {
    let lib = library();
    let user = tree(&[
        ("packages", "htop\n"),
        ("cloud.d/ci/packages", "git\nripgrep\n"),
        ("write_files/etc/motd", "from the root\n"),
        ("cloud.d/ci/write_files/etc/motd", "from the ci module\n"),
        (
            "write_files/etc/app.env",
            "name=${NAME} role=${ROLE} keep=${OTHER}\n",
        ),
        (
            "write_files/etc/app.env.stat",
            "envsubst: [NAME]\nowner: app:app\n",
        ),
        ("write_files/etc/generated.conf", "echo generated\n"),
        (
            "write_files/etc/generated.conf.stat",
            "execute: remote\npermissions: \"0640\"\n",
        ),
    ]);
    let doc = parsed(&generate(&inputs(Some(&user), &lib, &["ci", "ceph-osd"])).unwrap());
    // ci in the user's tree, ci in the library (git again: kept apart, not adjacent), then
    // ceph-osd from the library, then the user's root; the library's root is not used.
    assert_eq!(
        doc["packages"],
        serde_yaml::from_str::<Value>(
            "[git, ripgrep, git, make, gdisk, cloud-guest-utils, parted, htop]"
        )
        .unwrap()
    );
    assert!(
        doc.get("resolv_conf").is_none(),
        "the library root's nameservers are not used"
    );
    assert_eq!(decoded(file(&doc, "/etc/motd")), "from the ci module\n");
    let env_file = file(&doc, "/etc/app.env");
    assert_eq!(
        decoded(env_file),
        "name=edge-cp-0 role=${ROLE} keep=${OTHER}\n"
    );
    assert_eq!(env_file["owner"], "app:app");
    assert_eq!(env_file["permissions"], "0655");
    assert_eq!(
        file(&doc, "/etc/generated.conf.lok8s-gen")["permissions"],
        "0700"
    );
    let runcmd: Vec<String> = serde_yaml::from_value(doc["runcmd"].clone()).unwrap();
    assert!(runcmd.contains(&"bash /etc/generated.conf.lok8s-gen > /etc/generated.conf && chmod 0640 /etc/generated.conf && chown root:root /etc/generated.conf && rm -f /etc/generated.conf.lok8s-gen".to_string()));
    // Library module executables, sorted, last.
    assert_eq!(
        &runcmd[runcmd.len() - 2..],
        [
            "/bootstrap/install-tools.sh",
            "/opt/lok8s/ceph-osd-partition.sh"
        ]
    );
    assert_eq!(doc["growpart"]["mode"], "off");
}

#[test]
fn another_user_disables_root_and_gets_the_keys() {
    let lib = library();
    let mut i = inputs(None, &lib, &[]);
    i.user = "ops".into();
    i.group = "ops".into();
    i.public_keys = vec!["ssh-ed25519 AAAA ops@laptop".into()];
    let doc = parsed(&generate(&i).unwrap());
    assert_eq!(doc["disable_root"], true);
    assert_eq!(doc["users"][0]["name"], "ops");
    assert_eq!(
        doc["users"][0]["ssh_authorized_keys"][0],
        "ssh-ed25519 AAAA ops@laptop"
    );
    assert_eq!(doc["users"][0]["sudo"], "ALL=(ALL) NOPASSWD:ALL");
}

#[test]
fn running_a_file_here_and_unknown_settings_are_refused() {
    let lib = library();
    let user = tree(&[
        ("write_files/x", "x"),
        ("write_files/x.stat", "execute: true\n"),
    ]);
    let err = generate(&inputs(Some(&user), &lib, &[])).unwrap_err();
    assert!(
        err.starts_with("write_files/x.stat: execute: true runs the file on this machine"),
        "{err}"
    );
    let user = tree(&[
        ("write_files/x", "x"),
        ("write_files/x.stat", "mode: 0600\n"),
    ]);
    let err = generate(&inputs(Some(&user), &lib, &[])).unwrap_err();
    assert!(err.contains("\"mode\" is not a .stat setting"), "{err}");
}
