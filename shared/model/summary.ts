/**
 * Model size figures counted the way PyTorch users count them, so numbers
 * can be compared with torchvision and thop.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Trainable and total parameter counts. */
export interface ParameterCounts {
  /**
   * Parameters as `sum(p.numel() for p in model.parameters())` counts them:
   * weights, biases, BatchNorm gamma and beta; not the running statistics.
   */
  total: number;
  /** Of {@linkcode ParameterCounts.total}, the ones the optimizer updates. */
  trainable: number;
}

function isRunningStatistic(weight: tf.LayerVariable): boolean {
  return /moving_(mean|variance)/.test(weight.originalName ?? weight.name);
}

/** Counts parameters as PyTorch does (see {@linkcode ParameterCounts}). */
export function countParameters(model: tf.LayersModel): ParameterCounts {
  let total = 0;
  let trainable = 0;
  for (const layer of model.layers) {
    for (const weight of layer.weights) {
      if (isRunningStatistic(weight)) continue;
      const size = weight.shape.reduce((a: number, b) => a * (b ?? 1), 1);
      total += size;
      if (weight.trainable && layer.trainable) trainable += size;
    }
  }
  return { total, trainable };
}

function shapeOf(tensor: tf.SymbolicTensor | tf.SymbolicTensor[]): number[] {
  const first = Array.isArray(tensor) ? tensor[0] : tensor;
  return first.shape.map((d) => d ?? 1);
}

function layerMacs(layer: tf.layers.Layer): number {
  const className = layer.getClassName();
  const output = shapeOf(layer.output as tf.SymbolicTensor);
  const input = shapeOf(layer.input as tf.SymbolicTensor);
  const inChannels = input[input.length - 1];
  if (className === "Conv2D") {
    const [kh, kw] = layer.weights[0].shape as number[];
    return output[1] * output[2] * output[3] * kh * kw * inChannels;
  }
  if (className === "DepthwiseConv2D") {
    const [kh, kw] = layer.weights[0].shape as number[];
    return output[1] * output[2] * output[3] * kh * kw;
  }
  if (className === "Dense") return inChannels * output[output.length - 1];
  if (className === "ChannelAttention") {
    const hidden = layer.weights[0].shape[3] as number;
    return 2 * 2 * inChannels * hidden;
  }
  if (className === "SpatialAttention") {
    const k = layer.weights[0].shape[0] as number;
    return output[1] * output[2] * k * k * 2;
  }
  return 0;
}

/**
 * Counts multiply-accumulates of one forward pass at batch size 1, as thop
 * reports "FLOPs": convolutions, depthwise convolutions, dense layers and
 * CBAM's MLP and spatial convolution. BatchNorm, activations, pooling and
 * additions count as zero; thop adds a little for BatchNorm in some versions.
 */
export function countMacs(model: tf.LayersModel): number {
  return model.layers.reduce((sum, layer) => sum + layerMacs(layer), 0);
}
