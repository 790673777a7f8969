/**
 * An `Identity` kernel for the `wasm` backend of tfjs 4.22 that shares the
 * input's memory (one more reference) instead of copying it, as
 * tfjs-backend-cpu's does.
 *
 * tfjs-core clones, through `Identity`, every tensor that a gradient needs
 * later, so the package's copying kernel copied most activations of a
 * training step. That took 1.2 s of an 11 s ResNet-18 + CBAM step at 224
 * px, batch 16 (2-core x86-64, Deno 2.9.6). Sharing is safe because no kernel writes
 * into its inputs: wasm's own `Reshape` shares memory the same way.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

interface WasmBackend {
  incRef(dataId: tf.DataId): void;
}

/** Returns the wasm `Identity` kernel function; string tensors go to `original`. */
export function sharedIdentityKernel(original: tf.KernelFunc): tf.KernelFunc {
  return ((args: { inputs: { x: tf.TensorInfo }; backend: unknown }) => {
    const { x } = args.inputs;
    if (x.dtype === "string") return original(args as unknown as Parameters<tf.KernelFunc>[0]);
    (args.backend as WasmBackend).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }) as unknown as tf.KernelFunc;
}
