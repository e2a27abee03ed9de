// `lspo algo loss` end to end through the real CLI entry (node scripts/lspo.mjs), against hand-worked values.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../..");
const dir = mkdtempSync(join(tmpdir(), "lspo-algo-"));

function lspo(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [join(root, "scripts/lspo.mjs"), ...args], { cwd: root, input, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function batchFile(name: string, batch: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(batch));
  return path;
}

// One group, R = [1, 0] -> A = +-a with a = 0.5/(sqrt(0.5) + 1e-6); ratios 1.
// Response 0: 2 tokens, logp_ref = logp (KL 0). Response 1: 1 token, logp -0.5, ref -1.5: k3 = e^-1.
// GRPO (seq-mean-token-mean, beta 0.04): loss = ((-a - a)/2 + (a + 0.04 e^-1))/2 = 0.02 e^-1;
// grad: response 0 tokens -a/4, response 1: (a + 0.04 (1 - e^-1))/2.
const a = 0.5 / (Math.SQRT1_2 + 1e-6);
const grpoBatch = {
  groups: [{
    rewards: [1, 0],
    responses: [
      { logp: [-0.5, -0.5], logp_old: [-0.5, -0.5], logp_ref: [-0.5, -0.5] },
      { logp: [-0.5], logp_old: [-0.5], logp_ref: [-1.5] },
    ],
  }],
};

describe("algo cli - loss", () => {
  it("prints exactly {loss, grad_logp} nested groups -> responses -> tokens", () => {
    const r = lspo(["algo", "loss", "--algo", "grpo", "--in", batchFile("grpo.json", grpoBatch)]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(["loss", "grad_logp"]);
    expect(out.loss).toBeCloseTo(0.02 * Math.exp(-1), 14);
    expect(out.grad_logp).toHaveLength(1);
    expect(out.grad_logp[0][0]).toEqual([expect.closeTo(-a / 4, 14), expect.closeTo(-a / 4, 14)]);
    expect(out.grad_logp[0][1]).toEqual([expect.closeTo((a + 0.04 * (1 - Math.exp(-1))) / 2, 14)]);
  });

  it("--set overrides are parsed and applied; stdin works", () => {
    // kl_coef=0: loss = ((-2a)/2 + a)/2 = 0; response 1 gradient a/2. No logp_ref needed.
    const batch = structuredClone(grpoBatch);
    for (const resp of batch.groups[0].responses) delete (resp as { logp_ref?: number[] }).logp_ref;
    const r = lspo(["algo", "loss", "--algo", "grpo", "--set", "kl_coef=0", "--set", "loss_agg=token-mean", "--in", "-"], JSON.stringify(batch));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    // token-mean over 3 tokens: (-a - a + a)/3 = -a/3; gradients -A/3.
    expect(out.loss).toBeCloseTo(-a / 3, 14);
    expect(out.grad_logp[0][1][0]).toBeCloseTo(a / 3, 14);
  });

  it("errors name the flag, the field, or the batch path", () => {
    const file = batchFile("grpo2.json", grpoBatch);
    const flag = lspo(["algo", "loss", "--algo", "grpo", "--clip", "1", "--in", file]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--clip'");
    const field = lspo(["algo", "loss", "--algo", "gspo", "--set", "clip_low=wide", "--in", file]);
    expect(field.code).toBe(1);
    expect(field.stderr).toContain("params.clip_low");
    const bad = structuredClone(grpoBatch);
    bad.groups[0].responses[1].logp_old = [-0.5, -0.1];
    const path = lspo(["algo", "loss", "--algo", "grpo", "--in", batchFile("bad.json", bad)]);
    expect(path.code).toBe(1);
    expect(path.stderr).toContain("groups[0].responses[1].logp_old: has 2 entries, logp has 1");
    expect(path.stdout).toBe("");
  });

  it("a non-finite loss exits 1 naming the group; the default log-ratio clamp keeps it finite", () => {
    // groups[1].responses[1]: logp 0 vs logp_old -1000 -> ratio e^1000 = Infinity, A = 0 -> NaN.
    const ok = { logp: [-1], logp_old: [-1] };
    const batch = { groups: [{ rewards: [1, 0], responses: [ok, ok] }, { rewards: [1, 1], responses: [ok, { logp: [0], logp_old: [-1000] }] }] };
    const off = lspo(["algo", "loss", "--algo", "dapo", "--set", "log_ratio_clamp=null", "--in", "-"], JSON.stringify(batch));
    expect(off.code).toBe(1);
    expect(off.stderr).toContain("non-finite loss (NaN) at groups[1].responses[1] token 0");
    expect(off.stdout).toBe("");
    const on = lspo(["algo", "loss", "--algo", "dapo", "--in", "-"], JSON.stringify(batch));
    expect(on.code).toBe(0);
    expect(Number.isFinite(JSON.parse(on.stdout).loss)).toBe(true);
  });
});
