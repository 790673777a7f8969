/**
 * The metadata.json written beside every exported model, and its checks.
 * Training, evaluation, prediction and the edge service read input size,
 * normalization and class names from here, never from their own defaults.
 * @module
 */
import type { CbamPlacement, ResNetDepth } from "./resnet.ts";

/**
 * Newest model folder layout that this code reads and writes.
 *
 * - 1: TF.js layers model with float32 weights, BatchNorm layers as trained.
 * - 2: may also have BatchNorm folded into the convolutions and weights
 *   stored as float16 or uint8 (see {@linkcode ModelMetadata.inference}).
 *
 * `saveModelDir` writes the lowest version that describes the folder, so a
 * plain export stays readable by code that reads only version 1.
 */
export const MODEL_FORMAT_VERSION = 2;

/** Weight storage of an exported model. */
export type WeightQuantization = "float32" | "float16" | "uint8";

/** The weight storage options, for command-line choices. */
export const WEIGHT_QUANTIZATIONS: readonly WeightQuantization[] = ["float32", "float16", "uint8"];

/** Inference preparation of an exported model (format version 2). */
export interface InferenceExport {
  /** Whether BatchNorm was folded into the convolutions; such a model is for inference only. */
  batchNormFolded: boolean;
  /** Storage format of the kernel weights, which load as float32 either way. */
  weightQuantization: WeightQuantization;
}

/** Architecture of an exported model, enough to rebuild it. */
export type ArchitectureSpec =
  | {
    family: "resnet";
    depth: ResNetDepth;
    cbam: CbamPlacement;
    cbamReduction: number;
    cbamKernelSize: number;
    baseWidth?: number;
  }
  | {
    family: "mobilenet_v2";
    cbam: { kind: "none" } | { kind: "stages"; stages: number[] };
    cbamReduction: number;
    cbamKernelSize: number;
  };

/** Input a model expects: a square RGB crop, normalized per channel. */
export interface InputSpec {
  /** Side of the square crop in pixels. */
  imgSize: number;
  /** Shorter side before the center crop is round(imgSize / resizeRatio). */
  resizeRatio: number;
  /** Per-channel mean subtracted after scaling pixels to [0, 1], RGB order. */
  mean: [number, number, number];
  /** Per-channel standard deviation divided after the mean, RGB order. */
  std: [number, number, number];
  /** Tensor layout: batch, height, width, channels. */
  layout: "NHWC";
}

/** Summary of the run that produced the weights. */
export interface TrainingSummary {
  bestEpoch: number;
  epochs: number;
  valAccuracy: number;
  valMacroF1: number;
  trainAccuracy: number;
  datasetSizes: Record<string, number>;
  /** The command line that trained the model. */
  command?: string;
}

/**
 * Confidence calibration fitted on val at export: logits are divided by
 * `temperature` before the softmax, and a calibrated top score under
 * `uncertainThreshold` marks the prediction as uncertain.
 */
export interface CalibrationSpec {
  temperature: number;
  uncertainThreshold: number;
  /** Description of how the threshold was chosen. */
  method: string;
  /** Share of val photos under the threshold, and val accuracy on the others. */
  valFlaggedShare: number;
  valAccuracyKept: number;
}

/** Contents of metadata.json. */
export interface ModelMetadata {
  formatVersion: number;
  /** Stable name of the model, for example `resnet18-cbam-trashnet`. */
  modelId: string;
  /** Version of this model, for example the export date `2026-12-04T21:40:00Z`. */
  modelVersion: string;
  architecture: ArchitectureSpec;
  input: InputSpec;
  /** Class names in logit order. */
  classNames: string[];
  training?: TrainingSummary;
  calibration?: CalibrationSpec;
  /** Present when the folder was exported for inference: folded or quantized. */
  inference?: InferenceExport;
  createdAt: string;
}

/**
 * Returns the format version that describes a folder with `metadata`: 2
 * when it is folded or quantized, 1 otherwise.
 */
export function formatVersionFor(metadata: Pick<ModelMetadata, "inference">): number {
  const inference = metadata.inference;
  const changed = inference !== undefined &&
    (inference.batchNormFolded || inference.weightQuantization !== "float32");
  return changed ? 2 : 1;
}

/** A model folder or its metadata is missing, invalid or too new to read. */
export class ModelFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelFormatError";
  }
}

function requireField(condition: unknown, path: string, field: string): void {
  if (!condition) {
    throw new ModelFormatError(`${path}: field "${field}" is missing or invalid.`);
  }
}

/**
 * Checks parsed metadata.json content and returns it typed. Throws
 * {@linkcode ModelFormatError} naming the file and the field.
 */
export function validateMetadata(value: unknown, path = "metadata.json"): ModelMetadata {
  if (typeof value !== "object" || value === null) {
    throw new ModelFormatError(`${path}: expected a JSON object.`);
  }
  const meta = value as Partial<ModelMetadata>;
  requireField(Number.isInteger(meta.formatVersion), path, "formatVersion");
  if (meta.formatVersion! > MODEL_FORMAT_VERSION) {
    throw new ModelFormatError(
      `${path}: model format version ${meta.formatVersion} is newer than this code reads ` +
        `(up to ${MODEL_FORMAT_VERSION}). Update waste-vision, or export the model again.`,
    );
  }
  requireField(typeof meta.modelId === "string", path, "modelId");
  requireField(typeof meta.modelVersion === "string", path, "modelVersion");
  requireField(
    meta.architecture && typeof meta.architecture.family === "string",
    path,
    "architecture",
  );
  requireField(meta.input && Number.isInteger(meta.input.imgSize), path, "input.imgSize");
  requireField(Array.isArray(meta.input?.mean) && meta.input.mean.length === 3, path, "input.mean");
  requireField(Array.isArray(meta.input?.std) && meta.input.std.length === 3, path, "input.std");
  requireField(
    Array.isArray(meta.classNames) && meta.classNames.length > 0 &&
      meta.classNames.every((n) => typeof n === "string"),
    path,
    "classNames",
  );
  if (meta.inference !== undefined) {
    const { batchNormFolded, weightQuantization } = meta.inference;
    requireField(typeof batchNormFolded === "boolean", path, "inference.batchNormFolded");
    requireField(
      WEIGHT_QUANTIZATIONS.includes(weightQuantization),
      path,
      "inference.weightQuantization",
    );
  }
  return meta as ModelMetadata;
}

/** Turns class names into the labels.json map `{"0": "cardboard", ...}`. */
export function labelsJson(classNames: string[]): Record<string, string> {
  return Object.fromEntries(classNames.map((name, index) => [String(index), name]));
}
