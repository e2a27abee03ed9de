#!/usr/bin/env bash
# Runs the GPU benchmark from the kit that `node bench/gpu/pack.mjs` builds, on a machine with the NVIDIA driver
# but no Node.js, no node_modules and no network. Run from the repository root; arguments go to gpu-bench
# (e.g. `--quick`, `--providers cpu`). Environment:
#   KIT   the kit directory (default .gpu-kit)
#   OUT   where gpu-bench.json and gpu-bench.log go (default bench/results)
#   GPU_KIT_ROOT_FALLBACK=1   if WebGPU finds no adapter with the libraries on LD_LIBRARY_PATH, unpack them into /
#         and run ldconfig, then probe again (what worked on the device before; never set this on a shared machine)
#   GPU_KIT_CPU_ONLY_OK=1     go on when WebGPU was asked for but does not start (by default the script stops
#         with exit 4 after the probe, to save the device's minutes for a second try)
set -uo pipefail
KIT=${KIT:-.gpu-kit}
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
[ -f "$KIT/gpu-bench.mjs" ] || { echo "run-on-device: $KIT/gpu-bench.mjs missing: run 'node bench/gpu/pack.mjs' first" >&2; exit 2; }
[ -f bench/gpu/torch_cuda.py ] || { echo "run-on-device: run from the repository root" >&2; exit 2; }
main() {
  t0=$(date +%s)
  work=$(mktemp -d /tmp/gpu-kit.XXXXXX)
  echo "== unpack into $work"
  tar -xJf "$KIT/node.tar.xz" -C "$work" || return 3
  tar -xJf "$KIT/ort.tar.xz" -C "$work" || return 3
  cp "$KIT/gpu-bench.mjs" "$work/" || return 3
  export PATH="$work/bin:$PATH"
  echo "node $("$work/bin/node" --version) at $work/bin/node"

  # The Vulkan loader and glvnd into a private prefix, found through LD_LIBRARY_PATH.
  gl="$work/gl"
  for deb in "$KIT"/debs/*.deb; do dpkg -x "$deb" "$gl" || return 3; done
  libdir="$gl/usr/lib/x86_64-linux-gnu"
  export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # The driver's Vulkan ICD and EGL vendor files: where the device put them before, else the usual system places.
  for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$f" ]; then export VK_DRIVER_FILES="$f"; fi
  done
  for f in /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json /usr/share/glvnd/egl_vendor.d/10_nvidia.json; do
    if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -f "$f" ]; then export __EGL_VENDOR_LIBRARY_FILENAMES="$f"; fi
  done
  # The driver's own libraries (libGLX_nvidia.so.0, named by the ICD file) where they sit outside the linker's path.
  for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do
    [ -d "$d" ] && case ":$LD_LIBRARY_PATH:" in *":$d:"*) ;; *) export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d" ;; esac
  done

  echo "== diagnostics"
  uname -a
  nproc
  if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv; else echo "nvidia-smi: absent"; fi
  echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
  echo "__EGL_VENDOR_LIBRARY_FILENAMES=${__EGL_VENDOR_LIBRARY_FILENAMES:-unset}"
  echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  [ -n "${VK_DRIVER_FILES:-}" ] && cat "$VK_DRIVER_FILES"
  ls "$libdir" | tr '\n' ' '; echo
  if command -v vulkaninfo >/dev/null; then vulkaninfo --summary 2>&1 | head -40; else echo "vulkaninfo: absent"; fi
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tail -1

  bench() { "$work/bin/node" "$work/gpu-bench.mjs" "$@"; }
  case " $* " in *" --providers"*) wants_webgpu=$(echo " $* " | grep -c 'webgpu') ;; *) wants_webgpu=1 ;; esac
  if [ "$wants_webgpu" != 0 ]; then
    echo "== probe webgpu"
    probe() { bench --providers webgpu --probe-only --out "$OUT/gpu-probe.json"; }
    if ! probe; then
      if [ "${GPU_KIT_ROOT_FALLBACK:-0}" = 1 ] && [ "$(id -u)" = 0 ]; then
        echo "== webgpu did not start with LD_LIBRARY_PATH; unpacking the debs into / and running ldconfig"
        for deb in "$KIT"/debs/*.deb; do dpkg -x "$deb" /; done
        ldconfig
        probe
      else
        false
      fi
    fi || {
      # Without WebGPU the run would measure the CPU provider alone: not what a GPU node's minutes are for.
      echo "== webgpu does not start (why: $OUT/gpu-probe.json, and the lines above)."
      if [ "${GPU_KIT_CPU_ONLY_OK:-0}" != 1 ]; then
        echo "== stopping (exit 4); GPU_KIT_CPU_ONLY_OK=1 runs the rest anyway"
        rm -rf "$work"
        return 4
      fi
    }
  fi

  echo "== gpu-bench $*"
  bench --out "$OUT/gpu-bench.json" "$@"
  rc=$?
  echo "== done in $(( $(date +%s) - t0 )) s, gpu-bench exit $rc; results: $OUT/gpu-bench.json"
  rm -rf "$work"
  return $rc
}

# One pipe to tee for the whole run: the log is complete when the script returns.
main "$@" 2>&1 | tee -a "$OUT/gpu-bench.log"
exit "${PIPESTATUS[0]}"
