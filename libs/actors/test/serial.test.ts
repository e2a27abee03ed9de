import { describe, expect, it } from "vitest";
import { SerialQueue } from "@lspo/actors";

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("SerialQueue", () => {
  it("starts each call once the one before it settled, in the order queued", async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const call = (name: string, ticks: number) => q.run(async () => {
      log.push(`start ${name}`);
      for (let i = 0; i < ticks; i++) await tick();
      log.push(`end ${name}`);
      return name;
    });
    const results = await Promise.all([call("a", 3), call("b", 1), call("c", 0)]);
    expect(results).toEqual(["a", "b", "c"]);
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
  });

  it("a call that fails rejects for its caller and the next call still runs after it", async () => {
    const q = new SerialQueue();
    const log: string[] = [];
    const failing = q.run(async () => {
      await tick();
      log.push("failing");
      throw new Error("boom");
    });
    const next = q.run(async () => {
      log.push("next");
      return 7;
    });
    await expect(failing).rejects.toThrow("boom");
    expect(await next).toBe(7);
    expect(log).toEqual(["failing", "next"]);
  });

  it("a call that throws before its first await is queued the same way", async () => {
    const q = new SerialQueue();
    const first = q.run(() => {
      throw new Error("sync throw");
    });
    await expect(first).rejects.toThrow("sync throw");
    expect(await q.run(async () => "after")).toBe("after");
  });

  it("idle() settles once every call queued so far has, failed ones included", async () => {
    const q = new SerialQueue();
    const done: string[] = [];
    void q.run(async () => {
      await tick();
      done.push("a");
    });
    q.run(async () => {
      await tick();
      done.push("b");
      throw new Error("b failed");
    }).catch(() => undefined);
    await q.idle();
    expect(done).toEqual(["a", "b"]);
  });
});
