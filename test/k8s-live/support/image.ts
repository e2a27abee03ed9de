// What a container image runs here. Images of this repository (lspo, lspo-webgpu, lspo-cuda, any lspo*)
// run the checkout itself: the ENTRYPOINT of deploy/Dockerfile with `tini --` dropped, `node` mapped to
// this node binary and the script path to the repository root (the image's WORKDIR holds the same tree),
// and its ENV as the image's environment. `nats` runs the local nats-server. Anything else is refused.
import { readFileSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { Container } from "./manifests.js";

export interface ImageRun {
  cmd: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  home: string;
  /** the image's USER (uid, gid), used when the pod does not set runAsUser/runAsGroup */
  user: { uid: number; gid: number };
}

export class ImageError extends Error {
  override name = "ImageError";
}

/** `registry.io:5000/org/lspo-cuda:0.1.0@sha256:..` -> `lspo-cuda`. */
export function imageBaseName(image: string): string {
  const noDigest = image.split("@")[0];
  const last = noDigest.split("/").pop()!;
  return last.split(":")[0];
}

/** JSON-form instruction of a Dockerfile (`ENTRYPOINT ["a", "b"]`), joined over line continuations. */
export function dockerfileInstruction(text: string, name: string): string[] | undefined {
  const lines = text.replace(/\\\r?\n/g, " ").split(/\r?\n/);
  let found: string[] | undefined;
  for (const l of lines) {
    const m = new RegExp(`^\\s*${name}\\s+(\\[.*\\])\\s*$`, "i").exec(l);
    if (m) found = JSON.parse(m[1]); // the last one of the final stage wins, as in docker
  }
  return found;
}

/** `ENV A=1 B=2` lines (key=value form, values optionally double-quoted) of the Dockerfile's last stage. */
export function dockerfileEnv(text: string): Record<string, string> {
  const stages = text.replace(/\\\r?\n/g, " ").split(/^\s*FROM\s/im);
  const env: Record<string, string> = {};
  for (const l of stages[stages.length - 1].split(/\r?\n/)) {
    const m = /^\s*ENV\s+(.*)$/i.exec(l);
    if (!m) continue;
    for (const kv of m[1].matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) env[kv[1]] = kv[3] ?? kv[2];
  }
  return env;
}

/** Maps an entrypoint of the repository image onto this machine: no init, this node, absolute script. */
export function localizeEntrypoint(argv: string[], repoRoot: string): { cmd: string; args: string[] } {
  let a = [...argv];
  if (a[0] === "tini" || a[0]?.endsWith("/tini")) a = a.slice(a[1] === "--" ? 2 : 1);
  if (a[0] === "node" || a[0]?.endsWith("/node")) {
    const args = a.slice(1).map((x) => (/\.(ts|js|mjs|cjs)$/.test(x) && !isAbsolute(x) ? join(repoRoot, x) : x));
    return { cmd: process.execPath, args };
  }
  return { cmd: a[0], args: a.slice(1) };
}

export function imageRun(c: Container, repoRoot: string, natsServer: string, dockerfile = join(repoRoot, "deploy/Dockerfile")): ImageRun {
  const base = imageBaseName(c.image);
  if (base.startsWith("lspo")) {
    const text = readFileSync(dockerfile, "utf8");
    const entry = dockerfileInstruction(text, "ENTRYPOINT");
    if (!entry) throw new ImageError(`${dockerfile} has no JSON-form ENTRYPOINT`);
    const cmd = dockerfileInstruction(text, "CMD") ?? [];
    // k8s: `command` replaces ENTRYPOINT (and drops CMD); `args` replaces CMD.
    const argv = c.command ? [...c.command, ...(c.args ?? [])] : [...entry, ...(c.args ?? cmd)];
    const run = localizeEntrypoint(argv, repoRoot);
    const u = /^\s*USER\s+(\d+)(?::(\d+))?\s*$/im.exec(text.split(/^\s*FROM\s/im).pop()!);
    const user = u ? { uid: Number(u[1]), gid: Number(u[2] ?? u[1]) } : { uid: 0, gid: 0 };
    return { ...run, env: { PATH: "/usr/local/bin:/usr/bin:/bin", ...dockerfileEnv(text) }, cwd: repoRoot, home: "/var/lib/lspo", user };
  }
  if (base === "nats") {
    const argv = c.command ? [...c.command, ...(c.args ?? [])] : ["nats-server", ...(c.args ?? ["--config", "/etc/nats/nats-server.conf"])];
    if (argv[0] !== "nats-server" && !argv[0].endsWith("/nats-server")) throw new ImageError(`container ${c.name}: image ${c.image} runs ${argv[0]}, and only nats-server is available here`);
    return { cmd: natsServer, args: argv.slice(1), env: { PATH: "/usr/local/bin:/usr/bin:/bin" }, cwd: "/", home: "/", user: { uid: 0, gid: 0 } };
  }
  throw new ImageError(`container ${c.name}: image ${c.image} is unknown to the live check (it runs lspo* images from this repository and nats)`);
}
