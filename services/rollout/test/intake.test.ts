// The continuous mode's intake (intake.ts): it reads ahead only while fewer than `hold` prompts wait, so an
// actor busy decoding leaves the stream's other prompts to the other actors; a subscription that fails is
// reported to the loop, not swallowed.
import { describe, expect, it } from "vitest";
import type { Delivery } from "@lspo/bus";
import { Intake } from "../src/intake.js";

/** A source that counts how many deliveries were asked of it. */
function counted(n: number, failAt?: number) {
  const asked = { count: 0 };
  const source: AsyncIterator<Delivery<number>> = {
    async next() {
      const i = asked.count++;
      if (i === failAt) throw new Error("consumer deleted");
      return i < n ? { done: false, value: { body: i } as Delivery<number> } : { done: true, value: undefined };
    },
  };
  return { source, asked };
}
const settle = () => new Promise((r) => setTimeout(r, 10));

describe("rollout continuous mode - the intake", () => {
  it("reads ahead at most `hold` deliveries, and reads on as they are taken, in order", async () => {
    const { source, asked } = counted(5);
    const intake = new Intake(source, 2);
    await intake.arrival();
    await settle();
    expect(intake.size).toBe(2);
    expect(asked.count).toBe(2);
    expect(intake.held().map((d) => d.body)).toEqual([0, 1]);
    expect(intake.take()?.body).toBe(0);
    await settle();
    expect(asked.count).toBe(3);
    const rest: number[] = [];
    for (let d = intake.take(); d; d = intake.take()) {
      rest.push(d.body);
      await settle();
    }
    expect(rest).toEqual([1, 2, 3, 4]);
    await intake.arrival(); // the source has ended: settles with nothing waiting
    expect(intake.size).toBe(0);
  });

  it("a subscription that fails rejects the loop's wait with its error", async () => {
    const { source } = counted(5, 1);
    const intake = new Intake(source, 3);
    await settle();
    expect(intake.take()?.body).toBe(0);
    await expect(intake.arrival()).rejects.toThrow("consumer deleted");
  });
});
