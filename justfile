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

# The main job: lo on the bundled example project. It provisions a real Lo cluster
# (42.lok8s.dev) from locally built stand-in images, shows it, and destroys it; it starts a
# Docker engine first when one is installed but none answers (tools/ensure-docker).
demo:
    #!/usr/bin/env bash
    set -uo pipefail
    # The dev build `just test` uses too (the tests build exactly this set), so the README's
    # second command reuses the first one's build; `just build` makes the release binary.
    echo "+ cargo build -p lok8s --bin lo -p lok8s-tests --bins"
    cargo build -q -p lok8s --bin lo -p lok8s-tests --bins || exit 1
    lo="$PWD/target/debug/lo"
    cd examples/project
    # The example is not pinned: a CI environment's CI=true would refuse it (that is tested).
    unset CI LO_LOCKED
    echo "+ lo drivers list"; "$lo" drivers list
    echo; echo "+ lo drivers show lo"; "$lo" drivers show lo
    # A cluster needs an engine: start dockerd when it is installed and none answers.
    if ! bash ../../tools/ensure-docker >/dev/null; then
      echo; echo "demo: no Docker engine (see above), so no cluster this time"
      echo "+ lo provision lok8s.dev"; "$lo" provision lok8s.dev; echo "(exit $?)"
      exit 1
    fi
    # This kernel may refuse --privileged; see README "Operator settings".
    export LO_PRIVILEGED_MODE="${LO_PRIVILEGED_MODE:-capabilities}"
    export CAROOT="${CAROOT:-$PWD/.lok8s/ca}"
    echo; echo "+ building the stand-in node and registry images"
    ../../target/debug/lok8s-test-images || exit 1
    set -e
    echo; echo "+ lo provision 42.lok8s.dev"; "$lo" provision 42.lok8s.dev
    echo; echo "+ lo provision 42.lok8s.dev   (again: converges, changes nothing)"; time "$lo" provision 42.lok8s.dev -o json >/dev/null
    echo; echo "+ lo status 42.lok8s.dev"; "$lo" status 42.lok8s.dev
    echo; echo "+ kubectl get configmap lok8s-registries -n kube-system (through the published API port)"
    kubectl --kubeconfig .kubeconfig/lok8s-example.yaml -n kube-system get configmap lok8s-registries -o jsonpath='{.data}'; echo
    echo; echo "+ kubectl get configmap cluster-facts -n lok8s-welcome (applied by the bootstrap, values from the driver's export)"
    kubectl --kubeconfig .kubeconfig/lok8s-example.yaml -n lok8s-welcome get configmap cluster-facts -o jsonpath='{.data}'; echo
    echo; echo "+ docker ps (kind-compatible node, registries, mirror)"
    docker ps --format '  {{{{.Names}}\t{{{{.Image}}\t{{{{.Status}}'
    echo; echo "+ lo destroy 42.lok8s.dev"; "$lo" destroy 42.lok8s.dev
    echo; echo "demo: provisioned, converged, inspected and destroyed 42.lok8s.dev; its network stays for the next cluster"

# The workspace's default members are the native crates; guest crates build through build.rs.

# Build the example drivers in other languages and the test drivers written in them
# (componentize-py and componentize-qjs, installed by tools/setup).
build-examples:
    #!/usr/bin/env bash
    set -euo pipefail
    py=target/tools/venv/bin/componentize-py
    qjs=target/tools/node/node_modules/.bin/componentize-qjs
    for tool in "$py" "$qjs"; do
      [ -x "$tool" ] || { echo "build-examples: $tool is missing; run: bash tools/setup" >&2; exit 1; }
    done
    mkdir -p target/examples
    "$py" -d drivers/examples/k3s-python/wit -w k3s componentize -p drivers/examples/k3s-python app -o target/examples/k3s_python.wasm >/dev/null
    "$qjs" --sync --wit drivers/examples/k3s-js/wit --world k3s --js drivers/examples/k3s-js/app.js -o target/examples/k3s_js.wasm >/dev/null
    "$py" -d tests/languages/python/wit -w escapes componentize -p tests/languages/python app -o target/examples/escapes_python.wasm >/dev/null
    "$qjs" --sync --wit tests/languages/js/wit --world escapes --js tests/languages/js/app.js -o target/examples/escapes_js.wasm >/dev/null
    echo "built target/examples/{k3s_python,k3s_js,escapes_python,escapes_js}.wasm"

# Run every test: unit tests and the integration suites (real lo binary, fixture and example
# drivers). Every suite runs even when one fails, so one failure does not hide the rest.
test: build-examples
    cargo test --no-fail-fast

# Benchmarks: cold compile vs cached load, warm `lo status`, call overheads.
bench:
    cargo build --release -p lok8s --bin lo
    LO_BIN="$PWD/target/release/lo" cargo bench -p lok8s-tests --bench load

# Formatting, lints, and the runtime's layering (runtime/tests/layers.rs).
lint:
    cargo fmt --all --check
    cargo clippy -p lok8s -p lok8s-tests --all-targets -- -D warnings
    cargo test -q -p lok8s --test layers
