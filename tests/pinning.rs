//! drivers.lock: pinning by sha256, refusal before compile, --locked, contract versions and
//! import checks. Runs the real `lo` on throwaway projects.

use lok8s_tests::{Project, files_under, fixture, shared_cache};

fn sha256_file(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    let text = String::from_utf8(out.stdout).unwrap();
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

#[test]
fn add_pins_the_sha256_of_the_bytes_and_grants_what_is_requested() {
    let p = Project::new();
    let run = p.pin("Corners", "corners");
    run.success()
        .stdout_has("pinned corners -> corners 0.1.0")
        .stdout_has("env: FIXTURE_SECRET");
    let lock = p.read("drivers.lock");
    let expected = sha256_file(&fixture("corners"));
    assert!(lock.contains(&format!("sha256 = \"{expected}\"")), "{lock}");
    assert!(
        lock.contains("source = \"path+drivers/corners.wasm\""),
        "{lock}"
    );
    assert!(
        lock.contains("[drivers.corners.grants]") && lock.contains("env = [\"FIXTURE_SECRET\"]"),
        "{lock}"
    );
    assert!(lock.contains("contract = \"1.2.0\""), "{lock}");
    let listed = p.lo(&["drivers", "list", "-o", "json"]);
    let rows = listed.json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "corners")
        .unwrap()
        .clone();
    assert_eq!(row["sha256"], expected.as_str());
    assert_eq!(row["pinned"], true);
    let builtin = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "lo")
        .unwrap()
        .clone();
    assert_eq!(builtin["source"], "builtin");
    assert_eq!(
        builtin["sha256"].as_str().unwrap().len(),
        "sha256:".len() + 64
    );
}

#[test]
fn tampered_component_is_refused_before_compile() {
    let p = Project::new().with_private_cache();
    p.corners("a.dev", "continue");
    p.pin("Corners", "corners").success();
    let pinned = sha256_file(&p.path("drivers/corners.wasm"));
    std::fs::remove_dir_all(p.cache_dir()).ok();
    let mut bytes = std::fs::read(p.path("drivers/corners.wasm")).unwrap();
    bytes.extend_from_slice(b"\0evil");
    std::fs::write(p.path("drivers/corners.wasm"), &bytes).unwrap();
    let actual = sha256_file(&p.path("drivers/corners.wasm"));
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("sha256 mismatch")
        .stderr_has(&pinned)
        .stderr_has(&actual)
        .stderr_has("refusing to compile or run it");
    assert!(
        files_under(p.cache_dir()).is_empty(),
        "something was compiled: {:?}",
        files_under(p.cache_dir())
    );
    assert!(
        !p.path("clusters/a.dev/provisioned").exists(),
        "the driver ran"
    );
    p.lo(&["drivers", "verify"])
        .code(1)
        .stdout_has("FAIL corners")
        .stdout_has(&actual);
}

#[test]
fn a_hand_edited_pin_is_refused_with_both_hashes() {
    let p = Project::new();
    p.corners("a.dev", "continue");
    p.pin("Corners", "corners").success();
    let real = sha256_file(&p.path("drivers/corners.wasm"));
    let fake = format!("sha256:{}", "0".repeat(64));
    p.write("drivers.lock", p.read("drivers.lock").replace(&real, &fake));
    p.lo(&["status", "a.dev"])
        .code(1)
        .stderr_has(&fake)
        .stderr_has(&real);
}

#[test]
fn verify_passes_on_untouched_pins() {
    let p = Project::new();
    p.pin("Corners", "corners").success();
    p.lo(&["drivers", "verify"])
        .success()
        .stdout_has("ok   corners: sha256:");
}

#[test]
fn locked_mode_refuses_unpinned_drivers_until_locked() {
    let p = Project::new();
    p.cluster("a.dev", "Lo", "dev", "");
    p.lo(&["status", "a.dev", "--locked"])
        .code(1)
        .stderr_has("kind \"Lo\" is not pinned in drivers.lock");
    p.lo_env(&["status", "a.dev"], &[("CI", "true")])
        .code(1)
        .stderr_has("is not pinned");
    p.lo_env(&["status", "a.dev"], &[("LO_LOCKED", "1")])
        .code(1)
        .stderr_has("is not pinned");
    p.lo(&["drivers", "lock", "--locked"])
        .code(1)
        .stderr_has("refuses them");
    p.lo(&["drivers", "show", "lo", "--locked"])
        .code(1)
        .stderr_has("is not pinned");
    assert!(!p.path("drivers.lock").exists());
    p.lo(&["drivers", "lock"])
        .success()
        .stdout_has("lo: pin built-in sha256:");
    assert!(p.read("drivers.lock").contains("source = \"builtin\""));
    // Pinned now: --locked gets as far as the driver itself (which finds no cluster).
    let run = p.lo(&["status", "a.dev", "--locked"]);
    assert!(!run.stderr.contains("not pinned"), "{}", run.stderr);
    run.success().stdout_has("lo 0.1.0").stdout_has("NotFound");
    p.lo(&["drivers", "lock", "--locked"])
        .success()
        .stdout_has("up to date");
}

#[test]
fn locked_mode_refuses_any_change_to_the_lock() {
    let p = Project::new();
    p.pin("Corners", "corners").success();
    let before = p.read("drivers.lock");
    p.lo_env(
        &["drivers", "add", "Corners", "drivers/corners.wasm"],
        &[("CI", "true")],
    )
    .code(1)
    .stderr_has("refuses changes to drivers.lock");
    let mut bytes = std::fs::read(p.path("drivers/corners.wasm")).unwrap();
    bytes.extend_from_slice(b"\0");
    std::fs::write(p.path("drivers/corners.wasm"), bytes).unwrap();
    p.lo(&["drivers", "lock", "--locked"])
        .code(1)
        .stderr_has("corners: sha256:");
    assert_eq!(p.read("drivers.lock"), before);
}

#[test]
fn relock_updates_a_changed_component() {
    let p = Project::new();
    p.pin("NoHooks", "no-hooks").success();
    std::fs::copy(fixture("corners"), p.path("drivers/no-hooks.wasm")).unwrap();
    p.lo(&["drivers", "lock"])
        .success()
        .stdout_has("nohooks: sha256:");
    assert!(
        p.read("drivers.lock")
            .contains(&sha256_file(&fixture("corners")))
    );
}

#[test]
fn add_refuses_a_component_for_another_kind() {
    let p = Project::new();
    p.pin("K3s", "corners")
        .code(1)
        .stderr_has("provisions kinds [Corners], not \"K3s\"");
    assert!(!p.path("drivers.lock").exists());
}

#[test]
fn newer_contract_is_refused_naming_the_version_it_needs() {
    let p = Project::new();
    p.pin("Newer", "newer-contract")
        .code(1)
        .stderr_has("built against contract lok8s:driver@1.3.0")
        .stderr_has("supports contract 1.3");
    assert!(!p.path("drivers.lock").exists());
}

#[test]
fn forbidden_imports_are_refused_at_load_naming_each() {
    let p = Project::new();
    p.pin("Forbidden", "forbidden-imports")
        .code(1)
        .stderr_has("fixture:forbidden/steal: not part of the lok8s driver contract");
    assert!(!p.path("drivers.lock").exists());
}

#[test]
fn show_prints_requests_grants_and_files() {
    let p = Project::new();
    p.pin("Corners", "corners").success();
    p.lo(&["drivers", "show", "corners"])
        .success()
        .stdout_has("corners 0.1.0")
        .stdout_has("env: FIXTURE_SECRET\n    why: proves env grants")
        .stdout_has("hooks     post-provision, export")
        .stdout_has("clusters/<domain>/.state/ (read-write: its own files)");
    let shown = p.lo(&["drivers", "show", "lo", "-o", "json"]);
    let v = shown.json();
    assert_eq!(v["source"], "builtin");
    assert!(
        v["granted"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g.as_str().unwrap().contains("privileged"))
    );
}

/// A built-in driver states its requests in `describe` and ships its grant in grant.toml: the
/// grant must cover every request, or the driver would be refused at load or denied at use.
#[test]
fn each_built_in_driver_is_granted_what_it_requests() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let engine =
            lok8s::engine::Runtime::new(lok8s::engine::cache::CompiledCache::at(shared_cache()))
                .unwrap();
        for builtin in lok8s::drivers::builtin::all() {
            let component =
                lok8s::lock::Verified::unpinned(std::sync::Arc::from(builtin.component));
            let inspected = lok8s::drivers::pinning::inspect(&engine, builtin.kind, &component)
                .await
                .unwrap();
            let requested = lok8s::host::grants::Grants::requested(&inspected.info);
            let missing = builtin.grants().missing(&requested);
            assert!(
                missing.is_empty(),
                "drivers/builtin/{}/grant.toml does not grant what describe() requests: {missing:?}",
                builtin.kind
            );
        }
    });
}

#[test]
fn a_pinned_drivers_schema_is_printed_checked_and_enforced_before_it_provisions() {
    let p = Project::new();
    p.pin("Corners", "corners").success();
    // `lo driver check` compiles what the component's spec-schema returns.
    let check = p.lo(&[
        "driver",
        "check",
        fixture("corners").to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert_eq!(check.json()["schema"], true);
    // `lo schema <kind>` prints the component's own schema, and `lo drivers show` says so.
    let printed = p.lo(&["schema", "corners"]);
    printed.success();
    assert!(
        !printed.stdout.contains('\u{202e}'),
        "a bidi override reached the terminal"
    );
    let schema: serde_json::Value = serde_json::from_str(&printed.stdout).unwrap();
    assert_eq!(
        schema["properties"]["spec"]["properties"]["fixture"]["properties"]["replicas"]["minimum"],
        1
    );
    p.lo(&["drivers", "show", "corners"])
        .success()
        .stdout_has("schema    lo schema corners");
    // A spec that breaks it is refused with the schema's words; the driver never provisions.
    p.cluster("c.dev", "Corners", "c", "fixture:\n  replicas: 0\n");
    p.lo(&["provision", "c.dev"])
        .code(1)
        .stderr_has("does not match the Corners driver's schema")
        .stderr_has(
            "spec.fixture.replicas: must be a whole number of replicas, at least 1 (got 0)",
        );
    assert!(!p.path("clusters/c.dev/.state/provisioned").exists());
    p.cluster("c.dev", "Corners", "c", "fixture:\n  replicas: 2\n");
    p.lo(&["provision", "c.dev"]).success();
    assert!(p.path("clusters/c.dev/.state/provisioned").exists());
}

#[test]
fn a_driver_built_against_contract_1_0_still_runs_and_has_no_schema() {
    let p = Project::new();
    p.pin("NoHooks", "no-hooks").success();
    p.lo(&["schema", "nohooks"])
        .code(2)
        .stderr_has("publishes no schema");
    p.cluster("n.dev", "NoHooks", "n", "");
    p.lo(&["provision", "n.dev"]).success();
}
