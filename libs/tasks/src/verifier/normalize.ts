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

const TEXT_COMMANDS = [
  "text", "textrm", "textbf", "textit", "textnormal", "textsf", "texttt", "textup", "mathrm", "mathbf", "mathit",
  "mathsf", "mathtt", "mathnormal", "mbox", "operatorname",
];

/** A plain number: what may stand before a unit written in `\text{}`. */
const NUMBERISH = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:\/\d+)?$|^[+-]?\\frac\{[^{}]*\}\{[^{}]*\}$/;

/** A `\text{}` of words only at the very end, after something else: a unit (`3\sqrt{2}\text{cm}`). */
const TRAILING_UNIT = new RegExp(`^([\\s\\S]*?\\S)\\\\(?:${TEXT_COMMANDS.join("|")})\\{\\s*([A-Za-z][A-Za-z ./]*)\\}(?:\\^(?:\\{[23]\\}|[23]))?$`);

/** Does a unit's text hold an operator word (`\text{ squared}`): then it is arithmetic, not a unit. */
function arithmetic(words: string): boolean {
  return words.split(/[^A-Za-z]+/).some((w) => OPERATOR_WORDS.has(w.toLowerCase()));
}

/**
 * `\text{...}` after a number is a unit (`5\text{ cm}`, `12 \mbox{apples}`, `3\text{ m}^2`): dropped; so is
 * a trailing `\text{}` of words after an expression (`\frac{\pi}{3}\text{ radians}`). Anywhere else its
 * content is the answer's own words (`\text{(A)}`, `\text{no}`): kept, unwrapped. Dropping text that is
 * not after a value would turn `\text{no}` into an empty answer, which is why the rule is this narrow;
 * operator words (`\text{ squared}`) are never units.
 */
function units(s: string): string {
  let words = "";
  const withoutText = mapCommand(s, TEXT_COMMANDS, (arg) => ((words += ` ${arg}`), "\u0000"))
    .replace(/\u0000(?:\^(?:\{[23]\}|[23]))?/g, "")
    .trim();
  if (!arithmetic(words)) {
    if (withoutText !== s.trim() && NUMBERISH.test(withoutText)) return withoutText;
    const trailing = TRAILING_UNIT.exec(s.trim());
    if (trailing && !new RegExp(`\\\\(?:${TEXT_COMMANDS.join("|")})\\{`).test(trailing[1])) return trailing[1];
  }
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

/**
 * Removes whitespace, except: one space between a control word and a letter (`\pi r`); one space between
 * two digits (`2 3` is two numbers, never 23: numbers.ts refuses it, or reads `4 4/9` as a mixed
 * number); one space after a comma between digits (`1, 234` is a list, never 1234: the thousands rule
 * below only joins `1,234` written without a space).
 */
function removeSpaces(s: string): string {
  return s
    .replace(/([_^])(\d)\s+/g, "$1{$2}") // `\log_2 8`: a one-digit script is one TeX token, not a number
    .replace(/(\d)\s+(?=\d)/g, "$1\u0000")
    .replace(/(\d,)\s+(?=\d)/g, "$1\u0000")
    .replace(/(\\[A-Za-z]+)\s+(?=[A-Za-z])|\s+/g, (_, cmd: string | undefined) => (cmd ? `${cmd} ` : ""))
    .replace(/\u0000/g, " ");
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

/** Currency signs: like `\$`, never part of a value. */
const CURRENCY = /[€£¥₹]|\\(?:euro|pounds|yen)(?![A-Za-z])/g;

/**
 * Percent written as a word after a number (`28 percent`, `28 per cent`, `28 pct`, `28 percentage
 * points`): the same unit as `%`, removed for the same reason.
 */
const PERCENT_WORDS = /([\d}.])\s*(?:per\s?cent(?:age)?|percentage(?:\s+points?)?|pct)\.?(?![A-Za-z])/gi;

/**
 * Unit words written plainly after a number (`5 miles`, `12 apples`, `3 m^2`, `4 km/h`): dropped when
 * the whole answer is the number and the words. Words of four letters or more are taken as units; shorter
 * ones only from this list, so that `2 xy` (a product) keeps its variables; never an operator word.
 */
const SHORT_UNITS = new Set([
  "cm", "mm", "km", "kg", "mg", "ml", "mL", "lb", "lbs", "oz", "ft", "in", "yd", "yds", "mi", "mph", "kph",
  "hr", "hrs", "min", "sec", "day", "cal", "per", "sq", "cu", "cc", "usd", "USD", "EUR", "kW", "kWh", "km/h", "m/s",
]);
/** One-letter units only with a power (`4 m^2`, `4 m²`): a bare `3 m` may be the product 3m. */
const POWERED_UNITS = new Set(["m", "L"]);
/** Words that make the answer arithmetic, not a unit: `3 squared` is 9, `10 choose 3` is 120. */
const OPERATOR_WORDS = new Set([
  "plus", "minus", "times", "over", "choose", "squared", "cubed", "root", "roots", "power", "factorial", "mod",
  "modulo", "divided", "sqrt", "and", "or", "to", "than", "less", "more",
]);
function plainUnits(s: string): string {
  const m = /^([+-]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:\/\d+)?)\s+([A-Za-z][A-Za-z/.\s]*?)(\^\{?[23]\}?)?\.?$/.exec(s.trim());
  if (!m) return s;
  const words = m[2].trim().split(/\s+/);
  const powered = m[3] !== undefined && words.length === 1 && POWERED_UNITS.has(words[0]);
  const unit = (w: string) => !OPERATOR_WORDS.has(w.toLowerCase()) && (w.length >= 4 || SHORT_UNITS.has(w.replace(/\.$/, "")));
  return powered || words.every(unit) ? m[1] : s;
}

/** `1\,234` and `1{,}234` group digits only in well-formed threes; such separators are joined first. */
const TEX_GROUPED = /(?<![\d.])\d{1,3}(?:(?:\\,|\{,\})\d{3})+(?!\d)/g;

/** Every spelling of a relation, to one: `\geq`, `>=`, `≥` are `\ge`; `\lt` is `<`. */
const RELATIONS: readonly [RegExp, string][] = [
  [/\\(?:geq?|geqslant)(?![A-Za-z])|>=|≥/g, "\\ge "],
  [/\\(?:leq?|leqslant)(?![A-Za-z])|<=|≤/g, "\\le "],
  [/\\(?:neq?)(?![A-Za-z])|!=|≠/g, "\\ne "],
  [/\\lt(?![A-Za-z])/g, "<"],
  [/\\gt(?![A-Za-z])/g, ">"],
];

/** Matrix environments that mean the same matrix (bracket style only); `vmatrix` (a determinant) is not one. */
const MATRIX_ENV = /\\(begin|end)\{(?:bmatrix|Bmatrix|matrix|smallmatrix)\}/g;

export const RULES: readonly Rule[] = [
  // Unicode that models and datasets emit for ASCII notions.
  ["unicode", (s) => s.replace(/[−–]/g, "-").replace(/×/g, "\\times ").replace(/·/g, "\\cdot ").replace(/÷/g, "\\div ").replace(/°/g, "")
    .replace(/[\u00a0\u2009\u202f]/g, " ").replace(/²/g, "^2").replace(/³/g, "^3")],
  // Math delimiters around the whole answer, then any leftover `$` (currency or math mode): neither is part of a value.
  ["math-delimiters", (s) => s.trim().replace(/^\\\(([\s\S]*)\\\)$|^\\\[([\s\S]*)\\\]$/, "$1$2")],
  ["dollars", (s) => s.replace(/\\?\$/g, "")],
  ["currency", (s) => s.replace(CURRENCY, "")],
  // Before `\,` becomes a space: a well-formed TeX grouping is one number.
  ["tex-digit-groups", (s) => s.replace(TEX_GROUPED, (g) => g.replace(/\\,|\{,\}/g, ""))],
  ["sizing", (s) => s.replace(SIZING, "")],
  // A row break `\\` is protected first: its second backslash is not the start of `\ ` (a space).
  ["spacing", (s) => s.replace(/\\\\/g, "\u0001").replace(SPACING, " ").replace(/\u0001/g, "\\\\")],
  // `\dfrac`, `\tfrac` and `\cfrac` (with its optional alignment) are `\frac` at another size.
  ["frac-variants", (s) => s.replace(/\\cfrac\[[lrc]\]/g, "\\frac").replace(/\\[dtc]frac(?![A-Za-z])/g, "\\frac")],
  ["relations", (s) => RELATIONS.reduce((t, [re, to]) => t.replace(re, to), s)],
  ["matrix-environments", (s) => s.replace(MATRIX_ENV, (_, which: string) => `\\${which}{pmatrix}`)],
  // Degrees and percent signs are units of the number they follow (`90^\circ` is 90, `50\%` is 50):
  // the reference answers in GSM8K/MATH write the bare number.
  ["degrees", (s) => s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ(?![A-Za-z])/g, "")],
  ["percent", (s) => s.replace(/\\?%/g, "").replace(PERCENT_WORDS, "$1")],
  ["plain-units", plainUnits],
  ["spaces", removeSpaces],
  ["brace-arguments", (s) => braceArguments(s)],
  ["units", units],
  // `1{,}000` is TeX's way of writing a thousands separator without the comma's math spacing.
  ["braced-comma", (s) => s.replace(/\{,\}/g, ",")],
  // Trailing punctuation ends the sentence the answer was written in (`5.`, `5,`, `x=3;`).
  ["trailing-punctuation", (s) => s.replace(/(?:\\text\{[.,;:]\}|[.,;:])+$/, "")],
  // A thousands separator only when the whole answer is one number grouped in threes: `1,000` is 1000,
  // `(1,000)` and `1,00` stay as they are (a pair, and not a grouping); `1, 000` kept its space above
  // and is a list.
  ["thousands", (s) => (/^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$/.test(s) ? s.replace(/,/g, "") : s)],
  ["outer-braces", outerBraces],
  ["plus-sign", (s) => s.replace(/^\+(?=[\d.\\])/, "")],
];

/** The canonical form of an answer (already extracted from its response). */
export function normalizeAnswer(answer: string): string {
  let s = answer;
  for (const [, apply] of RULES) s = apply(s);
  return s;
}
