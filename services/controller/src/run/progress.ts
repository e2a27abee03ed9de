// The run's progress line: step, reward, accuracy, kept fraction, tokens/s, policy lag. A real bar on a
// terminal (cli-progress), one plain line per step elsewhere (CI logs, pipes).
import cliProgress from "cli-progress";

export interface ProgressState {
  step: number;
  reward: number;
  accuracy: number | null;
  kept: number | null;
  tokensPerSecond: number;
  lag: number;
  algorithm: string;
}

export class Progress {
  private readonly bar: cliProgress.SingleBar | null;
  private lastStep = -1;

  constructor(private readonly total: number) {
    this.bar = process.stderr.isTTY
      ? new cliProgress.SingleBar(
          {
            format: "train |{bar}| {value}/{total} steps | {algorithm} | reward {reward} | acc {accuracy} | kept {kept} | {tps} tok/s | lag {lag}",
            stream: process.stderr,
            hideCursor: true,
          },
          cliProgress.Presets.shades_classic,
        )
      : null;
    this.bar?.start(total, 0, this.payload({ step: 0, reward: 0, accuracy: null, kept: null, tokensPerSecond: 0, lag: 0, algorithm: "" }));
  }

  private payload(s: ProgressState) {
    return {
      reward: s.reward.toFixed(3),
      accuracy: s.accuracy === null ? "-" : `${(100 * s.accuracy).toFixed(1)}%`,
      kept: s.kept === null ? "-" : `${(100 * s.kept).toFixed(0)}%`,
      tps: s.tokensPerSecond.toFixed(0),
      lag: s.lag,
      algorithm: s.algorithm,
    };
  }

  update(s: ProgressState): void {
    if (this.bar) {
      this.bar.update(s.step, this.payload(s));
    } else if (s.step !== this.lastStep) {
      const p = this.payload(s);
      process.stderr.write(
        `step ${s.step}/${this.total} | ${p.algorithm} | reward ${p.reward} | acc ${p.accuracy} | kept ${p.kept} | ${p.tps} tok/s | lag ${p.lag}\n`,
      );
    }
    this.lastStep = s.step;
  }

  stop(): void {
    this.bar?.stop();
  }
}
