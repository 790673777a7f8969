/**
 * Builds the network a training configuration names, and the metadata that
 * travels with its weights.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { buildResNet, type CbamPlacement, type ResNetDepth } from "../shared/model/resnet.ts";
import {
  buildMobileNetV2,
  MOBILENET_V2_CBAM_FEATURES,
  type MobileNetV2CbamPlacement,
} from "../shared/model/mobilenet_v2.ts";
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

/** Turns a `--cbam` value into a ResNet placement. */
export function parseCbamPlacement(value: string): CbamPlacement {
  if (value === "none") return { kind: "none" };
  if (value === "blocks") return { kind: "blocks" };
  if (value === "stages") return { kind: "stages", stages: [1, 2, 3, 4] };
  const names = value.split(",");
  if (names.some((name) => !name.startsWith("layer"))) {
    throw new Error(`--cbam ${value}: ResNet stage ends are layer1 to layer4.`);
  }
  return { kind: "stages", stages: names.map((name) => Number(name.replace(/^layer/, ""))) };
}

/**
 * Turns a `--cbam` value into a MobileNetV2 placement: positions 1 to 5 are
 * the blocks after features 3, 6, 13, 17 and 18.
 */
export function parseMobileNetCbam(value: string): MobileNetV2CbamPlacement {
  if (value === "none") return { kind: "none" };
  if (value === "stages") return { kind: "stages", stages: [1, 2, 3, 4, 5] };
  if (value === "blocks") {
    throw new Error(
      "--cbam blocks is for ResNets; MobileNetV2 takes none, stages or features.N lists.",
    );
  }
  const stages = value.split(",").map((name) => {
    const index = Number(name.replace(/^features\./, ""));
    const position = MOBILENET_V2_CBAM_FEATURES.indexOf(index);
    if (!name.startsWith("features.") || position < 0) {
      throw new Error(
        `--cbam ${value}: MobileNetV2 stage ends are ${
          MOBILENET_V2_CBAM_FEATURES.map((f) => `features.${f}`).join(", ")
        }.`,
      );
    }
    return position + 1;
  });
  return { kind: "stages", stages };
}

/** Returns the architecture that a configuration requests. */
export function architectureOf(config: TrainConfig): ArchitectureSpec {
  if (config.model === "mobilenet_v2") {
    return {
      family: "mobilenet_v2",
      cbam: parseMobileNetCbam(config.cbam),
      cbamReduction: config.cbamReduction,
      cbamKernelSize: config.cbamKernelSize,
    };
  }
  return {
    family: "resnet",
    depth: Number(config.model.replace("resnet", "")) as ResNetDepth,
    cbam: parseCbamPlacement(config.cbam),
    cbamReduction: config.cbamReduction,
    cbamKernelSize: config.cbamKernelSize,
  };
}

/** Builds the network an architecture describes, with `numClasses` outputs. */
export function buildFromArchitecture(
  arch: ArchitectureSpec,
  options: { numClasses: number; imgSize: number; seed?: number },
): tf.LayersModel {
  if (arch.family === "mobilenet_v2") {
    return buildMobileNetV2({
      numClasses: options.numClasses,
      imgSize: options.imgSize,
      cbam: arch.cbam,
      cbamReduction: arch.cbamReduction,
      cbamKernelSize: arch.cbamKernelSize,
      seed: options.seed,
    });
  }
  return buildResNet({
    depth: arch.depth,
    numClasses: options.numClasses,
    imgSize: options.imgSize,
    cbam: arch.cbam,
    cbamReduction: arch.cbamReduction,
    cbamKernelSize: arch.cbamKernelSize,
    baseWidth: arch.baseWidth,
    seed: options.seed,
  });
}

/** Builds the untrained network for `config` with `numClasses` outputs. */
export function buildModel(config: TrainConfig, numClasses: number): tf.LayersModel {
  return buildFromArchitecture(architectureOf(config), {
    numClasses,
    imgSize: config.imgSize,
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
