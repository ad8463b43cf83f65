//! Running drivers: outcomes, error variants, hooks, limits, grants (env, files), output
//! sanitising, Ctrl-C and the compiled cache. Runs the real `lo` with the `corners` fixture.

use std::io::Read;
use std::time::{Duration, Instant};

use lok8s_tests::{Project, files_under};

fn corners(behaviour: &str) -> Project {
    let p = Project::new();
    p.corners("a.dev", behaviour);
    p.pin("Corners", "corners").success();
    p
}

#[test]
fn continue_runs_hooks_and_framework_steps() {
    let p = corners("continue");
    let run = p.lo(&["provision", "a.dev", "-o", "json"]);
    run.success();
    let v = run.json();
    assert_eq!(v["outcome"], "continue");
    assert_eq!(v["exported"], serde_json::json!(["LOK8S_SPEC_FIXTURE"]));
    assert!(
        v["kubeconfig"]
            .as_str()
            .unwrap()
            .ends_with(".kubeconfig/dev.yaml")
    );
    assert_eq!(p.read("clusters/a.dev/.state/provisioned"), "yes");
    assert_eq!(p.read("clusters/a.dev/.state/post-provisioned"), "yes");
    assert!(p.read(".kubeconfig/dev.yaml").contains("kind: Config"));
    run.stderr_has("corners: provisioning dev with behaviour continue")
        .stderr_has("==> writing files (2 steps)");
}

#[test]
fn handled_skips_the_framework_steps() {
    let p = corners("handled");
    let run = p.lo(&["provision", "a.dev", "-o", "json"]);
    run.success();
    assert_eq!(run.json()["outcome"], "handled");
    assert_eq!(p.read("clusters/a.dev/.state/provisioned"), "handled");
    assert!(
        !p.path("clusters/a.dev/.state/post-provisioned").exists(),
        "post-provision ran after handled"
    );
}

#[test]
fn each_error_variant_is_printed_as_is_with_the_driver_named() {
    let cases = [
        (
            "invalid-spec",
            "invalid spec: spec.fixture.behaviour: \"invalid-spec\" is what this test asked for",
        ),
        ("not-found", "not found: fixture thing"),
        ("denied", "denied: fixture denial"),
        ("unavailable", "unavailable: fixture service down"),
        ("timeout", "timed out: fixture wait"),
        ("failed", "provision: fixture failure"),
    ];
    let p = Project::new();
    p.pin("Corners", "corners").success();
    for (behaviour, message) in cases {
        p.corners("a.dev", behaviour);
        p.lo(&["provision", "a.dev"])
            .code(1)
            .stderr_has("error: driver corners 0.1.0 (sha256:")
            .stderr_has(message);
        assert!(!p.path("clusters/a.dev/.state/post-provisioned").exists());
    }
}

#[test]
fn a_trap_is_reported_with_the_driver_and_stops_the_run() {
    let p = corners("trap");
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("driver corners 0.1.0 (sha256:")
        .stderr_has("provision: trapped")
        .stderr_has("fixture trap")
        .stderr_has("left in place");
    assert!(!p.path("clusters/a.dev/.state/post-provisioned").exists());
}

#[test]
fn an_endless_loop_runs_out_of_cpu() {
    let p = corners("loop");
    p.lo(&["provision", "a.dev", "--cpu-seconds", "1"])
        .code(1)
        .stderr_has("provision: ran out of CPU time: used its CPU budget of 1s");
}

#[test]
fn a_sleeping_driver_hits_the_wall_clock_limit_not_the_cpu_budget() {
    let p = corners("sleep");
    p.lo(&["provision", "a.dev", "--timeout", "2", "--cpu-seconds", "1"])
        .code(1)
        .stderr_has("provision: timed out after 2s of wall-clock time");
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let p = corners("membomb");
    p.lo(&["provision", "a.dev", "--memory-mib", "64"])
        .code(1)
        .stderr_has("provision: hit the memory limit")
        .stderr_has("the limit is 67108864 bytes");
}

#[test]
fn limits_in_drivers_lock_apply() {
    let p = corners("loop");
    let lock = p.read("drivers.lock");
    p.write(
        "drivers.lock",
        format!("{lock}\n[drivers.corners.limits]\ncpu-seconds = 1\n"),
    );
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("CPU budget of 1s");
}

#[test]
fn a_driver_without_hooks_runs_and_skips_them() {
    let p = Project::new();
    p.cluster("a.dev", "NoHooks", "dev", "");
    p.pin("NoHooks", "no-hooks").success();
    let run = p.lo(&["provision", "a.dev", "-o", "json"]);
    run.success();
    assert_eq!(run.json()["exported"], serde_json::json!([]));
    assert_eq!(p.read("clusters/a.dev/.state/provisioned"), "yes");
    p.lo(&["drivers", "show", "nohooks"])
        .success()
        .stdout_has("hooks     none");
}

#[test]
fn a_failing_post_provision_fails_the_run() {
    let p = corners("post-fail");
    p.lo(&["provision", "a.dev"])
        .code(1)
        .stderr_has("post-provision: post-provision fixture failure");
}

#[test]
fn only_granted_environment_variables_reach_the_driver() {
    let p = corners("env");
    p.lo_env(
        &["provision", "a.dev"],
        &[("FIXTURE_SECRET", "s3cret"), ("FIXTURE_UNGRANTED", "leak")],
    )
    .code(1)
    .stderr_has("secret=s3cret ungranted=<unset> vars=1");
    // Without the grant the variable is simply absent.
    let lock = p
        .read("drivers.lock")
        .replace("env = [\"FIXTURE_SECRET\"]", "env = []");
    p.write("drivers.lock", lock);
    p.lo_env(&["provision", "a.dev"], &[("FIXTURE_SECRET", "s3cret")])
        .code(1)
        .stderr_has("secret=<unset> ungranted=<unset> vars=0");
}

#[test]
fn files_outside_the_preopens_are_out_of_reach() {
    let p = corners("escape");
    p.corners("other.dev", "continue");
    p.write("outside.txt", "secret");
    std::os::unix::fs::symlink(p.root(), p.path("clusters/a.dev/link")).unwrap();
    let run = p.lo(&["provision", "a.dev"]);
    run.code(1);
    for attempt in [
        "read /etc/passwd",
        "read ../outside",
        "write ../escaped",
        "read via symlink",
        "read other domain",
        "read drivers.lock",
    ] {
        run.stderr_has(&format!("{attempt}=refused"));
    }
    assert!(!p.path("escaped.txt").exists());
    assert!(!p.root().parent().unwrap().join("escaped.txt").exists());
}

#[test]
fn driver_output_cannot_drive_the_terminal() {
    let p = corners("ansi");
    let run = p.lo(&["provision", "a.dev"]);
    run.code(1)
        .stderr_has("cleanstill here")
        .stderr_has("corners (stdout): stdout red line")
        .stderr_has("badmessage");
    assert!(
        !run.stderr.contains('\x1b') && !run.stderr.contains('\r') && !run.stderr.contains('\x07'),
        "{:?}",
        run.stderr
    );
}

#[test]
fn status_destroy_and_kubeconfig_round_trip() {
    let p = corners("continue");
    let before = p.lo(&["status", "a.dev", "-o", "json"]);
    before.success();
    assert_eq!(before.json()["health"], "not-found");
    assert_eq!(before.json()["phase"], "NotFound");
    p.lo(&["provision", "a.dev"]).success();
    p.lo(&["status", "a.dev"])
        .success()
        .stdout_has("phase    Running")
        .stdout_has("message  dev is up");
    std::fs::remove_file(p.path(".kubeconfig/dev.yaml")).unwrap();
    let kc = p.lo(&["kc", "a.dev"]);
    kc.success();
    assert_eq!(
        kc.stdout.trim(),
        p.path(".kubeconfig/dev.yaml").to_str().unwrap()
    );
    assert!(p.path(".kubeconfig/dev.yaml").is_file());
    p.lo(&["destroy", "a.dev"])
        .success()
        .stdout_has("destroyed a.dev");
    assert!(!p.path("clusters/a.dev/.state/provisioned").exists());
    assert_eq!(
        p.lo(&["status", "a.dev", "-o", "json"]).json()["health"],
        "not-found"
    );
}

#[test]
fn a_kubeconfig_path_outside_the_project_is_refused() {
    let p = corners("kubeconfig-escape");
    p.lo(&["kubeconfig", "a.dev"])
        .code(1)
        .stderr_has("returned \"../../etc/passwd\"")
        .stderr_has("a driver writes its kubeconfig at .kubeconfig/dev.yaml");
}

#[test]
fn ctrl_c_stops_the_driver_and_says_what_was_left() {
    let p = corners("sleep");
    let mut child = p
        .command(&["provision", "a.dev"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    // Wait for the driver to start sleeping: its first log line arrives before the sleep.
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("behaviour sleep") {
        assert!(
            Instant::now() < deadline,
            "driver never started: {}",
            String::from_utf8_lossy(&seen)
        );
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "lo exited early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    stderr.read_to_end(&mut seen).unwrap();
    let status = child.wait().unwrap();
    let text = String::from_utf8_lossy(&seen);
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(
        text.contains("stopped by Ctrl-C") && text.contains("left in place"),
        "{text}"
    );
}

#[test]
fn the_compiled_cache_is_reused_and_a_corrupt_entry_is_recompiled() {
    let p = Project::new().with_private_cache();
    p.corners("a.dev", "continue");
    p.pin("Corners", "corners").success();
    let entries = files_under(p.cache_dir());
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry = &entries[0];
    let name = entry.file_name().unwrap().to_string_lossy().into_owned();
    let digest = p.read("drivers.lock");
    assert!(
        digest.contains(&name[..64]),
        "cache entry {name} is not keyed by the component's sha256"
    );
    let good = std::fs::read(entry).unwrap();
    let written = std::fs::metadata(entry).unwrap().modified().unwrap();
    p.lo(&["status", "a.dev", "-v"])
        .success()
        .stderr_has("compiled code loaded from the cache");
    assert_eq!(
        std::fs::metadata(entry).unwrap().modified().unwrap(),
        written,
        "a warm run rewrote the entry"
    );
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    std::fs::write(entry, &bad).unwrap();
    p.lo(&["status", "a.dev", "-v"])
        .success()
        .stderr_has("recompiled: corrupt cache entry");
    assert_eq!(
        std::fs::read(entry).unwrap(),
        good,
        "the corrupt entry was not replaced"
    );
    std::fs::write(entry, b"garbage").unwrap();
    p.lo(&["status", "a.dev"]).success();
    assert_eq!(std::fs::read(entry).unwrap(), good);
}

#[test]
fn a_cache_dir_others_can_write_is_not_used() {
    use std::os::unix::fs::PermissionsExt;
    let p = Project::new().with_private_cache();
    p.corners("a.dev", "continue");
    std::fs::create_dir_all(p.cache_dir()).unwrap();
    std::fs::set_permissions(p.cache_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    p.pin("Corners", "corners").success();
    p.lo(&["status", "a.dev"])
        .success()
        .stderr_has("is not private to this user");
    assert!(
        files_under(p.cache_dir()).is_empty(),
        "compiled code was cached in a shared directory"
    );
}

#[test]
fn a_spec_symlinked_out_of_its_domain_is_refused() {
    let p = corners("continue");
    p.write(
        ".secrets/token.yaml",
        "kind: Corners\nmetadata:\n  name: stolen\n",
    );
    std::fs::remove_file(p.path("clusters/a.dev/cluster.lok8s.yaml")).unwrap();
    std::os::unix::fs::symlink(
        "../../.secrets/token.yaml",
        p.path("clusters/a.dev/cluster.lok8s.yaml"),
    )
    .unwrap();
    p.lo(&["status", "a.dev"])
        .code(1)
        .stderr_has("is a link, which lo does not follow for specs");
}

#[test]
fn env_prints_the_exported_values_quoted_for_a_shell() {
    let p = Project::new();
    p.cluster(
        "a.dev",
        "Corners",
        "dev",
        "fixture:\n  behaviour: continue\nexported: it's $(touch pwned) `id`\n",
    );
    p.pin("Corners", "corners").success();
    let run = p.lo(&["env", "a.dev"]);
    run.success();
    // Evaluated by a real shell: the value comes back exactly, and nothing ran.
    let out = std::process::Command::new("sh")
        .current_dir(p.root())
        .arg("-c")
        .arg(format!(
            "{}\nprintf '%s|%s' \"$LOK8S_SPEC_FIXTURE\" \"$LOK8S_SPEC_EXPORTED\"",
            run.stdout
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "dev|it's $(touch pwned) `id`"
    );
    assert!(!p.path("pwned").exists());
    let json = p.lo(&["env", "a.dev", "-o", "json"]);
    json.success();
    assert_eq!(json.json()["variables"]["LOK8S_SPEC_FIXTURE"], "dev");
}
