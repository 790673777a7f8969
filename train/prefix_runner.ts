/**
 * Runs the frozen prefix of a model outside the gradient tape, batch by
 * batch, for training runs that cannot cache it (augmentation on).
 *
 * `tf.variableGrads` keeps every tensor made inside it until the backward
 * pass ends, including the activations of frozen layers that need no
 * gradient. For MobileNetV2 at 224 px with batch 32 those early, wide
 * activations can fill the wasm heap (4 GiB at most): a step with
 * `--trainable-from features.14` trapped without this runner. Running
 * the prefix first in inference mode, where tfjs frees each activation once
 * its readers are done, leaves only the boundary tensors (for
 * `--trainable-from features.11`, 14 x 14 x 64 per image) for the suffix
 * model that trains. Gradients are unchanged: the prefix is exactly the set
 * of layers that {@linkcode planFrozenPrefix} finds, which have no trainable
 * weights and run the same in training and inference mode.
 *
 * @example
 * ```ts
 * const runner = createPrefixRunner(model);
 * if (runner) {
 *   const input = await runner.run(batch);
 *   await trainStep(runner.model, { batch: input, variables, optimizer }, options);
 * }
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getLogger } from "../shared/log.ts";
import {
  buildSuffixModel,
  type FrozenPrefixPlan,
  planFrozenPrefix,
  runPrefix,
} from "./feature_cache.ts";
import type { Batch } from "./step.ts";

const logger = getLogger(["waste-vision", "prefix-runner"]);

/** The frozen prefix of a model as its own model, and the suffix that trains. */
export class PrefixRunner {
  /** The suffix model, which shares its layers (and weights) with the full model. */
  readonly model: tf.LayersModel;
  readonly plan: FrozenPrefixPlan;
  private readonly prefix: tf.LayersModel;

  constructor(model: tf.LayersModel, plan: FrozenPrefixPlan) {
    this.plan = plan;
    this.prefix = tf.model({ inputs: model.inputs, outputs: plan.boundary });
    this.model = buildSuffixModel(model, plan);
  }

  /**
   * Runs the prefix on the images of `batch` in inference mode and returns
   * the batch with its boundary activations as `features`, which
   * {@linkcode trainStep} feeds to the suffix model.
   */
  async run(batch: Batch): Promise<Batch> {
    const { size, imgSize } = batch;
    const pixels = tf.tensor4d(batch.x, [size, imgSize, imgSize, 3]);
    let outputs: Float32Array[];
    try {
      outputs = await runPrefix(this.prefix, pixels);
    } finally {
      pixels.dispose();
    }
    const features = outputs.map((values, k) => ({
      values,
      shape: this.plan.boundary[k].shape.slice(1) as number[],
    }));
    return { ...batch, x: new Float32Array(0), features };
  }
}

/**
 * Returns a {@linkcode PrefixRunner} for `model`, or `undefined` when no
 * layer with weights is frozen before the first trained one (then the whole
 * model trains as it is). Logs which layers the runner takes out of the tape.
 */
export function createPrefixRunner(model: tf.LayersModel): PrefixRunner | undefined {
  const plan = planFrozenPrefix(model);
  if (typeof plan === "string") return undefined;
  logger.info(
    "Frozen prefix runs outside the gradient tape: {layers} layers, up to {cut}",
    {
      layers: plan.prefixLayers.length,
      cut: plan.boundary.map((tensor) => tensor.sourceLayer.name).join(", "),
    },
  );
  return new PrefixRunner(model, plan);
}
