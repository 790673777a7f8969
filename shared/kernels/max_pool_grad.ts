/**
 * A `MaxPoolGrad` kernel (the gradient of a 2D max pool) for the `cpu` and
 * `wasm` backends of tfjs 4.22: each output's dy goes to the first maximum
 * of its window in row-major order, as tfjs-backend-cpu routes it.
 *
 * The loops visit each window once with the channels innermost, where NHWC
 * data is contiguous. The wasm package's kernel took 613 ms for the stem
 * max pool of ResNet-18 at 224 px, batch 16 (2-core x86-64, Deno 2.9.6).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { kernelMemory, type MemoryBackendName } from "./kernel_memory.ts";

interface MaxPoolGradArgs {
  inputs: { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo };
  backend: unknown;
  attrs: {
    filterSize: [number, number] | number;
    strides: [number, number] | number;
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dimRoundingMode?: "floor" | "round" | "ceil";
  };
}

/** Adds each dy value onto the first maximum of its window; `dx` must be zeroed. */
export function maxPoolGradient(
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  dx: Float32Array,
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const best = new Float32Array(inChannels);
  const position = new Int32Array(inChannels);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        best.fill(-Infinity);
        position.fill(-1);
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight + kh - info.padInfo.top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth + kw - info.padInfo.left;
            if (iw < 0 || iw >= inWidth) continue;
            const base = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            for (let c = 0; c < inChannels; c++) {
              if (x[base + c] > best[c]) {
                best[c] = x[base + c];
                position[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * inChannels;
        for (let c = 0; c < inChannels; c++) {
          if (position[c] >= 0) dx[position[c]] += dy[dyBase + c];
        }
      }
    }
  }
}

/** Returns the `MaxPoolGrad` kernel function for `backendName`. */
export function maxPoolGradKernel(backendName: MemoryBackendName): tf.KernelFunc {
  const kernel = ({ inputs, backend, attrs }: MaxPoolGradArgs): tf.TensorInfo => {
    const memory = kernelMemory(backend, backendName);
    const x = inputs.input;
    const info = tf.backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterSize,
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
    );
    const dx = memory.allocate(x.shape);
    const dxValues = memory.values(dx);
    dxValues.fill(0);
    maxPoolGradient(memory.values(x), memory.values(inputs.dy), info, dxValues);
    return dx;
  };
  return kernel as unknown as tf.KernelFunc;
}
