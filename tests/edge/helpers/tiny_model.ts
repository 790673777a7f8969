/**
 * A tiny ResNet-18 with CBAM (8 base channels, 32-pixel input, TrashNet's six
 * classes) saved as a model folder, so that the edge tests run without
 * trained weights. Its weights come from a fixed initializer seed, so its
 * predictions are arbitrary but the same in every run.
 * @module
 */
import { buildResNet } from "../../../shared/model/resnet.ts";
import { saveModelDir } from "../../../shared/model/io.ts";
import { MODEL_FORMAT_VERSION, type ModelMetadata } from "../../../shared/model/metadata.ts";

/** TrashNet's classes in sorted order. */
export const CLASS_NAMES = ["cardboard", "glass", "metal", "paper", "plastic", "trash"];

/** Input side of the tiny model in pixels. */
export const TINY_IMG_SIZE = 32;

/** Metadata of the tiny model, with a training summary like the trainer writes. */
export function tinyMetadata(): ModelMetadata {
  return {
    formatVersion: MODEL_FORMAT_VERSION,
    modelId: "tiny-resnet18-cbam-test",
    modelVersion: "2026-01-01T00:00:00Z",
    architecture: {
      family: "resnet",
      depth: 18,
      cbam: { kind: "stages", stages: [1, 2, 3, 4] },
      cbamReduction: 4,
      cbamKernelSize: 3,
      baseWidth: 8,
    },
    input: {
      imgSize: TINY_IMG_SIZE,
      resizeRatio: 0.875,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      layout: "NHWC",
    },
    classNames: CLASS_NAMES,
    training: {
      bestEpoch: 1,
      epochs: 2,
      valAccuracy: 0.25,
      valMacroF1: 0.2,
      trainAccuracy: 0.3,
      datasetSizes: { train: 12, val: 6 },
    },
    createdAt: "2026-01-01T00:00:00Z",
  };
}

/** Builds the tiny model and saves it into `dir`. The current tfjs backend must be started. */
export async function writeTinyModel(dir: string): Promise<void> {
  const metadata = tinyMetadata();
  const model = buildResNet({
    depth: 18,
    numClasses: CLASS_NAMES.length,
    imgSize: TINY_IMG_SIZE,
    cbam: { kind: "stages", stages: [1, 2, 3, 4] },
    cbamReduction: 4,
    cbamKernelSize: 3,
    baseWidth: 8,
    seed: 7,
  });
  try {
    await saveModelDir(dir, model, metadata);
  } finally {
    model.dispose();
  }
}
