// A nats-server killed before it wrote a consumer's state forgets what that consumer was delivered and acked
// since the last write (it writes the state at most every 100 ms), and delivers those messages again, as first
// deliveries, once it is back. This makes that loss certain: keep a copy of the consumer's state file while the
// server is quiet, then, later, freeze the server (SIGSTOP: it writes nothing more), put the copy back, and kill
// it (SIGKILL) and start it again on its store. The messages themselves are kept: the server writes each one to
// its file before it answers the publish.
import { copyFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { NatsServer } from "@lspo/bus";

export interface ForgettableState {
  /** Puts the kept state back under a frozen server, then kills the server and starts it again. */
  forget(): Promise<void>;
}

/** Keeps a copy of `consumer`'s state (on `stream`) as the server has it written now. */
export async function keepConsumerState(server: NatsServer, stream: string, consumer: string): Promise<ForgettableState> {
  // The server writes a consumer's state at most every 100 ms: let it write what it has, then copy it.
  await new Promise((r) => setTimeout(r, 500));
  const root = join(server.storeDir, "jetstream");
  const account = readdirSync(root).find((a) => readdirSync(join(root, a)).includes("streams"));
  if (!account) throw new Error(`no JetStream account directory under ${root}`);
  const file = join(root, account, "streams", stream, "obs", consumer, "o.dat");
  const copy = `${file}.kept`;
  copyFileSync(file, copy);
  return {
    async forget() {
      process.kill(server.pid, "SIGSTOP");
      copyFileSync(copy, file);
      await server.restart("SIGKILL");
    },
  };
}
