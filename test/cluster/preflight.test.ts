// The cluster suite's skip reasons, checked on any machine: without root or without iproute2 the suite
// says why it skipped, and under CI that skip is a failure.
import { describe, expect, it } from "vitest";
import { clusterPreflight, isCi } from "./support/preflight.js";

describe("cluster preflight", () => {
  it("cluster preflight - not root: skips saying root is needed", () => {
    const r = clusterPreflight({ uid: 1000 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/needs root/);
  });

  it("cluster preflight - no ip command: skips naming iproute2", () => {
    const r = clusterPreflight({ uid: 0, ip: "/nonexistent/ip" });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/iproute2/);
  });

  it("cluster preflight - CI=true or CI=1 turns a skip into a failure; anything else does not", () => {
    expect(isCi("true")).toBe(true);
    expect(isCi("1")).toBe(true);
    expect(isCi("TRUE")).toBe(true);
    expect(isCi(undefined)).toBe(false);
    expect(isCi("false")).toBe(false);
    expect(isCi("")).toBe(false);
  });
});
