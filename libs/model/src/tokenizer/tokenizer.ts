// Text <-> token ids from a Hugging Face `tokenizer.json`, through @huggingface/tokenizers (a maintained
// pure-JS port of the Rust library; checked id-for-id against transformers' own output on the fixture).
// This wrapper pins down the few places where that library's defaults differ from what RL needs:
// - decode is lossless by default: `clean_up_tokenization_spaces` (which rewrites " ." to "." and similar)
//   is off unless tokenizer_config.json turns it on, so the verifier sees exactly what the policy wrote;
// - an id outside the vocabulary is an error naming it. (Text a vocabulary without an unknown token cannot
//   encode is dropped, as the Rust library does; byte-level vocabularies, ours included, cover every byte.)
import { Tokenizer } from "@huggingface/tokenizers";

export class TokenizerError extends Error {
  override name = "TokenizerError";
}

export interface EncodeOptions {
  /** Apply the tokenizer's post-processor (e.g. a BOS token). Default true, as in transformers. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop special tokens (pad, eos, ...) from the text. Default false. */
  skipSpecialTokens?: boolean;
  /**
   * An id the tokenizer has no token for: `throw` (default) or `mark`, written as `<id:N>`. A model's vocabulary
   * can be larger than its tokenizer's (Qwen2.5: 151,936 ids, 151,665 tokens; a model made by `lspo model init`
   * with the demo tokenizer), and a policy may sample those ids: a rollout must still report its text.
   */
  unknownIds?: "throw" | "mark";
}

export interface TextTokenizer {
  /** One more than the largest token id (added tokens included). */
  readonly vocabSize: number;
  /** Ids of the special added tokens (`"special": true` in tokenizer.json). */
  readonly specialIds: ReadonlySet<number>;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: ArrayLike<number>, options?: DecodeOptions): string;
  /** Id of a token string (added tokens included), or undefined. */
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
}

/** Builds a tokenizer from `tokenizer.json` text; `tokenizerConfigJson` is the optional
 *  `tokenizer_config.json` (only `clean_up_tokenization_spaces` and `additional_special_tokens` matter). */
export function loadTokenizer(tokenizerJson: string, tokenizerConfigJson: string | null = null, where = "tokenizer.json"): TextTokenizer {
  const tj = parseObject(tokenizerJson, where);
  const cfg = tokenizerConfigJson === null ? {} : parseObject(tokenizerConfigJson, "tokenizer_config.json");
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(tj, { ...cfg, clean_up_tokenization_spaces: cfg.clean_up_tokenization_spaces === true });
  } catch (e) {
    throw new TokenizerError(`${where}: cannot build the tokenizer (${(e as Error).message})`);
  }
  return new HfTokenizer(tok);
}

class HfTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly specialIds: ReadonlySet<number>;

  constructor(private readonly tok: Tokenizer) {
    let max = -1;
    for (const id of tok.get_vocab(true).values()) max = Math.max(max, id);
    this.vocabSize = max + 1;
    this.specialIds = new Set([...tok.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id));
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const enc = this.tok.encode(text, { add_special_tokens: options.addSpecialTokens ?? true });
    const bad = enc.ids.findIndex((id: number) => !Number.isInteger(id));
    if (bad >= 0) throw new TokenizerError(`cannot encode ${JSON.stringify(enc.tokens[bad])}: not in the vocabulary and the tokenizer has no unknown token`);
    return enc.ids;
  }

  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const list = Array.from(ids);
    if (list.length === 0) return "";
    const known = (id: number) => Number.isInteger(id) && id >= 0 && this.tok.id_to_token(id) !== undefined;
    const text = (run: number[]) => (run.length ? this.tok.decode(run, { skip_special_tokens: options.skipSpecialTokens ?? false }) : "");
    if (options.unknownIds !== "mark") {
      const bad = list.find((id) => !known(id));
      if (bad !== undefined) throw new TokenizerError(`cannot decode token id ${bad}: outside the vocabulary of ${this.vocabSize}`);
      return text(list);
    }
    // Runs of known ids decode together (multi-byte characters span tokens); each unknown id is marked.
    let out = "";
    let run: number[] = [];
    for (const id of list) {
      if (known(id)) run.push(id);
      else {
        out += `${text(run)}<id:${id}>`;
        run = [];
      }
    }
    return out + text(run);
  }

  tokenToId(token: string): number | undefined {
    return this.tok.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.tok.id_to_token(id);
  }
}

function parseObject(text: string, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new TokenizerError(`${where}: must be a JSON object`);
  return v as Record<string, unknown>;
}
