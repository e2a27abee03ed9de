import { mkdtempSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { Counter, MetricsFile, createLogger, createRegistry, serveMetrics } from "@lspo/telemetry";

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
