/**
 * `DepthwiseConv2dNativeBackpropInput` and `DepthwiseConv2dNativeBackpropFilter`
 * kernels (the gradients of a depthwise convolution) for the `cpu` and
 * `wasm` backends of tfjs 4.22. tfjs-backend-wasm 4.22 has neither, so
 * MobileNetV2 could not train on it.
 *
 * With filter W [kh, kw, c, q] (q = channel multiplier), output channel
 * c * q_count + q and input position ih = oh * sh + kh * dh - padTop (and
 * likewise for the width):
 *
 *   dx[b, ih, iw, c] += dy[b, oh, ow, c * q_count + q] * W[kh, kw, c, q]
 *   dW[kh, kw, c, q] += x[b, ih, iw, c] * dy[b, oh, ow, c * q_count + q]
 *
 * summed over every output position and tap. The loops keep the channels
 * innermost, where NHWC data is contiguous. Depthwise layers are a small
 * share of MobileNetV2's work (one multiply-add per tap and channel), so
 * plain loops suffice.
 *
 * Only NHWC data is supported, which is what tfjs-layers produces.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { kernelMemory, type MemoryBackendName } from "./kernel_memory.ts";

type Padding = "valid" | "same" | number | tf.backend_util.ExplicitPadding;

/** Attributes shared by both depthwise gradient kernels. */
interface DepthwiseAttrs {
  strides: [number, number] | number;
  dilations: [number, number] | number;
  pad: Padding;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

interface BackpropInputArgs {
  inputs: { dy: tf.TensorInfo; filter: tf.TensorInfo };
  backend: unknown;
  attrs: DepthwiseAttrs & { inputShape: [number, number, number, number] };
}

interface BackpropFilterArgs {
  inputs: { x: tf.TensorInfo; dy: tf.TensorInfo };
  backend: unknown;
  attrs: DepthwiseAttrs & { filterShape: [number, number, number, number] };
}

function depthwiseInfo(
  inputShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: DepthwiseAttrs,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    inputShape,
    filterShape,
    attrs.strides,
    attrs.dilations,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
}

/** Visits every (output position, filter tap) pair whose input position lies inside x. */
function forEachTap(
  info: tf.backend_util.Conv2DInfo,
  visit: (xOffset: number, dyOffset: number, tap: number) => void,
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const { dilationHeight, dilationWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyOffset = ((b * outHeight + oh) * outWidth + ow) * outChannels;
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight + kh * dilationHeight - top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth + kw * dilationWidth - left;
            if (iw < 0 || iw >= inWidth) continue;
            visit(
              ((b * inHeight + ih) * inWidth + iw) * inChannels,
              dyOffset,
              kh * filterWidth + kw,
            );
          }
        }
      }
    }
  }
}

/** Computes dx on flat NHWC arrays into `dx`, which must be zeroed. */
export function depthwiseInputGradient(
  dy: Float32Array,
  filter: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  dx: Float32Array,
): void {
  const channels = info.inChannels;
  const multiplier = info.outChannels / channels;
  const tapSize = channels * multiplier;
  forEachTap(info, (xOffset, dyOffset, tap) => {
    const filterOffset = tap * tapSize;
    if (multiplier === 1) {
      for (let c = 0; c < channels; c++) {
        dx[xOffset + c] += dy[dyOffset + c] * filter[filterOffset + c];
      }
      return;
    }
    for (let c = 0; c < channels; c++) {
      let sum = 0;
      for (let q = 0; q < multiplier; q++) {
        sum += dy[dyOffset + c * multiplier + q] * filter[filterOffset + c * multiplier + q];
      }
      dx[xOffset + c] += sum;
    }
  });
}

/** Computes dW on flat NHWC arrays into `dw`, which must be zeroed. */
export function depthwiseFilterGradient(
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
  dw: Float32Array,
): void {
  const channels = info.inChannels;
  const multiplier = info.outChannels / channels;
  const tapSize = channels * multiplier;
  forEachTap(info, (xOffset, dyOffset, tap) => {
    const filterOffset = tap * tapSize;
    if (multiplier === 1) {
      for (let c = 0; c < channels; c++) {
        dw[filterOffset + c] += x[xOffset + c] * dy[dyOffset + c];
      }
      return;
    }
    for (let c = 0; c < channels; c++) {
      const xValue = x[xOffset + c];
      for (let q = 0; q < multiplier; q++) {
        dw[filterOffset + c * multiplier + q] += xValue * dy[dyOffset + c * multiplier + q];
      }
    }
  });
}

/** Returns the `DepthwiseConv2dNativeBackpropInput` kernel function for `backendName`. */
export function depthwiseBackpropInputKernel(backendName: MemoryBackendName): tf.KernelFunc {
  const kernel = ({ inputs, backend, attrs }: BackpropInputArgs): tf.TensorInfo => {
    const memory = kernelMemory(backend, backendName);
    const filterShape = inputs.filter.shape as [number, number, number, number];
    const info = depthwiseInfo(attrs.inputShape, filterShape, attrs);
    const dx = memory.allocate(attrs.inputShape);
    const dxValues = memory.values(dx);
    dxValues.fill(0);
    depthwiseInputGradient(memory.values(inputs.dy), memory.values(inputs.filter), info, dxValues);
    return dx;
  };
  return kernel as unknown as tf.KernelFunc;
}

/** Returns the `DepthwiseConv2dNativeBackpropFilter` kernel function for `backendName`. */
export function depthwiseBackpropFilterKernel(backendName: MemoryBackendName): tf.KernelFunc {
  const kernel = ({ inputs, backend, attrs }: BackpropFilterArgs): tf.TensorInfo => {
    const memory = kernelMemory(backend, backendName);
    const xShape = inputs.x.shape as [number, number, number, number];
    const info = depthwiseInfo(xShape, attrs.filterShape, attrs);
    const dw = memory.allocate(attrs.filterShape);
    const dwValues = memory.values(dw);
    dwValues.fill(0);
    depthwiseFilterGradient(memory.values(inputs.x), memory.values(inputs.dy), info, dwValues);
    return dw;
  };
  return kernel as unknown as tf.KernelFunc;
}
