// Issue 20's attacker scenario on the namespace cluster (test/cluster's hosts): a training run across hosts,
// every component with its own identity from deploy/make-secrets.sh (NATS over TLS with the shipped
// per-identity permissions, gRPC mutual TLS with per-identity certificates and tokens), and beside it an
// attacker on a rollout host holding exactly the rollout identity's credentials (support/attacker.ts).
// While the attacker's fake learner is up, an operator swaps the algorithm through the registry (it must
// reach the real learner) and straight at the fake's address (the handshake must refuse it).
//
// Each host sees only its own directory, so each gets only its identity's files, as a pod gets only its
// Secret: the nats host the server's certificate and the passwords; every other host its own certificate,
// key, token, NATS password, the CA and the token digests.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { findNatsServerBinary } from "@lspo/bus";
import { Cluster, type Proc } from "../../cluster/support/cluster.js";
import { nodeTs, root } from "../../cluster/support/nats-cluster.js";
import { makeDeploymentSecrets, type DeploymentSecrets } from "./deployment-secrets.js";

const CLI = join(root, "services/controller/src/cli.ts");
const ATTACKER = join(root, "test/security/support/attacker.ts");
const RUN = "attack";
/** Named as the nats certificate names the server (deploy/make-secrets.sh: DNS:lspo-nats). */
const NATS_HOST = "lspo-nats";
const NATS_URL = `tls://${NATS_HOST}:4222`;

export interface AttackReport {
  attacker: { fake: string; learner: string; attempts: Array<{ attempt: string; outcome: string; detail?: string }>; captured: Array<{ method: string; authorization: string }> } | null;
  /** `lspo swap-algorithm` as the operator, through the registry: its exit code, output and log (stderr). */
  operatorSwap: { code: number | null; stdout: string; log: string };
  /** `lspo status --json` as the operator (its read-only NATS identity). */
  operatorStatus: { code: number | null; stdout: string };
  /** `lspo swap-algorithm --learner <the fake's address>` as the operator. */
  operatorToFake: { code: number | null; stdout: string; log: string };
  /** The controller's last stdout line (the run's result), parsed. */
  result: Record<string, unknown> | null;
  controllerExit: number | null;
  /** The checkpoints' sampler states the controller copied into its run dir (from the learner's object store,
   *  across hosts, under the shipped permissions): file names, with their sizes. */
  samplerCopies: Array<{ name: string; bytes: number }>;
  failures: string[];
  wallSeconds: number;
}

/** Copies `identity`'s credentials into a host's directory; returns the environment that points at them. */
function credentialsOn(secrets: DeploymentSecrets, dir: string, identity: string): Record<string, string> {
  const to = join(dir, "secrets");
  mkdirSync(to, { recursive: true });
  const files: Array<[string, string]> = [
    [secrets.ca, "ca.crt"], [secrets.cert(identity), "tls.crt"], [secrets.key(identity), "tls.key"],
    [secrets.tokenFile(identity), "token"], [secrets.natsPasswordFile(identity), "nats-password"], [secrets.digestsFile, "grpc-token-digests"],
  ];
  for (const [from, name] of files) copyFileSync(from, join(to, name));
  return {
    LSPO_NATS_URL: NATS_URL,
    LSPO_NATS_USER: identity,
    LSPO_NATS_PASSWORD_FILE: join(to, "nats-password"),
    LSPO_NATS_TLS_CA: join(to, "ca.crt"),
    LSPO_GRPC_TLS_CERT: join(to, "tls.crt"),
    LSPO_GRPC_TLS_KEY: join(to, "tls.key"),
    LSPO_GRPC_TLS_CA: join(to, "ca.crt"),
    LSPO_GRPC_TOKEN_FILE: join(to, "token"),
    LSPO_GRPC_TOKEN_DIGESTS_FILE: join(to, "grpc-token-digests"),
  };
}

async function until(what: string, fn: () => boolean, timeoutMs: number, failures: string[]): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) {
      failures.push(`timed out waiting for ${what}`);
      return false;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return true;
}

const logOf = (p: Proc) => (existsSync(p.log) ? readFileSync(p.log, "utf8") : "");

export async function runAttackScenario(opts: { steps: number }): Promise<AttackReport> {
  const t0 = Date.now();
  const failures: string[] = [];
  const secrets = makeDeploymentSecrets("lspo");
  const cluster = Cluster.create({ hosts: [NATS_HOST, "controller", "learner", "sampler", "verifier", "rollout-1", "rollout-2", "operator"], keepDirs: Boolean(process.env.LSPO_KEEP_ATTACK_DIRS) });
  try {
    // NATS: the shipped nats.conf and accounts.conf, with TLS from make-secrets' server certificate.
    const natsDir = cluster.host(NATS_HOST).dir;
    for (const f of ["nats.crt", "nats.key", "ca.crt"]) copyFileSync(join(secrets.dir, "tls", f), join(natsDir, f));
    copyFileSync(join(root, "deploy/nats/accounts.conf"), join(natsDir, "accounts.conf"));
    const shipped = readFileSync(join(root, "deploy/nats/nats.conf"), "utf8")
      .replace(/^http: .*$/m, "")
      .replace(/store_dir: .*$/m, `store_dir: "${join(natsDir, "js")}"`);
    writeFileSync(join(natsDir, "nats.conf"), `${shipped}\ntls { cert_file: "${join(natsDir, "nats.crt")}", key_file: "${join(natsDir, "nats.key")}", ca_file: "${join(natsDir, "ca.crt")}" }\n`);
    const passwords = Object.fromEntries(readFileSync(join(secrets.dir, "nats.env"), "utf8").trim().split("\n").map((l) => l.split("=", 2) as [string, string]));
    const nats = cluster.exec(NATS_HOST, findNatsServerBinary(), ["-c", join(natsDir, "nats.conf")], { name: "nats-server", env: passwords });
    if (!(await until("nats-server to listen", () => /Server is ready/.test(logOf(nats)), 30_000, failures))) return finish();

    // One agent per component host, each as its own identity, starting only its kind.
    const agent = (host: string, kind: string) => {
      const [node, args] = nodeTs(CLI, ["agent"]);
      return cluster.exec(host, node, args, {
        name: "lspo-agent",
        env: {
          ...credentialsOn(secrets, cluster.host(host).dir, kind),
          LSPO_NODE_NAME: host, LSPO_RUN_ID: RUN, LSPO_NODE_LABELS: `role=${kind}`, LSPO_AGENT_KINDS: kind,
          LSPO_ADVERTISE_HOST: cluster.host(host).ip, LSPO_AGENT_CPUS: "8",
          // The learner's checkpoints live on its own host's disk (the controller's run.dir is not there).
          LSPO_STATE_DIR: join(cluster.host(host).dir, "state"),
        },
      });
    };
    for (const [host, kind] of [["learner", "learner"], ["sampler", "sampler"], ["verifier", "verifier"], ["rollout-1", "rollout"], ["rollout-2", "rollout"]] as const) agent(host, kind);

    const controllerDir = cluster.host("controller").dir;
    const [node, trainArgs] = nodeTs(CLI, [
      "train", "-c", join(root, "configs/smoke.yaml"), "--quiet",
      `run.name=${RUN}`, `run.dir=${join(controllerDir, "runs")}`, `run.steps=${opts.steps}`, "run.timeoutS=600",
      "cluster.agents=remote", "rollout.actors=2", "verifier.actors=1",
      ...["learner", "sampler", "verifier", "rollout"].map((k) => `cluster.placement.${k}.nodeSelector.role=${k}`),
    ]);
    const controller = cluster.exec("controller", node, trainArgs, { name: "lspo-train", stdout: "pipe", env: credentialsOn(secrets, controllerDir, "controller") });
    let out = "";
    controller.child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    let controllerExit: number | null = null;
    void controller.exited.then((e) => (controllerExit = e.code ?? -1));

    // The attacker, on a rollout host beside a real rollout agent, with the rollout identity's files only.
    const rolloutDir = cluster.host("rollout-2").dir;
    const stopFile = join(rolloutDir, "attacker.stop");
    const [anode, aargs] = nodeTs(ATTACKER, [RUN, stopFile]);
    const attacker = cluster.exec("rollout-2", anode, aargs, { name: "attacker", stdout: "pipe", env: credentialsOn(secrets, rolloutDir, "rollout") });
    let attackerOut = "";
    attacker.child.stdout!.on("data", (d: Buffer) => (attackerOut += d.toString()));
    const ready = `${stopFile}.ready`;
    await until("the attacker's attempts", () => existsSync(ready) || !attacker.alive() || controllerExit !== null, 240_000, failures);
    if (!existsSync(ready)) failures.push(`the attacker did not finish its attempts (alive: ${attacker.alive()}, controller exit: ${controllerExit}): ${logOf(attacker).slice(-2000)}`);
    const fake = existsSync(ready) ? (JSON.parse(readFileSync(ready, "utf8")) as { fake: string }).fake : "";

    // The operator, from its own host: a swap through the registry, then one aimed at the fake learner.
    const operatorEnv = credentialsOn(secrets, cluster.host("operator").dir, "operator");
    const [onode, swapArgs] = nodeTs(CLI, ["swap-algorithm", "gspo", "--nats", NATS_URL, "--run", RUN]);
    const swapped = await cluster.run("operator", onode, swapArgs, { name: "swap-registry", env: operatorEnv, timeoutMs: 60_000 });
    const operatorSwap = { ...swapped, log: readFileSync(join(cluster.host("operator").dir, "logs", "swap-registry.log"), "utf8") };
    const [snode, statusArgs] = nodeTs(CLI, ["status", "--nats", NATS_URL, "--run", RUN, "--json"]);
    const operatorStatus = await cluster.run("operator", snode, statusArgs, { name: "status", env: operatorEnv, timeoutMs: 60_000 });
    if (controllerExit !== null) failures.push("the run ended before the operator's swap: make it longer");
    const [fnode, fakeArgs] = nodeTs(CLI, ["swap-algorithm", "gspo", "--learner", fake || "127.0.0.1:1"]);
    const toFake = await cluster.run("operator", fnode, fakeArgs, { name: "swap-fake", env: operatorEnv, timeoutMs: 60_000 });
    const fakeLog = readFileSync(join(cluster.host("operator").dir, "logs", "swap-fake.log"), "utf8");

    writeFileSync(stopFile, "");
    await until("the attacker's report", () => !attacker.alive(), 30_000, failures);
    await until("the run to end", () => controllerExit !== null, 10 * 60_000, failures);
    let result: Record<string, unknown> | null = null;
    try {
      result = JSON.parse(out.trim().split("\n").pop() ?? "");
    } catch {
      failures.push(`no result from the controller (exit ${controllerExit}): ${logOf(controller).slice(-3000)}`);
    }
    let report: AttackReport["attacker"] = null;
    try {
      report = JSON.parse(attackerOut.trim().split("\n").pop() ?? "");
    } catch {
      failures.push(`no report from the attacker: ${logOf(attacker).slice(-3000)}`);
    }
    const copiesDir = join(controllerDir, "runs", "sampler-states");
    const samplerCopies = existsSync(copiesDir) ? readdirSync(copiesDir).map((name) => ({ name, bytes: statSync(join(copiesDir, name)).size })) : [];
    return finish({ attacker: report, operatorSwap, operatorStatus, operatorToFake: { ...toFake, log: fakeLog }, result, controllerExit, samplerCopies });
  } finally {
    cluster.destroy();
  }

  function finish(r: Partial<AttackReport> = {}): AttackReport {
    return {
      attacker: null, operatorSwap: { code: null, stdout: "", log: "" }, operatorStatus: { code: null, stdout: "" }, operatorToFake: { code: null, stdout: "", log: "" }, result: null, controllerExit: null, samplerCopies: [],
      ...r, failures, wallSeconds: Math.round((Date.now() - t0) / 1000),
    };
  }
}
