// The Hugging Face fixture the parity tests compare against: a tiny LlamaForCausalLM with transformers' own
// logits, gradients, generation and tokenizer outputs, committed under test/fixtures/hf/llama (see its
// README). It is in the repository so a fresh clone runs every parity test; a missing file is a failure,
// never a skip.
import { readFileSync } from "node:fs";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "../../../..");
export const LLAMA_FIXTURE_DIR = path.join(repoRoot, "test/fixtures/hf/llama");

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(LLAMA_FIXTURE_DIR, name)));
}

export function fixtureText(name: string): string {
  return readFileSync(path.join(LLAMA_FIXTURE_DIR, name), "utf8");
}
