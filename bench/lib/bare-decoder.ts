// The bare side of bench/rollout.ts: a process that does nothing but loop generate() over one ORT session,
// with the rollout actor's model, session options, batches and sampling seeds. It lives in its own process
// so that it and the rollout actor it is compared with run under the same conditions (a fresh Node process
// with one session); the bench process only orchestrates. Driven over IPC:
//   parent -> { items: [{uid, text}] }   child -> { seconds, cpuSeconds, tokens, byUid: [[uid, tokens]] }
//   parent -> "exit"
// argv: <model dir> <device> <threads> <promptsPerCall> <groupSize> <maxNewTokens> <temperature> <topP> <topK> <seed>
import { OnnxDecoder, generate, loadTokenizer, type Provider } from "@lspo/model";
import { groupStreams } from "@lspo/rollout";
import { readModelDir } from "@lspo/tasks";

const [dir, device, threads, P, G, maxNewTokens, temperature, topP, topK, seed] = process.argv.slice(2);
if (seed === undefined) throw new Error("bare-decoder: expected 10 arguments (model dir, device, threads, P, G, maxNewTokens, temperature, topP, topK, seed)");
const num = (s: string) => Number(s);
const model = readModelDir(dir);
const tokenizer = loadTokenizer(model.tokenizerJson, model.tokenizerConfigJson, `${dir}/tokenizer.json`);
const decoder = await OnnxDecoder.create(model.config, model.weights, { provider: device as Provider, threads: num(threads) });
const sampling = { temperature: num(temperature), topP: num(topP), topK: num(topK) };

async function run(items: Array<{ uid: string; text: string }>) {
  // Tokenized before the clock starts: the bare loop is generate() alone.
  const ids = items.map((i) => tokenizer.encode(i.text));
  const p = num(P), g = num(G);
  const outs: number[][][] = [];
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let c = 0; c < items.length; c += p) {
    const batch = items.slice(c, c + p);
    const rows = batch.flatMap((_, k) => Array.from({ length: g }, () => ids[c + k]));
    // The actor's seeding: each group's G samples on streams of its own uid's seed.
    const rngs = batch.flatMap((i) => groupStreams(num(seed), i.uid, g));
    const out = await generate(decoder, rows, { maxNewTokens: num(maxNewTokens), sampling, rngs });
    outs.push(out.tokens);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  // Outside the clock: what the bench compares with the actor's groups.
  const rowsOut = outs.flat();
  const tokens = rowsOut.reduce((n, t) => n + t.length, 0);
  const byUid = items.map((item, k): [string, string] => [item.uid, rowsOut.slice(k * g, (k + 1) * g).map((t) => t.join(",")).join("|")]);
  return { seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, tokens, byUid };
}

process.on("message", (msg: { items: Array<{ uid: string; text: string }> } | "exit") => {
  if (msg === "exit") process.exit(0);
  run(msg.items).then(
    (r) => process.send!(r),
    (err: Error) => process.send!({ error: err.stack ?? err.message }),
  );
});
process.send!({ ready: true });
