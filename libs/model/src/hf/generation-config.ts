// `generation_config.json`: the token ids and sampling defaults a checkpoint ships with. We read the
// fields generation uses and write back the same keys; anything else in the file is ignored.

export class GenerationConfigError extends Error {
  override name = "GenerationConfigError";
}

export interface GenerationConfig {
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  doSample: boolean | null;
  temperature: number | null;
  topP: number | null;
  topK: number | null;
  maxNewTokens: number | null;
}

/** Field table: JSON key, our key, and the check its value must pass (null/absent always allowed). */
const FIELDS: Array<[string, keyof GenerationConfig, (v: unknown) => boolean, string]> = [
  ["bos_token_id", "bosTokenId", isTokenId, "a token id"],
  ["pad_token_id", "padTokenId", isTokenId, "a token id"],
  ["do_sample", "doSample", (v) => typeof v === "boolean", "true or false"],
  ["temperature", "temperature", (v) => typeof v === "number" && v >= 0, "a number >= 0"],
  ["top_p", "topP", (v) => typeof v === "number" && v > 0 && v <= 1, "a number in (0, 1]"],
  ["top_k", "topK", (v) => Number.isInteger(v) && (v as number) >= 0, "an integer >= 0"],
  ["max_new_tokens", "maxNewTokens", (v) => Number.isInteger(v) && (v as number) > 0, "a positive integer"],
];

export function parseGenerationConfig(text: string, where = "generation_config.json"): GenerationConfig {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new GenerationConfigError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof j !== "object" || j === null || Array.isArray(j)) throw new GenerationConfigError(`${where}: must be a JSON object`);
  const o = j as Record<string, unknown>;
  const out: GenerationConfig = {
    bosTokenId: null, eosTokenIds: [], padTokenId: null, doSample: null, temperature: null, topP: null, topK: null, maxNewTokens: null,
  };
  for (const [key, ours, ok, what] of FIELDS) {
    const v = o[key];
    if (v === undefined || v === null) continue;
    if (!ok(v)) throw new GenerationConfigError(`${where}: '${key}' must be ${what}, got ${JSON.stringify(v)}`);
    (out as unknown as Record<string, unknown>)[ours] = v;
  }
  const eos = o.eos_token_id;
  if (eos !== undefined && eos !== null) {
    const list = Array.isArray(eos) ? eos : [eos];
    list.forEach((id, i) => {
      if (!isTokenId(id)) throw new GenerationConfigError(`${where}: 'eos_token_id${Array.isArray(eos) ? `[${i}]` : ""}' must be a token id, got ${JSON.stringify(id)}`);
    });
    out.eosTokenIds = list as number[];
  }
  return out;
}

export function formatGenerationConfig(g: GenerationConfig): string {
  const o: Record<string, unknown> = {};
  for (const [key, ours] of FIELDS) if (g[ours] !== null) o[key] = g[ours];
  if (g.eosTokenIds.length > 0) o.eos_token_id = g.eosTokenIds.length === 1 ? g.eosTokenIds[0] : g.eosTokenIds;
  return JSON.stringify(o, null, 2) + "\n";
}

function isTokenId(v: unknown): boolean {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}
