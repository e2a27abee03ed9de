// A service process serves its metrics registry (process metrics labelled with its kind and actor name) on
// LSPO_METRICS_PORT when set, as JSON too for its agent to merge; without it nothing is served and no
// process collectors run. Real nats-server.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServiceContext } from "@lspo/actors";
import { startLocalBus, type LocalBus } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus();
});
afterAll(() => bus?.stop());

describe("actors - a service's metrics", { timeout: 60_000 }, () => {
  it("serves them on LSPO_METRICS_PORT, labelled with its kind and name; collects nothing when unset", async () => {
    const config = resolveConfig({ run: { name: "metrics" }, nats: { url: bus.server.url } });
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    const served = await createServiceContext("verifier", config, { LSPO_ACTOR_NAME: "verifier-7", LSPO_METRICS_PORT: String(port), LSPO_METRICS_HOST: "127.0.0.1" });
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toMatch(/process_cpu_user_seconds_total\{component="verifier",actor="verifier-7"\}/);
      const json = (await (await fetch(`http://127.0.0.1:${port}/metrics.json`)).json()) as Array<{ name: string }>;
      expect(json.map((m) => m.name)).toContain("nodejs_eventloop_lag_seconds");
    } finally {
      await served.shutdown("test");
    }
    const quiet = await createServiceContext("verifier", config, { LSPO_ACTOR_NAME: "verifier-8" });
    try {
      expect(await quiet.metrics.getMetricsAsJSON()).toEqual([]);
    } finally {
      await quiet.shutdown("test");
    }
  });
});
