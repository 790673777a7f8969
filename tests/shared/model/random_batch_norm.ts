/**
 * Test helpers: small models whose BatchNorm layers carry random statistics,
 * as a trained model's do, so that folding them changes the weights.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { isBatchNorm } from "../../../shared/model/batch_norm.ts";
import { buildMobileNetV2 } from "../../../shared/model/mobilenet_v2.ts";
import { buildResNet, type CbamPlacement } from "../../../shared/model/resnet.ts";
import { Rng } from "../../../shared/random.ts";

/** Input side of the test models in pixels. */
export const TEST_IMG_SIZE = 32;

/**
 * Sets every BatchNorm's gamma, beta, moving mean and moving variance to
 * random values from `seed`: gamma in [0.5, 1.5], beta and mean in [-0.5, 0.5],
 * variance in [0.5, 2].
 */
export function randomizeBatchNorm(model: tf.LayersModel, seed: number): void {
  const rng = new Rng(seed);
  const uniform = (n: number, low: number, high: number) =>
    Float32Array.from({ length: n }, () => low + (high - low) * rng.next());
  for (const layer of model.layers) {
    if (!isBatchNorm(layer)) continue;
    const channels = layer.getWeights()[0].shape[0];
    const values = [
      uniform(channels, 0.5, 1.5),
      uniform(channels, -0.5, 0.5),
      uniform(channels, -0.5, 0.5),
      uniform(channels, 0.5, 2),
    ];
    const tensors = values.map((v) => tf.tensor1d(v));
    layer.setWeights(tensors);
    tf.dispose(tensors);
  }
}

/** Builds a narrow ResNet-18 with CBAM and random BatchNorm statistics. */
export function testResNet(cbam: CbamPlacement, seed = 1): tf.LayersModel {
  const model = buildResNet({
    depth: 18,
    numClasses: 6,
    imgSize: TEST_IMG_SIZE,
    cbam,
    cbamReduction: 4,
    cbamKernelSize: 3,
    baseWidth: 8,
    seed,
  });
  randomizeBatchNorm(model, seed + 100);
  return model;
}

/** Builds a narrow MobileNetV2 with CBAM after every stage and random BatchNorm statistics. */
export function testMobileNetV2(seed = 1): tf.LayersModel {
  const model = buildMobileNetV2({
    numClasses: 6,
    imgSize: TEST_IMG_SIZE,
    cbam: { kind: "stages", stages: [1, 2, 3, 4, 5] },
    cbamReduction: 4,
    cbamKernelSize: 3,
    widthMultiplier: 0.25,
    seed,
  });
  randomizeBatchNorm(model, seed + 100);
  return model;
}

/** Returns a random NHWC batch from `seed`, with values in [-2, 2]. */
export function randomInput(count: number, seed: number): tf.Tensor4D {
  const rng = new Rng(seed);
  const size = count * TEST_IMG_SIZE * TEST_IMG_SIZE * 3;
  const values = Float32Array.from({ length: size }, () => 4 * rng.next() - 2);
  return tf.tensor4d(values, [count, TEST_IMG_SIZE, TEST_IMG_SIZE, 3]);
}

/** Returns the largest absolute difference between two tensors of the same shape. */
export function maxAbsDifference(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}
