// Chat templates from a tokenizer's `tokenizer_config.json` (its `chat_template` is Jinja), rendered with
// @huggingface/jinja, the implementation transformers.js uses for the same templates.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import type { ChatMessage } from "../datasets/example.js";
import { PromptTemplateError, checkPlainTemplate } from "./plain.js";

export interface ChatTemplateOptions {
  /** A system message put first when the prompt is plain text. */
  system?: string;
  /** A plain template applied to plain-text prompts before they become the user message. */
  user?: string;
  /** Append the assistant turn's opening (default true: we render prompts to generate from). */
  addGenerationPrompt?: boolean;
}

export interface ChatTemplate {
  /** Where it came from, for messages. */
  source: string;
  render(prompt: string | ChatMessage[], options?: ChatTemplateOptions): string;
}

/** `bos_token` may be a string or an AddedToken object `{content: ...}`. */
function tokenText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "object" && v !== null && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
  return undefined;
}

/** `chat_template` is a string, or a list of named templates of which "default" is the one to use. */
function pickTemplate(value: unknown, source: string): string {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    const named = value.find((t) => t?.name === "default");
    if (named && typeof named.template === "string") return named.template;
    throw new PromptTemplateError(`${source}: chat_template is a list without a "default" entry (has: ${value.map((t) => t?.name).join(", ")})`);
  }
  throw new PromptTemplateError(`${source}: has no chat_template (the tokenizer has no chat format; use a plain template)`);
}

export function createChatTemplate(source: string, tokenizerConfig: Record<string, unknown>): ChatTemplate {
  const text = pickTemplate(tokenizerConfig.chat_template, source);
  let template: Template;
  try {
    template = new Template(text);
  } catch (e) {
    throw new PromptTemplateError(`${source}: chat_template does not parse: ${(e as Error).message}`, { cause: e });
  }
  const special = { bos_token: tokenText(tokenizerConfig.bos_token) ?? "", eos_token: tokenText(tokenizerConfig.eos_token) ?? "" };
  return {
    source,
    render(prompt, options = {}) {
      if (options.user !== undefined) checkPlainTemplate(options.user);
      const messages: ChatMessage[] =
        typeof prompt === "string"
          ? [
              ...(options.system !== undefined ? [{ role: "system", content: options.system }] : []),
              { role: "user", content: options.user === undefined ? prompt : options.user.replace("{prompt}", () => prompt) },
            ]
          : prompt;
      try {
        return template.render({
          ...special,
          messages,
          add_generation_prompt: options.addGenerationPrompt ?? true,
        });
      } catch (e) {
        // Includes the template's own raise_exception(...) (built into @huggingface/jinja), which templates
        // use to reject conversations they cannot format, e.g. roles out of order.
        throw new PromptTemplateError(`${source}: rendering the chat template failed: ${(e as Error).message}`, { cause: e });
      }
    },
  };
}

/** Reads `tokenizer_config.json` (give the file or the model directory holding it). */
export function loadChatTemplate(path: string): ChatTemplate {
  let file = path;
  try {
    if (statSync(path).isDirectory()) file = join(path, "tokenizer_config.json");
  } catch {
    // not there: reading below names the file
  }
  let config: unknown;
  try {
    config = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new PromptTemplateError(`cannot read tokenizer config '${file}': ${(e as Error).message}`, { cause: e });
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new PromptTemplateError(`${file}: expected a JSON object`);
  }
  return createChatTemplate(file, config as Record<string, unknown>);
}
