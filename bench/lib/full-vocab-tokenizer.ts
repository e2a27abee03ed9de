// A tokenizer.json with text for every id of a model's vocabulary: the demo tokenizer (`lspo model init`'s
// default) with a filler token " w<id>" for each id it lacks. A random model of a real architecture samples
// ids across its whole vocabulary (151,936 for Qwen2.5), and the rollout actor decodes every response to
// text (services/rollout groups.ts), which throws on an id the tokenizer has no token for; the demo
// tokenizer has 479. The fillers are never produced by encoding (no merges make them), only decoded.
import { buildDemoTokenizerJson } from "@lspo/model";

export function fullVocabTokenizerJson(vocabSize: number): string {
  const t = JSON.parse(buildDemoTokenizerJson()) as { model: { vocab: Record<string, number> }; added_tokens: Array<{ id: number }> };
  const used = new Set<number>([...Object.values(t.model.vocab), ...t.added_tokens.map((a) => a.id)]);
  // "Ġ" is the byte-level alphabet's space: each filler decodes to " w<id>".
  for (let id = 0; id < vocabSize; id++) if (!used.has(id)) t.model.vocab[`Ġw${id}`] = id;
  return JSON.stringify(t);
}
