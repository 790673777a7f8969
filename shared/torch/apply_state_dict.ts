/**
 * Copies a PyTorch state_dict into a TensorFlow.js layers model whose layer
 * names are the PyTorch module names (as in `shared/model/resnet.ts` and
 * `shared/model/mobilenet_v2.ts`).
 *
 * Each layer's weights are matched by position, in the order that
 * `layer.getWeights()` returns them:
 *
 * | tfjs layer class   | PyTorch keys under the layer name                                  |
 * | ------------------ | ------------------------------------------------------------------ |
 * | Conv2D             | `weight` (OIHW to HWIO), `bias` if the layer has one               |
 * | DepthwiseConv2D    | `weight` ([C, 1, k, k] to [k, k, C, 1]), `bias` if any             |
 * | Dense              | `weight` ([out, in] to [in, out]), `bias`                          |
 * | BatchNormalization | `weight`, `bias`, `running_mean`, `running_var`                    |
 * | ChannelAttention   | `fc1.weight`, `fc2.weight` (1x1 convolutions, OIHW to HWIO)        |
 * | SpatialAttention   | `conv1.weight` ([1, 2, k, k] to [k, k, 2, 1])                      |
 *
 * For example, layer `layer1.0.bn1` takes `layer1.0.bn1.weight`, and layer
 * `layer2.cbam.ca` takes `layer2.cbam.ca.fc1.weight`. `num_batches_tracked`
 * buffers are ignored.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { TorchCheckpointError } from "./errors.ts";
import { convertLayout, type LayoutConversion, torchShapeFor } from "./layout.ts";
import type { StateDict } from "./tensor.ts";

/** Options for {@linkcode applyStateDict}. */
export interface ApplyStateDictOptions {
  /**
   * Leave the classifier (`fc` or `classifier.1`) at its current weights
   * when the checkpoint's class count differs from the model's, or when the
   * checkpoint has no classifier. Default: `false`, so either case throws.
   */
  allowClassifierMismatch?: boolean;
  /**
   * Leave CBAM modules at their current weights when the checkpoint has none
   * of their keys, as with a plain torchvision checkpoint. Default: `false`,
   * so missing CBAM keys throw.
   */
  allowMissingCbam?: boolean;
}

/** Weights that {@linkcode applyStateDict} left unchanged: a skipped classifier and fresh CBAM modules. */
export interface ApplyStateDictResult {
  /** Checkpoint keys of the classifier that were skipped, or the model's keys it lacked. */
  skipped: string[];
  /** CBAM modules (for example `layer1.cbam`) that the checkpoint lacks and that start fresh. */
  freshCbam: string[];
}

/** Names of the classifier layers, torchvision's `fc` (ResNet) and `classifier.1` (MobileNetV2). */
export const CLASSIFIER_LAYER_NAMES: readonly string[] = ["fc", "classifier.1"];

const CBAM_CLASS_NAMES = new Set(["ChannelAttention", "SpatialAttention"]);
const MAX_LISTED_KEYS = 20;

/** One tfjs weight and the checkpoint key that fills it. */
interface WeightSlot {
  key: string;
  conversion: LayoutConversion;
  tfjsShape: number[];
}

interface LayerPlan {
  layer: tf.layers.Layer;
  slots: WeightSlot[];
}

interface MatchProblems {
  missing: string[];
  unexpected: string[];
  shapes: string[];
}

/**
 * Copies the tensors of `stateDict` into `model`, converting layouts. All
 * checks run before any weight is set, so on error the model is unchanged.
 *
 * @throws {TorchCheckpointError} listing the missing keys, unexpected keys and
 * shape mismatches, when the checkpoint does not fit the model (another
 * architecture, width or CBAM placement), except for what the options allow.
 */
export function applyStateDict(
  model: tf.LayersModel,
  stateDict: StateDict,
  options: ApplyStateDictOptions = {},
): ApplyStateDictResult {
  const plans = planLayers(model);
  const keys = new Set([...stateDict.keys()].filter((key) => !isIgnoredKey(key)));
  const result: ApplyStateDictResult = { skipped: [], freshCbam: [] };
  const problems: MatchProblems = { missing: [], unexpected: [], shapes: [] };
  const toLoad: LayerPlan[] = [];
  const absentCbam = findAbsentCbamModules(plans, stateDict);

  for (const plan of plans) {
    const slots = plan.slots;
    slots.forEach((slot) => keys.delete(slot.key));
    const present = slots.filter((slot) => stateDict.has(slot.key));
    const mismatched = present.filter((slot) => !shapeMatches(slot, stateDict));

    if (isClassifier(plan.layer) && options.allowClassifierMismatch) {
      const absent = present.length === 0;
      const otherClassCount = present.length === slots.length && mismatched.length > 0 &&
        mismatched.every((slot) => differsOnlyInClassCount(slot, stateDict));
      if (absent || otherClassCount) {
        result.skipped.push(...slots.map((slot) => slot.key));
        continue;
      }
    }
    const cbamModule = cbamModuleName(plan.layer);
    if (cbamModule !== undefined && options.allowMissingCbam && absentCbam.has(cbamModule)) {
      if (!result.freshCbam.includes(cbamModule)) result.freshCbam.push(cbamModule);
      continue;
    }
    for (const slot of slots) {
      if (!stateDict.has(slot.key)) problems.missing.push(slot.key);
    }
    for (const slot of mismatched) problems.shapes.push(describeShapeMismatch(slot, stateDict));
    toLoad.push(plan);
  }
  problems.unexpected.push(...keys);
  throwIfProblems(problems, stateDict);

  for (const plan of toLoad) setLayerWeights(plan, stateDict);
  return result;
}

/** Returns whether a state_dict key is a buffer that has no tfjs counterpart. */
export function isIgnoredKey(key: string): boolean {
  return key.endsWith(".num_batches_tracked");
}

function planLayers(model: tf.LayersModel): LayerPlan[] {
  const plans: LayerPlan[] = [];
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const tfjsShapes = layer.weights.map((weight) => weight.shape as number[]);
    const suffixes = torchSuffixes(layer);
    if (suffixes.length !== tfjsShapes.length) {
      throw new TorchCheckpointError(
        `Layer "${layer.name}" (${layer.getClassName()}) has ${tfjsShapes.length} weights, but ` +
          `its PyTorch counterpart has ${suffixes.length}; the model cannot take a state_dict.`,
      );
    }
    const slots = suffixes.map(([suffix, conversion], index) => ({
      key: `${layer.name}.${suffix}`,
      conversion,
      tfjsShape: tfjsShapes[index],
    }));
    plans.push({ layer, slots });
  }
  return plans;
}

/** Lists the PyTorch key suffix and layout conversion of each weight, in tfjs order. */
function torchSuffixes(layer: tf.layers.Layer): [string, LayoutConversion][] {
  const config = layer.getConfig();
  const className = layer.getClassName();
  switch (className) {
    case "Conv2D":
      return config.useBias ? [["weight", "conv"], ["bias", "identity"]] : [["weight", "conv"]];
    case "DepthwiseConv2D":
      return config.useBias
        ? [["weight", "depthwise"], ["bias", "identity"]]
        : [["weight", "depthwise"]];
    case "Dense":
      return config.useBias ? [["weight", "linear"], ["bias", "identity"]] : [["weight", "linear"]];
    case "BatchNormalization": {
      const suffixes: [string, LayoutConversion][] = [];
      if (config.scale !== false) suffixes.push(["weight", "identity"]);
      if (config.center !== false) suffixes.push(["bias", "identity"]);
      suffixes.push(["running_mean", "identity"], ["running_var", "identity"]);
      return suffixes;
    }
    case "ChannelAttention":
      return [["fc1.weight", "conv"], ["fc2.weight", "conv"]];
    case "SpatialAttention":
      return [["conv1.weight", "conv"]];
    default:
      throw new TorchCheckpointError(
        `Layer "${layer.name}" has class ${className}, which has no known PyTorch ` +
          `counterpart, so a state_dict cannot be applied to this model.`,
      );
  }
}

function isClassifier(layer: tf.layers.Layer): boolean {
  return CLASSIFIER_LAYER_NAMES.includes(layer.name);
}

/** Returns the CBAM module a layer belongs to (`layer1.cbam` for `layer1.cbam.ca`), if any. */
function cbamModuleName(layer: tf.layers.Layer): string | undefined {
  if (!CBAM_CLASS_NAMES.has(layer.getClassName())) return undefined;
  return layer.name.replace(/\.(ca|sa)$/, "");
}

/**
 * Returns the CBAM modules of which the checkpoint has no key at all. A
 * module with only some of its keys is not absent: its missing keys are
 * reported as errors.
 */
function findAbsentCbamModules(plans: LayerPlan[], stateDict: StateDict): Set<string> {
  const present = new Set<string>();
  const all = new Set<string>();
  for (const plan of plans) {
    const module = cbamModuleName(plan.layer);
    if (module === undefined) continue;
    all.add(module);
    if (plan.slots.some((slot) => stateDict.has(slot.key))) present.add(module);
  }
  return new Set([...all].filter((module) => !present.has(module)));
}

function shapeMatches(slot: WeightSlot, stateDict: StateDict): boolean {
  const expected = torchShapeFor(slot.conversion, slot.tfjsShape);
  const actual = stateDict.get(slot.key)!.shape;
  return expected.length === actual.length && expected.every((size, i) => size === actual[i]);
}

/** Returns whether only the output dimension (dimension 0 in PyTorch) differs. */
function differsOnlyInClassCount(slot: WeightSlot, stateDict: StateDict): boolean {
  const expected = torchShapeFor(slot.conversion, slot.tfjsShape);
  const actual = stateDict.get(slot.key)!.shape;
  return expected.length === actual.length &&
    expected.every((size, i) => i === 0 || size === actual[i]);
}

function describeShapeMismatch(slot: WeightSlot, stateDict: StateDict): string {
  const expected = torchShapeFor(slot.conversion, slot.tfjsShape);
  const actual = stateDict.get(slot.key)!.shape;
  return `${slot.key}: checkpoint [${actual}], model expects [${expected}]`;
}

function throwIfProblems(problems: MatchProblems, stateDict: StateDict): void {
  const { missing, unexpected, shapes } = problems;
  if (missing.length + unexpected.length + shapes.length === 0) return;
  const sections: string[] = [];
  if (missing.length > 0) sections.push(listSection("missing from the checkpoint", missing));
  if (unexpected.length > 0) {
    sections.push(listSection("in the checkpoint but not in the model", unexpected));
  }
  if (shapes.length > 0) sections.push(listSection("with a different shape", shapes));
  throw new TorchCheckpointError(
    `The checkpoint does not match the model (${stateDict.size} checkpoint tensors).\n` +
      sections.join("\n") +
      "\nCheck that --model, --cbam and the class count match the network that was saved. " +
      "For fine-tuning, a different classifier and missing CBAM modules can be allowed.",
  );
}

function listSection(title: string, items: string[]): string {
  const shown = items.slice(0, MAX_LISTED_KEYS).map((item) => `  ${item}`);
  const more = items.length > MAX_LISTED_KEYS
    ? [`  ... and ${items.length - MAX_LISTED_KEYS} more`]
    : [];
  return [`${items.length} keys ${title}:`, ...shown, ...more].join("\n");
}

function setLayerWeights(plan: LayerPlan, stateDict: StateDict): void {
  const tensors = plan.slots.map((slot) => {
    const data = convertLayout(slot.conversion, stateDict.get(slot.key)!.data, slot.tfjsShape);
    return tf.tensor(data, slot.tfjsShape, "float32");
  });
  try {
    plan.layer.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
}
