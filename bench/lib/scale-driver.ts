// The controller's side of one bench/scale.ts level, run as its own process on a host of the namespace
// cluster (scale-cluster.ts starts it there): it reaches NATS and the learner across the hosts' links.
//   argv: JSON { natsUrl, spec: LevelSpec, purge?: <run> }; purge empties a finished level's subjects first.
// Prints the LevelResult as its last stdout line; exits non-zero with the error otherwise.
import { connectBus } from "@lspo/bus";
import { measureLevel, purgeLevel, type LevelSpec } from "./scale-level.js";

const arg = JSON.parse(process.argv[2] ?? "null") as { natsUrl: string; spec: LevelSpec; purge?: string } | null;
if (!arg?.natsUrl || !arg.spec?.run) throw new Error(`scale-driver: bad argument ${process.argv[2]}: need { natsUrl, spec, purge? }`);
const nc = await connectBus({ url: arg.natsUrl, name: `bench-scale-driver-${arg.spec.run}` });
try {
  if (arg.purge) await purgeLevel(nc, arg.purge);
  console.log(JSON.stringify(await measureLevel(nc, arg.spec)));
} finally {
  await nc.close();
}
process.exit(0);
