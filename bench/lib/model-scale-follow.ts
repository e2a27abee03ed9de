// The rollout actor's side of model-scale.ts's publish step, as its own process: loads the policy from a
// model directory, follows the run's weights pointer (WeightsFollower: every shard fetched and checked
// against its digest, the tensors assembled and swapped into the decoder), then greedily decodes a few
// tokens with the new weights. Prints timings and the content id it loaded as JSON.
//   node --import tsx model-scale-follow.ts <nats url> <model dir> <run id>
import { connectBus } from "@lspo/bus";
import { Policy, WeightsFollower } from "@lspo/rollout";

const [url, dir, runId] = process.argv.slice(2);
const t0 = performance.now();
const policy = await Policy.load({ modelDir: dir, device: "cpu", threads: 2 });
const loadS = (performance.now() - t0) / 1000;
const nc = await connectBus({ url, name: "model-scale-follow" });
const follower = await WeightsFollower.open(nc, runId);
const t1 = performance.now();
const synced = await follower.sync(policy);
const syncS = (performance.now() - t1) / 1000;
const ref = await follower.latest();
const t2 = performance.now();
const out = await policy.generate([[1, 2, 3, 4]], { maxNewTokens: 4 });
const decodeS = (performance.now() - t2) / 1000;
await nc.close();
console.log(JSON.stringify({ loadS, syncS, decodeS, synced, version: policy.version, contentId: ref?.sha256, tokens: out.tokens[0] }));
