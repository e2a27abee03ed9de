// Files of any size, in pieces: Node refuses a buffer over 2 GiB (readFileSync of a 3 GB checkpoint throws),
// and a typed array caps at 2^32 bytes. Reading is by range (a ByteSource over a file descriptor), hashing
// streams fixed-size chunks, writing appends parts one after another.
import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import type { ByteSource } from "@lspo/model";

/** Bytes per read or write call (well under the 2 GiB a single call may move). */
const CHUNK = 64 * 1024 * 1024;

/** An open file read by range; close() when done. A short read (the file shrank) names the file and range. */
export function fileSource(path: string): ByteSource & { close(): void } {
  const fd = openSync(path, "r");
  const byteLength = fstatSync(fd).size;
  return {
    byteLength,
    read(offset: number, length: number): Uint8Array {
      if (offset < 0 || length < 0 || offset + length > byteLength) {
        throw new RangeError(`${path}: bytes [${offset}, ${offset + length}) are outside the ${byteLength}-byte file`);
      }
      const out = new Uint8Array(length);
      for (let done = 0; done < length; ) {
        const n = readSync(fd, out, done, Math.min(CHUNK, length - done), offset + done);
        if (n === 0) throw new RangeError(`${path}: file ended at byte ${offset + done} while reading [${offset}, ${offset + length})`);
        done += n;
      }
      return out;
    },
    close: () => closeSync(fd),
  };
}

/** SHA-256 (hex) of a file, read in chunks: the same digest as hashing its bytes at once, for any size. */
export function hashFile(path: string): string {
  const fd = openSync(path, "r");
  try {
    const h = createHash("sha256");
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, CHUNK, pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
    return h.digest("hex");
  } finally {
    closeSync(fd);
  }
}

/** Writes parts one after another to a new file (each part in calls of at most CHUNK bytes). */
export function writeParts(path: string, parts: Iterable<Uint8Array>): void {
  const fd = openSync(path, "w");
  try {
    for (const part of parts) {
      for (let done = 0; done < part.byteLength; ) done += writeSync(fd, part, done, Math.min(CHUNK, part.byteLength - done));
    }
  } finally {
    closeSync(fd);
  }
}
