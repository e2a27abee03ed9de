// The CI skip rule (scripts/test.mjs): only the GPU lane may skip.
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without type declarations
import { unexpectedSkips } from "../scripts/skips.mjs";

describe("CI skip rule", () => {
  it("allows the GPU lane's skips and refuses every other", () => {
    const skipped = [
      { file: "libs/model/test/providers.gpu.test.ts", test: "gpu - fixture", reason: "LSPO_GPU_PROVIDER unset" },
      { file: "test/cluster/cluster.int.test.ts", test: "cluster", reason: "not root" },
      { file: "test/k8s/render.test.ts", test: "matches kubectl kustomize", reason: "no kubectl" },
    ];
    expect(unexpectedSkips(skipped).map((s: { file: string }) => s.file)).toEqual(["test/cluster/cluster.int.test.ts", "test/k8s/render.test.ts"]);
    expect(unexpectedSkips(skipped.slice(0, 1))).toEqual([]);
  });
});
