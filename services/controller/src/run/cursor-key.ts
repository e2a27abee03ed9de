// The run's data cursor (KV key `<run>.cursor`): where the prompt source stands, written each time prompts go
// out, and what a resume reads first. It is written by compare-and-set on the revision this controller last
// read or wrote, so that a write can never land in a store that no longer holds the run. After the store is
// lost the bucket is made anew, empty, by whoever opens it first. A cursor put there would make a resume take
// the new store for the run's whole one, while its streams hold none of the run.
import { encodeEnvelope, retryTransient, type openKv } from "@lspo/bus";
import { CasFailure, ControllerSuperseded, RunStoreLost, patiently, storeLostMessage } from "./lease.js";

type KV = Awaited<ReturnType<typeof openKv>>;

export class CursorKey {
  private constructor(
    private readonly kv: KV,
    readonly key: string,
    private revision: number | null,
  ) {}

  /** Takes the key's revision as it stands (none: the first write creates it). */
  static async open(kv: KV, runId: string): Promise<CursorKey> {
    const key = `${runId}.cursor`;
    const e = await retryTransient(() => kv.get(key));
    return new CursorKey(kv, key, e && e.operation === "PUT" ? e.revision : null);
  }

  async write(state: unknown): Promise<void> {
    const bytes = encodeEnvelope("Cursor", state);
    const revision = this.revision;
    try {
      this.revision = await patiently(() => (revision === null ? this.kv.create(this.key, bytes) : this.kv.update(this.key, bytes, revision)));
    } catch (err) {
      if (!(err instanceof CasFailure)) throw err;
      const now = await retryTransient(() => this.kv.get(this.key));
      // Our own write, which landed although its reply was lost (then retried, and refused).
      if (now && now.operation === "PUT" && Buffer.compare(Buffer.from(now.value), Buffer.from(bytes)) === 0) {
        this.revision = now.revision;
        return;
      }
      if (!now) {
        throw new RunStoreLost(storeLostMessage(`the run's data cursor (KV key ${this.key})`, "the key is gone, with no trace of a delete"));
      }
      throw new ControllerSuperseded(`the run's data cursor (KV key ${this.key}) was ${now.operation === "PUT" ? "written" : "deleted"} by another controller since this one last wrote it; this one stands down`);
    }
  }
}
