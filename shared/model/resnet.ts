/**
 * ResNet-18/34/50/101/152 (He et al., 2016) with optional CBAM, built with
 * tfjs layers in torchvision's geometry so that a torchvision state_dict maps
 * onto it by layer name.
 *
 * Geometry matches torchvision 0.14+ (ResNet v1.5), where the stride of a
 * Bottleneck is on its 3x3 convolution. Stride-2 convolutions and the stem
 * max-pool get explicit symmetric zero padding, because TF's "same" padding
 * pads asymmetrically at stride 2 and computes different numbers than
 * PyTorch. The max-pool pads with zeros where PyTorch pads with -inf. Both
 * give the same result because its input comes out of a ReLU and is >= 0.
 *
 * @example
 * ```ts
 * import { buildResNet } from "./resnet.ts";
 * const model = buildResNet({ depth: 18, numClasses: 6, imgSize: 64, cbam: { kind: "stages", stages: [1, 2, 3, 4] } });
 * console.log(model.outputs[0].shape); // [null, 6]
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { batchNorm } from "./batch_norm.ts";
import { channelAttention, spatialAttention } from "./cbam.ts";

/** Supported ResNet depths. */
export type ResNetDepth = 18 | 34 | 50 | 101 | 152;

/** Placement of the CBAM modules. */
export type CbamPlacement =
  | { kind: "none" }
  /** After the last block of each listed stage (1 to 4): `layerN.cbam`. */
  | { kind: "stages"; stages: number[] }
  /** Inside every block, on the residual branch before the addition: `layerN.M.cbam`. */
  | { kind: "blocks" };

/** Arguments of {@linkcode buildResNet}. */
export interface ResNetArgs {
  /** Number of layers: 18, 34 (BasicBlock) or 50, 101, 152 (Bottleneck). */
  depth: ResNetDepth;
  /** Number of output logits. */
  numClasses: number;
  /** Height and width of the square input in pixels. */
  imgSize: number;
  /** CBAM placement. Default: `{ kind: "none" }`. */
  cbam?: CbamPlacement;
  /** CBAM channel reduction ratio. Default: 16. */
  cbamReduction?: number;
  /** CBAM spatial kernel size. Default: 7. */
  cbamKernelSize?: number;
  /**
   * Channels of the stem and of stage 1; stage N has baseWidth x 2^(N-1)
   * (times 4 at Bottleneck outputs). Default: 64, torchvision's. Narrow
   * widths exist for small test fixtures.
   */
  baseWidth?: number;
  /** Seed of the weight initializers. Default: unseeded. */
  seed?: number;
}

/** Blocks per stage for each depth, as in torchvision. */
export const STAGE_BLOCKS: Record<ResNetDepth, [number, number, number, number]> = {
  18: [2, 2, 2, 2],
  34: [3, 4, 6, 3],
  50: [3, 4, 6, 3],
  101: [3, 4, 23, 3],
  152: [3, 8, 36, 3],
};

/** The depths {@linkcode buildResNet} accepts. */
export const RESNET_DEPTHS = Object.keys(STAGE_BLOCKS).map(Number) as ResNetDepth[];

type Symbolic = tf.SymbolicTensor;

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
    let input = x;
    const pad = Math.floor(kernel / 2);
    const explicitPad = stride > 1 && pad > 0;
    if (explicitPad) {
      input = tf.layers.zeroPadding2d({ name: `${name}.pad`, padding: pad }).apply(
        input,
      ) as Symbolic;
    }
    // kaiming_normal_(mode="fan_out", nonlinearity="relu") as torchvision
    // does, drawn uniform with the same variance.
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
      padding: explicitPad || kernel === 1 ? "valid" : "same",
      useBias: false,
      kernelInitializer,
    }).apply(input) as Symbolic;
  }

  bn(x: Symbolic, name: string): Symbolic {
    return batchNorm(name).apply(x) as Symbolic;
  }

  relu(x: Symbolic, name: string): Symbolic {
    return tf.layers.reLU({ name }).apply(x) as Symbolic;
  }

  cbam(x: Symbolic, prefix: string, reduction: number, kernelSize: number): Symbolic {
    const ca = channelAttention({ name: `${prefix}.ca`, reduction, seed: this.nextSeed() });
    const sa = spatialAttention({ name: `${prefix}.sa`, kernelSize, seed: this.nextSeed() });
    return sa.apply(ca.apply(x)) as Symbolic;
  }
}

interface BlockSpec {
  name: string;
  width: number;
  stride: number;
  bottleneck: boolean;
  inChannels: number;
  cbam: { reduction: number; kernelSize: number } | null;
}

function residualBlock(b: Builder, x: Symbolic, spec: BlockSpec): Symbolic {
  const { name, width, stride, bottleneck } = spec;
  const outChannels = bottleneck ? width * 4 : width;
  let y: Symbolic;
  if (bottleneck) {
    y = b.relu(b.bn(b.conv(x, `${name}.conv1`, width, 1, 1), `${name}.bn1`), `${name}.relu1`);
    y = b.relu(b.bn(b.conv(y, `${name}.conv2`, width, 3, stride), `${name}.bn2`), `${name}.relu2`);
    y = b.bn(b.conv(y, `${name}.conv3`, outChannels, 1, 1), `${name}.bn3`);
  } else {
    y = b.relu(b.bn(b.conv(x, `${name}.conv1`, width, 3, stride), `${name}.bn1`), `${name}.relu1`);
    y = b.bn(b.conv(y, `${name}.conv2`, width, 3, 1), `${name}.bn2`);
  }
  if (spec.cbam) y = b.cbam(y, `${name}.cbam`, spec.cbam.reduction, spec.cbam.kernelSize);

  let shortcut = x;
  if (stride !== 1 || spec.inChannels !== outChannels) {
    shortcut = b.bn(
      b.conv(x, `${name}.downsample.0`, outChannels, 1, stride),
      `${name}.downsample.1`,
    );
  }
  const sum = tf.layers.add({ name: `${name}.add` }).apply([y, shortcut]) as Symbolic;
  return b.relu(sum, `${name}.relu`);
}

function validateArgs(args: ResNetArgs): void {
  if (!(args.depth in STAGE_BLOCKS)) {
    throw new Error(
      `Unsupported ResNet depth ${args.depth}. Use one of: ${RESNET_DEPTHS.join(", ")}.`,
    );
  }
  if (!Number.isInteger(args.numClasses) || args.numClasses < 1) {
    throw new Error(`numClasses must be a positive integer, got ${args.numClasses}.`);
  }
  if (!Number.isInteger(args.imgSize) || args.imgSize < 32) {
    throw new Error(`imgSize must be an integer of at least 32 pixels, got ${args.imgSize}.`);
  }
  const cbam = args.cbam;
  if (cbam?.kind === "stages") {
    const bad = cbam.stages.filter((s) => ![1, 2, 3, 4].includes(s));
    if (bad.length > 0) throw new Error(`CBAM stages must be among 1-4, got ${bad.join(", ")}.`);
  }
}

/**
 * Builds a ResNet classifier that outputs logits (no softmax). Layer names
 * follow torchvision's state_dict keys: `conv1`, `bn1`, `layer1.0.conv1`,
 * `layer1.0.downsample.0`, `fc`; CBAM layers are `layerN.cbam.ca` and
 * `layerN.cbam.sa` after a stage, or `layerN.M.cbam.ca` and `.sa` in a block.
 */
export function buildResNet(args: ResNetArgs): tf.LayersModel {
  validateArgs(args);
  const b = new Builder(args.seed);
  const base = args.baseWidth ?? 64;
  const placement = args.cbam ?? { kind: "none" };
  const cbamOptions = { reduction: args.cbamReduction ?? 16, kernelSize: args.cbamKernelSize ?? 7 };
  const bottleneck = args.depth >= 50;

  const input = tf.input({ shape: [args.imgSize, args.imgSize, 3], name: "input" });
  let x = b.relu(b.bn(b.conv(input, "conv1", base, 7, 2), "bn1"), "relu");
  x = tf.layers.zeroPadding2d({ name: "maxpool.pad", padding: 1 }).apply(x) as Symbolic;
  x = tf.layers.maxPooling2d({ name: "maxpool", poolSize: 3, strides: 2, padding: "valid" })
    .apply(x) as Symbolic;

  let channels = base;
  STAGE_BLOCKS[args.depth].forEach((blocks, stageIndex) => {
    const stage = stageIndex + 1;
    const width = base * 2 ** stageIndex;
    for (let m = 0; m < blocks; m++) {
      x = residualBlock(b, x, {
        name: `layer${stage}.${m}`,
        width,
        stride: m === 0 && stage > 1 ? 2 : 1,
        bottleneck,
        inChannels: channels,
        cbam: placement.kind === "blocks" ? cbamOptions : null,
      });
      channels = bottleneck ? width * 4 : width;
    }
    if (placement.kind === "stages" && placement.stages.includes(stage)) {
      x = b.cbam(x, `layer${stage}.cbam`, cbamOptions.reduction, cbamOptions.kernelSize);
    }
  });

  x = tf.layers.globalAveragePooling2d({ name: "avgpool" }).apply(x) as Symbolic;
  const bound = 1 / Math.sqrt(channels);
  const logits = tf.layers.dense({
    name: "fc",
    units: args.numClasses,
    kernelInitializer: tf.initializers.randomUniform({
      minval: -bound,
      maxval: bound,
      seed: b.nextSeed(),
    }),
    biasInitializer: tf.initializers.randomUniform({
      minval: -bound,
      maxval: bound,
      seed: b.nextSeed(),
    }),
  }).apply(x) as Symbolic;
  return tf.model({ inputs: input, outputs: logits, name: `resnet${args.depth}` });
}
