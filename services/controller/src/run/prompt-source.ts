// Where a run's prompts come from: a training pool (the synthetic task, or a dataset) walked by a seeded
// shuffled cursor that checkpoints with the run, and a disjoint held-out set for evaluation. Every prompt
// a run requests gets a unique uid (`<example id>@<epoch>.<position>`), so a prompt drawn again in a later
// epoch is a new group, and a retried publish of the same request is the same message id.
import type { RunConfig } from "@lspo/config";
import {
  ShuffledCursor, loadDataset, renderPlainPrompt, splitOf, syntheticProblems,
  type CursorState, type SyntheticTaskOptions, type TaskExample,
} from "@lspo/tasks";

export interface PromptItem {
  uid: string;
  text: string;
  answer: string;
  cursor: number;
}

export interface PromptSourceState {
  cursor: CursorState;
  requested: number;
}

function syntheticOptions(config: RunConfig): SyntheticTaskOptions {
  const s = config.task.synthetic as Partial<SyntheticTaskOptions>;
  return { ...s, seed: s.seed ?? config.run.seed };
}

export class PromptSource {
  private readonly cursor: ShuffledCursor;
  requested: number;

  private constructor(
    readonly train: TaskExample[],
    readonly heldOut: TaskExample[],
    private readonly template: string,
    seed: number,
    state?: PromptSourceState,
  ) {
    this.cursor = state ? ShuffledCursor.restore(state.cursor) : new ShuffledCursor(train.length, seed >>> 0);
    this.requested = state?.requested ?? 0;
  }

  static async create(config: RunConfig, state?: PromptSourceState): Promise<PromptSource> {
    const template = config.task.template;
    if (config.task.kind === "synthetic") {
      const opts = syntheticOptions(config);
      return new PromptSource(
        syntheticProblems("train", config.task.poolSize, opts),
        syntheticProblems("test", config.eval.prompts, opts),
        template,
        config.run.seed,
        state,
      );
    }
    const ds = config.task.dataset as { path?: string; testPath?: string; testFraction?: number } & Record<string, unknown>;
    if (!ds.path) throw new Error("task.dataset.path is required when task.kind is 'dataset'");
    const { testPath, testFraction, ...loadOptions } = ds;
    const all = await loadDataset(loadOptions as never);
    let train = all;
    let test: TaskExample[];
    if (testPath) {
      test = await loadDataset({ ...loadOptions, path: testPath } as never);
    } else {
      // No test file: hold out by a hash of the prompt, as the synthetic task does.
      const frac = testFraction ?? 0.05;
      const key = (e: TaskExample) => (typeof e.prompt === "string" ? e.prompt : JSON.stringify(e.prompt));
      test = all.filter((e) => splitOf(key(e), frac) === "test");
      train = all.filter((e) => splitOf(key(e), frac) === "train");
    }
    return new PromptSource(train, test.slice(0, config.eval.prompts), template, config.run.seed, state);
  }

  render(example: TaskExample): string {
    return renderPlainPrompt(this.template, example.prompt);
  }

  next(): PromptItem {
    const { epoch, position } = this.cursor.state();
    const index = this.cursor.next();
    const ex = this.train[index];
    const item = { uid: `${ex.id}@${epoch}.${position}`, text: this.render(ex), answer: ex.answer, cursor: this.requested };
    this.requested++;
    return item;
  }

  state(): PromptSourceState {
    return { cursor: this.cursor.state(), requested: this.requested };
  }
}
