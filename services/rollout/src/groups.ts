// Prompts -> rollout groups: G samples per prompt, turned into the contract's messages (token ids and log-probs
// as little-endian bytes). A call's groups are generated in one generate() call (generateGroups); the actor's
// continuous mode (stream.ts) generates each group's sequences in a ContinuousBatch shared across calls. Either
// way a group's samples draw from streams of a seed of its own (seedFor over its uid), so what a group samples
// does not depend on which prompts it was generated beside.
import { bytesOf, int32Of } from "@lspo/bus";
import { GREEDY, rngStreams, type GenerateResult, type Rng, type StepEvent, type SamplingParams as ModelSampling, type SequenceSpec } from "@lspo/model";
import type { PromptRequest, RolloutGroup, SamplingParams } from "@lspo/proto";
import type { Policy } from "./policy.js";

export interface GroupOptions {
  actor: string;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  /** Continuous batching width (rollout.maxRows); absent: every sequence of a call at once. */
  maxRows?: number;
  /** Called after each decoder step (the actor counts rows computed and rows live). */
  onStep?: (e: StepEvent) => void;
}

/** FNV-1a over the uids: a sampling seed that depends only on what is generated, not on who generates it. */
export function seedFor(base: number, uids: readonly string[]): number {
  let h = 0x811c9dc5 ^ (base >>> 0);
  for (const u of uids) for (let i = 0; i < u.length; i++) h = Math.imul(h ^ u.charCodeAt(i), 0x01000193) >>> 0;
  return h >>> 0;
}

export function promptIdsOf(p: PromptRequest, policy: Policy): number[] {
  return p.promptIds.byteLength > 0 ? Array.from(int32Of(p.promptIds)) : policy.tokenizer.encode(p.promptText);
}

/** How one prompt's group is generated: its tokens, G, and the sampling it records (run defaults filled in). */
export interface GroupPlan {
  prompt: PromptRequest;
  promptIds: number[];
  G: number;
  /** As the group records it: the sampling its samples were drawn with. */
  recorded: SamplingParams;
  stop: number[];
}

/** `sampling` is the call's (its first prompt's, gRPC Generate checks they agree); a stream prompt has none. */
export function planGroup(policy: Policy, p: PromptRequest, sampling: SamplingParams | undefined, o: GroupOptions): GroupPlan {
  const temperature = sampling?.temperature ?? o.temperature;
  const recorded: SamplingParams = {
    temperature, topP: sampling?.topP || o.topP, topK: sampling?.topK ?? o.topK, maxNewTokens: sampling?.maxNewTokens || o.maxNewTokens,
    seed: sampling?.seed ?? 0n, stopTokenIds: sampling?.stopTokenIds ?? [],
  };
  return { prompt: p, promptIds: promptIdsOf(p, policy), G: Math.max(1, p.groupSize), recorded, stop: policy.stopTokens(recorded.stopTokenIds) };
}

/** The model's sampling parameters for a plan (greedy at temperature 0). */
function samplingOf(plan: GroupPlan): ModelSampling {
  const s = plan.recorded;
  return s.temperature === 0 ? GREEDY : { temperature: s.temperature, topP: s.topP, topK: s.topK };
}

/** A group's G sampling streams: stream i of the seed of its uid (base = the run's seed + the request's). */
export function groupStreams(base: number, uid: string, G: number): Rng[] {
  return rngStreams(seedFor(base, [uid]), G);
}

/** The G samples' rng streams: null when greedy. */
function rngsOf(plan: GroupPlan, o: GroupOptions): Rng[] | null {
  return plan.recorded.temperature === 0 ? null : groupStreams(o.seed + Number(plan.recorded.seed), plan.prompt.uid, plan.G);
}

type Response = { tokens: number[]; logprobs: number[]; truncated: boolean };

/** A finished group as the contract carries it. */
export function groupOf(policy: Policy, plan: GroupPlan, responses: readonly Response[], version: number, actor: string): RolloutGroup {
  // The group carries the exact prompt tokens it was sampled from, and the temperature: the learner trains on
  // those tokens and takes its log-probs at that temperature, as recorded here.
  const { temperature } = plan.recorded;
  const prompt = { ...plan.prompt, promptIds: bytesOf(Int32Array.from(plan.promptIds)), sampling: { ...plan.recorded, ...plan.prompt.sampling, temperature } };
  return {
    uid: plan.prompt.uid,
    prompt,
    responses: responses.map((r) => ({
      tokenIds: bytesOf(Int32Array.from(r.tokens)),
      logprobs: bytesOf(Float32Array.from(r.logprobs)),
      truncated: r.truncated,
      text: policy.tokenizer.decode(r.tokens, { skipSpecialTokens: true, unknownIds: "mark" }),
    })),
    policyVersion: BigInt(version),
    actor,
    generatedAt: new Date(),
  };
}

/**
 * The sequences of a plan's group for a ContinuousBatch; `onGroup` gets the group's responses once all G
 * have ended.
 */
export function sequencesOf(plan: GroupPlan, o: GroupOptions, onGroup: (responses: Response[]) => void): SequenceSpec[] {
  const rngs = rngsOf(plan, o);
  const responses: Response[] = new Array(plan.G);
  let left = plan.G;
  const stop = new Set(plan.stop);
  const sampling = samplingOf(plan);
  return Array.from({ length: plan.G }, (_, i) => ({
    prompt: plan.promptIds, maxNew: plan.recorded.maxNewTokens, stop, sampling, rng: rngs?.[i] ?? null,
    onEnd: (r: Response) => {
      responses[i] = r;
      if (--left === 0) onGroup(responses);
    },
  }));
}

/** A call's groups, generated together (continuously batched within the call when o.maxRows is set). */
export async function generateGroups(policy: Policy, prompts: readonly PromptRequest[], o: GroupOptions): Promise<RolloutGroup[]> {
  const sampling = prompts[0]?.sampling;
  const plans = prompts.map((p) => planGroup(policy, p, sampling, o));
  const first = plans[0]?.recorded;
  const result: GenerateResult = await policy.generate(plans.flatMap((plan) => new Array<number[]>(plan.G).fill(plan.promptIds)), {
    maxNewTokens: first?.maxNewTokens ?? o.maxNewTokens,
    sampling: plans[0] ? samplingOf(plans[0]) : undefined,
    rngs: plans.every((plan) => plan.recorded.temperature === 0) ? undefined : plans.flatMap((plan) => rngsOf(plan, o) ?? []),
    stopTokenIds: plans[0]?.stop ?? [],
    maxRows: o.maxRows,
    onStep: o.onStep,
  });
  const version = policy.version;
  let k = 0;
  return plans.map((plan) => {
    const responses = Array.from({ length: plan.G }, () => ({ tokens: result.tokens[k], logprobs: result.logprobs[k], truncated: result.truncated[k++] }));
    return groupOf(policy, plan, responses, version, o.actor);
  });
}
