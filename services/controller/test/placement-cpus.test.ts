// What an actor is placed with decides its onnxruntime threads: the agent hands the share to the actor as
// LSPO_THREADS, which it reads in place of model.threads. Placed with one CPU, every model actor ran one thread
// whatever model.threads said.
import { describe, expect, it } from "vitest";
import { actorCpus } from "../src/run/cluster.js";

describe("placement - CPUs per actor", () => {
  const config = { model: { threads: 4 } } as Parameters<typeof actorCpus>[2];
  it("model.threads for the kinds that run the model on the CPU, 1 for the others, none with a GPU slot", () => {
    expect(actorCpus("learner", 0, config)).toBe(4);
    expect(actorCpus("rollout", 0, config)).toBe(4);
    expect(actorCpus("sampler", 0, config)).toBe(1);
    expect(actorCpus("verifier", 0, config)).toBe(1);
    expect(actorCpus("rollout", 1, config)).toBe(0);
  });
});
