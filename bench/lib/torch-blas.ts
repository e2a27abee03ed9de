// The PyTorch peers' BLAS. Debian's python3-torch runs its products on whatever libblas.so.3 the system's
// alternatives name. With Debian's default, the reference libblas3, it is many times slower than with OpenBLAS,
// and so it is when the OpenMP build's libblas.so.3 resolves its core to the pthread build's library (both
// packages installed, alternatives set by hand): one OpenMP runtime and a second thread pool on two cores. Both
// happened on this machine after a reinstall. A ratio against such a peer would say nothing about ours, so a peer
// on them stops the bench instead of being recorded.

/** The names torch's build settings give an optimized BLAS (`BLAS_INFO=` in torch.__config__.show(), as PyTorch's
 *  cmake sets it: "open" is OpenBLAS, "generic" whatever FindBLAS found). */
const OPTIMIZED_BUILDS = /^(mkl|open|blis|accelerate|veclib)$/i;

/**
 * Throws, naming the libraries and the fix, unless `blas` (the libraries a peer mapped) is one optimized BLAS.
 * When nothing named blas is mapped, `built` (the BLAS torch's build names, or null) decides: PyTorch's pip
 * wheels link MKL (x86-64) or OpenBLAS (arm64) into libtorch itself, so their products run on an optimized BLAS
 * that no mapping shows.
 * Debian's python3-torch maps the system's libblas.so.3, so the mapping decides there.
 */
export function checkPeerBlas(blas: readonly string[], peer: string, built: string | null = null): void {
  const builds = new Set(blas.flatMap((path) => path.match(/openblas-(openmp|pthread|serial)/)?.[1] ?? []));
  const optimized = blas.some((path) => /openblas|mkl|blis/i.test(path));
  if (optimized && builds.size <= 1) return;
  if (blas.length === 0 && built !== null && OPTIMIZED_BUILDS.test(built)) return;
  const saw = blas.length ? blas.join(", ") : `no BLAS library it mapped (torch's build names ${built ?? "none"})`;
  const what = optimized ? `two OpenBLAS builds at once (${[...builds].join(" and ")})` : "no optimized BLAS";
  throw new Error(
    `${peer} runs on ${saw}: ${what}, where PyTorch is many times slower and the comparison would mean nothing. ` +
      "Install one OpenBLAS build (apt-get install libopenblas0-openmp; apt-get remove libopenblas0-pthread), or pass --torch off",
  );
}
