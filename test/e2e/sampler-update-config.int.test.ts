// UpdateConfig on a running sampler, several at once: each update starts from the settings the one before it
// left, so none puts back what another changed. Real process, real gRPC, real NATS.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ActorRegistry, actorHandle } from "@lspo/actors";
import { startLocalBus, type LocalBus } from "@lspo/bus";
import { resolveConfig } from "@lspo/config";
import { createModelFromSpec } from "@lspo/model";
import { SamplerMode, SamplerServiceService, type SamplerConfig } from "@lspo/proto";
import { writeModelDir } from "@lspo/tasks";
import { startService, type Service } from "../../bench/lib/serve.js";

let dir: string;
let bus: LocalBus;
let sampler: Service;
const run = "update-config";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "lspo-sampler-update-"));
  const model = createModelFromSpec({
    seed: 0,
    model: { model_type: "llama", hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, max_position_embeddings: 64, tie_word_embeddings: true },
  });
  writeModelDir(join(dir, "model"), model);
  bus = await startLocalBus({ streams: true });
  const config = resolveConfig({
    run: { name: run, dir: join(dir, run) },
    nats: { url: bus.server.url },
    model: { dir: join(dir, "model") },
    sampler: { mode: "stream", batchSize: 4, window: 16 },
  });
  sampler = startService("sampler", config, { name: `sampler-${run}`, logDir: dir, readyTimeoutMs: 120_000 });
  await sampler.ready;
}, 180_000);

afterAll(async () => {
  await sampler?.stop();
  await bus?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("sampler - UpdateConfig", () => {
  it("updates sent at once each change their own fields and keep the others'", async () => {
    const registry = await ActorRegistry.open(bus.nc, { runId: run });
    const handle = actorHandle(registry, SamplerServiceService, "sampler");
    try {
      // 0 (or UNSPECIFIED) leaves a field as it is; only the length filter must be named to stay.
      const keep: SamplerConfig = { mode: SamplerMode.SAMPLER_MODE_UNSPECIFIED, batchSize: 0, window: 0, lLow: 0, lHigh: 0, lMax: 0 };
      // Sent together on one connection: the server has both before either takes its turn.
      const answers = await Promise.all([
        handle.call.updateConfig({ config: { ...keep, batchSize: 8 } }),
        handle.call.updateConfig({ config: { ...keep, window: 32 } }),
        handle.call.updateConfig({ config: { ...keep, lengthFilter: false } }),
      ]);
      // Each answer is the settings after it: the last one holds all three changes.
      expect(answers.map((a) => [a.config!.batchSize, a.config!.window, a.config!.lengthFilter])).toEqual([[8, 16, true], [8, 32, true], [8, 32, false]]);
      const now = await handle.call.updateConfig({ config: keep });
      expect([now.config!.batchSize, now.config!.window, now.config!.lengthFilter]).toEqual([8, 32, false]);
    } finally {
      handle.close();
    }
  });
});
