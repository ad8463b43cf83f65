"""A lok8s driver in Python for `kind: K3s`: one k3s server container through the docker
import, its kubeconfig read out of the container and pointed at the published API port.

Built with componentize-py against the contract in wit/1.0.0 (world `driver-with-hooks`).
Everything goes through the host imports; open() sees only the cluster folder and .kubeconfig/.
"""

import os
import time

from wit_world import exports
from componentize_py_types import Err
from wit_world.imports import docker, log
from wit_world.imports.docker import ExecSpec
from wit_world.imports.types import (
    Capability_Docker,
    CapabilityRequest,
    DockerAccess,
    DriverError_Failed,
    DriverError_InvalidSpec,
    DriverError_NotFound,
    DriverError_Timeout,
    DriverInfo,
    FieldError,
    Health,
    Outcome,
    StatusReport,
)

DEFAULT_IMAGE = "rancher/k3s:v1.31.4-k3s1"
KUBECONFIG_IN_CONTAINER = "/etc/rancher/k3s/k3s.yaml"
BOOT_SECONDS = 60


def info(message):
    log.write(log.Level.INFO, message)


def spec_value(ctx, key):
    """`spec.<key>` from the spec text: top-level scalar keys under `spec:` only."""
    in_spec = False
    for line in ctx.spec.splitlines():
        if line.startswith("spec:"):
            in_spec = True
            continue
        if in_spec and line and not line.startswith(" "):
            break
        stripped = line.strip()
        if in_spec and line.startswith("  ") and not line.startswith("   ") and ":" in stripped:
            name, _, value = stripped.partition(":")
            if name == key:
                return value.strip().strip('"')
    return None


def container_name(ctx):
    if not ctx.cluster_name:
        raise Err(DriverError_InvalidSpec(FieldError("metadata.name", "is required: it names the k3s server container")))
    return f"{ctx.cluster_name}-k3s-server"


def api_port(name):
    c = docker.inspect_container(name)
    if c is None:
        raise Err(DriverError_NotFound(f"container {name} does not exist; run lo provision"))
    for p in c.ports:
        if p.container_port == 6443 and p.host_port:
            return p.host_port
    raise Err(DriverError_Failed(f"{name} publishes no API port (6443/tcp)"))


def read_kubeconfig(name):
    deadline = time.monotonic() + BOOT_SECONDS
    while True:
        out = docker.exec(ExecSpec(name, ["cat", KUBECONFIG_IN_CONTAINER], [], None, None, None))
        if out.exit_code == 0 and out.stdout:
            return out.stdout.decode()
        if time.monotonic() > deadline:
            raise Err(DriverError_Timeout(f"k3s in {name} wrote no {KUBECONFIG_IN_CONTAINER} within {BOOT_SECONDS}s"))
        time.sleep(0.25)


def write_kubeconfig(ctx, name):
    text = read_kubeconfig(name).replace("https://127.0.0.1:6443", f"https://127.0.0.1:{api_port(name)}")
    os.makedirs(os.path.dirname(ctx.kubeconfig), exist_ok=True)
    with open(ctx.kubeconfig, "w") as f:
        f.write(text)
    return ctx.kubeconfig


class Lifecycle(exports.Lifecycle):
    def describe(self):
        return DriverInfo(
            name="k3s-python",
            version="0.1.0",
            contract="1.0.0",
            kinds=["K3s"],
            summary="A single k3s server in Docker (example driver in Python)",
            capabilities=[
                CapabilityRequest(
                    Capability_Docker(DockerAccess(privileged=True, shared_networks=[], host_paths=[])),
                    "the k3s server container (k3s runs privileged)",
                )
            ],
        )

    def provision(self, ctx):
        name = container_name(ctx)
        image = spec_value(ctx, "image") or DEFAULT_IMAGE
        existing = docker.inspect_container(name)
        if existing is None:
            if docker.inspect_image(image) is None:
                docker.pull_image(image)
            # Its own network: lo attaches containers only to networks their cluster owns.
            if docker.inspect_network(name) is None:
                docker.create_network(docker.NetworkSpec(name, [], [], [], None, False))
            spec = docker.ContainerSpec(
                name=name,
                image=image,
                hostname=name,
                labels=[("app.kubernetes.io/managed-by", "lok8s-k3s-python")],
                env=[],
                entrypoint=None,
                cmd=["server"],
                user=None,
                working_dir=None,
                mounts=[docker.Mount(docker.MountKind.TMPFS, "", "/run", False, None)],
                ports=[docker.PortBinding(6443, "tcp", "127.0.0.1", None)],
                privileged=True,
                security_opts=[],
                restart=docker.RestartPolicy.UNLESS_STOPPED,
                network=docker.Endpoint(name, None, []),
                cgroupns=None,
                init=False,
            )
            docker.create_container(spec)
            docker.start_container(name)
            info(f"started {name} from {image}")
        elif not existing.running:
            docker.start_container(name)
            info(f"started {name} again")
        write_kubeconfig(ctx, name)
        return Outcome.CONTINUE

    def destroy(self, ctx):
        if docker.remove_container(container_name(ctx), True):
            info(f"removed {container_name(ctx)}")
        docker.remove_network(container_name(ctx))

    def status(self, ctx):
        c = docker.inspect_container(container_name(ctx))
        if c is None:
            return StatusReport("NotFound", Health.NOT_FOUND, "no k3s server container")
        if not c.running:
            return StatusReport("Stopped", Health.DEGRADED, f"{c.name} is {c.state}")
        return StatusReport("Running", Health.RUNNING, f"{c.name} is running")

    def kubeconfig(self, ctx):
        return write_kubeconfig(ctx, container_name(ctx))


class Hooks(exports.Hooks):
    def post_provision(self, ctx):
        return None

    def export(self, ctx):
        return [("LOK8S_SPEC_CLUSTER_NAME", ctx.cluster_name)]
