/**
 * Builds the network a training configuration names, and the metadata that
 * travels with its weights.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { buildResNet, type CbamPlacement, type ResNetDepth } from "../shared/model/resnet.ts";
import {
  type ArchitectureSpec,
  MODEL_FORMAT_VERSION,
  type ModelMetadata,
  type TrainingSummary,
} from "../shared/model/metadata.ts";
import { IMAGENET_MEAN, IMAGENET_STD } from "../shared/preprocess.ts";
import type { TrainConfig } from "./config.ts";

/** Resize ratio of eval preprocessing: shorter side round(imgSize / 0.875), 256 for 224. */
export const RESIZE_RATIO = 0.875;

/** Turns a `--cbam` value into a placement. */
export function parseCbamPlacement(value: string): CbamPlacement {
  if (value === "none") return { kind: "none" };
  if (value === "blocks") return { kind: "blocks" };
  if (value === "stages") return { kind: "stages", stages: [1, 2, 3, 4] };
  const stages = value.split(",").map((s) => Number(s.replace(/^layer/, "")));
  return { kind: "stages", stages };
}

/** The architecture a configuration asks for. */
export function architectureOf(config: TrainConfig): ArchitectureSpec {
  return {
    family: "resnet",
    depth: Number(config.model.replace("resnet", "")) as ResNetDepth,
    cbam: parseCbamPlacement(config.cbam),
    cbamReduction: config.cbamReduction,
    cbamKernelSize: config.cbamKernelSize,
  };
}

/** Builds the untrained network for `config` with `numClasses` outputs. */
export function buildModel(config: TrainConfig, numClasses: number): tf.LayersModel {
  const arch = architectureOf(config);
  if (arch.family !== "resnet") throw new Error(`Unsupported architecture ${arch.family}.`);
  return buildResNet({
    depth: arch.depth,
    numClasses,
    imgSize: config.imgSize,
    cbam: arch.cbam,
    cbamReduction: arch.cbamReduction,
    cbamKernelSize: arch.cbamKernelSize,
    seed: config.seed,
  });
}

/** Default model id, for example `resnet18-cbam-stages`. */
export function defaultModelId(config: TrainConfig): string {
  return `${config.model}-cbam-${config.cbam.replaceAll(",", "+")}`;
}

/** Metadata for weights trained with `config`. */
export function metadataFor(
  config: TrainConfig,
  classNames: string[],
  training?: TrainingSummary,
): ModelMetadata {
  const now = new Date().toISOString();
  return {
    formatVersion: MODEL_FORMAT_VERSION,
    modelId: config.modelId ?? defaultModelId(config),
    modelVersion: now.replace(/\.\d+Z$/, "Z"),
    architecture: architectureOf(config),
    input: {
      imgSize: config.imgSize,
      resizeRatio: RESIZE_RATIO,
      mean: [...IMAGENET_MEAN] as [number, number, number],
      std: [...IMAGENET_STD] as [number, number, number],
      layout: "NHWC",
    },
    classNames,
    training,
    createdAt: now,
  };
}
