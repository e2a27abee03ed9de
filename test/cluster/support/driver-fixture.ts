// A stand-in test driver for the teardown tests: builds a two-host cluster, starts processes (one of
// which leaves its process group, as a daemon would), prints what it made as one JSON line, and waits to
// be interrupted (SIGINT: its handlers must tear down) or killed (SIGKILL: the next run's sweep must).
import { Cluster } from "./cluster.js";

const cluster = Cluster.create({ hosts: ["alpha", "beta"] });
const procs = [
  cluster.exec("alpha", "sleep", ["1000"]),
  cluster.exec("beta", "sh", ["-c", "setsid sleep 1000 & sleep 1000"], { name: "daemon" }),
];
setTimeout(() => {
  process.stdout.write(JSON.stringify({ id: cluster.id, namespaces: cluster.namespaces, pids: procs.map((p) => p.pid), tmpDir: cluster.tmpDir }) + "\n");
}, 300);
setInterval(() => undefined, 1000);
