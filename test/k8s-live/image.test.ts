// What an image runs here (support/image.ts): deploy/Dockerfile's ENTRYPOINT mapped onto this checkout.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { dockerfileInstruction, imageBaseName, imageRun, localizeEntrypoint } from "./support/image.js";

const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

describe("k8s-live image", () => {
  it("k8s-live image - base names without registry, tag or digest", () => {
    expect(imageBaseName("ghcr.io:443/org/lspo-cuda:0.1.0@sha256:ab")).toBe("lspo-cuda");
    expect(imageBaseName("nats:2.10.24-alpine")).toBe("nats");
  });

  it("k8s-live image - the repository image runs deploy/Dockerfile's entrypoint without tini, on this node, then the args", () => {
    const entry = dockerfileInstruction(readFileSync(`${root}/deploy/Dockerfile`, "utf8"), "ENTRYPOINT")!;
    expect(entry.slice(0, 2)).toEqual(["tini", "--"]);
    const run = imageRun({ name: "sampler", image: "lspo:0.1.0", args: ["serve", "sampler"] }, root, "/usr/sbin/nats-server");
    expect(run.cmd).toBe(process.execPath);
    expect(run.args.slice(-2)).toEqual(["serve", "sampler"]);
    expect(run.args.find((a) => a.endsWith(".ts"))).toMatch(new RegExp(`^${root}/`));
    expect(run.cwd).toBe(root);
    expect(run.user).toEqual({ uid: 10001, gid: 10001 });
    expect(localizeEntrypoint(["tini", "--", "node", "x.ts"], "/r")).toEqual({ cmd: process.execPath, args: ["/r/x.ts"] });
  });

  it("k8s-live image - nats runs the local nats-server; an unknown image is refused by name", () => {
    expect(imageRun({ name: "nats", image: "nats:2.10", command: ["nats-server", "--config", "/c"] }, root, "/usr/sbin/nats-server")).toMatchObject({ cmd: "/usr/sbin/nats-server", args: ["--config", "/c"] });
    expect(() => imageRun({ name: "x", image: "redis:7" }, root, "/n")).toThrow(/image redis:7 is unknown/);
  });
});
