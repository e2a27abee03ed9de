// Execution providers selectable by config. `cpu` ships inside onnxruntime-node; `cuda` needs the CUDA EP
// binaries that onnxruntime-node's installer fetches only when asked; `webgpu` ships in the package but needs
// a GPU adapter (Dawn) at run time.
import { listSupportedBackends } from "onnxruntime-node";

export type Provider = "cpu" | "cuda" | "webgpu";

export class ProviderUnavailableError extends Error {
  override name = "ProviderUnavailableError";
}

interface ProviderInfo {
  /** What the user must have for this provider, quoted in errors. */
  needs: string;
}

export const PROVIDERS = {
  cpu: { needs: "nothing beyond onnxruntime-node" },
  cuda: {
    needs:
      "onnxruntime-node's CUDA EP binaries (libonnxruntime_providers_cuda.so, not shipped on npm: install with " +
      "`npm i onnxruntime-node --onnxruntime-node-install=cuda12`), CUDA 12 + cuDNN 9 libraries and an NVIDIA GPU",
  },
  webgpu: {
    needs:
      "a WebGPU-capable GPU adapter: on Linux/NVIDIA the driver, the Vulkan loader and glvnd libraries (libvulkan.so.1, " +
      "libEGL.so.1, libGLX.so.0, libGLdispatch.so.0, libOpenGL.so.0: Debian packages libvulkan1 libegl1 libglvnd0 " +
      "libopengl0 libgl1 libglx0 libgles2, as deploy/Dockerfile.webgpu installs) and VK_DRIVER_FILES naming the " +
      "driver's ICD file (e.g. /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json); elsewhere Metal or D3D12",
  },
} satisfies Record<Provider, ProviderInfo>;

export function checkProvider(name: string): Provider {
  if (!(name in PROVIDERS)) {
    throw new ProviderUnavailableError(`unknown execution provider '${name}'; valid: ${Object.keys(PROVIDERS).join(", ")}`);
  }
  const p = name as Provider;
  const backend = listSupportedBackends().find((b) => b.name === p);
  if (!backend) {
    throw new ProviderUnavailableError(
      `execution provider '${p}' is not built into this onnxruntime-node on ${process.platform}/${process.arch}; it needs ${PROVIDERS[p].needs}`,
    );
  }
  return p;
}

/** Rewrites onnxruntime's session-creation failure for a GPU provider into one that names what is missing. */
export function providerError(p: Provider, cause: unknown): Error {
  if (p === "cpu") return cause instanceof Error ? cause : new Error(String(cause));
  const msg = cause instanceof Error ? cause.message : String(cause);
  return new ProviderUnavailableError(`execution provider '${p}' is unavailable: it needs ${PROVIDERS[p].needs}. onnxruntime said: ${msg}`, {
    cause,
  });
}
