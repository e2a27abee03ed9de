import { describe, expect, it } from "vitest";
import { settledWithin } from "@lspo/bus";

describe("settledWithin", () => {
  it("says whether the promise settled, either way, within the bound", async () => {
    expect(await settledWithin(Promise.resolve(1), 1000)).toBe(true);
    expect(await settledWithin(Promise.reject(new Error("refused")), 1000)).toBe(true);
    const t0 = Date.now();
    expect(await settledWithin(new Promise(() => undefined), 50)).toBe(false);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
  });

  it("does not wait at a bound of zero or less, and a rejection that comes later is not left unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      let reject!: (err: Error) => void;
      const late = new Promise((_, r) => (reject = r));
      expect(await settledWithin(late, 0)).toBe(false);
      expect(await settledWithin(late, -5)).toBe(false);
      reject(new Error("too late"));
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
