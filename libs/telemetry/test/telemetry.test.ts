import { mkdtempSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Counter, MetricsFile, createLogger, createRegistry, fetchMetricsJson, serveHealth, serveMetrics } from "@lspo/telemetry";

describe("telemetry - logger", () => {
  it("redacts credentials at any depth and never prints them", () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _e, cb) { lines.push(String(chunk)); cb(); } });
    const log = createLogger("test", { destination: sink });
    log.info({ nats: { url: "nats://x", password: "hunter2", token: "t0k" }, secret: "s" }, "connecting");
    const out = lines.join("");
    expect(out).toContain("nats://x");
    expect(out).not.toMatch(/hunter2|t0k|"s"/);
    expect(JSON.parse(out).nats.password).toBe("[redacted]");
  });
});

describe("telemetry - metrics", () => {
  it("serves Prometheus text on /metrics", async () => {
    const reg = createRegistry("unit", false);
    const c = new Counter({ name: "lspo_groups_total", help: "groups", registers: [reg] });
    c.inc(3);
    await using server = await serveMetrics(reg, 0, "127.0.0.1");
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    expect(text).toMatch(/lspo_groups_total\{component="unit"\} 3/);
    expect((await fetch(`http://127.0.0.1:${server.port}/other`)).status).toBe(404);
  });
});

describe("telemetry - metrics.jsonl", () => {
  it("appends records and skips a torn last line", () => {
    const f = new MetricsFile(join(mkdtempSync(join(tmpdir(), "lspo-m-")), "run", "metrics.jsonl"));
    f.append({ event: "update", step: 1, loss: 0.5, version: 7n });
    appendFileSync(f.path, '{"event":"upd');
    const recs = f.read();
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ event: "update", step: 1, loss: 0.5, version: 7 });
  });
});

describe("telemetry - health and merged metrics", () => {
  it("answers /healthz and /readyz with 200, or 503 and the reason", async () => {
    let ready: string | null = "starting";
    await using server = await serveHealth({ ready: () => ready, live: () => null }, 0, "127.0.0.1");
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${server.port}${path}`);
      return [r.status, (await r.text()).trim()];
    };
    expect(await get("/healthz")).toEqual([200, "ok"]);
    expect(await get("/readyz")).toEqual([503, "starting"]);
    ready = null;
    expect(await get("/readyz")).toEqual([200, "ok"]);
    expect((await get("/metrics"))[0]).toBe(404);
  });

  it("merges another process's registry (its /metrics.json) into /metrics, each series keeping its labels", async () => {
    const actor = createRegistry("rollout", false, { actor: "rollout-0" });
    new Counter({ name: "lspo_generated_total", help: "g", registers: [actor] }).inc(5);
    await using actorServer = await serveMetrics(actor, 0, "127.0.0.1");
    const agent = createRegistry("agent", false);
    new Counter({ name: "lspo_started_total", help: "s", registers: [agent] }).inc(2);
    const merge = async () => [(await fetchMetricsJson(`http://127.0.0.1:${actorServer.port}/metrics.json`))!];
    await using agentServer = await serveMetrics(agent, 0, "127.0.0.1", { merge });
    const text = await (await fetch(`http://127.0.0.1:${agentServer.port}/metrics`)).text();
    expect(text).toMatch(/lspo_started_total\{component="agent"\} 2/);
    expect(text).toMatch(/lspo_generated_total\{component="rollout",actor="rollout-0"\} 5/);
    // An actor that does not answer is left out, not an error.
    expect(await fetchMetricsJson("http://127.0.0.1:1/metrics.json", 500)).toBeNull();
  });
});
