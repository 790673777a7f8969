/**
 * CBAM (Convolutional Block Attention Module, Woo et al., ECCV 2018) as two
 * TensorFlow.js layers: {@linkcode ChannelAttention} then
 * {@linkcode SpatialAttention}.
 *
 * Both classes are registered for serialization when this module is
 * imported, so a saved model that contains them loads with
 * `tf.loadLayersModel`. The module uses no Deno APIs: a browser or React
 * Native app imports it before loading a model.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { channelAttention, spatialAttention } from "./cbam.ts";
 * const input = tf.input({ shape: [32, 32, 64] });
 * const refined = spatialAttention({ name: "cbam.sa" }).apply(
 *   channelAttention({ name: "cbam.ca" }).apply(input),
 * ) as tf.SymbolicTensor;
 * console.log(refined.shape); // [null, 32, 32, 64]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";

type Kwargs = Record<string, unknown>;

/** Constructor arguments of {@linkcode ChannelAttention}. */
export interface ChannelAttentionArgs {
  /** Layer name, for example `layer1.cbam.ca`. */
  name?: string;
  /** Channel reduction ratio r of the shared MLP: hidden width max(1, floor(C / r)). Default: 16. */
  reduction?: number;
  /** Seed of the weight initializer, for reproducible runs. Default: unseeded. */
  seed?: number;
  /** Whether the weights are updated in training. Default: `true`. */
  trainable?: boolean;
}

/** Constructor arguments of {@linkcode SpatialAttention}. */
export interface SpatialAttentionArgs {
  /** Layer name, for example `layer1.cbam.sa`. */
  name?: string;
  /** Odd size k of the k x k convolution over the [mean, max] maps. Default: 7. */
  kernelSize?: number;
  /** Seed of the weight initializer, for reproducible runs. Default: unseeded. */
  seed?: number;
  /** Whether the weights are updated in training. Default: `true`. */
  trainable?: boolean;
}

// PyTorch's default Conv2d initialization (kaiming_uniform with a = sqrt(5))
// is uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), which is variance scaling with
// scale 1/3 on fan_in.
function torchConvInitializer(seed?: number) {
  return tf.initializers.varianceScaling({
    scale: 1 / 3,
    mode: "fanIn",
    distribution: "uniform",
    seed,
  });
}

function firstInput(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor4D {
  return (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
}

/**
 * Channel attention: average- and max-pooled channel descriptors go through
 * one shared MLP (1x1 convolutions without bias, C -> max(1, C // r) -> C,
 * ReLU between), are summed, and a sigmoid of the sum scales each channel.
 *
 * Weights: `fc1` [1, 1, C, hidden] and `fc2` [1, 1, hidden, C], the HWIO
 * layout of PyTorch's `ca.fc1.weight` [hidden, C, 1, 1] and `ca.fc2.weight`.
 */
export class ChannelAttention extends tf.layers.Layer {
  /** Name under which the class is registered for serialization. */
  static className = "ChannelAttention";
  readonly reduction: number;
  readonly seed?: number;
  private fc1?: tf.LayerVariable;
  private fc2?: tf.LayerVariable;

  constructor(args: ChannelAttentionArgs = {}) {
    super(args as Kwargs);
    this.reduction = args.reduction ?? 16;
    this.seed = args.seed;
    if (!Number.isInteger(this.reduction) || this.reduction < 1) {
      throw new Error(`CBAM reduction must be a positive integer, got ${args.reduction}.`);
    }
  }

  /** Hidden width of the MLP for `channels` input channels. */
  hiddenUnits(channels: number): number {
    return Math.max(1, Math.floor(channels / this.reduction));
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const channels = shape[shape.length - 1] as number;
    const hidden = this.hiddenUnits(channels);
    const seed = this.seed;
    this.fc1 = this.addWeight(
      "fc1",
      [1, 1, channels, hidden],
      "float32",
      torchConvInitializer(seed),
    );
    this.fc2 = this.addWeight(
      "fc2",
      [1, 1, hidden, channels],
      "float32",
      torchConvInitializer(seed === undefined ? undefined : seed + 1),
    );
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs);
      const [batch, , , channels] = x.shape;
      const hidden = this.hiddenUnits(channels);
      const w1 = this.fc1!.read().reshape([channels, hidden]) as tf.Tensor2D;
      const w2 = this.fc2!.read().reshape([hidden, channels]) as tf.Tensor2D;
      const mlp = (v: tf.Tensor2D) => tf.matMul(tf.relu(tf.matMul(v, w1)), w2);
      const avg = tf.mean(x, [1, 2]) as tf.Tensor2D;
      const max = tf.max(x, [1, 2]) as tf.Tensor2D;
      const scale = tf.sigmoid(tf.add(mlp(avg), mlp(max))).reshape([batch, 1, 1, channels]);
      return tf.mul(x, scale);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { reduction: this.reduction };
    if (this.seed !== undefined) config.seed = this.seed;
    return { ...super.getConfig(), ...config };
  }
}

/**
 * Spatial attention: the channel-wise mean and max maps are concatenated
 * (mean first), convolved with one k x k kernel without bias and padding
 * k // 2, and a sigmoid of the result scales every position.
 *
 * Weight: `conv1` [k, k, 2, 1], the HWIO layout of PyTorch's
 * `sa.conv1.weight` [1, 2, k, k].
 */
export class SpatialAttention extends tf.layers.Layer {
  /** Name under which the class is registered for serialization. */
  static className = "SpatialAttention";
  readonly kernelSize: number;
  readonly seed?: number;
  private conv1?: tf.LayerVariable;

  constructor(args: SpatialAttentionArgs = {}) {
    super(args as Kwargs);
    this.kernelSize = args.kernelSize ?? 7;
    this.seed = args.seed;
    if (!Number.isInteger(this.kernelSize) || this.kernelSize < 1 || this.kernelSize % 2 === 0) {
      throw new Error(
        `CBAM spatial kernel size must be a positive odd integer, got ${args.kernelSize}.`,
      );
    }
  }

  override build(_inputShape: tf.Shape | tf.Shape[]): void {
    const k = this.kernelSize;
    this.conv1 = this.addWeight("conv1", [k, k, 2, 1], "float32", torchConvInitializer(this.seed));
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = firstInput(inputs);
      const pad = Math.floor(this.kernelSize / 2);
      const maps = tf.concat([tf.mean(x, -1, true), tf.max(x, -1, true)], -1) as tf.Tensor4D;
      const padded = tf.pad(maps, [[0, 0], [pad, pad], [pad, pad], [0, 0]]);
      const kernel = this.conv1!.read() as tf.Tensor4D;
      const attention = tf.sigmoid(tf.conv2d(padded, kernel, 1, "valid"));
      return tf.mul(x, attention);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    const config: tf.serialization.ConfigDict = { kernelSize: this.kernelSize };
    if (this.seed !== undefined) config.seed = this.seed;
    return { ...super.getConfig(), ...config };
  }
}

/** Creates a {@linkcode ChannelAttention} layer. */
export function channelAttention(args?: ChannelAttentionArgs): ChannelAttention {
  return new ChannelAttention(args);
}

/** Creates a {@linkcode SpatialAttention} layer. */
export function spatialAttention(args?: SpatialAttentionArgs): SpatialAttention {
  return new SpatialAttention(args);
}

tf.serialization.registerClass(ChannelAttention);
tf.serialization.registerClass(SpatialAttention);
