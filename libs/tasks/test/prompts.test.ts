// Prompt templates: plain `{prompt}` templates, and Jinja chat templates read from tokenizer_config.json.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PromptTemplateError, createChatTemplate, loadChatTemplate, renderPlainPrompt } from "@lspo/tasks";

// A ChatML-style template written for this test: turns delimited by <|im_start|>role ... <|im_end|>,
// a bos token first, and a raise_exception for a conversation that does not end with the user.
const CHATML = [
  "{{ bos_token }}",
  "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
  "{% if messages[-1].role != 'user' %}{{ raise_exception('the last message must be the user') }}{% endif %}",
  "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
].join("");

describe("prompts - plain", () => {
  const t = "Q: {prompt}\nPut the final answer in \\boxed{}.";
  it("fills the one {prompt} placeholder and leaves LaTeX braces alone", () => {
    expect(renderPlainPrompt(t, "1+1?")).toBe("Q: 1+1?\nPut the final answer in \\boxed{}.");
  });
  it("does not interpret $ patterns in the prompt", () => {
    expect(renderPlainPrompt("{prompt}!", "costs $& and $1")).toBe("costs $& and $1!");
  });
  it("accepts a chat prompt that is one user message", () => {
    expect(renderPlainPrompt("{prompt}", [{ role: "user", content: "hi" }])).toBe("hi");
  });
  it("refuses templates without exactly one placeholder, and richer chats", () => {
    expect(() => renderPlainPrompt("no placeholder", "x")).toThrow("needs exactly one '{prompt}' placeholder, found 0");
    expect(() => renderPlainPrompt("{prompt} {prompt}", "x")).toThrow("found 2");
    expect(() => renderPlainPrompt("{prompt}", [{ role: "system", content: "s" }, { role: "user", content: "u" }])).toThrow(
      "a chat prompt with roles [system, user] needs a chat template",
    );
  });
});

describe("prompts - chat template", () => {
  const config = { chat_template: CHATML, bos_token: { content: "<s>", lstrip: false }, eos_token: "</s>" };

  it("renders a plain prompt as a user turn with the generation prompt", () => {
    const t = createChatTemplate("test", config);
    expect(t.render("What is 2+3?")).toBe("<s><|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n");
  });

  it("adds a system message and a user template; can omit the generation prompt", () => {
    const t = createChatTemplate("test", config);
    expect(t.render("2+3", { system: "Be brief.", user: "Solve: {prompt}", addGenerationPrompt: false })).toBe(
      "<s><|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nSolve: 2+3<|im_end|>\n",
    );
  });

  it("renders a chat prompt as given", () => {
    const t = createChatTemplate("test", config);
    expect(t.render([{ role: "system", content: "S" }, { role: "user", content: "U" }])).toBe(
      "<s><|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n",
    );
  });

  it("reports the template's own raise_exception", () => {
    const t = createChatTemplate("test", config);
    expect(() => t.render([{ role: "assistant", content: "A" }])).toThrow("test: rendering the chat template failed: the last message must be the user");
  });

  it("loads tokenizer_config.json from a model directory, with a list of named templates", () => {
    const dir = mkdtempSync(join(tmpdir(), "lspo-tok-"));
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({
      chat_template: [{ name: "tool_use", template: "TOOLS" }, { name: "default", template: "{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}" }],
    }));
    expect(loadChatTemplate(dir).render("hi")).toBe("[user]hi");
    expect(loadChatTemplate(join(dir, "tokenizer_config.json")).source).toBe(join(dir, "tokenizer_config.json"));
  });

  it("names the file when it is missing, has no chat_template, or the template does not parse", () => {
    const dir = mkdtempSync(join(tmpdir(), "lspo-tok-"));
    expect(() => loadChatTemplate(dir)).toThrow(`cannot read tokenizer config '${join(dir, "tokenizer_config.json")}'`);
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ bos_token: "<s>" }));
    expect(() => loadChatTemplate(dir)).toThrow(PromptTemplateError);
    expect(() => loadChatTemplate(dir)).toThrow(`${join(dir, "tokenizer_config.json")}: has no chat_template`);
    expect(() => createChatTemplate("cfg", { chat_template: "{% for %}" })).toThrow("cfg: chat_template does not parse");
    expect(() => createChatTemplate("cfg", { chat_template: [{ name: "x", template: "" }] })).toThrow('list without a "default" entry (has: x)');
  });
});
