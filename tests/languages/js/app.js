// The escape attempts of tests/languages.rs, in JavaScript (the Rust ones are tests/hostile/*).
// `attempt.escape` in the spec names the attempt; one that works answers failed("ESCAPED: …").
// Host refusals (thrown by an import) propagate as the driver's error, as a real driver's would.

import docker from "lok8s:driver/docker@1.0.0";
import preopens from "wasi:filesystem/preopens@0.2.12";

const param = (ctx, key) => {
  for (const line of ctx.spec.split("\n")) {
    const entry = line.trim();
    if (entry.startsWith(`${key}:`)) return entry.slice(key.length + 1).trim();
  }
  return "";
};
const failed = (message) => ({ tag: "failed", val: message });
const escaped = (what) => { throw failed(`ESCAPED: ${what}`); };

// Opens `path` relative to the cluster folder's preopen, the way a file API would resolve it.
function openFromClusterDir(ctx, path, openFlags, flags) {
  const [dir] = preopens.getDirectories().find(([, name]) => name === ctx.clusterDir);
  return dir.openAt({}, path, openFlags, flags);
}

function container(ctx, suffix, privileged = false, mounts = []) {
  return {
    name: `${param(ctx, "prefix")}-${suffix}`, image: param(ctx, "image"), hostname: null,
    labels: [], env: [], entrypoint: null, cmd: ["sleep", "60"], user: null, workingDir: null,
    mounts, ports: [], privileged, securityOpts: [], restart: "no", network: null,
    cgroupns: null, init: false,
  };
}

function attempt(ctx, escape) {
  switch (escape) {
    case "read-host-file":
      try {
        openFromClusterDir(ctx, "/etc/shadow", {}, { read: true });
      } catch (e) {
        throw failed(`read /etc/shadow: ${e}`);
      }
      return escaped("read /etc/shadow");
    case "write-outside-project":
      try {
        const file = openFromClusterDir(ctx, "../../../escaped.txt", { create: true }, { write: true });
        file.write(new Uint8Array([120]), 0);
      } catch (e) {
        throw failed(`write outside: ${e}`);
      }
      return escaped("write outside");
    case "docker-socket-mount": {
      const sock = { kind: "bind", source: "/var/run/docker.sock", target: "/x", readOnly: false, options: null };
      docker.createContainer(container(ctx, "bind", false, [sock]));
      return escaped("bind mount /var/run/docker.sock");
    }
    case "docker-privileged":
      docker.createContainer(container(ctx, "priv", true));
      return escaped("privileged container");
    case "docker-foreign-container":
      docker.stopContainer(param(ctx, "target"), 1);
      return escaped("stop a foreign container");
    case "memory-bomb": {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(4 << 20));
    }
    case "endless-loop": {
      let x = 0;
      for (;;) x = (x * 31 + 7) >>> 0;
    }
    default:
      throw failed(`unknown escape ${escape}`);
  }
}

export const lifecycle = {
  describe() {
    return {
      name: "escapes-js", version: "0.1.0", contract: "1.0.0", kinds: ["Hostile"],
      summary: "tries the escape named by spec attempt.escape",
      capabilities: [{
        capability: { tag: "docker", val: { privileged: false, sharedNetworks: [], hostPaths: [] } },
        reason: "the attempt",
      }],
    };
  },
  provision(ctx) {
    return attempt(ctx, param(ctx, "escape"));
  },
  destroy(ctx) {},
  status(ctx) {
    return { phase: "Running", health: "running", message: "" };
  },
  kubeconfig(ctx) {
    return ctx.kubeconfig;
  },
};
