// Dataset loaders on files the tests write themselves: JSONL by hand, Parquet with hyparquet-writer
// (nested list/struct columns as in DAPO-Math-17K, and a gzip-compressed file for the extra codecs).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parquetWriteBuffer } from "hyparquet-writer";
import { describe, expect, it } from "vitest";
import { DatasetConfigError, DatasetError, isCorrect, loadDataset } from "@lspo/tasks";

const dir = mkdtempSync(join(tmpdir(), "lspo-datasets-"));
function file(name: string, content: string | ArrayBuffer): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === "string" ? content : Buffer.from(content));
  return path;
}
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

const STRING = { type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" } as const;

/** A DAPO-Math-17K-shaped Parquet file: prompt is list<struct<role, content>>, reward_model a struct. */
function dapoParquet(rows: { prompt: { role: string; content: string }[]; truth: string }[], codec?: "GZIP") {
  return parquetWriteBuffer({
    columnData: [
      { name: "data_source", data: rows.map(() => "math_dapo") },
      { name: "prompt", data: rows.map((r) => r.prompt) },
      { name: "reward_model", data: rows.map((r) => ({ ground_truth: r.truth, style: "rule-lighteval/MATH_v2" })) },
    ],
    schema: [
      { name: "root", num_children: 3 },
      { name: "data_source", ...STRING },
      { name: "prompt", repetition_type: "OPTIONAL", converted_type: "LIST", num_children: 1 },
      { name: "list", repetition_type: "REPEATED", num_children: 1 },
      { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "role", ...STRING },
      { name: "content", ...STRING },
      { name: "reward_model", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "ground_truth", ...STRING },
      { name: "style", ...STRING },
    ],
    ...(codec ? { codec, compressors: { GZIP: (b: Uint8Array) => new Uint8Array(gzipSync(b)) } } : {}),
  });
}

describe("datasets - schemas", () => {
  it("gsm8k: question/answer, the answer after ####, the whole answer as the solution", async () => {
    const path = file("gsm8k.jsonl", jsonl([
      { question: "Ann has 3 pens and buys 4. How many?", answer: "3+4=<<3+4=7>>7\n#### 7" },
      { question: "Big?", answer: "1000*2=2000\n#### 2,000" },
    ]));
    const examples = await loadDataset({ path, schema: "gsm8k" });
    expect(examples).toEqual([
      { id: "gsm8k.jsonl#1", prompt: "Ann has 3 pens and buys 4. How many?", answer: "7", solution: "3+4=<<3+4=7>>7\n#### 7" },
      { id: "gsm8k.jsonl#2", prompt: "Big?", answer: "2,000", solution: "1000*2=2000\n#### 2,000" },
    ]);
    expect(isCorrect("#### 2000", examples[1].answer)).toBe(true);
  });

  it("math: problem/solution, the answer is the last \\boxed{} with nested braces", async () => {
    const path = file("math.jsonl", jsonl([
      { problem: "Compute $\\frac{1}{2}+\\frac{1}{4}$.", solution: "We get $\\frac{2}{4}+\\frac14=\\boxed{\\frac{3}{4}}$." },
    ]));
    const [ex] = await loadDataset({ path, schema: "math" });
    expect(ex.answer).toBe("\\frac{3}{4}");
    expect(isCorrect("\\boxed{0.75}", ex.answer, { symbolic: false })).toBe(true);
  });

  it("dapo (Parquet, nested columns): chat prompt and reward_model.ground_truth", async () => {
    const path = file("dapo.parquet", dapoParquet([
      { prompt: [{ role: "user", content: "Solve 2x=6. Put the answer in \\boxed{}." }], truth: "3" },
      { prompt: [{ role: "system", content: "Be brief." }, { role: "user", content: "1+1?" }], truth: "2" },
    ]));
    expect(await loadDataset({ path, schema: "dapo" })).toEqual([
      { id: "dapo.parquet#1", prompt: [{ role: "user", content: "Solve 2x=6. Put the answer in \\boxed{}." }], answer: "3" },
      { id: "dapo.parquet#2", prompt: [{ role: "system", content: "Be brief." }, { role: "user", content: "1+1?" }], answer: "2" },
    ]);
  });

  it("reads gzip-compressed Parquet (codecs beyond Snappy)", async () => {
    const path = file("dapo-gzip.parquet", dapoParquet([{ prompt: [{ role: "user", content: "q" }], truth: "42" }], "GZIP"));
    expect((await loadDataset({ path, schema: "dapo" }))[0].answer).toBe("42");
  });

  it("fields: any dataset through a dotted mapping, with each answer format", async () => {
    const path = file("custom.parquet", parquetWriteBuffer({
      columnData: [
        { name: "q", data: ["What is 6*7?", "Half of 3?"] },
        { name: "meta", data: [{ sol: "6*7=42 so \\boxed{42}" }, { sol: "3/2 \\boxed{\\frac{3}{2}}" }] },
        { name: "n", data: [42, 1.5] },
      ],
      schema: [
        { name: "root", num_children: 3 },
        { name: "q", ...STRING },
        { name: "meta", repetition_type: "OPTIONAL", num_children: 1 },
        { name: "sol", ...STRING },
        { name: "n", type: "DOUBLE", repetition_type: "OPTIONAL" },
      ],
    }));
    const boxed = await loadDataset({ path, schema: "fields", fields: { prompt: "q", answer: "meta.sol", answer_format: "boxed", solution: "meta.sol" } });
    expect(boxed.map((e) => [e.prompt, e.answer, e.solution])).toEqual([
      ["What is 6*7?", "42", "6*7=42 so \\boxed{42}"],
      ["Half of 3?", "\\frac{3}{2}", "3/2 \\boxed{\\frac{3}{2}}"],
    ]);
    const numeric = await loadDataset({ path, schema: "fields", fields: { prompt: "q", answer: "n" } });
    expect(numeric.map((e) => e.answer)).toEqual(["42", "1.5"]);
    const hashes = file("hashes.jsonl", jsonl([{ p: [{ role: "user", content: "hi" }], a: "work\n#### 5" }]));
    const [h] = await loadDataset({ path: hashes, schema: "fields", fields: { prompt: "p", answer: "a", answer_format: "hashes" } });
    expect(h).toEqual({ id: "hashes.jsonl#1", prompt: [{ role: "user", content: "hi" }], answer: "5" });
  });

  it("limit keeps the first N rows", async () => {
    const path = file("many.jsonl", jsonl(Array.from({ length: 10 }, (_, i) => ({ question: `q${i}`, answer: `#### ${i}` }))));
    expect((await loadDataset({ path, schema: "gsm8k", limit: 3 })).map((e) => e.answer)).toEqual(["0", "1", "2"]);
  });
});

describe("datasets - errors name the file and the row", () => {
  const cases: [name: string, content: string, schema: "gsm8k" | "math" | "dapo", message: string][] = [
    ["bad-json.jsonl", `{"question":"a","answer":"#### 1"}\n\n{oops\n`, "gsm8k", "bad-json.jsonl: row 3: invalid JSON"],
    ["not-object.jsonl", `[1,2]\n`, "gsm8k", "not-object.jsonl: row 1: expected a JSON object, got an array"],
    ["no-hashes.jsonl", jsonl([{ question: "a", answer: "#### 1" }, { question: "b", answer: "2" }]), "gsm8k",
      "no-hashes.jsonl: row 2: field 'answer' has no '#### <answer>' line (schema 'gsm8k': {question: string, answer: string ending in '#### <answer>'})"],
    ["missing.jsonl", jsonl([{ question: "a" }]), "gsm8k", "missing.jsonl: row 1: missing field 'answer'"],
    ["wrong-type.jsonl", jsonl([{ question: 5, answer: "#### 1" }]), "gsm8k", "wrong-type.jsonl: row 1: field 'question' must be a string, got number"],
    ["no-box.jsonl", jsonl([{ problem: "p", solution: "it is 3" }]), "math", "no-box.jsonl: row 1: field 'solution' has no closed \\boxed{...} answer"],
    ["unclosed-box.jsonl", jsonl([{ problem: "p", solution: "\\boxed{3" }]), "math", "unclosed-box.jsonl: row 1: field 'solution' has no closed \\boxed{...} answer"],
    ["dapo-bad.jsonl", jsonl([{ prompt: [{ role: "user" }], reward_model: { ground_truth: "1" } }]), "dapo", "dapo-bad.jsonl: row 1: field 'prompt[0]' must be {role: string, content: string}"],
    ["dapo-nogt.jsonl", jsonl([{ prompt: [{ role: "user", content: "q" }], reward_model: {} }]), "dapo", "dapo-nogt.jsonl: row 1: missing field 'reward_model.ground_truth'"],
    ["empty.jsonl", "\n\n", "gsm8k", "empty.jsonl: has no rows"],
  ];
  for (const [name, content, schema, message] of cases) {
    it(name, async () => {
      const path = file(name, content);
      const err = await loadDataset({ path, schema }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatasetError);
      expect((err as Error).message).toContain(`${path.slice(0, -name.length)}${message}`);
    });
  }

  it("a missing file and a file that is not Parquet", async () => {
    await expect(loadDataset({ path: join(dir, "nope.jsonl"), schema: "gsm8k" })).rejects.toThrow(/nope\.jsonl: cannot read: ENOENT/);
    const fake = file("fake.parquet", "not parquet at all");
    await expect(loadDataset({ path: fake, schema: "dapo" })).rejects.toThrow(/fake\.parquet: cannot read as Parquet/);
  });
});

describe("datasets - config", () => {
  it("rejects unknown keys, unknown schemas, and fields without the fields schema", async () => {
    await expect(loadDataset({ path: "a.jsonl", schema: "gsm8k", shuffle: true } as never)).rejects.toThrow(DatasetConfigError);
    await expect(loadDataset({ path: "a.jsonl", schema: "gsm8k", shuffle: true } as never)).rejects.toThrow(/Unrecognized key.*"shuffle"/);
    await expect(loadDataset({ path: "a.jsonl", schema: "gsm9k" } as never)).rejects.toThrow(/schema: .*"gsm8k"\|"math"\|"dapo"\|"fields"/);
    await expect(loadDataset({ path: "a.jsonl", schema: "fields" })).rejects.toThrow("fields: `fields` is required with schema 'fields'");
    await expect(loadDataset({ path: "a.jsonl", schema: "gsm8k", fields: { prompt: "q", answer: "a" } })).rejects.toThrow(/not allowed with the other schemas/);
  });

  it("needs a format it can tell", async () => {
    await expect(loadDataset({ path: "data.csv", schema: "gsm8k" })).rejects.toThrow(
      "cannot tell the format of 'data.csv' from its extension; set format to one of: jsonl, parquet",
    );
    const path = file("gsm8k.txt", jsonl([{ question: "q", answer: "#### 1" }]));
    expect((await loadDataset({ path, schema: "gsm8k", format: "jsonl" }))[0].answer).toBe("1");
  });
});
