/**
 * Registers the kernels that make the `cpu` and `wasm` backends of tfjs 4.22
 * train every model the project builds, and train fast.
 *
 * | kernel                                | wasm        | cpu         |
 * | ------------------------------------- | ----------- | ----------- |
 * | `Conv2DBackpropFilter`                | added       | replaced    |
 * | `Conv2DBackpropInput`                 | replaced    | tfjs's kept |
 * | `DepthwiseConv2dNativeBackpropInput`  | added       | replaced    |
 * | `DepthwiseConv2dNativeBackpropFilter` | added       | replaced    |
 * | `MaxPoolGrad`                         | replaced    | replaced    |
 * | `Sum`, `Mean`, `Max`                  | wrapped     | tfjs's kept |
 * | `Identity`                            | wrapped     | tfjs's kept |
 *
 * "Wrapped" kernels handle the common case and pass every other one to the
 * package's kernel: reductions over leading or middle axes (reductions.ts),
 * and `Identity` of numeric tensors, which shares memory (identity.ts). The
 * `FusedBatchNorm` and `Max` gradients are replaced for every backend
 * (gradients.ts).
 *
 * tfjs-backend-cpu's own `Conv2DBackpropInput` is kept because the
 * matrix-product version is slower on cpu, whose `BatchMatMul` is plain
 * JavaScript: 774 ms against 509 ms for a 3x3, 64-channel convolution of a
 * [8, 32, 32, 64] input (2-core x86-64, Deno 2.9.6).
 *
 * @example
 * ```ts
 * import { registerTrainingKernels } from "./register.ts";
 * registerTrainingKernels();
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { conv2dBackpropFilterKernel } from "./conv2d_backprop_filter.ts";
import { conv2dBackpropInputKernel } from "./conv2d_backprop_input.ts";
import {
  depthwiseBackpropFilterKernel,
  depthwiseBackpropInputKernel,
} from "./depthwise_conv2d_backprop.ts";
import type { MemoryBackendName } from "./kernel_memory.ts";
import { maxPoolGradKernel } from "./max_pool_grad.ts";
import { reductionKernel, type ReductionName } from "./reductions.ts";
import { sharedIdentityKernel } from "./identity.ts";
import { registerFastGradients } from "./gradients.ts";

type KernelFactory = (backendName: MemoryBackendName) => tf.KernelFunc;

/** The kernels registered for each backend, besides the wrapped reductions. */
export const TRAINING_KERNELS: Record<MemoryBackendName, Record<string, KernelFactory>> = {
  wasm: {
    Conv2DBackpropFilter: conv2dBackpropFilterKernel,
    Conv2DBackpropInput: conv2dBackpropInputKernel,
    DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInputKernel,
    DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilterKernel,
    MaxPoolGrad: maxPoolGradKernel,
  },
  cpu: {
    Conv2DBackpropFilter: conv2dBackpropFilterKernel,
    DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInputKernel,
    DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilterKernel,
    MaxPoolGrad: maxPoolGradKernel,
  },
};

const WRAPPED_REDUCTIONS: readonly ReductionName[] = ["Sum", "Mean", "Max"];

function replaceKernel(config: tf.KernelConfig): void {
  if (tf.getKernel(config.kernelName, config.backendName)) {
    tf.unregisterKernel(config.kernelName, config.backendName);
  }
  tf.registerKernel(config);
}

function wrapWasmKernel(name: string, wrap: (original: tf.KernelFunc) => tf.KernelFunc): void {
  const original = tf.getKernel(name, "wasm");
  if (!original) throw new Error(`tfjs-backend-wasm has no ${name} kernel to wrap.`);
  replaceKernel({ ...original, kernelFunc: wrap(original.kernelFunc) });
}

/**
 * Wraps wasm's reductions and `Identity`. A wrapper keeps the package's
 * `setupFunc`, which binds the C++ function when the backend starts, so the
 * fallback works whether the backend started before or after this call.
 */
function wrapWasmKernels(): void {
  for (const name of WRAPPED_REDUCTIONS) {
    wrapWasmKernel(name, (original) => reductionKernel(name, original));
  }
  wrapWasmKernel("Identity", sharedIdentityKernel);
}

let registered = false;

/**
 * Registers {@linkcode TRAINING_KERNELS}, replacing any kernel of the same
 * name, the wrapped reductions and the gradients of gradients.ts.
 * Idempotent. Backends that started earlier use the new kernels too.
 */
export function registerTrainingKernels(): void {
  if (registered) return;
  registered = true;
  registerFastGradients();
  wrapWasmKernels();
  for (const backendName of ["wasm", "cpu"] as const) {
    for (const [kernelName, factory] of Object.entries(TRAINING_KERNELS[backendName])) {
      replaceKernel({ kernelName, backendName, kernelFunc: factory(backendName) });
    }
  }
}
