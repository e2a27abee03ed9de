// How the demo policy sees a synthetic problem: the prompt text (the problem and a newline), then the
// worked solution, then the end-of-text token. Prompt and response are tokenized SEPARATELY and
// concatenated, exactly as a rollout actor encodes the prompt text and generates from there, so supervised
// training and RL generation see the same token boundaries.
import type { TextTokenizer } from "@lspo/model";
import type { SyntheticProblem } from "@lspo/tasks";
import type { SftExample } from "./sft-loss.js";

/** The text a policy is prompted with for a synthetic problem (what the demo publishes as promptText). */
export function syntheticPromptText(p: Pick<SyntheticProblem, "prompt">): string {
  return `${p.prompt}\n`;
}

/** Token ids of the prompt and of the target response (worked solution + stop token). */
export function encodeSyntheticExample(tok: TextTokenizer, eos: number, p: Pick<SyntheticProblem, "prompt" | "solution">): SftExample {
  return { prompt: tok.encode(syntheticPromptText(p)), response: [...tok.encode(p.solution), eos] };
}
