// Locates the shared Hugging Face fixture (../shared from the repo root). Tests that need it skip with a
// note when it is absent: the project itself must run without shared/.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";

const repoRoot = path.resolve(import.meta.dirname, "../../../..");
export const SHARED_DIR = path.resolve(repoRoot, "../shared");
export const LLAMA_FIXTURE_DIR = path.join(SHARED_DIR, "fixtures/hf/llama");
export const HAVE_LLAMA_FIXTURE = existsSync(path.join(LLAMA_FIXTURE_DIR, "reference.json"));
export const FIXTURE_SKIP_NOTE = `skipped: Hugging Face fixture not found at ${LLAMA_FIXTURE_DIR} (needs ../shared beside the repo)`;

if (!HAVE_LLAMA_FIXTURE) console.warn(FIXTURE_SKIP_NOTE);

export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(path.join(LLAMA_FIXTURE_DIR, name)));
}

export function fixtureText(name: string): string {
  return readFileSync(path.join(LLAMA_FIXTURE_DIR, name), "utf8");
}
