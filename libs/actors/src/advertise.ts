// Which host a server puts in the registry: the address other machines dial. A server bound to a
// concrete host advertises that host; one bound to every interface (0.0.0.0, the default) advertises
// LSPO_ADVERTISE_HOST when set, else the machine's first non-loopback IPv4, else a global IPv6 (link-local
// fe80:: is not routable without a zone), else loopback (a machine with no network: one host only).
import { networkInterfaces, type NetworkInterfaceInfo } from "node:os";

export type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>;

const ANY = new Set(["0.0.0.0", "::", "[::]"]);

export interface AdvertiseInputs {
  /** The host the server binds. */
  bindHost: string;
  /** An explicit choice (option or LSPO_ADVERTISE_HOST): wins over everything. */
  explicit?: string;
  /** Injected for tests; the machine's own table otherwise. */
  interfaces?: InterfaceTable;
}

export function advertisedHost({ bindHost, explicit, interfaces }: AdvertiseInputs): string {
  if (explicit !== undefined && explicit !== "") {
    if (ANY.has(explicit)) throw new Error(`advertise host '${explicit}' is not dialable: give the address other machines reach this one at`);
    return explicit;
  }
  if (!ANY.has(bindHost)) return bindHost.includes(":") && !bindHost.startsWith("[") ? `[${bindHost}]` : bindHost;
  const all = Object.values(interfaces ?? networkInterfaces()).flatMap((list) => list ?? []);
  const v4 = all.find((i) => i.family === "IPv4" && !i.internal);
  if (v4) return v4.address;
  const v6 = all.find((i) => i.family === "IPv6" && !i.internal && !/^fe[89ab]/i.test(i.address));
  if (v6) return `[${v6.address}]`;
  return "127.0.0.1";
}
