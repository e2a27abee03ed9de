// The live check's command line (support/options.ts).
import { describe, expect, it } from "vitest";
import { parseOptions } from "./support/options.js";

describe("k8s-live options", () => {
  it("k8s-live options - defaults and repeatable options", () => {
    expect(parseOptions(["--overlay", "gpu", "--set", "run.steps=6", "--set", "a=b=c", "--env", "LSPO_DEVICE=cpu"])).toEqual({
      overlay: "gpu", nodes: 2, report: undefined, gpusPerNode: 2, set: ["run.steps=6", "a=b=c"], env: ["LSPO_DEVICE=cpu"], patch: [], pvc: [], timeoutS: 600, keep: false,
    });
  });

  it("k8s-live options - refusals name the option", () => {
    expect(() => parseOptions([])).toThrow(/--overlay is required/);
    expect(() => parseOptions(["--overlay", "x", "--nodes", "0"])).toThrow(/--nodes must be an integer >= 1/);
    expect(() => parseOptions(["--overlay", "x", "--pvc", "nodir"])).toThrow(/--pvc takes key=value/);
  });
});
