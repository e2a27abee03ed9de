// The PyTorch peers of the benchmarks refuse a BLAS that would make them many times slower (bench/lib/torch-blas.ts).
import { describe, expect, it } from "vitest";
import { checkPeerBlas } from "../bench/lib/torch-blas.js";

const lib = "/usr/lib/x86_64-linux-gnu";

describe("bench - the PyTorch peer's BLAS", () => {
  it("takes one OpenBLAS build", () => {
    expect(() => checkPeerBlas([`${lib}/openblas-openmp/libblas.so.3`, `${lib}/openblas-openmp/liblapack.so.3`, `${lib}/openblas-openmp/libopenblasp-r0.3.21.so`], "peer")).not.toThrow();
    expect(() => checkPeerBlas([`${lib}/openblas-pthread/libblas.so.3`, `${lib}/openblas-pthread/libopenblasp-r0.3.21.so`], "peer")).not.toThrow();
  });

  it("takes a BLAS linked into torch itself (pip's wheels), where nothing named blas is mapped, as its build names it", () => {
    expect(() => checkPeerBlas([], "peer", "mkl")).not.toThrow();
    expect(() => checkPeerBlas([], "peer", "open")).not.toThrow(); // OpenBLAS linked in (pip's arm64 wheels)
    expect(() => checkPeerBlas([], "peer", "generic")).toThrow(/no optimized BLAS/); // whatever FindBLAS found
    // Where a library is mapped, the mapping decides, whatever the build says (Debian's torch maps libblas.so.3).
    expect(() => checkPeerBlas([`${lib}/blas/libblas.so.3`], "peer", "mkl")).toThrow(/no optimized BLAS/);
  });

  it("refuses the reference BLAS, none, and two OpenBLAS builds mixed, naming what it saw and the fix", () => {
    expect(() => checkPeerBlas([`${lib}/blas/libblas.so.3`], "the decode peer")).toThrow(
      /the decode peer runs on \/usr\/lib\/x86_64-linux-gnu\/blas\/libblas\.so\.3: no optimized BLAS.*apt-get install libopenblas0-openmp.*--torch off/,
    );
    expect(() => checkPeerBlas([], "peer")).toThrow(/runs on no BLAS library it mapped \(torch's build names none\): no optimized BLAS/);
    expect(() => checkPeerBlas([`${lib}/openblas-openmp/libblas.so.3`, `${lib}/openblas-pthread/libopenblasp-r0.3.21.so`], "peer")).toThrow(
      /two OpenBLAS builds at once \(openmp and pthread\).*apt-get remove libopenblas0-pthread/,
    );
  });
});
