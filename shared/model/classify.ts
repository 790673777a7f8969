/**
 * Batch inference: preprocessed images in, class probabilities out.
 * Shared by `predict`, `evaluate` and the edge service.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { InferenceModel } from "./inference.ts";

/** One class and its score. */
export interface ScoredLabel {
  label: string;
  score: number;
}

/**
 * Runs `model` in inference mode on `count` preprocessed NHWC images packed
 * in `inputs`, and returns softmax probabilities, `count x numClasses`,
 * row-major. Frees every tensor it makes.
 */
export async function predictProbabilities(
  model: tf.LayersModel | InferenceModel,
  inputs: Float32Array,
  options: { count: number; imgSize: number; temperature?: number },
): Promise<Float32Array> {
  const { count, imgSize } = options;
  const probabilities = tf.tidy(() => {
    const x = tf.tensor4d(inputs, [count, imgSize, imgSize, 3]);
    const logits = (model instanceof InferenceModel
      ? model.predict(x)
      : model.apply(x, { training: false })) as tf.Tensor2D;
    const scaled = options.temperature ? tf.div(logits, options.temperature) : logits;
    return tf.softmax(scaled);
  });
  try {
    return new Float32Array(await probabilities.data());
  } finally {
    probabilities.dispose();
  }
}

/** Returns the `k` best classes of one probability row, best first. */
export function topK(row: ArrayLike<number>, classNames: string[], k: number): ScoredLabel[] {
  return Array.from(row, (score, index) => ({ label: classNames[index], score }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}
