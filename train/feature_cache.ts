/**
 * Frozen-prefix caching: when the first layers of a model never change
 * during training and each image is always seen the same way (no
 * augmentation), their outputs are computed once and reused every epoch.
 *
 * A layer is cacheable when it has no trainable weights, runs the same in
 * training and inference mode (no dropout or noise, BatchNorm only in
 * inference mode), and every input comes from the model input or from other
 * cacheable layers. The boundary is the set of cacheable outputs that
 * non-cacheable layers read: the stem and stage 1 for `--freeze-layers` with
 * CBAM after every stage, everything before `layer3` for
 * `--trainable-from layer3`, the whole backbone for a linear probe.
 *
 * Training then runs a suffix model that takes the boundary tensors as
 * inputs and re-applies the remaining layers in topological order. It
 * shares every layer, and so every weight, with the full model, so exports
 * and checkpoints of the full model are unchanged.
 *
 * @example
 * ```ts
 * const cache = await createFeatureCache(model, { augment: false, data, preprocess, batchSize: 16 });
 * if (cache) await trainStep(cache.model, { batch: cache.batch([0, 1], labels), variables, optimizer }, options);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { getLogger } from "../shared/log.ts";
import { isBatchNorm, isBatchNormInference } from "../shared/model/batch_norm.ts";
import { type PreprocessConfig, preprocessForEval } from "../shared/preprocess.ts";
import type { DecodedSample } from "./data/loader.ts";
import type { Batch } from "./step.ts";

const logger = getLogger(["waste-vision", "feature-cache"]);

/** Layer classes whose training-mode output is random, so they are never cached. */
const STOCHASTIC_LAYERS = new Set([
  "Dropout",
  "SpatialDropout1D",
  "SpatialDropout2D",
  "GaussianNoise",
  "GaussianDropout",
  "AlphaDropout",
]);

/** The split of a model into a cached prefix and a trained suffix. */
export interface FrozenPrefixPlan {
  /** Outputs of the prefix that the suffix reads, in model order. */
  boundary: tf.SymbolicTensor[];
  /** Layers of the prefix, in topological order (input layers excluded). */
  prefixLayers: tf.layers.Layer[];
  /** Layers of the suffix, in topological order. */
  suffixLayers: tf.layers.Layer[];
}

/** Returns the node through which `model` calls `layer`. */
function modelNode(model: tf.LayersModel, layer: tf.layers.Layer) {
  const index = layer.inboundNodes.findIndex((_, i) =>
    model.containerNodes.has(`${layer.name}_ib-${i}`)
  );
  if (index < 0) throw new Error(`Layer ${layer.name} is not called by model ${model.name}.`);
  return layer.inboundNodes[index];
}

function runsSameInBothModes(layer: tf.layers.Layer): boolean {
  if (STOCHASTIC_LAYERS.has(layer.getClassName())) return false;
  return !isBatchNorm(layer) || isBatchNormInference(layer);
}

/**
 * Splits `model` into its frozen prefix and the rest. Returns the reason as
 * a string when nothing can be cached.
 */
export function planFrozenPrefix(model: tf.LayersModel): FrozenPrefixPlan | string {
  const fixed = new Set<number>(model.inputs.map((input) => input.id));
  const prefixLayers: tf.layers.Layer[] = [];
  const suffixLayers: tf.layers.Layer[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    const node = modelNode(model, layer);
    const cacheable = layer.trainableWeights.length === 0 && runsSameInBothModes(layer) &&
      node.inputTensors.every((tensor) => fixed.has(tensor.id));
    if (cacheable) {
      prefixLayers.push(layer);
      for (const tensor of node.outputTensors) fixed.add(tensor.id);
    } else {
      suffixLayers.push(layer);
    }
  }
  if (suffixLayers.length === 0) return "no layer of the model trains";
  if (!prefixLayers.some((layer) => layer.weights.length > 0)) {
    return `no layer with weights is frozen before the first trained layer, ${
      suffixLayers[0].name
    }`;
  }
  const boundaryIds = new Set<number>();
  const boundary: tf.SymbolicTensor[] = [];
  for (const layer of suffixLayers) {
    for (const tensor of modelNode(model, layer).inputTensors) {
      if (fixed.has(tensor.id) && !boundaryIds.has(tensor.id)) {
        boundaryIds.add(tensor.id);
        boundary.push(tensor);
      }
    }
  }
  if (boundary.some((tensor) => model.inputs.some((input) => input.id === tensor.id))) {
    return "a trained layer reads the model input directly";
  }
  return { boundary, prefixLayers, suffixLayers };
}

/**
 * Builds the model that maps the boundary tensors of `plan` to the outputs
 * of `model`, by calling the suffix layers again on new inputs.
 */
export function buildSuffixModel(model: tf.LayersModel, plan: FrozenPrefixPlan): tf.LayersModel {
  const inputs = plan.boundary.map((tensor, i) =>
    tf.input({ shape: tensor.shape.slice(1) as number[], name: `${model.name}_cached_${i}` })
  );
  const mapped = new Map<number, tf.SymbolicTensor>();
  plan.boundary.forEach((tensor, i) => mapped.set(tensor.id, inputs[i]));
  for (const layer of plan.suffixLayers) {
    const node = modelNode(model, layer);
    const layerInputs = node.inputTensors.map((tensor) => {
      const replacement = mapped.get(tensor.id);
      if (!replacement) throw new Error(`Input ${tensor.name} of ${layer.name} was not computed.`);
      return replacement;
    });
    const output = layer.apply(
      layerInputs.length === 1 ? layerInputs[0] : layerInputs,
      node.callArgs,
    ) as tf.SymbolicTensor | tf.SymbolicTensor[];
    const outputs = Array.isArray(output) ? output : [output];
    node.outputTensors.forEach((tensor, i) => mapped.set(tensor.id, outputs[i]));
  }
  const outputs = model.outputs.map((tensor) => mapped.get(tensor.id)!);
  return tf.model({ inputs, outputs, name: `${model.name}_suffix` });
}

/**
 * Runs `prefix` on `pixels` in inference mode and returns the values of
 * each of its outputs. No tensor outlives the call.
 */
export async function runPrefix(
  prefix: tf.LayersModel,
  pixels: tf.Tensor4D,
): Promise<Float32Array[]> {
  const outputs = tf.tidy(() => {
    const result = prefix.apply(pixels, { training: false }) as tf.Tensor | tf.Tensor[];
    return Array.isArray(result) ? result : [result];
  });
  try {
    return await Promise.all(outputs.map(async (output) => await output.data() as Float32Array));
  } finally {
    tf.dispose(outputs);
  }
}

/** Returns the number of values per image of each boundary tensor. */
function sizesPerImage(plan: FrozenPrefixPlan): number[] {
  return plan.boundary.map((tensor) =>
    (tensor.shape.slice(1) as number[]).reduce((a, b) => a * b, 1)
  );
}

/** Cached boundary activations of a fixed set of images and the model that trains on them. */
export class FeatureCache {
  /** The suffix model, which shares its layers with the full model. */
  readonly model: tf.LayersModel;
  readonly plan: FrozenPrefixPlan;
  private readonly sizes: number[];
  private readonly values: Float32Array[];

  constructor(model: tf.LayersModel, plan: FrozenPrefixPlan, imageCount: number) {
    this.plan = plan;
    this.model = buildSuffixModel(model, plan);
    this.sizes = sizesPerImage(plan);
    this.values = this.sizes.map((size) => new Float32Array(size * imageCount));
  }

  /** Bytes that the cached activations take. */
  get byteLength(): number {
    return this.values.reduce((sum, array) => sum + array.byteLength, 0);
  }

  /**
   * Runs `prefix` on a batch of images in inference mode and stores its
   * outputs as the activations of images `first`, `first + 1`, and so on.
   */
  async store(prefix: tf.LayersModel, pixels: tf.Tensor4D, first: number): Promise<void> {
    const outputs = await runPrefix(prefix, pixels);
    outputs.forEach((values, k) => this.values[k].set(values, first * this.sizes[k]));
  }

  /** Returns a batch of the cached activations of images `indices` with their labels. */
  batch(indices: number[], labels: Int32Array): Batch {
    const features = this.values.map((array, k) => {
      const size = this.sizes[k];
      const values = new Float32Array(indices.length * size);
      indices.forEach((index, i) =>
        values.set(array.subarray(index * size, (index + 1) * size), i * size)
      );
      return { values, shape: this.plan.boundary[k].shape.slice(1) as number[] };
    });
    return { x: new Float32Array(0), y: labels, size: indices.length, imgSize: 0, features };
  }

  /**
   * Drops the cached activations. The suffix model is left alone: disposing
   * it would dispose the weights it shares with the full model.
   */
  dispose(): void {
    this.values.length = 0;
  }
}

/** Options for {@linkcode createFeatureCache}. */
export interface FeatureCacheOptions {
  /** Whether training augments images. Caching needs a fixed view, so it is off when true. */
  augment: boolean;
  /** The images to cache, in the order that batch indices refer to. */
  data: DecodedSample[];
  preprocess: PreprocessConfig;
  /** Images per forward pass while the cache fills. */
  batchSize: number;
  /**
   * Largest cache in bytes. Default: a quarter of the system memory, or
   * 1 GiB when it cannot be read (without `--allow-sys`).
   */
  maxBytes?: number;
}

function defaultMaxBytes(): number {
  try {
    return Deno.systemMemoryInfo().total / 4;
  } catch {
    return 2 ** 30;
  }
}

async function fill(
  cache: FeatureCache,
  model: tf.LayersModel,
  options: FeatureCacheOptions,
): Promise<void> {
  const prefix = tf.model({ inputs: model.inputs, outputs: cache.plan.boundary });
  const { imgSize } = options.preprocess;
  const size = imgSize * imgSize * 3;
  for (let first = 0; first < options.data.length; first += options.batchSize) {
    const slice = options.data.slice(first, first + options.batchSize);
    const pixels = new Float32Array(slice.length * size);
    slice.forEach((item, i) =>
      pixels.set(preprocessForEval(item.image, options.preprocess), i * size)
    );
    const batch = tf.tensor4d(pixels, [slice.length, imgSize, imgSize, 3]);
    await cache.store(prefix, batch, first);
    batch.dispose();
  }
}

/**
 * Builds and fills a cache of the frozen prefix of `model` for
 * `options.data`, or returns `undefined` (and logs why) when caching does
 * not apply: augmentation on, nothing frozen before the first trained
 * layer, or a cache larger than `maxBytes`.
 */
export async function createFeatureCache(
  model: tf.LayersModel,
  options: FeatureCacheOptions,
): Promise<FeatureCache | undefined> {
  const plan = planFrozenPrefix(model);
  if (typeof plan === "string") {
    logger.info("Frozen-prefix cache not used: {reason}", { reason: plan });
    return undefined;
  }
  if (options.augment) {
    logger.info("Frozen-prefix cache not used: augmentation is on (--no-augment turns it off)");
    return undefined;
  }
  const bytes = sizesPerImage(plan).reduce((a, b) => a + b, 0) * 4 * options.data.length;
  const maxBytes = options.maxBytes ?? defaultMaxBytes();
  if (bytes > maxBytes) {
    logger.info(
      "Frozen-prefix cache not used: it would take {mib} MiB, more than the limit of {limit} MiB",
      { mib: Math.round(bytes / 2 ** 20), limit: Math.round(maxBytes / 2 ** 20) },
    );
    return undefined;
  }
  const started = performance.now();
  const cache = new FeatureCache(model, plan, options.data.length);
  await fill(cache, model, options);
  logger.info(
    "Frozen-prefix cache in use: {layers} layers run once per image, up to {cut}; " +
      "{images} images, {mib} MiB, filled in {seconds} s",
    {
      layers: plan.prefixLayers.length,
      cut: plan.boundary.map((tensor) => tensor.sourceLayer.name).join(", "),
      images: options.data.length,
      mib: (cache.byteLength / 2 ** 20).toFixed(1),
      seconds: ((performance.now() - started) / 1000).toFixed(1),
    },
  );
  return cache;
}
