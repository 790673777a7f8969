/**
 * BatchNorm folding: rewrites a trained model into an equivalent one for
 * inference, with every BatchNormalization that directly follows a
 * convolution merged into that convolution's kernel and bias.
 *
 * For a convolution with kernel `W` and bias `b` followed by BatchNorm with
 * `gamma`, `beta`, moving mean `mu`, moving variance `var` and epsilon `eps`,
 * each output channel `c` gets `s = gamma / sqrt(var + eps)`,
 * `W'[..., c] = W[..., c] * s` and `b'[c] = (b[c] - mu[c]) * s + beta[c]`.
 * A ReLU that follows becomes the convolution's activation, which
 * tfjs-layers 4.22 runs as one fused kernel. Dropout layers are removed,
 * because they are the identity in inference.
 *
 * The result is a standard `tf.LayersModel` with the same layer names for
 * the layers that remain, so it saves with `saveModelDir` and loads with
 * `tf.loadLayersModel` in a browser. It can no longer be trained as before:
 * keep the original model for fine-tuning.
 *
 * @example
 * ```ts
 * import { buildResNet } from "./resnet.ts";
 * import { foldBatchNorm } from "./fold.ts";
 * const model = buildResNet({ depth: 18, numClasses: 6, imgSize: 224 });
 * const { model: folded, foldedCount } = foldBatchNorm(model);
 * console.log(foldedCount, folded.layers.length < model.layers.length);
 * ```
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { isBatchNorm } from "./batch_norm.ts";

type Symbolic = tf.SymbolicTensor;
type Kwargs = Record<string, unknown>;

/** The result of {@linkcode foldBatchNorm}. */
export interface FoldResult {
  /** The rewritten model. It owns copies of the weights, independent of the input model. */
  model: tf.LayersModel;
  /** Number of BatchNormalization layers merged into a convolution. */
  foldedCount: number;
  /** Number of activation layers merged into a convolution. */
  fusedActivationCount: number;
}

interface LayerNode {
  inputTensors: Symbolic[];
  outputTensors: Symbolic[];
}

/** Rewrite decision for one layer of the original model. */
type Plan =
  | { kind: "copy" }
  | { kind: "skip" }
  | { kind: "conv"; batchNorm?: tf.layers.Layer; activation?: tf.layers.Layer };

const CONV_CLASSES = new Set(["Conv2D", "DepthwiseConv2D"]);

/** Returns the one inbound node of `layer`, or throws for a layer used more than once. */
function nodeOf(layer: tf.layers.Layer): LayerNode {
  const nodes = (layer as unknown as { inboundNodes: LayerNode[] }).inboundNodes;
  if (nodes.length !== 1) {
    throw new Error(
      `foldBatchNorm: layer "${layer.name}" is used ${nodes.length} times; ` +
        "models with shared layers are not supported. Fold the model as built, before reuse.",
    );
  }
  return nodes[0];
}

/** Maps each symbolic tensor id to the layers that consume it. */
function consumersOf(model: tf.LayersModel): Map<number, tf.layers.Layer[]> {
  const consumers = new Map<number, tf.layers.Layer[]>();
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    for (const tensor of nodeOf(layer).inputTensors) {
      const list = consumers.get(tensor.id) ?? [];
      list.push(layer);
      consumers.set(tensor.id, list);
    }
  }
  for (const output of model.outputs) {
    consumers.set(output.id, [...(consumers.get(output.id) ?? []), model as tf.layers.Layer]);
  }
  return consumers;
}

/** Returns the one layer consuming `layer`'s output, or undefined when there are several or none. */
function soleConsumer(
  layer: tf.layers.Layer,
  consumers: Map<number, tf.layers.Layer[]>,
): tf.layers.Layer | undefined {
  const list = consumers.get(nodeOf(layer).outputTensors[0].id) ?? [];
  return list.length === 1 ? list[0] : undefined;
}

/** Returns the fused activation name for a ReLU or Activation layer that tfjs-layers convolutions can run. */
function fusableActivation(layer: tf.layers.Layer): "relu" | undefined {
  const config = layer.getConfig();
  if (layer.getClassName() === "ReLU") {
    const plain = config.maxValue == null && !config.threshold && !config.negativeSlope;
    return plain ? "relu" : undefined;
  }
  if (layer.getClassName() === "Activation" && config.activation === "relu") return "relu";
  return undefined;
}

function isFoldableBatchNorm(layer: tf.layers.Layer | undefined): layer is tf.layers.Layer {
  if (layer === undefined || !isBatchNorm(layer)) return false;
  const axis = layer.getConfig().axis;
  return axis === -1 || axis === 3;
}

function hasLinearActivation(conv: tf.layers.Layer): boolean {
  const activation = conv.getConfig().activation;
  return activation === undefined || activation === null || activation === "linear";
}

/** Decides, for every layer, whether it is copied, removed or merged into a convolution. */
function planRewrite(model: tf.LayersModel): Map<tf.layers.Layer, Plan> {
  const consumers = consumersOf(model);
  const plans = new Map<tf.layers.Layer, Plan>();
  for (const layer of model.layers) {
    if (plans.has(layer)) continue;
    const className = layer.getClassName();
    if (className === "Dropout") {
      plans.set(layer, { kind: "skip" });
      continue;
    }
    if (!CONV_CLASSES.has(className) || !hasLinearActivation(layer)) {
      plans.set(layer, { kind: "copy" });
      continue;
    }
    const next = soleConsumer(layer, consumers);
    const batchNorm = isFoldableBatchNorm(next) ? next : undefined;
    const last = batchNorm ?? layer;
    const after = soleConsumer(last, consumers);
    const activation = after && fusableActivation(after) ? after : undefined;
    plans.set(layer, { kind: "conv", batchNorm, activation });
    if (batchNorm) plans.set(batchNorm, { kind: "skip" });
    if (activation) plans.set(activation, { kind: "skip" });
  }
  return plans;
}

/** Creates a new, unbuilt layer of the same class from `config`. */
function layerFromConfig(className: string, config: tf.serialization.ConfigDict): tf.layers.Layer {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (entry === undefined) {
    throw new Error(
      `foldBatchNorm: layer class "${className}" is not registered for serialization. ` +
        "Import the module that defines it (for example ./cbam.ts) first.",
    );
  }
  const [cls, fromConfig] = entry;
  return fromConfig(cls, config) as tf.layers.Layer;
}

/** BatchNorm weights as per-channel scale and shift: `y = x * scale + shift`. */
function batchNormAffine(batchNorm: tf.layers.Layer): { scale: Float64Array; shift: Float64Array } {
  const config = batchNorm.getConfig();
  const weights = batchNorm.getWeights().map((w) => w.dataSync() as Float32Array);
  let index = 0;
  const gamma = config.scale === false ? undefined : weights[index++];
  const beta = config.center === false ? undefined : weights[index++];
  const mean = weights[index++];
  const variance = weights[index++];
  const epsilon = Number(config.epsilon ?? 1e-3);
  const channels = mean.length;
  const scale = new Float64Array(channels);
  const shift = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + epsilon);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

/**
 * Returns the kernel and bias of `conv` with `batchNorm` folded in. For
 * Conv2D (HWIO) the output channel is the last kernel axis. For
 * DepthwiseConv2D ([h, w, in, multiplier]) output channel
 * `i * multiplier + m` is element [i, m] of the last two axes, which is flat
 * index `i * multiplier + m`, so one loop over the flat kernel serves both.
 */
function foldedWeights(
  conv: tf.layers.Layer,
  batchNorm: tf.layers.Layer | undefined,
): { kernel: tf.Tensor; bias: tf.Tensor } {
  const [kernelTensor, biasTensor] = conv.getWeights();
  const kernel = Float32Array.from(kernelTensor.dataSync() as Float32Array);
  const shape = kernelTensor.shape as [number, number, number, number];
  const depthwise = conv.getClassName() === "DepthwiseConv2D";
  const channels = depthwise ? shape[2] * shape[3] : shape[3];
  const bias = new Float32Array(channels);
  if (biasTensor) bias.set(biasTensor.dataSync() as Float32Array);
  if (batchNorm) {
    const { scale, shift } = batchNormAffine(batchNorm);
    if (scale.length !== channels) {
      throw new Error(
        `foldBatchNorm: BatchNorm "${batchNorm.name}" has ${scale.length} channels but ` +
          `convolution "${conv.name}" outputs ${channels}.`,
      );
    }
    for (let i = 0; i < kernel.length; i++) kernel[i] *= scale[i % channels];
    for (let c = 0; c < channels; c++) bias[c] = bias[c] * scale[c] + shift[c];
  }
  return { kernel: tf.tensor(kernel, shape), bias: tf.tensor1d(bias) };
}

/** Builds the merged convolution layer and applies it to `input`. */
function applyFoldedConv(
  conv: tf.layers.Layer,
  plan: Extract<Plan, { kind: "conv" }>,
  input: Symbolic,
): Symbolic {
  const config = {
    ...conv.getConfig(),
    useBias: true,
    biasInitializer: { className: "Zeros", config: {} },
    activation: plan.activation ? "relu" : "linear",
  };
  const layer = layerFromConfig(conv.getClassName(), config);
  const output = layer.apply(input) as Symbolic;
  const { kernel, bias } = foldedWeights(conv, plan.batchNorm);
  layer.setWeights([kernel, bias]);
  return output;
}

/** Copies `layer` with its weights and applies the copy to `inputs`. */
function applyCopy(layer: tf.layers.Layer, inputs: Symbolic[], kwargs: Kwargs): Symbolic {
  const copy = layerFromConfig(layer.getClassName(), layer.getConfig());
  const output = copy.apply(inputs.length === 1 ? inputs[0] : inputs, kwargs) as Symbolic;
  const weights = layer.getWeights().map((w) => w.clone());
  if (weights.length > 0) copy.setWeights(weights);
  tf.dispose(weights);
  return output;
}

/**
 * Returns an inference copy of `model` with BatchNorm folded into the
 * preceding Conv2D or DepthwiseConv2D, a following ReLU fused into the
 * convolution, and Dropout removed. The outputs equal the original model's
 * in inference mode up to float32 rounding. A BatchNorm that does not
 * directly follow a convolution used only by it is kept. The input model is
 * left unchanged and can be disposed independently.
 *
 * Throws an `Error` for a model with a layer used more than once, or a layer
 * class that is not registered for serialization.
 */
export function foldBatchNorm(model: tf.LayersModel): FoldResult {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new Error(
      `foldBatchNorm expects one input and one output, got ${model.inputs.length} and ` +
        `${model.outputs.length}.`,
    );
  }
  const plans = planRewrite(model);
  const mapped = new Map<number, Symbolic>();
  const original = model.inputs[0];
  const input = tf.input({ shape: original.shape.slice(1) as number[], name: original.name });
  mapped.set(original.id, input);
  let foldedCount = 0;
  let fusedActivationCount = 0;

  tf.tidy(() => {
    for (const layer of model.layers) {
      if (layer.getClassName() === "InputLayer") continue;
      const node = nodeOf(layer);
      const plan = plans.get(layer)!;
      const inputs = node.inputTensors.map((t) => mapped.get(t.id)!);
      if (plan.kind === "skip") {
        // Carries the input through: a removed Dropout, or a BatchNorm or
        // activation merged into the convolution before it.
        mapped.set(node.outputTensors[0].id, inputs[0]);
        continue;
      }
      if (plan.kind === "conv") {
        mapped.set(node.outputTensors[0].id, applyFoldedConv(layer, plan, inputs[0]));
        if (plan.batchNorm) foldedCount++;
        if (plan.activation) fusedActivationCount++;
        continue;
      }
      mapped.set(node.outputTensors[0].id, applyCopy(layer, inputs, { training: false }));
    }
  });

  const output = mapped.get(model.outputs[0].id)!;
  const folded = tf.model({ inputs: input, outputs: output, name: model.name });
  return { model: folded, foldedCount, fusedActivationCount };
}

/** Returns whether `model` still has a BatchNormalization layer that {@linkcode foldBatchNorm} would merge. */
export function hasFoldableBatchNorm(model: tf.LayersModel): boolean {
  const plans = planRewrite(model);
  return [...plans.values()].some((plan) => plan.kind === "conv" && plan.batchNorm !== undefined);
}
