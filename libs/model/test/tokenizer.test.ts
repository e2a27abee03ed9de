import { describe, expect, it } from "vitest";
import { TokenizerError, loadTokenizer } from "../src/tokenizer/tokenizer.js";
import { fixtureText } from "./support/fixture.js";

interface TokenizerCase { text: string; ids: number[]; decoded: string }

describe("tokenizer - transformers' byte-level BPE fixture", () => {
  const load = () => loadTokenizer(fixtureText("tokenizer.json"));
  const cases = JSON.parse(fixtureText("reference.json")).tokenizer_cases as TokenizerCase[];

  it("has the fixture's cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(4);
  });
  for (const c of cases) {
    it(`encodes and decodes ${JSON.stringify(c.text)} exactly as transformers`, () => {
      const tok = load();
      expect(tok.encode(c.text)).toEqual(c.ids);
      expect(tok.decode(c.ids)).toBe(c.decoded);
    });
  }

  it("knows its vocabulary and special tokens", () => {
    const tok = load();
    expect(tok.vocabSize).toBe(384);
    expect([...tok.specialIds].sort()).toEqual([0, 1]);
    expect(tok.tokenToId("<|endoftext|>")).toBe(1);
    expect(tok.idToToken(0)).toBe("<|pad|>");
  });

  it("decodes losslessly: no clean-up of spaces before punctuation unless tokenizer_config asks", () => {
    const text = "a . b , c ? d ' e n't";
    const tok = load();
    expect(tok.decode(tok.encode(text))).toBe(text);
    const cleaning = loadTokenizer(fixtureText("tokenizer.json"), JSON.stringify({ clean_up_tokenization_spaces: true }));
    expect(cleaning.decode(cleaning.encode(text))).toBe("a. b, c? d'en't");
  });

  it("splits special tokens out of text and can skip them when decoding", () => {
    const tok = load();
    const ids = tok.encode("hi<|endoftext|><|pad|>");
    expect(ids.slice(-2)).toEqual([1, 0]);
    expect(tok.decode(ids)).toBe("hi<|endoftext|><|pad|>");
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("hi");
  });

  it("round-trips arbitrary unicode through the byte-level vocabulary", () => {
    const tok = load();
    for (const s of ["", "é∑😀 中文", "\u0000\u0001 tab\tnl\n", "x".repeat(1000)]) expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it("refuses ids outside the vocabulary, naming the id", () => {
    const tok = load();
    expect(() => tok.decode([5, 384])).toThrow(TokenizerError);
    expect(() => tok.decode([5, 384])).toThrow(/cannot decode token id 384: outside the vocabulary of 384/);
    expect(() => tok.decode([-1])).toThrow(/token id -1/);
    expect(() => tok.decode([1.5])).toThrow(/token id 1.5/);
  });

  it("marks ids it has no token for when asked (a model's vocabulary larger than its tokenizer's)", () => {
    const tok = load();
    const ids = tok.encode("é∑ hi");
    const marked = tok.decode([...ids.slice(0, 2), 384, ...ids.slice(2), 100000], { unknownIds: "mark" });
    // The known runs decode as they would alone; each unknown id is marked where it stood.
    expect(marked).toBe(`${tok.decode(ids.slice(0, 2))}<id:384>${tok.decode(ids.slice(2))}<id:100000>`);
    expect(tok.decode(ids, { unknownIds: "mark" })).toBe("é∑ hi");
    expect(() => tok.decode([384], { unknownIds: "throw" })).toThrow(/token id 384/);
  });
});

describe("tokenizer - bad tokenizer files", () => {
  it("names the file and the problem", () => {
    expect(() => loadTokenizer("{oops")).toThrow(/tokenizer.json: not valid JSON/);
    expect(() => loadTokenizer("[]")).toThrow(/tokenizer.json: must be a JSON object/);
    expect(() => loadTokenizer(JSON.stringify({ model: { type: "Nope" }, added_tokens: [] }))).toThrow(/tokenizer.json: cannot build the tokenizer/);
    expect(() => loadTokenizer("{}", "{", "tok.json")).toThrow(/tokenizer_config.json: not valid JSON/);
  });

  it("drops characters a vocabulary without an unknown token cannot encode, as the Rust library does", () => {
    const json = JSON.stringify({
      version: "1.0", added_tokens: [], normalizer: null, pre_tokenizer: null, post_processor: null, decoder: null,
      model: { type: "BPE", vocab: { a: 0, b: 1 }, merges: [], unk_token: null, dropout: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false },
    });
    const tok = loadTokenizer(json);
    expect(tok.encode("ab")).toEqual([0, 1]);
    expect(tok.encode("abc")).toEqual([0, 1]);
  });
});
