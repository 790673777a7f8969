/**
 * A `Conv2DBackpropInput` kernel (the gradient of a convolution with respect
 * to its input) for the `cpu` and `wasm` backends of tfjs 4.22, built on the
 * backend's own fast kernels in one of three ways:
 *
 * - 1x1, stride 1, unpadded: dx = dy [M, co] x W^T [co, ci];
 * - other stride-1 convolutions (most 3x3 ones): the forward convolution of
 *   dy with the filter rotated by 180 degrees and its channels swapped,
 *   padded by kernel size - 1 - the original padding, on `Conv2D`;
 * - otherwise (stride 2): dx = col2im(dy [M, co] x W^T [co, kh * kw * ci]),
 *   one matrix product per chunk of output positions.
 *
 * W is the filter seen as a [kh * kw * ci, co] matrix and M counts output
 * positions. On wasm, `Conv2D` and `BatchMatMul` run on XNNPACK. The
 * package's own wasm kernel is a plain C++ loop: in a ResNet-18 + CBAM
 * training step at 64 px, batch 6, it took 617 ms against 151 ms for the
 * matrix-product version (2-core x86-64, Deno 2.9.6).
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

/**
 * Returns the filter rotated by 180 degrees with input and output channels
 * swapped, [kh, kw, co, ci], which turns a stride-1 input gradient into a
 * forward convolution of dy.
 */
function flippedFilter(
  memory: KernelMemory,
  filter: tf.TensorInfo,
  info: ConvGeometry,
): tf.TensorInfo {
  const { filterHeight, filterWidth, inChannels, outChannels } = info;
  const flipped = memory.allocate([filterHeight, filterWidth, outChannels, inChannels]);
  const source = memory.values(filter);
  const target = memory.values(flipped);
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      const from = ((filterHeight - 1 - kh) * filterWidth + (filterWidth - 1 - kw)) * inChannels;
      const to = (kh * filterWidth + kw) * outChannels;
      for (let ci = 0; ci < inChannels; ci++) {
        for (let co = 0; co < outChannels; co++) {
          target[(to + co) * inChannels + ci] = source[(from + ci) * outChannels + co];
        }
      }
    }
  }
  return flipped;
}

/**
 * Padding of the forward convolution that computes a stride-1 input
 * gradient: kernel size - 1 - the original padding on each side, or
 * undefined when a side would be negative (padding wider than the kernel).
 */
function transposedPadding(info: ConvGeometry): tf.backend_util.ExplicitPadding | undefined {
  const { top, bottom, left, right } = info.padInfo;
  const rows = [info.filterHeight - 1 - top, info.filterHeight - 1 - bottom];
  const columns = [info.filterWidth - 1 - left, info.filterWidth - 1 - right];
  if ([...rows, ...columns].some((pad) => pad < 0)) return undefined;
  return [[0, 0], rows as [number, number], columns as [number, number], [0, 0]];
}

/**
 * Computes a stride-1 input gradient as the forward convolution of dy with
 * the flipped filter, on the backend's own `Conv2D` kernel (XNNPACK on
 * wasm, which also uses its thread pool). Returns undefined when it does
 * not apply.
 */
function inputGradientByConvolution(
  memory: KernelMemory,
  { dy, filter, info }: { dy: tf.TensorInfo; filter: tf.TensorInfo; info: ConvGeometry },
): tf.TensorInfo | undefined {
  const pad = transposedPadding(info);
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || !pad) return undefined;
  const flipped = flippedFilter(memory, filter, info);
  const dx = memory.run("Conv2D", { x: dy, filter: flipped }, {
    strides: 1,
    pad,
    dataFormat: "NHWC",
    dilations: 1,
  });
  memory.dispose(flipped);
  return dx;
}

/** Returns dx, a tensor of the input's shape, through a matrix product and col2im. */
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
    if (options.stride1ByConvolution !== false && !isPointwise(info)) {
      const dx = inputGradientByConvolution(memory, { ...inputs, info });
      if (dx) return dx;
    }
    return inputGradient(memory, { ...inputs, info: { ...info, inShape } }, options);
  };
  return kernel as unknown as tf.KernelFunc;
}
