/**
 * Which layers train: `--freeze-layers` (only CBAM and the classifier),
 * `--trainable-from STAGE` (fine-tune from a stage on), and `--bn-eval`
 * (every BatchNorm in inference mode).
 *
 * A frozen layer keeps its weights and, through the BatchNorm wrapper in
 * shared/model/batch_norm.ts, its running statistics.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { isBatchNorm, setBatchNormInference } from "../shared/model/batch_norm.ts";
import type { NamedVariable } from "./optim.ts";

const CBAM_CLASSES = new Set(["ChannelAttention", "SpatialAttention"]);
const CLASSIFIER_NAMES = new Set(["fc", "classifier.1"]);

/** Options for {@linkcode applyFreezePolicy}. */
export interface FreezePolicy {
  /** Train only CBAM layers and the classifier. Default: `false`. */
  freezeLayers?: boolean;
  /** Freeze every layer before the first one named `STAGE.*`, e.g. `layer3`. Default: none. */
  trainableFrom?: string;
  /** Keep every BatchNorm layer in inference mode. Default: `false`. */
  bnEval?: boolean;
}

function isClassifierOrCbam(layer: tf.layers.Layer): boolean {
  return CLASSIFIER_NAMES.has(layer.name) || CBAM_CLASSES.has(layer.getClassName());
}

/** Returns the stage prefixes that `--trainable-from` accepts for `model`. */
export function stageNames(model: tf.LayersModel): string[] {
  const names = new Set<string>();
  for (const layer of model.layers) {
    const match = /^(layer\d+|features\.\d+)\./.exec(layer.name);
    if (match) names.add(match[1]);
  }
  return [...names];
}

/**
 * Sets `trainable` on every layer of `model` and marks BatchNorm layers that
 * must run in inference mode. Throws when `trainableFrom` names no stage.
 */
export function applyFreezePolicy(model: tf.LayersModel, policy: FreezePolicy): void {
  let firstTrainable = 0;
  if (policy.trainableFrom) {
    const prefix = `${policy.trainableFrom}.`;
    firstTrainable = model.layers.findIndex((layer) => layer.name.startsWith(prefix));
    if (firstTrainable < 0) {
      throw new Error(
        `--trainable-from "${policy.trainableFrom}" names no stage of this model. ` +
          `Use one of: ${stageNames(model).join(", ")}.`,
      );
    }
  }
  model.layers.forEach((layer, index) => {
    if (layer.weights.length === 0) return;
    let trainable = index >= firstTrainable;
    if (policy.freezeLayers) trainable = isClassifierOrCbam(layer);
    layer.trainable = trainable;
    if (isBatchNorm(layer)) setBatchNormInference(layer, policy.bnEval === true);
  });
}

/**
 * Lists the variables the optimizer updates, named `<layer>/<weight>`, for
 * example `layer1.0.conv1/kernel`.
 */
export function trainableVariables(model: tf.LayersModel): NamedVariable[] {
  const result: NamedVariable[] = [];
  for (const layer of model.layers) {
    if (!layer.trainable) continue;
    for (const weight of layer.trainableWeights) {
      const short = (weight.originalName ?? weight.name).split("/").pop();
      const variable = (weight as unknown as { val: tf.Variable }).val;
      result.push({ name: `${layer.name}/${short}`, variable });
    }
  }
  return result;
}
