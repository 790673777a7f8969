/**
 * The inference graph: a trained `tf.LayersModel` compiled into a flat list
 * of fused TensorFlow.js ops for prediction.
 *
 * {@linkcode compileInferenceModel} folds BatchNorm into the convolutions
 * (`fold.ts`), then turns each layer into one op call:
 *
 * - Conv2D and DepthwiseConv2D run as `tf.fused.conv2d` and
 *   `tf.fused.depthwiseConv2d`, with the bias and a following ReLU or ReLU6
 *   in the same kernel. The zero padding of a ZeroPadding2D layer before
 *   them becomes the convolution's own padding, so no padded copy of the
 *   activations is made;
 * - Dense runs as `tf.fused.matMul` with its bias;
 * - Add, ReLU and global average pooling run as single ops;
 * - every other layer (CBAM, max pooling, a BatchNorm that could not be
 *   folded) runs through its own `call` in inference mode.
 *
 * The tfjs-layers executor is bypassed, which also saves its per-layer
 * bookkeeping. Outputs equal the source model's within float32 rounding
 * (tested to 1e-4 on ResNet-18 and MobileNetV2 with CBAM).
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { buildMobileNetV2 } from "./mobilenet_v2.ts";
 * import { compileInferenceModel } from "./inference.ts";
 * const inference = compileInferenceModel(buildMobileNetV2({ numClasses: 6, imgSize: 224 }));
 * const logits = inference.predict(tf.zeros([1, 224, 224, 3]));
 * console.log(logits.shape, inference.stats);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { foldBatchNorm } from "./fold.ts";

type Activation = "linear" | "relu" | "relu6";
type Padding = "valid" | "same" | number | [[0, 0], [number, number], [number, number], [0, 0]];

/** One op of the compiled graph: reads tensors by id and writes one. */
interface Step {
  inputs: number[];
  output: number;
  run: (inputs: tf.Tensor[]) => tf.Tensor;
}

interface LayerNode {
  inputTensors: tf.SymbolicTensor[];
  outputTensors: tf.SymbolicTensor[];
}

/** Counts of the layers that {@linkcode compileInferenceModel} merged, for logs and benchmarks. */
export interface InferenceStats {
  /** BatchNormalization layers merged into a convolution. */
  foldedBatchNorm: number;
  /** ReLU and ReLU6 layers merged into a convolution kernel, by folding or compiling. */
  fusedActivations: number;
  /** ZeroPadding2D layers merged into a convolution's padding. */
  fusedPaddings: number;
  /** Ops run per prediction. */
  steps: number;
}

function nodeOf(layer: tf.layers.Layer): LayerNode {
  return (layer as unknown as { inboundNodes: LayerNode[] }).inboundNodes[0];
}

function consumerCounts(model: tf.LayersModel): Map<number, number> {
  const counts = new Map<number, number>();
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    for (const tensor of nodeOf(layer).inputTensors) {
      counts.set(tensor.id, (counts.get(tensor.id) ?? 0) + 1);
    }
  }
  for (const output of model.outputs) counts.set(output.id, (counts.get(output.id) ?? 0) + 1);
  return counts;
}

/** Returns the fused activation for a ReLU layer: plain ReLU or ReLU capped at 6. */
function activationOf(layer: tf.layers.Layer): Activation | undefined {
  const config = layer.getConfig();
  if (layer.getClassName() === "Activation") {
    return config.activation === "relu" ? "relu" : undefined;
  }
  if (layer.getClassName() !== "ReLU" || config.threshold || config.negativeSlope) return undefined;
  if (config.maxValue == null) return "relu";
  return config.maxValue === 6 ? "relu6" : undefined;
}

function layerActivation(layer: tf.layers.Layer): Activation | undefined {
  const activation = layer.getConfig().activation ?? "linear";
  return activation === "linear" || activation === "relu" ? activation : undefined;
}

/** Returns the padding of a ZeroPadding2D layer as a convolution padding, a number when symmetric. */
function zeroPaddingOf(layer: tf.layers.Layer): Padding {
  const [[top, bottom], [left, right]] = layer.getConfig().padding as [number, number][];
  if (top === bottom && left === right && top === left) return top;
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

function pair(value: unknown): [number, number] {
  return Array.isArray(value) ? [value[0], value[1]] : [Number(value), Number(value)];
}

/** Builds the step for a Conv2D or DepthwiseConv2D layer. */
function convStep(
  layer: tf.layers.Layer,
  pad: Padding,
  activation: Activation,
): (inputs: tf.Tensor[]) => tf.Tensor {
  const config = layer.getConfig();
  const [kernel, bias] = layer.getWeights() as [tf.Tensor4D, tf.Tensor1D | undefined];
  const strides = pair(config.strides);
  const dilations = pair(config.dilationRate ?? 1);
  if (layer.getClassName() === "DepthwiseConv2D") {
    return ([x]) =>
      tf.fused.depthwiseConv2d({
        x: x as tf.Tensor4D,
        filter: kernel,
        strides,
        pad: pad as "valid" | "same" | number,
        dilations,
        bias,
        activation,
      });
  }
  return ([x]) =>
    tf.fused.conv2d({
      x: x as tf.Tensor4D,
      filter: kernel,
      strides,
      pad,
      dilations,
      bias,
      activation,
    });
}

function denseStep(layer: tf.layers.Layer): (inputs: tf.Tensor[]) => tf.Tensor {
  const [kernel, bias] = layer.getWeights() as [tf.Tensor2D, tf.Tensor1D | undefined];
  const activation = layerActivation(layer);
  if (activation === undefined) return genericStep(layer);
  return ([x]) => tf.fused.matMul({ a: x as tf.Tensor2D, b: kernel, bias, activation });
}

function genericStep(layer: tf.layers.Layer): (inputs: tf.Tensor[]) => tf.Tensor {
  return (inputs) =>
    layer.apply(inputs.length === 1 ? inputs[0] : inputs, { training: false }) as tf.Tensor;
}

function isConv(layer: tf.layers.Layer): boolean {
  const name = layer.getClassName();
  return (name === "Conv2D" || name === "DepthwiseConv2D") &&
    layer.getConfig().dataFormat !== "channelsFirst";
}

interface CompiledSteps {
  steps: Step[];
  /** Id of the tensor that contains the model's output once every step has run. */
  outputId: number;
  stats: Omit<InferenceStats, "foldedBatchNorm">;
}

/** Compiles the layers of a folded model into steps, merging padding and activations. */
function compileSteps(model: tf.LayersModel): CompiledSteps {
  const counts = consumerCounts(model);
  const consumerOf = new Map<number, tf.layers.Layer>();
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    for (const tensor of nodeOf(layer).inputTensors) consumerOf.set(tensor.id, layer);
  }
  const soleConsumer = (tensorId: number) =>
    counts.get(tensorId) === 1 ? consumerOf.get(tensorId) : undefined;

  const steps: Step[] = [];
  const merged = new Set<tf.layers.Layer>();
  // Convolution padding taken over from a merged ZeroPadding2D.
  const paddingFor = new Map<tf.layers.Layer, Padding>();
  const aliases = new Map<number, number>();
  const resolve = (id: number) => aliases.get(id) ?? id;
  let fusedActivations = 0;
  let fusedPaddings = 0;

  for (const layer of model.layers) {
    const className = layer.getClassName();
    if (className === "InputLayer" || merged.has(layer)) continue;
    const node = nodeOf(layer);
    const inputs = node.inputTensors.map((t) => resolve(t.id));
    let output = node.outputTensors[0].id;

    if (className === "ZeroPadding2D") {
      const next = soleConsumer(output);
      const padding = zeroPaddingOf(layer);
      const depthwiseNeedsNumber = next?.getClassName() === "DepthwiseConv2D" &&
        typeof padding !== "number";
      if (next && isConv(next) && next.getConfig().padding === "valid" && !depthwiseNeedsNumber) {
        // The convolution reads this layer's input and pads it itself.
        aliases.set(output, inputs[0]);
        paddingFor.set(next, padding);
        fusedPaddings++;
        continue;
      }
    }

    let run: (inputs: tf.Tensor[]) => tf.Tensor;
    if (isConv(layer) && layerActivation(layer) !== undefined) {
      let activation = layerActivation(layer)!;
      const next = soleConsumer(output);
      const nextActivation = next ? activationOf(next) : undefined;
      if (activation === "linear" && next && nextActivation) {
        activation = nextActivation;
        merged.add(next);
        output = nodeOf(next).outputTensors[0].id;
        fusedActivations++;
      }
      run = convStep(
        layer,
        paddingFor.get(layer) ?? (layer.getConfig().padding as Padding),
        activation,
      );
    } else if (className === "Dense") {
      run = denseStep(layer);
    } else if (className === "Add") {
      run = (xs) => tf.addN(xs);
    } else if (
      className === "GlobalAveragePooling2D" && layer.getConfig().dataFormat !== "channelsFirst"
    ) {
      run = ([x]) => tf.mean(x, [1, 2]);
    } else if (activationOf(layer) === "relu") {
      run = ([x]) => tf.relu(x);
    } else if (activationOf(layer) === "relu6") {
      run = ([x]) => tf.relu6(x);
    } else if (className === "Dropout") {
      aliases.set(output, inputs[0]);
      continue;
    } else {
      run = genericStep(layer);
    }
    steps.push({ inputs, output, run });
  }
  return {
    steps,
    outputId: resolve(model.outputs[0].id),
    stats: { fusedActivations, fusedPaddings, steps: steps.length },
  };
}

/** A compiled model that runs prediction only. */
export class InferenceModel {
  /** Counts of what was folded and fused. */
  readonly stats: InferenceStats;
  readonly #folded: tf.LayersModel;
  readonly #steps: Step[];
  readonly #inputId: number;
  readonly #outputId: number;

  /** Use {@linkcode compileInferenceModel}. */
  constructor(
    folded: tf.LayersModel,
    counts: { foldedCount: number; fusedActivationCount: number },
  ) {
    if (folded.inputs.length !== 1 || folded.outputs.length !== 1) {
      throw new Error(
        `InferenceModel expects one input and one output, got ${folded.inputs.length} and ` +
          `${folded.outputs.length}.`,
      );
    }
    const { steps, outputId, stats } = compileSteps(folded);
    this.#folded = folded;
    this.#steps = steps;
    this.#inputId = folded.inputs[0].id;
    this.#outputId = outputId;
    this.stats = {
      ...stats,
      foldedBatchNorm: counts.foldedCount,
      fusedActivations: stats.fusedActivations + counts.fusedActivationCount,
    };
  }

  /** Input shape without the batch axis, for example `[224, 224, 3]`. */
  get inputShape(): number[] {
    return this.#folded.inputs[0].shape.slice(1) as number[];
  }

  /**
   * Returns the model's output (logits for the models of this project) for
   * an NHWC batch. The caller disposes the result; intermediate tensors are
   * freed. Throws a `RangeError` when `x` does not have the model's input
   * shape, as `tf.LayersModel.predict` does.
   */
  predict(x: tf.Tensor4D): tf.Tensor {
    const expected = this.inputShape;
    const actual = x.shape.slice(1);
    if (x.rank !== 4 || expected.some((side, i) => side !== null && side !== actual[i])) {
      throw new RangeError(
        `InferenceModel.predict expects a batch of shape [n, ${expected.join(", ")}], ` +
          `got [${x.shape.join(", ")}].`,
      );
    }
    return tf.tidy(() => {
      const values = new Map<number, tf.Tensor>([[this.#inputId, x]]);
      for (const step of this.#steps) {
        values.set(step.output, step.run(step.inputs.map((id) => values.get(id)!)));
      }
      return values.get(this.#outputId)!;
    });
  }

  /** Frees the folded weights. */
  dispose(): void {
    this.#folded.dispose();
  }
}

/**
 * Folds and compiles `model` for inference. The source model is not changed
 * and still owns its weights; the returned model owns folded copies.
 */
export function compileInferenceModel(model: tf.LayersModel): InferenceModel {
  const { model: folded, ...counts } = foldBatchNorm(model);
  return new InferenceModel(folded, counts);
}
