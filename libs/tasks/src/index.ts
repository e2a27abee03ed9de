// Public entry of @lspo/tasks: the math answer verifier (the RLVR reward), datasets and prompt
// templates, the shuffled cursor, and the synthetic reasoning task of the demo.

// Verifier
export { EXTRACT_MODES, extractAnswer, findAnswer, goldAnswer, MAX_ANSWER_CHARS } from "./verifier/extract.js";
export type { AnswerMarker, ExtractMode, ExtractedAnswer, Extraction } from "./verifier/extract.js";
export { normalizeAnswer } from "./verifier/normalize.js";
export { parseNumber } from "./verifier/numbers.js";
export type { ParsedNumber } from "./verifier/numbers.js";
export type { Rational } from "./verifier/rational.js";
export { DEFAULT_TIME_BUDGET_MS, answersEquivalent } from "./verifier/equivalence.js";
export type { Comparison, Equivalence, EquivalenceOptions } from "./verifier/equivalence.js";
export { DEFAULT_SYMBOLIC_OPTIONS, SymbolicChecker, sharedSymbolicChecker, symbolicBudget } from "./verifier/symbolic.js";
export type { SymbolicOp, SymbolicOptions, SymbolicOutcome } from "./verifier/symbolic.js";
export { DEFAULT_FLOAT_TOLERANCE, roundsTo } from "./verifier/tolerance.js";
export { splitRelation } from "./verifier/relations.js";
export type { Relation, RelationOp } from "./verifier/relations.js";
export { REWARD_SCHEMES, rewardScheme } from "./verifier/reward.js";
export type { RewardScheme, RewardSchemeName } from "./verifier/reward.js";
export { isCorrect, verifyResponse } from "./verifier/verify.js";
export type { Verdict, VerdictStatus, VerifyOptions } from "./verifier/verify.js";

// Datasets
export { DatasetConfigError, DatasetError } from "./datasets/errors.js";
export type { ChatMessage, TaskExample } from "./datasets/example.js";
export { SCHEMAS } from "./datasets/schemas.js";
export type { AnswerFormat, FieldMapping, SchemaName } from "./datasets/schemas.js";
export { datasetConfigSchema, parseDatasetConfig } from "./datasets/config.js";
export type { DatasetConfig, DatasetConfigInput } from "./datasets/config.js";
export { readJsonlRows } from "./datasets/read-jsonl.js";
export type { RawRow } from "./datasets/read-jsonl.js";
export { readParquetRows } from "./datasets/read-parquet.js";
export { loadDataset } from "./datasets/load.js";

// Prompt templates
export { PromptTemplateError, checkPlainTemplate, renderPlainPrompt } from "./prompts/plain.js";
export { createChatTemplate, loadChatTemplate } from "./prompts/chat.js";
export type { ChatTemplate, ChatTemplateOptions } from "./prompts/chat.js";

// Shuffled cursor
export { CursorStateError, ShuffledCursor, epochPermutation } from "./cursor.js";
export type { CursorState } from "./cursor.js";

// Synthetic reasoning task (the demo's)
export { LEVELS, LEVEL_NUMBERS } from "./synthetic/levels.js";
export type { Level, OpName } from "./synthetic/levels.js";
export { workedSolution } from "./synthetic/solution.js";
export type { Step, WorkedSolution } from "./synthetic/solution.js";
export { SYNTHETIC_CHARSET, drawProblem, splitOf, syntheticProblems, syntheticStream } from "./synthetic/problems.js";
export type { Split, SyntheticProblem, SyntheticTaskOptions } from "./synthetic/problems.js";

// Model directories (M2)
export { ModelDirError, readModelConfig, readModelDir, writeModelDir } from "./model-dir.js";
export { fileSource, hashFile, writeParts } from "./file-io.js";
