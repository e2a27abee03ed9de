// Finds the final answer in a model response, in one of two modes.
// strict (the default, for rewards): four markers, and the one that appears LAST in the text wins,
// because a response's final answer comes after its working:
//   - `\boxed{...}` / `\fbox{...}` (MATH, DAPO): the argument, nested braces and all; boxes that follow
//     one another with only commas, "and", "or" or spaces between (`\boxed{1}, \boxed{2}`) are one
//     answer, the list `1, 2`;
//   - `#### x` (GSM8K): the rest of that line;
//   - "the answer is x" (any case, also "the final answer is"): the rest of that sentence;
//   - "Final Answer: ..." (Minerva-style): that line, or what follows its last "is".
// lenient (evaluation, like other frameworks' graders): the same, and when no marker is found, the last
// math span (`$...$`, `\(...\)`, `\[...\]`) or the last number, whichever ends later.
// Every scan is linear in the response length.

import { closingBrace, isEscaped } from "./latex.js";

export type ExtractMode = "strict" | "lenient";
export const EXTRACT_MODES: readonly ExtractMode[] = ["strict", "lenient"];

export type AnswerMarker = "boxed" | "hashes" | "answer-is" | "final-answer" | "math" | "last-number";

export interface ExtractedAnswer {
  text: string;
  marker: AnswerMarker;
}

/** An answer, or why the response has none. */
export type Extraction = { answer: ExtractedAnswer; reason?: undefined } | { answer?: undefined; reason: string; marker?: AnswerMarker };

/** Answers longer than this are not answers (and would make normalisation needlessly expensive). */
export const MAX_ANSWER_CHARS = 1000;
/** Adjacent boxes joined into one list answer, at most. */
const MAX_JOINED_BOXES = 64;

interface Found {
  index: number;
  marker: AnswerMarker;
  /** Where the answer text starts: just past the marker. */
  from: number;
}

const BOX = /\\(?:boxed|fbox)(?![A-Za-z])/g;
/** What may stand between two boxes that together give one answer. */
const BETWEEN_BOXES = /^(?:[\s,;$]|\\[,;:! ]|\\q?quad|\\text\{\s*(?:and|or|,)\s*\}|\band\b|\bor\b)*$/;

function lastMatch(s: string, re: RegExp, marker: AnswerMarker): Found | undefined {
  re.lastIndex = 0;
  let found: Found | undefined;
  for (let m = re.exec(s); m; m = re.exec(s)) found = { index: m.index, marker, from: m.index + m[0].length };
  return found;
}

function lastHashes(s: string): Found | undefined {
  const i = s.lastIndexOf("####");
  return i < 0 ? undefined : { index: i, marker: "hashes", from: i + 4 };
}

/** The argument of a box whose name ends at `from`, and the index just past it. */
function boxArgument(s: string, from: number): { text: string; end: number } | undefined {
  let i = from;
  while (s[i] === " ") i++;
  if (s[i] === "{") {
    const close = closingBrace(s, i);
    return close < 0 ? undefined : { text: s.slice(i + 1, close), end: close + 1 };
  }
  // `\boxed 5`: TeX takes one token; we take the run up to whitespace or a math delimiter.
  const m = /^[^\s$]+/.exec(s.slice(i, i + MAX_ANSWER_CHARS + 1));
  return m ? { text: m[0], end: i + m[0].length } : undefined;
}

/** The last box's argument, joined with the boxes right before it when only separators stand between. */
function boxedAnswer(s: string, last: Found): string | undefined {
  const arg = boxArgument(s, last.from);
  if (!arg) return undefined; // an unclosed last box (a truncated response) has no answer
  const starts: Found[] = [];
  BOX.lastIndex = 0;
  for (let m = BOX.exec(s); m && m.index < last.index; m = BOX.exec(s)) starts.push({ index: m.index, marker: "boxed", from: m.index + m[0].length });
  const parts = [arg.text];
  let next = last.index;
  for (let k = starts.length - 1; k >= 0 && parts.length < MAX_JOINED_BOXES; k--) {
    const prev = boxArgument(s, starts[k].from);
    if (!prev || prev.end > next || !BETWEEN_BOXES.test(s.slice(prev.end, next))) break;
    parts.unshift(prev.text);
    next = starts[k].index;
  }
  return parts.join(", ");
}

function restOfLine(s: string, from: number): string {
  const nl = s.indexOf("\n", from);
  return s.slice(from, nl < 0 ? s.length : nl);
}

/** The sentence at `from`: inline math if it starts with `$` or `\(`, else up to ". " or the line end. */
function sentence(s: string, from: number): string {
  const line = restOfLine(s, from).trim();
  for (const [open, close] of [["$$", "$$"], ["$", "$"], ["\\(", "\\)"], ["\\[", "\\]"]] as const) {
    if (line.startsWith(open)) {
      let end = line.indexOf(close, open.length);
      while (end > 0 && isEscaped(line, end)) end = line.indexOf(close, end + 1); // `$\$5$`: the currency sign is text
      if (end > 0) return line.slice(open.length, end);
    }
  }
  const stop = line.search(/\.(?:\s|$)/);
  return stop < 0 ? line : line.slice(0, stop);
}

/** "Final Answer: The largest $n$ is 34." → `34`: the words after the line's last "is", else the line. */
function finalAnswer(s: string, from: number): string {
  let at = from;
  while (s[at] === " " || s[at] === "*") at++;
  if (s[at] === "\n") at++; // "Final Answer:\n5"
  const line = restOfLine(s, at);
  const is = [...line.matchAll(/\b(?:is|are|equals)\b\s*:?/g)].pop();
  return sentence(s, is ? at + is.index + is[0].length : at);
}

const readers: Record<"boxed" | "hashes" | "answer-is" | "final-answer", (s: string, found: Found) => string | undefined> = {
  boxed: boxedAnswer,
  hashes: (s, f) => restOfLine(s, f.from),
  "answer-is": (s, f) => sentence(s, f.from),
  "final-answer": (s, f) => finalAnswer(s, f.from),
};

const CLOSERS: Record<string, string> = { $$: "$$", $: "$", "\\(": "\\)", "\\[": "\\]" };

/** The last math span's content and end. Each closer is searched once per span, and never again once absent. */
function lastMathSpan(s: string): { text: string; end: number } | undefined {
  let last: { text: string; end: number } | undefined;
  const absent = new Set<string>();
  for (let i = 0; i < s.length; ) {
    const c = s[i];
    let open: string | undefined;
    if (c === "$" && !isEscaped(s, i)) open = s[i + 1] === "$" ? "$$" : "$";
    else if (c === "\\" && (s[i + 1] === "(" || s[i + 1] === "[") && !isEscaped(s, i)) open = s.slice(i, i + 2);
    if (!open || absent.has(open)) {
      i += open ? open.length : 1;
      continue;
    }
    let close = s.indexOf(CLOSERS[open], i + open.length);
    while (close > 0 && isEscaped(s, close)) close = s.indexOf(CLOSERS[open], close + 1);
    if (close < 0) {
      absent.add(open);
      i += open.length;
      continue;
    }
    const text = s.slice(i + open.length, close);
    if (text.trim() !== "") last = { text, end: close + CLOSERS[open].length }; // `$$` alone is no span
    i = close + CLOSERS[open].length;
  }
  return last;
}

/** In a span like `5 \times 3 = 15`, the value after the last `=`; a span like `y = 2x + 1` stays whole. */
function spanValue(text: string): string {
  const eq = text.lastIndexOf("=");
  const after = text.slice(eq + 1).trim();
  return eq >= 0 && after !== "" && !/[A-Za-z]/.test(after.replace(/\\(?:frac|dfrac|sqrt|cdot|times|pi|,)/g, "")) ? after : text;
}

const NUMBER = /-?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?![\d,])|-?\d+(?:\.\d+)?(?:\/\d+)?/g;

function lenientAnswer(s: string): ExtractedAnswer | undefined {
  const span = lastMathSpan(s);
  let number: { text: string; end: number } | undefined;
  NUMBER.lastIndex = 0;
  for (let m = NUMBER.exec(s); m; m = NUMBER.exec(s)) number = { text: m[0], end: m.index + m[0].length };
  if (number && (!span || number.end > span.end)) return { text: number.text, marker: "last-number" };
  return span ? { text: spanValue(span.text).trim(), marker: "math" } : undefined;
}

/** The final answer of a response, or why it has none. Never throws. */
export function findAnswer(response: string, mode: ExtractMode = "strict"): Extraction {
  const candidates = [
    lastMatch(response, BOX, "boxed"),
    lastHashes(response),
    lastMatch(response, /\banswer\s+is\b\s*:?/gi, "answer-is"),
    lastMatch(response, /\bfinal\s+answer\b(?:\*\*)?\s*:(?:\*\*)?/gi, "final-answer"),
  ];
  let last: Found | undefined;
  for (const c of candidates) if (c && (!last || c.index > last.index)) last = c;
  let answer: ExtractedAnswer | undefined;
  let reason: string | undefined;
  if (last) {
    const text = readers[last.marker as keyof typeof readers](response, last)?.trim();
    if (text) answer = { text, marker: last.marker };
    else reason = text === undefined ? "the last \\boxed{ is never closed (a truncated response?)" : `the answer after the last '${last.marker}' marker is empty`;
  } else {
    reason = "no final answer: no \\boxed{}, '####', 'the answer is' or 'Final Answer:' in the response";
  }
  if (!answer && mode === "lenient") {
    answer = lenientAnswer(response);
    if (!answer) reason = `${reason}; and no math span or number for lenient mode`;
  }
  if (!answer) return { reason: reason! };
  if (answer.text.length > MAX_ANSWER_CHARS) return { reason: `the answer is longer than ${MAX_ANSWER_CHARS} characters`, marker: answer.marker };
  return { answer };
}

/** The final answer of a response, or undefined when it has none (or only an unclosed `\boxed{`). */
export function extractAnswer(response: string, mode: ExtractMode = "strict"): ExtractedAnswer | undefined {
  return findAnswer(response, mode).answer;
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
