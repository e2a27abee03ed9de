// gRPC TLS by name, not by address: actors register and are dialled by pod IP, which no certificate names, so
// clients check the server certificate against the deployment's fixed name (default "lspo",
// LSPO_GRPC_TLS_SERVER_NAME). A certificate naming only DNS:lspo must serve a client dialling 127.0.0.1, and a
// client expecting another name must be refused.
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectClient, grpcSecurityFrom, startGrpcServer, unary, type RunningServer } from "@lspo/actors";
import { NodeAgentServiceService } from "@lspo/proto";
import { makePki, type Pki } from "./support/pki.js";

let pki: Pki;
let server: RunningServer;

beforeAll(async () => {
  pki = makePki();
  server = await startGrpcServer(
    [{ name: "lspo.v1.NodeAgentService", definition: NodeAgentServiceService, implementation: { listActors: unary(async () => ({ actors: [] })) } }],
    { host: "127.0.0.1", port: 0, tls: { cert: pki.namedCert, key: pki.namedKey, ca: pki.ca } },
  );
});
afterAll(async () => server?.stop());

describe("security - gRPC TLS server name", () => {
  it("verifies the deployment name, not the dialled IP address", async () => {
    const ok = connectClient(NodeAgentServiceService, `127.0.0.1:${server.port}`, { tlsCa: pki.ca, tlsCert: pki.clientCert, tlsKey: pki.clientKey, deadlineMs: 5000 });
    expect(await ok.call.listActors({})).toEqual({ actors: [] });
    ok.close();
  });

  it("refuses a server whose certificate lacks the name the client expects", async () => {
    const other = connectClient(NodeAgentServiceService, `127.0.0.1:${server.port}`, { tlsCa: pki.ca, tlsCert: pki.clientCert, tlsKey: pki.clientKey, tlsServerName: "lspo-other", deadlineMs: 3000 });
    await expect(other.call.listActors({})).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
    other.close();
  });

  it("LSPO_GRPC_TLS_SERVER_NAME sets the name clients expect", () => {
    const sec = grpcSecurityFrom({ grpcTlsCert: "", grpcTlsKey: "", grpcTlsCa: "", grpcTokenFile: "" } as never, { LSPO_GRPC_TLS_CA: pki.ca, LSPO_GRPC_TLS_SERVER_NAME: "lspo-prod" });
    expect(sec.client.tlsServerName).toBe("lspo-prod");
  });
});
