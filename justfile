# lok8s tasks. `just` lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Install the wasm target, just and test packages (idempotent).
setup:
    bash tools/setup

# Build the lo binary (release) with its built-in driver components.
build:
    cargo build --release -p lok8s --bin lo

# Build the guest components only: built-in drivers and test fixtures.
build-drivers:
    cargo build --profile guest --target wasm32-wasip2 --target-dir target/guest \
      -p lok8s-driver-lo -p lok8s-driver-capi -p lok8s-driver-kubeone -p lok8s-driver-kkp \
      -p fixture-corners -p fixture-no-hooks -p fixture-newer-contract -p fixture-forbidden-imports -p fixture-docker-probe -p fixture-tls-probe -p fixture-http-probe -p fixture-ssh-probe -p fixture-kube-probe

# The main job: lo on the bundled example project (drivers, status, provision).
demo: build
    #!/usr/bin/env bash
    set -uo pipefail
    lo="$PWD/target/release/lo"
    cd examples/project
    # The example is not pinned: a CI environment's CI=true would refuse it (that is tested).
    unset CI LO_LOCKED
    echo "+ lo drivers list"; "$lo" drivers list
    echo; echo "+ lo drivers show lo"; "$lo" drivers show lo
    echo; echo "+ lo provision lok8s.dev"; "$lo" provision lok8s.dev; rc=$?
    echo
    case $rc in
      0) echo "demo: provisioned lok8s.dev" ;;
      1) echo "demo: lo provision stopped with the message above (exit 1); nothing was left half-created" ;;
      *) echo "demo: lo provision failed unexpectedly (exit $rc)"; exit $rc ;;
    esac

# The workspace's default members are the native crates; guest crates build through build.rs.

# Run every test: unit tests and the integration suites (real lo binary, fixture drivers).
test:
    cargo test

# Benchmarks: cold compile vs cached load, warm `lo status`, call overheads.
bench:
    cargo build --release -p lok8s --bin lo
    LO_BIN="$PWD/target/release/lo" cargo bench -p lok8s-tests --bench load

# Formatting and lints.
lint:
    cargo fmt --all --check
    cargo clippy -p lok8s -p lok8s-tests --all-targets -- -D warnings
