// The live check's preflight (support/preflight.ts): the cluster suite's reasons, plus nftables.
import { describe, expect, it } from "vitest";
import { livePreflight } from "./support/preflight.js";

describe("k8s-live preflight", () => {
  it("k8s-live preflight - not root: says the live check needs root", () => {
    const r = livePreflight({ uid: 1000 });
    expect(!r.ok && r.reason).toMatch(/the live k8s check needs root/);
  });

  it("k8s-live preflight - no nft: names nftables (where namespaces can be made at all)", () => {
    const r = livePreflight({ uid: 0, nft: "/nonexistent/nft" });
    expect(r.ok).toBe(false);
    // Without root `ip netns add` fails first, and that is the reason given; as root it is nftables.
    const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
    expect(!r.ok && r.reason).toMatch(isRoot ? /nftables/ : /nftables|ip netns add|iproute2/);
  });
});
