/**
 * MobileNetV2 (Sandler et al., 2018) with optional CBAM, built with tfjs
 * layers in torchvision's layout so that a torchvision `mobilenet_v2()`
 * state_dict maps onto it by layer name.
 *
 * Layer names are torchvision's module names: `features.0.0` (stem
 * convolution), `features.0.1` (its BatchNorm), `features.{i}.conv.{j}...`
 * inside the inverted residual blocks, `features.18.0` (last 1x1
 * convolution) and `classifier.1` (the Dense classifier, after dropout
 * `classifier.0`). Activations are ReLU6. Stride-2 convolutions get explicit
 * symmetric zero padding (`<conv>.pad`), because TF's "same" padding pads
 * asymmetrically at stride 2 and computes different numbers than PyTorch.
 *
 * torchvision's `features` is one flat Sequential, so CBAM modules sit beside
 * it and keep its numbering intact: the module after `features.{i}` is named
 * `cbam.{i}` (layers `cbam.{i}.ca` and `cbam.{i}.sa`, PyTorch keys such as
 * `cbam.17.ca.fc1.weight`).
 *
 * @example
 * ```ts
 * import { buildMobileNetV2 } from "./mobilenet_v2.ts";
 * const model = buildMobileNetV2({ numClasses: 6, imgSize: 224, cbam: { kind: "stages", stages: [1, 2, 3, 4, 5] } });
 * console.log(model.outputs[0].shape); // [null, 6]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { batchNorm } from "./batch_norm.ts";
import { channelAttention, spatialAttention } from "./cbam.ts";

/**
 * Placement of CBAM modules in MobileNetV2. `stages` lists positions 1 to 5 of
 * {@linkcode MOBILENET_V2_CBAM_FEATURES}: after the last block of each
 * stage whose output resolution changes next (features 3, 6, 13, 17), and
 * after the last 1x1 convolution (features 18).
 */
export type MobileNetV2CbamPlacement = { kind: "none" } | { kind: "stages"; stages: number[] };

/** Index of the feature block that each CBAM position (1 to 5) follows. */
export const MOBILENET_V2_CBAM_FEATURES: readonly number[] = [3, 6, 13, 17, 18];

/** Arguments of {@linkcode buildMobileNetV2}. */
export interface MobileNetV2Args {
  /** Number of output logits. */
  numClasses: number;
  /** Height and width of the square input in pixels, at least 32. */
  imgSize: number;
  /** CBAM placement. Default: `{ kind: "none" }`. */
  cbam?: MobileNetV2CbamPlacement;
  /** CBAM channel reduction ratio. Default: 16. */
  cbamReduction?: number;
  /** CBAM spatial kernel size. Default: 7. */
  cbamKernelSize?: number;
  /**
   * Channel multiplier, rounded as torchvision's `width_mult` (to multiples
   * of 8; the last convolution keeps 1280 channels below 1.0). Default: 1.0,
   * the width of the pretrained weights. Narrow widths exist for small test
   * fixtures.
   */
  widthMultiplier?: number;
  /** Dropout rate before the classifier, active in training only. Default: 0.2, torchvision's. */
  dropout?: number;
  /** Seed of the weight initializers. Default: unseeded. */
  seed?: number;
}

/** Expansion t, output channels c, repeats n and first stride s of each stage, as in torchvision. */
const INVERTED_RESIDUAL_SETTING: readonly [number, number, number, number][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

const STEM_CHANNELS = 32;
const LAST_CHANNELS = 1280;
const ROUND_NEAREST = 8;

type Symbolic = tf.SymbolicTensor;

/**
 * Rounds `value` to a multiple of `divisor` that is not below 90% of it, as
 * torchvision's `_make_divisible` does.
 */
export function makeDivisible(value: number, divisor = ROUND_NEAREST): number {
  let rounded = Math.max(divisor, Math.floor(Math.trunc(value + divisor / 2) / divisor) * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

class Builder {
  #seed?: number;
  #counter = 0;

  constructor(seed?: number) {
    this.#seed = seed;
  }

  nextSeed(): number | undefined {
    return this.#seed === undefined ? undefined : this.#seed * 1000 + this.#counter++;
  }

  /** Convolution without bias; explicit zero padding when the stride is above 1. */
  conv(x: Symbolic, name: string, filters: number, kernel: number, stride: number): Symbolic {
    const input = this.#padForStride(x, name, kernel, stride);
    // torchvision: kaiming_normal_(mode="fan_out"), drawn uniform with the same variance.
    const kernelInitializer = tf.initializers.varianceScaling({
      scale: 2,
      mode: "fanOut",
      distribution: "uniform",
      seed: this.nextSeed(),
    });
    return tf.layers.conv2d({
      name,
      filters,
      kernelSize: kernel,
      strides: stride,
      padding: stride > 1 || kernel === 1 ? "valid" : "same",
      useBias: false,
      kernelInitializer,
    }).apply(input) as Symbolic;
  }

  /** 3x3 depthwise convolution without bias, one filter per channel. */
  depthwise(x: Symbolic, name: string, stride: number): Symbolic {
    const input = this.#padForStride(x, name, 3, stride);
    // PyTorch's fan_out of a [C, 1, 3, 3] weight is C * 9, which is tfjs's
    // fan_in of the [3, 3, C, 1] depthwise kernel.
    const depthwiseInitializer = tf.initializers.varianceScaling({
      scale: 2,
      mode: "fanIn",
      distribution: "uniform",
      seed: this.nextSeed(),
    });
    return tf.layers.depthwiseConv2d({
      name,
      kernelSize: 3,
      strides: stride,
      depthMultiplier: 1,
      padding: stride > 1 ? "valid" : "same",
      useBias: false,
      depthwiseInitializer,
    }).apply(input) as Symbolic;
  }

  bn(x: Symbolic, name: string): Symbolic {
    return batchNorm(name).apply(x) as Symbolic;
  }

  relu6(x: Symbolic, name: string): Symbolic {
    return tf.layers.reLU({ name, maxValue: 6 }).apply(x) as Symbolic;
  }

  /** Adds torchvision's Conv2dNormActivation: convolution `.0`, BatchNorm `.1`, ReLU6 `.2`. */
  convBnRelu6(
    x: Symbolic,
    name: string,
    filters: number,
    kernel: number,
    stride: number,
  ): Symbolic {
    const y = this.bn(this.conv(x, `${name}.0`, filters, kernel, stride), `${name}.1`);
    return this.relu6(y, `${name}.2`);
  }

  /** Adds a 3x3 depthwise convolution `.0`, BatchNorm `.1` and ReLU6 `.2`. */
  depthwiseBnRelu6(x: Symbolic, name: string, stride: number): Symbolic {
    const y = this.bn(this.depthwise(x, `${name}.0`, stride), `${name}.1`);
    return this.relu6(y, `${name}.2`);
  }

  cbam(x: Symbolic, prefix: string, reduction: number, kernelSize: number): Symbolic {
    const ca = channelAttention({ name: `${prefix}.ca`, reduction, seed: this.nextSeed() });
    const sa = spatialAttention({ name: `${prefix}.sa`, kernelSize, seed: this.nextSeed() });
    return sa.apply(ca.apply(x)) as Symbolic;
  }

  #padForStride(x: Symbolic, name: string, kernel: number, stride: number): Symbolic {
    const pad = Math.floor(kernel / 2);
    if (stride === 1 || pad === 0) return x;
    return tf.layers.zeroPadding2d({ name: `${name}.pad`, padding: pad }).apply(x) as Symbolic;
  }
}

interface InvertedResidualSpec {
  index: number;
  inChannels: number;
  outChannels: number;
  stride: number;
  expandRatio: number;
}

/**
 * torchvision's InvertedResidual: optional 1x1 expansion, 3x3 depthwise,
 * linear 1x1 projection, and a residual addition when shapes allow.
 */
function invertedResidual(b: Builder, x: Symbolic, spec: InvertedResidualSpec): Symbolic {
  const { index, inChannels, outChannels, stride, expandRatio } = spec;
  const name = `features.${index}.conv`;
  const hidden = Math.round(inChannels * expandRatio);
  let y = x;
  let j = 0;
  if (expandRatio !== 1) y = b.convBnRelu6(y, `${name}.${j++}`, hidden, 1, 1);
  y = b.depthwiseBnRelu6(y, `${name}.${j++}`, stride);
  y = b.conv(y, `${name}.${j++}`, outChannels, 1, 1);
  y = b.bn(y, `${name}.${j}`);
  if (stride === 1 && inChannels === outChannels) {
    y = tf.layers.add({ name: `features.${index}.add` }).apply([x, y]) as Symbolic;
  }
  return y;
}

function validateArgs(args: MobileNetV2Args): void {
  if (!Number.isInteger(args.numClasses) || args.numClasses < 1) {
    throw new Error(`numClasses must be a positive integer, got ${args.numClasses}.`);
  }
  if (!Number.isInteger(args.imgSize) || args.imgSize < 32) {
    throw new Error(`imgSize must be an integer of at least 32 pixels, got ${args.imgSize}.`);
  }
  const width = args.widthMultiplier ?? 1;
  if (!(width > 0)) throw new Error(`widthMultiplier must be positive, got ${width}.`);
  const dropout = args.dropout ?? 0.2;
  if (!(dropout >= 0 && dropout < 1)) {
    throw new Error(`dropout must be in [0, 1), got ${dropout}.`);
  }
  const cbam = args.cbam;
  if (cbam?.kind === "stages") {
    const positions = MOBILENET_V2_CBAM_FEATURES.map((_, i) => i + 1);
    const bad = cbam.stages.filter((stage) => !positions.includes(stage));
    if (bad.length > 0) {
      throw new Error(
        `MobileNetV2 CBAM stages must be among 1-5 (after features ` +
          `${MOBILENET_V2_CBAM_FEATURES.join(", ")}), got ${bad.join(", ")}.`,
      );
    }
  }
}

/** Returns the feature indices that get a CBAM module after them. */
function cbamFeatureIndices(placement: MobileNetV2CbamPlacement): Set<number> {
  if (placement.kind === "none") return new Set();
  return new Set(placement.stages.map((stage) => MOBILENET_V2_CBAM_FEATURES[stage - 1]));
}

/**
 * Builds a MobileNetV2 classifier that outputs logits (no softmax), with
 * torchvision's layer names (see the module documentation). With width 1.0
 * and 1000 classes it has torchvision's 3,504,872 parameters.
 */
export function buildMobileNetV2(args: MobileNetV2Args): tf.LayersModel {
  validateArgs(args);
  const b = new Builder(args.seed);
  const width = args.widthMultiplier ?? 1;
  const cbamAfter = cbamFeatureIndices(args.cbam ?? { kind: "none" });
  const reduction = args.cbamReduction ?? 16;
  const kernelSize = args.cbamKernelSize ?? 7;
  const addCbam = (x: Symbolic, index: number) =>
    cbamAfter.has(index) ? b.cbam(x, `cbam.${index}`, reduction, kernelSize) : x;

  const input = tf.input({ shape: [args.imgSize, args.imgSize, 3], name: "input" });
  let channels = makeDivisible(STEM_CHANNELS * width);
  let x = b.convBnRelu6(input, "features.0", channels, 3, 2);
  let index = 1;
  for (const [expandRatio, c, repeats, firstStride] of INVERTED_RESIDUAL_SETTING) {
    const outChannels = makeDivisible(c * width);
    for (let i = 0; i < repeats; i++) {
      const stride = i === 0 ? firstStride : 1;
      x = invertedResidual(b, x, { index, inChannels: channels, outChannels, stride, expandRatio });
      x = addCbam(x, index);
      channels = outChannels;
      index++;
    }
  }
  const lastChannels = makeDivisible(LAST_CHANNELS * Math.max(1, width));
  x = b.convBnRelu6(x, `features.${index}`, lastChannels, 1, 1);
  x = addCbam(x, index);

  x = tf.layers.globalAveragePooling2d({ name: "avgpool" }).apply(x) as Symbolic;
  x = tf.layers.dropout({ name: "classifier.0", rate: args.dropout ?? 0.2 }).apply(x) as Symbolic;
  const logits = tf.layers.dense({
    name: "classifier.1",
    units: args.numClasses,
    // torchvision: normal(0, 0.01) weights and zero bias.
    kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.01, seed: b.nextSeed() }),
    biasInitializer: "zeros",
  }).apply(x) as Symbolic;
  return tf.model({ inputs: input, outputs: logits, name: "mobilenet_v2" });
}
