/**
 * Chooses and initializes a TensorFlow.js backend: `cpu`, `wasm` (SIMD
 * WebAssembly) or `webgpu` (Deno's native WebGPU).
 *
 * `auto` takes WebGPU only when the adapter is a hardware one. A software
 * adapter such as Mesa's llvmpipe runs WebGPU kernels on the CPU, about 30x
 * slower than wasm for a ResNet-18 forward pass (measured on a 2-core x86-64
 * machine, tfjs 4.22, Deno 2.9.6), so `auto` falls back and logs the reason.
 *
 * @example
 * ```ts
 * import { useBackend } from "./backend.ts";
 * const choice = await useBackend("auto", { training: true });
 * console.log(choice.backend, choice.reason);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import "@tensorflow/tfjs-backend-webgpu";
import { registerTrainingKernels } from "./kernels/register.ts";
import { startThreadedWasm } from "./kernels/wasm_threads.ts";

/** A backend name accepted on the command line. */
export type BackendName = "auto" | "cpu" | "wasm" | "webgpu";

/**
 * Reason that `auto` logs when it trains on wasm. The speed comes from
 * `deno task bench:train` (docs/BENCHMARKS.md), ResNet-18 + CBAM on wasm and cpu.
 */
const WASM_TRAINING_REASON =
  "wasm has every gradient kernel the models need and trains ResNet-18 + CBAM faster than cpu " +
  "(see docs/BENCHMARKS.md)";

/** The backends that {@linkcode useBackend} can start. */
export const BACKEND_NAMES: readonly BackendName[] = ["auto", "cpu", "wasm", "webgpu"];

/** The backend that was started and why it was chosen. */
export interface BackendChoice {
  backend: Exclude<BackendName, "auto">;
  reason: string;
}

/** Description of Deno's WebGPU adapter. */
export interface WebGpuAdapterInfo {
  available: boolean;
  isSoftware: boolean;
  description: string;
}

/** Options for {@linkcode useBackend}. */
export interface UseBackendOptions {
  /**
   * Whether the backend must run gradients. tfjs-backend-wasm 4.22 ships no
   * `Conv2DBackpropFilter` kernel; {@linkcode useBackend} registers one from
   * shared/kernels, so wasm trains too. Default: `false`.
   */
  training?: boolean;
}

let wasmPathsSet = false;

function configureWasmPaths(): void {
  if (wasmPathsSet) return;
  const entry = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
  setWasmPaths(new URL("./", entry).href);
  wasmPathsSet = true;
}

/**
 * Reports whether WebGPU has an adapter and whether it is a software one.
 * Never throws: a missing `navigator.gpu` or a failed request reads as
 * unavailable.
 */
export async function describeWebGpuAdapter(): Promise<WebGpuAdapterInfo> {
  const gpu = (globalThis.navigator as { gpu?: GPU } | undefined)?.gpu;
  if (!gpu) return { available: false, isSoftware: false, description: "navigator.gpu is missing" };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { available: false, isSoftware: false, description: "no WebGPU adapter" };
    const info = adapter.info;
    const text = [info.vendor, info.architecture, info.device, info.description]
      .filter(Boolean).join(" ");
    const isSoftware = (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true ||
      /llvmpipe|lavapipe|swiftshader|software|cpu/i.test(text);
    return { available: true, isSoftware, description: text || "unnamed adapter" };
  } catch (error) {
    return { available: false, isSoftware: false, description: String(error) };
  }
}

/**
 * Gradient kernels that training the project's networks (ResNet and
 * MobileNetV2, with or without CBAM) needs beyond the forward kernels.
 */
export const TRAINING_GRADIENT_KERNELS: readonly string[] = [
  "Conv2DBackpropFilter",
  "Conv2DBackpropInput",
  "DepthwiseConv2dNativeBackpropInput",
  "DepthwiseConv2dNativeBackpropFilter",
  "MaxPoolGrad",
];

/** Returns the kernels of {@linkcode TRAINING_GRADIENT_KERNELS} that `backend` lacks. */
export function missingTrainingKernels(backend: Exclude<BackendName, "auto">): string[] {
  registerTrainingKernels();
  return TRAINING_GRADIENT_KERNELS.filter((kernel) => !tf.getKernel(kernel, backend));
}

function resolveCpuBackend(options: UseBackendOptions, why: string): BackendChoice {
  if (!options.training) {
    return { backend: "wasm", reason: `${why}; wasm is the fastest CPU backend for inference` };
  }
  const missing = missingTrainingKernels("wasm");
  if (missing.length > 0) {
    return {
      backend: "cpu",
      reason: `${why}; wasm lacks the gradient kernels ${missing.join(", ")}, so cpu trains`,
    };
  }
  return { backend: "wasm", reason: `${why}; ${WASM_TRAINING_REASON}` };
}

async function resolveAuto(options: UseBackendOptions): Promise<BackendChoice> {
  const adapter = await describeWebGpuAdapter();
  if (adapter.available && !adapter.isSoftware) {
    const missing = options.training ? missingTrainingKernels("webgpu") : [];
    const reason = `hardware WebGPU adapter: ${adapter.description}`;
    if (missing.length === 0) return { backend: "webgpu", reason };
    return resolveCpuBackend(
      options,
      `${reason}, but webgpu lacks the gradient kernels ${missing.join(", ")}`,
    );
  }
  const why = adapter.available
    ? `the WebGPU adapter is a software one (${adapter.description}), slower than the CPU backends`
    : `WebGPU is unavailable (${adapter.description})`;
  return resolveCpuBackend(options, why);
}

/**
 * Starts a backend and makes it the current one. Throws an `Error` naming the
 * backend when it cannot start (for example `webgpu` without an adapter).
 */
export async function useBackend(
  name: BackendName,
  options: UseBackendOptions = {},
): Promise<BackendChoice> {
  if (!BACKEND_NAMES.includes(name)) {
    throw new Error(`Unknown backend "${name}". Use one of: ${BACKEND_NAMES.join(", ")}.`);
  }
  const choice = name === "auto"
    ? await resolveAuto(options)
    : { backend: name, reason: "requested" } as BackendChoice;
  if (choice.backend === "wasm") configureWasmPaths();
  // tfjs prints a "use tfjs-node" banner when it detects Node.js; that advice
  // does not apply to Deno.
  tf.env().set("IS_NODE", false);
  // With IS_NODE off, tfjs-backend-wasm picks its threaded build, whose
  // workers fail to start under Deno's node:worker_threads. Training starts
  // it through the workarounds in kernels/wasm_threads.ts; everything else
  // keeps the single-threaded SIMD build.
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  registerTrainingKernels();

  if (choice.backend === "wasm" && options.training) {
    choice.reason += `; ${(await startThreadedWasm()).message}`;
  }
  const ok = await tf.setBackend(choice.backend);
  await tf.ready();
  if (!ok || tf.getBackend() !== choice.backend) {
    throw new Error(
      `Backend "${choice.backend}" failed to start. ` +
        (choice.backend === "webgpu"
          ? "WebGPU needs a GPU driver or Mesa's software Vulkan driver (Debian: mesa-vulkan-drivers)."
          : "Try --backend cpu."),
    );
  }
  return choice;
}
