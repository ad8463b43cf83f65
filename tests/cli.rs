//! The command line itself: usage errors, domains, spec loading, help. Runs the real `lo`.

use lok8s_tests::Project;

#[test]
fn no_command_prints_help_and_succeeds() {
    let p = Project::new();
    p.lo(&[]).success().stdout_has("Usage: lo");
}

#[test]
fn misspelled_command_exits_2_with_a_suggestion() {
    let p = Project::new();
    p.lo(&["drivres"]).code(2).stderr_has("'drivers'");
    p.lo(&["provison"]).code(2).stderr_has("'provision'");
}

#[test]
fn every_command_has_help_with_an_example() {
    let p = Project::new();
    for cmd in [
        vec!["provision"],
        vec!["destroy"],
        vec!["status"],
        vec!["kubeconfig"],
        vec!["use"],
        vec!["schema"],
        vec!["drivers"],
        vec!["drivers", "add"],
        vec!["drivers", "show"],
        vec!["driver", "check"],
        vec!["driver", "new"],
        vec!["driver", "test"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let run = p.lo(&args);
        run.success().stdout_has("Usage: lo");
        assert!(
            run.stdout.contains("Example"),
            "{cmd:?} help has no example:\n{}",
            run.stdout
        );
    }
    p.lo(&["p", "-h"])
        .success()
        .stdout_has("Usage: lo provision");
    p.lo(&["kc", "-h"])
        .success()
        .stdout_has("Usage: lo kubeconfig");
}

#[test]
fn invalid_domains_are_usage_errors_and_create_nothing() {
    let p = Project::new();
    p.lo(&["provision", "../x"])
        .code(2)
        .stderr_has("invalid domain name \"../x\"");
    p.lo(&["status", "--domain", "a/b"])
        .code(2)
        .stderr_has("invalid domain name");
    p.lo(&["provision", "--domain="])
        .code(2)
        .stderr_has("no active domain");
    p.lo(&["provision", "a.dev", "--domain", "b.dev"])
        .code(2)
        .stderr_has("two domains given");
    assert!(p.files().is_empty(), "{:?}", p.files());
}

#[test]
fn outside_a_project_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(lok8s_tests::lo_bin())
        .current_dir(dir.path())
        .args(["status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no lok8s project here") && stderr.contains("--project"),
        "{stderr}"
    );
}

#[test]
fn project_is_found_from_a_subfolder_and_by_flag() {
    let p = Project::new();
    p.cluster("a.dev", "Nope", "dev", "");
    p.write("deep/er/.keep", "");
    let mut cmd = p.command(&["status", "a.dev"]);
    cmd.current_dir(p.path("deep/er"));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown cluster kind \"Nope\""));
    let elsewhere = tempfile::tempdir().unwrap();
    let mut cmd = p.command(&["status", "a.dev", "--project", p.root().to_str().unwrap()]);
    cmd.current_dir(elsewhere.path());
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown cluster kind \"Nope\""));
}

#[test]
fn spec_errors_name_the_field_and_create_nothing() {
    let p = Project::new();
    p.write(
        "clusters/a.dev/cluster.lok8s.yaml",
        "kind: Lo\nmetadata:\n  labels: {}\n",
    );
    let before = p.files();
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("clusters/a.dev/cluster.lok8s.yaml: metadata.name: missing");
    p.write(
        "clusters/a.dev/cluster.lok8s.yaml",
        "kind: Lo\nmetadata:\n  name: [oops\n",
    );
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("clusters/a.dev/cluster.lok8s.yaml:4:1:")
        .stderr_has("invalid YAML");
    p.write(
        "clusters/a.dev/cluster.lok8s.yaml",
        "metadata:\n  name: dev\n",
    );
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("kind: missing");
    p.write(
        "clusters/a.dev/cluster.lok8s.yaml",
        "kind: Lo\nmetadata:\n  name: Dev_1\n",
    );
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("metadata.name: \"Dev_1\" is not allowed");
    assert_eq!(p.files(), before, "a spec error must create nothing");
    assert!(!p.path(".kubeconfig").exists());
}

#[test]
fn unknown_kind_lists_the_known_ones() {
    let p = Project::new();
    p.cluster("a.dev", "Kind3s", "dev", "");
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("unknown cluster kind \"Kind3s\"")
        .stderr_has("capi, kkp, kubeone, lo")
        .stderr_has("lo drivers add kind3s");
}

#[test]
fn kind_matching_is_case_insensitive() {
    let p = Project::new();
    p.cluster("a.dev", "LO", "dev", "bootstrap: []");
    // The built-in Lo driver runs (and refuses the spec, which names no network): dispatch
    // found it.
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("driver lo 0.1.0 (sha256:")
        .stderr_has("spec.network.name");
}

#[test]
fn deployment_domains_cannot_be_provisioned() {
    let p = Project::new();
    p.write(
        "clusters/app.dev/deploy.lok8s.yaml",
        "kind: Deploy\nspec:\n  clusterRef:\n    domain: c.dev\n",
    );
    p.lo(&["provision", "app.dev"])
        .code(1)
        .stderr_has("cannot provision app.dev: it is a deployment domain")
        .stderr_has("c.dev");
    p.lo(&["destroy", "app.dev"])
        .code(1)
        .stderr_has("cannot destroy app.dev");
}

#[test]
fn use_sets_lists_and_refuses_unknown_domains() {
    let p = Project::new();
    p.cluster("a.dev", "Lo", "a", "");
    p.write(
        "clusters/app.dev/deploy.lok8s.yaml",
        "kind: Deploy\nspec:\n  clusterRef:\n    domain: a.dev\n",
    );
    p.lo(&["use"])
        .success()
        .stdout_has("No active domain set.")
        .stdout_has("  a.dev (Lo)")
        .stdout_has("  app.dev (Deploy -> a.dev)");
    p.lo(&["use", "missing.dev"])
        .code(1)
        .stderr_has("domain not found: clusters/missing.dev/")
        .stderr_has("available: a.dev, app.dev");
    assert!(!p.path("clusters/.active").exists());
    p.lo(&["use", "a.dev"])
        .success()
        .stdout_has("Active domain: a.dev");
    assert_eq!(p.read("clusters/.active"), "a.dev\n");
    let listed = p.lo(&["use", "-o", "json"]);
    assert_eq!(listed.json()["active"], "a.dev");
    p.lo(&["use", "../x"]).code(2);
    // A spec still being written is a domain: listed, and it can be made active.
    p.write("clusters/new.dev/cluster.lok8s.yaml", "");
    p.lo(&["use"])
        .success()
        .stdout_has("  new.dev (spec not ready)");
    p.lo(&["use", "new.dev"])
        .success()
        .stdout_has("Active domain: new.dev")
        .stderr_has("not ready for 'lo provision'");
    assert_eq!(p.read("clusters/.active"), "new.dev\n");
}

#[test]
fn active_domain_precedence() {
    let p = Project::new();
    p.cluster("env.dev", "Nope", "e", "");
    p.cluster("active.dev", "AlsoNope", "a", "");
    p.lo_env(&["status"], &[("DOMAIN_NAME", "env.dev")])
        .stderr_has("\"Nope\"");
    p.write("clusters/.active", "active.dev\n");
    p.lo_env(&["status"], &[("DOMAIN_NAME", "env.dev")])
        .stderr_has("\"AlsoNope\"");
    p.write("clusters/.active", "../bad\n");
    p.lo_env(&["status"], &[("DOMAIN_NAME", "env.dev")])
        .stderr_has("warning: ignoring clusters/.active")
        .stderr_has("\"Nope\"");
    p.lo_env(
        &["status", "--domain", "active.dev"],
        &[("DOMAIN_NAME", "env.dev")],
    )
    .stderr_has("\"AlsoNope\"");
}

#[test]
fn version_reports_the_contract() {
    let p = Project::new();
    let v = p.lo(&["version", "-o", "json"]);
    v.success();
    assert_eq!(v.json()["contract"], "lok8s:driver@1.2.0");
}

#[test]
fn a_failed_run_leaves_no_kubeconfig_folder_behind() {
    let p = Project::new();
    // `bootstrap: []`: no helm here for the default Cilium chart (planned before the driver).
    p.cluster("a.dev", "Lo", "dev", "bootstrap: []");
    let before = p.files();
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("invalid spec: spec.network.name");
    assert!(
        !p.path(".kubeconfig").exists(),
        "an empty .kubeconfig/ was left behind"
    );
    assert_eq!(p.files(), before);
}

#[test]
fn env_gives_what_the_lo_driver_exports_for_its_consumers() {
    let p = Project::new();
    p.cluster("42.lok8s.dev", "Lo", "demo", "bootstrap: []");
    let run = p.lo(&["env", "42.lok8s.dev", "-o", "json"]);
    run.success();
    let vars = &run.json()["variables"];
    assert_eq!(vars["KIND_EXPERIMENTAL_DOCKER_NETWORK"], "demo", "{vars}");
    assert_eq!(vars["LOK8S_NETWORK_CIDR"], "10.125.42.0/24", "{vars}");
    assert_eq!(vars["LOK8S_REGISTRY_IP_BUILD"], "10.125.42.101", "{vars}");
    assert_eq!(
        vars["LOK8S_SPEC_LOADBALANCER_POOL"], "10.125.42.125-10.125.42.150",
        "{vars}"
    );
    assert_eq!(vars["LOK8S_CP_COUNT"], "1", "{vars}");
    assert!(
        vars["LOK8S_REGISTRY_JSON"]
            .as_str()
            .unwrap()
            .ends_with("42.lok8s.dev/.state/.registries.json"),
        "{vars}"
    );
    // Nothing was created by asking.
    assert!(!p.path("clusters/42.lok8s.dev/.state").exists());
}

#[test]
fn schema_prints_the_json_schema_a_kind_ships() {
    let p = Project::new();
    let run = p.lo(&["schema", "lo"]);
    run.success();
    let shipped =
        std::fs::read_to_string(lok8s_tests::workspace().join("drivers/builtin/lo/schema.json"))
            .unwrap();
    assert_eq!(run.stdout, shipped, "printed as shipped, byte for byte");
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(schema["$id"], "https://lok8s.dev/schemas/lo.json");
    assert_eq!(
        schema["properties"]["spec"]["properties"]["nodes"]["properties"]["controlPlane"]["maximum"],
        9
    );
    let run = p.lo(&["schema", "KKP"]);
    run.success();
    assert!(
        run.stdout
            .contains("\"https://lok8s.dev/schemas/kkp.json\"")
    );
    p.lo(&["schema", "kind3s"])
        .code(2)
        .stderr_has("not built in (lo, capi, kubeone, kkp)")
        .stderr_has("lo drivers add kind3s");
}
