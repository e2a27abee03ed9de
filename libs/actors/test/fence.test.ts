// A node agent's fence (fence.ts): tokens ordered by epoch then revision; an older token, or none once fenced,
// refused with FAILED_PRECONDITION naming both; Fence waits for the calls admitted before it.
import { status as grpcStatus } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { AgentFence, compareTokens } from "@lspo/actors";

const token = (epochMs: number, revision: number) => ({ epochMs: BigInt(epochMs), revision: BigInt(revision) });
const EPOCH = Date.UTC(2026, 11, 7);
const ok = () => Promise.resolve("done");

describe("actors - an agent's fence", () => {
  it("orders tokens by epoch, then by revision", () => {
    expect(compareTokens(token(EPOCH, 5), token(EPOCH, 7))).toBeLessThan(0);
    expect(compareTokens(token(EPOCH, 7), token(EPOCH, 5))).toBeGreaterThan(0);
    expect(compareTokens(token(EPOCH, 7), token(EPOCH, 7))).toBe(0);
    // A store made anew restarts its revisions from 1, in a later epoch: that take is the newer one.
    expect(compareTokens(token(EPOCH + 1, 1), token(EPOCH, 900))).toBeGreaterThan(0);
  });

  it("admits anything until a token arrives, then refuses older tokens and none, naming both", async () => {
    const fence = new AgentFence("the agent on node-a");
    await expect(fence.run("StartActors", undefined, ok)).resolves.toBe("done");
    expect(fence.current).toBeNull();
    await expect(fence.run("StartActors", token(EPOCH, 5), ok)).resolves.toBe("done");
    await expect(fence.run("StopActor", token(EPOCH, 7), ok)).resolves.toBe("done");
    expect(fence.current).toEqual(token(EPOCH, 7));

    let ran = false;
    const late = fence.run("StartActors", token(EPOCH, 5), async () => void (ran = true));
    await expect(late).rejects.toMatchObject({ code: grpcStatus.FAILED_PRECONDITION });
    await expect(fence.run("StartActors", token(EPOCH, 5), ok)).rejects.toThrow(
      `StartActors refused: the call carries lease take 5 of 2026-12-07T00:00:00.000Z, older than the fence of the agent on node-a at lease take 7 of 2026-12-07T00:00:00.000Z: a newer controller has taken the run`,
    );
    await expect(fence.run("StopActor", undefined, ok)).rejects.toThrow(/StopActor refused: the call carries no fencing token, and the agent on node-a is fenced at lease take 7/);
    // Zeros are how an unset token can arrive: no token either.
    await expect(fence.run("StopActor", token(0, 0), ok)).rejects.toMatchObject({ code: grpcStatus.FAILED_PRECONDITION });
    expect(ran).toBe(false);
    // The same take and a newer epoch pass.
    await expect(fence.run("StopActor", token(EPOCH, 7), ok)).resolves.toBe("done");
    await expect(fence.run("StartActors", token(EPOCH + 1, 1), ok)).resolves.toBe("done");
    expect(fence.current).toEqual(token(EPOCH + 1, 1));
  });

  it("Fence raises the fence at once and answers when the calls admitted before it have ended", async () => {
    const fence = new AgentFence("the agent on node-b");
    let finish!: () => void;
    const started = fence.run("StartActors", token(EPOCH, 3), () => new Promise<void>((r) => (finish = r)));
    const order: string[] = [];
    const raised = fence.raise(token(EPOCH, 4)).then((t) => {
      order.push("fenced");
      return t;
    });
    // Already refused while the earlier call is still running.
    await expect(fence.run("StartActors", token(EPOCH, 3), ok)).rejects.toMatchObject({ code: grpcStatus.FAILED_PRECONDITION });
    await new Promise((r) => setTimeout(r, 50));
    expect(order).toEqual([]);
    order.push("start ended");
    finish();
    await started;
    expect(await raised).toEqual(token(EPOCH, 4));
    expect(order).toEqual(["start ended", "fenced"]);
    await expect(fence.raise(token(EPOCH, 2))).rejects.toMatchObject({ code: grpcStatus.FAILED_PRECONDITION });
    await expect(fence.raise(undefined)).rejects.toMatchObject({ code: grpcStatus.INVALID_ARGUMENT });
  });
});
