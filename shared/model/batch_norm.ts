/**
 * BatchNorm layers with PyTorch's numerics, and a switch that keeps chosen
 * BatchNorm layers in inference mode during training.
 *
 * tfjs 4.22's `BatchNormalization` ignores `trainable` when it is called with
 * `training: true`: it still normalizes with batch statistics and updates its
 * moving averages. A frozen layer must instead use its running statistics,
 * as `module.eval()` does in PyTorch, so {@linkcode batchNorm} wraps each
 * layer's `call` to pass `training: false` when the layer is not trainable or
 * is marked with {@linkcode setBatchNormInference}.
 *
 * The wrapper lives on the instance, not in a subclass, so saved models keep
 * the standard `BatchNormalization` class name and load anywhere.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** PyTorch's BatchNorm epsilon. */
export const TORCH_BN_EPSILON = 1e-5;
/** PyTorch's BatchNorm momentum 0.1 written the tfjs way (weight of the old value). */
export const TORCH_BN_MOMENTUM = 0.9;

type Kwargs = Record<string, unknown>;
type CallFunction = (inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs) => tf.Tensor | tf.Tensor[];

const inferenceOnly = new WeakSet<tf.layers.Layer>();

/** Returns whether `layer` is a BatchNormalization layer. */
export function isBatchNorm(layer: tf.layers.Layer): boolean {
  return layer.getClassName() === "BatchNormalization";
}

/**
 * Makes `layer` run in inference mode (running statistics, no updates) even
 * when the model is called with `training: true`, while `enabled` is true.
 */
export function setBatchNormInference(layer: tf.layers.Layer, enabled: boolean): void {
  if (enabled) inferenceOnly.add(layer);
  else inferenceOnly.delete(layer);
}

/** Returns whether `layer` currently ignores `training: true`. */
export function isBatchNormInference(layer: tf.layers.Layer): boolean {
  return inferenceOnly.has(layer) || !layer.trainable;
}

/**
 * Wraps the `call` of a BatchNormalization layer so that a frozen layer, or
 * one marked with {@linkcode setBatchNormInference}, runs in inference mode.
 * Applies to layers built here and to layers of a loaded model alike.
 */
export function enforceFrozenBatchNorm(layer: tf.layers.Layer): void {
  if (!isBatchNorm(layer)) return;
  const target = layer as unknown as { call: CallFunction; __frozenAware?: boolean };
  if (target.__frozenAware) return;
  const original = target.call.bind(layer);
  target.call = (inputs, kwargs) => {
    const training = kwargs?.training === true && !isBatchNormInference(layer);
    return original(inputs, { ...kwargs, training });
  };
  target.__frozenAware = true;
}

/** Applies {@linkcode enforceFrozenBatchNorm} to every layer of `model`. */
export function enforceFrozenBatchNormInModel(model: tf.LayersModel): void {
  for (const layer of model.layers) enforceFrozenBatchNorm(layer);
}

/** Creates a BatchNormalization layer with PyTorch's epsilon and momentum. */
export function batchNorm(name: string): tf.layers.Layer {
  const layer = tf.layers.batchNormalization({
    name,
    axis: -1,
    epsilon: TORCH_BN_EPSILON,
    momentum: TORCH_BN_MOMENTUM,
  });
  enforceFrozenBatchNorm(layer);
  return layer;
}
