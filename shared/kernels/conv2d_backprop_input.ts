/**
 * A `Conv2DBackpropInput` kernel (the gradient of a convolution with respect
 * to its input) for the `cpu` and `wasm` backends of tfjs 4.22, computed as
 * one matrix product per chunk of output positions followed by col2im:
 *
 *   dx = col2im(dy [M, co] x W^T [co, kh * kw * ci])
 *
 * where W is the filter seen as a [kh * kw * ci, co] matrix and M counts
 * output positions. The product runs on the backend's own `BatchMatMul`
 * (XNNPACK's SIMD GEMM on wasm, which packs W^T once for all chunks). A 1x1,
 * stride-1, unpadded convolution needs no col2im: the product is dx.
 * tfjs-backend-wasm 4.22's own kernel is a plain C++ loop, about 4x slower
 * for ResNet-18's 3x3 convolutions (2-core x86-64, batch 16, 128 px).
 *
 * Only NHWC (`channelsLast`) data and dilation 1 are supported, which is what
 * tfjs-layers produces; other layouts throw.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  type KernelMemory,
  kernelMemory,
  matMul,
  type MemoryBackendName,
} from "./kernel_memory.ts";
import {
  col2imAdd,
  type ConvGeometry,
  isPointwise,
  type LoweringOptions,
  MAX_COLUMN_ELEMENTS,
  patchSize,
} from "./im2col.ts";

/** Inputs and attributes of `Conv2DBackpropInput`, as tfjs-core passes them. */
interface BackpropInputArgs {
  inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo };
  backend: unknown;
  attrs: {
    strides: [number, number] | number;
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
    inputShape: [number, number, number, number];
  };
}

/** Returns W^T as a new [co, k] tensor, from the [k, co] filter. */
function transposedFilter(
  memory: KernelMemory,
  filter: tf.TensorInfo,
  k: number,
  co: number,
): tf.TensorInfo {
  const filterT = memory.allocate([co, k]);
  const source = memory.values(filter);
  const target = memory.values(filterT);
  for (let i = 0; i < k; i++) {
    for (let c = 0; c < co; c++) target[c * k + i] = source[i * co + c];
  }
  return filterT;
}

/** Returns dx, a tensor of the input's shape. */
function inputGradient(
  memory: KernelMemory,
  { dy, filter, info }: {
    dy: tf.TensorInfo;
    filter: tf.TensorInfo;
    info: ConvGeometry & { inShape: [number, number, number, number] };
  },
  options: LoweringOptions,
): tf.TensorInfo {
  const k = patchSize(info);
  const co = info.outChannels;
  const rowsTotal = info.batchSize * info.outHeight * info.outWidth;
  const maxElements = options.maxColumnElements ?? MAX_COLUMN_ELEMENTS;
  const rowsPerChunk = Math.max(1, Math.floor(maxElements / k));
  const filterT = transposedFilter(memory, filter, k, co);
  if (isPointwise(info)) {
    const dx = matMul(memory, dy, filterT, { m: rowsTotal, k: co, n: k });
    memory.dispose(filterT);
    return { ...dx, shape: info.inShape };
  }
  const dx = memory.allocate(info.inShape);
  memory.values(dx).fill(0);
  for (let first = 0; first < rowsTotal; first += rowsPerChunk) {
    const end = Math.min(rowsTotal, first + rowsPerChunk);
    const m = end - first;
    const whole = m === rowsTotal;
    const dyRows = whole ? dy : memory.allocate([m, co]);
    if (!whole) memory.values(dyRows).set(memory.values(dy).subarray(first * co, end * co));
    const col = matMul(memory, dyRows, filterT, { m, k: co, n: k });
    if (!whole) memory.dispose(dyRows);
    col2imAdd(memory.values(col), info, [first, end], memory.values(dx));
    memory.dispose(col);
  }
  memory.dispose(filterT);
  return dx;
}

/** Returns the `Conv2DBackpropInput` kernel function for `backendName`. */
export function conv2dBackpropInputKernel(
  backendName: MemoryBackendName,
  options: LoweringOptions = {},
): tf.KernelFunc {
  const kernel = ({ inputs, backend, attrs }: BackpropInputArgs): tf.TensorInfo => {
    if (attrs.dataFormat === "NCHW") {
      throw new Error(
        "Conv2DBackpropInput: NCHW data is not supported by this kernel. Use NHWC (channelsLast).",
      );
    }
    const info = tf.backend_util.computeConv2DInfo(
      attrs.inputShape,
      inputs.filter.shape as [number, number, number, number],
      attrs.strides,
      1,
      attrs.pad,
      attrs.dimRoundingMode,
      false,
      "channelsLast",
    );
    const memory = kernelMemory(backend, backendName);
    const inShape = attrs.inputShape;
    return inputGradient(memory, { ...inputs, info: { ...info, inShape } }, options);
  };
  return kernel as unknown as tf.KernelFunc;
}
