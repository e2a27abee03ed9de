// The set of prompt uids the learner has trained on, saved with every checkpoint so that "trained twice"
// holds across restarts (the in-memory set alone forgot everything before the restart). Compact: the
// sorted uids, newline-joined, gzipped, base64 (uids share long prefixes, so gzip takes them to a few bytes
// each; a million uids is a few MB).
import { gunzipSync, gzipSync } from "node:zlib";

export function encodeTrainedUids(uids: Iterable<string>): string {
  return gzipSync(Buffer.from([...uids].sort().join("\n"), "utf8")).toString("base64");
}

/** Throws naming the field when the saved value is not what encodeTrainedUids wrote. */
export function decodeTrainedUids(saved: string | undefined, where: string): Set<string> {
  if (saved === undefined || saved === "") return new Set();
  let text: string;
  try {
    text = gunzipSync(Buffer.from(saved, "base64")).toString("utf8");
  } catch (err) {
    throw new Error(`${where}: trainedUids is not gzipped base64 (${(err as Error).message})`);
  }
  return new Set(text ? text.split("\n") : []);
}
