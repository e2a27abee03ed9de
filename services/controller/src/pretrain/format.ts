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

/** The solution without its working: only the final `#### <answer>` line. */
export function answerOnly(solution: string): string {
  const last = solution.trimEnd().split("\n").pop() ?? "";
  if (!last.startsWith("#### ")) throw new Error(`a synthetic solution must end with a '#### <answer>' line, got ${JSON.stringify(last)}`);
  return last;
}

/** Token ids of the prompt and of the target response (worked solution, or its answer line only, + stop token). */
export function encodeSyntheticExample(
  tok: TextTokenizer,
  eos: number,
  p: Pick<SyntheticProblem, "prompt" | "solution">,
  opts: { answerOnly?: boolean } = {},
): SftExample {
  const target = opts.answerOnly ? answerOnly(p.solution) : p.solution;
  return { prompt: tok.encode(syntheticPromptText(p)), response: [...tok.encode(target), eos] };
}
