// The reference's analytic gradients against central finite differences of its own loss value, on random
// batches, for every preset and every combination of policy loss x aggregation x KL estimator x dual clip.
// For GSPO the loss value is the sequence-level definition (s_i depends on all tokens), so this also checks
// that the token form with stop-gradients has the sequence loss's gradient.
// Tokens whose +-h perturbation crosses a clip boundary (a kink) are skipped; the test demands most are not.
import { describe, expect, it } from "vitest";
import { type AlgorithmParams, type LossInput, presetSpec, presets, referenceLoss } from "../src/index.js";
import { rng } from "./helpers.js";

const H = 1e-6;

function randomInput(seed: number, spread: number): LossInput {
  const r = rng(seed);
  const n = 2 + Math.floor(r() * 4);
  const lens = Array.from({ length: n }, () => 1 + Math.floor(r() * 6));
  const logpOld = lens.map((t) => Array.from({ length: t }, () => -0.1 - 3 * r()));
  const logp = logpOld.map((row) => row.map((v) => v + spread * (2 * r() - 1)));
  return {
    logp,
    logpOld,
    logpRef: logp.map((row) => row.map((v) => v + 0.6 * (r() - 0.5))),
    entropy: lens.map((t) => Array.from({ length: t }, () => 3 * r())),
    mask: lens.map((t, i) => Array.from({ length: t }, () => (i > 0 && r() < 0.15 ? 0 : 1))),
    advantages: lens.map(() => 4 * r() - 2),
  };
}

const clipState = (p: AlgorithmParams, x: LossInput) => {
  const m = referenceLoss(p, x).metrics;
  return `${m.clip_frac_low}/${m.clip_frac_high}/${m.clip_frac_dual}`;
};

function withToken(x: LossInput, field: "logp" | "entropy", i: number, t: number, dv: number): LossInput {
  const rows = x[field]!.map((row) => [...row]);
  rows[i][t] += dv;
  return { ...x, [field]: rows };
}

/** Returns [checked, total] tokens; throws on the first mismatch. */
function checkGradients(p: AlgorithmParams, x: LossInput): [number, number] {
  const r = referenceLoss(p, x);
  let checked = 0;
  let total = 0;
  x.logp.forEach((row, i) =>
    row.forEach((_, t) => {
      total++;
      const plus = withToken(x, "logp", i, t, H);
      const minus = withToken(x, "logp", i, t, -H);
      const here = clipState(p, x);
      if (clipState(p, plus) !== here || clipState(p, minus) !== here) return; // kink inside [-h, h]
      const fd = (referenceLoss(p, plus).loss - referenceLoss(p, minus).loss) / (2 * H);
      const g = r.gradLogp[i][t];
      if (Math.abs(fd - g) > 1e-7 * Math.max(1, Math.abs(g))) {
        throw new Error(`d loss/d logp[${i}][${t}]: analytic ${g}, finite difference ${fd} (${JSON.stringify(p)})`);
      }
      if (r.gradEntropy) {
        const fdH =
          (referenceLoss(p, withToken(x, "entropy", i, t, H)).loss - referenceLoss(p, withToken(x, "entropy", i, t, -H)).loss) / (2 * H);
        if (Math.abs(fdH - r.gradEntropy[i][t]) > 1e-7) throw new Error(`d loss/d H[${i}][${t}]: ${r.gradEntropy[i][t]} vs ${fdH}`);
      }
      checked++;
    }),
  );
  return [checked, total];
}

describe("finite differences - reference gradients", () => {
  it("every preset, 30 random batches each", () => {
    for (const name of presets.names()) {
      const p = presetSpec(name, { max_response_length: 16, overlong_buffer: 4, entropy_coef: 0.01 }).params;
      // GSPO's clip range is 3e-4/4e-4: log-ratios of order 1e-3 straddle it; PPO's 0.2 needs order 0.3.
      const spread = p.policy_loss === "gspo" ? 1e-3 : 0.4;
      let checked = 0;
      let total = 0;
      for (let seed = 1; seed <= 30; seed++) {
        const [c, t] = checkGradients(p, randomInput(seed * 7919, spread));
        checked += c;
        total += t;
      }
      expect(checked / total, `${name}: share of tokens away from a kink`).toBeGreaterThan(0.9);
    }
  });

  it("policy loss x aggregation x KL estimator x dual clip", () => {
    for (const policy_loss of ["ppo_clip", "gspo"]) {
      for (const loss_agg of ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"]) {
        for (const kl_estimator of ["k1", "k3"]) {
          for (const dual_clip of [null, 1.5]) {
            const p = presetSpec("grpo", { policy_loss, loss_agg, kl_estimator, dual_clip, token_sum_norm: 7 }).params;
            for (let seed = 1; seed <= 5; seed++) checkGradients(p, randomInput(seed, policy_loss === "gspo" ? 0.05 : 0.4));
          }
        }
      }
    }
  });

  it("clipping does happen in these batches (the checks cover clipped tokens, not just the linear part)", () => {
    const p = presetSpec("dapo").params;
    const m = referenceLoss(p, randomInput(7919, 0.4)).metrics;
    expect(m.clip_frac_low + m.clip_frac_high).toBeGreaterThan(0);
  });
});
