/**
 * `GET /v1/model`: what the served model predicts and how it was trained.
 * @module
 */
import { Hono } from "hono";
import type { ModelMetadata } from "../../shared/model/metadata.ts";
import type { ModelSlot } from "../model/model_slot.ts";
import type { EdgeEnv } from "../types.ts";

/** The JSON body of `GET /v1/model`. */
export interface ModelResponse {
  model: {
    id: string;
    version: string;
    architecture: ModelMetadata["architecture"];
    created_at: string;
  };
  /** Class names in the model's output order. */
  labels: string[];
  input: { size: number; resize_ratio: number; mean: number[]; std: number[] };
  /** Summary of the training run, or `null` when metadata.json has none. */
  training: {
    best_epoch: number;
    epochs: number;
    train_accuracy: number;
    val_accuracy: number;
    val_macro_f1: number;
    dataset_sizes: Record<string, number>;
  } | null;
  /** Confidence calibration fitted on val, or `null` when metadata.json has none. */
  calibration: {
    temperature: number;
    uncertain_threshold: number;
    method: string;
    val_flagged_share: number;
    val_accuracy_kept: number;
  } | null;
  /** The TensorFlow.js backend running inference. */
  backend: string;
}

function describeTraining(metadata: ModelMetadata): ModelResponse["training"] {
  const training = metadata.training;
  if (!training) return null;
  return {
    best_epoch: training.bestEpoch,
    epochs: training.epochs,
    train_accuracy: training.trainAccuracy,
    val_accuracy: training.valAccuracy,
    val_macro_f1: training.valMacroF1,
    dataset_sizes: training.datasetSizes,
  };
}

function describeCalibration(metadata: ModelMetadata): ModelResponse["calibration"] {
  const calibration = metadata.calibration;
  if (!calibration) return null;
  return {
    temperature: calibration.temperature,
    uncertain_threshold: calibration.uncertainThreshold,
    method: calibration.method,
    val_flagged_share: calibration.valFlaggedShare,
    val_accuracy_kept: calibration.valAccuracyKept,
  };
}

/** Builds the body of `GET /v1/model` from a model's metadata. */
export function describeModel(metadata: ModelMetadata, backend: string): ModelResponse {
  return {
    model: {
      id: metadata.modelId,
      version: metadata.modelVersion,
      architecture: metadata.architecture,
      created_at: metadata.createdAt,
    },
    labels: metadata.classNames,
    input: {
      size: metadata.input.imgSize,
      resize_ratio: metadata.input.resizeRatio,
      mean: metadata.input.mean,
      std: metadata.input.std,
    },
    training: describeTraining(metadata),
    calibration: describeCalibration(metadata),
    backend,
  };
}

/** Creates the sub-app with `GET /model`, to mount under `/v1`. */
export function modelRoute(models: ModelSlot): Hono<EdgeEnv> {
  return new Hono<EdgeEnv>().get("/model", (c) => {
    const classifier = models.require();
    return c.json(describeModel(classifier.metadata, classifier.backend));
  });
}
