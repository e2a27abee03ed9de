// Files larger than any one buffer (Node's limit for readFileSync and one Buffer is 2 GiB): a safetensors
// file past 2 GiB is written from parts and parsed tensor by tensor through a ByteSource; a sparse file past
// 2 GiB hashes in chunks to the digest coreutils' sha256sum computes; streamed hashing equals one-shot
// hashing across chunk boundaries.
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync, statfsSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeEntry, parseSafetensors, safetensorsParts, serializeSafetensors, type Tensor } from "@lspo/model";
import { fileSource, hashFile, writeParts } from "@lspo/tasks";

// In memory where the machine has /dev/shm with room (the 2 GiB file then costs seconds, not a minute of disk).
const shmRoom = (() => {
  try {
    const st = statfsSync("/dev/shm");
    return st.bavail * st.bsize > 6 * 2 ** 30;
  } catch {
    return false;
  }
})();
const dir = mkdtempSync(join(shmRoom ? "/dev/shm" : tmpdir(), "lspo-file-io-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const f32 = (shape: number[], data?: number[]): Tensor<"float32"> => ({ dtype: "float32", shape, data: data ? Float32Array.from(data) : new Float32Array(shape.reduce((a, b) => a * b, 1)) });

describe("tasks - files larger than a buffer", { timeout: 120_000 }, () => {
  it("hashes in chunks to the same digest as hashing the bytes at once (a file of 2.5 chunks)", () => {
    const bytes = randomBytes(160 * 1024 * 1024 + 13); // the chunk is 64 MiB
    const path = join(dir, "random.bin");
    writeFileSync(path, bytes);
    expect(hashFile(path)).toBe(createHash("sha256").update(bytes).digest("hex"));
  });

  it("parts written one after another are the bytes serializeSafetensors makes", () => {
    const tensors: Array<[string, Tensor]> = [["b", f32([2, 3], [1, 2, 3, 4, 5, 6])], ["a", f32([4], [7, 8, 9, 10])]];
    const path = join(dir, "small.safetensors");
    writeParts(path, safetensorsParts(tensors, { format: "pt" }));
    const src = fileSource(path);
    try {
      expect(Buffer.from(src.read(0, src.byteLength)).equals(Buffer.from(serializeSafetensors(tensors, { format: "pt" })))).toBe(true);
      expect(() => src.read(src.byteLength - 2, 4)).toThrow(/bytes \[\d+, \d+\) are outside the \d+-byte file/);
    } finally {
      src.close();
    }
  });

  it("a safetensors file past 2 GiB is written from parts and read tensor by tensor", () => {
    // Two 1.06 GiB tensors of zeros (never touched, so the process does not hold them) and a marker that
    // lies past 2^31 bytes into the file: its offset is the thing a 32-bit read would get wrong.
    const big = 285_000_000;
    const tensors: Array<[string, Tensor]> = [["a.big0", f32([big])], ["a.big1", f32([big])], ["z.marker", f32([4], [1.5, -2, 3.25, 4e30])]];
    const path = join(dir, "big.safetensors");
    writeParts(path, safetensorsParts(tensors, { format: "pt" }));
    expect(statSync(path).size).toBeGreaterThan(2 ** 31);
    const src = fileSource(path);
    try {
      const file = parseSafetensors(src, path);
      expect([...file.tensors.keys()]).toEqual(["a.big0", "a.big1", "z.marker"]);
      expect(file.tensors.get("a.big1")!.shape).toEqual([big]);
      expect([...decodeEntry(file.tensors.get("z.marker")!).data]).toEqual([1.5, -2, 3.25, Math.fround(4e30)]);
    } finally {
      src.close();
    }
    rmSync(path);
  });

  it("hashes a file past 2 GiB (sparse) to the digest coreutils' sha256sum computes", () => {
    const path = join(dir, "sparse.bin");
    writeFileSync(path, "head");
    truncateSync(path, 2 ** 31 + 12_345); // a hole: no disk written, zeros read
    const want = execFileSync("sha256sum", [path], { encoding: "utf8" }).split(" ")[0];
    expect(hashFile(path)).toBe(want);
    rmSync(path);
  });
});
