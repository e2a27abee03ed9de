// Finds the final answer in a model response. Three markers, and the one that appears LAST in the text
// wins, because a response's final answer comes after its working:
//   - `\boxed{...}` / `\fbox{...}` (MATH, DAPO): the argument, nested braces and all;
//   - `#### x` (GSM8K): the rest of that line;
//   - "the answer is x" (any case, also "the final answer is"): the rest of that sentence.
// Every scan is linear in the response length.

import { closingBrace } from "./latex.js";

export type AnswerMarker = "boxed" | "hashes" | "answer-is";

export interface ExtractedAnswer {
  text: string;
  marker: AnswerMarker;
}

/** Answers longer than this are not answers (and would make normalisation needlessly expensive). */
export const MAX_ANSWER_CHARS = 1000;

interface Found {
  index: number;
  marker: AnswerMarker;
  /** Where the answer text starts: just past the marker. */
  from: number;
}

function lastBoxed(s: string): Found | undefined {
  const re = /\\(?:boxed|fbox)(?![A-Za-z])/g;
  let found: Found | undefined;
  for (let m = re.exec(s); m; m = re.exec(s)) found = { index: m.index, marker: "boxed", from: m.index + m[0].length };
  return found;
}

function lastHashes(s: string): Found | undefined {
  const i = s.lastIndexOf("####");
  return i < 0 ? undefined : { index: i, marker: "hashes", from: i + 4 };
}

function lastAnswerIs(s: string): Found | undefined {
  const re = /\banswer\s+is\b\s*:?/gi;
  let found: Found | undefined;
  for (let m = re.exec(s); m; m = re.exec(s)) found = { index: m.index, marker: "answer-is", from: m.index + m[0].length };
  return found;
}

function boxedArgument(s: string, from: number): string | undefined {
  let i = from;
  while (s[i] === " ") i++;
  if (s[i] === "{") {
    const close = closingBrace(s, i);
    return close < 0 ? undefined : s.slice(i + 1, close); // an unclosed last box (a truncated response) has no answer
  }
  // `\boxed 5`: TeX takes one token; we take the run up to whitespace or a math delimiter.
  const m = /^[^\s$]+/.exec(s.slice(i, i + MAX_ANSWER_CHARS + 1));
  return m?.[0];
}

function restOfLine(s: string, from: number): string {
  const nl = s.indexOf("\n", from);
  return s.slice(from, nl < 0 ? s.length : nl);
}

/** The sentence after "the answer is": inline math if it starts with `$` or `\(`, else up to ". " or the line end. */
function sentence(s: string, from: number): string {
  const line = restOfLine(s, from).trim();
  for (const [open, close] of [["$$", "$$"], ["$", "$"], ["\\(", "\\)"], ["\\[", "\\]"]] as const) {
    if (line.startsWith(open)) {
      const end = line.indexOf(close, open.length);
      if (end > 0) return line.slice(open.length, end);
    }
  }
  const stop = line.search(/\.(?:\s|$)/);
  return stop < 0 ? line : line.slice(0, stop);
}

const readers: Record<AnswerMarker, (s: string, from: number) => string | undefined> = {
  boxed: boxedArgument,
  hashes: (s, from) => restOfLine(s, from),
  "answer-is": sentence,
};

/** The final answer of a response, or undefined when it has none (or only an unclosed `\boxed{`). */
export function extractAnswer(response: string): ExtractedAnswer | undefined {
  const candidates = [lastBoxed(response), lastHashes(response), lastAnswerIs(response)];
  let last: Found | undefined;
  for (const c of candidates) if (c && (!last || c.index > last.index)) last = c;
  if (!last) return undefined;
  const text = readers[last.marker](response, last.from)?.trim();
  if (!text || text.length > MAX_ANSWER_CHARS) return undefined;
  return { text, marker: last.marker };
}

/**
 * The reference answer: datasets sometimes ship it boxed (`\boxed{3}`) or GSM8K-style (`... #### 3`);
 * then the marked part is the answer. A plain gold answer is used whole.
 */
export function goldAnswer(gold: string): string | undefined {
  const text = gold.trim();
  if (!text || text.length > 100 * MAX_ANSWER_CHARS) return undefined;
  if (/\\(?:boxed|fbox)(?![A-Za-z])|####/.test(text)) return extractAnswer(text)?.text;
  return text.length > MAX_ANSWER_CHARS ? undefined : text;
}
