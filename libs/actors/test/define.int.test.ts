// The five-minute actor API: the README's example file itself, served and called on a real nats-server.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalBus, type LocalBus } from "@lspo/bus";
import { ActorRegistry, defineActor, definedActor, definedKinds } from "@lspo/actors";
import { VerifierServiceService } from "@lspo/proto";
import { answerChecker } from "../examples/answer-checker.js";

let bus: LocalBus;
beforeAll(async () => {
  bus = await startLocalBus();
});
afterAll(() => bus?.stop());

describe("actors - defineActor", () => {
  it("the README shows the example file verbatim", () => {
    const example = readFileSync(new URL("../examples/answer-checker.ts", import.meta.url), "utf8").trimEnd();
    expect(readFileSync(new URL("../README.md", import.meta.url), "utf8")).toContain(example);
  });

  it("serves the example kind and calls it through its typed handle", async () => {
    await using served = await answerChecker.serve(bus.nc, { name: "answer-checker-0", runId: "define" });
    const registry = await ActorRegistry.open(bus.nc, { runId: "define" });
    const handle = answerChecker.handle(registry);
    const group = { uid: "u", prompt: { uid: "u", runId: "define", task: "t", promptText: "6*7?", promptIds: Buffer.alloc(0), answer: "42", groupSize: 2, cursor: 0n }, responses: [{ tokenIds: Buffer.alloc(0), logprobs: Buffer.alloc(0), truncated: false, text: "it is 42" }, { tokenIds: Buffer.alloc(0), logprobs: Buffer.alloc(0), truncated: false, text: "41" }], policyVersion: 0n, actor: "r" };
    const res = await handle.call.verify({ group });
    expect(res.group!.correct).toEqual([true, false]);
    expect(res.group!.rewards).toEqual([1, 0]);
    expect((await registry.resolve("answer-checker")).map((a) => a.grpcAddress)).toEqual([served.server.address]);
    expect(answerChecker.serviceName).toBe("lspo.v1.VerifierService");
    handle.close();
    registry.close();
  });

  it("refuses a duplicate kind and missing handlers, and a lookup lists the defined kinds", () => {
    expect(() => defineActor({ kind: "answer-checker", service: VerifierServiceService, handlers: answerCheckerHandlers() })).toThrow(/already defined/);
    expect(() => defineActor({ kind: "half", service: VerifierServiceService, handlers: { verify: async () => ({}) } as never })).toThrow(
      "defineActor half: handlers missing for status; the service has verify, status",
    );
    expect(definedKinds()).toContain("answer-checker");
    expect(() => definedActor("answer-chekcer")).toThrow(/no actor kind 'answer-chekcer' is defined; defined: answer-checker/);
  });
});

function answerCheckerHandlers() {
  return { verify: async () => ({}), status: async () => ({}) };
}
