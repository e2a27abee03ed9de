// Answer normalisation: turns the many ways of writing one answer into one canonical string, so that
// `\$1,000.`, `1{,}000`, `1000 \text{ dollars}` and `\boxed{1000}`'s content all read `1000`. Each rule is
// a row in RULES, applied in order; the comment on each says what it is for and why it is safe.
// Input is capped (MAX_ANSWER_CHARS) by the caller, so the few quadratic corners here are bounded.

import { mapCommand, readArgument } from "./latex.js";

type Rule = readonly [name: string, apply: (s: string) => string];

/** Commands whose only job is typography: removed with no effect on the value. */
const SPACING = /\\[,;:! ]|\\(?:quad|qquad|displaystyle|textstyle|scriptstyle|limits|nolimits)(?![A-Za-z])|~/g;

/** Delimiter-sizing prefixes: `\left(` is `(`; `\left.` (an invisible delimiter) is nothing. */
const SIZING = /\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![A-Za-z])\.?/g;

const TEXT_COMMANDS = ["text", "textrm", "textbf", "textit", "mathrm", "mathbf", "mathit", "mbox", "operatorname"];

/** A plain number: what may stand before a unit written in `\text{}`. */
const NUMBERISH = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:\/\d+)?$|^[+-]?\\frac\{[^{}]*\}\{[^{}]*\}$/;

/**
 * `\text{...}` after a number is a unit (`5\text{ cm}`, `12 \mbox{apples}`): dropped. Anywhere else its
 * content is the answer's own words (`\text{(A)}`, `\text{no}`): kept, unwrapped. Dropping text that is
 * not after a number would turn `\text{no}` into an empty answer, which is why the rule is this narrow.
 */
function units(s: string): string {
  const withoutText = mapCommand(s, TEXT_COMMANDS, () => "").trim();
  if (withoutText !== s.trim() && NUMBERISH.test(withoutText)) return withoutText;
  return mapCommand(s, TEXT_COMMANDS, (arg) => arg);
}

/**
 * `\frac12` → `\frac{1}{2}` and `\sqrt2` → `\sqrt{2}` (TeX's single-token arguments), recursively, so
 * that the number parser and the CAS see one spelling. Depth is bounded by the input size cap.
 */
function braceArguments(s: string, depth = 0): string {
  if (depth > 20) return s;
  const re = /\\(frac|sqrt)(?![A-Za-z])/g;
  let out = "";
  let last = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    let i = m.index + m[0].length;
    let rendered = `\\${m[1]}`;
    const arity = m[1] === "frac" ? 2 : 1;
    if (m[1] === "sqrt" && s[i] === "[") {
      const close = s.indexOf("]", i);
      if (close < 0) continue;
      rendered += s.slice(i, close + 1);
      i = close + 1;
    }
    let ok = true;
    for (let k = 0; k < arity; k++) {
      const arg = readArgument(s, i);
      if (!arg) {
        ok = false;
        break;
      }
      rendered += `{${braceArguments(arg.text, depth + 1)}}`;
      i = arg.end;
    }
    if (!ok) continue;
    out += s.slice(last, m.index) + rendered;
    last = i;
    re.lastIndex = i;
  }
  return out + s.slice(last);
}

/** Removes whitespace, except a space that separates a control word from a following letter (`\pi r`). */
function removeSpaces(s: string): string {
  return s.replace(/(\\[A-Za-z]+)\s+(?=[A-Za-z])|\s+/g, (_, cmd: string | undefined) => (cmd ? `${cmd} ` : ""));
}

/** `{5}` → `5` when one group spans the whole answer. */
function outerBraces(s: string): string {
  while (s.startsWith("{") && s.endsWith("}")) {
    const arg = readArgument(s, 0);
    if (!arg || arg.end !== s.length) break;
    s = arg.text;
  }
  return s;
}

export const RULES: readonly Rule[] = [
  // Unicode that models and datasets emit for ASCII notions.
  ["unicode", (s) => s.replace(/[−–]/g, "-").replace(/×/g, "\\times ").replace(/·/g, "\\cdot ").replace(/°/g, "").replace(/\u00a0/g, " ")],
  // Math delimiters around the whole answer, then any leftover `$` (currency or math mode): neither is part of a value.
  ["math-delimiters", (s) => s.trim().replace(/^\\\(([\s\S]*)\\\)$|^\\\[([\s\S]*)\\\]$/, "$1$2")],
  ["dollars", (s) => s.replace(/\\?\$/g, "")],
  ["sizing", (s) => s.replace(SIZING, "")],
  ["spacing", (s) => s.replace(SPACING, " ")],
  // `\dfrac` and `\tfrac` are `\frac` at another size.
  ["frac-variants", (s) => s.replace(/\\[dt]frac(?![A-Za-z])/g, "\\frac")],
  // Degrees and percent signs are units of the number they follow (`90^\circ` is 90, `50\%` is 50):
  // the reference answers in GSM8K/MATH write the bare number.
  ["degrees", (s) => s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])/g, "")],
  ["percent", (s) => s.replace(/\\?%/g, "")],
  ["spaces", removeSpaces],
  ["brace-arguments", (s) => braceArguments(s)],
  ["units", units],
  // `1{,}000` is TeX's way of writing a thousands separator without the comma's math spacing.
  ["braced-comma", (s) => s.replace(/\{,\}/g, ",")],
  // A trailing full stop ends the sentence the answer was written in.
  ["full-stop", (s) => s.replace(/\.$/, "")],
  // A thousands separator only when the whole answer is one number grouped in threes: `1,000` is 1000,
  // `(1,000)` and `1,00` stay as they are (a pair, and not a grouping).
  ["thousands", (s) => (/^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s) ? s.replace(/,/g, "") : s)],
  ["outer-braces", outerBraces],
  // `x=5` answers `5` when the left side is one variable; `x+y=5` is an equation and is kept.
  ["variable-equals", (s) => s.replace(/^(?:[A-Za-z]|\\[A-Za-z]+)=(?!=)/, "")],
  ["plus-sign", (s) => s.replace(/^\+(?=[\d.\\])/, "")],
];

/** The canonical form of an answer (already extracted from its response). */
export function normalizeAnswer(answer: string): string {
  let s = answer;
  for (const [, apply] of RULES) s = apply(s);
  return s;
}
