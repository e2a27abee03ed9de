// Continuous batching: at most cache.B sequences decode at once; when one finishes, its row is given to the next
// waiting sequence, so a long response holds one row, not a whole batch. generate()'s `maxRows` adds every
// sequence up front and runs the batch dry; a rollout actor keeps adding as prompts arrive (add, then step).
//
// It needs the KV cache in slots (slot-kv-cache.ts), where every row has its own length: a row that joins is
// prefilled apart (the distinct prompts among the joiners in one call, each prompt once for all its samples), its
// prompt's keys and values are copied into the row's first slots, and the decode graph reads each row's first
// `length` slots (no padding is stored). Each sequence brings its own sampling parameters, stop tokens and rng
// stream, so its tokens do not depend on what it shares the batch with (up to float rounding of a different
// batch shape).
// The decoder's weights must not change while sequences are live: a batch is one policy version. A caller that
// follows new weights stops adding, runs the batch dry, and opens the next one after the update.
import { type Rng } from "../sampling/rng.js";
import { type SampledToken, type SamplingParams, sampleToken } from "../sampling/sample.js";
import type { Tensor } from "../tensor.js";
import type { DecoderStepInput, DecoderStepOutput, IncrementalDecoder } from "./decoder.js";
import type { StepEvent } from "./generate.js";
import { SlotKvCache } from "./slot-kv-cache.js";

/** One sequence to generate, and where it goes when it ends. */
export interface SequenceSpec {
  prompt: readonly number[];
  /** Tokens it may generate (the stop token included). */
  maxNew: number;
  /** Tokens that end it (kept as its last token). */
  stop: ReadonlySet<number>;
  sampling: SamplingParams;
  /** Its own stream; null only when greedy. */
  rng: Rng | null;
  /** Called once, when it has ended: on a stop token, or at maxNew (truncated). */
  onEnd(ended: { tokens: number[]; logprobs: number[]; truncated: boolean }): void;
}

export interface ContinuousOptions {
  /** The id fed to free rows and to left-pad a prefill call. */
  pad: number;
  /** Prefill each distinct prompt once for all its waiting sequences (default true). */
  sharedPrefill?: boolean;
  /** Called after each decoder step (a prefill's P is 0) with its rows, live rows and wall time. */
  onStep?: (e: StepEvent) => void;
}

/** A sequence in the batch: its spec and what it has generated. */
interface Running {
  spec: SequenceSpec;
  key: string;
  tokens: number[];
  logprobs: number[];
}

/** A prefilled prompt, kept until every waiting sequence that repeats it has joined. */
interface Prefilled {
  kv: Pick<DecoderStepOutput, "newKeys" | "newValues">;
  logits: Float32Array;
  /** Its row in the prefill call and where its tokens start (the call left-pads to its longest prompt). */
  row: number;
  from: number;
  length: number;
}

export class ContinuousBatch {
  private readonly queue: Running[] = [];
  /** Waiting sequences per prompt key: a prefill is dropped once none of its prompt waits. */
  private readonly waitingFor = new Map<string, number>();
  private readonly prefilled = new Map<string, Prefilled>();
  private closed = false;
  private nextKey = 0;
  // Row state; seq[r] = null for a free row.
  private seq: (Running | null)[];
  private length: Int32Array; // filled slots = the row's tokens so far
  private next: number[];

  constructor(
    private readonly decoder: IncrementalDecoder,
    private readonly cache: SlotKvCache,
    private readonly o: ContinuousOptions,
  ) {
    this.seq = new Array<Running | null>(cache.B).fill(null);
    this.length = new Int32Array(cache.B);
    this.next = new Array<number>(cache.B).fill(o.pad);
  }

  /**
   * A batch of `rows` rows on `decoder`'s own cache, for sequences of up to `maxSteps` tokens (prompt + new).
   * Needs a decoder whose cache is host slots (OnnxDecoder's default on the host). release() when done.
   */
  static open(decoder: IncrementalDecoder, rows: number, maxSteps: number, o: ContinuousOptions): ContinuousBatch {
    if (!Number.isInteger(rows) || rows < 1) throw new Error(`ContinuousBatch.open: rows must be a positive integer, got ${rows}`);
    const cache = decoder.openCache?.(rows, { initial: Math.min(maxSteps, 128), max: maxSteps });
    if (!(cache instanceof SlotKvCache)) {
      void cache?.release();
      throw new Error("ContinuousBatch.open: continuous batching needs a decoder whose KV cache is host slots (OnnxDecoder's default on the host, not kvCache concat or keepOnDevice)");
    }
    return new ContinuousBatch(decoder, cache, o);
  }

  /** Gives the cache back (to the decoder's pool). The batch is not used after. */
  release(): void {
    this.cache.release();
  }

  /** Sequences decoding now. */
  get live(): number {
    return this.seq.filter((s) => s !== null).length;
  }

  /** Sequences added that have not joined yet. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Rows in the batch (free ones included). */
  get rows(): number {
    return this.seq.length;
  }

  /** Queues sequences, in order, to join as rows free up. */
  add(specs: readonly SequenceSpec[]): void {
    if (this.closed) throw new Error("ContinuousBatch.add: the batch was closed (nothing joins after close())");
    for (const spec of specs) {
      if (spec.sampling.temperature > 0 && !spec.rng) throw new Error("ContinuousBatch.add: sampling at temperature > 0 needs the sequence's rng");
      if (!Number.isInteger(spec.maxNew) || spec.maxNew < 1) throw new Error(`ContinuousBatch.add: maxNew must be an integer >= 1, got ${spec.maxNew}`);
      if (spec.prompt.length === 0) throw new Error("ContinuousBatch.add: a prompt needs at least one token");
      const key = this.o.sharedPrefill === false ? `#${this.nextKey++}` : spec.prompt.join(",");
      this.queue.push({ spec, key, tokens: [], logprobs: [] });
      this.waitingFor.set(key, (this.waitingFor.get(key) ?? 0) + 1);
    }
  }

  /** Nothing more will be added: once no sequence waits, free rows may leave the batch. */
  close(): void {
    this.closed = true;
  }

  /** Gives free rows to waiting sequences, then decodes one step of every live row (if any). */
  async step(): Promise<void> {
    await this.admit();
    if (this.live === 0) return;
    // Nothing left to join: drop free rows once half the batch is free (one gather per halving).
    if (this.closed && this.queue.length === 0 && this.live * 2 <= this.seq.length) {
      const keep = this.seq.flatMap((s, r) => (s ? [r] : []));
      this.cache.keepRows(keep);
      this.seq = keep.map((r) => this.seq[r]);
      this.length = Int32Array.from(keep, (r) => this.length[r]);
      this.next = keep.map((r) => this.next[r]);
    }
    const { seq, length, next, cache } = this;
    const B = seq.length;
    const V = this.decoder.config.vocabSize;
    cache.ensure(Math.max(...length) + 1);
    const past = cache.slots();
    const input: DecoderStepInput = {
      inputIds: int64([B, 1], seq.map((s, r) => (s ? next[r] : this.o.pad))),
      positionIds: int64([B, 1], Array.from(length)), // a row holds no padding: its length is its next position
      attentionMask: int64([B, 1], seq.map((s) => (s ? 1 : 0))),
      pastKeys: past.keys, pastValues: past.values, pastLayout: "slots", slotLengths: length,
    };
    // When every live row is greedy the decoder may pick the tokens where it computes the logits (greedyStep), so
    // no [B, V] logits are copied out; a free row's pick is never read. Null from it: the step runs with logits.
    const greedy = this.decoder.greedyStep && seq.every((s) => !s || s.spec.sampling.temperature === 0);
    const t0 = performance.now();
    const step = (greedy ? await this.decoder.greedyStep!(input) : null) ?? (await this.decoder.step(input));
    this.o.onStep?.({ P: Math.max(...length), B, live: seq.filter((x) => x !== null).length, seconds: (performance.now() - t0) / 1000 });
    cache.writeStep(step, length);
    const picked = "tokens" in step ? step : null;
    const bad = picked ? picked.tokens.findIndex((t) => !(t >= 0 && t < V)) : -1;
    if (bad >= 0) throw new Error(`ContinuousBatch: the decoder picked token ${picked!.tokens[bad]} for row ${bad}, outside the vocabulary [0, ${V})`);
    for (let r = 0; r < B; r++) {
      const s = seq[r];
      if (!s) continue;
      length[r]++;
      const t = picked
        ? this.took(s, { token: picked.tokens[r], logprob: picked.logprobs[r] })
        : this.take(s, (step as DecoderStepOutput).logits.data.subarray(r * V, (r + 1) * V));
      next[r] = t.token;
      if (t.done) {
        seq[r] = null;
        length[r] = 0; // a free row reads nothing (its own token only) and writes slot 0
      }
    }
  }

  /** Steps until no sequence is live or waiting. */
  async run(): Promise<void> {
    while (this.live > 0 || this.queue.length > 0) await this.step();
  }

  /** Samples s's next token from `logits`; ends s (onEnd) on a stop token or at maxNew. */
  private take(s: Running, logits: Float32Array): { token: number; done: boolean } {
    return this.took(s, sampleToken(logits, s.spec.sampling, s.spec.rng));
  }

  /** Appends s's next token `r` (sampled here, or picked by the decoder); ends s on a stop token or at maxNew. */
  private took(s: Running, r: SampledToken): { token: number; done: boolean } {
    s.tokens.push(r.token);
    s.logprobs.push(r.logprob);
    const truncated = !s.spec.stop.has(r.token) && s.tokens.length === s.spec.maxNew;
    const done = s.spec.stop.has(r.token) || truncated;
    if (done) s.spec.onEnd({ tokens: s.tokens, logprobs: s.logprobs, truncated });
    return { token: r.token, done };
  }

  /** Gives free rows to waiting sequences until none is free or none waits. A sequence may end at its first token. */
  private async admit(): Promise<void> {
    for (;;) {
      const free = this.seq.flatMap((s, r) => (s ? [] : [r]));
      if (!free.length || !this.queue.length) return;
      await this.prefill(free.length);
      for (const r of free) {
        const s = this.queue.shift();
        if (!s) break;
        const p = this.prefilled.get(s.key)!;
        const left = this.waitingFor.get(s.key)! - 1;
        if (left === 0) {
          this.waitingFor.delete(s.key);
          this.prefilled.delete(s.key);
        } else this.waitingFor.set(s.key, left);
        const first = this.take(s, p.logits);
        if (first.done) continue; // the row stays free
        this.cache.loadRow(r, p.kv, p.row, p.from, p.length);
        this.seq[r] = s;
        this.length[r] = p.length;
        this.next[r] = first.token;
      }
    }
  }

  /** Prefills the distinct prompts of the next `n` waiting sequences that are not prefilled yet (one call). */
  private async prefill(n: number): Promise<void> {
    const keys: string[] = [];
    const rows: (readonly number[])[] = [];
    for (const s of this.queue.slice(0, n)) {
      if (this.prefilled.has(s.key) || keys.includes(s.key)) continue;
      keys.push(s.key);
      rows.push(s.spec.prompt);
    }
    if (!keys.length) return;
    const { config: c } = this.decoder;
    const pad = this.o.pad;
    const L = Math.max(...rows.map((p) => p.length));
    const B = rows.length;
    const ids: number[] = [], pos: number[] = [], mask: number[] = [];
    for (const p of rows) {
      const padN = L - p.length;
      for (let j = 0; j < L; j++) {
        ids.push(j < padN ? pad : p[j - padN]);
        pos.push(j < padN ? 1 : j - padN);
        mask.push(j < padN ? 0 : 1);
      }
    }
    const empty = (): Tensor<"float32"> => ({ dtype: "float32", shape: [0, B, c.numKvHeads, c.headDim], data: new Float32Array(0) });
    const t0 = performance.now();
    const step = await this.decoder.step({
      inputIds: int64([B, L], ids), positionIds: int64([B, L], pos), attentionMask: int64([B, L], mask),
      pastKeys: Array.from({ length: c.numLayers }, empty), pastValues: Array.from({ length: c.numLayers }, empty),
    });
    this.o.onStep?.({ P: 0, B, live: B, seconds: (performance.now() - t0) / 1000 });
    const V = c.vocabSize;
    keys.forEach((k, r) => {
      const p = rows[r];
      this.prefilled.set(k, { kv: step, logits: step.logits.data.subarray(r * V, (r + 1) * V), row: r, from: L - p.length, length: p.length });
    });
  }
}

function int64(shape: number[], values: number[]): Tensor<"int64"> {
  return { dtype: "int64", shape, data: BigInt64Array.from(values, BigInt) };
}
