"""The escape attempts of tests/languages.rs, in Python (the Rust ones are tests/hostile/*).
`attempt.escape` in the spec names the attempt; one that works answers failed("ESCAPED: …").
Host refusals (Err from an import) propagate as the driver's error, as a real driver's would.
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import docker
from wit_world.imports.types import (
    Capability_Docker,
    CapabilityRequest,
    DockerAccess,
    DriverError_Failed,
    DriverInfo,
    Health,
    StatusReport,
)


def param(ctx, key):
    for line in ctx.spec.splitlines():
        name, sep, value = line.strip().partition(":")
        if sep and name == key:
            return value.strip()
    return ""


def escaped(what):
    raise Err(DriverError_Failed(f"ESCAPED: {what}"))


def refused(what, error):
    raise Err(DriverError_Failed(f"{what}: {error}"))


def container(ctx, suffix, privileged=False, mounts=()):
    return docker.ContainerSpec(
        name=f"{param(ctx, 'prefix')}-{suffix}", image=param(ctx, "image"), hostname=None,
        labels=[], env=[], entrypoint=None, cmd=["sleep", "60"], user=None, working_dir=None,
        mounts=list(mounts), ports=[], privileged=privileged, security_opts=[],
        restart=docker.RestartPolicy.NO, network=None, cgroupns=None, init=False,
    )


def attempt(ctx, escape):
    if escape == "read-host-file":
        try:
            open("/etc/shadow", "rb").read()
        except OSError as e:
            refused("read /etc/shadow", e)
        escaped("read /etc/shadow")
    if escape == "write-outside-project":
        try:
            with open(f"{ctx.cluster_dir}/../../../escaped.txt", "w") as f:
                f.write("x")
        except OSError as e:
            refused("write outside", e)
        escaped("write outside")
    if escape == "docker-socket-mount":
        sock = docker.Mount(docker.MountKind.BIND, "/var/run/docker.sock", "/x", False, None)
        docker.create_container(container(ctx, "bind", mounts=[sock]))
        escaped("bind mount /var/run/docker.sock")
    if escape == "docker-privileged":
        docker.create_container(container(ctx, "priv", privileged=True))
        escaped("privileged container")
    if escape == "docker-foreign-container":
        docker.stop_container(param(ctx, "target"), 1)
        escaped("stop a foreign container")
    if escape == "memory-bomb":
        hoard = []
        while True:
            hoard.append(bytearray(4 << 20))
    if escape == "endless-loop":
        x = 0
        while True:
            x = (x * 31 + 7) & 0xFFFFFFFF
    raise Err(DriverError_Failed(f"unknown escape {escape}"))


class Lifecycle(exports.Lifecycle):
    def describe(self):
        return DriverInfo(
            name="escapes-python", version="0.1.0", contract="1.0.0", kinds=["Hostile"],
            summary="tries the escape named by spec attempt.escape",
            capabilities=[CapabilityRequest(
                Capability_Docker(DockerAccess(privileged=False, shared_networks=[], host_paths=[])),
                "the attempt",
            )],
        )

    def provision(self, ctx):
        attempt(ctx, param(ctx, "escape"))

    def destroy(self, ctx):
        return None

    def status(self, ctx):
        return StatusReport("Running", Health.RUNNING, "")

    def kubeconfig(self, ctx):
        return ctx.kubeconfig
