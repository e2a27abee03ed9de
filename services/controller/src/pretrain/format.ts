// How the demo policy sees a synthetic problem: the prompt rendered with DEMO_PROMPT_TEMPLATE (the problem
// and a newline; the run config's `task.template` default is the same string), then the worked solution,
// then the end-of-text token. Prompt and response are tokenized SEPARATELY and concatenated, exactly as a
// rollout actor encodes the prompt text and generates from there, so supervised training and RL generation
// see the same token boundaries.
import type { TextTokenizer } from "@lspo/model";
import { type SyntheticProblem, renderPlainPrompt } from "@lspo/tasks";
import type { SftExample } from "./sft-loss.js";

export const DEMO_PROMPT_TEMPLATE = "{prompt}\n";

/** The text a policy is prompted with for a synthetic problem (what a run publishes as promptText). */
export function syntheticPromptText(p: Pick<SyntheticProblem, "prompt">): string {
  return renderPlainPrompt(DEMO_PROMPT_TEMPLATE, p.prompt);
}

/** Token ids of the prompt and of the target response (worked solution + stop token). */
export function encodeSyntheticExample(tok: TextTokenizer, eos: number, p: Pick<SyntheticProblem, "prompt" | "solution">): SftExample {
  return { prompt: tok.encode(syntheticPromptText(p)), response: [...tok.encode(p.solution), eos] };
}
