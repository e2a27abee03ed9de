// Plain prompt templates: text with one `{prompt}` placeholder, e.g.
//   "{prompt}\nPlease reason step by step, and put your final answer within \\boxed{}."
// Only the exact `{prompt}` is a placeholder, so LaTeX braces in the instructions (`\boxed{}`) are safe.
import type { ChatMessage } from "../datasets/example.js";

export class PromptTemplateError extends Error {
  override readonly name = "PromptTemplateError";
}

const PLACEHOLDER = "{prompt}";

export function checkPlainTemplate(template: string): void {
  const count = template.split(PLACEHOLDER).length - 1;
  if (count !== 1) {
    throw new PromptTemplateError(`a plain prompt template needs exactly one '${PLACEHOLDER}' placeholder, found ${count}: ${JSON.stringify(template)}`);
  }
}

/**
 * Fills the template. A chat prompt (a list of messages) has no plain form unless it is a single user
 * message; anything richer needs a chat template (see chat.ts), and this says so.
 */
export function renderPlainPrompt(template: string, prompt: string | ChatMessage[]): string {
  checkPlainTemplate(template);
  let text: string;
  if (typeof prompt === "string") text = prompt;
  else if (prompt.length === 1 && prompt[0].role === "user") text = prompt[0].content;
  else throw new PromptTemplateError(`a chat prompt with roles [${prompt.map((m) => m.role).join(", ")}] needs a chat template, not a plain one`);
  return template.replace(PLACEHOLDER, () => text);
}
