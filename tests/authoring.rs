//! Tools for driver authors, on real components: `lo driver check` reports what a component
//! targets, exports, imports and requests, and fails with the reasons when lo would refuse it.

use lok8s_tests::{Project, fixture, hostile};

#[test]
fn check_reports_a_runnable_driver() {
    let p = Project::new();
    let run = p.lo(&[
        "driver",
        "check",
        fixture("corners").to_str().unwrap(),
        "-o",
        "json",
    ]);
    run.success();
    let v = run.json();
    assert_eq!(v["contract"], "1.0.0");
    assert_eq!(v["hooks"], true);
    assert_eq!(v["kinds"][0], "Corners");
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    let bytes = std::fs::read(fixture("corners")).unwrap();
    assert_eq!(v["size"], bytes.len());
    assert!(v["sha256"].as_str().unwrap().starts_with("sha256:"), "{v}");
    assert!(
        v["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.as_str().unwrap().starts_with("lok8s:driver/lifecycle@"))
    );
    // Text form for people.
    p.lo(&["driver", "check", fixture("corners").to_str().unwrap()])
        .success()
        .stdout_has("contract  lok8s:driver@1.0.0")
        .stdout_has("ok: this lo runs it");
}

#[test]
fn check_fails_with_the_reason_lo_would_refuse() {
    let p = Project::new();
    // Built against a newer contract.
    let run = p.lo(&[
        "driver",
        "check",
        fixture("newer-contract").to_str().unwrap(),
    ]);
    run.code(1).stderr_has("would be refused").stderr_has("1.1");
    // An interface outside the contract; raw sockets likewise.
    p.lo(&[
        "driver",
        "check",
        fixture("forbidden-imports").to_str().unwrap(),
    ])
    .code(1)
    .stderr_has("  - fixture:forbidden/steal: not part of the lok8s driver contract");
    p.lo(&["driver", "check", hostile("raw-socket").to_str().unwrap()])
        .code(1)
        .stderr_has("wasi:sockets");
    // Imports docker without requesting it in describe.
    let run = p.lo(&[
        "driver",
        "check",
        hostile("docker-ungranted-import").to_str().unwrap(),
        "-o",
        "json",
    ]);
    run.code(1);
    let v = run.json();
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m.as_str().unwrap().contains("lok8s:driver/docker")),
        "{v}"
    );
    // Not a component at all.
    p.write("junk.wasm", b"\0asm junk");
    p.lo(&["driver", "check", "junk.wasm"])
        .code(1)
        .stderr_has("would be refused");
    p.lo(&["driver", "check", "missing.wasm"])
        .code(1)
        .stderr_has("missing.wasm");
}
