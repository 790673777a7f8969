/**
 * `--pretrained`: starts training from a PyTorch checkpoint.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";

/** What was taken from the checkpoint and what starts fresh. */
export interface PretrainedReport {
  path: string;
  skipped: string[];
  freshCbam: string[];
}

/** Loads PyTorch weights from `path` into `model`. */
export function applyPretrained(_model: tf.LayersModel, path: string): Promise<PretrainedReport> {
  // TODO: wire to shared/torch once the checkpoint reader lands.
  return Promise.reject(
    new Error(`--pretrained ${path}: importing PyTorch checkpoints is not supported yet.`),
  );
}
