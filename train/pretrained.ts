/**
 * `--pretrained`: starts training from a PyTorch checkpoint (torch.save zip
 * or safetensors) through the importer in shared/torch.
 *
 * The classifier is skipped when its class count differs (or the file has
 * none, as with a backbone-only file), and CBAM modules that a plain
 * torchvision checkpoint lacks start fresh; the log lists both.
 *
 * BatchNorm layers whose running statistics are the identity (mean 0,
 * variance 1 - eps), as in a checkpoint whose BatchNorm was folded into the
 * convolutions, are kept in inference mode: batch statistics would change
 * what those pretrained layers compute.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { getLogger } from "../shared/log.ts";
import { applyStateDict, loadStateDictFile, type StateDict } from "../shared/torch/mod.ts";
import { setBatchNormInference, TORCH_BN_EPSILON } from "../shared/model/batch_norm.ts";

const logger = getLogger(["waste-vision", "train", "pretrained"]);

/** Summary of the weights taken from the checkpoint and of those that start fresh. */
export interface PretrainedReport {
  path: string;
  /** Classifier keys that were not loaded. */
  skipped: string[];
  /** CBAM modules that start from random weights. */
  freshCbam: string[];
  /** BatchNorm layers kept in inference mode because their statistics are folded. */
  foldedBatchNorm: string[];
}

function isFoldedBatchNorm(stateDict: StateDict, layerName: string): boolean {
  const mean = stateDict.get(`${layerName}.running_mean`);
  const variance = stateDict.get(`${layerName}.running_var`);
  if (!mean || !variance) return false;
  const identityVariance = 1 - TORCH_BN_EPSILON;
  return mean.data.every((v) => v === 0) &&
    variance.data.every((v) => Math.abs(v - identityVariance) < 1e-7);
}

/**
 * Loads PyTorch weights from `path` into `model`. Throws
 * `TorchCheckpointError` for an unreadable file or keys that do not match.
 */
export async function applyPretrained(
  model: tf.LayersModel,
  path: string,
): Promise<PretrainedReport> {
  const stateDict = await loadStateDictFile(path);
  const { skipped, freshCbam } = applyStateDict(model, stateDict, {
    allowClassifierMismatch: true,
    allowMissingCbam: true,
  });
  const foldedBatchNorm: string[] = [];
  for (const layer of model.layers) {
    if (layer.getClassName() === "BatchNormalization" && isFoldedBatchNorm(stateDict, layer.name)) {
      setBatchNormInference(layer, true);
      foldedBatchNorm.push(layer.name);
    }
  }
  logger.info("Loaded pretrained weights from {path}", { path });
  if (skipped.length > 0) {
    logger.info("Classifier not loaded (class count differs or absent), starts fresh: {keys}", {
      keys: skipped.join(", "),
    });
  }
  if (freshCbam.length > 0) {
    logger.info("CBAM modules absent from the checkpoint start fresh: {modules}", {
      modules: freshCbam.join(", "),
    });
  }
  if (foldedBatchNorm.length > 0) {
    logger.info(
      "{count} BatchNorm layers hold folded statistics (mean 0, variance 1 - eps) and stay in inference mode",
      { count: foldedBatchNorm.length },
    );
  }
  return { path, skipped, freshCbam, foldedBatchNorm };
}
