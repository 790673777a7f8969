/**
 * A `Conv2DBackpropFilter` kernel (the gradient of a convolution with respect
 * to its filter) for the `cpu` and `wasm` backends of tfjs 4.22.
 * tfjs-backend-wasm 4.22 has no such kernel at all, and tfjs-backend-cpu's
 * reads every element through `TensorBuffer.get`.
 *
 * On wasm it is one matrix product per chunk of output positions:
 *
 *   dW [kh * kw * ci, co] = col^T [kh * kw * ci, M] x dy [M, co]
 *
 * where col is the im2col matrix of x (see im2col.ts) and M counts output
 * positions. The product runs on wasm's `BatchMatMul`, XNNPACK's SIMD GEMM.
 * col^T is built through small blocks of im2col rows that are transposed
 * while they are still in cache. Chunks bound its size to
 * {@linkcode MAX_COLUMN_ELEMENTS}. On cpu, plain loops are faster
 * ({@linkcode filterGradientByLoops}).
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
  type ConvGeometry,
  im2col,
  type LoweringOptions,
  MAX_COLUMN_ELEMENTS,
  patchSize,
} from "./im2col.ts";

/** Inputs and attributes of `Conv2DBackpropFilter`, as tfjs-core passes them. */
interface BackpropFilterArgs {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: unknown;
  attrs: {
    strides: [number, number] | number;
    pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
    dataFormat: "NHWC" | "NCHW";
    dimRoundingMode?: "floor" | "round" | "ceil";
    filterShape: [number, number, number, number];
  };
}

/**
 * im2col rows transposed at a time. 32 beat 16 and 64 for ResNet-18's
 * 3x3 layers (2-core x86-64), and 32 rows of a 3x3x512 patch take 576 KiB.
 */
const TRANSPOSE_BLOCK_ROWS = 32;

/** Writes rows [first, end) of col^T: colT[tap, row - first], for every tap. */
function im2colTransposed(
  x: Float32Array,
  info: ConvGeometry,
  rows: [number, number],
  colT: Float32Array,
  scratch: Float32Array,
): void {
  const k = patchSize(info);
  const m = rows[1] - rows[0];
  for (let block = rows[0]; block < rows[1]; block += TRANSPOSE_BLOCK_ROWS) {
    const blockEnd = Math.min(rows[1], block + TRANSPOSE_BLOCK_ROWS);
    const blockRows = blockEnd - block;
    im2col(x, info, [block, blockEnd], scratch);
    const column = block - rows[0];
    for (let tap = 0; tap < k; tap++) {
      const target = tap * m + column;
      for (let r = 0; r < blockRows; r++) colT[target + r] = scratch[r * k + tap];
    }
  }
}

/** Returns dW as a [kh * kw * ci, co] tensor. */
function filterGradient(
  memory: KernelMemory,
  { x, dy, info }: { x: tf.TensorInfo; dy: tf.TensorInfo; info: ConvGeometry },
  options: LoweringOptions,
): tf.TensorInfo {
  const k = patchSize(info);
  const co = info.outChannels;
  const rowsTotal = info.batchSize * info.outHeight * info.outWidth;
  const maxElements = options.maxColumnElements ?? MAX_COLUMN_ELEMENTS;
  const rowsPerChunk = Math.max(1, Math.floor(maxElements / k));
  const scratch = new Float32Array(TRANSPOSE_BLOCK_ROWS * k);
  let sum: tf.TensorInfo | undefined;
  for (let first = 0; first < rowsTotal; first += rowsPerChunk) {
    const end = Math.min(rowsTotal, first + rowsPerChunk);
    const m = end - first;
    const whole = m === rowsTotal;
    const colT = memory.allocate([k, m]);
    const dyRows = whole ? dy : memory.allocate([m, co]);
    if (!whole) memory.values(dyRows).set(memory.values(dy).subarray(first * co, end * co));
    im2colTransposed(memory.values(x), info, [first, end], memory.values(colT), scratch);
    const product = matMul(memory, colT, dyRows, { m: k, k: m, n: co });
    memory.dispose(colT);
    if (!whole) memory.dispose(dyRows);
    if (sum === undefined) {
      sum = product;
      continue;
    }
    const total = memory.values(sum);
    const part = memory.values(product);
    for (let i = 0; i < total.length; i++) total[i] += part[i];
    memory.dispose(product);
  }
  return sum!;
}

/**
 * Computes dW with plain loops, the output channels innermost, skipping
 * zero inputs (common after ReLU). The cpu backend uses it: its
 * `BatchMatMul` is plain JavaScript too, and the product form took 4.3 s
 * against about 1.4 s for these loops in a ResNet-18 + CBAM step at 64 px,
 * batch 6 (2-core x86-64, Deno 2.9.6).
 */
export function filterGradientByLoops(
  x: Float32Array,
  dy: Float32Array,
  info: ConvGeometry,
): Float32Array {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const dw = new Float32Array(filterHeight * filterWidth * inChannels * outChannels);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyOffset = ((b * outHeight + oh) * outWidth + ow) * outChannels;
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight + kh - info.padInfo.top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth + kw - info.padInfo.left;
            if (iw < 0 || iw >= inWidth) continue;
            const xOffset = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            const tapOffset = (kh * filterWidth + kw) * inChannels * outChannels;
            for (let ci = 0; ci < inChannels; ci++) {
              const value = x[xOffset + ci];
              if (value === 0) continue;
              const row = tapOffset + ci * outChannels;
              for (let co = 0; co < outChannels; co++) dw[row + co] += value * dy[dyOffset + co];
            }
          }
        }
      }
    }
  }
  return dw;
}

function convInfoOf(
  x: tf.TensorInfo,
  attrs: BackpropFilterArgs["attrs"],
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat === "NCHW") {
    throw new Error(
      "Conv2DBackpropFilter: NCHW data is not supported by this kernel. Use NHWC (channelsLast).",
    );
  }
  return tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  );
}

/** Returns the `Conv2DBackpropFilter` kernel function for `backendName`. */
export function conv2dBackpropFilterKernel(
  backendName: MemoryBackendName,
  options: LoweringOptions = {},
): tf.KernelFunc {
  const kernel = ({ inputs, backend, attrs }: BackpropFilterArgs): tf.TensorInfo => {
    const memory = kernelMemory(backend, backendName);
    const info = convInfoOf(inputs.x, attrs);
    if (backendName === "cpu") {
      const values = filterGradientByLoops(memory.values(inputs.x), memory.values(inputs.dy), info);
      const dw = memory.allocate(info.filterShape);
      memory.values(dw).set(values);
      return dw;
    }
    const dw = filterGradient(memory, { x: inputs.x, dy: inputs.dy, info }, options);
    return { ...dw, shape: info.filterShape };
  };
  return kernel as unknown as tf.KernelFunc;
}
