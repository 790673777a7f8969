/**
 * A `Conv2DBackpropFilter` kernel (the gradient of a convolution with respect
 * to its filter) for the `cpu` and `wasm` backends of tfjs 4.22.
 *
 * tfjs-backend-wasm 4.22 has no such kernel, so convolutions cannot train on
 * it, and tfjs-backend-cpu's reads every element through
 * `TensorBuffer.get`, which made it about 98% of a ResNet-18 training step
 * (measured at 32 px, batch 6, 2-core x86-64, Deno 2.9.6). This one loops
 * over flat typed arrays with the output channels innermost, and skips zero
 * inputs, which are common after ReLU.
 *
 * dW[kh, kw, ci, co] = sum over b, oh, ow of
 *   x[b, oh * sh + kh - padTop, ow * sw + kw - padLeft, ci] * dy[b, oh, ow, co]
 *
 * Only NHWC (`channelsLast`) data and dilation 1 are supported, which is what
 * tfjs-layers produces; other layouts throw.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

interface KernelArgs {
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

interface CpuBackend {
  data: { get(id: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
}

interface WasmBackend {
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
  makeOutput(shape: number[], dtype: string): tf.TensorInfo;
}

/** Computes the filter gradient on flat NHWC arrays; exported for tests. */
export function conv2dFilterGradient(
  x: Float32Array,
  dy: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): Float32Array {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dw = new Float32Array(filterHeight * filterWidth * inChannels * outChannels);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyOffset = ((b * outHeight + oh) * outWidth + ow) * outChannels;
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight + kh - top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth + kw - left;
            if (iw < 0 || iw >= inWidth) continue;
            const xOffset = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            const dwBase = (kh * filterWidth + kw) * inChannels * outChannels;
            for (let ci = 0; ci < inChannels; ci++) {
              const xv = x[xOffset + ci];
              if (xv === 0) continue;
              const dwOffset = dwBase + ci * outChannels;
              for (let co = 0; co < outChannels; co++) dw[dwOffset + co] += xv * dy[dyOffset + co];
            }
          }
        }
      }
    }
  }
  return dw;
}

function convInfoOf(x: tf.TensorInfo, attrs: KernelArgs["attrs"]): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat === "NCHW") {
    throw new Error("Conv2DBackpropFilter: only NHWC data is supported by this kernel.");
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

function cpuKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const cpu = backend as CpuBackend;
  const info = convInfoOf(inputs.x, attrs);
  const x = cpu.data.get(inputs.x.dataId).values;
  const dy = cpu.data.get(inputs.dy.dataId).values;
  return cpu.makeTensorInfo(info.filterShape, "float32", conv2dFilterGradient(x, dy, info));
}

function wasmKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const wasm = backend as WasmBackend;
  const info = convInfoOf(inputs.x, attrs);
  const dw = conv2dFilterGradient(
    wasm.typedArrayFromHeap(inputs.x),
    wasm.typedArrayFromHeap(inputs.dy),
    info,
  );
  const out = wasm.makeOutput(info.filterShape, "float32");
  wasm.typedArrayFromHeap(out).set(dw);
  return out;
}

let registered = false;

/**
 * Registers the kernel for `cpu` (replacing tfjs's) and `wasm` (which has
 * none). Idempotent. Call before training.
 */
export function registerConv2dBackpropFilter(): void {
  if (registered) return;
  registered = true;
  const kernels: [string, (args: KernelArgs) => tf.TensorInfo][] = [["cpu", cpuKernel], [
    "wasm",
    wasmKernel,
  ]];
  for (const [backendName, kernelFunc] of kernels) {
    if (tf.getKernel("Conv2DBackpropFilter", backendName)) {
      tf.unregisterKernel("Conv2DBackpropFilter", backendName);
    }
    tf.registerKernel({
      kernelName: "Conv2DBackpropFilter",
      backendName,
      kernelFunc: kernelFunc as unknown as tf.KernelFunc,
    });
  }
}
