/**
 * Plain-loop definitions of convolution gradients, and helpers shared by the
 * kernel tests. Every index follows tfjs's NHWC layout and its filter layout
 * [kh, kw, ci, co] (depthwise: [kh, kw, c, multiplier]).
 * @module
 */
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { Rng } from "../../../shared/random.ts";

/** One convolution geometry under test. */
export interface ConvCase {
  label: string;
  xShape: [number, number, number, number];
  filterShape: [number, number, number, number];
  stride: number;
  pad: "same" | "valid" | number;
  dilation?: number;
}

/** Seeded values in [-1, 1), with a share of exact zeros (as after ReLU). */
export function randomArray(length: number, seed: number, zeroFraction = 0.3): Float32Array {
  const rng = new Rng(seed);
  return new Float32Array(length).map(() => (rng.next() < zeroFraction ? 0 : rng.uniform(-1, 1)));
}

/** tfjs's geometry for a case, padding included. */
export function convInfo(c: ConvCase, depthwise = false): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    c.xShape,
    c.filterShape,
    c.stride,
    c.dilation ?? 1,
    c.pad,
    undefined,
    depthwise,
  );
}

/** Calls `visit` for every (output position, tap) whose input position lies inside x. */
function forEachPair(
  info: tf.backend_util.Conv2DInfo,
  visit: (
    b: number,
    ih: number,
    iw: number,
    oh: number,
    ow: number,
    kh: number,
    kw: number,
  ) => void,
): void {
  for (let b = 0; b < info.batchSize; b++) {
    for (let oh = 0; oh < info.outHeight; oh++) {
      for (let ow = 0; ow < info.outWidth; ow++) {
        for (let kh = 0; kh < info.filterHeight; kh++) {
          for (let kw = 0; kw < info.filterWidth; kw++) {
            const ih = oh * info.strideHeight + kh * info.dilationHeight - info.padInfo.top;
            const iw = ow * info.strideWidth + kw * info.dilationWidth - info.padInfo.left;
            if (ih < 0 || ih >= info.inHeight || iw < 0 || iw >= info.inWidth) continue;
            visit(b, ih, iw, oh, ow, kh, kw);
          }
        }
      }
    }
  }
}

/** dW[kh, kw, ci, co] = sum of x[b, ih, iw, ci] * dy[b, oh, ow, co]. */
export function convFilterGradient(x: Float32Array, dy: Float32Array, c: ConvCase): Float32Array {
  const info = convInfo(c);
  const [, kw, ci, co] = c.filterShape;
  const dw = new Float32Array(c.filterShape.reduce((a, b) => a * b));
  forEachPair(info, (b, ih, iw, oh, ow, i, j) => {
    for (let p = 0; p < ci; p++) {
      for (let q = 0; q < co; q++) {
        dw[((i * kw + j) * ci + p) * co + q] +=
          x[((b * info.inHeight + ih) * info.inWidth + iw) * ci + p] *
          dy[((b * info.outHeight + oh) * info.outWidth + ow) * co + q];
      }
    }
  });
  return dw;
}

/** dx[b, ih, iw, ci] = sum of dy[b, oh, ow, co] * W[kh, kw, ci, co]. */
export function convInputGradient(dy: Float32Array, w: Float32Array, c: ConvCase): Float32Array {
  const info = convInfo(c);
  const [, kw, ci, co] = c.filterShape;
  const dx = new Float32Array(c.xShape.reduce((a, b) => a * b));
  forEachPair(info, (b, ih, iw, oh, ow, i, j) => {
    for (let p = 0; p < ci; p++) {
      for (let q = 0; q < co; q++) {
        dx[((b * info.inHeight + ih) * info.inWidth + iw) * ci + p] +=
          dy[((b * info.outHeight + oh) * info.outWidth + ow) * co + q] *
          w[((i * kw + j) * ci + p) * co + q];
      }
    }
  });
  return dx;
}

/** Depthwise dx[b, ih, iw, c] = sum of dy[b, oh, ow, c * m + q] * W[kh, kw, c, q]. */
export function depthwiseInputGradient(
  dy: Float32Array,
  w: Float32Array,
  c: ConvCase,
): Float32Array {
  const info = convInfo(c, true);
  const [, kw, channels, multiplier] = c.filterShape;
  const dx = new Float32Array(c.xShape.reduce((a, b) => a * b));
  forEachPair(info, (b, ih, iw, oh, ow, i, j) => {
    for (let p = 0; p < channels; p++) {
      for (let q = 0; q < multiplier; q++) {
        dx[((b * info.inHeight + ih) * info.inWidth + iw) * channels + p] += dy[
          ((b * info.outHeight + oh) * info.outWidth + ow) * info.outChannels + p * multiplier +
          q
        ] *
          w[((i * kw + j) * channels + p) * multiplier + q];
      }
    }
  });
  return dx;
}

/** Depthwise dW[kh, kw, c, q] = sum of x[b, ih, iw, c] * dy[b, oh, ow, c * m + q]. */
export function depthwiseFilterGradient(
  x: Float32Array,
  dy: Float32Array,
  c: ConvCase,
): Float32Array {
  const info = convInfo(c, true);
  const [, kw, channels, multiplier] = c.filterShape;
  const dw = new Float32Array(c.filterShape.reduce((a, b) => a * b));
  forEachPair(info, (b, ih, iw, oh, ow, i, j) => {
    for (let p = 0; p < channels; p++) {
      for (let q = 0; q < multiplier; q++) {
        dw[((i * kw + j) * channels + p) * multiplier + q] +=
          x[((b * info.inHeight + ih) * info.inWidth + iw) * channels + p] *
          dy[
            ((b * info.outHeight + oh) * info.outWidth + ow) * info.outChannels + p * multiplier +
            q
          ];
      }
    }
  });
  return dw;
}

/** Asserts equal length and |actual - expected| <= tolerance at every index. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance = 1e-4,
): void {
  assert.equal(actual.length, expected.length, "length");
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < expected.length; i++) {
    const difference = Math.abs(actual[i] - expected[i]);
    if (!(difference <= worst)) {
      worst = difference;
      worstIndex = i;
    }
  }
  assert.ok(
    worst <= tolerance,
    `max difference ${worst} at index ${worstIndex}: ${actual[worstIndex]} vs ${
      expected[worstIndex]
    }`,
  );
}

/**
 * Runs a kernel function directly on the current backend and returns its
 * output values; the output is disposed.
 */
export function runKernelFunction(
  kernelFunc: tf.KernelFunc,
  inputs: Record<string, tf.Tensor>,
  attrs: tf.NamedAttrMap,
): Float32Array {
  const backend = tf.backend();
  const output = kernelFunc({ inputs, backend, attrs }) as tf.TensorInfo;
  const values = new Float32Array(backend.readSync(output.dataId) as Float32Array);
  backend.disposeData(output.dataId);
  return values;
}
