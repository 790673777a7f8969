/**
 * Registers the gradient kernels that make the `cpu` and `wasm` backends of
 * tfjs 4.22 train every model the project builds, and train fast.
 *
 * | kernel                               | wasm          | cpu           |
 * | ------------------------------------ | ------------- | ------------- |
 * | `Conv2DBackpropFilter`               | added         | replaced      |
 * | `Conv2DBackpropInput`                | replaced      | tfjs's kept   |
 * | `DepthwiseConv2dNativeBackpropInput` | added         | replaced      |
 * | `DepthwiseConv2dNativeBackpropFilter`| added         | replaced      |
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
import { registerFastGradients } from "./gradients.ts";

type KernelFactory = (backendName: MemoryBackendName) => tf.KernelFunc;

/** The kernels registered for each backend. */
export const TRAINING_KERNELS: Record<MemoryBackendName, Record<string, KernelFactory>> = {
  wasm: {
    Conv2DBackpropFilter: conv2dBackpropFilterKernel,
    Conv2DBackpropInput: conv2dBackpropInputKernel,
    DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInputKernel,
    DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilterKernel,
  },
  cpu: {
    Conv2DBackpropFilter: conv2dBackpropFilterKernel,
    DepthwiseConv2dNativeBackpropInput: depthwiseBackpropInputKernel,
    DepthwiseConv2dNativeBackpropFilter: depthwiseBackpropFilterKernel,
  },
};

let registered = false;

/**
 * Registers {@linkcode TRAINING_KERNELS}, replacing any kernel of the same
 * name, and the gradients of gradients.ts. Idempotent. Call it before the first gradient is computed; backends
 * started earlier pick the kernels up too.
 */
export function registerTrainingKernels(): void {
  if (registered) return;
  registered = true;
  registerFastGradients();
  for (const backendName of ["wasm", "cpu"] as const) {
    for (const [kernelName, factory] of Object.entries(TRAINING_KERNELS[backendName])) {
      if (tf.getKernel(kernelName, backendName)) tf.unregisterKernel(kernelName, backendName);
      tf.registerKernel({ kernelName, backendName, kernelFunc: factory(backendName) });
    }
  }
}
