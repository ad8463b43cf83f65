// A lok8s driver in JavaScript for `kind: K3s`: one k3s server container through the docker
// import, its kubeconfig read out of the container and pointed at the published API port.
//
// Built with componentize-qjs (QuickJS) against wit/world.wit. There is no `fs` or `process`
// here: the driver reaches Docker through the contract's import, writes the kubeconfig through
// the preopened `.kubeconfig/` folder (wasi:filesystem) and waits on the monotonic clock.
// Imported functions that return `result` throw their error; a thrown driver-error variant
// ({ tag, val }) becomes the export's error.

import log from "lok8s:driver/log@1.0.0";
import docker from "lok8s:driver/docker@1.0.0";
import preopens from "wasi:filesystem/preopens@0.2.12";
import clock from "wasi:clocks/monotonic-clock@0.2.12";

const DEFAULT_IMAGE = "rancher/k3s:v1.31.4-k3s1";
const KUBECONFIG_IN_CONTAINER = "/etc/rancher/k3s/k3s.yaml";
const BOOT_SECONDS = 60;
const SPEC_KEYS = ["image"];

const info = (message) => log.write("info", message);
const fail = (tag, val) => ({ tag, val });
const invalid = (field, message) => fail("invalid-spec", { field, message });

// `spec.<key>: value` scalars from the spec text: the example's spec is one flat mapping.
function specValues(ctx) {
  const values = {};
  let inSpec = false;
  let keyIndent = null;
  for (const line of ctx.spec.split("\n")) {
    if (line.startsWith("spec:")) {
      inSpec = true;
      const inline = line.slice(5).replace(/\s*#.*$/, "").trim();
      if (inline !== "" && inline !== "{}") throw invalid("spec", "must be a mapping such as `image: rancher/k3s:v1.31.4-k3s1`");
      continue;
    }
    if (!inSpec || line.trim() === "" || line.trim().startsWith("#")) continue;
    if (!line.startsWith(" ")) break;
    const entry = line.replace(/\s#.*$/, "").trim();
    if (entry === "{}") continue;
    if (entry.startsWith("- ")) throw invalid("spec", `must be a mapping, not a list (found \`${entry}\`); write \`image: <reference>\``);
    const colon = entry.indexOf(":");
    if (colon < 0) throw invalid("spec", `\`${entry}\` is not \`key: value\`; write \`image: <reference>\``);
    const indent = line.length - line.trimStart().length;
    keyIndent ??= indent;
    if (indent !== keyIndent) throw invalid("spec", `\`${entry}\`: the K3s spec is flat (one level of \`key: value\`)`);
    const key = entry.slice(0, colon);
    if (!SPEC_KEYS.includes(key)) throw invalid(`spec.${key}`, `is not a K3s field; the fields are: ${SPEC_KEYS.join(", ")}`);
    const value = entry.slice(colon + 1).trim().replace(/^["']|["']$/g, "");
    if (value === "") throw invalid(`spec.${key}`, "is empty; give an image reference");
    values[key] = value;
  }
  return values;
}

function containerName(ctx) {
  if (!ctx.clusterName) throw invalid("metadata.name", "is required: it names the k3s server container");
  return `${ctx.clusterName}-k3s`;
}

function apiPort(name) {
  const c = docker.inspectContainer(name);
  if (c === null) throw fail("not-found", `container ${name} does not exist; run lo provision`);
  const port = c.ports.find((p) => p.containerPort === 6443 && p.hostPort !== null);
  if (!port) throw fail("failed", `${name} publishes no API port (6443/tcp)`);
  return port.hostPort;
}

function sleepMs(ms) {
  clock.subscribeDuration(ms * 1e6).block();
}

function readKubeconfig(name) {
  const deadline = clock.now() + BOOT_SECONDS * 1e9;
  for (;;) {
    const out = docker.exec({ container: name, cmd: ["cat", KUBECONFIG_IN_CONTAINER], env: [], user: null, workingDir: null, stdin: null });
    if (out.exitCode === 0 && out.stdout.length > 0) return utf8Decode(out.stdout);
    if (clock.now() > deadline) throw fail("timeout", `k3s in ${name} wrote no ${KUBECONFIG_IN_CONTAINER} within ${BOOT_SECONDS}s`);
    sleepMs(250);
  }
}

// Writes `text` to a project-relative path inside one of the preopened folders.
function writeFile(path, text) {
  const dirs = preopens.getDirectories();
  // The longest folder that holds the path: the driver's own folder sits inside a read-only one.
  const found = dirs
    .filter(([, root]) => path.startsWith(`${root}/`))
    .sort(([, a], [, b]) => b.length - a.length)[0];
  if (!found) throw fail("denied", `${path} is outside the folders this driver may write`);
  const [dir, root] = found;
  const file = dir.openAt({}, path.slice(root.length + 1), { create: true, truncate: true }, { write: true });
  const bytes = utf8Encode(text);
  let written = 0;
  while (written < bytes.length) written += file.write(bytes.subarray(written), written);
}

function writeKubeconfig(ctx, name) {
  const text = readKubeconfig(name).replaceAll("https://127.0.0.1:6443", `https://127.0.0.1:${apiPort(name)}`);
  writeFile(ctx.kubeconfig, text);
  return ctx.kubeconfig;
}

export const lifecycle = {
  describe() {
    return {
      name: "k3s-js",
      version: "0.1.0",
      contract: "1.0.0",
      kinds: ["K3s"],
      summary: "A single k3s server in Docker (example driver in JavaScript)",
      capabilities: [
        {
          capability: { tag: "docker", val: { privileged: true, sharedNetworks: [], hostPaths: [] } },
          reason: "the k3s server container (k3s runs privileged)",
        },
      ],
    };
  },

  provision(ctx) {
    const name = containerName(ctx);
    const image = specValues(ctx).image ?? DEFAULT_IMAGE;
    const existing = docker.inspectContainer(name);
    if (existing === null) {
      if (docker.inspectImage(image) === null) docker.pullImage(image);
      // Its own network: lo attaches containers only to networks their cluster owns.
      if (docker.inspectNetwork(name) === null) {
        docker.createNetwork({ name, subnets: [], labels: [], options: [], mtu: null, internal: false });
      }
      docker.createContainer({
        name,
        image,
        hostname: name,
        labels: [["app.kubernetes.io/managed-by", "lok8s-k3s-js"]],
        env: [],
        entrypoint: null,
        cmd: ["server"],
        user: null,
        workingDir: null,
        mounts: [{ kind: "tmpfs", source: "", target: "/run", readOnly: false, options: null }],
        ports: [{ containerPort: 6443, protocol: "tcp", hostIp: "127.0.0.1", hostPort: null }],
        privileged: true,
        securityOpts: [],
        restart: "unless-stopped",
        network: { network: name, ipv4: null, aliases: [] },
        cgroupns: null,
        init: false,
      });
      docker.startContainer(name);
      info(`started ${name} from ${image}`);
    } else if (!existing.running) {
      docker.startContainer(name);
      info(`started ${name} again`);
    }
    writeKubeconfig(ctx, name);
    return "continue";
  },

  destroy(ctx) {
    const name = containerName(ctx);
    if (docker.removeContainer(name, true)) info(`removed ${name}`);
    docker.removeNetwork(name);
  },

  status(ctx) {
    const c = docker.inspectContainer(containerName(ctx));
    if (c === null) return { phase: "NotFound", health: "not-found", message: "no k3s server container" };
    if (!c.running) return { phase: "Stopped", health: "degraded", message: `${c.name} is ${c.state}` };
    return { phase: "Running", health: "running", message: `${c.name} is running` };
  },

  kubeconfig(ctx) {
    return writeKubeconfig(ctx, containerName(ctx));
  },
};

export const hooks = {
  postProvision(ctx) {},
  export(ctx) {
    return [["LOK8S_SPEC_CLUSTER_NAME", ctx.clusterName]];
  },
};

// QuickJS has no TextEncoder/TextDecoder.
function utf8Encode(text) {
  const out = [];
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

function utf8Decode(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    const n = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    let c = n === 1 ? b : b & (0xff >> (n + 1));
    for (let k = 1; k < n; k++) c = (c << 6) | (bytes[i + k] & 63);
    text += String.fromCodePoint(c);
    i += n;
  }
  return text;
}
