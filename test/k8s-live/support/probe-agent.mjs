// The kubelet's prober, one per node, started inside the node's network namespace so that every probe
// comes from the node's address as on a real cluster. Reads one JSON request per line on stdin
// ({id, ip, action, timeoutMs}) and answers {id, ok, message} per line on stdout. Plain JS: it starts
// in a fraction of the time tsx would take, and it runs for the whole check.
import { connect } from "node:net";
import http from "node:http";
import https from "node:https";
import { createInterface } from "node:readline";
import * as grpc from "@grpc/grpc-js";

/** grpc.health.v1.Health/Check, plaintext as the kubelet does: the request is an empty message or
 *  field 1 (service), the answer's field 1 is the status (1 = SERVING). */
function grpcCheck(ip, a, timeoutMs) {
  return new Promise((resolve) => {
    const client = new grpc.Client(`${ip}:${a.port}`, grpc.credentials.createInsecure());
    const svc = Buffer.from(a.service ?? "");
    const req = svc.length ? Buffer.concat([Buffer.from([0x0a, svc.length]), svc]) : Buffer.alloc(0);
    client.makeUnaryRequest("/grpc.health.v1.Health/Check", (b) => b, (b) => b, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      if (err) return resolve({ ok: false, message: `grpc: ${err.code} ${err.details || err.message}` });
      const status = res.length >= 2 && res[0] === 0x08 ? res[1] : 0;
      resolve({ ok: status === 1, message: `grpc status ${status}` });
    });
  });
}

function httpGet(ip, a, timeoutMs) {
  return new Promise((resolve) => {
    const lib = a.scheme === "HTTPS" ? https : http;
    const headers = Object.fromEntries((a.headers ?? []).map((h) => [h.name, h.value]));
    const req = lib.get({ host: a.host ?? ip, port: a.port, path: a.path, headers: { "User-Agent": "kube-probe/1.32", ...headers }, timeout: timeoutMs, rejectUnauthorized: false }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve({ ok: code >= 200 && code < 400, message: `http ${code}` });
    });
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", (e) => resolve({ ok: false, message: `http: ${e.message}` }));
  });
}

function tcp(ip, a, timeoutMs) {
  return new Promise((resolve) => {
    const s = connect({ host: a.host ?? ip, port: a.port });
    const t = setTimeout(() => (s.destroy(), resolve({ ok: false, message: `tcp: timeout after ${timeoutMs} ms` })), timeoutMs);
    s.on("connect", () => (clearTimeout(t), s.destroy(), resolve({ ok: true, message: "tcp open" })));
    s.on("error", (e) => (clearTimeout(t), resolve({ ok: false, message: `tcp: ${e.message}` })));
  });
}

const run = { grpc: grpcCheck, http: httpGet, tcp };
const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const { id, ip, action, timeoutMs } = JSON.parse(line);
  let r;
  try {
    r = await run[action.kind](ip, action, timeoutMs);
  } catch (e) {
    r = { ok: false, message: String(e?.message ?? e) };
  }
  process.stdout.write(JSON.stringify({ id, ...r }) + "\n");
});
lines.on("close", () => process.exit(0));
