// A throwaway PKI for the security tests, made with the openssl CLI: a CA, a server certificate for
// 127.0.0.1/localhost, a client certificate (mutual TLS), and a second, unrelated CA with its own client
// certificate (a stranger: valid TLS, wrong trust). ECDSA P-256, one day, in a temporary directory.
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Pki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  strangerCa: string;
  strangerCert: string;
  strangerKey: string;
  /** A server certificate naming only DNS:lspo (what a pod's certificate names; pods are dialled by IP). */
  namedCert: string;
  namedKey: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${r.stderr}`);
}

function issue(cwd: string, name: string, subject: string, ca: string, caKey: string, ext: string): void {
  openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], cwd);
  writeFileSync(join(cwd, `${name}.ext`), ext);
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-days", "1", "-out", `${name}.crt`, "-extfile", `${name}.ext`], cwd);
}

function authority(cwd: string, name: string): void {
  openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${name}.key`, "-subj", `/CN=${name}`, "-days", "1", "-out", `${name}.crt`], cwd);
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "lspo-pki-"));
  authority(dir, "ca");
  authority(dir, "stranger-ca");
  issue(dir, "server", "/CN=lspo-server", "ca.crt", "ca.key", "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:lspo\nextendedKeyUsage=serverAuth,clientAuth\n");
  issue(dir, "client", "/CN=lspo-client", "ca.crt", "ca.key", "extendedKeyUsage=clientAuth\n");
  issue(dir, "stranger", "/CN=stranger", "stranger-ca.crt", "stranger-ca.key", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n");
  issue(dir, "named", "/CN=lspo", "ca.crt", "ca.key", "subjectAltName=DNS:lspo\nextendedKeyUsage=serverAuth,clientAuth\n");
  const p = (f: string) => join(dir, f);
  return {
    dir,
    ca: p("ca.crt"),
    serverCert: p("server.crt"),
    serverKey: p("server.key"),
    clientCert: p("client.crt"),
    clientKey: p("client.key"),
    strangerCa: p("stranger-ca.crt"),
    strangerCert: p("stranger.crt"),
    strangerKey: p("stranger.key"),
    namedCert: p("named.crt"),
    namedKey: p("named.key"),
  };
}

/** A certificate from `makePki()`'s CA naming `identity` as deploy/make-secrets.sh does (URI SAN), and its key. */
export function makeIdentityCert(identity: string, pki: Pki = makePki()): { cert: string; key: string; pki: Pki } {
  const name = `id-${identity}`;
  issue(pki.dir, name, `/CN=${identity}`, "ca.crt", "ca.key", `subjectAltName=URI:spiffe://lspo/${identity},DNS:lspo\nextendedKeyUsage=serverAuth,clientAuth\n`);
  return { cert: join(pki.dir, `${name}.crt`), key: join(pki.dir, `${name}.key`), pki };
}
