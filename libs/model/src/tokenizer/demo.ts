// The demo policy's tokenizer: a byte-level BPE `tokenizer.json` (the GPT-2/Llama-3 family format that
// transformers and @huggingface/tokenizers both load) built here rather than trained:
// - ids 0 and 1 are the special tokens `<|pad|>` and `<|endoftext|>` (as in the shared fixture);
// - then all 256 byte symbols, so ANY text encodes and decodes losslessly;
// - then whole-word tokens for a short list of words (with and without a leading space), so the demo's
//   word problems are short sequences. Digits are never merged: numbers stay one token per digit, which
//   keeps arithmetic learnable for a tiny model.
// Word merges are derived by running BPE with the merges so far and joining whatever pieces remain, so
// every listed word ends up as exactly one token and adding a word never changes an earlier word's split.

export const DEMO_PAD = "<|pad|>";
export const DEMO_EOS = "<|endoftext|>";

/** Words of arithmetic word problems and their worked solutions. */
export const DEFAULT_DEMO_WORDS: readonly string[] = [
  "the", "The", "answer", "is", "has", "have", "had", "and", "of", "in", "with", "then", "Then", "so", "So",
  "How", "many", "much", "does", "do", "left", "total", "more", "fewer", "than", "each", "Each", "gives",
  "gets", "buys", "sells", "eats", "loses", "finds", "now", "apples", "books", "coins", "marbles",
  "cookies", "pencils", "stickers", "boxes", "bags", "times", "plus", "minus", "divided", "by", "equals",
  "Step", "First", "Next", "Finally", "altogether", "remaining",
];

export interface DemoTokenizerOptions {
  /** Words to give single tokens (default DEFAULT_DEMO_WORDS). Letters only; no spaces. */
  words?: readonly string[];
}

/** GPT-2's reversible byte -> printable character map used by the ByteLevel pre-tokenizer. */
function bytesToUnicode(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const out: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) out.push(String.fromCharCode(printable(b) ? b : 256 + extra++));
  return out;
}

/** Splits `symbols` with BPE: repeatedly merge the adjacent pair of lowest rank. */
function bpe(symbols: string[], ranks: Map<string, number>): string[] {
  const s = [...symbols];
  for (;;) {
    let best = -1, bestRank = Infinity;
    for (let i = 0; i + 1 < s.length; i++) {
      const r = ranks.get(`${s[i]} ${s[i + 1]}`);
      if (r !== undefined && r < bestRank) { best = i; bestRank = r; }
    }
    if (best < 0) return s;
    s.splice(best, 2, s[best] + s[best + 1]);
  }
}

/** The tokenizer.json text. */
export function buildDemoTokenizerJson(options: DemoTokenizerOptions = {}): string {
  const words = options.words ?? DEFAULT_DEMO_WORDS;
  const byteChar = bytesToUnicode();
  const vocab = new Map<string, number>([[DEMO_PAD, 0], [DEMO_EOS, 1]]);
  for (const ch of byteChar) vocab.set(ch, vocab.size);
  const merges: Array<[string, string]> = [];
  const ranks = new Map<string, number>();
  const utf8 = new TextEncoder();

  for (const word of words) {
    if (!/^\p{L}+$/u.test(word)) throw new Error(`demo tokenizer: word ${JSON.stringify(word)} must be letters only`);
    for (const variant of [word, ` ${word}`]) {
      let pieces = bpe([...utf8.encode(variant)].map((b) => byteChar[b]), ranks);
      while (pieces.length > 1) {
        const [a, b] = pieces;
        ranks.set(`${a} ${b}`, merges.length);
        merges.push([a, b]);
        if (!vocab.has(a + b)) vocab.set(a + b, vocab.size);
        pieces = [a + b, ...pieces.slice(2)];
      }
    }
  }

  const special = (content: string) => ({
    id: vocab.get(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  });
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  const tokenizer = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [special(DEMO_PAD), special(DEMO_EOS)],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: { ...byteLevel, add_prefix_space: true },
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
      fuse_unk: false, byte_fallback: false, ignore_merges: false,
      vocab: Object.fromEntries(vocab), merges,
    },
  };
  return JSON.stringify(tokenizer, null, 2) + "\n";
}
