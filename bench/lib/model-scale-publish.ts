// The learner's side of model-scale.ts's publish step, as its own process (so its peak RSS is its own):
// reads a model directory's weights and publishes them as one version through WeightsPublisher (the
// learner's code), then prints the pointer as JSON.
//   node --import tsx model-scale-publish.ts <nats url> <model dir> <run id> <F32|BF16> <shard MiB>
import { connectBus } from "@lspo/bus";
import { WeightsPublisher } from "@lspo/learner";
import { readModelDir } from "@lspo/tasks";

const [url, dir, runId, dtype, shardMb] = process.argv.slice(2);
const t0 = performance.now();
const model = readModelDir(dir);
const loadedS = (performance.now() - t0) / 1000;
const nc = await connectBus({ url, name: "model-scale-publish" });
const publisher = await WeightsPublisher.open(nc, runId, 1, 3, { dtype: dtype as "F32" | "BF16", maxShardBytes: Number(shardMb) * 2 ** 20 });
const t1 = performance.now();
const ref = await publisher.publish(model.weights, 1, 1);
const publishS = (performance.now() - t1) / 1000;
await nc.close();
console.log(JSON.stringify({ loadedS, publishS, sizeBytes: Number(ref.sizeBytes), shards: ref.shards.length, dtype: ref.dtype, contentId: ref.sha256 }));
